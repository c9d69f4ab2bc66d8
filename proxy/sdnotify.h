/* proxy/sdnotify.h - systemd's readiness protocol (sd_notify(3)) without libsystemd: one
 * datagram to $NOTIFY_SOCKET. A no-op when meshd was not started by systemd. */
#ifndef MESH_PROXY_SDNOTIFY_H
#define MESH_PROXY_SDNOTIFY_H

/* Sends <state> ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=..."). Returns 0, or a
 * negative errno (the caller logs; systemd then times out the start). */
int sdnotify(const char *state);

#endif

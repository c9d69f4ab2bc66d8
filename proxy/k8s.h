/* proxy/k8s.h - a Kubernetes API client for the io.l5d.k8s namer and the k8s transformers:
 * the JSON shapes of Endpoints, Services and watch events (pure functions, unit-tested
 * with literal JSON), and watches that keep one object current on a libev loop.
 *
 * A watch lists its object (GET the collection with a fieldSelector, which also yields the
 * list's resourceVersion), then streams changes from that version (?watch=true, chunked,
 * one JSON event a line): ADDED and MODIFIED replace the object, DELETED empties it, ERROR
 * keeps it; a 410 Gone (as a status or as an ERROR event) makes it list again; a dropped
 * or failed stream is re-opened after a jittered exponential back-off (10 ms to 10 s).
 * While the API is away the last known object stays and its age is reported.
 *
 * Lifetime: a struct k8s_api belongs to whoever made it (naming.c) and owns its watches;
 * watches are shared by reference (k8s_watch_get / k8s_watch_put). Everything runs on the
 * loop's thread; no call blocks it (host names other than IP literals and "localhost" are
 * resolved by a short-lived thread). JSON is parsed with json-c. */
#ifndef MESH_PROXY_K8S_H
#define MESH_PROXY_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct json_object;
struct k8s_api;
struct k8s_watch;

/* ---- JSON shapes (pure) -------------------------------------------------------------- */

/* One ready address of an Endpoints object, with the port a name resolved to. */
struct k8s_addr {
    char ip[48]; /* textual IPv4 or IPv6 address, as the API wrote it */
    uint16_t port;
    char node[254]; /* nodeName, "" when the API gave none */
};

/* Resolves <port> ("http", or "8080") against an Endpoints object <ep> (NULL: absent, no
 * addresses) and, for a numeric <port>, the Service <svc> (may be NULL): a service port
 * numbered <port> maps through its targetPort (a number, or the name of an endpoints
 * port); without such a service port the number is used as it is. A named <port> is
 * the endpoints port of that name (TCP only), per subset, on every ready address
 * (notReadyAddresses are skipped).
 * Returns the number of addresses (>= 0, *ret_addrs malloc'd, NULL when 0), or -ENOENT
 * when <ep> has subsets but none has such a port (the name is Neg, as in Linkerd), or
 * -ENOMEM. An <ep> with no subsets at all (scaled to zero) gives 0 addresses. */
int k8s_endpoints_resolve(struct json_object *ep, struct json_object *svc, const char *port,
                          struct k8s_addr **ret_addrs);

enum k8s_event_type {
    K8S_EV_ADDED = 0,
    K8S_EV_MODIFIED,
    K8S_EV_DELETED,
    K8S_EV_BOOKMARK,
    K8S_EV_ERROR,
};

struct k8s_event {
    enum k8s_event_type type;
    struct json_object *object; /* referenced: release with k8s_event_fini */
    char rv[64];                /* object's metadata.resourceVersion, "" when none */
    int code;                   /* ERROR: the Status object's code (410 for Gone), or 0 */
    char message[200];          /* ERROR: the Status message */
};

/* Parses one line of a watch stream. 0 with *ret filled, -EBADMSG when it is not a watch
 * event (not JSON, no type, unknown type, no object). */
int k8s_event_parse(const char *line, size_t len, struct k8s_event *ret);
void k8s_event_fini(struct k8s_event *ev);

/* Parses the answer to a list of a collection filtered to one name: *ret_obj is its only
 * item (referenced, NULL when the list is empty) and <rv> the list's resourceVersion.
 * A single object (a GET of the object itself) is accepted too. 0 or -EBADMSG. */
int k8s_list_parse(const char *body, size_t len, struct json_object **ret_obj, char *rv,
                   size_t rvlen);

/* ---- API client and watches --------------------------------------------------------- */

/* A client for the API at <host>:<port> (plain HTTP: a kubectl proxy sidecar, unless
 * k8s_api_set_tls() says otherwise). <loop> is
 * borrowed. Never NULL (allocation failures abort, as config code may). */
struct k8s_api *k8s_api_new(struct ev_loop *loop, const char *host, uint16_t port);
/* HTTPS to the API server, as a pod reaches it in-cluster: the server's certificate must
 * chain to <ca_path> (PEM) and name the host <a> was made with (an IP address or a DNS
 * name); <token_path> (may be NULL) is a bearer token file, read again for every request
 * because the kubelet rotates it. 0, or -errno with a one-line reason in <err> (the CA
 * file cannot be read or parsed). Call before the first watch. */
struct k8s_tls {
    const char *ca_path;
    const char *token_path;
};
int k8s_api_set_tls(struct k8s_api *a, const struct k8s_tls *tls, char *err, size_t errlen);
/* Stops every watch and frees them (references held elsewhere become dangling: drop them
 * first). NULL is a no-op; returns NULL. */
struct k8s_api *k8s_api_free(struct k8s_api *a);

/* In a child forked from the loop's process: closes the connections' fds (the child's
 * copies) and touches nothing else, so that a watch the parent restarts is not kept open
 * by the child. */
void k8s_api_close_fds_in_child(struct k8s_api *a);

/* <cb>(<ctx>) runs on the loop after any watch of <a> changed what k8s_watch_object() or
 * k8s_watch_synced() return. <cb> must not free <a> nor put watches. */
void k8s_api_set_on_change(struct k8s_api *a, void (*cb)(void *ctx), void *ctx);

/* A reference to the watch of <resource> ("endpoints" or "services") <name> in <ns>,
 * created and started when new. <label_selector> ("key=value") may be NULL. */
struct k8s_watch *k8s_watch_get(struct k8s_api *a, const char *resource, const char *ns,
                                const char *name, const char *label_selector);
/* Drops a reference; the last one stops the watch and frees it. NULL is a no-op. */
void k8s_watch_put(struct k8s_watch *w);

/* True once a first list answered (the object may be absent). */
bool k8s_watch_synced(const struct k8s_watch *w);
/* The current object (borrowed, valid until the loop runs again), NULL when absent. */
struct json_object *k8s_watch_object(const struct k8s_watch *w);
/* Seconds since the object was last known current: 0 while a watch stream is open,
 * otherwise the time since it closed (the API may be away). -1 before the first list. */
double k8s_watch_stale_s(const struct k8s_watch *w);
/* Why the last request failed ("connect: Connection refused", "HTTP 500"), "" if none. */
const char *k8s_watch_error(const struct k8s_watch *w);

#endif

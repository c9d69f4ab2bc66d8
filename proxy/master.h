/* proxy/master.h - the master process (see master.c). */
#ifndef MESH_PROXY_MASTER_H
#define MESH_PROXY_MASTER_H

struct cfg;
struct strbuf;

/* Runs meshd with <cfg> (takes ownership) until it is stopped. Returns the exit code. */
int master_run(const char *cfg_path, struct cfg *cfg);

/* Checks what the config loader cannot: dtabs parse, server IPs are addresses, namer
 * directories exist. Appends one line per problem to <errors>; returns 0 or -EINVAL. */
int master_validate(const struct cfg *cfg, struct strbuf *errors);

/* Workers to start: meshd.workers, or the number of online CPUs. */
unsigned master_worker_count(const struct cfg *cfg);

#endif

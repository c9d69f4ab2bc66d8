/* proxy/naming.h - a worker's view of names: the configured namers (io.l5d.fs,
 * io.l5d.k8s), the built-in ones (/$/inet, /$/fail, /$/nil, rewriting namers), the routers'
 * transformers (io.l5d.k8s.daemonset, io.l5d.k8s.localnode) and endpoint sets.
 *
 * Nothing here blocks the loop: host names are resolved by a resolver thread and files
 * are re-read when inotify says they changed; until a first answer arrives a name is
 * "pending". naming_bind() evaluates a request's path through the router's dtab (plus
 * the request's local dtab) and picks one union branch; callers whose name is pending
 * park the request and retry when the on-change callback fires, failing it with 503
 * after the router's binding timeout. */
#ifndef MESH_PROXY_NAMING_H
#define MESH_PROXY_NAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

struct cfg;
struct dtab;
struct dtab_result;
struct naming;

struct endpoint {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    double weight;    /* from "host port * weight"; 1.0 otherwise */
    const char *node; /* Kubernetes nodeName of the address (io.l5d.k8s), NULL when
                       * unknown; lives in the set's own allocation */
};

/* Immutable once published; shared by reference. */
struct endpoint_set {
    unsigned refs;
    uint64_t version; /* changes whenever the addresses change */
    size_t n;
    struct endpoint e[];
};

struct endpoint_set *endpoint_set_ref(struct endpoint_set *s);
struct endpoint_set *endpoint_set_unref(struct endpoint_set *s); /* returns NULL */

/* The outcome of naming_bind(). */
struct name_bound {
    char id[512];             /* bound id: "/$/inet/127.0.0.1/8080", "/#/io.l5d.fs/world"; the
                               * path the namer consumed, so "/$/inet/8080" for a port alone */
    char residual[512];       /* "" or "/rest/of/path" */
    struct endpoint_set *eps; /* referenced; may hold 0 endpoints */
};

/* Starts the namers of <cfg> on <loop> (the worker's). NULL with <err> filled (one line)
 * when a namer or transformer cannot start (e.g. rootDir missing, NODE_NAME unset for
 * io.l5d.k8s.localnode). <cfg> may be NULL (built-in namers only); what is needed is
 * copied, so <cfg> may be freed afterwards. Namer kinds other than io.l5d.fs and
 * io.l5d.k8s, and transformer kinds other than io.l5d.k8s.daemonset,
 * io.l5d.k8s.localnode and io.l5d.port, are logged and skipped. The inotify, DNS and tick watchers
 * it starts on <loop> are unref'd; the connections and timers of Kubernetes watches are not (the
 * worker and the master end their loops with ev_break). Call after fork(). */
struct naming *naming_new(struct ev_loop *loop, const struct cfg *cfg, char *err, size_t errlen);
/* Shared mode, a worker's: the routers' transformers of <cfg> as naming_new() makes
 * them, but every configured namer path (/#/...) and every host name (/$/inet/<name>/...)
 * is resolved by the master, once for all workers (proxy/namesvc.c): the first bind of
 * such a name sends an IPC_NAME_WATCH through <send>(<ctx>, msg, len) (0 sent, else
 * retried shortly) and is pending until naming_shared_input() brings its state. Names no
 * request bound for 10 minutes are forgotten (IPC_NAME_UNWATCH). Up to 4096 such names at
 * once; beyond, a bind fails with that reason. */
typedef int naming_send_fn(void *ctx, const void *msg, size_t len);
struct naming *naming_new_shared(struct ev_loop *loop, const struct cfg *cfg, naming_send_fn *send,
                                 void *ctx, char *err, size_t errlen);
/* An IPC_NAME_STATE message from the master (the ipc_msg header included). Malformed
 * ones are logged and dropped. Fires the on-change callback when a bind could see it. */
void naming_shared_input(struct naming *n, const void *msg, size_t len);

/* The master's side: the state of <key> (a path or a transformer's key a shared naming
 * sent) in <n>, a naming_new() instance: fills <st> (its strings valid until the next
 * call on <n>) and returns the bound endpoint set, referenced, or NULL when not bound. */
struct namemsg_state;
struct endpoint_set *naming_share_eval(struct naming *n, const char *key, size_t len,
                                       struct namemsg_state *st);

/* Stops the watchers and joins the resolver thread (which may first finish a lookup in
 * progress). Endpoint sets referenced by callers stay valid. NULL is a no-op; returns
 * NULL. */
struct naming *naming_free(struct naming *n);

/* In a child forked after naming_new() in the parent (the master's delegator instance):
 * closes the child's copies of the connections and inotify fd, and touches nothing else;
 * the child must not use <n> afterwards. */
void naming_close_fds_in_child(struct naming *n);

/* <cb>(<ctx>) runs whenever any name's state changes (a DNS answer, a file edit), once per
 * batch of changes, from the loop (never from inside naming_bind()). <cb> may call
 * naming_bind() but must not free <n>. */
void naming_set_on_change(struct naming *n, void (*cb)(void *ctx), void *ctx);

/* Binds <path> through <dtab> (the router's dtab, with any request-local dentries already
 * appended; NULL is the empty dtab). Returns:
 *   0        *ret filled (release with name_bound_fini)
 *   -EAGAIN  pending: some namer has not answered yet
 *   -ENOENT  no route (neg/empty): <why> says so, for a 503 body
 *   -EIO     a failure (!, /$/fail, unreadable file, malformed namer file): <why>
 *   -EINVAL  <path> is not a valid path
 *   -ENOMEM  (dtab_eval ran out of memory)
 * <why> (may be NULL) gets one line on every non-zero return. Evaluations are cached per
 * (dtab_serial(<dtab>), <path>) until a namer changes, so binding the same name again is
 * a hash lookup and a weighted pick (per-naming xorshift PRNG) among union branches. */
int naming_bind(struct naming *n, const struct dtab *dtab, const char *path, size_t len,
                struct name_bound *ret, char *why, size_t whylen);
/* The same, then the transformers of the router labelled <router> (NULL, or a label the
 * config does not have: none) rewrite every bound leaf: its id becomes
 * "/%/<transformer prefix>/...<original id>" and its endpoints the transformer's. A
 * transformer still waiting for its own namer makes the result pending (-EAGAIN). */
int naming_bind_router(struct naming *n, const char *router, const struct dtab *dtab,
                       const char *path, size_t len, struct name_bound *ret, char *why,
                       size_t whylen);
void name_bound_fini(struct name_bound *b);

/* ---- tracing, for the delegator ------------------------------------------------------- */

struct dtab_trace_ev;

#define NAMING_MAX_XFORMS 8 /* transformers a router may chain */

/* What naming_delegate() adds to a DTAB_TRACE_BIND event that bound a name. Everything is
 * borrowed, valid during the callback. */
struct naming_leaf_info {
    const struct endpoint_set *eps; /* NULL while pending */
    const char *state;              /* "" or e.g. "k8s: API away, endpoints 12.0 s old" */
    size_t n_xforms;                /* the router's transformers, in order */
    struct {
        const char *name;               /* transformer kind, e.g. "io.l5d.k8s.daemonset" */
        const char *id;                 /* the bound id it produced */
        const struct endpoint_set *eps; /* NULL while it is pending */
        const char *state;              /* "" or why it is pending or failed */
    } xforms[NAMING_MAX_XFORMS];
};

/* Called for every step of a traced evaluation; <leaf> is non-NULL for a BIND event whose
 * namer bound the name. */
typedef void naming_trace_fn(void *ctx, const struct dtab_trace_ev *ev,
                             const struct naming_leaf_info *leaf);

/* Evaluates <path> through <dtab> (like naming_bind_router, without the cache and without
 * picking), reporting every step to <fn>, with every alternative explored (see
 * dtab_eval_traced). Starts lookups for names not known yet, as a bind does. Returns
 * dtab_eval_traced()'s value; *ret holds the transformed result (release with
 * dtab_result_fini). */
int naming_delegate(struct naming *n, const char *router, const struct dtab *dtab, const char *path,
                    size_t len, naming_trace_fn *fn, void *ctx, struct dtab_result *ret);

/* ---- the io.l5d.fs file format (pure: no I/O, no lookups; tests/fuzz/fuzz_naming_fs) -- */

struct naming_fs_line {
    const char *host; /* IP literal or name, NUL-terminated; valid during the callback */
    uint16_t port;    /* 1..65535 */
    double weight;    /* finite, >= 0; 1.0 unless "* weight" */
};
typedef void naming_fs_line_fn(const struct naming_fs_line *l, void *ctx);

/* Parses the <len> bytes of an io.l5d.fs file (docs/naming.md): calls <fn> for each
 * address line in order and returns NULL, or returns the failure text (malloc'd:
 * "malformed address: <line>", "NUL byte at offset N"); <fn> may have been called for
 * the lines before the bad one. */
char *naming_fs_parse(const char *text, size_t len, naming_fs_line_fn *fn, void *ctx);

#endif

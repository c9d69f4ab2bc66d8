/* proxy/naming.c - a worker's namers and the binder dtab_eval() uses to reach them.
 *
 * One struct naming per worker, driven by the worker's loop; every function runs on the
 * loop's thread except resolver_main(), which owns nothing but its stack and talks to the
 * loop through the job and answer queues under <mu>, waking it with ev_async.
 *
 * What a namer path binds to (the binder's answers):
 *   /$/inet/<host>/<port>[/r]      inet entry (host, port): BOUND, PENDING or FAIL
 *   /$/inet/<port>[/r]             127.0.0.1:<port>
 *   /$/io.buoyant.rinet/<port>/<host>[/r]   the same entry, reversed arguments
 *   /$/fail, /$/nil                FAIL, EMPTY
 *   /$/io.buoyant.{hostportPfx,porthostPfx,http.*}/...   REWRITE (or NEG)
 *   /#/<prefix>/<dir>.../<file>[/r]   io.l5d.fs file node: BOUND, PENDING, FAIL or NEG
 * A BOUND answer's handle is the struct entry embedded in the inet entry or file node; its
 * <eps> is the published endpoint set, replaced (never mutated) when addresses change.
 *
 * State and invalidation: every change a bind could observe (a DNS answer, a file created,
 * edited or deleted, an entry forgotten) bumps <gen> and then calls the on-change callback
 * once per batch. naming_bind() caches each evaluation per (dtab serial, path) and trusts a
 * cached result only while its <gen> is current, so the common case is one hash lookup and
 * a pick. A handle in a stale cached result may point at freed memory; it is never read,
 * because a stale result is re-evaluated before use.
 *
 * DNS: a host name has one dns_host, shared by the inet entries and fs file lines naming
 * it (refcounted by <users>). Its first lookup is queued when it is created; the 30 s tick
 * re-queues hosts whose users were bound in the last minute; a failed refresh keeps the
 * last good answer. A host whose first lookup fails is FAIL "cannot resolve <host>".
 *
 * io.l5d.fs: an in-memory mirror of rootDir (directories and file names), built by a scan
 * at start and kept current by inotify on every directory, so lookups never touch the
 * disk except for a file's first read, done synchronously on the bind that first needs it
 * (local file, at most NAMING_FS_MAX_FILE bytes). Loaded files are re-read as soon as
 * inotify reports them written, moved in or (k8s ConfigMap style) their directory's
 * "..data" link swapped. */
#include "proxy/naming.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "common/cfg.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "proxy/dtab.h"
#include "proxy/k8s.h"
#include "proto/ipc.h"
#include "proto/namemsg.h"

#define NAMING_DNS_REFRESH_S 30.0   /* re-resolve period for host names in use */
#define NAMING_IN_USE_S      60.0   /* "in use": bound within this many seconds */
#define NAMING_IDLE_S        600.0  /* inet entries unused this long are forgotten */
#define NAMING_FS_MAX_FILE   512000 /* Linkerd's 500.kilobytes */
#define NAMING_FS_MAX_DEPTH  16     /* directory nesting followed under rootDir */
#define NAMING_MAX_SEGS      256    /* path segments a namer looks at */
#define NAMING_CACHE_BUCKETS 1024
#define NAMING_CACHE_MAX     4096 /* cached evaluations; the cache is flushed beyond */
#define NAMING_SHARED_MAX    4096 /* names a worker asks the master for at once */
#define NAMING_SHARED_BUCKETS 256
#define NAMING_SHARED_RETRY_S 0.1 /* a request the channel refused is sent again after */
#define NAMING_FS_WATCH_MASK                                                                       \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |       \
     IN_ONLYDIR)

/* ---- types ------------------------------------------------------------------------- */

enum entry_kind {
    ENTRY_INET = 0,
    ENTRY_FS,
    ENTRY_K8S,
    ENTRY_XFORM,  /* a transformer's output */
    ENTRY_SHARED, /* a name the master resolves (shared mode) */
};

/* What a BOUND answer's handle points at. */
struct entry {
    struct endpoint_set *eps; /* published set, referenced; NULL until first known */
    ev_tstamp last_used;      /* loop time of the last bind that picked it */
    enum entry_kind kind;
    struct entry *src; /* XFORM: the entry it was made from; set by every evaluation
                        * that yields it, so valid while the generation is current */
};

enum dns_state {
    DNS_PENDING = 0, /* no answer yet */
    DNS_OK,          /* <addrs> is the latest good answer */
    DNS_FAILED,      /* never resolved */
};

struct dns_host {
    struct dns_host *next;
    char *name;
    unsigned users; /* inet entries and fs lines naming it */
    enum dns_state state;
    struct sockaddr_storage *addrs; /* DNS_OK: port 0, zero padding, no duplicates */
    size_t n_addrs;
    bool queued; /* a lookup is on its way */
    bool in_use; /* scratch for naming_on_tick() */
};

struct inet_entry {
    struct entry e;
    struct inet_entry *next;
    char *host; /* decoded */
    uint16_t port;
    struct dns_host *dns; /* NULL: <host> is an IP literal and <e.eps> is final */
};

struct fs_addr {
    struct dns_host *dns;         /* NULL for an IP literal */
    struct sockaddr_storage addr; /* IP literal, port set */
    socklen_t addr_len;
    uint16_t port;
    double weight;
};

struct fs_node {
    struct entry e;           /* file: the handle of its bound leaves */
    struct fs_node *parent;   /* NULL for the root */
    struct fs_node *next;     /* sibling */
    struct fs_node *children; /* directory */
    char *name;               /* in the parent directory; "" for the root */
    bool is_dir;
    int wd; /* directory: inotify watch, -1 when none */
    /* file, valid once <loaded> */
    bool loaded;  /* read at least once (first bind) */
    bool missing; /* vanished before the first read: Neg until inotify says */
    bool pending; /* some host name has no first answer yet */
    char *fail;   /* why the file is unusable ("malformed address: ..."), or NULL */
    struct fs_addr *addrs;
    size_t n_addrs;
};

struct fs_namer {
    struct naming *n;
    char **pfx; /* decoded prefix segments after "#" */
    size_t n_pfx;
    char *root_dir;
    struct fs_node *root;
};

struct fs_watch {
    int wd;
    struct fs_namer *ns;
    struct fs_node *dir;
};

/* One Kubernetes API (host:port), shared by the namers and transformers that name it. */
struct k8s_api_ref {
    struct k8s_api_ref *next;
    char *key; /* host, port and TLS settings: one client per distinct API */
    struct k8s_api *api;
};

/* Where and how to reach a Kubernetes API (docs/naming.md, "io.l5d.k8s"). */
struct api_opts {
    char host[256];
    uint16_t port;
    bool tls;
    char ca[512], token[512]; /* TLS: CA bundle, bearer token file ("" none) */
};

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef const char *param_fn(const void *src, const char *key);

struct k8s_namer {
    char **pfx; /* decoded prefix segments after "#" */
    size_t n_pfx;
    struct k8s_api *api;
    char *label_key; /* labelSelector: a label key; its value follows the service */
};

enum k8s_state {
    K8S_PENDING = 0, /* a watch has not listed yet */
    K8S_NEG,         /* no such port on the endpoints */
    K8S_BOUND,       /* <e.eps> is current (maybe empty, maybe stale) */
};

/* /<ns>/<port>/<svc>[/<label value>] of one API: the handle of its bound leaves. */
struct k8s_entry {
    struct entry e;
    struct k8s_entry *next;
    struct k8s_api *api;
    char *ns, *port, *svc, *selector; /* lower-cased; selector "key=value" or NULL */
    struct k8s_watch *ep;             /* the Endpoints */
    struct k8s_watch *svc_w;          /* the Service, for a numeric port only */
    enum k8s_state state;
    bool pinned; /* a transformer's own: never forgotten */
};

enum xf_kind {
    XF_DAEMONSET = 0,
    XF_LOCALNODE,
    XF_PORT,
};

struct xformer {
    enum xf_kind kind;
    char *name;           /* the kind as configured */
    char *id_pfx;         /* "/%/<prefix>/<ns>/<port>/<svc>" or "/%/<prefix>/<node or ip>" */
    bool by_subnet;       /* Linkerd's /24 rule instead of nodeName */
    struct k8s_entry *ds; /* DAEMONSET: its pods, pinned */
    char *node;           /* LOCALNODE by node: NODE_NAME */
    uint32_t subnet;      /* LOCALNODE by subnet: POD_IP & 255.255.255.0, host order */
    uint16_t port;        /* PORT: every address gets this port */
};

struct router_xf {
    char *label;
    struct xformer *v;
    size_t n;
};

/* A transformed leaf's handle, one per transformed id. */
struct xform_entry {
    struct entry e;
    struct xform_entry *next;
    char *id;
};

/* Configured namers in config order: first match that is not Neg wins. */
struct namer_slot {
    bool is_k8s;
    size_t idx;
};

struct dns_job {
    struct dns_job *next;
    char name[];
};

struct dns_answer {
    struct dns_answer *next;
    int err;                        /* getaddrinfo() code, 0 on success */
    struct sockaddr_storage *addrs; /* malloc'd */
    size_t n_addrs;
    char name[];
};

/* Shared mode: one name the master resolves for this worker (a namer path, or "%ds/<r>/<k>"
 * for the daemonset of transformer <k> of the <r>th router with transformers). */
struct shared_entry {
    struct entry e;
    struct shared_entry *next; /* hash chain */
    enum namemsg_kind kind;
    bool answered;             /* a whole state arrived */
    bool asked;                /* the WATCH went out */
    uint32_t id_len;
    char *residual, *reason;
    struct k8s_entry *ds;      /* a transformer's daemonset: the state goes there */
    struct endpoint_set *part; /* a set arriving in several messages, so far */
    uint64_t part_version;
    size_t key_len;
    char key[];
};

struct shared {
    naming_send_fn *send;
    void *ctx;
    struct shared_entry *buckets[NAMING_SHARED_BUCKETS];
    size_t n;
    ev_timer retry; /* unref'd: WATCHes the channel refused */
};

struct cache_entry {
    struct cache_entry *next;
    uint64_t serial; /* dtab_serial() of the dtab it was evaluated against */
    int router;      /* index in <routers> whose transformers applied, or -1 */
    uint64_t gen;    /* naming generation at evaluation; stale when != n->gen */
    uint64_t hash;
    struct dtab_result res;
    size_t len;
    char path[];
};

struct naming {
    struct ev_loop *loop; /* borrowed: the worker's */
    void (*on_change)(void *ctx);
    void *on_change_ctx;
    uint64_t gen;          /* bumped on every change a bind could observe */
    uint64_t next_version; /* endpoint_set versions */
    uint64_t rng;          /* xorshift64* state, never 0 */
    char reason[256];      /* the binder's FAIL text, valid until its next call */
    char shared_residual[NAMEMSG_TEXT_MAX + 1]; /* naming_share_eval()'s, until its next call */

    struct fs_namer *fs;
    size_t n_fs;
    int ifd;      /* inotify, -1 without fs namers */
    ev_io ifd_io; /* unref'd: does not keep the loop alive */
    struct fs_watch *watches;
    size_t n_watches, cap_watches;

    struct k8s_namer *k8s;
    size_t n_k8s;
    struct namer_slot *order;
    size_t n_order;
    struct k8s_api_ref *apis;
    struct k8s_entry *k8s_entries;
    struct router_xf *routers; /* those with transformers */
    size_t n_routers;
    struct xform_entry *xforms;

    struct inet_entry *inets;
    struct dns_host *hosts;
    ev_timer tick; /* unref'd; NAMING_DNS_REFRESH_S */

    /* resolver thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool thread_started;
    bool stopping;                              /* under mu */
    struct dns_job *jobs, **jobs_tail;          /* under mu: to the thread */
    struct dns_answer *answers, **answers_tail; /* under mu: from the thread */
    ev_async wake;                              /* unref'd; answers are waiting */

    struct cache_entry **buckets;
    size_t n_cached;

    struct shared *sh; /* shared mode (naming_new_shared): the master resolves namer paths */
};

static void naming_on_k8s(void *ctx);
static struct shared_entry *shared_get(struct naming *n, const char *key, size_t len);
static bool shared_forget_idle(struct naming *n, ev_tstamp now);
static void k8s_entry_free(struct k8s_entry *ke);
static void xform_free(struct xform_entry *xe);
static void say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- endpoint sets ----------------------------------------------------------------- */

struct endpoint_set *
endpoint_set_ref(struct endpoint_set *s)
{
    if (s != NULL)
        s->refs++;
    return s;
}

struct endpoint_set *
endpoint_set_unref(struct endpoint_set *s)
{
    if (s == NULL)
        return NULL;
    MESH_BUG_ON(s->refs == 0);
    if (--s->refs == 0)
        free(s);
    return NULL;
}

/* A set for <n> endpoints and <str_bytes> bytes of node names (see eps_set_node). */
static struct endpoint_set *
eps_new_ex(size_t n, size_t str_bytes)
{
    struct endpoint_set *s = xcalloc(1, sizeof(*s) + n * sizeof(s->e[0]) + str_bytes);

    s->refs = 1;
    return s; /* <n> is counted up by eps_add */
}

static struct endpoint_set *
eps_new(size_t n)
{
    return eps_new_ex(n, 0);
}

/* Copies <node> into the string area of <s> at *cursor (which starts at 0) and points
 * the last added endpoint at it. <cap> is the set's endpoint capacity. */
static void
eps_set_node(struct endpoint_set *s, size_t cap, size_t *cursor, const char *node)
{
    char *area = (char *) &s->e[cap];
    size_t len = strlen(node);

    memcpy(area + *cursor, node, len + 1);
    s->e[s->n - 1].node = area + *cursor;
    *cursor += len + 1;
}

static void
eps_add(struct endpoint_set *s, const struct sockaddr_storage *sa, uint16_t port, double weight)
{
    struct endpoint *e = &s->e[s->n++];

    memset(&e->addr, 0, sizeof(e->addr));
    if (sa->ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *) &e->addr;

        memcpy(in, sa, sizeof(*in));
        in->sin_port = htons(port);
        e->addr_len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &e->addr;

        memcpy(in6, sa, sizeof(*in6));
        in6->sin6_port = htons(port);
        e->addr_len = sizeof(*in6);
    }
    e->weight = weight;
    e->node = NULL;
}

static bool
eps_equal(const struct endpoint_set *a, const struct endpoint_set *b)
{
    size_t i;

    if (a == NULL || b == NULL || a->n != b->n)
        return false;
    for (i = 0; i < a->n; i++)
        if (a->e[i].addr_len != b->e[i].addr_len || a->e[i].weight != b->e[i].weight ||
            memcmp(&a->e[i].addr, &b->e[i].addr, a->e[i].addr_len) != 0 ||
            (a->e[i].node == NULL) != (b->e[i].node == NULL) ||
            (a->e[i].node != NULL && strcmp(a->e[i].node, b->e[i].node) != 0))
            return false;
    return true;
}

/* Installs <fresh> (taking its reference) as <e>'s set unless it equals the current one.
 * Returns true when the published set changed. */
static bool
entry_publish(struct naming *n, struct entry *e, struct endpoint_set *fresh)
{
    if (eps_equal(e->eps, fresh)) {
        endpoint_set_unref(fresh);
        return false;
    }
    fresh->version = ++n->next_version;
    endpoint_set_unref(e->eps);
    e->eps = fresh;
    return true;
}

/* ---- small helpers ----------------------------------------------------------------- */

struct path_seg {
    const char *s; /* shown text of one segment, without its '/' */
    size_t len;
};

/* Splits a valid shown path into segments; SIZE_MAX when there are more than <max>. */
static size_t
split(const char *path, size_t len, struct path_seg *v, size_t max)
{
    size_t n = 0, i = 0;

    while (i < len) {
        size_t start = ++i; /* skip '/' */

        while (i < len && path[i] != '/')
            i++;
        if (i == start)
            break; /* the path "/" */
        if (n == max)
            return SIZE_MAX;
        v[n].s = path + start;
        v[n].len = i - start;
        n++;
    }
    return n;
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one segment into <out> (NUL-terminated). False when it does not fit or holds a
 * NUL byte (no host or file name does). */
static bool
seg_decode(const struct path_seg *sp, char *out, size_t cap)
{
    size_t i, n = 0;

    for (i = 0; i < sp->len; n++) {
        char c;

        if (sp->s[i] == '\\' && i + 4 <= sp->len) {
            c = (char) (hexval((unsigned char) sp->s[i + 2]) * 16 +
                        hexval((unsigned char) sp->s[i + 3]));
            i += 4;
        } else {
            c = sp->s[i++];
        }
        if (c == '\0' || n + 1 >= cap)
            return false;
        out[n] = c;
    }
    out[n] = '\0';
    return true;
}

static bool
span_is(const struct path_seg *sp, const char *lit)
{
    return sp->len == strlen(lit) && memcmp(sp->s, lit, sp->len) == 0;
}

/* The shown path from segment <from> on: "" or "/a/b"; <path> is NUL-terminated. */
static const char *
rest_of(const char *path, const struct path_seg *v, size_t n, size_t from)
{
    return from < n ? v[from].s - 1 : path + strlen(path);
}

/* 1..65535, decimal digits only. */
static bool
parse_port(const char *s, uint16_t *ret)
{
    unsigned long v = 0;
    size_t i;

    if (s[0] == '\0' || strlen(s) > 5)
        return false;
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long) (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return false;
    *ret = (uint16_t) v;
    return true;
}

/* An IP literal (getaddrinfo's numeric forms, "[v6]" accepted): true with *ret filled,
 * port 0. No I/O. */
static bool
parse_ip(const char *host, struct sockaddr_storage *ret, socklen_t *ret_len)
{
    struct addrinfo hints, *ai = NULL;
    char buf[INET6_ADDRSTRLEN + 16];
    size_t len = strlen(host);

    if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(buf)) {
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = '\0';
        host = buf;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || ai == NULL)
        return false;
    memset(ret, 0, sizeof(*ret));
    memcpy(ret, ai->ai_addr, ai->ai_addrlen);
    *ret_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return true;
}

static void
notify(struct naming *n)
{
    if (n->on_change != NULL)
        n->on_change(n->on_change_ctx);
}

/* ---- resolver thread --------------------------------------------------------------- */

static struct dns_answer *
resolve(const char *name)
{
    size_t len = strlen(name);
    struct dns_answer *a = xcalloc(1, sizeof(*a) + len + 1);
    struct addrinfo hints, *res = NULL, *ai;
    size_t n = 0, i;

    memcpy(a->name, name, len + 1);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    a->err = getaddrinfo(name, NULL, &hints, &res);
    if (a->err != 0)
        return a;
    for (ai = res; ai != NULL; ai = ai->ai_next)
        n++;
    a->addrs = xcalloc(n, sizeof(*a->addrs));
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        struct sockaddr_storage ss;

        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof(ss))
            continue;
        memset(&ss, 0, sizeof(ss));
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        for (i = 0; i < a->n_addrs; i++)
            if (memcmp(&a->addrs[i], &ss, sizeof(ss)) == 0)
                break;
        if (i == a->n_addrs)
            a->addrs[a->n_addrs++] = ss;
    }
    freeaddrinfo(res);
    if (a->n_addrs == 0)
        a->err = EAI_NONAME;
    return a;
}

/* The only code on the resolver thread: blocking getaddrinfo() off the loop. */
static void *
resolver_main(void *arg)
{
    struct naming *n = arg;

    pthread_mutex_lock(&n->mu);
    for (;;) {
        struct dns_job *job;
        struct dns_answer *a;

        while (!n->stopping && n->jobs == NULL)
            pthread_cond_wait(&n->cv, &n->mu);
        if (n->stopping)
            break;
        job = n->jobs;
        n->jobs = job->next;
        if (n->jobs == NULL)
            n->jobs_tail = &n->jobs;
        pthread_mutex_unlock(&n->mu);

        a = resolve(job->name);
        free(job);

        pthread_mutex_lock(&n->mu);
        *n->answers_tail = a;
        n->answers_tail = &a->next;
        ev_async_send(n->loop, &n->wake);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

static void
dns_queue(struct naming *n, struct dns_host *h)
{
    size_t len = strlen(h->name);
    struct dns_job *job;

    if (h->queued)
        return;
    if (!n->thread_started) {
        sigset_t all, old;
        int r;

        /* signals are the loop thread's business */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = pthread_create(&n->thread, NULL, resolver_main, n);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0) {
            log_err("naming: cannot start the resolver thread: %s; host names stay pending",
                    strerror(r));
            return;
        }
        n->thread_started = true;
    }
    job = xmalloc(sizeof(*job) + len + 1);
    job->next = NULL;
    memcpy(job->name, h->name, len + 1);
    pthread_mutex_lock(&n->mu);
    *n->jobs_tail = job;
    n->jobs_tail = &job->next;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    h->queued = true;
}

static struct dns_host *
dns_find(struct naming *n, const char *name)
{
    struct dns_host *h;

    for (h = n->hosts; h != NULL; h = h->next)
        if (strcmp(h->name, name) == 0)
            return h;
    return NULL;
}

/* A reference to the host <name>, created (and its first lookup queued) when new. */
static struct dns_host *
dns_get(struct naming *n, const char *name)
{
    struct dns_host *h = dns_find(n, name);

    if (h == NULL) {
        h = xcalloc(1, sizeof(*h));
        h->name = xstrdup(name);
        h->next = n->hosts;
        n->hosts = h;
        dns_queue(n, h);
    }
    h->users++;
    return h;
}

static void
dns_put(struct naming *n, struct dns_host *h)
{
    struct dns_host **pp;

    if (h == NULL || --h->users > 0)
        return;
    for (pp = &n->hosts; *pp != h; pp = &(*pp)->next)
        ;
    *pp = h->next;
    free(h->addrs);
    free(h->name);
    free(h); /* an answer still in flight finds no host and is dropped */
}

/* ---- inet entries ------------------------------------------------------------------ */

static bool
inet_rebuild(struct naming *n, struct inet_entry *ie)
{
    struct endpoint_set *s;
    size_t i;

    if (ie->dns == NULL || ie->dns->state != DNS_OK)
        return false;
    s = eps_new(ie->dns->n_addrs);
    for (i = 0; i < ie->dns->n_addrs; i++)
        eps_add(s, &ie->dns->addrs[i], ie->port, 1.0);
    return entry_publish(n, &ie->e, s);
}

static struct inet_entry *
inet_get(struct naming *n, const char *host, uint16_t port)
{
    struct sockaddr_storage sa;
    socklen_t sa_len;
    struct inet_entry *ie;

    for (ie = n->inets; ie != NULL; ie = ie->next)
        if (ie->port == port && strcmp(ie->host, host) == 0)
            return ie;
    ie = xcalloc(1, sizeof(*ie));
    ie->host = xstrdup(host);
    ie->port = port;
    ie->e.last_used = ev_now(n->loop);
    if (parse_ip(host, &sa, &sa_len)) {
        struct endpoint_set *s = eps_new(1);

        eps_add(s, &sa, port, 1.0);
        (void) entry_publish(n, &ie->e, s);
    } else {
        ie->dns = dns_get(n, host);
        (void) inet_rebuild(n, ie); /* the host may be known already */
    }
    ie->next = n->inets;
    n->inets = ie;
    return ie;
}

static void
inet_free(struct naming *n, struct inet_entry *ie)
{
    dns_put(n, ie->dns);
    endpoint_set_unref(ie->e.eps);
    free(ie->host);
    free(ie);
}

/* ---- io.l5d.fs: files -------------------------------------------------------------- */

static void fs_walk_files(struct fs_node *node, void (*fn)(struct fs_node *f, void *ctx),
                          void *ctx);

static void
fs_addrs_free(struct naming *n, struct fs_addr *addrs, size_t n_addrs)
{
    size_t i;

    for (i = 0; i < n_addrs; i++)
        dns_put(n, addrs[i].dns);
    free(addrs);
}

/* Recomputes <f>'s endpoint set from its lines and their hosts' answers. While a host
 * has no first answer the file is pending and the previous set (if any) stays. */
static bool
fs_file_rebuild(struct naming *n, struct fs_node *f)
{
    struct endpoint_set *s;
    size_t i, j, count = 0;
    bool was_pending = f->pending;

    f->pending = false;
    for (i = 0; i < f->n_addrs; i++) {
        const struct dns_host *h = f->addrs[i].dns;

        if (h == NULL)
            count++;
        else if (h->state == DNS_OK)
            count += h->n_addrs;
        else if (h->state == DNS_PENDING)
            f->pending = true;
    }
    if (f->pending)
        return was_pending != f->pending;
    s = eps_new(count);
    for (i = 0; i < f->n_addrs; i++) {
        const struct fs_addr *a = &f->addrs[i];

        if (a->dns == NULL)
            eps_add(s, &a->addr, a->port, a->weight);
        else if (a->dns->state == DNS_OK)
            for (j = 0; j < a->dns->n_addrs; j++)
                eps_add(s, &a->dns->addrs[j], a->port, a->weight);
    }
    return entry_publish(n, &f->e, s) || was_pending;
}

static char *
trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\f' || *s == '\v')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\f' ||
                       end[-1] == '\v'))
        *--end = '\0';
    return s;
}

/* Parses one non-blank, trimmed line "host port" or "host port * weight" (cut in place). */
static bool
fs_line_parse(char *line, struct naming_fs_line *l)
{
    char *tok[5], *save = NULL, *t, *end;
    size_t ntok = 0;

    for (t = strtok_r(line, " \t\r\f\v", &save); t != NULL;
         t = strtok_r(NULL, " \t\r\f\v", &save)) {
        if (ntok == ARRAY_SIZE(tok))
            return false;
        tok[ntok++] = t;
    }
    memset(l, 0, sizeof(*l));
    l->weight = 1.0;
    if (ntok == 4 && strcmp(tok[2], "*") == 0) {
        errno = 0;
        l->weight = strtod(tok[3], &end);
        if (errno != 0 || *end != '\0' || end == tok[3] || !isfinite(l->weight) || l->weight < 0.0)
            return false;
    } else if (ntok != 2) {
        return false;
    }
    if (!parse_port(tok[1], &l->port))
        return false;
    l->host = tok[0];
    return true;
}

char *
naming_fs_parse(const char *text, size_t len, naming_fs_line_fn *fn, void *ctx)
{
    const char *nul = memchr(text, '\0', len);
    char *buf, *line, *next, *why = NULL;

    if (nul != NULL) {
        if (asprintf(&why, "NUL byte at offset %zu", (size_t) (nul - text)) == -1)
            why = xstrdup("NUL byte in file");
        return why;
    }
    buf = xmalloc(len + 1);
    memcpy(buf, text, len);
    buf[len] = '\0';
    for (line = buf; line != NULL; line = next) {
        struct naming_fs_line l;
        char *hash, *t, copy[160];

        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        t = trim(line);
        if (*t == '\0')
            continue;
        (void) snprintf(copy, sizeof(copy), "%s", t); /* strtok_r cuts <t> */
        if (!fs_line_parse(t, &l)) {
            if (asprintf(&why, "malformed address: %s", copy) == -1)
                why = xstrdup("malformed address");
            break;
        }
        fn(&l, ctx);
    }
    free(buf);
    return why;
}

struct fs_parse_ctx {
    struct naming *n;
    struct fs_addr *v;
    size_t cnt, cap;
};

static void
fs_parse_add(const struct naming_fs_line *l, void *arg)
{
    struct fs_parse_ctx *c = arg;
    struct fs_addr *a;

    if (c->cnt == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    a = &c->v[c->cnt++];
    memset(a, 0, sizeof(*a));
    a->port = l->port;
    a->weight = l->weight;
    if (parse_ip(l->host, &a->addr, &a->addr_len)) {
        if (a->addr.ss_family == AF_INET)
            ((struct sockaddr_in *) &a->addr)->sin_port = htons(a->port);
        else
            ((struct sockaddr_in6 *) &a->addr)->sin6_port = htons(a->port);
    } else {
        a->dns = dns_get(c->n, l->host);
    }
}

/* Parses a file's <len> bytes of <text> into *ret_addrs, or returns the failure text
 * (malloc'd). */
static char *
fs_parse(struct naming *n, const char *text, size_t len, struct fs_addr **ret_addrs, size_t *ret_n)
{
    struct fs_parse_ctx c = {.n = n};
    char *why = naming_fs_parse(text, len, fs_parse_add, &c);

    if (why != NULL) {
        fs_addrs_free(n, c.v, c.cnt);
        return why;
    }
    *ret_addrs = c.v;
    *ret_n = c.cnt;
    return NULL;
}

static bool
fs_node_path(const struct fs_namer *ns, const struct fs_node *node, char *buf, size_t cap)
{
    const struct fs_node *chain[NAMING_FS_MAX_DEPTH + 2];
    size_t depth = 0, len;
    int w;

    for (; node != NULL && node->parent != NULL; node = node->parent) {
        if (depth == ARRAY_SIZE(chain))
            return false;
        chain[depth++] = node;
    }
    w = snprintf(buf, cap, "%s", ns->root_dir);
    if (w < 0 || (size_t) w >= cap)
        return false;
    len = (size_t) w;
    while (depth-- > 0) {
        w = snprintf(buf + len, cap - len, "/%s", chain[depth]->name);
        if (w < 0 || (size_t) w >= cap - len)
            return false;
        len += (size_t) w;
    }
    return true;
}

/* Reads and parses file node <f>. Returns true when what a bind sees changed. */
static bool
fs_file_load(struct fs_namer *ns, struct fs_node *f)
{
    struct naming *n = ns->n;
    char path[PATH_MAX], *text = NULL, *fail = NULL;
    struct fs_addr *addrs = NULL, *old_addrs = f->addrs;
    size_t n_addrs = 0, old_n = f->n_addrs, len = 0;
    bool was_loaded = f->loaded, was_missing = f->missing, changed;
    struct stat st;
    int fd = -1;

    f->loaded = true;
    f->missing = false;
    if (!fs_node_path(ns, f, path, sizeof(path))) {
        fail = xstrdup("file path too long");
        goto done;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd == -1 && errno == ENOENT) {
        f->missing = true; /* inotify will tell the rest */
        goto done;
    }
    if (fd == -1 || fstat(fd, &st) == -1) {
        if (asprintf(&fail, "cannot read %s: %s", path, strerror(errno)) == -1)
            fail = xstrdup("cannot read file");
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        if (asprintf(&fail, "%s is not a regular file", path) == -1)
            fail = xstrdup("not a regular file");
        goto done;
    }
    text = xmalloc(NAMING_FS_MAX_FILE + 2);
    for (;;) {
        ssize_t r = read(fd, text + len, NAMING_FS_MAX_FILE + 1 - len);

        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1) {
            if (asprintf(&fail, "cannot read %s: %s", path, strerror(errno)) == -1)
                fail = xstrdup("cannot read file");
            goto done;
        }
        if (r == 0)
            break;
        len += (size_t) r;
        if (len > NAMING_FS_MAX_FILE) {
            if (asprintf(&fail, "%s is over the %d byte limit", path, NAMING_FS_MAX_FILE) == -1)
                fail = xstrdup("file too large");
            goto done;
        }
    }
    fail = fs_parse(n, text, len, &addrs, &n_addrs);

done:
    if (fd != -1)
        (void) close(fd);
    free(text);
    if (fail != NULL)
        log_warn("naming: io.l5d.fs: %s; binds fail until the file is fixed", fail);
    changed = !was_loaded || was_missing != f->missing || (fail == NULL) != (f->fail == NULL) ||
              (fail != NULL && strcmp(fail, f->fail) != 0);
    free(f->fail);
    f->fail = fail;
    /* the new lines took their host references before the old ones drop theirs, so a
     * host named in both keeps its answer */
    f->addrs = addrs;
    f->n_addrs = n_addrs;
    fs_addrs_free(n, old_addrs, old_n);
    if (fail == NULL && !f->missing)
        changed |= fs_file_rebuild(n, f);
    return changed;
}

/* ---- io.l5d.fs: the directory mirror ----------------------------------------------- */

static struct fs_watch *
watch_find(struct naming *n, int wd)
{
    size_t i;

    for (i = 0; i < n->n_watches; i++)
        if (n->watches[i].wd == wd)
            return &n->watches[i];
    return NULL;
}

static void
watch_forget(struct naming *n, int wd)
{
    struct fs_watch *w = watch_find(n, wd);

    if (w == NULL)
        return;
    w->dir->wd = -1;
    *w = n->watches[--n->n_watches];
}

static struct fs_node *
fs_child(const struct fs_node *dir, const char *name)
{
    struct fs_node *c;

    for (c = dir->children; c != NULL; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static struct fs_node *
fs_node_add(struct fs_node *dir, const char *name, bool is_dir)
{
    struct fs_node *c = xcalloc(1, sizeof(*c));

    c->name = xstrdup(name);
    c->e.kind = ENTRY_FS;
    c->is_dir = is_dir;
    c->wd = -1;
    c->parent = dir;
    c->next = dir->children;
    dir->children = c;
    return c;
}

static void
fs_node_free(struct fs_namer *ns, struct fs_node *node)
{
    struct naming *n = ns->n;

    while (node->children != NULL) {
        struct fs_node *c = node->children;

        node->children = c->next;
        fs_node_free(ns, c);
    }
    if (node->wd != -1) {
        (void) inotify_rm_watch(n->ifd, node->wd); /* its IN_IGNORED finds no watch */
        watch_forget(n, node->wd);
    }
    fs_addrs_free(n, node->addrs, node->n_addrs);
    endpoint_set_unref(node->e.eps);
    free(node->fail);
    free(node->name);
    free(node);
}

static void
fs_node_remove(struct fs_namer *ns, struct fs_node *node)
{
    struct fs_node **pp;

    for (pp = &node->parent->children; *pp != node; pp = &(*pp)->next)
        ;
    *pp = node->next;
    fs_node_free(ns, node);
}

static void fs_dir_scan(struct fs_namer *ns, struct fs_node *dir, unsigned depth);

static unsigned
fs_depth(const struct fs_node *node)
{
    unsigned d = 0;

    for (; node->parent != NULL; node = node->parent)
        d++;
    return d;
}

/* Brings the mirror of <dir>/<name> in line with the disk. True when a bind could see a
 * difference. */
static bool
fs_sync_child(struct fs_namer *ns, struct fs_node *dir, const char *name_in)
{
    char path[PATH_MAX], name[NAME_MAX + 1];
    struct fs_node *c;
    bool changed = false;
    struct stat st;
    size_t len;

    /* a copy: <name_in> may be the name of the node this removes */
    if (strlen(name_in) >= sizeof(name) || strcmp(name_in, ".") == 0 ||
        strcmp(name_in, "..") == 0 || !fs_node_path(ns, dir, path, sizeof(path)))
        return false;
    memcpy(name, name_in, strlen(name_in) + 1);
    c = fs_child(dir, name);
    len = strlen(path);
    if (len + 1 + strlen(name) >= sizeof(path))
        return false;
    path[len] = '/';
    memcpy(path + len + 1, name, strlen(name) + 1);

    if (stat(path, &st) == -1 || (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))) {
        if (c == NULL)
            return false;
        fs_node_remove(ns, c);
        return true;
    }
    if (c != NULL && c->is_dir != (bool) S_ISDIR(st.st_mode)) {
        fs_node_remove(ns, c);
        c = NULL;
        changed = true;
    }
    if (c == NULL) {
        c = fs_node_add(dir, name, S_ISDIR(st.st_mode));
        if (c->is_dir)
            fs_dir_scan(ns, c, fs_depth(c));
        return true;
    }
    if (c->is_dir) {
        if (c->wd == -1)
            fs_dir_scan(ns, c, fs_depth(c)); /* moved back in, or first watch failed */
        return changed;
    }
    if (c->loaded)
        changed |= fs_file_load(ns, c);
    return changed;
}

/* Watches <dir>, then mirrors its entries (in that order, so nothing created in between
 * is missed). */
static void
fs_dir_scan(struct fs_namer *ns, struct fs_node *dir, unsigned depth)
{
    struct naming *n = ns->n;
    char path[PATH_MAX];
    struct dirent *de;
    DIR *d;
    int wd;

    if (depth > NAMING_FS_MAX_DEPTH || !fs_node_path(ns, dir, path, sizeof(path)))
        return;
    wd = inotify_add_watch(n->ifd, path, NAMING_FS_WATCH_MASK);
    if (wd == -1) {
        log_warn("naming: io.l5d.fs: cannot watch %s: %s; its changes go unseen", path,
                 strerror(errno));
    } else if (watch_find(n, wd) != NULL) {
        return; /* already mirrored elsewhere: a directory link loop */
    } else {
        if (n->n_watches == n->cap_watches) {
            n->cap_watches = n->cap_watches ? n->cap_watches * 2 : 16;
            n->watches = xrealloc(n->watches, n->cap_watches * sizeof(*n->watches));
        }
        n->watches[n->n_watches++] = (struct fs_watch){.wd = wd, .ns = ns, .dir = dir};
        dir->wd = wd;
    }
    d = opendir(path);
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL)
        (void) fs_sync_child(ns, dir, de->d_name);
    (void) closedir(d);
}

/* Re-reads every loaded file directly in <dir> (its "..data" link was swapped). */
static bool
fs_reload_dir(struct fs_namer *ns, struct fs_node *dir)
{
    struct fs_node *c;
    bool changed = false;

    for (c = dir->children; c != NULL; c = c->next)
        if (!c->is_dir && c->loaded)
            changed |= fs_file_load(ns, c);
    return changed;
}

/* After an event queue overflow: every directory is rescanned, every loaded file re-read. */
static bool
fs_resync(struct fs_namer *ns, struct fs_node *dir)
{
    char path[PATH_MAX];
    struct fs_node *c, *next;
    bool changed = false;
    struct dirent *de;
    DIR *d;

    for (c = dir->children; c != NULL; c = next) {
        next = c->next; /* fs_sync_child may free <c> */
        changed |= fs_sync_child(ns, dir, c->name);
    }
    if (fs_node_path(ns, dir, path, sizeof(path)) && (d = opendir(path)) != NULL) {
        while ((de = readdir(d)) != NULL)
            changed |= fs_sync_child(ns, dir, de->d_name);
        (void) closedir(d);
    }
    for (c = dir->children; c != NULL; c = c->next)
        if (c->is_dir)
            changed |= fs_resync(ns, c);
    return changed;
}

static void
fs_walk_files(struct fs_node *node, void (*fn)(struct fs_node *f, void *ctx), void *ctx)
{
    struct fs_node *c;

    if (!node->is_dir) {
        fn(node, ctx);
        return;
    }
    for (c = node->children; c != NULL; c = c->next)
        fs_walk_files(c, fn, ctx);
}

static void
naming_on_inotify(struct ev_loop *loop, ev_io *w, int revents)
{
    struct naming *n = container_of(w, struct naming, ifd_io);
    alignas(struct inotify_event) char buf[16384];
    bool changed = false, overflow = false;
    size_t i;

    (void) loop;
    (void) revents;
    for (;;) {
        ssize_t len = read(n->ifd, buf, sizeof(buf));
        const char *p;

        if (len == -1 && errno == EINTR)
            continue;
        if (len <= 0)
            break; /* EAGAIN: drained */
        for (p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *) (const void *) p;
            struct fs_watch *fw;

            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                overflow = true;
                continue;
            }
            fw = watch_find(n, ev->wd);
            if (fw == NULL)
                continue; /* a directory already dropped from the mirror */
            if (ev->mask & IN_IGNORED) {
                watch_forget(n, ev->wd);
                continue;
            }
            if (ev->mask & IN_DELETE_SELF) {
                if (fw->dir == fw->ns->root) {
                    struct fs_namer *ns = fw->ns;

                    log_warn("naming: io.l5d.fs: rootDir %s was removed; every name is Neg "
                             "until restart",
                             ns->root_dir);
                    while (ns->root->children != NULL)
                        fs_node_remove(ns, ns->root->children);
                    changed = true;
                }
                continue; /* a sub-directory: its parent reports IN_DELETE */
            }
            if (ev->len == 0)
                continue;
            changed |= fs_sync_child(fw->ns, fw->dir, ev->name);
            fw = watch_find(n, ev->wd); /* the sync may have rearranged the watches */
            if (fw != NULL && strncmp(ev->name, "..", 2) == 0)
                changed |= fs_reload_dir(fw->ns, fw->dir);
        }
    }
    if (overflow) {
        log_warn("naming: io.l5d.fs: inotify queue overflow, rescanning");
        for (i = 0; i < n->n_fs; i++)
            changed |= fs_resync(&n->fs[i], n->fs[i].root);
    }
    if (changed) {
        n->gen++;
        notify(n);
    }
}

/* ---- DNS answers and the tick ------------------------------------------------------ */

struct dns_dep {
    struct naming *n;
    const struct dns_host *h;
    bool changed;
};

static void
fs_rebuild_if_uses(struct fs_node *f, void *ctx)
{
    struct dns_dep *dep = ctx;
    size_t i;

    if (!f->loaded || f->fail != NULL || f->missing)
        return;
    for (i = 0; i < f->n_addrs; i++)
        if (f->addrs[i].dns == dep->h) {
            dep->changed |= fs_file_rebuild(dep->n, f);
            return;
        }
}

static bool
dns_apply(struct naming *n, struct dns_host *h, struct dns_answer *a)
{
    struct dns_dep dep = {.n = n, .h = h};
    struct inet_entry *ie;
    bool changed = false;
    size_t i;

    if (a->err != 0) {
        if (h->state == DNS_OK) {
            log_warn("naming: cannot re-resolve %s: %s; keeping the last answer", h->name,
                     gai_strerror(a->err));
            return false;
        }
        if (h->state == DNS_PENDING)
            log_warn("naming: cannot resolve %s: %s", h->name, gai_strerror(a->err));
        changed = h->state != DNS_FAILED;
        h->state = DNS_FAILED;
    } else {
        changed = h->state != DNS_OK || h->n_addrs != a->n_addrs ||
                  memcmp(h->addrs, a->addrs, a->n_addrs * sizeof(*a->addrs)) != 0;
        h->state = DNS_OK;
        free(h->addrs);
        h->addrs = a->addrs;
        h->n_addrs = a->n_addrs;
        a->addrs = NULL;
    }
    if (!changed)
        return false;
    for (ie = n->inets; ie != NULL; ie = ie->next)
        if (ie->dns == h)
            (void) inet_rebuild(n, ie);
    for (i = 0; i < n->n_fs; i++)
        fs_walk_files(n->fs[i].root, fs_rebuild_if_uses, &dep);
    return true;
}

static void
naming_on_dns(struct ev_loop *loop, ev_async *w, int revents)
{
    struct naming *n = container_of(w, struct naming, wake);
    struct dns_answer *a, *next;
    bool changed = false;

    (void) loop;
    (void) revents;
    pthread_mutex_lock(&n->mu);
    a = n->answers;
    n->answers = NULL;
    n->answers_tail = &n->answers;
    pthread_mutex_unlock(&n->mu);

    for (; a != NULL; a = next) {
        struct dns_host *h = dns_find(n, a->name);

        next = a->next;
        if (h != NULL) {
            h->queued = false;
            changed |= dns_apply(n, h, a);
        }
        free(a->addrs);
        free(a);
    }
    if (changed) {
        n->gen++;
        notify(n);
    }
}

static void
mark_hosts_in_use(struct fs_node *f, void *ctx)
{
    ev_tstamp now = *(const ev_tstamp *) ctx;
    size_t i;

    if (!f->loaded || now - f->e.last_used > NAMING_IN_USE_S)
        return;
    for (i = 0; i < f->n_addrs; i++)
        if (f->addrs[i].dns != NULL)
            f->addrs[i].dns->in_use = true;
}

/* Forgets the k8s names (stopping their watches) and transformed names nobody bound for
 * NAMING_IDLE_S. True when something was forgotten. */
static bool
forget_idle(struct naming *n, ev_tstamp now)
{
    struct k8s_entry **kp = &n->k8s_entries;
    struct xform_entry **xp = &n->xforms;
    bool forgot = false;

    while (*kp != NULL) {
        struct k8s_entry *ke = *kp;

        if (!ke->pinned && now - ke->e.last_used > NAMING_IDLE_S) {
            *kp = ke->next;
            k8s_entry_free(ke);
            forgot = true;
            continue;
        }
        kp = &ke->next;
    }
    while (*xp != NULL) {
        struct xform_entry *xe = *xp;

        if (now - xe->e.last_used > NAMING_IDLE_S) {
            *xp = xe->next;
            xform_free(xe);
            forgot = true;
            continue;
        }
        xp = &xe->next;
    }
    return forgot;
}

/* Every NAMING_DNS_REFRESH_S: re-resolve the host names in use and retry the ones that
 * never resolved, forget idle inet entries. */
static void
naming_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct naming *n = container_of(w, struct naming, tick);
    ev_tstamp now = ev_now(loop);
    struct inet_entry **pp = &n->inets;
    struct dns_host *h;
    bool forgot = false;
    size_t i;

    (void) revents;
    for (h = n->hosts; h != NULL; h = h->next)
        h->in_use = false;
    while (*pp != NULL) {
        struct inet_entry *ie = *pp;

        if (now - ie->e.last_used > NAMING_IDLE_S) {
            *pp = ie->next;
            inet_free(n, ie);
            forgot = true;
            continue;
        }
        if (ie->dns != NULL && now - ie->e.last_used <= NAMING_IN_USE_S)
            ie->dns->in_use = true;
        pp = &ie->next;
    }
    for (i = 0; i < n->n_fs; i++)
        fs_walk_files(n->fs[i].root, mark_hosts_in_use, &now);
    for (h = n->hosts; h != NULL; h = h->next)
        if (h->in_use || h->state == DNS_FAILED)
            dns_queue(n, h);
    forgot |= forget_idle(n, now);
    if (n->sh != NULL)
        forgot |= shared_forget_idle(n, now);
    if (forgot)
        n->gen++; /* cached results may hold the freed entries */
}

/* ---- the binder -------------------------------------------------------------------- */

/* A FAIL answer; its text lives in n->reason until the binder's next call, and
 * dtab_eval() copies it at once. */
static void __attribute__((format(printf, 3, 4)))
bind_fail(struct naming *n, struct dtab_bind *ret, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void) vsnprintf(n->reason, sizeof(n->reason), fmt, ap);
    va_end(ap);
    ret->kind = DTAB_BIND_FAIL;
    ret->reason = n->reason;
}

/* Fills a BOUND answer: <id> is the path up to the end of segment <last>, the residual
 * the rest. */
static void
bind_bound(struct dtab_bind *ret, const char *path, const struct path_seg *v, size_t nseg,
           size_t last, struct entry *e)
{
    size_t idlen = (size_t) (v[last].s + v[last].len - path);
    const char *rest = rest_of(path, v, nseg, last + 1);

    ret->kind = DTAB_BIND_BOUND;
    (void) snprintf(ret->id, sizeof(ret->id), "%.*s", (int) idlen, path);
    (void) snprintf(ret->residual, sizeof(ret->residual), "%s", rest);
    ret->handle = e;
}

static void
bind_inet_entry(struct naming *n, struct inet_entry *ie, struct dtab_bind *ret)
{
    ie->e.last_used = ev_now(n->loop);
    if (ie->dns == NULL || ie->dns->state == DNS_OK) {
        ret->kind = DTAB_BIND_BOUND;
        ret->handle = &ie->e;
    } else if (ie->dns->state == DNS_PENDING) {
        ret->kind = DTAB_BIND_PENDING;
    } else {
        bind_fail(n, ret, "cannot resolve %s", ie->host);
    }
}

/* /$/inet/<host>/<port>[/r], /$/inet/<port>[/r], /$/fixedinet/... */
static void
bind_inet(struct naming *n, const char *path, const struct path_seg *v, size_t nseg,
          struct dtab_bind *ret)
{
    char host[256], port_s[16];
    struct inet_entry *ie;
    size_t last;
    uint16_t port;

    if (nseg >= 4 && seg_decode(&v[3], port_s, sizeof(port_s)) && parse_port(port_s, &port)) {
        if (!seg_decode(&v[2], host, sizeof(host))) {
            bind_fail(n, ret, "cannot resolve %.*s", (int) MESH_MIN(v[2].len, 100), v[2].s);
            return;
        }
        last = 3;
    } else if (nseg >= 3 && seg_decode(&v[2], port_s, sizeof(port_s)) &&
               parse_port(port_s, &port)) {
        (void) snprintf(host, sizeof(host), "127.0.0.1");
        last = 2;
    } else {
        bind_fail(n, ret, "invalid name %.*s: expected /$/%.*s/<host>/<port>",
                  (int) MESH_MIN(strlen(path), 120), path, (int) v[1].len, v[1].s);
        return;
    }
    ie = inet_get(n, host, port);
    bind_inet_entry(n, ie, ret);
    if (ret->kind == DTAB_BIND_BOUND)
        bind_bound(ret, path, v, nseg, last, &ie->e);
}

/* /$/io.buoyant.rinet/<port>/<host>[/r]: Neg when the arguments do not fit (Linkerd). */
static void
bind_rinet(struct naming *n, const char *path, const struct path_seg *v, size_t nseg,
           struct dtab_bind *ret)
{
    char host[256], port_s[16];
    struct inet_entry *ie;
    uint16_t port;

    if (nseg < 4 || !seg_decode(&v[2], port_s, sizeof(port_s)) || !parse_port(port_s, &port) ||
        !seg_decode(&v[3], host, sizeof(host)))
        return;
    ie = inet_get(n, host, port);
    bind_inet_entry(n, ie, ret);
    if (ret->kind == DTAB_BIND_BOUND)
        bind_bound(ret, path, v, nseg, 3, &ie->e);
}

/* ---- io.l5d.k8s -------------------------------------------------------------------- */

static struct k8s_api *
api_get(struct naming *n, const struct api_opts *o, char *err, size_t errlen)
{
    struct k8s_api_ref *r;
    struct strbuf key = STRBUF_INIT;

    strbuf_addf(&key, "%s|%u|%d|%s|%s", o->host, o->port, o->tls, o->ca, o->token);
    for (r = n->apis; r != NULL; r = r->next)
        if (strcmp(r->key, strbuf_str(&key)) == 0) {
            strbuf_fini(&key);
            return r->api;
        }
    r = xcalloc(1, sizeof(*r));
    r->key = strbuf_steal(&key);
    r->api = k8s_api_new(n->loop, o->host, o->port);
    r->next = n->apis;
    n->apis = r;
    if (o->tls) {
        struct k8s_tls t = {.ca_path = o->ca, .token_path = o->token};

        if (k8s_api_set_tls(r->api, &t, err, errlen) != 0)
            return NULL;
    }
    k8s_api_set_on_change(r->api, naming_on_k8s, n);
    return r->api;
}

static bool
opt_true(const char *v, bool *ret)
{
    if (v == NULL)
        return true;
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        *ret = v[0] == 't';
        return true;
    }
    return false;
}

/* The API settings of a namer (keys host, port, inCluster, tls, caCertPath, tokenPath) or a
 * transformer (the same keys prefixed "k8s": k8sHost, k8sInCluster, ...). Defaults as
 * Linkerd: a kubectl proxy at localhost:8001 over plain HTTP. inCluster: the API server
 * of $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT over HTTPS with the pod's service
 * account (CA and token at their standard paths). */
static int
api_opts_parse(const char *who, param_fn *get, const void *src, bool prefixed, struct api_opts *o,
               char *err, size_t errlen)
{
    const char *k_host = prefixed ? "k8sHost" : "host", *k_port = prefixed ? "k8sPort" : "port";
    const char *k_in = prefixed ? "k8sInCluster" : "inCluster",
               *k_tls = prefixed ? "k8sTls" : "tls";
    const char *k_ca = prefixed ? "k8sCaCertPath" : "caCertPath";
    const char *k_tok = prefixed ? "k8sTokenPath" : "tokenPath";
    const char *host = get(src, k_host), *port = get(src, k_port), *ca = get(src, k_ca);
    const char *tok = get(src, k_tok);
    bool in_cluster = false;

    memset(o, 0, sizeof(*o));
    o->port = 8001;
    if (!opt_true(get(src, k_in), &in_cluster) || !opt_true(get(src, k_tls), &o->tls)) {
        say(err, errlen, "%s: %s and %s: expected true or false", who, k_in, k_tls);
        return -EINVAL;
    }
    if (in_cluster) {
        const char *eh = getenv("KUBERNETES_SERVICE_HOST"), *ep = getenv("KUBERNETES_SERVICE_PORT");

        o->tls = true;
        o->port = 443;
        if (host == NULL && (eh == NULL || eh[0] == '\0')) {
            say(err, errlen,
                "%s: %s: KUBERNETES_SERVICE_HOST is not set (not in a pod?) and no "
                "%s is given",
                who, k_in, k_host);
            return -EINVAL;
        }
        if (host == NULL)
            host = eh;
        if (port == NULL && ep != NULL && ep[0] != '\0' && !parse_port(ep, &o->port)) {
            say(err, errlen, "%s: KUBERNETES_SERVICE_PORT \"%s\" is not a port", who, ep);
            return -EINVAL;
        }
        if (tok == NULL)
            tok = SA_DIR "/token";
    }
    if (host != NULL && (host[0] == '\0' || strlen(host) >= sizeof(o->host))) {
        say(err, errlen, "%s: %s: empty or too long", who, k_host);
        return -EINVAL;
    }
    snprintf(o->host, sizeof(o->host), "%s", host != NULL ? host : "localhost");
    if (port != NULL && !parse_port(port, &o->port)) {
        say(err, errlen, "%s: %s: expected 1..65535, not \"%s\"", who, k_port, port);
        return -EINVAL;
    }
    if ((ca != NULL && strlen(ca) >= sizeof(o->ca)) ||
        (tok != NULL && strlen(tok) >= sizeof(o->token))) {
        say(err, errlen, "%s: %s or %s: path too long", who, k_ca, k_tok);
        return -EINVAL;
    }
    if (o->tls) {
        snprintf(o->ca, sizeof(o->ca), "%s", ca != NULL ? ca : SA_DIR "/ca.crt");
        snprintf(o->token, sizeof(o->token), "%s", tok != NULL ? tok : "");
    } else if (ca != NULL || tok != NULL) {
        say(err, errlen, "%s: %s and %s need %s: true or %s: true", who, k_ca, k_tok, k_tls, k_in);
        return -EINVAL;
    }
    return 0;
}

/* Recomputes <ke> from its watches. True when what a bind sees changed. */
static bool
k8s_entry_update(struct naming *n, struct k8s_entry *ke)
{
    struct k8s_addr *addrs = NULL;
    struct endpoint_set *s;
    enum k8s_state st;
    size_t i, strs = 0, cursor = 0;
    bool changed;
    int r;

    if (!k8s_watch_synced(ke->ep) || (ke->svc_w != NULL && !k8s_watch_synced(ke->svc_w))) {
        st = K8S_PENDING;
    } else {
        r = k8s_endpoints_resolve(k8s_watch_object(ke->ep),
                                  ke->svc_w != NULL ? k8s_watch_object(ke->svc_w) : NULL, ke->port,
                                  &addrs);
        if (r == -ENOMEM)
            return false; /* keep what we had; the next change retries */
        st = r == -ENOENT ? K8S_NEG : K8S_BOUND;
        if (st == K8S_BOUND) {
            for (i = 0; i < (size_t) r; i++)
                strs += strlen(addrs[i].node) + 1;
            s = eps_new_ex((size_t) r, strs);
            for (i = 0; i < (size_t) r; i++) {
                struct sockaddr_storage sa;
                socklen_t sa_len;

                if (!parse_ip(addrs[i].ip, &sa, &sa_len))
                    continue; /* not an address: skipped */
                eps_add(s, &sa, addrs[i].port, 1.0);
                if (addrs[i].node[0] != '\0')
                    eps_set_node(s, (size_t) r, &cursor, addrs[i].node);
            }
            free(addrs);
            changed = ke->state != st;
            ke->state = st;
            return entry_publish(n, &ke->e, s) || changed;
        }
    }
    changed = ke->state != st;
    ke->state = st;
    return changed;
}

static bool
opt_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
is_number(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The entry for /<ns>/<port>/<svc> of <api> (with <selector>, or NULL), created and its
 * watches started when new. */
static struct k8s_entry *
k8s_entry_get(struct naming *n, struct k8s_api *api, const char *ns, const char *port,
              const char *svc, const char *selector)
{
    struct k8s_entry *ke;

    for (ke = n->k8s_entries; ke != NULL; ke = ke->next)
        if (ke->api == api && strcmp(ke->ns, ns) == 0 && strcmp(ke->port, port) == 0 &&
            strcmp(ke->svc, svc) == 0 && opt_eq(ke->selector, selector))
            return ke;
    ke = xcalloc(1, sizeof(*ke));
    ke->e.kind = ENTRY_K8S;
    ke->e.last_used = ev_now(n->loop);
    ke->api = api;
    ke->ns = xstrdup(ns);
    ke->port = xstrdup(port);
    ke->svc = xstrdup(svc);
    ke->selector = selector != NULL ? xstrdup(selector) : NULL;
    ke->ep = k8s_watch_get(api, "endpoints", ns, svc, selector);
    if (is_number(port))
        ke->svc_w = k8s_watch_get(api, "services", ns, svc, NULL);
    (void) k8s_entry_update(n, ke); /* the watches may be shared and known already */
    ke->next = n->k8s_entries;
    n->k8s_entries = ke;
    return ke;
}

static void
k8s_entry_free(struct k8s_entry *ke)
{
    k8s_watch_put(ke->ep);
    k8s_watch_put(ke->svc_w);
    endpoint_set_unref(ke->e.eps);
    free(ke->ns);
    free(ke->port);
    free(ke->svc);
    free(ke->selector);
    free(ke);
}

static void
naming_on_k8s(void *ctx)
{
    struct naming *n = ctx;
    struct k8s_entry *ke;
    bool changed = false;

    for (ke = n->k8s_entries; ke != NULL; ke = ke->next)
        changed |= k8s_entry_update(n, ke);
    if (changed) {
        n->gen++;
        notify(n);
    }
}

/* A decoded, lower-cased path segment (Linkerd lower-cases the namespace, port and
 * service). False when it does not fit or is not a plausible Kubernetes name. */
static bool
seg_k8s_name(const struct path_seg *sp, char *out, size_t cap)
{
    size_t i;

    if (!seg_decode(sp, out, cap) || out[0] == '\0')
        return false;
    for (i = 0; out[i] != '\0'; i++) {
        out[i] = (char) tolower((unsigned char) out[i]);
        if (!isalnum((unsigned char) out[i]) && out[i] != '-' && out[i] != '.' && out[i] != '_')
            return false;
    }
    return true;
}

/* /#/<prefix>/<ns>/<port>/<svc>[/<label value>][/residual], <first> being the index of
 * the namespace segment. */
static void
bind_k8s(struct naming *n, struct k8s_namer *kn, const char *path, const struct path_seg *v,
         size_t nseg, size_t first, struct dtab_bind *ret)
{
    char ns[254], port[64], svc[254], val[254], sel[512];
    size_t need = kn->label_key != NULL ? 4 : 3;
    struct k8s_entry *ke;

    if (nseg < first + need || !seg_k8s_name(&v[first], ns, sizeof(ns)) ||
        !seg_k8s_name(&v[first + 1], port, sizeof(port)) ||
        !seg_k8s_name(&v[first + 2], svc, sizeof(svc)))
        return;
    if (kn->label_key != NULL) {
        if (!seg_k8s_name(&v[first + 3], val, sizeof(val)))
            return;
        (void) snprintf(sel, sizeof(sel), "%s=%s", kn->label_key, val);
    }
    ke = k8s_entry_get(n, kn->api, ns, port, svc, kn->label_key != NULL ? sel : NULL);
    ke->e.last_used = ev_now(n->loop);
    switch (ke->state) {
    case K8S_PENDING:
        ret->kind = DTAB_BIND_PENDING;
        ret->handle = &ke->e; /* only for the delegator: why it still waits */
        break;
    case K8S_NEG:
        break;
    case K8S_BOUND:
        bind_bound(ret, path, v, nseg, first + need - 1, &ke->e);
        break;
    }
}

/* ---- transformers ------------------------------------------------------------------ */

static struct xform_entry *
xform_get(struct naming *n, const char *id)
{
    struct xform_entry *xe;

    for (xe = n->xforms; xe != NULL; xe = xe->next)
        if (strcmp(xe->id, id) == 0)
            return xe;
    xe = xcalloc(1, sizeof(*xe));
    xe->e.kind = ENTRY_XFORM;
    xe->e.last_used = ev_now(n->loop);
    xe->id = xstrdup(id);
    xe->next = n->xforms;
    n->xforms = xe;
    return xe;
}

static void
xform_free(struct xform_entry *xe)
{
    endpoint_set_unref(xe->e.eps);
    free(xe->id);
    free(xe);
}

static bool
ipv4_of(const struct endpoint *e, uint32_t *ret)
{
    if (e->addr.ss_family != AF_INET)
        return false;
    *ret = ntohl(((const struct sockaddr_in *) &e->addr)->sin_addr.s_addr);
    return true;
}

/* Whether daemonset pod <d> serves destination <e>: same node, or (Linkerd's rule, on
 * request) same IPv4 /24. */
static bool
xf_ds_matches(const struct xformer *xf, const struct endpoint *e, const struct endpoint *d)
{
    uint32_t a, b;

    if (!xf->by_subnet)
        return e->node != NULL && d->node != NULL && strcmp(e->node, d->node) == 0;
    return ipv4_of(e, &a) && ipv4_of(d, &b) && (a & 0xffffff00u) == (b & 0xffffff00u);
}

static bool
xf_local_keeps(const struct xformer *xf, const struct endpoint *e)
{
    uint32_t a;

    if (!xf->by_subnet)
        return e->node != NULL && strcmp(e->node, xf->node) == 0;
    if (!ipv4_of(e, &a))
        return true; /* Linkerd keeps addresses its netmask cannot judge */
    return (a & 0xffffff00u) == xf->subnet;
}

static size_t
eps_node_bytes(const struct endpoint_set *s)
{
    size_t i, len = 0;

    for (i = 0; s != NULL && i < s->n; i++)
        if (s->e[i].node != NULL)
            len += strlen(s->e[i].node) + 1;
    return len;
}

static void
eps_copy_one(struct endpoint_set *s, size_t cap, size_t *cursor, const struct endpoint *src,
             double weight)
{
    struct endpoint *d = &s->e[s->n++];

    memcpy(&d->addr, &src->addr, sizeof(d->addr));
    d->addr_len = src->addr_len;
    d->weight = weight;
    d->node = NULL;
    if (src->node != NULL)
        eps_set_node(s, cap, cursor, src->node);
}

/* Runs transformer <xf> on <in>. 0 with *ret (referenced) set, or -EAGAIN while the
 * transformer's own namer has not answered (<why> says so). */
static int
xf_apply(const struct xformer *xf, const struct endpoint_set *in, struct endpoint_set **ret,
         const char **why)
{
    struct endpoint_set *s;
    size_t i, j, cursor = 0;

    if (in == NULL) {
        *why = "waiting for the name's endpoints";
        return -EAGAIN;
    }
    if (xf->kind == XF_PORT) {
        s = eps_new_ex(in->n, eps_node_bytes(in));
        for (i = 0; i < in->n; i++) {
            struct endpoint *d;

            eps_copy_one(s, in->n, &cursor, &in->e[i], in->e[i].weight);
            d = &s->e[s->n - 1];
            if (d->addr.ss_family == AF_INET)
                ((struct sockaddr_in *) &d->addr)->sin_port = htons(xf->port);
            else if (d->addr.ss_family == AF_INET6)
                ((struct sockaddr_in6 *) &d->addr)->sin6_port = htons(xf->port);
        }
        *ret = s;
        return 0;
    }
    if (xf->kind == XF_LOCALNODE) {
        s = eps_new_ex(in->n, eps_node_bytes(in));
        for (i = 0; i < in->n; i++)
            if (xf_local_keeps(xf, &in->e[i]))
                eps_copy_one(s, in->n, &cursor, &in->e[i], in->e[i].weight);
        *ret = s;
        return 0;
    }
    if (xf->ds->state == K8S_PENDING) {
        *why = "waiting for the daemonset's endpoints";
        return -EAGAIN;
    }
    if (xf->ds->state == K8S_NEG || xf->ds->e.eps == NULL) {
        *ret = eps_new(0);
        return 0;
    }
    {
        const struct endpoint_set *ds = xf->ds->e.eps;

        /* each daemonset pod once, weighted by the destination endpoints it stands for */
        s = eps_new_ex(ds->n, eps_node_bytes(ds));
        for (j = 0; j < ds->n; j++) {
            double w = 0.0;

            for (i = 0; i < in->n; i++)
                if (xf_ds_matches(xf, &in->e[i], &ds->e[j]))
                    w += in->e[i].weight > 0 ? in->e[i].weight : 1.0;
            if (w > 0.0)
                eps_copy_one(s, ds->n, &cursor, &ds->e[j], w);
        }
    }
    *ret = s;
    return 0;
}

/* Applies <xf> to the leaf (<id>, <src>): the transformed entry, its eps current. NULL
 * with <why> set while the transformer waits. */
static struct xform_entry *
xf_step(struct naming *n, const struct xformer *xf, const char *id, struct entry *src,
        const char **why)
{
    struct endpoint_set *out = NULL;
    struct xform_entry *xe;
    char *xid = NULL;

    if (xf_apply(xf, src->eps, &out, why) < 0)
        return NULL;
    if (asprintf(&xid, "%s%s", xf->id_pfx, id) == -1)
        abort();
    xe = xform_get(n, xid);
    free(xid);
    xe->e.src = src;
    (void) entry_publish(n, &xe->e, out);
    return xe;
}

/* Rewrites every bound leaf of <res> through the transformers of <rx>. A transformer that
 * waits makes the whole result pending. */
static void
xf_apply_result(struct naming *n, const struct router_xf *rx, struct dtab_result *res)
{
    const char *why = "";
    size_t i, k;

    if (res->kind != DTAB_RES_LEAF && res->kind != DTAB_RES_UNION)
        return;
    for (i = 0; i < res->n_leaves; i++) {
        struct dtab_leaf *leaf = &res->leaves[i];
        struct entry *cur = leaf->handle;
        const char *cur_id = leaf->id;
        size_t idlen, reslen;
        char *block;

        if (leaf->empty)
            continue;
        for (k = 0; k < rx->n; k++) {
            struct xform_entry *xe = xf_step(n, &rx->v[k], cur_id, cur, &why);

            if (xe == NULL)
                goto pending;
            cur = &xe->e;
            cur_id = xe->id;
        }
        /* the id and the residual share one block (dtab.h) */
        idlen = strlen(cur_id);
        reslen = strlen(leaf->residual);
        block = xmalloc(idlen + reslen + 2);
        memcpy(block, cur_id, idlen + 1);
        memcpy(block + idlen + 1, leaf->residual, reslen + 1);
        free(leaf->id);
        leaf->id = block;
        leaf->residual = block + idlen + 1;
        leaf->handle = cur;
    }
    return;

pending:
    dtab_result_fini(res);
    res->kind = DTAB_RES_NEG;
    res->pending = true;
    (void) snprintf(res->reason, sizeof(res->reason), "transformer: %s", why);
}

static const char *
kv_get(const struct cfg_transformer *t, const char *key)
{
    size_t i;

    for (i = 0; i < t->n_params; i++)
        if (strcmp(t->params[i].key, key) == 0)
            return t->params[i].value;
    return NULL;
}

static int
kv_bool(const struct cfg_transformer *t, const char *key, bool *ret, char *err, size_t errlen)
{
    const char *v = kv_get(t, key);

    if (v == NULL)
        return 0;
    if (strcmp(v, "true") == 0) {
        *ret = true;
    } else if (strcmp(v, "false") == 0) {
        *ret = false;
    } else {
        say(err, errlen, "transformer %s: %s: expected true or false, not \"%s\"", t->kind, key, v);
        return -EINVAL;
    }
    return 0;
}

/* "nodeName" (default) or "subnet" (Linkerd's /24 rule); hostNetwork forces nodeName. */
static int
xf_match_opt(const struct cfg_transformer *t, struct xformer *xf, char *err, size_t errlen)
{
    const char *m = kv_get(t, "match");
    bool host_network = false;

    if (kv_bool(t, "hostNetwork", &host_network, err, errlen) < 0)
        return -EINVAL;
    if (m != NULL && strcmp(m, "nodeName") != 0 && strcmp(m, "subnet") != 0) {
        say(err, errlen, "transformer %s: match: expected nodeName or subnet, not \"%s\"", t->kind,
            m);
        return -EINVAL;
    }
    xf->by_subnet = m != NULL && strcmp(m, "subnet") == 0 && !host_network;
    return 0;
}

static void
add_pfx(struct strbuf *sb, const char *prefix)
{
    while (*prefix == '/')
        prefix++;
    strbuf_adds(sb, "/%/");
    strbuf_adds(sb, prefix);
}

static const char *
xf_param(const void *src, const char *key)
{
    return kv_get(src, key);
}

static int
xf_init(struct naming *n, const struct cfg_transformer *t, struct xformer *xf, char *err,
        size_t errlen)
{
    struct strbuf id = STRBUF_INIT;
    const char *prefix = t->prefix != NULL ? t->prefix : t->kind;

    xf->name = xstrdup(t->kind);
    if (xf_match_opt(t, xf, err, errlen) < 0)
        return -EINVAL;
    add_pfx(&id, prefix);
    if (strcmp(t->kind, "io.l5d.port") == 0) {
        /* Linkerd's port transformer: the same hosts on another port, e.g. each node's
         * incoming router (4141) for apps found by an io.l5d.fs file on the same hosts */
        const char *port = kv_get(t, "port");

        xf->kind = XF_PORT;
        if (port == NULL || !parse_port(port, &xf->port)) {
            say(err, errlen, "transformer %s: port: expected 1..65535, not \"%s\"", t->kind,
                port != NULL ? port : "");
            strbuf_fini(&id);
            return -EINVAL;
        }
        dtab_path_add_label(&id, port, strlen(port));
    } else if (strcmp(t->kind, "io.l5d.k8s.daemonset") == 0) {
        const char *ns = kv_get(t, "namespace"), *svc = kv_get(t, "service");
        const char *port = kv_get(t, "port");
        struct api_opts ao;
        struct k8s_api *api;
        char who[128];

        xf->kind = XF_DAEMONSET;
        if (ns == NULL || svc == NULL || port == NULL) {
            say(err, errlen, "transformer %s: namespace, service and port are required", t->kind);
            strbuf_fini(&id);
            return -EINVAL;
        }
        snprintf(who, sizeof(who), "transformer %s", t->kind);
        if (api_opts_parse(who, xf_param, t, true, &ao, err, errlen) < 0) {
            strbuf_fini(&id);
            return -EINVAL;
        }
        if (n->sh != NULL) {
            /* shared mode: the master watches the pods, routers_init asks for them */
            xf->ds = xcalloc(1, sizeof(*xf->ds));
            xf->ds->e.kind = ENTRY_K8S;
            xf->ds->pinned = true;
        } else {
            if ((api = api_get(n, &ao, err, errlen)) == NULL) {
                strbuf_fini(&id);
                return -EINVAL;
            }
            xf->ds = k8s_entry_get(n, api, ns, port, svc, NULL);
            xf->ds->pinned = true;
        }
        dtab_path_add_label(&id, ns, strlen(ns));
        dtab_path_add_label(&id, port, strlen(port));
        dtab_path_add_label(&id, svc, strlen(svc));
    } else {
        const char *v;

        xf->kind = XF_LOCALNODE;
        if (!xf->by_subnet) {
            v = getenv("NODE_NAME");
            if (v == NULL || v[0] == '\0') {
                say(err, errlen,
                    "transformer %s: NODE_NAME is not set (meshd matches pods by node name; "
                    "set it from spec.nodeName, or use match: subnet with POD_IP)",
                    t->kind);
                strbuf_fini(&id);
                return -EINVAL;
            }
            xf->node = xstrdup(v);
        } else {
            struct in_addr ia;

            v = getenv("POD_IP");
            if (v == NULL || inet_pton(AF_INET, v, &ia) != 1) {
                say(err, errlen, "transformer %s: match: subnet needs POD_IP (an IPv4 address)",
                    t->kind);
                strbuf_fini(&id);
                return -EINVAL;
            }
            xf->subnet = ntohl(ia.s_addr) & 0xffffff00u;
        }
        dtab_path_add_label(&id, v, strlen(v));
    }
    xf->id_pfx = strbuf_steal(&id);
    return 0;
}

static int
routers_init(struct naming *n, const struct cfg *cfg, char *err, size_t errlen)
{
    size_t i, k;

    if (cfg == NULL || cfg->n_routers == 0)
        return 0;
    n->routers = xcalloc(cfg->n_routers, sizeof(*n->routers));
    for (i = 0; i < cfg->n_routers; i++) {
        const struct cfg_router *r = &cfg->routers[i];
        struct router_xf *rx;

        if (r->n_transformers == 0)
            continue;
        rx = &n->routers[n->n_routers++];
        rx->label = xstrdup(r->label != NULL ? r->label : "");
        rx->v = xcalloc(r->n_transformers, sizeof(*rx->v));
        for (k = 0; k < r->n_transformers; k++) {
            const struct cfg_transformer *t = &r->transformers[k];

            if (t->kind == NULL || (strcmp(t->kind, "io.l5d.k8s.daemonset") != 0 &&
                                    strcmp(t->kind, "io.l5d.k8s.localnode") != 0 &&
                                    strcmp(t->kind, "io.l5d.port") != 0)) {
                log_notice("naming: router %s: transformer %s is not implemented; ignored",
                           rx->label, t->kind ? t->kind : "(none)");
                continue;
            }
            if (rx->n == NAMING_MAX_XFORMS) {
                say(err, errlen, "router %s: more than %d transformers", rx->label,
                    NAMING_MAX_XFORMS);
                return -EINVAL;
            }
            if (xf_init(n, t, &rx->v[rx->n++], err, errlen) < 0) {
                char tmp[256];

                (void) snprintf(tmp, sizeof(tmp), "router %s: %s", rx->label, err);
                say(err, errlen, "%s", tmp);
                return -EINVAL;
            }
            if (n->sh != NULL && rx->v[rx->n - 1].kind == XF_DAEMONSET) {
                char key[64];
                int klen = snprintf(key, sizeof(key), "%%ds/%zu/%zu", n->n_routers - 1, rx->n - 1);

                shared_get(n, key, (size_t) klen)->ds = rx->v[rx->n - 1].ds;
            }
        }
    }
    return 0;
}

static void
routers_free(struct naming *n)
{
    size_t i, k;

    for (i = 0; i < n->n_routers; i++) {
        struct router_xf *rx = &n->routers[i];

        for (k = 0; k < rx->n; k++) {
            if (n->sh != NULL && rx->v[k].ds != NULL) { /* shared mode: its own */
                endpoint_set_unref(rx->v[k].ds->e.eps);
                free(rx->v[k].ds);
            }
            free(rx->v[k].name);
            free(rx->v[k].id_pfx);
            free(rx->v[k].node);
        }
        free(rx->v);
        free(rx->label);
    }
    free(n->routers);
    n->routers = NULL;
    n->n_routers = 0;
}

static int
router_find(const struct naming *n, const char *label)
{
    size_t i;

    if (label == NULL)
        return -1;
    for (i = 0; i < n->n_routers; i++)
        if (strcmp(n->routers[i].label, label) == 0)
            return (int) i;
    return -1;
}

/* ---- rewriting namers (Linkerd io.buoyant.*) ---------------------------------------- */

static void
add_seg(struct strbuf *out, const struct path_seg *sp)
{
    strbuf_addc(out, '/');
    strbuf_add(out, sp->s, sp->len);
}

static bool
is_host(const char *s) /* Linkerd's coarse ^[A-Za-z0-9.:_-]+$ */
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              *s == '.' || *s == ':' || *s == '_' || *s == '-'))
            return false;
    return true;
}

static bool
is_method(const char *s) /* [A-Z]+ */
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (*s < 'A' || *s > 'Z')
            return false;
    return true;
}

static bool
is_dns_label(const char *s) /* [a-z0-9][-a-z0-9]*, at most 63 */
{
    size_t i;

    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')) || strlen(s) > 63)
        return false;
    for (i = 1; s[i] != '\0'; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* "host:port" with exactly one colon, both sides non-empty, port a DNS label. */
static bool
split_host_port(const char *s, char *host, char *port, size_t cap)
{
    const char *colon = strchr(s, ':');

    if (colon == NULL || colon == s || strchr(colon + 1, ':') != NULL ||
        (size_t) (colon - s) >= cap || strlen(colon + 1) >= cap)
        return false;
    memcpy(host, s, (size_t) (colon - s));
    host[colon - s] = '\0';
    (void) snprintf(port, cap, "%s", colon + 1);
    return is_dns_label(port);
}

/* Linkerd's Match.subdomain: <host> without its port must end in ".<domain>". */
static bool
subdomain(const char *domain, const char *host, char *out, size_t cap)
{
    size_t hlen = strlen(host), dlen = strlen(domain);
    const char *colon = strchr(host, ':');

    if (colon != NULL && colon != host)
        hlen = (size_t) (colon - host);
    if (hlen < dlen + 2 || host[hlen - dlen - 1] != '.' ||
        memcmp(host + hlen - dlen, domain, dlen) != 0 || hlen - dlen - 1 >= cap)
        return false;
    memcpy(out, host, hlen - dlen - 1);
    out[hlen - dlen - 1] = '\0';
    return true;
}

/* Adds the dot-separated parts of <host> in reverse order, as Java's split (trailing
 * empty parts dropped). False on an empty inner part, which no path can hold. */
static bool
add_reversed_domain(struct strbuf *out, const char *host)
{
    size_t len = strlen(host);

    while (len > 0 && host[len - 1] == '.')
        len--;
    while (len > 0) {
        size_t start = len;

        while (start > 0 && host[start - 1] != '.')
            start--;
        if (start == len)
            return false;
        dtab_path_add_label(out, host + start, len - start);
        len = start > 0 ? start - 1 : 0;
        if (start > 0 && len == 0)
            return false; /* leading empty part */
    }
    return true;
}

/* Runs rewriting namer <kind> on the arguments v[2..]; true with <out> set, false = Neg. */
static bool
rewrite(const char *kind, const struct path_seg *v, size_t nseg, struct strbuf *out)
{
    const struct path_seg *a = v + 2;
    size_t na = nseg - 2, i, keep;
    char s0[256], s1[256], s2[256], host[256], port[256];

    if (strcmp(kind, "io.buoyant.hostportPfx") == 0 ||
        strcmp(kind, "io.buoyant.porthostPfx") == 0) {
        if (na < 2 || !seg_decode(&a[1], s1, sizeof(s1)) ||
            !split_host_port(s1, host, port, sizeof(host)))
            return false;
        add_seg(out, &a[0]);
        if (strcmp(kind, "io.buoyant.hostportPfx") == 0) {
            dtab_path_add_label(out, host, strlen(host));
            dtab_path_add_label(out, port, strlen(port));
        } else {
            dtab_path_add_label(out, port, strlen(port));
            dtab_path_add_label(out, host, strlen(host));
        }
        keep = 2;
    } else if (strcmp(kind, "io.buoyant.http.subdomainOfPfx") == 0) {
        if (na < 3 || !seg_decode(&a[0], s0, sizeof(s0)) || !seg_decode(&a[2], s2, sizeof(s2)) ||
            !is_host(s0) || !is_host(s2) || !subdomain(s0, s2, host, sizeof(host)))
            return false;
        add_seg(out, &a[1]);
        dtab_path_add_label(out, host, strlen(host));
        keep = 3;
    } else if (strcmp(kind, "io.buoyant.http.subdomainOf") == 0) {
        if (na < 2 || !seg_decode(&a[0], s0, sizeof(s0)) || !seg_decode(&a[1], s1, sizeof(s1)) ||
            !is_host(s0) || !is_host(s1) || !subdomain(s0, s1, host, sizeof(host)))
            return false;
        dtab_path_add_label(out, host, strlen(host));
        keep = 2;
    } else if (strcmp(kind, "io.buoyant.http.domainToPathPfx") == 0) {
        if (na < 2 || !seg_decode(&a[1], s1, sizeof(s1)) || !is_host(s1))
            return false;
        add_seg(out, &a[0]);
        if (!add_reversed_domain(out, s1))
            return false;
        keep = 2;
    } else if (strcmp(kind, "io.buoyant.http.domainToPath") == 0) {
        if (na < 1 || !seg_decode(&a[0], s0, sizeof(s0)) || !is_host(s0) ||
            !add_reversed_domain(out, s0))
            return false;
        keep = 1;
    } else if (strcmp(kind, "io.buoyant.http.anyMethodPfx") == 0) {
        if (na < 2 || !seg_decode(&a[1], s1, sizeof(s1)) || !is_method(s1))
            return false;
        add_seg(out, &a[0]);
        keep = 2;
    } else if (strcmp(kind, "io.buoyant.http.anyMethod") == 0) {
        if (na < 1 || !seg_decode(&a[0], s0, sizeof(s0)) || !is_method(s0))
            return false;
        keep = 1;
    } else if (strcmp(kind, "io.buoyant.http.anyHostPfx") == 0) {
        if (na < 2 || !seg_decode(&a[1], s1, sizeof(s1)) || !is_host(s1))
            return false;
        add_seg(out, &a[0]);
        keep = 2;
    } else if (strcmp(kind, "io.buoyant.http.anyHost") == 0) {
        if (na < 1 || !seg_decode(&a[0], s0, sizeof(s0)) || !is_host(s0))
            return false;
        keep = 1;
    } else {
        return false;
    }
    for (i = keep; i < na; i++)
        add_seg(out, &a[i]);
    if (out->len == 0)
        strbuf_addc(out, '/');
    return true;
}

static bool
is_rewriter(const char *kind)
{
    static const char *const kinds[] = {
        "io.buoyant.hostportPfx",          "io.buoyant.porthostPfx",
        "io.buoyant.http.subdomainOfPfx",  "io.buoyant.http.subdomainOf",
        "io.buoyant.http.domainToPathPfx", "io.buoyant.http.domainToPath",
        "io.buoyant.http.anyMethodPfx",    "io.buoyant.http.anyMethod",
        "io.buoyant.http.anyHostPfx",      "io.buoyant.http.anyHost",
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(kinds); i++)
        if (strcmp(kind, kinds[i]) == 0)
            return true;
    return false;
}

static void
bind_global(struct naming *n, const char *path, const struct path_seg *v, size_t nseg,
            struct dtab_bind *ret)
{
    char kind[128];

    if (nseg < 2 || !seg_decode(&v[1], kind, sizeof(kind)))
        return;
    if (strcmp(kind, "inet") == 0 || strcmp(kind, "fixedinet") == 0) {
        bind_inet(n, path, v, nseg, ret);
    } else if (strcmp(kind, "io.buoyant.rinet") == 0) {
        bind_rinet(n, path, v, nseg, ret);
    } else if (strcmp(kind, "fail") == 0) {
        bind_fail(n, ret, "%.*s: failed by /$/fail", (int) MESH_MIN(strlen(path), 120), path);
    } else if (strcmp(kind, "nil") == 0) {
        ret->kind = DTAB_BIND_EMPTY;
    } else if (is_rewriter(kind)) {
        struct strbuf sb = STRBUF_INIT;

        if (rewrite(kind, v, nseg, &sb)) {
            if (sb.len < sizeof(ret->path)) {
                ret->kind = DTAB_BIND_REWRITE;
                memcpy(ret->path, sb.s, sb.len + 1);
            } else {
                bind_fail(n, ret, "%s: rewritten path too long", kind);
            }
        }
        strbuf_fini(&sb);
    } else {
        bind_fail(n, ret, "unknown namer %s", kind);
    }
}

/* Whether segments 1.. of <v> start with the decoded prefix <pfx>. */
static bool
prefix_is(const struct path_seg *v, size_t nseg, char *const *pfx, size_t n_pfx)
{
    char name[NAME_MAX + 1];
    size_t j;

    if (nseg < 1 + n_pfx)
        return false;
    for (j = 0; j < n_pfx; j++)
        if (!seg_decode(&v[1 + j], name, sizeof(name)) || strcmp(name, pfx[j]) != 0)
            return false;
    return true;
}

static void
bind_fs(struct naming *n, struct fs_namer *ns, const char *path, const struct path_seg *v,
        size_t nseg, struct dtab_bind *ret)
{
    char name[NAME_MAX + 1];
    struct fs_node *node = ns->root;
    size_t j;

    for (j = 1 + ns->n_pfx; j < nseg; j++) {
        struct fs_node *c;

        if (!seg_decode(&v[j], name, sizeof(name)) || (c = fs_child(node, name)) == NULL)
            break;
        if (c->is_dir) {
            node = c;
            continue;
        }
        if (!c->loaded)
            (void) fs_file_load(ns, c); /* first use; nothing cached can refer to it */
        c->e.last_used = ev_now(n->loop);
        if (c->missing)
            break;
        if (c->fail != NULL) {
            bind_fail(n, ret, "%s", c->fail);
            return;
        }
        if (c->e.eps == NULL) {
            ret->kind = DTAB_BIND_PENDING; /* first host answers on their way */
            return;
        }
        bind_bound(ret, path, v, nseg, j, &c->e); /* a refresh in flight serves the last set */
        return;
    }
}

/* /#/<prefix>/...: the configured namers whose prefix matches, in config order, until
 * one answers something other than Neg. */
static void
bind_configured(struct naming *n, const char *path, const struct path_seg *v, size_t nseg,
                struct dtab_bind *ret)
{
    size_t i;

    for (i = 0; i < n->n_order && ret->kind == DTAB_BIND_NEG; i++) {
        if (n->order[i].is_k8s) {
            struct k8s_namer *kn = &n->k8s[n->order[i].idx];

            if (prefix_is(v, nseg, kn->pfx, kn->n_pfx))
                bind_k8s(n, kn, path, v, nseg, 1 + kn->n_pfx, ret);
        } else {
            struct fs_namer *ns = &n->fs[n->order[i].idx];

            if (prefix_is(v, nseg, ns->pfx, ns->n_pfx))
                bind_fs(n, ns, path, v, nseg, ret);
        }
    }
}

/* ---- shared mode: names the master resolves (a worker's) --------------------------- */

static uint64_t
key_hash(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char) key[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static struct shared_entry **
shared_slot(struct shared *sh, const char *key, size_t len)
{
    struct shared_entry **pp = &sh->buckets[key_hash(key, len) % NAMING_SHARED_BUCKETS];

    while (*pp != NULL && ((*pp)->key_len != len || memcmp((*pp)->key, key, len) != 0))
        pp = &(*pp)->next;
    return pp;
}

/* Sends <se>'s key to the master as <type>; a WATCH the channel refuses is retried. */
static void
shared_send(struct naming *n, const char *key, size_t len, uint32_t type)
{
    struct shared *sh = n->sh;
    char buf[sizeof(struct ipc_msg) + NAMEMSG_KEY_MAX + 8];
    int blen = namemsg_key_encode(type, key, len, buf, sizeof(buf));

    if (blen > 0 && sh->send(sh->ctx, buf, (size_t) blen) == 0) {
        if (type == IPC_NAME_WATCH)
            (*shared_slot(sh, key, len))->asked = true;
        return;
    }
    if (type == IPC_NAME_WATCH && !ev_is_active(&sh->retry)) {
        ev_timer_set(&sh->retry, NAMING_SHARED_RETRY_S, 0.);
        ev_timer_start(n->loop, &sh->retry);
        ev_unref(n->loop);
    }
}

static void
naming_on_shared_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct naming *n = w->data;
    struct shared *sh = n->sh;

    (void) revents;
    ev_ref(loop); /* it was unref'd while active; it is stopped now */
    for (size_t i = 0; i < NAMING_SHARED_BUCKETS; i++)
        for (struct shared_entry *se = sh->buckets[i]; se != NULL; se = se->next)
            if (!se->asked)
                shared_send(n, se->key, se->key_len, IPC_NAME_WATCH);
}

/* The entry for <key>, created and asked for when new; NULL beyond NAMING_SHARED_MAX. */
static struct shared_entry *
shared_get(struct naming *n, const char *key, size_t len)
{
    struct shared *sh = n->sh;
    struct shared_entry **pp = shared_slot(sh, key, len), *se;

    if (*pp != NULL)
        return *pp;
    if (sh->n >= NAMING_SHARED_MAX || len > NAMEMSG_KEY_MAX)
        return NULL;
    se = xcalloc(1, sizeof(*se) + len + 1);
    se->e.kind = ENTRY_SHARED;
    se->e.last_used = ev_now(n->loop);
    se->key_len = len;
    memcpy(se->key, key, len);
    *pp = se;
    sh->n++;
    shared_send(n, key, len, IPC_NAME_WATCH);
    return se;
}

static void
shared_entry_free(struct shared_entry *se)
{
    endpoint_set_unref(se->e.eps);
    endpoint_set_unref(se->part);
    free(se->residual);
    free(se->reason);
    free(se);
}

/* Whether the binder asks the master for <v>: configured namers, and host names (an
 * address literal, a rewrite, /$/fail and /$/nil are answered here). */
static bool
shared_wants(const struct path_seg *v, size_t nseg)
{
    struct sockaddr_storage sa;
    socklen_t sa_len;
    char kind[32], host[256];
    size_t hi;

    if (span_is(&v[0], "#"))
        return true;
    if (nseg < 4 || !seg_decode(&v[1], kind, sizeof(kind)))
        return false;
    if (strcmp(kind, "inet") == 0 || strcmp(kind, "fixedinet") == 0)
        hi = 2;
    else if (strcmp(kind, "io.buoyant.rinet") == 0)
        hi = 3;
    else
        return false;
    return seg_decode(&v[hi], host, sizeof(host)) && !parse_ip(host, &sa, &sa_len);
}

static void
bind_shared(struct naming *n, const char *path, size_t len, struct dtab_bind *ret)
{
    struct shared_entry *se = shared_get(n, path, len);

    if (se == NULL) {
        bind_fail(n, ret, "%.*s: more than %d names in use, or a name over %d bytes",
                  (int) MESH_MIN(len, (size_t) 120), path, NAMING_SHARED_MAX, NAMEMSG_KEY_MAX);
        return;
    }
    se->e.last_used = ev_now(n->loop);
    if (!se->answered || se->kind == NAMEMSG_PENDING) {
        ret->kind = DTAB_BIND_PENDING;
        return;
    }
    switch (se->kind) {
    case NAMEMSG_NEG:
    case NAMEMSG_PENDING:
        break;
    case NAMEMSG_FAIL:
        bind_fail(n, ret, "%s", se->reason != NULL ? se->reason : "failed");
        break;
    case NAMEMSG_BOUND:
        ret->kind = DTAB_BIND_BOUND;
        (void) snprintf(ret->id, sizeof(ret->id), "%.*s", (int) se->id_len, se->key);
        (void) snprintf(ret->residual, sizeof(ret->residual), "%s", se->residual);
        ret->handle = &se->e;
        break;
    }
}

struct shared_fill {
    struct endpoint_set *s;
    size_t cap, cursor, node_bytes;
};

static void
shared_count_ep(void *ctx, const struct namemsg_ep *ep)
{
    struct shared_fill *f = ctx;

    if (ep->node != NULL)
        f->node_bytes += ep->node_len + 1;
}

static void
shared_fill_ep(void *ctx, const struct namemsg_ep *ep)
{
    struct shared_fill *f = ctx;
    struct sockaddr_storage sa;

    memset(&sa, 0, sizeof(sa));
    if (ep->ipv6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &sa;

        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, ep->ip, 16);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *) &sa;

        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, ep->ip, 4);
    }
    eps_add(f->s, &sa, ep->port, ep->weight);
    if (ep->node != NULL) {
        char node[NAMEMSG_NODE_MAX + 1];

        memcpy(node, ep->node, ep->node_len);
        node[ep->node_len] = '\0';
        eps_set_node(f->s, f->cap, &f->cursor, node);
    }
}

static bool
str_differs(const char *a, const char *b, size_t blen)
{
    return a == NULL || strlen(a) != blen || memcmp(a, b, blen) != 0;
}

/* Installs a whole state (<fresh>: the endpoints of a BOUND one, referenced). True when
 * what a bind sees changed. */
static bool
shared_apply(struct naming *n, struct shared_entry *se, const struct namemsg_state *st,
             struct endpoint_set *fresh)
{
    bool changed = !se->answered || se->kind != (enum namemsg_kind) st->kind ||
                   se->id_len != st->id_len ||
                   str_differs(se->residual, st->residual, st->residual_len) ||
                   str_differs(se->reason, st->reason, st->reason_len);

    se->answered = true;
    se->kind = (enum namemsg_kind) st->kind;
    se->id_len = st->id_len;
    free(se->residual);
    free(se->reason);
    se->residual = xstrndup(st->residual, st->residual_len);
    se->reason = xstrndup(st->reason, st->reason_len);
    if (se->ds != NULL) { /* a transformer's daemonset: it reads the k8s entry */
        enum k8s_state ks = st->kind == NAMEMSG_BOUND ? K8S_BOUND
                            : st->kind == NAMEMSG_NEG ? K8S_NEG
                                                      : K8S_PENDING;

        changed |= se->ds->state != ks;
        se->ds->state = ks;
        if (fresh != NULL)
            changed |= entry_publish(n, &se->ds->e, fresh);
        return changed;
    }
    if (fresh != NULL)
        changed |= entry_publish(n, &se->e, fresh);
    return changed;
}

void
naming_shared_input(struct naming *n, const void *msg, size_t len)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10000000, 1);
    struct shared_fill fill = {0};
    struct namemsg_state st;
    struct shared_entry *se;
    struct endpoint_set *prev = NULL;

    if (n->sh == NULL)
        return;
    if (namemsg_state_decode(msg, len, &st, shared_count_ep, &fill) < 0) {
        if (log_ratelimit_ok(&rl))
            log_err("naming: a malformed name state from the master (%zu bytes), ignored", len);
        return;
    }
    se = *shared_slot(n->sh, st.key, st.key_len);
    if (se == NULL) { /* forgotten here, and the UNWATCH was lost: say it again */
        shared_send(n, st.key, st.key_len, IPC_NAME_UNWATCH);
        return;
    }
    if (st.kind != NAMEMSG_BOUND) {
        se->part = endpoint_set_unref(se->part);
        goto apply;
    }
    if (st.first > 0) {
        prev = se->part;
        if (prev == NULL || se->part_version != st.version || prev->n != st.first) {
            se->part = endpoint_set_unref(se->part); /* out of step: the next set is whole */
            return;
        }
    }
    fill.cap = st.first + st.n;
    fill.node_bytes += eps_node_bytes(prev);
    fill.s = eps_new_ex(fill.cap, fill.node_bytes);
    for (size_t i = 0; prev != NULL && i < prev->n; i++)
        eps_copy_one(fill.s, fill.cap, &fill.cursor, &prev->e[i], prev->e[i].weight);
    (void) namemsg_state_decode(msg, len, &st, shared_fill_ep, &fill);
    se->part = endpoint_set_unref(se->part);
    if (fill.s->n < st.total) {
        se->part = fill.s;
        se->part_version = st.version;
        return;
    }
apply:
    if (shared_apply(n, se, &st, st.kind == NAMEMSG_BOUND ? fill.s : NULL)) {
        n->gen++;
        notify(n);
    }
}

/* Forgets the names no request bound for NAMING_IDLE_S (not the transformers'). True
 * when something was forgotten. */
static bool
shared_forget_idle(struct naming *n, ev_tstamp now)
{
    bool forgot = false;

    for (size_t i = 0; i < NAMING_SHARED_BUCKETS; i++) {
        struct shared_entry **pp = &n->sh->buckets[i];

        while (*pp != NULL) {
            struct shared_entry *se = *pp;

            if (se->ds == NULL && now - se->e.last_used > NAMING_IDLE_S) {
                *pp = se->next;
                shared_send(n, se->key, se->key_len, IPC_NAME_UNWATCH);
                shared_entry_free(se);
                n->sh->n--;
                forgot = true;
                continue;
            }
            pp = &se->next;
        }
    }
    return forgot;
}

static void
naming_binder(void *ctx, const char *path, size_t len, struct dtab_bind *ret)
{
    struct naming *n = ctx;
    struct path_seg v[NAMING_MAX_SEGS];
    char *p = xstrndup(path, len); /* the helpers want a NUL-terminated path */
    size_t nseg;

    ret->kind = DTAB_BIND_NEG;
    nseg = split(p, len, v, ARRAY_SIZE(v));
    if (nseg != SIZE_MAX && nseg > 0) {
        if (n->sh != NULL && shared_wants(v, nseg))
            bind_shared(n, p, len, ret);
        else if (span_is(&v[0], "#"))
            bind_configured(n, p, v, nseg, ret);
        else if (span_is(&v[0], "$"))
            bind_global(n, p, v, nseg, ret);
    }
    free(p);
}

/* ---- sharing: what the master answers a worker's shared naming (proxy/namesvc.c) ----- */

/* "%ds/<r>/<k>": the daemonset of transformer <k> of the <r>th router with transformers. */
static struct endpoint_set *
share_ds(struct naming *n, const char *key, size_t len, struct namemsg_state *st)
{
    char buf[64];
    unsigned long r, k;
    const struct k8s_entry *ds;
    int used = 0;

    st->kind = NAMEMSG_FAIL;
    st->reason = "no such transformer";
    if (len >= sizeof(buf))
        return NULL;
    memcpy(buf, key, len);
    buf[len] = '\0';
    if (sscanf(buf, "%%ds/%lu/%lu%n", &r, &k, &used) != 2 || (size_t) used != len ||
        r >= n->n_routers || k >= n->routers[r].n || n->routers[r].v[k].kind != XF_DAEMONSET)
        return NULL;
    ds = n->routers[r].v[k].ds;
    st->reason = "";
    st->kind = ds->state == K8S_BOUND ? NAMEMSG_BOUND
               : ds->state == K8S_NEG ? NAMEMSG_NEG
                                      : NAMEMSG_PENDING;
    if (st->kind != NAMEMSG_BOUND || ds->e.eps == NULL) {
        st->kind = st->kind == NAMEMSG_BOUND ? NAMEMSG_PENDING : st->kind;
        return NULL;
    }
    st->id_len = (uint32_t) len;
    return endpoint_set_ref(ds->e.eps);
}

struct endpoint_set *
naming_share_eval(struct naming *n, const char *key, size_t len, struct namemsg_state *st)
{
    struct endpoint_set *eps = NULL;
    struct dtab_bind b;

    memset(st, 0, sizeof(*st));
    st->key = key;
    st->key_len = len;
    st->residual = "";
    st->reason = "";
    if (len > 0 && key[0] == '%') {
        eps = share_ds(n, key, len, st);
    } else if (!dtab_path_valid(key, len)) {
        st->kind = NAMEMSG_FAIL;
        st->reason = "invalid path";
    } else {
        memset(&b, 0, sizeof(b));
        naming_binder(n, key, len, &b);
        switch (b.kind) {
        case DTAB_BIND_NEG:
            st->kind = NAMEMSG_NEG;
            break;
        case DTAB_BIND_PENDING:
            st->kind = NAMEMSG_PENDING;
            break;
        case DTAB_BIND_FAIL:
            st->kind = NAMEMSG_FAIL;
            st->reason = b.reason != NULL ? b.reason : "failed";
            break;
        case DTAB_BIND_BOUND:
            eps = ((struct entry *) b.handle)->eps;
            if (eps == NULL || strlen(b.id) > len || memcmp(b.id, key, strlen(b.id)) != 0) {
                st->kind = eps == NULL ? NAMEMSG_PENDING : NAMEMSG_FAIL;
                st->reason = eps == NULL ? "" : "bound id is not a prefix of the name";
                eps = NULL;
                break;
            }
            st->kind = NAMEMSG_BOUND;
            st->id_len = (uint32_t) strlen(b.id);
            (void) snprintf(n->shared_residual, sizeof(n->shared_residual), "%s", b.residual);
            st->residual = n->shared_residual;
            eps = endpoint_set_ref(eps);
            break;
        case DTAB_BIND_EMPTY:
        case DTAB_BIND_REWRITE:
            st->kind = NAMEMSG_FAIL;
            st->reason = "not a name the master resolves";
            break;
        }
    }
    st->residual_len = strlen(st->residual);
    st->reason_len = strlen(st->reason);
    if (eps != NULL) {
        st->version = eps->version;
        st->total = (uint32_t) MESH_MIN(eps->n, (size_t) UINT32_MAX);
    }
    return eps;
}

/* ---- evaluation cache -------------------------------------------------------------- */

static uint64_t
cache_hash(uint64_t serial, int router, const char *path, size_t len)
{
    uint64_t h =
        0xcbf29ce484222325ULL ^ (serial * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t) (router + 1) << 56);
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) path[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void
cache_clear(struct naming *n)
{
    size_t i;

    for (i = 0; i < NAMING_CACHE_BUCKETS; i++) {
        while (n->buckets[i] != NULL) {
            struct cache_entry *ce = n->buckets[i];

            n->buckets[i] = ce->next;
            dtab_result_fini(&ce->res);
            free(ce);
        }
    }
    n->n_cached = 0;
}

static void
cache_remove(struct naming *n, struct cache_entry *ce)
{
    struct cache_entry **pp = &n->buckets[ce->hash % NAMING_CACHE_BUCKETS];

    while (*pp != ce)
        pp = &(*pp)->next;
    *pp = ce->next;
    dtab_result_fini(&ce->res);
    free(ce);
    n->n_cached--;
}

/* ---- naming_bind ------------------------------------------------------------------- */

static double
naming_rand01(struct naming *n)
{
    uint64_t x = n->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    n->rng = x;
    return (double) ((x * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53;
}

static void
say(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || whylen == 0)
        return;
    va_start(ap, fmt);
    (void) vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

int
naming_bind(struct naming *n, const struct dtab *dtab, const char *path, size_t len,
            struct name_bound *ret, char *why, size_t whylen)
{
    return naming_bind_router(n, NULL, dtab, path, len, ret, why, whylen);
}

int
naming_bind_router(struct naming *n, const char *router, const struct dtab *dtab, const char *path,
                   size_t len, struct name_bound *ret, char *why, size_t whylen)
{
    int ri = router_find(n, router);
    uint64_t serial = dtab_serial(dtab), hash = cache_hash(serial, ri, path, len), gen;
    struct cache_entry *ce;
    const struct dtab_leaf *leaf;
    struct entry *e;
    ev_tstamp now = ev_now(n->loop);
    size_t i;
    int r;

    for (ce = n->buckets[hash % NAMING_CACHE_BUCKETS]; ce != NULL; ce = ce->next)
        if (ce->hash == hash && ce->serial == serial && ce->router == ri && ce->len == len &&
            memcmp(ce->path, path, len) == 0)
            break;
    if (ce == NULL) {
        if (!dtab_path_valid(path, len)) {
            say(why, whylen, "invalid path %.*s", (int) MESH_MIN(len, (size_t) 120), path);
            return -EINVAL;
        }
        if (n->n_cached >= NAMING_CACHE_MAX)
            cache_clear(n); /* e.g. many request-local dtabs: start over */
        ce = xcalloc(1, sizeof(*ce) + len + 1);
        ce->serial = serial;
        ce->router = ri;
        ce->hash = hash;
        ce->gen = n->gen - 1; /* stale: evaluated below */
        ce->len = len;
        memcpy(ce->path, path, len);
        ce->next = n->buckets[hash % NAMING_CACHE_BUCKETS];
        n->buckets[hash % NAMING_CACHE_BUCKETS] = ce;
        n->n_cached++;
    }
    if (ce->gen != n->gen) {
        dtab_result_fini(&ce->res);
        gen = n->gen;
        r = dtab_eval(dtab, path, len, naming_binder, n, &ce->res);
        if (r < 0) {
            say(why, whylen, "%s", r == -ENOMEM ? "out of memory" : "invalid path");
            cache_remove(n, ce);
            return r;
        }
        if (ri >= 0)
            xf_apply_result(n, &n->routers[ri], &ce->res);
        ce->gen = gen;
    }

    switch (ce->res.kind) {
    case DTAB_RES_NEG:
        say(why, whylen, "%s", ce->res.reason);
        return ce->res.pending ? -EAGAIN : -ENOENT;
    case DTAB_RES_EMPTY:
        say(why, whylen, "%s", ce->res.reason);
        return -ENOENT;
    case DTAB_RES_FAIL:
        say(why, whylen, "%s", ce->res.reason);
        return -EIO;
    case DTAB_RES_LEAF:
    case DTAB_RES_UNION:
        break;
    }
    /* every leaf is in use, picked or not, so none is refreshed less or forgotten; nor
     * are the entries a transformed leaf was made from (valid: the result is current) */
    for (i = 0; i < ce->res.n_leaves; i++)
        if (!ce->res.leaves[i].empty)
            for (e = ce->res.leaves[i].handle; e != NULL; e = e->src)
                e->last_used = now;
    leaf = dtab_result_pick(&ce->res, naming_rand01(n));
    if (leaf == NULL || leaf->empty) {
        say(why, whylen, "%.*s: picked an empty ('$') branch", (int) MESH_MIN(len, (size_t) 120),
            path);
        return -ENOENT;
    }
    e = leaf->handle;
    if (e->eps == NULL) {
        say(why, whylen, "%s: waiting for a namer to answer", leaf->id);
        return -EAGAIN;
    }
    (void) snprintf(ret->id, sizeof(ret->id), "%s", leaf->id);
    (void) snprintf(ret->residual, sizeof(ret->residual), "%s", leaf->residual);
    ret->eps = endpoint_set_ref(e->eps);
    return 0;
}

/* ---- delegation (traced evaluation) ------------------------------------------------- */

struct delegate_ctx {
    struct naming *n;
    const struct router_xf *rx; /* NULL: no transformers */
    naming_trace_fn *fn;
    void *ctx;
};

/* A line about the state of <e> for the delegator: "" unless something is worth saying. */
static void
entry_state(const struct entry *e, char *buf, size_t len)
{
    const struct k8s_entry *ke;
    double stale;
    const char *err;

    buf[0] = '\0';
    if (e->kind != ENTRY_K8S)
        return;
    ke = container_of(e, const struct k8s_entry, e);
    stale = k8s_watch_stale_s(ke->ep);
    err = k8s_watch_error(ke->ep);
    if (stale > 0)
        (void) snprintf(buf, len, "k8s: API away, endpoints last known current %.1f s ago%s%s",
                        stale, err[0] ? ": " : "", err);
    else if (err[0] != '\0')
        (void) snprintf(buf, len, "k8s: %s", err);
}

static void
naming_on_trace(void *ctx, const struct dtab_trace_ev *ev)
{
    struct delegate_ctx *dc = ctx;
    struct naming_leaf_info info;
    char state[256], xstate[NAMING_MAX_XFORMS][256];
    struct entry *cur;
    const char *cur_id;
    size_t k;

    if (ev->kind == DTAB_TRACE_BIND && ev->bind->kind == DTAB_BIND_PENDING &&
        ev->bind->handle != NULL) {
        /* pending with a reason (a k8s API that refuses): shown by the delegator */
        memset(&info, 0, sizeof(info));
        entry_state(ev->bind->handle, state, sizeof(state));
        info.state = state;
        dc->fn(dc->ctx, ev, &info);
        return;
    }
    if (ev->kind != DTAB_TRACE_BIND || ev->bind->kind != DTAB_BIND_BOUND) {
        dc->fn(dc->ctx, ev, NULL);
        return;
    }
    memset(&info, 0, sizeof(info));
    cur = ev->bind->handle;
    cur_id = ev->bind->id;
    entry_state(cur, state, sizeof(state));
    info.eps = cur->eps;
    info.state = state;
    for (k = 0; dc->rx != NULL && k < dc->rx->n; k++) {
        const struct xformer *xf = &dc->rx->v[k];
        const char *why = "";
        struct xform_entry *xe = cur != NULL ? xf_step(dc->n, xf, cur_id, cur, &why) : NULL;

        info.xforms[k].name = xf->name;
        info.xforms[k].state = xstate[k];
        xstate[k][0] = '\0';
        if (xe == NULL) {
            (void) snprintf(xstate[k], sizeof(xstate[k]), "%s", why);
            info.xforms[k].id = xf->id_pfx;
            cur = NULL;
        } else {
            if (xf->kind == XF_DAEMONSET)
                entry_state(&xf->ds->e, xstate[k], sizeof(xstate[k]));
            info.xforms[k].id = xe->id;
            info.xforms[k].eps = xe->e.eps;
            cur = &xe->e;
            cur_id = xe->id;
        }
        info.n_xforms = k + 1;
    }
    dc->fn(dc->ctx, ev, &info);
}

int
naming_delegate(struct naming *n, const char *router, const struct dtab *dtab, const char *path,
                size_t len, naming_trace_fn *fn, void *ctx, struct dtab_result *ret)
{
    int ri = router_find(n, router);
    struct delegate_ctx dc = {.n = n, .rx = ri >= 0 ? &n->routers[ri] : NULL, .fn = fn, .ctx = ctx};
    int r;

    r = dtab_eval_traced(dtab, path, len, naming_binder, n, naming_on_trace, &dc, ret);
    if (r == 0 && dc.rx != NULL)
        xf_apply_result(n, dc.rx, ret);
    return r;
}

void
name_bound_fini(struct name_bound *b)
{
    b->eps = endpoint_set_unref(b->eps);
}

void
naming_close_fds_in_child(struct naming *n)
{
    struct k8s_api_ref *r;

    for (r = n->apis; r != NULL; r = r->next)
        k8s_api_close_fds_in_child(r->api);
    if (n->ifd != -1)
        (void) close(n->ifd);
}

void
naming_set_on_change(struct naming *n, void (*cb)(void *ctx), void *ctx)
{
    n->on_change = cb;
    n->on_change_ctx = ctx;
}

/* ---- lifecycle --------------------------------------------------------------------- */

static int
fs_namer_init(struct naming *n, struct fs_namer *ns, const struct cfg_namer *c, char *err,
              size_t errlen)
{
    const char *pfx = c->prefix != NULL && c->prefix[0] != '\0' ? c->prefix : c->kind;
    struct path_seg v[NAMING_MAX_SEGS];
    char shown[1024], name[NAME_MAX + 1];
    size_t nseg, i;
    struct stat st;

    ns->n = n;
    while (*pfx == '/')
        pfx++;
    (void) snprintf(shown, sizeof(shown), "/%s", pfx);
    nseg = split(shown, strlen(shown), v, ARRAY_SIZE(v));
    if (!dtab_path_valid(shown, strlen(shown)) || nseg == 0 || nseg == SIZE_MAX) {
        say(err, errlen, "namer %s: prefix \"%s\" is not a valid path", c->kind, pfx);
        return -EINVAL;
    }
    ns->pfx = xcalloc(nseg, sizeof(*ns->pfx));
    for (i = 0; i < nseg; i++) {
        if (!seg_decode(&v[i], name, sizeof(name))) {
            say(err, errlen, "namer %s: prefix \"%s\" is not a valid path", c->kind, pfx);
            return -EINVAL;
        }
        ns->pfx[ns->n_pfx++] = xstrdup(name);
    }
    if (c->root_dir == NULL || c->root_dir[0] == '\0') {
        say(err, errlen, "namer %s: rootDir is required", c->kind);
        return -EINVAL;
    }
    ns->root_dir = xstrdup(c->root_dir);
    if (stat(ns->root_dir, &st) == -1) {
        int r = errno;

        say(err, errlen, "namer %s: rootDir %s: %s", c->kind, ns->root_dir, strerror(r));
        return -r;
    }
    if (!S_ISDIR(st.st_mode)) {
        say(err, errlen, "namer %s: rootDir %s: not a directory", c->kind, ns->root_dir);
        return -ENOTDIR;
    }
    if (n->ifd == -1) {
        n->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (n->ifd == -1) {
            int r = errno;

            say(err, errlen, "namer %s: inotify: %s", c->kind, strerror(r));
            return -r;
        }
        ev_io_init(&n->ifd_io, naming_on_inotify, n->ifd, EV_READ);
        ev_io_start(n->loop, &n->ifd_io);
        ev_unref(n->loop);
    }
    ns->root = xcalloc(1, sizeof(*ns->root));
    ns->root->name = xstrdup("");
    ns->root->is_dir = true;
    ns->root->wd = -1;
    fs_dir_scan(ns, ns->root, 0);
    if (ns->root->wd == -1) {
        say(err, errlen, "namer %s: cannot watch rootDir %s", c->kind, ns->root_dir);
        return -EIO;
    }
    return 0;
}

/* Decoded prefix segments of <pfx> ("io.l5d.fs", "/a/b") into *ret_v. */
static int
prefix_init(const char *kind, const char *pfx, char ***ret_v, size_t *ret_n, char *err,
            size_t errlen)
{
    struct path_seg v[NAMING_MAX_SEGS];
    char shown[1024], name[NAME_MAX + 1];
    size_t nseg, i;

    while (*pfx == '/')
        pfx++;
    (void) snprintf(shown, sizeof(shown), "/%s", pfx);
    nseg = split(shown, strlen(shown), v, ARRAY_SIZE(v));
    if (!dtab_path_valid(shown, strlen(shown)) || nseg == 0 || nseg == SIZE_MAX) {
        say(err, errlen, "namer %s: prefix \"%s\" is not a valid path", kind, pfx);
        return -EINVAL;
    }
    *ret_v = xcalloc(nseg, sizeof(**ret_v));
    for (i = 0; i < nseg; i++) {
        if (!seg_decode(&v[i], name, sizeof(name))) {
            say(err, errlen, "namer %s: prefix \"%s\" is not a valid path", kind, pfx);
            return -EINVAL;
        }
        (*ret_v)[(*ret_n)++] = xstrdup(name);
    }
    return 0;
}

static const char *
namer_param(const struct cfg_namer *c, const char *key)
{
    size_t i;

    for (i = 0; i < c->n_params; i++)
        if (strcmp(c->params[i].key, key) == 0)
            return c->params[i].value;
    return NULL;
}

static const char *
namer_param_fn(const void *src, const char *key)
{
    return namer_param(src, key);
}

/* io.l5d.k8s: host (localhost), port (8001), labelSelector (a label key), and the
 * in-cluster keys of api_opts_parse(). */
static int
k8s_namer_init(struct naming *n, struct k8s_namer *kn, const struct cfg_namer *c, char *err,
               size_t errlen)
{
    const char *label = namer_param(c, "labelSelector");
    struct api_opts ao;
    char who[128];

    if (prefix_init(c->kind, c->prefix != NULL && c->prefix[0] != '\0' ? c->prefix : c->kind,
                    &kn->pfx, &kn->n_pfx, err, errlen) < 0)
        return -EINVAL;
    snprintf(who, sizeof(who), "namer %s", c->kind);
    if (api_opts_parse(who, namer_param_fn, c, false, &ao, err, errlen) < 0)
        return -EINVAL;
    kn->api = api_get(n, &ao, err, errlen);
    if (kn->api == NULL)
        return -EINVAL;
    kn->label_key = label != NULL && label[0] != '\0' ? xstrdup(label) : NULL;
    return 0;
}

static struct naming *
naming_alloc(struct ev_loop *loop)
{
    struct naming *n = xcalloc(1, sizeof(*n));

    n->loop = loop;
    n->gen = 1;
    n->ifd = -1;
    n->rng = (clock_mono_us() ^ ((uint64_t) getpid() << 32) ^ (uint64_t) (uintptr_t) n) | 1;
    n->jobs_tail = &n->jobs;
    n->answers_tail = &n->answers;
    n->buckets = xcalloc(NAMING_CACHE_BUCKETS, sizeof(*n->buckets));
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    ev_async_init(&n->wake, naming_on_dns);
    ev_async_start(loop, &n->wake);
    ev_unref(loop);
    ev_timer_init(&n->tick, naming_on_tick, NAMING_DNS_REFRESH_S, NAMING_DNS_REFRESH_S);
    ev_timer_start(loop, &n->tick);
    ev_unref(loop);
    return n;
}

struct naming *
naming_new_shared(struct ev_loop *loop, const struct cfg *cfg, naming_send_fn *send, void *ctx,
                  char *err, size_t errlen)
{
    struct naming *n = naming_alloc(loop);

    n->sh = xcalloc(1, sizeof(*n->sh));
    n->sh->send = send;
    n->sh->ctx = ctx;
    ev_init(&n->sh->retry, naming_on_shared_retry);
    n->sh->retry.data = n;
    if (routers_init(n, cfg, err, errlen) < 0)
        return naming_free(n);
    return n;
}

struct naming *
naming_new(struct ev_loop *loop, const struct cfg *cfg, char *err, size_t errlen)
{
    struct naming *n = naming_alloc(loop);
    size_t i;

    if (cfg != NULL && cfg->n_namers > 0) {
        n->fs = xcalloc(cfg->n_namers, sizeof(*n->fs));
        n->k8s = xcalloc(cfg->n_namers, sizeof(*n->k8s));
        n->order = xcalloc(cfg->n_namers, sizeof(*n->order));
    }
    for (i = 0; cfg != NULL && i < cfg->n_namers; i++) {
        const struct cfg_namer *c = &cfg->namers[i];

        if (c->kind != NULL && strcmp(c->kind, "io.l5d.k8s") == 0) {
            n->order[n->n_order++] = (struct namer_slot){.is_k8s = true, .idx = n->n_k8s};
            n->n_k8s++;
            if (k8s_namer_init(n, &n->k8s[n->n_k8s - 1], c, err, errlen) < 0)
                return naming_free(n);
            continue;
        }
        if (c->kind == NULL || strcmp(c->kind, "io.l5d.fs") != 0) {
            log_notice("naming: namer %s is not implemented; its names are Neg",
                       c->kind ? c->kind : "(none)");
            continue;
        }
        n->order[n->n_order++] = (struct namer_slot){.is_k8s = false, .idx = n->n_fs};
        n->n_fs++;
        if (fs_namer_init(n, &n->fs[n->n_fs - 1], c, err, errlen) < 0)
            return naming_free(n);
    }
    if (routers_init(n, cfg, err, errlen) < 0)
        return naming_free(n);
    return n;
}

struct naming *
naming_free(struct naming *n)
{
    struct dns_job *job;
    struct dns_answer *a;
    size_t i, j;

    if (n == NULL)
        return NULL;
    if (n->thread_started) {
        pthread_mutex_lock(&n->mu);
        n->stopping = true;
        pthread_cond_signal(&n->cv);
        pthread_mutex_unlock(&n->mu);
        (void) pthread_join(n->thread, NULL);
    }
    while ((job = n->jobs) != NULL) {
        n->jobs = job->next;
        free(job);
    }
    while ((a = n->answers) != NULL) {
        n->answers = a->next;
        free(a->addrs);
        free(a);
    }
    ev_ref(n->loop); /* the watchers were unref'd while active */
    ev_async_stop(n->loop, &n->wake);
    ev_ref(n->loop);
    ev_timer_stop(n->loop, &n->tick);
    if (n->ifd != -1) {
        ev_ref(n->loop);
        ev_io_stop(n->loop, &n->ifd_io);
    }

    cache_clear(n);
    free(n->buckets);
    routers_free(n);
    if (n->sh != NULL) {
        if (ev_is_active(&n->sh->retry)) {
            ev_ref(n->loop);
            ev_timer_stop(n->loop, &n->sh->retry);
        }
        for (i = 0; i < NAMING_SHARED_BUCKETS; i++) {
            while (n->sh->buckets[i] != NULL) {
                struct shared_entry *se = n->sh->buckets[i];

                n->sh->buckets[i] = se->next;
                shared_entry_free(se);
            }
        }
        free(n->sh);
    }
    while (n->xforms != NULL) {
        struct xform_entry *xe = n->xforms;

        n->xforms = xe->next;
        xform_free(xe);
    }
    while (n->k8s_entries != NULL) {
        struct k8s_entry *ke = n->k8s_entries;

        n->k8s_entries = ke->next;
        k8s_entry_free(ke);
    }
    for (i = 0; i < n->n_k8s; i++) {
        for (j = 0; j < n->k8s[i].n_pfx; j++)
            free(n->k8s[i].pfx[j]);
        free(n->k8s[i].pfx);
        free(n->k8s[i].label_key);
    }
    free(n->k8s);
    free(n->order);
    while (n->apis != NULL) {
        struct k8s_api_ref *r = n->apis;

        n->apis = r->next;
        k8s_api_free(r->api);
        free(r->key);
        free(r);
    }
    for (i = 0; i < n->n_fs; i++) {
        struct fs_namer *ns = &n->fs[i];

        if (ns->root != NULL)
            fs_node_free(ns, ns->root);
        for (j = 0; j < ns->n_pfx; j++)
            free(ns->pfx[j]);
        free(ns->pfx);
        free(ns->root_dir);
    }
    free(n->fs);
    free(n->watches);
    if (n->ifd != -1)
        (void) close(n->ifd);
    while (n->inets != NULL) {
        struct inet_entry *ie = n->inets;

        n->inets = ie->next;
        inet_free(n, ie);
    }
    MESH_BUG_ON(n->hosts != NULL); /* every user dropped its reference */
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
    return NULL;
}

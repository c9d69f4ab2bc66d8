/* proxy/k8s.c - Kubernetes API watches for the io.l5d.k8s namer and the k8s transformers.
 *
 * Called by naming.c only, on its loop's thread. A watch owns at most one HTTP/1.1
 * connection at a time (Connection: close, so one request each) and one timer, whose
 * meaning depends on the phase:
 *
 *   phase    timer                         next on success          on failure
 *   WAIT     back-off (or none: no address) LIST or STREAM           -
 *   LIST     request deadline (10 s)       STREAM (object replaced) WAIT, then LIST
 *   STREAM   inactivity (timeoutSeconds+30) events until EOF         WAIT, then STREAM
 *                                                                    (LIST after a 410)
 *
 * The response head is parsed by proto/http1; the body is de-chunked here and, for a
 * stream, cut into lines, each a JSON watch event. Back-off: 10 ms doubling to 10 s,
 * jittered to 50..100%; it starts over after a successful list or a received event.
 *
 * The object a watch reports changes only on a successful list, ADDED, MODIFIED or
 * DELETED; failures keep it (Linkerd serves the last known endpoints while the API is
 * away) and record when the state stopped being current (<stale_since>). */
#include "proxy/k8s.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "proto/http1.h"

#define K8S_BACKOFF_MIN_S   0.010
#define K8S_BACKOFF_MAX_S   10.0
#define K8S_LIST_TIMEOUT_S  10.0
#define K8S_WATCH_TIMEOUT_S 300 /* timeoutSeconds asked of the API, jittered by +-10% */
#define K8S_IDLE_SLACK_S    30.0
#define K8S_MAX_BODY        (16u * 1024 * 1024) /* a list body or one event line */
#define K8S_MAX_HEAD        65536
#define K8S_READ_CHUNK      65536
#define K8S_RESOLVE_RETRY_S 5.0
#define K8S_MAX_TOKEN       16384 /* a service-account token file */

/* ---- JSON shapes ---------------------------------------------------------------------- */

static struct json_object *
jget(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    if (o == NULL || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

static const char *
jstr(struct json_object *o, const char *key)
{
    struct json_object *v = jget(o, key);

    return v != NULL && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool
jint(struct json_object *o, const char *key, int64_t *ret)
{
    struct json_object *v = jget(o, key);

    if (v == NULL || !json_object_is_type(v, json_type_int))
        return false;
    *ret = json_object_get_int64(v);
    return true;
}

static size_t
jlen(struct json_object *arr)
{
    return arr != NULL && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr)
                                                                    : 0;
}

static bool
all_digits(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Parses exactly <len> bytes as one JSON value (whitespace around it allowed). */
static struct json_object *
parse_json(const char *s, size_t len)
{
    struct json_tokener *tok;
    struct json_object *o;
    size_t end;

    if (len > K8S_MAX_BODY)
        return NULL;
    tok = json_tokener_new();
    if (tok == NULL)
        return NULL;
    o = json_tokener_parse_ex(tok, s, (int) len);
    if (o == NULL || json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        json_tokener_free(tok);
        return NULL;
    }
    end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    for (; end < len; end++) {
        if (!isspace((unsigned char) s[end])) {
            json_object_put(o);
            return NULL;
        }
    }
    return o;
}

static bool
port_is_tcp(struct json_object *p)
{
    const char *proto = jstr(p, "protocol");

    return proto == NULL || strcmp(proto, "TCP") == 0;
}

int
k8s_endpoints_resolve(struct json_object *ep, struct json_object *svc, const char *port,
                      struct k8s_addr **ret_addrs)
{
    struct json_object *subsets = jget(ep, "subsets");
    const char *target_name = NULL;
    int64_t target_num = 0;
    struct k8s_addr *v = NULL;
    size_t n = 0, cap = 0, i, j, k;
    bool found = false;

    *ret_addrs = NULL;
    if (all_digits(port)) {
        struct json_object *ports = jget(jget(svc, "spec"), "ports");

        target_num = strtoll(port, NULL, 10);
        for (i = 0; i < jlen(ports); i++) {
            struct json_object *sp = json_object_array_get_idx(ports, i), *tp;
            int64_t num;

            if (!jint(sp, "port", &num) || num != target_num || !port_is_tcp(sp))
                continue;
            tp = jget(sp, "targetPort");
            if (tp != NULL && json_object_is_type(tp, json_type_int))
                target_num = json_object_get_int64(tp);
            else if (tp != NULL && json_object_is_type(tp, json_type_string))
                target_name = json_object_get_string(tp); /* a named container port */
            break;                                        /* no targetPort: the same number */
        }
    } else {
        target_name = port;
    }
    if (jlen(subsets) == 0)
        return 0;

    for (i = 0; i < jlen(subsets); i++) {
        struct json_object *ss = json_object_array_get_idx(subsets, i);
        struct json_object *ports = jget(ss, "ports"), *addrs = jget(ss, "addresses");
        int64_t pnum = -1;

        for (j = 0; j < jlen(ports); j++) {
            struct json_object *p = json_object_array_get_idx(ports, j);
            const char *name = jstr(p, "name");
            int64_t num;

            if (!jint(p, "port", &num) || num < 1 || num > 65535 || !port_is_tcp(p))
                continue;
            if (target_name != NULL ? name != NULL && strcmp(name, target_name) == 0
                                    : num == target_num) {
                pnum = num;
                break;
            }
        }
        if (pnum < 0)
            continue;
        found = true;
        for (k = 0; k < jlen(addrs); k++) {
            struct json_object *a = json_object_array_get_idx(addrs, k);
            const char *ip = jstr(a, "ip"), *node = jstr(a, "nodeName");
            struct k8s_addr *d;

            if (ip == NULL || strlen(ip) >= sizeof(v->ip))
                continue;
            if (n == cap) {
                struct k8s_addr *nv;

                cap = cap ? cap * 2 : 8;
                nv = realloc(v, cap * sizeof(*v));
                if (nv == NULL) {
                    free(v);
                    return -ENOMEM;
                }
                v = nv;
            }
            d = &v[n++];
            memset(d, 0, sizeof(*d));
            memcpy(d->ip, ip, strlen(ip) + 1);
            d->port = (uint16_t) pnum;
            if (node != NULL)
                (void) snprintf(d->node, sizeof(d->node), "%s", node);
        }
    }
    if (!found) {
        free(v);
        return -ENOENT;
    }
    if (n == 0) {
        free(v);
        v = NULL;
    }
    *ret_addrs = v;
    return (int) n;
}

static void
copy_rv(struct json_object *obj, char *rv, size_t rvlen)
{
    const char *s = jstr(jget(obj, "metadata"), "resourceVersion");

    (void) snprintf(rv, rvlen, "%s", s != NULL ? s : "");
}

int
k8s_event_parse(const char *line, size_t len, struct k8s_event *ret)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    struct json_object *o = parse_json(line, len), *obj;
    const char *type = jstr(o, "type");
    size_t i;

    obj = jget(o, "object");
    if (type == NULL || obj == NULL || !json_object_is_type(obj, json_type_object)) {
        json_object_put(o);
        return -EBADMSG;
    }
    for (i = 0; i < ARRAY_SIZE(names); i++)
        if (strcmp(type, names[i]) == 0)
            break;
    if (i == ARRAY_SIZE(names)) {
        json_object_put(o);
        return -EBADMSG;
    }
    memset(ret, 0, sizeof(*ret));
    ret->type = (enum k8s_event_type) i;
    ret->object = json_object_get(obj);
    copy_rv(obj, ret->rv, sizeof(ret->rv));
    if (ret->type == K8S_EV_ERROR) {
        int64_t code = 0;
        const char *msg = jstr(obj, "message");

        if (jint(obj, "code", &code) && code > 0 && code < 1000)
            ret->code = (int) code;
        (void) snprintf(ret->message, sizeof(ret->message), "%s", msg ? msg : "");
    }
    json_object_put(o);
    return 0;
}

void
k8s_event_fini(struct k8s_event *ev)
{
    json_object_put(ev->object);
    ev->object = NULL;
}

int
k8s_list_parse(const char *body, size_t len, struct json_object **ret_obj, char *rv, size_t rvlen)
{
    struct json_object *o = parse_json(body, len), *items;

    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return -EBADMSG;
    }
    items = jget(o, "items");
    if (items != NULL) {
        if (!json_object_is_type(items, json_type_array) &&
            !json_object_is_type(items, json_type_null)) {
            json_object_put(o);
            return -EBADMSG;
        }
        copy_rv(o, rv, rvlen);
        *ret_obj = jlen(items) > 0 ? json_object_get(json_object_array_get_idx(items, 0)) : NULL;
    } else if (jget(o, "metadata") != NULL) {
        copy_rv(o, rv, rvlen);
        *ret_obj = json_object_get(o);
    } else {
        json_object_put(o);
        return -EBADMSG;
    }
    json_object_put(o);
    return 0;
}

/* ---- watches: types ------------------------------------------------------------------- */

enum watch_phase {
    PHASE_WAIT = 0, /* no connection; <timer> (if armed) starts the next request */
    PHASE_LIST,
    PHASE_STREAM,
};

enum body_state {
    BODY_NONE = 0, /* reading the head */
    BODY_LENGTH,
    BODY_CLOSE,
    CH_SIZE, /* chunked: size line */
    CH_EXT,  /* chunked: rest of the size line */
    CH_DATA,
    CH_DATA_END, /* CRLF after data */
    CH_TRAILER,  /* trailer lines until an empty one */
    BODY_DONE,
};

struct k8s_watch {
    struct k8s_api *api;
    struct k8s_watch *next;
    unsigned refs;
    char *resource, *ns, *name, *label_selector;

    enum watch_phase phase;
    bool need_list;          /* the next request is a list (first one, or after a 410) */
    bool synced;             /* a first list answered */
    bool streaming;          /* a watch stream answered 200 and is open */
    bool got_event;          /* this stream delivered an event */
    struct json_object *obj; /* current object, NULL when absent */
    char rv[64];
    ev_tstamp stale_since; /* when the object stopped being known current; 0 = current */
    ev_tstamp opened_at;   /* when the current request was sent */
    double backoff_s;      /* next delay */
    unsigned failures;     /* consecutive, for logging once per outage */
    char err[200];

    int fd;
    SSL *ssl;       /* HTTPS: the TLS session on <fd>, NULL for plain HTTP */
    bool handshake; /* HTTPS: SSL_connect has not finished */
    ev_io io;
    ev_timer timer;
    struct strbuf out; /* the request, <out_off> bytes of it sent */
    size_t out_off;
    char *in; /* raw bytes read and not consumed */
    size_t in_len, in_cap;
    int status;
    enum body_state bs;
    uint64_t remaining;  /* BODY_LENGTH, CH_DATA */
    uint64_t chunk_size; /* CH_SIZE accumulator */
    bool size_digits;    /* CH_SIZE saw a hex digit */
    struct strbuf body;  /* LIST: whole body; STREAM: the current partial line */
    bool changed;        /* the object or <synced> changed during this callback */
};

struct k8s_api {
    struct ev_loop *loop;
    char *host;
    uint16_t port;
    struct sockaddr_storage addr;
    socklen_t addr_len; /* 0 until the host is resolved */
    struct k8s_watch *watches;
    SSL_CTX *tls;     /* HTTPS (in-cluster): verifies the API server; NULL: plain HTTP */
    char *token_path; /* HTTPS: the bearer token file, read for every request */
    void (*on_change)(void *ctx);
    void *on_change_ctx;
    uint64_t rng;

    /* resolution of a host name: one thread at a time */
    pthread_t thread;
    bool thread_running;
    ev_async resolved; /* the thread finished: join it, read <res_*> */
    ev_timer resolve_retry;
    struct sockaddr_storage res_addr; /* written by the thread before it signals */
    socklen_t res_len;
    int res_err;
};

static void watch_on_io(struct ev_loop *loop, ev_io *io, int revents);
static void watch_on_timer(struct ev_loop *loop, ev_timer *t, int revents);
static void watch_next(struct k8s_watch *w);

/* ---- helpers -------------------------------------------------------------------------- */

static double
api_rand01(struct k8s_api *a)
{
    uint64_t x = a->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    a->rng = x;
    return (double) ((x * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53;
}

static void
urlenc(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char) *s;

        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            strbuf_addc(sb, (char) c);
        } else {
            strbuf_addc(sb, '%');
            strbuf_addc(sb, hex[c >> 4]);
            strbuf_addc(sb, hex[c & 15]);
        }
    }
}

static void
notify_change(struct k8s_watch *w)
{
    struct k8s_api *a = w->api;

    if (!w->changed)
        return;
    w->changed = false;
    if (a->on_change != NULL)
        a->on_change(a->on_change_ctx);
}

static void
set_object(struct k8s_watch *w, struct json_object *obj)
{
    json_object_put(w->obj);
    w->obj = obj;
    w->changed = true;
}

/* Closes the connection (if any); the watch keeps its object. */
static void
conn_close(struct k8s_watch *w)
{
    struct ev_loop *loop = w->api->loop;

    if (w->ssl != NULL) {
        SSL_free(w->ssl); /* no close_notify: Connection: close ends every exchange */
        w->ssl = NULL;
    }
    if (w->fd != -1) {
        ev_io_stop(loop, &w->io);
        (void) close(w->fd);
        w->fd = -1;
    }
    ev_timer_stop(loop, &w->timer);
    strbuf_reset(&w->out);
    strbuf_reset(&w->body);
    w->out_off = 0;
    w->in_len = 0;
    w->status = 0;
    w->bs = BODY_NONE;
    if (w->streaming) {
        w->streaming = false;
        w->stale_since = ev_now(loop);
    }
}

/* <repeat_s> > 0 makes it an inactivity timer that ev_timer_again() pushes back. */
static void
arm_timer(struct k8s_watch *w, double after_s, double repeat_s)
{
    ev_timer_stop(w->api->loop, &w->timer);
    ev_timer_set(&w->timer, after_s, repeat_s);
    ev_timer_start(w->api->loop, &w->timer);
}

/* The request failed: keep the object, wait, try again (a list when <relist>). */
static void __attribute__((format(printf, 3, 4)))
watch_fail(struct k8s_watch *w, bool relist, const char *fmt, ...)
{
    double delay;
    va_list ap;

    va_start(ap, fmt);
    (void) vsnprintf(w->err, sizeof(w->err), fmt, ap);
    va_end(ap);
    conn_close(w);
    w->phase = PHASE_WAIT;
    w->need_list |= relist;
    if (w->failures++ == 0)
        log_warn("naming: k8s %s %s/%s: %s; %s", w->resource, w->ns, w->name, w->err,
                 w->synced ? "serving the last known state, retrying" : "retrying");
    delay = w->backoff_s * (0.5 + 0.5 * api_rand01(w->api));
    w->backoff_s = MESH_MIN(w->backoff_s * 2, K8S_BACKOFF_MAX_S);
    arm_timer(w, delay, 0.);
}

static void
watch_ok(struct k8s_watch *w)
{
    if (w->failures > 0 && w->synced)
        log_notice("naming: k8s %s %s/%s: API answering again", w->resource, w->ns, w->name);
    w->failures = 0;
    w->err[0] = '\0';
    w->backoff_s = K8S_BACKOFF_MIN_S;
}

/* ---- requests ------------------------------------------------------------------------- */

static void
build_request(struct k8s_watch *w, bool stream)
{
    struct k8s_api *a = w->api;
    struct strbuf *sb = &w->out;

    strbuf_reset(sb);
    strbuf_adds(sb, "GET /api/v1/namespaces/");
    urlenc(sb, w->ns);
    strbuf_addc(sb, '/');
    urlenc(sb, w->resource);
    strbuf_adds(sb, "?fieldSelector=");
    {
        struct strbuf sel = STRBUF_INIT;

        strbuf_addf(&sel, "metadata.name=%s", w->name);
        urlenc(sb, strbuf_str(&sel));
        strbuf_fini(&sel);
    }
    if (w->label_selector != NULL) {
        strbuf_adds(sb, "&labelSelector=");
        urlenc(sb, w->label_selector);
    }
    if (stream) {
        int timeout = (int) (K8S_WATCH_TIMEOUT_S * (0.9 + 0.2 * api_rand01(a)));

        strbuf_addf(sb, "&watch=true&timeoutSeconds=%d", timeout);
        if (w->rv[0] != '\0') {
            strbuf_adds(sb, "&resourceVersion=");
            urlenc(sb, w->rv);
        }
    }
    strbuf_adds(sb, " HTTP/1.1\r\nHost: ");
    if (strchr(a->host, ':') != NULL)
        strbuf_addf(sb, "[%s]:%u", a->host, a->port);
    else
        strbuf_addf(sb, "%s:%u", a->host, a->port);
    strbuf_adds(sb, "\r\nAccept: application/json\r\nUser-Agent: meshd\r\n"
                    "Connection: close\r\n");
}

/* The service-account token, read again for every request: the kubelet rotates it. */
static int
read_token(const char *path, struct strbuf *out, char *why, size_t whylen)
{
    char buf[K8S_MAX_TOKEN + 1];
    FILE *f = fopen(path, "re");
    size_t n;

    if (f == NULL) {
        (void) snprintf(why, whylen, "token %s: %s", path, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof(buf), f);
    (void) fclose(f);
    if (n > K8S_MAX_TOKEN) {
        (void) snprintf(why, whylen, "token %s: over %d bytes", path, K8S_MAX_TOKEN);
        return -1;
    }
    while (n > 0 && isspace((unsigned char) buf[n - 1]))
        n--;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char) buf[i])) {
            (void) snprintf(why, whylen, "token %s: not a bearer token", path);
            return -1;
        }
    if (n == 0) {
        (void) snprintf(why, whylen, "token %s: empty", path);
        return -1;
    }
    strbuf_adds(out, "Authorization: Bearer ");
    strbuf_add(out, buf, n);
    strbuf_adds(out, "\r\n");
    return 0;
}

/* ---- TLS ------------------------------------------------------------------------------ */

/* The first queued OpenSSL error, or <fallback>. */
static const char *
tls_error(char *buf, size_t len, const char *fallback)
{
    unsigned long e = ERR_get_error();

    if (e == 0)
        return fallback;
    ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

/* A TLS session on the watch's (connecting) socket, checking the API server's name: its
 * IP address when the host is one (in-cluster: KUBERNETES_SERVICE_HOST), else its DNS
 * name (also sent as SNI). Returns 0, or -1 with the watch failed. */
static int
tls_start(struct k8s_watch *w)
{
    struct k8s_api *a = w->api;
    X509_VERIFY_PARAM *vp;
    unsigned char ipbuf[16];
    bool is_ip =
        inet_pton(AF_INET, a->host, ipbuf) == 1 || inet_pton(AF_INET6, a->host, ipbuf) == 1;
    char ebuf[256];

    w->ssl = SSL_new(a->tls);
    if (w->ssl == NULL || SSL_set_fd(w->ssl, w->fd) != 1) {
        watch_fail(w, w->phase == PHASE_LIST, "TLS: %s",
                   tls_error(ebuf, sizeof(ebuf), "no session"));
        return -1;
    }
    vp = SSL_get0_param(w->ssl);
    if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, a->host) != 1
              : (X509_VERIFY_PARAM_set1_host(vp, a->host, 0) != 1 ||
                 SSL_set_tlsext_host_name(w->ssl, a->host) != 1)) {
        watch_fail(w, w->phase == PHASE_LIST, "TLS: cannot check the name %s", a->host);
        return -1;
    }
    SSL_set_connect_state(w->ssl);
    w->handshake = true;
    return 0;
}

/* Drives SSL_connect. Returns 1 when done, 0 to wait for <fd> (events set), -1 failed. */
static int
tls_handshake(struct k8s_watch *w)
{
    struct k8s_api *a = w->api;
    int r = SSL_do_handshake(w->ssl), e;
    char ebuf[256];

    if (r == 1) {
        w->handshake = false;
        return 1;
    }
    e = SSL_get_error(w->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ev_io_stop(a->loop, &w->io);
        ev_io_set(&w->io, w->fd, e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE);
        ev_io_start(a->loop, &w->io);
        return 0;
    }
    if (e == SSL_ERROR_SYSCALL) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr != 0) {
            ERR_clear_error();
            watch_fail(w, w->phase == PHASE_LIST, "connect to %s:%u: %s", a->host, a->port,
                       strerror(soerr));
            return -1;
        }
    }
    if (SSL_get_verify_result(w->ssl) != X509_V_OK)
        watch_fail(w, w->phase == PHASE_LIST, "TLS to %s:%u: the server's certificate: %s", a->host,
                   a->port, X509_verify_cert_error_string(SSL_get_verify_result(w->ssl)));
    else
        watch_fail(w, w->phase == PHASE_LIST, "TLS to %s:%u: %s", a->host, a->port,
                   tls_error(ebuf, sizeof(ebuf),
                             e == SSL_ERROR_SYSCALL ? "connection lost" : "handshake failed"));
    return -1;
}

/* read(2) or SSL_read: bytes, 0 at the end, -1 with errno (EAGAIN: wait). */
static ssize_t
conn_read(struct k8s_watch *w, void *buf, size_t len)
{
    int r, e;

    if (w->ssl == NULL)
        return read(w->fd, buf, len);
    r = SSL_read(w->ssl, buf, (int) MESH_MIN(len, (size_t) INT32_MAX));
    if (r > 0)
        return r;
    e = SSL_get_error(w->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_SYSCALL && r == 0 && ERR_peek_error() == 0)
        return 0; /* the server closed without close_notify: an end, as with plain HTTP */
    ERR_clear_error();
    errno = e == SSL_ERROR_SYSCALL && errno != 0 ? errno : EPROTO;
    return -1;
}

/* send(2) or SSL_write: bytes, -1 with errno (EAGAIN: wait). */
static ssize_t
conn_write(struct k8s_watch *w, const void *buf, size_t len)
{
    int r, e;

    if (w->ssl == NULL)
        return send(w->fd, buf, len, MSG_NOSIGNAL);
    r = SSL_write(w->ssl, buf, (int) MESH_MIN(len, (size_t) INT32_MAX));
    if (r > 0)
        return r;
    e = SSL_get_error(w->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    ERR_clear_error();
    errno = e == SSL_ERROR_SYSCALL && errno != 0 ? errno : EPROTO;
    return -1;
}

static void
watch_send(struct k8s_watch *w, bool stream)
{
    struct k8s_api *a = w->api;
    int fd;

    fd = socket(a->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        watch_fail(w, false, "socket: %s", strerror(errno));
        return;
    }
    if (connect(fd, (const struct sockaddr *) &a->addr, a->addr_len) == -1 &&
        errno != EINPROGRESS) {
        int e = errno;

        (void) close(fd);
        watch_fail(w, !stream, "connect to %s:%u: %s", a->host, a->port, strerror(e));
        return;
    }
    w->fd = fd;
    w->phase = stream ? PHASE_STREAM : PHASE_LIST;
    w->opened_at = ev_now(a->loop);
    w->got_event = false;
    build_request(w, stream);
    if (a->token_path != NULL) {
        char why[300];

        if (read_token(a->token_path, &w->out, why, sizeof(why)) != 0) {
            watch_fail(w, !stream, "%s", why);
            return;
        }
    }
    strbuf_adds(&w->out, "\r\n");
    if (a->tls != NULL && tls_start(w) != 0)
        return;
    ev_io_init(&w->io, watch_on_io, fd, EV_WRITE);
    ev_io_start(a->loop, &w->io);
    if (stream)
        arm_timer(w, K8S_WATCH_TIMEOUT_S * 1.1 + K8S_IDLE_SLACK_S,
                  K8S_WATCH_TIMEOUT_S * 1.1 + K8S_IDLE_SLACK_S);
    else
        arm_timer(w, K8S_LIST_TIMEOUT_S, 0.);
}

/* Starts the next request, or waits for the API's address. */
static void
watch_next(struct k8s_watch *w)
{
    if (w->api->addr_len == 0) {
        w->phase = PHASE_WAIT; /* k8s_api kicks it once resolved */
        return;
    }
    watch_send(w, !w->need_list);
}

/* ---- responses ------------------------------------------------------------------------ */

static void
list_done(struct k8s_watch *w)
{
    struct json_object *obj = NULL;
    char rv[sizeof(w->rv)];

    if (w->status == 404) {
        /* the namespace or resource type is unknown to this API: treat the object as
         * absent (Linkerd warns and serves no endpoints), and watch it anyway */
        rv[0] = '\0';
    } else if (w->status != 200) {
        watch_fail(w, true, "list: HTTP %d", w->status);
        return;
    } else if (k8s_list_parse(w->body.s ? w->body.s : "", w->body.len, &obj, rv, sizeof(rv)) < 0) {
        watch_fail(w, true, "list: malformed JSON answer");
        return;
    }
    conn_close(w);
    set_object(w, obj);
    memcpy(w->rv, rv, sizeof(rv));
    w->synced = true;
    w->need_list = false;
    watch_ok(w);
    notify_change(w);
    watch_next(w);
}

/* One line of a watch stream. Returns false when the stream must end (the watch has
 * been sent to WAIT). */
static bool
stream_line(struct k8s_watch *w, const char *line, size_t len)
{
    struct k8s_event ev;

    while (len > 0 && isspace((unsigned char) line[len - 1]))
        len--;
    if (len == 0)
        return true;
    if (k8s_event_parse(line, len, &ev) < 0) {
        watch_fail(w, false, "watch: malformed event");
        return false;
    }
    switch (ev.type) {
    case K8S_EV_ADDED:
    case K8S_EV_MODIFIED:
        set_object(w, json_object_get(ev.object));
        break;
    case K8S_EV_DELETED:
        set_object(w, NULL);
        break;
    case K8S_EV_BOOKMARK:
        break;
    case K8S_EV_ERROR:
        k8s_event_fini(&ev);
        if (ev.code == 410) {
            watch_ok(w); /* the API is fine: only our version is too old */
            watch_fail(w, true, "watch: resourceVersion %s expired (410), listing again", w->rv);
            w->failures = 0; /* a routine re-list, not an outage */
            return false;
        }
        watch_fail(w, false, "watch: ERROR event %d %s", ev.code, ev.message);
        return false;
    }
    if (ev.rv[0] != '\0')
        memcpy(w->rv, ev.rv, sizeof(w->rv));
    k8s_event_fini(&ev);
    w->got_event = true;
    watch_ok(w);
    return true;
}

/* Decoded body bytes. Returns false when the watch left the connection. */
static bool
body_data(struct k8s_watch *w, const char *p, size_t len)
{
    if (w->phase == PHASE_LIST) {
        if (w->body.len + len > K8S_MAX_BODY) {
            watch_fail(w, true, "list: answer over %u bytes", K8S_MAX_BODY);
            return false;
        }
        strbuf_add(&w->body, p, len);
        return true;
    }
    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t take = nl != NULL ? (size_t) (nl - p) : len;

        if (w->body.len + take > K8S_MAX_BODY) {
            watch_fail(w, false, "watch: event over %u bytes", K8S_MAX_BODY);
            return false;
        }
        if (nl == NULL) {
            strbuf_add(&w->body, p, len);
            return true;
        }
        if (w->body.len > 0) {
            bool ok;

            strbuf_add(&w->body, p, take);
            ok = stream_line(w, w->body.s, w->body.len);
            if (!ok)
                return false;
            strbuf_reset(&w->body);
        } else if (!stream_line(w, p, take)) {
            return false;
        }
        p += take + 1;
        len -= take + 1;
    }
    return true;
}

static int
hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Consumes body bytes from w->in per the framing. Returns false when the watch left the
 * connection (failure or a finished list). */
static bool
body_feed(struct k8s_watch *w)
{
    size_t i = 0;

    while (i < w->in_len && w->bs != BODY_DONE) {
        const char *p = w->in + i;
        size_t avail = w->in_len - i, take;
        int d;

        switch (w->bs) {
        case BODY_LENGTH:
        case CH_DATA:
            take = (size_t) MESH_MIN((uint64_t) avail, w->remaining);
            if (!body_data(w, p, take))
                return false;
            i += take;
            w->remaining -= take;
            if (w->remaining == 0)
                w->bs = w->bs == BODY_LENGTH ? BODY_DONE : CH_DATA_END;
            break;
        case BODY_CLOSE:
            if (!body_data(w, p, avail))
                return false;
            i += avail;
            break;
        case CH_SIZE:
            d = hexdigit(*p);
            if (d >= 0) {
                if (w->chunk_size > (UINT64_MAX >> 4))
                    goto bad;
                w->chunk_size = w->chunk_size * 16 + (uint64_t) d;
                w->size_digits = true;
                i++;
                break;
            }
            if (!w->size_digits)
                goto bad;
            w->bs = CH_EXT;
            break;
        case CH_EXT:
            i++;
            if (*p != '\n')
                break;
            w->remaining = w->chunk_size;
            w->bs = w->chunk_size == 0 ? CH_TRAILER : CH_DATA;
            w->chunk_size = 0;
            w->size_digits = false;
            break;
        case CH_DATA_END:
            i++;
            if (*p == '\r')
                break;
            if (*p != '\n')
                goto bad;
            w->bs = CH_SIZE;
            break;
        case CH_TRAILER:
            /* trailer lines end with an empty one; <remaining> counts the line's bytes */
            i++;
            if (*p == '\r')
                break;
            if (*p == '\n') {
                if (w->remaining == 0)
                    w->bs = BODY_DONE;
                w->remaining = 0;
            } else {
                w->remaining++;
            }
            break;
        case BODY_NONE:
        case BODY_DONE:
            break;
        }
    }
    w->in_len = 0;
    return true;

bad:
    watch_fail(w, w->phase == PHASE_LIST, "bad chunked framing from the API");
    return false;
}

/* Parses the head once complete. Returns false when the watch left the connection. */
static bool
head_feed(struct k8s_watch *w)
{
    static const struct http1_limits lim = {
        .max_request_line = 8192, .max_head = K8S_MAX_HEAD, .max_headers = 100};
    struct http1_header hdrs[100];
    struct http1_response rsp;
    struct http1_error err;
    int r;

    r = http1_parse_response(w->in, w->in_len, &lim, false, hdrs, ARRAY_SIZE(hdrs), &rsp, &err);
    if (r == -EAGAIN)
        return true;
    if (r < 0) {
        watch_fail(w, w->phase == PHASE_LIST, "bad HTTP answer from the API: %s", err.reason);
        return false;
    }
    w->status = rsp.status;
    memmove(w->in, w->in + r, w->in_len - (size_t) r);
    w->in_len -= (size_t) r;
    switch (rsp.body) {
    case HTTP1_BODY_NONE:
        w->bs = BODY_DONE;
        break;
    case HTTP1_BODY_LENGTH:
        w->bs = rsp.content_length > 0 ? BODY_LENGTH : BODY_DONE;
        w->remaining = rsp.content_length;
        break;
    case HTTP1_BODY_CHUNKED:
        w->bs = CH_SIZE;
        w->chunk_size = 0;
        w->size_digits = false;
        break;
    case HTTP1_BODY_UNTIL_CLOSE:
        w->bs = BODY_CLOSE;
        break;
    }
    if (w->phase == PHASE_STREAM) {
        if (w->status == 410) {
            watch_fail(w, true, "watch: resourceVersion %s expired (410), listing again", w->rv);
            w->failures = 0;
            return false;
        }
        if (w->status != 200) {
            watch_fail(w, false, "watch: HTTP %d", w->status);
            return false;
        }
        w->streaming = true;
        w->stale_since = 0;
        watch_ok(w);
    }
    return true;
}

/* Handles EOF or a finished body. */
static void
watch_end(struct k8s_watch *w, bool eof)
{
    if (w->phase == PHASE_LIST) {
        if (w->bs == BODY_DONE || (eof && w->bs == BODY_CLOSE))
            list_done(w);
        else
            watch_fail(w, true, "list: connection closed before the answer ended");
        return;
    }
    /* a stream ends when the API's timeoutSeconds elapse, when it restarts, or when a
     * proxy in between drops it: open the next one from the version we have */
    if (w->got_event || ev_now(w->api->loop) - w->opened_at > 1.0) {
        conn_close(w);
        w->phase = PHASE_WAIT;
        w->backoff_s = K8S_BACKOFF_MIN_S;
        arm_timer(w, K8S_BACKOFF_MIN_S * (0.5 + 0.5 * api_rand01(w->api)), 0.);
        return;
    }
    watch_fail(w, false, "watch: stream closed at once");
}

static void
watch_on_readable(struct k8s_watch *w)
{
    for (;;) {
        ssize_t n;

        if (w->in_cap - w->in_len < K8S_READ_CHUNK) {
            w->in_cap = w->in_len + K8S_READ_CHUNK;
            w->in = xrealloc(w->in, w->in_cap);
        }
        n = conn_read(w, w->in + w->in_len, w->in_cap - w->in_len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n == -1) {
            watch_fail(w, w->phase == PHASE_LIST, "read: %s", strerror(errno));
            return;
        }
        if (n == 0) {
            if (w->bs == BODY_NONE)
                watch_fail(w, w->phase == PHASE_LIST, "the API closed the connection");
            else
                watch_end(w, true);
            return;
        }
        w->in_len += (size_t) n;
        if (w->phase == PHASE_STREAM)
            ev_timer_again(w->api->loop, &w->timer);
        if (w->bs == BODY_NONE) {
            if (!head_feed(w))
                return;
            if (w->bs == BODY_NONE) {
                if (w->in_len > K8S_MAX_HEAD) {
                    watch_fail(w, w->phase == PHASE_LIST, "answer head too large");
                    return;
                }
                continue;
            }
        }
        if (!body_feed(w))
            return;
        if (w->bs == BODY_DONE) {
            watch_end(w, false);
            return;
        }
    }
}

static void
watch_on_writable(struct k8s_watch *w)
{
    while (w->out_off < w->out.len) {
        ssize_t n = conn_write(w, w->out.s + w->out_off, w->out.len - w->out_off);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n == -1) {
            struct k8s_api *a = w->api;

            watch_fail(w, w->phase == PHASE_LIST, "connect to %s:%u: %s", a->host, a->port,
                       strerror(errno));
            return;
        }
        w->out_off += (size_t) n;
    }
    ev_io_stop(w->api->loop, &w->io);
    ev_io_set(&w->io, w->fd, EV_READ);
    ev_io_start(w->api->loop, &w->io);
}

static void
watch_on_io(struct ev_loop *loop, ev_io *io, int revents)
{
    struct k8s_watch *w = container_of(io, struct k8s_watch, io);

    (void) loop;
    if (w->handshake) {
        int r = tls_handshake(w);

        if (r == 1) { /* now send the request */
            ev_io_stop(w->api->loop, &w->io);
            ev_io_set(&w->io, w->fd, EV_WRITE);
            ev_io_start(w->api->loop, &w->io);
        }
        notify_change(w);
        return;
    }
    if (revents & EV_WRITE)
        watch_on_writable(w);
    else if (revents & EV_READ)
        watch_on_readable(w);
    notify_change(w);
}

static void
watch_on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct k8s_watch *w = container_of(t, struct k8s_watch, timer);

    (void) loop;
    (void) revents;
    switch (w->phase) {
    case PHASE_WAIT:
        watch_next(w);
        break;
    case PHASE_LIST:
        watch_fail(w, true, "list: no answer within %.0f s", K8S_LIST_TIMEOUT_S);
        break;
    case PHASE_STREAM:
        watch_fail(w, false, "watch: stream silent for too long");
        break;
    }
    notify_change(w);
}

/* ---- watches: API --------------------------------------------------------------------- */

static bool
str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

struct k8s_watch *
k8s_watch_get(struct k8s_api *a, const char *resource, const char *ns, const char *name,
              const char *label_selector)
{
    struct k8s_watch *w;

    for (w = a->watches; w != NULL; w = w->next) {
        if (strcmp(w->resource, resource) == 0 && strcmp(w->ns, ns) == 0 &&
            strcmp(w->name, name) == 0 && str_eq(w->label_selector, label_selector)) {
            w->refs++;
            return w;
        }
    }
    w = xcalloc(1, sizeof(*w));
    w->api = a;
    w->refs = 1;
    w->resource = xstrdup(resource);
    w->ns = xstrdup(ns);
    w->name = xstrdup(name);
    w->label_selector = label_selector != NULL ? xstrdup(label_selector) : NULL;
    w->fd = -1;
    w->need_list = true;
    w->backoff_s = K8S_BACKOFF_MIN_S;
    ev_init(&w->timer, watch_on_timer);
    w->next = a->watches;
    a->watches = w;
    watch_next(w);
    return w;
}

static void
watch_free(struct k8s_watch *w)
{
    conn_close(w);
    json_object_put(w->obj);
    strbuf_fini(&w->out);
    strbuf_fini(&w->body);
    free(w->in);
    free(w->resource);
    free(w->ns);
    free(w->name);
    free(w->label_selector);
    free(w);
}

void
k8s_watch_put(struct k8s_watch *w)
{
    struct k8s_watch **pp;

    if (w == NULL)
        return;
    MESH_BUG_ON(w->refs == 0);
    if (--w->refs > 0)
        return;
    for (pp = &w->api->watches; *pp != w; pp = &(*pp)->next)
        ;
    *pp = w->next;
    watch_free(w);
}

bool
k8s_watch_synced(const struct k8s_watch *w)
{
    return w->synced;
}

struct json_object *
k8s_watch_object(const struct k8s_watch *w)
{
    return w->obj;
}

double
k8s_watch_stale_s(const struct k8s_watch *w)
{
    if (!w->synced)
        return -1;
    if (w->streaming)
        return 0;
    if (w->stale_since == 0)
        return 0; /* between a list and its stream */
    return ev_now(w->api->loop) - w->stale_since;
}

const char *
k8s_watch_error(const struct k8s_watch *w)
{
    return w->err;
}

/* ---- API client ----------------------------------------------------------------------- */

static void *
resolve_main(void *arg)
{
    struct k8s_api *a = arg;
    struct addrinfo hints, *ai = NULL;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    a->res_err = getaddrinfo(a->host, NULL, &hints, &ai);
    if (a->res_err == 0 && ai != NULL && ai->ai_addrlen <= sizeof(a->res_addr)) {
        memset(&a->res_addr, 0, sizeof(a->res_addr));
        memcpy(&a->res_addr, ai->ai_addr, ai->ai_addrlen);
        a->res_len = ai->ai_addrlen;
    } else if (a->res_err == 0) {
        a->res_err = EAI_NONAME;
    }
    if (ai != NULL)
        freeaddrinfo(ai);
    ev_async_send(a->loop, &a->resolved);
    return NULL;
}

static void
resolve_start(struct k8s_api *a)
{
    sigset_t all, old;
    int r;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals are the loop thread's business */
    r = pthread_create(&a->thread, NULL, resolve_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        log_err("naming: k8s: cannot start a resolver thread: %s; retrying", strerror(r));
        ev_timer_start(a->loop, &a->resolve_retry);
        return;
    }
    a->thread_running = true;
}

static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *) ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *) ss)->sin6_port = htons(port);
}

static void
api_on_resolved(struct ev_loop *loop, ev_async *as, int revents)
{
    struct k8s_api *a = container_of(as, struct k8s_api, resolved);
    struct k8s_watch *w;

    (void) loop;
    (void) revents;
    if (!a->thread_running)
        return;
    (void) pthread_join(a->thread, NULL);
    a->thread_running = false;
    if (a->res_err != 0) {
        log_warn("naming: k8s: cannot resolve API host %s: %s; retrying in %.0f s", a->host,
                 gai_strerror(a->res_err), K8S_RESOLVE_RETRY_S);
        ev_timer_start(a->loop, &a->resolve_retry);
        return;
    }
    a->addr = a->res_addr;
    a->addr_len = a->res_len;
    set_port(&a->addr, a->port);
    for (w = a->watches; w != NULL; w = w->next)
        if (w->phase == PHASE_WAIT && !ev_is_active(&w->timer))
            watch_next(w);
}

static void
api_on_resolve_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct k8s_api *a = container_of(t, struct k8s_api, resolve_retry);

    (void) loop;
    (void) revents;
    resolve_start(a);
}

struct k8s_api *
k8s_api_new(struct ev_loop *loop, const char *host, uint16_t port)
{
    struct k8s_api *a = xcalloc(1, sizeof(*a));
    struct addrinfo hints, *ai = NULL;
    const char *lit = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;

    a->loop = loop;
    a->host = xstrdup(host);
    a->port = port;
    a->rng = (clock_mono_us() ^ ((uint64_t) getpid() << 32) ^ (uint64_t) (uintptr_t) a) | 1;
    ev_async_init(&a->resolved, api_on_resolved);
    ev_async_start(loop, &a->resolved);
    ev_unref(loop);
    ev_timer_init(&a->resolve_retry, api_on_resolve_retry, K8S_RESOLVE_RETRY_S, 0.);

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    if (getaddrinfo(lit, NULL, &hints, &ai) == 0 && ai != NULL &&
        ai->ai_addrlen <= sizeof(a->addr)) {
        memcpy(&a->addr, ai->ai_addr, ai->ai_addrlen);
        a->addr_len = ai->ai_addrlen;
        set_port(&a->addr, port);
    } else {
        resolve_start(a);
    }
    if (ai != NULL)
        freeaddrinfo(ai);
    return a;
}

struct k8s_api *
k8s_api_free(struct k8s_api *a)
{
    if (a == NULL)
        return NULL;
    while (a->watches != NULL) {
        struct k8s_watch *w = a->watches;

        a->watches = w->next;
        watch_free(w);
    }
    if (a->thread_running)
        (void) pthread_join(a->thread, NULL); /* at most one lookup's time, at shutdown */
    ev_ref(a->loop);
    ev_async_stop(a->loop, &a->resolved);
    ev_timer_stop(a->loop, &a->resolve_retry);
    if (a->tls != NULL)
        SSL_CTX_free(a->tls);
    free(a->token_path);
    free(a->host);
    free(a);
    return NULL;
}

int
k8s_api_set_tls(struct k8s_api *a, const struct k8s_tls *tls, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char ebuf[256];

    if (ctx == NULL) {
        (void) snprintf(err, errlen, "TLS: %s", tls_error(ebuf, sizeof(ebuf), "no context"));
        return -ENOMEM;
    }
    (void) SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, tls->ca_path, NULL) != 1) {
        (void) snprintf(err, errlen, "caCertPath %s: %s", tls->ca_path,
                        tls_error(ebuf, sizeof(ebuf), "cannot load"));
        SSL_CTX_free(ctx);
        return -EINVAL;
    }
    if (a->tls != NULL)
        SSL_CTX_free(a->tls);
    a->tls = ctx;
    free(a->token_path);
    a->token_path =
        tls->token_path != NULL && tls->token_path[0] != '\0' ? xstrdup(tls->token_path) : NULL;
    return 0;
}

void
k8s_api_close_fds_in_child(struct k8s_api *a)
{
    struct k8s_watch *w;

    for (w = a->watches; w != NULL; w = w->next)
        if (w->fd != -1)
            (void) close(w->fd);
}

void
k8s_api_set_on_change(struct k8s_api *a, void (*cb)(void *ctx), void *ctx)
{
    a->on_change = cb;
    a->on_change_ctx = ctx;
}

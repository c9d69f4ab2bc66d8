/* tests/lib/zipkin_sink.c - see zipkin_sink.h. One poll() thread; the test thread talks
 * to it through a mutex-protected state and a self-pipe. Requests are parsed with
 * proto/http1 (Content-Length bodies only, as meshagent sends them). */
#include "tests/lib/zipkin_sink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef MESH_HAVE_ZLIB
#include <zlib.h>
#endif

#include "proto/http1.h"

#define SINK_MAX_CONNS 16
#define MIN_(a, b)     ((a) < (b) ? (a) : (b))

struct sink_conn {
    int fd;
    char *in;
    size_t len, cap;
};

struct zipkin_sink {
    pthread_t thread;
    pthread_mutex_t mu;
    int port;
    int lfd;
    int ctl[2]; /* self-pipe: wakes the thread after a state change */
    bool want_up, quit;
    struct sink_conn conns[SINK_MAX_CONNS];
    /* results */
    unsigned requests;
    uint64_t *ids;
    size_t n_ids, cap_ids;
    struct zipkin_sink_span *spans; /* one per id, same order */
    char *last_body;
    bool bodies_ok;
    bool scribe;        /* speaks Scribe instead of HTTP */
    unsigned n_gzipped; /* requests with Content-Encoding: gzip */
    int script_status;
    unsigned script_count;
    unsigned delay_ms;
};

static int
sink_listen(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1)
        abort();
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    for (int i = 0; i < 200; i++) {
        if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0 && listen(fd, 64) == 0)
            return fd;
        usleep(10000);
    }
    abort();
}

static void
conn_close(struct sink_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The hex string value of "<key>" between <p> and <end>, or NULL; *ret_len its length. */
static const char *
find_hex(const char *p, const char *end, const char *key, size_t *ret_len)
{
    size_t klen = strlen(key);
    const char *k = memmem(p, (size_t) (end - p), key, klen);
    size_t n = 0;

    if (k == NULL)
        return NULL;
    k += klen;
    while (k + n < end && hexval(k[n]) >= 0)
        n++;
    *ret_len = n;
    return k;
}

static uint64_t
hex64(const char *p, size_t len)
{
    uint64_t v = 0;

    for (size_t i = 0; i < len && i < 16; i++)
        v = (v << 4) | (uint64_t) hexval(p[i]);
    return v;
}

/* Remembers the spans in <body> (called with the mutex held). Each span object of meshd's
 * JSON v2 starts with "traceId"; its other ids are looked for before the next one. */
static void
record_ids(struct zipkin_sink *s, const char *body, size_t len)
{
    const char *p = body, *end = body + len;

    while (p < end) {
        const char *start = memmem(p, (size_t) (end - p), "{\"traceId\":\"", 12);
        const char *next, *v;
        struct zipkin_sink_span sp;
        size_t n;

        if (start == NULL)
            break;
        next = memmem(start + 1, (size_t) (end - start - 1), "{\"traceId\":\"", 12);
        if (next == NULL)
            next = end;
        memset(&sp, 0, sizeof(sp));
        v = find_hex(start, next, "\"traceId\":\"", &n);
        snprintf(sp.trace_id, sizeof(sp.trace_id), "%.*s", (int) MIN_(n, 32), v);
        v = find_hex(start, next, "\"parentId\":\"", &n);
        if (v != NULL)
            sp.parent_id = hex64(v, n);
        v = find_hex(start, next, "\"id\":\"", &n);
        if (v != NULL && n == 16) {
            const char *kind = memmem(start, (size_t) (next - start), "\"kind\":\"", 8);

            sp.id = hex64(v, n);
            sp.kind = kind ? kind[8] : 0;
            if (s->n_ids == s->cap_ids) {
                s->cap_ids = s->cap_ids ? s->cap_ids * 2 : 1024;
                s->ids = realloc(s->ids, s->cap_ids * sizeof(*s->ids));
                s->spans = realloc(s->spans, s->cap_ids * sizeof(*s->spans));
            }
            s->spans[s->n_ids] = sp;
            s->ids[s->n_ids++] = sp.id;
        }
        p = next;
    }
}

static bool
has_header(const struct http1_request *req, const char *name, const char *value)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct http1_header *h = &req->headers[i];

        if (h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0 &&
            h->value_len >= strlen(value) && strncasecmp(h->value, value, strlen(value)) == 0)
            return true;
    }
    return false;
}

/* ---- Scribe: a minimal TBinaryProtocol reader ---------------------------------------- */

struct trd {
    const uint8_t *p, *end;
    bool bad;
};

static uint64_t
trd_n(struct trd *r, int n)
{
    uint64_t v = 0;

    if (r->end - r->p < n) {
        r->bad = true;
        r->p = r->end;
        return 0;
    }
    for (int i = 0; i < n; i++)
        v = v << 8 | *r->p++;
    return v;
}

static const uint8_t *
trd_bytes(struct trd *r, size_t *ret_len)
{
    uint32_t len = (uint32_t) trd_n(r, 4);
    const uint8_t *p = r->p;

    if ((size_t) (r->end - r->p) < len) {
        r->bad = true;
        r->p = r->end;
        *ret_len = 0;
        return p;
    }
    r->p += len;
    *ret_len = len;
    return p;
}

static void
trd_skip(struct trd *r, int type, int depth)
{
    size_t len, n;
    int kt, vt;

    if (depth > 16) {
        r->bad = true;
        return;
    }
    switch (type) {
    case 2: /* bool */
    case 3: /* byte */
        (void) trd_n(r, 1);
        break;
    case 6:
        (void) trd_n(r, 2);
        break;
    case 8:
        (void) trd_n(r, 4);
        break;
    case 4: /* double */
    case 10:
        (void) trd_n(r, 8);
        break;
    case 11:
        (void) trd_bytes(r, &len);
        break;
    case 12:
        while (!r->bad) {
            int ft = (int) trd_n(r, 1);

            if (ft == 0)
                break;
            (void) trd_n(r, 2);
            trd_skip(r, ft, depth + 1);
        }
        break;
    case 13:
        kt = (int) trd_n(r, 1);
        vt = (int) trd_n(r, 1);
        n = (size_t) trd_n(r, 4);
        for (size_t i = 0; i < n && !r->bad; i++) {
            trd_skip(r, kt, depth + 1);
            trd_skip(r, vt, depth + 1);
        }
        break;
    case 14:
    case 15:
        kt = (int) trd_n(r, 1);
        n = (size_t) trd_n(r, 4);
        for (size_t i = 0; i < n && !r->bad; i++)
            trd_skip(r, kt, depth + 1);
        break;
    default:
        r->bad = true;
    }
}

static int
b64val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes one message (base64 of a Thrift v1 Span) and records it; false if malformed. */
static bool
record_scribe_span(struct zipkin_sink *s, const uint8_t *msg, size_t len)
{
    uint8_t *raw = malloc(len);
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    struct trd r;
    struct zipkin_sink_span sp;
    bool have_id = false;

    for (size_t i = 0; i < len; i++) {
        int v = b64val(msg[i]);

        if (v < 0)
            continue; /* '=' and line breaks, as Java's MIME decoder */
        acc = acc << 6 | (uint32_t) v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[n++] = (uint8_t) (acc >> bits);
        }
    }
    r = (struct trd){raw, raw + n, false};
    memset(&sp, 0, sizeof(sp));
    while (!r.bad) {
        int ft = (int) trd_n(&r, 1);
        int id;

        if (ft == 0)
            break;
        id = (int) trd_n(&r, 2);
        if (ft == 10 && (id == 1 || id == 4 || id == 5)) {
            uint64_t v = trd_n(&r, 8);

            if (id == 1)
                snprintf(sp.trace_id, sizeof(sp.trace_id), "%016llx", (unsigned long long) v);
            else if (id == 4)
                sp.id = v, have_id = true;
            else
                sp.parent_id = v;
        } else {
            trd_skip(&r, ft, 0);
        }
    }
    free(raw);
    if (r.bad || !have_id)
        return false;
    if (s->n_ids == s->cap_ids) {
        s->cap_ids = s->cap_ids ? s->cap_ids * 2 : 1024;
        s->ids = realloc(s->ids, s->cap_ids * sizeof(*s->ids));
        s->spans = realloc(s->spans, s->cap_ids * sizeof(*s->spans));
    }
    s->spans[s->n_ids] = sp;
    s->ids[s->n_ids++] = sp.id;
    return true;
}

static char *
put32(char *p, uint32_t v)
{
    *p++ = (char) (v >> 24);
    *p++ = (char) (v >> 16);
    *p++ = (char) (v >> 8);
    *p++ = (char) v;
    return p;
}

/* Handles complete framed Log() calls in <c>; returns -1 to close. */
static int
conn_serve_scribe(struct zipkin_sink *s, struct sink_conn *c)
{
    while (c->len >= 4) {
        const uint8_t *b = (const uint8_t *) c->in;
        uint32_t flen = (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
        struct trd r = {b + 4, b + 4 + flen, false};
        uint32_t seqid;
        size_t nlen, n_entries;
        int status;
        bool ok = true;
        char reply[128], *p = reply + 4;

        if (c->len < 4 + (size_t) flen)
            return 0;
        if (trd_n(&r, 4) != 0x80010001u)
            return -1;
        (void) trd_bytes(&r, &nlen);
        seqid = (uint32_t) trd_n(&r, 4);
        pthread_mutex_lock(&s->mu);
        s->requests++;
        status = 202;
        if (s->script_count > 0) {
            status = s->script_status;
            s->script_count--;
        }
        /* args: field 1, list<LogEntry> */
        if (trd_n(&r, 1) != 15 || trd_n(&r, 2) != 1 || trd_n(&r, 1) != 12)
            ok = false;
        n_entries = ok ? (size_t) trd_n(&r, 4) : 0;
        for (size_t i = 0; ok && i < n_entries && !r.bad; i++) {
            const uint8_t *cat = NULL, *msg = NULL;
            size_t cat_len = 0, msg_len = 0;

            while (!r.bad) {
                int ft = (int) trd_n(&r, 1), id;

                if (ft == 0)
                    break;
                id = (int) trd_n(&r, 2);
                if (ft == 11 && id == 1)
                    cat = trd_bytes(&r, &cat_len);
                else if (ft == 11 && id == 2)
                    msg = trd_bytes(&r, &msg_len);
                else
                    trd_skip(&r, ft, 0);
            }
            if (cat == NULL || msg == NULL || cat_len != 6 || memcmp(cat, "zipkin", 6) != 0)
                ok = false;
            else if (status >= 200 && status < 300 && !record_scribe_span(s, msg, msg_len))
                ok = false;
        }
        if (!ok || r.bad)
            s->bodies_ok = false;
        pthread_mutex_unlock(&s->mu);
        p = put32(p, status == 400 || !ok ? 0x80010003u : 0x80010002u);
        p = put32(p, 3);
        memcpy(p, "Log", 3);
        p += 3;
        p = put32(p, seqid);
        if (status == 400 || !ok) {
            /* TApplicationException {1: message, 2: type} */
            *p++ = 11;
            *p++ = 0;
            *p++ = 1;
            p = put32(p, 3);
            memcpy(p, "bad", 3);
            p += 3;
            *p++ = 8;
            *p++ = 0;
            *p++ = 2;
            p = put32(p, 6);
        } else {
            *p++ = 8; /* field 0: ResultCode */
            *p++ = 0;
            *p++ = 0;
            p = put32(p, status == 503 ? 1u : 0u);
        }
        *p++ = 0; /* stop */
        put32(reply, (uint32_t) (p - reply - 4));
        if (send(c->fd, reply, (size_t) (p - reply), MSG_NOSIGNAL) != p - reply)
            return -1;
        memmove(c->in, c->in + 4 + flen, c->len - 4 - flen);
        c->len -= 4 + (size_t) flen;
    }
    return 0;
}

/* The gunzipped <len> bytes at <in> (caller frees) and their length, or NULL. */
static char *
gunzip(const char *in, size_t len, size_t *ret_len)
{
#ifndef MESH_HAVE_ZLIB
    (void) in;
    (void) len;
    (void) ret_len;
    return NULL; /* built without zlib: gzip bodies count as bad */
#else
    z_stream z;
    size_t cap = len * 8 + 1024, out_len = 0;
    char *out = malloc(cap);
    int r = Z_OK;

    memset(&z, 0, sizeof(z));
    if (out == NULL || inflateInit2(&z, 15 + 16) != Z_OK) {
        free(out);
        return NULL;
    }
    z.next_in = (Bytef *) in;
    z.avail_in = (uInt) len;
    while (r == Z_OK) {
        if (cap - out_len < 4096) {
            cap *= 2;
            out = realloc(out, cap);
        }
        z.next_out = (Bytef *) out + out_len;
        z.avail_out = (uInt) (cap - out_len - 1);
        r = inflate(&z, Z_NO_FLUSH);
        out_len = cap - 1 - z.avail_out;
    }
    inflateEnd(&z);
    if (r != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    out[out_len] = '\0';
    *ret_len = out_len;
    return out;
#endif
}

/* Handles complete requests in <c>; returns -1 to close. */
static int
conn_serve(struct zipkin_sink *s, struct sink_conn *c)
{
    if (s->scribe)
        return conn_serve_scribe(s, c);
    for (;;) {
        struct http1_header hdrs[64];
        struct http1_request req;
        struct http1_error err;
        struct http1_limits lim = {.max_request_line = 4096, .max_head = 16384, .max_headers = 64};
        int r = http1_parse_request(c->in, c->len, &lim, hdrs, 64, &req, &err);
        size_t total;
        int status;
        unsigned delay;
        char reply[256];
        int n;

        if (r == -EAGAIN)
            return 0;
        if (r < 0 || req.body == HTTP1_BODY_CHUNKED)
            return -1;
        total = (size_t) r + (req.body == HTTP1_BODY_LENGTH ? req.content_length : 0);
        if (c->len < total)
            return 0;
        pthread_mutex_lock(&s->mu);
        s->requests++;
        status = 202;
        if (s->script_count > 0) {
            status = s->script_status;
            s->script_count--;
        }
        delay = s->delay_ms;
        if (status >= 200 && status < 300) {
            const char *body = c->in + r;
            size_t blen = total - (size_t) r;
            char *plain = NULL;

            if (has_header(&req, "Content-Encoding", "gzip")) {
                s->n_gzipped++;
                plain = gunzip(body, blen, &blen);
                if (plain == NULL)
                    s->bodies_ok = false;
                body = plain ? plain : "";
            }
            if (blen == 0 || body[0] != '[' ||
                !has_header(&req, "Content-Type", "application/json") ||
                !has_header(&req, "b3", "0"))
                s->bodies_ok = false;
            record_ids(s, body, blen);
            free(s->last_body);
            s->last_body = strndup(body, blen);
            free(plain);
        }
        pthread_mutex_unlock(&s->mu);
        if (delay)
            usleep(delay * 1000u);
        n = snprintf(reply, sizeof(reply), "HTTP/1.1 %d Scripted\r\nContent-Length: %d\r\n\r\n%s",
                     status, status == 202 ? 0 : 9, status == 202 ? "" : "scripted\n");
        if (send(c->fd, reply, (size_t) n, MSG_NOSIGNAL) != n)
            return -1;
        memmove(c->in, c->in + total, c->len - total);
        c->len -= total;
    }
}

static void *
sink_thread(void *arg)
{
    struct zipkin_sink *s = arg;

    for (;;) {
        struct pollfd pfd[SINK_MAX_CONNS + 2];
        int map[SINK_MAX_CONNS + 2];
        nfds_t n = 0;
        bool up, quit;

        pthread_mutex_lock(&s->mu);
        up = s->want_up;
        quit = s->quit;
        pthread_mutex_unlock(&s->mu);
        if (quit)
            break;
        if (!up && s->lfd >= 0) {
            for (int i = 0; i < SINK_MAX_CONNS; i++)
                conn_close(&s->conns[i]);
            close(s->lfd);
            pthread_mutex_lock(&s->mu);
            s->lfd = -1;
            pthread_mutex_unlock(&s->mu);
        } else if (up && s->lfd < 0) {
            int fd = sink_listen(s->port);

            pthread_mutex_lock(&s->mu);
            s->lfd = fd;
            pthread_mutex_unlock(&s->mu);
        }
        pfd[n].fd = s->ctl[0];
        pfd[n].events = POLLIN;
        map[n++] = -2;
        if (s->lfd >= 0) {
            pfd[n].fd = s->lfd;
            pfd[n].events = POLLIN;
            map[n++] = -1;
        }
        for (int i = 0; i < SINK_MAX_CONNS; i++) {
            if (s->conns[i].fd < 0)
                continue;
            pfd[n].fd = s->conns[i].fd;
            pfd[n].events = POLLIN;
            map[n++] = i;
        }
        if (poll(pfd, n, 1000) <= 0)
            continue;
        for (nfds_t k = 0; k < n; k++) {
            if (!pfd[k].revents)
                continue;
            if (map[k] == -2) {
                char buf[64];

                (void) read(s->ctl[0], buf, sizeof(buf));
            } else if (map[k] == -1) {
                int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
                int slot = -1;

                for (int i = 0; i < SINK_MAX_CONNS && slot < 0; i++)
                    if (s->conns[i].fd < 0)
                        slot = i;
                if (fd >= 0 && slot < 0)
                    close(fd);
                else if (fd >= 0)
                    s->conns[slot].fd = fd;
            } else {
                struct sink_conn *c = &s->conns[map[k]];
                ssize_t r;

                if (c->cap - c->len < 65536) {
                    c->cap = c->cap ? c->cap * 2 : 1 << 17;
                    c->in = realloc(c->in, c->cap);
                }
                r = recv(c->fd, c->in + c->len, c->cap - c->len - 1, 0);
                if (r <= 0) {
                    conn_close(c);
                    continue;
                }
                c->len += (size_t) r;
                if (conn_serve(s, c) < 0)
                    conn_close(c);
            }
        }
    }
    if (s->lfd >= 0)
        close(s->lfd);
    for (int i = 0; i < SINK_MAX_CONNS; i++)
        conn_close(&s->conns[i]);
    return NULL;
}

static void
poke(struct zipkin_sink *s)
{
    (void) write(s->ctl[1], "x", 1);
}

static struct zipkin_sink *
sink_start(int port, bool scribe)
{
    struct zipkin_sink *s = calloc(1, sizeof(*s));

    s->scribe = scribe;
    pthread_mutex_init(&s->mu, NULL);
    s->port = port;
    s->want_up = true;
    s->bodies_ok = true;
    for (int i = 0; i < SINK_MAX_CONNS; i++)
        s->conns[i].fd = -1;
    if (pipe2(s->ctl, O_CLOEXEC | O_NONBLOCK) != 0)
        abort();
    s->lfd = sink_listen(port); /* listening before this returns */
    if (pthread_create(&s->thread, NULL, sink_thread, s) != 0)
        abort();
    return s;
}

struct zipkin_sink *
zipkin_sink_start(int port)
{
    return sink_start(port, false);
}

struct zipkin_sink *
zipkin_sink_start_scribe(int port)
{
    return sink_start(port, true);
}

static void
set_up(struct zipkin_sink *s, bool up)
{
    pthread_mutex_lock(&s->mu);
    s->want_up = up;
    pthread_mutex_unlock(&s->mu);
    poke(s);
    /* wait until the thread has acted on it */
    for (int i = 0; i < 500; i++) {
        bool done;

        pthread_mutex_lock(&s->mu);
        done = (s->lfd >= 0) == up;
        pthread_mutex_unlock(&s->mu);
        if (done)
            return;
        usleep(2000);
    }
}

void
zipkin_sink_down(struct zipkin_sink *s)
{
    set_up(s, false);
}

void
zipkin_sink_up(struct zipkin_sink *s)
{
    set_up(s, true);
}

void
zipkin_sink_free(struct zipkin_sink *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->quit = true;
    pthread_mutex_unlock(&s->mu);
    poke(s);
    pthread_join(s->thread, NULL);
    close(s->ctl[0]);
    close(s->ctl[1]);
    free(s->ids);
    free(s->spans);
    free(s->last_body);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void
zipkin_sink_script(struct zipkin_sink *s, int status, unsigned count)
{
    pthread_mutex_lock(&s->mu);
    s->script_status = status;
    s->script_count = count;
    pthread_mutex_unlock(&s->mu);
}

void
zipkin_sink_delay(struct zipkin_sink *s, unsigned ms)
{
    pthread_mutex_lock(&s->mu);
    s->delay_ms = ms;
    pthread_mutex_unlock(&s->mu);
}

unsigned
zipkin_sink_requests(struct zipkin_sink *s)
{
    unsigned n;

    pthread_mutex_lock(&s->mu);
    n = s->requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

unsigned
zipkin_sink_n_spans(struct zipkin_sink *s)
{
    unsigned n;

    pthread_mutex_lock(&s->mu);
    n = (unsigned) s->n_ids;
    pthread_mutex_unlock(&s->mu);
    return n;
}

unsigned
zipkin_sink_count_id(struct zipkin_sink *s, const char *id16)
{
    uint64_t id = strtoull(id16, NULL, 16);
    unsigned n = 0;

    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_ids; i++)
        n += s->ids[i] == id;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static int
u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}

unsigned
zipkin_sink_n_duplicates(struct zipkin_sink *s)
{
    uint64_t *v;
    size_t n;
    unsigned dups = 0;

    pthread_mutex_lock(&s->mu);
    n = s->n_ids;
    v = malloc((n + 1) * sizeof(*v));
    memcpy(v, s->ids, n * sizeof(*v));
    pthread_mutex_unlock(&s->mu);
    qsort(v, n, sizeof(*v), u64_cmp);
    for (size_t i = 1; i < n; i++)
        dups += (i < 2 || v[i - 1] != v[i - 2]) && v[i] == v[i - 1];
    free(v);
    return dups;
}

char *
zipkin_sink_last_body(struct zipkin_sink *s)
{
    char *b;

    pthread_mutex_lock(&s->mu);
    b = s->last_body ? strdup(s->last_body) : NULL;
    pthread_mutex_unlock(&s->mu);
    return b;
}

bool
zipkin_sink_bodies_ok(struct zipkin_sink *s)
{
    bool ok;

    pthread_mutex_lock(&s->mu);
    ok = s->bodies_ok;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

size_t
zipkin_sink_spans(struct zipkin_sink *s, struct zipkin_sink_span *out, size_t max)
{
    size_t n;

    pthread_mutex_lock(&s->mu);
    n = MIN_(max, s->n_ids);
    memcpy(out, s->spans, n * sizeof(*out));
    pthread_mutex_unlock(&s->mu);
    return n;
}

unsigned
zipkin_sink_n_gzipped(struct zipkin_sink *s)
{
    unsigned n;

    pthread_mutex_lock(&s->mu);
    n = s->n_gzipped;
    pthread_mutex_unlock(&s->mu);
    return n;
}

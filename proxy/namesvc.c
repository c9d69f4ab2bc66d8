/* proxy/namesvc.c - the master's name service (namesvc.h).
 *
 * Per worker (a peer) the names it watches (subs). Whenever a generation's naming says
 * something changed, and every NAMESVC_TOUCH_S (which also keeps the names in use, so the
 * naming does not forget them), each sub is evaluated again (naming_share_eval: a hash
 * lookup or two) and the ones whose state differs from what the worker last got are
 * marked dirty and sent. A state is always sent whole and current: when the channel is
 * full the peer waits for it to drain and then sends what is current then, resuming a
 * set sent in parts only if it did not change meanwhile. */
#include "proxy/namesvc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "common/log.h"
#include "common/util.h"
#include "proto/ipc.h"
#include "proto/namemsg.h"
#include "proxy/naming.h"

#define NAMESVC_TOUCH_S  30.0 /* re-evaluate every watched name (NAMING_IN_USE_S is 60) */
#define NAMESVC_MAX_SUBS 4096 /* names one worker may watch (naming.c's NAMING_SHARED_MAX) */

/* What a worker last got for a name. */
struct sig {
    uint32_t kind, id_len;
    uint64_t version; /* of the endpoint set; 0 without one */
    uint64_t text;    /* hash of the residual and the reason */
};

struct sub {
    struct sub *next;
    bool dirty;         /* to be sent */
    bool sent_once;     /* <sent> is valid */
    struct sig sent;
    uint32_t part_next; /* a set cut short by a full channel: endpoints already sent */
    uint64_t part_version;
    size_t key_len;
    char key[];
};

struct gen {
    struct gen *next;
    unsigned gen;
    unsigned n_peers;
    struct naming *n;
    struct namesvc *svc;
};

struct namesvc_peer {
    struct namesvc_peer *next;
    struct namesvc *svc;
    struct gen *g;
    int fd;
    ev_io wio; /* the channel was full: wait until it drains */
    bool blocked;
    bool dead; /* the channel failed: the worker is exiting */
    struct sub *subs;
    size_t n_subs;
};

struct namesvc {
    struct ev_loop *loop;
    struct gen *gens;
    struct namesvc_peer *peers;
    ev_timer touch;
    char buf[NAMEMSG_MAX];
};

static uint64_t
hash_bytes(uint64_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static struct sig
sig_of(const struct namemsg_state *st)
{
    struct sig g = {st->kind, st->id_len, st->version, 0xcbf29ce484222325ULL};

    g.text = hash_bytes(g.text, st->residual, st->residual_len);
    g.text = hash_bytes(g.text ^ 0xff, st->reason, st->reason_len);
    return g;
}

static bool
sig_eq(const struct sig *a, const struct sig *b)
{
    return a->kind == b->kind && a->id_len == b->id_len && a->version == b->version &&
           a->text == b->text;
}

/* The endpoints of <s> as the message wants them (malloc'd; NULL for none). */
static struct namemsg_ep *
eps_to_msg(const struct endpoint_set *s)
{
    struct namemsg_ep *v;

    if (s == NULL || s->n == 0)
        return NULL;
    v = xcalloc(s->n, sizeof(*v));
    for (size_t i = 0; i < s->n; i++) {
        const struct endpoint *e = &s->e[i];

        if (e->addr.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &e->addr;

            v[i].ipv6 = true;
            memcpy(v[i].ip, &in6->sin6_addr, 16);
            v[i].port = ntohs(in6->sin6_port);
        } else {
            const struct sockaddr_in *in = (const struct sockaddr_in *) &e->addr;

            memcpy(v[i].ip, &in->sin_addr, 4);
            v[i].port = ntohs(in->sin_port);
        }
        v[i].weight = e->weight;
        if (e->node != NULL) {
            v[i].node = e->node;
            v[i].node_len = strlen(e->node);
        }
    }
    return v;
}

static void peer_flush(struct namesvc_peer *p);

static void
peer_on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
    struct namesvc_peer *p = w->data;

    (void) revents;
    ev_io_stop(loop, w);
    p->blocked = false;
    peer_flush(p);
}

/* Sends <sub>'s current state. 0 when it went out whole; -EAGAIN when the channel is
 * full (the rest goes when it drains); -EPIPE when the worker is gone. */
static int
sub_send(struct namesvc_peer *p, struct sub *sub)
{
    struct namemsg_state st;
    struct endpoint_set *eps = naming_share_eval(p->g->n, sub->key, sub->key_len, &st);
    struct namemsg_ep *v = eps_to_msg(eps);
    uint32_t first = 0;
    int r = 0;

    if (st.kind == NAMEMSG_BOUND && sub->part_next > 0 && sub->part_version == st.version)
        first = sub->part_next; /* the same set: go on where the channel stopped it */
    sub->part_next = 0;
    do {
        int len;

        st.first = first;
        len = namemsg_state_encode(&st, v, p->svc->buf, sizeof(p->svc->buf));
        if (len < 0) {
            log_err("namesvc: cannot encode the state of %.*s", (int) MESH_MIN(sub->key_len, 200u),
                    sub->key);
            break;
        }
        if (send(p->fd, p->svc->buf, (size_t) len, MSG_DONTWAIT | MSG_NOSIGNAL) == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR) {
                sub->part_next = first;
                sub->part_version = st.version;
                r = -EAGAIN;
            } else {
                r = -EPIPE;
            }
            goto out;
        }
        first += st.n;
    } while (first < st.total);
    sub->dirty = false;
    sub->sent = sig_of(&st);
    sub->sent_once = true;
out:
    free(v);
    endpoint_set_unref(eps);
    return r;
}

static void
peer_flush(struct namesvc_peer *p)
{
    if (p->blocked || p->dead)
        return;
    for (struct sub *sub = p->subs; sub != NULL; sub = sub->next) {
        int r;

        if (!sub->dirty)
            continue;
        r = sub_send(p, sub);
        if (r == -EAGAIN) {
            p->blocked = true;
            ev_io_start(p->svc->loop, &p->wio);
            return;
        }
        if (r == -EPIPE) {
            p->dead = true; /* its exit (SIGCHLD) frees the peer */
            return;
        }
    }
}

/* Marks the subs whose state changed since they were sent, then sends them. */
static void
peer_refresh(struct namesvc_peer *p)
{
    for (struct sub *sub = p->subs; sub != NULL; sub = sub->next) {
        struct namemsg_state st;
        struct endpoint_set *eps;
        struct sig now;

        if (sub->dirty)
            continue;
        eps = naming_share_eval(p->g->n, sub->key, sub->key_len, &st);
        now = sig_of(&st);
        endpoint_set_unref(eps);
        if (!sub->sent_once || !sig_eq(&now, &sub->sent))
            sub->dirty = true;
    }
    peer_flush(p);
}

static void
gen_on_change(void *ctx)
{
    struct gen *g = ctx;

    for (struct namesvc_peer *p = g->svc->peers; p != NULL; p = p->next)
        if (p->g == g)
            peer_refresh(p);
}

static void
namesvc_on_touch(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct namesvc *s = w->data;

    (void) loop;
    (void) revents;
    for (struct namesvc_peer *p = s->peers; p != NULL; p = p->next)
        peer_refresh(p);
}

struct namesvc *
namesvc_new(struct ev_loop *loop)
{
    struct namesvc *s = xcalloc(1, sizeof(*s));

    s->loop = loop;
    ev_timer_init(&s->touch, namesvc_on_touch, NAMESVC_TOUCH_S, NAMESVC_TOUCH_S);
    s->touch.data = s;
    ev_timer_start(loop, &s->touch);
    ev_unref(loop); /* does not keep the master's loop alive */
    return s;
}

static void
gen_free(struct namesvc *s, struct gen *g)
{
    struct gen **pp = &s->gens;

    while (*pp != g)
        pp = &(*pp)->next;
    *pp = g->next;
    naming_free(g->n);
    free(g);
}

/* Frees the generations older than the newest that no worker uses. */
static void
retire_gens(struct namesvc *s)
{
    unsigned newest = 0;
    struct gen *g, *next;

    for (g = s->gens; g != NULL; g = g->next)
        newest = MESH_MAX(newest, g->gen);
    for (g = s->gens; g != NULL; g = next) {
        next = g->next;
        if (g->gen < newest && g->n_peers == 0)
            gen_free(s, g);
    }
}

struct namesvc *
namesvc_free(struct namesvc *s)
{
    if (s == NULL)
        return NULL;
    MESH_BUG_ON(s->peers != NULL);
    while (s->gens != NULL)
        gen_free(s, s->gens);
    ev_ref(s->loop);
    ev_timer_stop(s->loop, &s->touch);
    free(s);
    return NULL;
}

static struct gen *
gen_find(struct namesvc *s, unsigned gen)
{
    for (struct gen *g = s->gens; g != NULL; g = g->next)
        if (g->gen == gen)
            return g;
    return NULL;
}

struct naming *
namesvc_naming(struct namesvc *s, unsigned gen, const struct cfg *cfg, char *err, size_t errlen)
{
    struct gen *g = gen_find(s, gen);
    struct naming *n;

    if (g != NULL)
        return g->n;
    n = naming_new(s->loop, cfg, err, errlen);
    if (n == NULL)
        return NULL;
    g = xcalloc(1, sizeof(*g));
    g->gen = gen;
    g->n = n;
    g->svc = s;
    g->next = s->gens;
    s->gens = g;
    naming_set_on_change(n, gen_on_change, g);
    retire_gens(s);
    return n;
}

void
namesvc_drop(struct namesvc *s, unsigned gen)
{
    struct gen *g = gen_find(s, gen);

    if (g != NULL && g->n_peers == 0)
        gen_free(s, g);
}

struct namesvc_peer *
namesvc_peer_new(struct namesvc *s, unsigned gen, int fd)
{
    struct gen *g = gen_find(s, gen);
    struct namesvc_peer *p;

    MESH_BUG_ON(g == NULL);
    p = xcalloc(1, sizeof(*p));
    p->svc = s;
    p->g = g;
    p->fd = fd;
    ev_io_init(&p->wio, peer_on_writable, fd, EV_WRITE);
    p->wio.data = p;
    g->n_peers++;
    p->next = s->peers;
    s->peers = p;
    return p;
}

struct namesvc_peer *
namesvc_peer_free(struct namesvc_peer *p)
{
    struct namesvc_peer **pp;

    if (p == NULL)
        return NULL;
    for (pp = &p->svc->peers; *pp != p; pp = &(*pp)->next)
        ;
    *pp = p->next;
    ev_io_stop(p->svc->loop, &p->wio);
    while (p->subs != NULL) {
        struct sub *sub = p->subs;

        p->subs = sub->next;
        free(sub);
    }
    p->g->n_peers--;
    retire_gens(p->svc);
    free(p);
    return NULL;
}

void
namesvc_peer_input(struct namesvc_peer *p, const void *msg, size_t len)
{
    static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10000000, 1);
    struct ipc_msg h;
    struct sub **pp, *sub;
    const char *key;
    size_t key_len;

    if (len < sizeof(h) || namemsg_key_decode(msg, len, &key, &key_len) < 0) {
        if (log_ratelimit_ok(&rl))
            log_err("namesvc: a malformed naming message from a worker (%zu bytes)", len);
        return;
    }
    memcpy(&h, msg, sizeof(h));
    for (pp = &p->subs; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->key_len == key_len && memcmp((*pp)->key, key, key_len) == 0)
            break;
    if (h.type == IPC_NAME_UNWATCH) {
        if ((sub = *pp) != NULL) {
            *pp = sub->next;
            free(sub);
            p->n_subs--;
        }
        return;
    }
    if (h.type != IPC_NAME_WATCH)
        return;
    if ((sub = *pp) == NULL) {
        if (p->n_subs >= NAMESVC_MAX_SUBS) {
            if (log_ratelimit_ok(&rl))
                log_err("namesvc: a worker watches %d names already; %.*s refused",
                        NAMESVC_MAX_SUBS, (int) MESH_MIN(key_len, 200u), key);
            return;
        }
        sub = xcalloc(1, sizeof(*sub) + key_len + 1);
        sub->key_len = key_len;
        memcpy(sub->key, key, key_len);
        *pp = sub; /* at the tail: names are sent in the order they were asked for */
        p->n_subs++;
    }
    sub->dirty = true; /* new, or asked again: its whole state */
    sub->part_next = 0;
    peer_flush(p);
}

/* In a worker, the master's name service it was forked with: never freed (the namings'
 * resolver threads are not in the child), kept reachable so leak checkers do not count it. */
static struct namesvc *left_in_child;

void
namesvc_close_fds_in_child(struct namesvc *s)
{
    left_in_child = s;
    for (struct gen *g = s->gens; g != NULL; g = g->next)
        naming_close_fds_in_child(g->n);
}

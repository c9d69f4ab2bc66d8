/* agent/resolver.c - asynchronous getaddrinfo (see resolver.h).
 *
 * The loop and the helper thread share one struct under a mutex. Requests and results
 * carry a generation: the loop only acts on the result of its latest request, so a
 * cancelled or superseded lookup needs no coordination. The thread is detached: on
 * resolver_free() the loop side drops its reference and tells the thread to quit, and
 * whichever side lets go last frees the shared struct, so freeing never waits on a DNS
 * timeout. The thread touches the loop only through ev_async_send(), under the mutex,
 * and only while the loop side still holds its reference. */
#include "agent/resolver.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    unsigned refs; /* the loop side and the thread */
    bool quit;
    /* request: loop -> thread */
    bool has_request;
    char host[256];
    uint16_t port;
    uint64_t req_gen;
    /* result: thread -> loop */
    bool has_result;
    uint64_t res_gen;
    struct resolver_result res;
    struct ev_loop *loop;
    ev_async *async; /* the loop side's watcher; used only while !quit */
};

struct resolver {
    struct ev_loop *loop;
    ev_async async;
    struct shared *sh;
    uint64_t gen; /* of the latest request */
    resolver_done_fn *done;
    void *arg;
};

static void
shared_unref(struct shared *sh)
{
    bool last;

    pthread_mutex_lock(&sh->mu);
    last = --sh->refs == 0;
    pthread_mutex_unlock(&sh->mu);
    if (last) {
        pthread_mutex_destroy(&sh->mu);
        pthread_cond_destroy(&sh->cond);
        free(sh);
    }
}

static void
lookup(const char *host, uint16_t port, struct resolver_result *res)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV};
    struct addrinfo *ai = NULL, *p;
    char portstr[8];

    memset(res, 0, sizeof(*res));
    snprintf(portstr, sizeof(portstr), "%u", port);
    res->error = getaddrinfo(host, portstr, &hints, &ai);
    if (res->error != 0)
        return;
    for (p = ai; p != NULL && res->n_addrs < RESOLVER_MAX_ADDRS; p = p->ai_next) {
        if (p->ai_addrlen > sizeof(res->addrs[0]))
            continue;
        memcpy(&res->addrs[res->n_addrs], p->ai_addr, p->ai_addrlen);
        res->lens[res->n_addrs] = p->ai_addrlen;
        res->n_addrs++;
    }
    freeaddrinfo(ai);
    if (res->n_addrs == 0)
        res->error = EAI_NONAME;
}

static void *
resolver_thread(void *arg)
{
    struct shared *sh = arg;
    struct resolver_result *res = malloc(sizeof(*res));
    char host[256];
    uint16_t port;
    uint64_t gen;

    pthread_mutex_lock(&sh->mu);
    while (res != NULL) {
        while (!sh->has_request && !sh->quit)
            pthread_cond_wait(&sh->cond, &sh->mu);
        if (sh->quit)
            break;
        memcpy(host, sh->host, sizeof(host));
        port = sh->port;
        gen = sh->req_gen;
        sh->has_request = false;
        pthread_mutex_unlock(&sh->mu);

        lookup(host, port, res);

        pthread_mutex_lock(&sh->mu);
        if (sh->quit)
            break;
        sh->res = *res;
        sh->res_gen = gen;
        sh->has_result = true;
        ev_async_send(sh->loop, sh->async);
    }
    pthread_mutex_unlock(&sh->mu);
    free(res);
    shared_unref(sh);
    return NULL;
}

static void
resolver_on_async(struct ev_loop *loop, ev_async *w, int revents)
{
    struct resolver *r = container_of(w, struct resolver, async);
    struct resolver_result *res;
    bool mine;

    (void) loop;
    (void) revents;
    res = malloc(sizeof(*res));
    if (res == NULL)
        return; /* the next async or request retries */
    pthread_mutex_lock(&r->sh->mu);
    mine = r->sh->has_result && r->sh->res_gen == r->gen;
    if (mine)
        *res = r->sh->res;
    r->sh->has_result = false;
    pthread_mutex_unlock(&r->sh->mu);
    if (mine && r->done != NULL) {
        resolver_done_fn *done = r->done;

        r->done = NULL;
        done(res, r->arg);
    }
    free(res);
}

struct resolver *
resolver_new(struct ev_loop *loop)
{
    struct resolver *r = xcalloc(1, sizeof(*r));
    struct shared *sh = xcalloc(1, sizeof(*sh));
    pthread_attr_t attr;
    pthread_t tid;

    pthread_mutex_init(&sh->mu, NULL);
    pthread_cond_init(&sh->cond, NULL);
    sh->refs = 2;
    sh->loop = loop;
    sh->async = &r->async;
    r->loop = loop;
    r->sh = sh;
    ev_async_init(&r->async, resolver_on_async);
    ev_async_start(loop, &r->async);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (pthread_create(&tid, &attr, resolver_thread, sh) != 0) {
        pthread_attr_destroy(&attr);
        fprintf(stderr, "meshagent: cannot start the resolver thread\n");
        abort(); /* start-up only */
    }
    pthread_attr_destroy(&attr);
    return r;
}

struct resolver *
resolver_free(struct resolver *r)
{
    if (r == NULL)
        return NULL;
    pthread_mutex_lock(&r->sh->mu);
    r->sh->quit = true;
    r->sh->async = NULL;
    pthread_cond_signal(&r->sh->cond);
    pthread_mutex_unlock(&r->sh->mu);
    ev_async_stop(r->loop, &r->async);
    shared_unref(r->sh);
    free(r);
    return NULL;
}

int
resolver_start(struct resolver *r, const char *host, uint16_t port, resolver_done_fn *done,
               void *arg)
{
    pthread_mutex_lock(&r->sh->mu);
    snprintf(r->sh->host, sizeof(r->sh->host), "%s", host);
    r->sh->port = port;
    r->sh->req_gen = ++r->gen;
    r->sh->has_request = true;
    pthread_cond_signal(&r->sh->cond);
    pthread_mutex_unlock(&r->sh->mu);
    r->done = done;
    r->arg = arg;
    return 0;
}

void
resolver_cancel(struct resolver *r)
{
    r->done = NULL;
    r->gen++; /* whatever comes back is stale */
}

/* tools/spansink.c - mesh-spansink: a stand-in for meshagent's receiving end, for
 * benchmarks and debugging. Binds a nanomsg PULL socket, decodes every span record and
 * counts them; prints the counts once a second (and on SIGINT/SIGTERM).
 *
 *   mesh-spansink ipc:///tmp/meshd/spans.ipc [--print]
 *
 * --print writes one line per span (trace id, span id, parent, kind, service). */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "proto/span.h"

static volatile sig_atomic_t stop;
static bool print_spans;
static unsigned long long n_spans, n_bad, n_msgs;

static void
on_signal(int sig)
{
    (void) sig;
    stop = 1;
}

static void
on_span(const struct span *s, void *arg)
{
    (void) arg;
    n_spans++;
    if (print_spans)
        printf("trace %016" PRIx64 "%016" PRIx64 " span %016" PRIx64 " parent %016" PRIx64
               " %s %.*s\n",
               s->trace_hi, s->trace_lo, s->span_id, s->parent_id,
               s->kind == SPAN_KIND_SERVER ? "SERVER" : "CLIENT", (int) s->local.service_len,
               s->local.service);
}

int
main(int argc, char **argv)
{
    int sock, timeout_ms = 200;
    time_t last = time(NULL);

    if (argc < 2) {
        fprintf(stderr, "usage: mesh-spansink URL [--print]\n");
        return 2;
    }
    print_spans = argc > 2 && strcmp(argv[2], "--print") == 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    sock = nn_socket(AF_SP, NN_PULL);
    if (sock < 0 || nn_bind(sock, argv[1]) < 0) {
        fprintf(stderr, "mesh-spansink: %s: %s\n", argv[1], nn_strerror(nn_errno()));
        return 1;
    }
    (void) nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
    while (!stop) {
        void *msg = NULL;
        int n = nn_recv(sock, &msg, NN_MSG, 0);

        if (n >= 0) {
            struct span_batch_result res;

            n_msgs++;
            span_batch_decode(msg, (size_t) n, on_span, NULL, &res);
            n_bad += res.n_bad;
            nn_freemsg(msg);
        }
        if (time(NULL) != last) {
            last = time(NULL);
            printf("spans %llu messages %llu bad %llu\n", n_spans, n_msgs, n_bad);
            fflush(stdout);
        }
    }
    printf("spans %llu messages %llu bad %llu\n", n_spans, n_msgs, n_bad);
    nn_close(sock);
    return 0;
}

/* tools/meshctl/cmd_stats.c - `meshctl stats`: samples meshd's and meshagent's
 * /admin/metrics.json and shows statview's screen, once or every --watch seconds.
 *
 * A one-shot run takes two samples of each endpoint one second apart (rates need two);
 * --watch takes one sample per refresh and computes rates against the previous one. An
 * endpoint that cannot be read is shown as such while the other is still shown; the exit
 * status is then 1. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/cfg.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "tools/meshctl/fetch.h"
#include "tools/meshctl/meshctl.h"
#include "tools/meshctl/metrics.h"
#include "tools/meshctl/statview.h"
#include "tools/meshctl/term.h"

#define STATS_DEFAULT_WATCH_S 2.0
#define STATS_FIRST_WAIT_S    1.0 /* between the two samples of a one-shot run */

/* One endpoint and its last two samples. */
struct endpoint {
    struct fetch_target target;
    struct metrics *prev;
    struct metrics *cur;
    char error[300]; /* why cur is NULL */
    bool answered;   /* cur is NULL although an HTTP response came (bad status or body) */
};

static void
stats_usage(FILE *f)
{
    fprintf(f,
            "usage: meshctl stats [OPTIONS]\n"
            "\n"
            "Shows, per router of the node's meshd, the request rate, success rate, p50/p99\n"
            "latency, connections and pending requests, then each service and client (with\n"
            "its load balancer size and failure accrual removals), then the node's meshagent:\n"
            "spans received, shipped and dropped (by reason), queue depth, collector state.\n"
            "\n"
            "  -c, --config FILE      take meshd's admin address (admin.ip, admin.port) and\n"
            "                         the router labels from FILE\n"
            "  -a, --admin HOST:PORT  meshd's admin endpoint (default %s)\n"
            "  -A, --agent HOST:PORT  meshagent's admin endpoint (default %s)\n"
            "      --no-agent         do not ask meshagent\n"
            "  -j, --json             print JSON instead of the screen (one object per line)\n"
            "  -w, --watch [SECONDS]  refresh every SECONDS (default %.0f) until interrupted\n"
            "  -n, --count N          with --watch: stop after N refreshes\n"
            "      --width COLUMNS    lay out for COLUMNS (default: the terminal's, else 80)\n"
            "  -h, --help             show this help\n"
            "\n"
            "Rates are over 1 s (two samples), or over the --watch interval.\n"
            "Exit status: 0 ok, 1 meshd or meshagent could not be reached (the other is\n"
            "still shown), 2 usage error.\n",
            MESHCTL_DEFAULT_ADMIN, MESHCTL_DEFAULT_AGENT, STATS_DEFAULT_WATCH_S);
}

static void
endpoint_fini(struct endpoint *e)
{
    e->prev = metrics_free(e->prev);
    e->cur = metrics_free(e->cur);
}

/* Takes a new sample: the current one becomes the previous one. */
static void
endpoint_sample(struct endpoint *e)
{
    struct fetch_result res;
    char perr[200];
    int r;

    metrics_free(e->prev);
    e->prev = e->cur;
    e->cur = NULL;
    e->error[0] = '\0';
    r = fetch_get(&e->target, "/admin/metrics.json", MESHCTL_TIMEOUT_MS, &res);
    e->answered = r == 0;
    if (r < 0) {
        snprintf(e->error, sizeof(e->error), "%s", res.err);
    } else if (res.status != 200) {
        snprintf(e->error, sizeof(e->error), "/admin/metrics.json answered HTTP %d", res.status);
    } else {
        e->cur = metrics_parse(res.body, res.body_len, clock_mono_us(), perr, sizeof(perr));
        if (e->cur == NULL)
            snprintf(e->error, sizeof(e->error), "/admin/metrics.json: %s", perr);
    }
    fetch_result_fini(&res);
    if (e->cur == NULL)
        e->prev = metrics_free(e->prev); /* no rate across a gap */
}

/* meshagent's zipkin.url from /admin/settings.json ("" = local store), or NULL. */
static char *
agent_collector(const struct fetch_target *t)
{
    struct fetch_result res;
    struct json_object *root = NULL, *url;
    char *collector = NULL;

    if (fetch_get(t, "/admin/settings.json", MESHCTL_TIMEOUT_MS, &res) == 0 && res.status == 200)
        root = json_tokener_parse(res.body);
    if (root != NULL && json_object_object_get_ex(root, "zipkin.url", &url) &&
        json_object_is_type(url, json_type_string))
        collector = xstrdup(json_object_get_string(url));
    json_object_put(root);
    fetch_result_fini(&res);
    return collector;
}

static void
sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t) s, .tv_nsec = (long) ((s - floor(s)) * 1e9)};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static int
parse_seconds(const char *s, double *ret)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0.1 && v <= 86400))
        return -EINVAL;
    *ret = v;
    return 0;
}

/* getopt_long() takes an optional argument only as "--watch=N"; "--watch N" and "-w N"
 * are what people type, so those become "--watch=N" here when N is a number. Returns a
 * new argv and sets *ret_argc (the strings it makes live as long as the run). */
static char **
join_watch_arg(int argc, char **argv, int *ret_argc)
{
    char **v = xcalloc((size_t) argc + 1, sizeof(*v));
    int n = 0;
    double s;

    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "--watch") == 0 || strcmp(argv[i], "-w") == 0) && i + 1 < argc &&
            parse_seconds(argv[i + 1], &s) == 0) {
            struct strbuf sb = STRBUF_INIT;

            strbuf_addf(&sb, "--watch=%s", argv[i + 1]);
            v[n++] = strbuf_steal(&sb);
            i++;
            continue;
        }
        v[n++] = argv[i];
    }
    v[n] = NULL;
    *ret_argc = n;
    return v;
}

/* Frees what join_watch_arg() made. */
static void
free_args(char **args, char **argv, int argc)
{
    for (int i = 0; args[i] != NULL; i++) {
        bool ours = true;

        for (int j = 0; j < argc && ours; j++)
            ours = args[i] != argv[j];
        if (ours)
            free(args[i]);
    }
    free(args);
}

static void
show(const struct statview_input *in, const struct term *t, bool json, bool clear)
{
    struct strbuf out = STRBUF_INIT;

    if (clear)
        strbuf_adds(&out, "\033[H\033[2J");
    if (json) {
        statview_render_json(in, &out);
        strbuf_addc(&out, '\n');
    } else {
        statview_render_text(in, t, &out);
    }
    fwrite(strbuf_str(&out), 1, out.len, stdout);
    fflush(stdout);
    strbuf_fini(&out);
}

int
cmd_stats_main(int argc, char **argv)
{
    enum { OPT_NO_AGENT = 256, OPT_WIDTH };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"admin", required_argument, NULL, 'a'},
        {"agent", required_argument, NULL, 'A'},  {"no-agent", no_argument, NULL, OPT_NO_AGENT},
        {"json", no_argument, NULL, 'j'},         {"watch", optional_argument, NULL, 'w'},
        {"count", required_argument, NULL, 'n'},  {"width", required_argument, NULL, OPT_WIDTH},
        {"help", no_argument, NULL, 'h'},         {0},
    };
    const char *config = NULL, *admin = NULL, *agent = NULL;
    bool json = false, watch = false, has_agent = true;
    double interval = STATS_DEFAULT_WATCH_S;
    unsigned width = 0;
    long count = 0;
    struct endpoint md = {0}, ag = {0};
    struct cfg *cfg = NULL;
    const char **labels = NULL;
    struct term term;
    int nargs, c, rc = MESHCTL_EXIT_OK;
    char **args = join_watch_arg(argc, argv, &nargs);

    optind = 0;
    while ((c = getopt_long(nargs, args, "c:a:A:jw::n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'a':
            admin = optarg;
            break;
        case 'A':
            agent = optarg;
            break;
        case OPT_NO_AGENT:
            has_agent = false;
            break;
        case 'j':
            json = true;
            break;
        case 'w':
            watch = true;
            if (optarg != NULL && parse_seconds(optarg, &interval) != 0)
                rc = meshctl_usage_error("stats",
                                         "--watch: not a number of seconds "
                                         "(0.1 to 86400): '%s'",
                                         optarg);
            break;
        case 'n':
            count = optarg ? strtol(optarg, NULL, 10) : 0;
            if (count <= 0)
                rc = meshctl_usage_error("stats", "--count: not a positive number: '%s'", optarg);
            break;
        case OPT_WIDTH:
            if (meshctl_parse_width(optarg, &width) != 0)
                rc = meshctl_usage_error("stats",
                                         "--width: not a column count (40 to 1000): "
                                         "'%s'",
                                         optarg);
            break;
        case 'h':
            stats_usage(stdout);
            free_args(args, argv, argc);
            return MESHCTL_EXIT_OK;
        default:
            rc = meshctl_usage_error("stats", "unknown option");
            break;
        }
        if (rc != MESHCTL_EXIT_OK)
            goto out;
    }
    if (optind < nargs) {
        rc = meshctl_usage_error("stats", "unexpected argument '%s'", args[optind]);
        goto out;
    }
    if (count > 0 && !watch) {
        rc = meshctl_usage_error("stats", "--count goes with --watch");
        goto out;
    }
    if (agent != NULL && !has_agent) {
        rc = meshctl_usage_error("stats", "--agent and --no-agent exclude each other");
        goto out;
    }
    if (admin != NULL && fetch_target_parse(&md.target, admin) != 0) {
        rc = meshctl_usage_error("stats", "--admin: expected HOST:PORT, got '%s'", admin);
        goto out;
    }
    if (fetch_target_parse(&ag.target, agent ? agent : MESHCTL_DEFAULT_AGENT) != 0) {
        rc = meshctl_usage_error("stats", "--agent: expected HOST:PORT, got '%s'", agent);
        goto out;
    }
    if (config != NULL) {
        struct cfg_err err;

        cfg = cfg_load(config, &err);
        if (cfg == NULL) {
            fprintf(stderr, "%smeshctl stats: %s: %u problem%s found\n", err.text, config,
                    err.n_errors, err.n_errors == 1 ? "" : "s");
            rc = MESHCTL_EXIT_UNREACHABLE;
            goto out;
        }
        labels = xcalloc(cfg->n_routers + 1, sizeof(*labels));
        for (size_t i = 0; i < cfg->n_routers; i++)
            labels[i] = cfg->routers[i].label;
        if (admin == NULL)
            fetch_target_set(&md.target, cfg->admin.ip, cfg->admin.port);
    } else if (admin == NULL) {
        (void) fetch_target_parse(&md.target, MESHCTL_DEFAULT_ADMIN);
    }
    term_init(&term, width);

    endpoint_sample(&md);
    if (has_agent)
        endpoint_sample(&ag);
    for (long shown = 0;; shown++) {
        struct statview_input in = {
            .labels = labels,
            .n_labels = cfg ? cfg->n_routers : 0,
            .meshd = {md.target.label, NULL, NULL, NULL, false},
            .has_agent = has_agent,
            .agent = {ag.target.label, NULL, NULL, NULL, false},
        };
        char *collector = NULL;

        /* The first screen needs a second sample of what answered, at most 1 s later;
         * what did not answer is not asked again before the first screen. */
        if (shown > 0)
            sleep_s(interval);
        else if (md.cur != NULL || ag.cur != NULL)
            sleep_s(watch ? MESH_MIN(interval, STATS_FIRST_WAIT_S) : STATS_FIRST_WAIT_S);
        if (shown > 0 || md.cur != NULL)
            endpoint_sample(&md);
        if (has_agent && (shown > 0 || ag.cur != NULL))
            endpoint_sample(&ag);
        if (has_agent && ag.cur != NULL)
            collector = agent_collector(&ag.target);
        in.meshd.prev = md.prev;
        in.meshd.cur = md.cur;
        in.meshd.error = md.error;
        in.meshd.answered = md.answered;
        in.agent.prev = ag.prev;
        in.agent.cur = ag.cur;
        in.agent.error = ag.error;
        in.agent.answered = ag.answered;
        in.collector = collector;
        show(&in, &term, json, watch && term.tty && !json);
        free(collector);
        rc = MESHCTL_EXIT_OK;
        if (md.cur == NULL) {
            rc = MESHCTL_EXIT_UNREACHABLE;
            if (json) /* the screen says it; JSON readers also get it on stderr */
                fprintf(stderr, "meshctl stats: meshd admin %s: %s\n", md.target.label, md.error);
        }
        if (has_agent && ag.cur == NULL) {
            rc = MESHCTL_EXIT_UNREACHABLE;
            if (json)
                fprintf(stderr, "meshctl stats: meshagent admin %s: %s\n", ag.target.label,
                        ag.error);
        }
        if (!watch || (count > 0 && shown + 1 >= count))
            break;
        if (!json && !term.tty)
            fputc('\n', stdout);
    }

out:
    endpoint_fini(&md);
    endpoint_fini(&ag);
    free(labels);
    cfg_free(cfg);
    free_args(args, argv, argc);
    return rc;
}

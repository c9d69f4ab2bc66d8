/* tools/meshctl/cmd_traces.c - `meshctl traces` and `meshctl trace ID`: ask the node's
 * meshagent (or any Zipkin: the same query API, /api/v2/traces and /api/v2/trace/{id})
 * for recent traces or one trace, and draw them with tracetree. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/strbuf.h"
#include "common/util.h"
#include "tools/meshctl/fetch.h"
#include "tools/meshctl/meshctl.h"
#include "tools/meshctl/term.h"
#include "tools/meshctl/tracetree.h"

#define TRACES_DEFAULT_LIMIT 10
#define TRACES_MAX_LIMIT     10000

static void
traces_usage(FILE *f)
{
    fprintf(f,
            "usage: meshctl traces [--agent HOST:PORT] [--service NAME] [--limit N]\n"
            "\n"
            "Lists the most recent traces the node's meshagent keeps (or any Zipkin's query\n"
            "API): trace id, start time, span count, spans with an error tag, duration, and\n"
            "the root span's service and name. `meshctl trace ID` draws one of them.\n"
            "\n"
            "  -A, --agent HOST:PORT  meshagent's admin endpoint, or a Zipkin's query API\n"
            "                         (default %s)\n"
            "  -s, --service NAME     only traces with a span of local service NAME\n"
            "  -l, --limit N          at most N traces (default %d)\n"
            "      --width COLUMNS    lay out for COLUMNS (default: the terminal's, else 80)\n"
            "  -h, --help             show this help\n"
            "\n"
            "Exit status: 0 ok (also when no trace matched), 1 the agent could not be\n"
            "reached or gave no usable answer, 2 usage error.\n",
            MESHCTL_DEFAULT_AGENT, TRACES_DEFAULT_LIMIT);
}

static void
trace_usage(FILE *f)
{
    fprintf(f,
            "usage: meshctl trace [--agent HOST:PORT] ID\n"
            "\n"
            "Draws trace ID (16 or 32 hex digits) as a tree: each span under its parent, with\n"
            "its service, name, kind, duration, a bar showing when it ran within the trace,\n"
            "and its error tag if it has one.\n"
            "\n"
            "  -A, --agent HOST:PORT  meshagent's admin endpoint, or a Zipkin's query API\n"
            "                         (default %s)\n"
            "      --width COLUMNS    lay out for COLUMNS (default: the terminal's, else 80)\n"
            "  -h, --help             show this help\n"
            "\n"
            "Exit status: 0 ok, 1 the agent could not be reached or has no such trace,\n"
            "2 usage error.\n",
            MESHCTL_DEFAULT_AGENT);
}

/* Appends <s> percent-encoded for a query string. */
static void
add_query_value(struct strbuf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~/", c) != NULL)
            strbuf_addc(out, (char) c);
        else
            strbuf_addf(out, "%%%02X", c);
    }
}

/* The first line of a non-JSON error body, for messages. */
static void
first_line(const char *body, char *out, size_t len)
{
    size_t n = strcspn(body, "\r\n");

    snprintf(out, len, "%.*s", (int) MESH_MIN(n, len - 1), body);
}

/* GETs <path> and parses the JSON answer. Returns the parsed document, or NULL after
 * printing why ("meshctl <cmd>: agent HOST:PORT: ..."), except for a 404 the caller
 * explains itself with the first line of the body, copied to <why>; *ret_status gets the
 * HTTP status (0 when there was no response). */
static struct json_object *
get_json(const char *cmd, const struct fetch_target *t, const char *path, int *ret_status,
         char *why, size_t whylen)
{
    struct fetch_result res;
    struct json_tokener *tok;
    struct json_object *doc = NULL;
    char line[200];

    *ret_status = 0;
    why[0] = '\0';
    if (fetch_get(t, path, MESHCTL_TIMEOUT_MS, &res) < 0) {
        fprintf(stderr, "meshctl %s: agent %s could not be reached: %s\n", cmd, t->label, res.err);
        fetch_result_fini(&res);
        return NULL;
    }
    *ret_status = res.status;
    if (res.status == 404) {
        first_line(res.body, why, whylen);
        fetch_result_fini(&res);
        return NULL;
    }
    if (res.status != 200) {
        first_line(res.body, line, sizeof(line));
        fprintf(stderr, "meshctl %s: agent %s: GET %s: HTTP %d%s%s\n", cmd, t->label, path,
                res.status, line[0] ? ": " : "", line);
        fetch_result_fini(&res);
        return NULL;
    }
    tok = json_tokener_new();
    if (tok != NULL)
        doc = json_tokener_parse_ex(tok, res.body, (int) res.body_len);
    if (doc == NULL)
        fprintf(stderr, "meshctl %s: agent %s: GET %s: the answer is not JSON\n", cmd, t->label,
                path);
    json_tokener_free(tok);
    fetch_result_fini(&res);
    return doc;
}

static bool
is_trace_id(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 32 && strspn(s, "0123456789abcdefABCDEF") == n;
}

/* Shared option parsing: --agent, --width, --help, plus --service/--limit for traces. */
struct traces_opts {
    struct fetch_target agent;
    const char *service;
    long limit;
    unsigned width;
};

static int
parse_opts(const char *cmd, bool list, int argc, char **argv, struct traces_opts *o)
{
    enum { OPT_WIDTH = 256 };
    static const struct option opts[] = {
        {"agent", required_argument, NULL, 'A'}, {"service", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'l'}, {"width", required_argument, NULL, OPT_WIDTH},
        {"help", no_argument, NULL, 'h'},        {0},
    };
    const char *agent = MESHCTL_DEFAULT_AGENT;
    char *end;
    int c;

    o->service = NULL;
    o->limit = TRACES_DEFAULT_LIMIT;
    o->width = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, list ? "A:s:l:h" : "A:h", opts, NULL)) != -1) {
        switch (c) {
        case 'A':
            agent = optarg;
            break;
        case 's':
            if (!list)
                return meshctl_usage_error(cmd, "--service goes with `meshctl traces`");
            o->service = optarg;
            break;
        case 'l':
            if (!list)
                return meshctl_usage_error(cmd, "--limit goes with `meshctl traces`");
            errno = 0;
            o->limit = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || o->limit < 1 || o->limit > TRACES_MAX_LIMIT)
                return meshctl_usage_error(cmd, "--limit: not a number from 1 to %d: '%s'",
                                           TRACES_MAX_LIMIT, optarg);
            break;
        case OPT_WIDTH:
            if (meshctl_parse_width(optarg, &o->width) != 0)
                return meshctl_usage_error(cmd,
                                           "--width: not a column count (40 to 1000): "
                                           "'%s'",
                                           optarg);
            break;
        case 'h':
            (list ? traces_usage : trace_usage)(stdout);
            return -1;
        default:
            return meshctl_usage_error(cmd, "unknown option");
        }
    }
    if (fetch_target_parse(&o->agent, agent) != 0)
        return meshctl_usage_error(cmd, "--agent: expected HOST:PORT, got '%s'", agent);
    return MESHCTL_EXIT_OK;
}

int
cmd_traces_main(int argc, char **argv)
{
    struct traces_opts o;
    struct strbuf path = STRBUF_INIT, out = STRBUF_INIT;
    struct json_object *doc;
    struct tracetree **trees = NULL;
    struct term term;
    char why[200];
    size_t n = 0;
    int status, rc;

    rc = parse_opts("traces", true, argc, argv, &o);
    if (rc != MESHCTL_EXIT_OK)
        return rc < 0 ? MESHCTL_EXIT_OK : rc;
    if (optind < argc)
        return meshctl_usage_error("traces", "unexpected argument '%s'", argv[optind]);
    term_init(&term, o.width);
    strbuf_addf(&path, "/api/v2/traces?limit=%ld", o.limit);
    if (o.service != NULL) {
        strbuf_adds(&path, "&serviceName=");
        add_query_value(&path, o.service);
    }
    doc = get_json("traces", &o.agent, strbuf_str(&path), &status, why, sizeof(why));
    if (doc == NULL && status == 404) /* a meshagent shipping to a collector keeps none */
        fprintf(stderr, "meshctl traces: agent %s has no trace query API here: %s\n", o.agent.label,
                why[0] ? why : "404");
    if (doc == NULL) {
        rc = MESHCTL_EXIT_UNREACHABLE;
        goto out;
    }
    if (!json_object_is_type(doc, json_type_array)) {
        fprintf(stderr, "meshctl traces: agent %s: expected a list of traces\n", o.agent.label);
        rc = MESHCTL_EXIT_UNREACHABLE;
        goto out;
    }
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    trees = xcalloc(json_object_array_length(doc) + 1, sizeof(*trees));
    for (size_t i = 0; i < json_object_array_length(doc); i++) {
        char err[160];
        struct tracetree *t = tracetree_new(json_object_array_get_idx(doc, i), err, sizeof(err));

        if (t == NULL) {
            fprintf(stderr, "meshctl traces: agent %s: trace %zu skipped: %s\n", o.agent.label, i,
                    err);
            continue;
        }
        trees[n++] = t;
    }
    if (n == 0)
        strbuf_addf(&out, "no traces%s%s%s\n", o.service ? " with service '" : "",
                    o.service ? o.service : "", o.service ? "'" : "");
    else
        tracetree_render_list(trees, n, &term, &out);
    fwrite(strbuf_str(&out), 1, out.len, stdout);

out:
    for (size_t i = 0; i < n; i++)
        tracetree_free(trees[i]);
    free(trees);
    json_object_put(doc);
    strbuf_fini(&out);
    strbuf_fini(&path);
    return rc;
}

int
cmd_trace_main(int argc, char **argv)
{
    struct traces_opts o;
    struct strbuf path = STRBUF_INIT, out = STRBUF_INIT;
    struct json_object *doc = NULL;
    struct tracetree *t = NULL;
    struct term term;
    char err[160], why[200];
    const char *id;
    int status, rc;

    rc = parse_opts("trace", false, argc, argv, &o);
    if (rc != MESHCTL_EXIT_OK)
        return rc < 0 ? MESHCTL_EXIT_OK : rc;
    if (optind != argc - 1)
        return meshctl_usage_error("trace",
                                   optind >= argc ? "missing trace ID" : "one trace ID only");
    id = argv[optind];
    if (!is_trace_id(id))
        return meshctl_usage_error("trace", "'%s' is not a trace id (1 to 32 hex digits)", id);
    term_init(&term, o.width);
    strbuf_addf(&path, "/api/v2/trace/%s", id);
    doc = get_json("trace", &o.agent, strbuf_str(&path), &status, why, sizeof(why));
    if (doc == NULL) {
        if (status == 404)
            fprintf(stderr, "meshctl trace: trace %s not found at %s\n", id, o.agent.label);
        rc = MESHCTL_EXIT_UNREACHABLE;
        goto out;
    }
    if (json_object_is_type(doc, json_type_array) && json_object_array_length(doc) == 0) {
        fprintf(stderr, "meshctl trace: trace %s not found at %s\n", id, o.agent.label);
        rc = MESHCTL_EXIT_UNREACHABLE;
        goto out;
    }
    t = tracetree_new(doc, err, sizeof(err));
    if (t == NULL) {
        fprintf(stderr, "meshctl trace: agent %s: trace %s: %s\n", o.agent.label, id, err);
        rc = MESHCTL_EXIT_UNREACHABLE;
        goto out;
    }
    tracetree_render(t, &term, &out);
    fwrite(strbuf_str(&out), 1, out.len, stdout);

out:
    tracetree_free(t);
    json_object_put(doc);
    strbuf_fini(&out);
    strbuf_fini(&path);
    return rc;
}

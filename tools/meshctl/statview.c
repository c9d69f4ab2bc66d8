/* tools/meshctl/statview.c - the `meshctl stats` model and its two renderings; see
 * statview.h.
 *
 * The model is rebuilt from the latest sample at every render: routers (config order,
 * then any others in name order), each with its servers, services and clients, found by
 * the names docs/metrics.md lists: every entity has a "<prefix>requests" counter, where
 * <prefix> is "rt/<router>/server/<ip>/<port>/", "rt/<router>/service/<path>/" or
 * "rt/<router>/client/<id>/". Figures that an endpoint does not export stay NAN and are
 * shown as "-" (text) or null (JSON).
 *
 * Rates: (cur - prev) / (t_cur - t_prev) for counters present in both samples; an entity
 * that appeared between the samples counts from 0; a counter that went down (meshd
 * restarted) gives no rate. A router's figures are the sums over its servers; its
 * p50/p99 are the largest of its servers' (an upper bound: percentiles do not add up). */
#include "tools/meshctl/statview.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/util.h"
#include "tools/meshctl/metrics.h"
#include "tools/meshctl/term.h"

enum row_kind {
    ROW_ROUTER = 0,
    ROW_SERVER,
    ROW_SERVICE,
    ROW_CLIENT,
};

struct row {
    enum row_kind kind;
    char *name;   /* as shown: "127.0.0.1:4140", "/svc/hello", "/$/inet/127.0.0.1/7001" */
    char *prefix; /* metric name prefix, ending in '/'; NULL for a router's total */
    double requests, success, failures; /* cumulative; NAN when absent */
    double d_success, d_failures;       /* over the interval; NAN without a prev sample */
    double rps;                         /* requests per second; NAN unknown */
    double p50, p99;                    /* ms, meshd's histogram window */
    double connections, pending, lb_size, removals;
};

struct rows {
    struct row *v;
    size_t n;
};

struct router {
    char *label;
    struct row total;
    struct rows servers, services, clients;
};

struct model {
    struct router *routers;
    size_t n_routers;
    double interval_s; /* between prev and cur; NAN without prev */
};

static const char *const kind_names[] = {"router", "server", "service", "client"};

/* ---- model --------------------------------------------------------------------------- */

static double
get(const struct metrics *m, const char *prefix, const char *leaf)
{
    char name[512];
    double v;

    if (m == NULL)
        return NAN;
    snprintf(name, sizeof(name), "%s%s", prefix, leaf);
    return metrics_get(m, name, &v) ? v : NAN;
}

/* Growth of counter <leaf> between the samples: NAN without a previous sample or when
 * the counter went down; an entity absent from <prev> started from 0. */
static double
delta(const struct statview_src *src, const char *prefix, const char *leaf)
{
    double cur = get(src->cur, prefix, leaf), prev;

    if (src->prev == NULL || isnan(cur))
        return NAN;
    prev = get(src->prev, prefix, leaf);
    if (isnan(prev))
        prev = 0;
    return cur >= prev ? cur - prev : NAN;
}

static double
sample_interval_s(const struct statview_src *src)
{
    uint64_t a, b;

    if (src->prev == NULL || src->cur == NULL)
        return NAN;
    a = metrics_taken_us(src->prev);
    b = metrics_taken_us(src->cur);
    return b > a ? (double) (b - a) / 1e6 : NAN;
}

static void
row_fill(struct row *r, const struct statview_src *src, double dt)
{
    const char *p = r->prefix;
    double d_req = delta(src, p, "requests");

    r->requests = get(src->cur, p, "requests");
    r->success = get(src->cur, p, "success");
    r->failures = get(src->cur, p, "failures");
    r->d_success = delta(src, p, "success");
    r->d_failures = delta(src, p, "failures");
    r->rps = isnan(dt) || isnan(d_req) ? NAN : d_req / dt;
    r->p50 = get(src->cur, p, "request_latency_ms.p50");
    r->p99 = get(src->cur, p, "request_latency_ms.p99");
    r->connections = r->kind == ROW_SERVICE ? NAN : get(src->cur, p, "connections");
    r->pending = get(src->cur, p, "pending");
    r->lb_size = r->kind == ROW_CLIENT ? get(src->cur, p, "loadbalancer/size") : NAN;
    r->removals = r->kind == ROW_CLIENT ? get(src->cur, p, "failure_accrual/removals") : NAN;
}

static struct router *
router_get(struct model *m, const char *label, size_t len)
{
    struct router *r;

    for (size_t i = 0; i < m->n_routers; i++)
        if (strlen(m->routers[i].label) == len && memcmp(m->routers[i].label, label, len) == 0)
            return &m->routers[i];
    m->routers = xrealloc(m->routers, (m->n_routers + 1) * sizeof(*m->routers));
    r = &m->routers[m->n_routers++];
    memset(r, 0, sizeof(*r));
    r->label = xstrndup(label, len);
    r->total.kind = ROW_ROUTER;
    return r;
}

/* Length of the segment at <s> naming an entity kind ("server/" ...), 0 if none. */
static size_t
kind_segment(const char *s, enum row_kind *ret_kind)
{
    for (int k = ROW_SERVER; k <= ROW_CLIENT; k++) {
        size_t n = strlen(kind_names[k]);

        if (strncmp(s, kind_names[k], n) == 0 && s[n] == '/') {
            *ret_kind = (enum row_kind) k;
            return n + 1;
        }
    }
    return 0;
}

/* Length of the router label that <rest> ("<label>/<kind>/...") starts with: the longest
 * configured label followed by a kind segment, else the first path segment. */
static size_t
label_len(const struct statview_input *in, const char *rest)
{
    size_t best = 0;
    enum row_kind k;

    for (size_t i = 0; i < in->n_labels; i++) {
        size_t n = strlen(in->labels[i]);

        if (n > best && strncmp(rest, in->labels[i], n) == 0 && rest[n] == '/' &&
            kind_segment(rest + n + 1, &k) > 0)
            best = n;
    }
    if (best == 0) {
        const char *slash = strchr(rest, '/');

        best = slash ? (size_t) (slash - rest) : 0;
    }
    return best;
}

static void
rows_add(struct rows *rs, enum row_kind kind, const char *id, size_t id_len, const char *prefix,
         size_t prefix_len)
{
    struct row *r;
    struct strbuf name = STRBUF_INIT;

    if (kind == ROW_SERVER) { /* "<ip>/<port>" -> "<ip>:<port>", "[<v6>]:<port>" */
        const char *slash = memrchr(id, '/', id_len);
        size_t ip_len = slash ? (size_t) (slash - id) : id_len;
        bool v6 = memchr(id, ':', ip_len) != NULL;

        strbuf_addf(&name, "%s%.*s%s", v6 ? "[" : "", (int) ip_len, id, v6 ? "]" : "");
        if (slash)
            strbuf_addf(&name, ":%.*s", (int) (id_len - ip_len - 1), slash + 1);
    } else {
        strbuf_addf(&name, "/%.*s", (int) id_len, id);
    }
    rs->v = xrealloc(rs->v, (rs->n + 1) * sizeof(*rs->v));
    r = &rs->v[rs->n++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->name = strbuf_steal(&name);
    r->prefix = xstrndup(prefix, prefix_len);
}

static int
row_by_name(const void *a, const void *b)
{
    return strcmp(((const struct row *) a)->name, ((const struct row *) b)->name);
}

static int
router_by_label(const void *a, const void *b)
{
    return strcmp(((const struct router *) a)->label, ((const struct router *) b)->label);
}

static double
sum_or_nan(double acc, double v)
{
    return isnan(v) ? acc : (isnan(acc) ? v : acc + v);
}

static double
max_or_nan(double acc, double v)
{
    return isnan(v) ? acc : (isnan(acc) || v > acc ? v : acc);
}

static void
router_total(struct router *r)
{
    struct row *t = &r->total;
    bool all_rates = r->servers.n > 0;

    t->requests = t->success = t->failures = t->d_success = t->d_failures = NAN;
    t->rps = t->p50 = t->p99 = t->connections = t->pending = NAN;
    t->lb_size = t->removals = NAN;
    for (size_t i = 0; i < r->servers.n; i++) {
        const struct row *s = &r->servers.v[i];

        t->requests = sum_or_nan(t->requests, s->requests);
        t->success = sum_or_nan(t->success, s->success);
        t->failures = sum_or_nan(t->failures, s->failures);
        t->d_success = sum_or_nan(t->d_success, s->d_success);
        t->d_failures = sum_or_nan(t->d_failures, s->d_failures);
        t->rps = sum_or_nan(t->rps, s->rps);
        all_rates = all_rates && !isnan(s->rps);
        t->p50 = max_or_nan(t->p50, s->p50);
        t->p99 = max_or_nan(t->p99, s->p99);
        t->connections = sum_or_nan(t->connections, s->connections);
        t->pending = sum_or_nan(t->pending, s->pending);
    }
    if (!all_rates)
        t->rps = NAN;
}

static void
model_build(struct model *m, const struct statview_input *in)
{
    const struct statview_src *src = &in->meshd;
    const struct metrics *cur = src->cur;
    static const char leaf[] = "/requests";
    size_t n_config;

    memset(m, 0, sizeof(*m));
    m->interval_s = sample_interval_s(src);
    for (size_t i = 0; i < in->n_labels; i++)
        (void) router_get(m, in->labels[i], strlen(in->labels[i]));
    n_config = m->n_routers; /* labels may repeat in a broken config */
    if (cur == NULL)
        return;
    for (size_t i = metrics_lower_bound(cur, "rt/"); i < metrics_count(cur); i++) {
        const char *name = metrics_name(cur, i), *rest = name + 3, *id;
        size_t len = strlen(name), llen, klen, id_len;
        enum row_kind kind = ROW_SERVER;
        struct router *r;

        if (strncmp(name, "rt/", 3) != 0)
            break;
        if (len < 3 + sizeof(leaf) || strcmp(name + len - (sizeof(leaf) - 1), leaf) != 0)
            continue;
        llen = label_len(in, rest);
        if (llen == 0 || rest[llen] != '/')
            continue;
        klen = kind_segment(rest + llen + 1, &kind);
        if (klen == 0)
            continue;
        id = rest + llen + 1 + klen;
        if (id >= name + len - (sizeof(leaf) - 1))
            continue; /* empty id */
        id_len = (size_t) (name + len - (sizeof(leaf) - 1) - id);
        r = router_get(m, rest, llen);
        rows_add(kind == ROW_SERVER    ? &r->servers
                 : kind == ROW_SERVICE ? &r->services
                                       : &r->clients,
                 kind, id, id_len, name, len - (sizeof(leaf) - 2));
    }
    if (m->n_routers > n_config)
        qsort(m->routers + n_config, m->n_routers - n_config, sizeof(*m->routers), router_by_label);
    for (size_t i = 0; i < m->n_routers; i++) {
        struct router *r = &m->routers[i];
        struct rows *lists[] = {&r->servers, &r->services, &r->clients};

        for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
            if (lists[l]->n > 1)
                qsort(lists[l]->v, lists[l]->n, sizeof(struct row), row_by_name);
            for (size_t j = 0; j < lists[l]->n; j++)
                row_fill(&lists[l]->v[j], src, m->interval_s);
        }
        router_total(r);
    }
}

static void
rows_fini(struct rows *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->v[i].name);
        free(rs->v[i].prefix);
    }
    free(rs->v);
    rs->v = NULL;
    rs->n = 0;
}

static void
model_fini(struct model *m)
{
    for (size_t i = 0; i < m->n_routers; i++) {
        free(m->routers[i].label);
        rows_fini(&m->routers[i].servers);
        rows_fini(&m->routers[i].services);
        rows_fini(&m->routers[i].clients);
    }
    free(m->routers);
    m->routers = NULL;
    m->n_routers = 0;
}

/* Success rate over the interval, NAN when nothing completed in it. */
static double
success_window(const struct row *r)
{
    double n = r->d_success + r->d_failures;

    return isnan(n) || n <= 0 ? NAN : r->d_success / n;
}

static double
success_total(const struct row *r)
{
    double s = isnan(r->success) ? 0 : r->success, f = isnan(r->failures) ? 0 : r->failures;

    return s + f > 0 ? s / (s + f) : NAN;
}

/* ---- text ---------------------------------------------------------------------------- */

/* Column widths after the name column; the name column takes what is left. */
#define COL_RPS    7 /* fmt_rate(): up to "9999.9" */
#define COL_SUCC   7 /* "100.00%" */
#define COL_LAT    6 /* term_fmt_us() */
#define COL_CONN   4 /* fmt_count(): up to 4 */
#define COL_PEND   4
#define COL_LB     3
#define COL_RM     3
#define COLS_FIXED (COL_RPS + COL_SUCC + 2 * COL_LAT + COL_CONN + COL_PEND + COL_LB + COL_RM + 8)

/* At most 4 columns: "9999", "999k", "999M", "-". */
static void
fmt_count(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (v < 9999.5)
        snprintf(buf, len, "%.0f", v);
    else if (v < 999.5e3)
        snprintf(buf, len, "%.0fk", v / 1e3);
    else if (v < 999.5e6)
        snprintf(buf, len, "%.0fM", v / 1e6);
    else
        snprintf(buf, len, "%.0fG", v / 1e9);
}

static void
fmt_rate(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (v < 9999.95)
        snprintf(buf, len, "%.1f", v);
    else if (v < 9999999.5)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.1fM", v / 1e6);
}

static void
fmt_pct(char *buf, size_t len, double ratio)
{
    if (isnan(ratio))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.2f%%", ratio * 100.0);
}

static void
fmt_ms(char *buf, size_t len, double ms)
{
    term_fmt_us(buf, len, isnan(ms) ? -1 : ms * 1000.0);
}

static void
add_col(struct strbuf *out, const struct term *t, const char *s, size_t cols)
{
    strbuf_addc(out, ' ');
    term_add_fit(out, t, s, cols, true);
}

/* Ends the line, dropping the spaces that blank columns left at its end. */
static void
end_line(struct strbuf *out)
{
    while (out->len > 0 && out->s[out->len - 1] == ' ')
        out->len--;
    strbuf_addc(out, '\n');
}

/* One line: <lead> (indentation and kind, kept whole) then <name>, cut in the middle
 * when the name column is too narrow, then the figures. */
static void
add_row(struct strbuf *out, const struct term *t, size_t name_cols, const char *lead,
        const char *name, const struct row *r)
{
    char b[32];
    double sr = success_window(r);

    size_t lead_cols = term_cols(lead);

    if (lead_cols > name_cols / 2) { /* narrow: keep the indentation only */
        lead = lead[0] == ' ' ? "  " : "";
        lead_cols = term_cols(lead);
    }
    term_add_fit(out, t, lead, lead_cols, false);
    term_add_fit(out, t, name, name_cols - lead_cols, false);
    fmt_rate(b, sizeof(b), r->rps);
    add_col(out, t, b, COL_RPS);
    fmt_pct(b, sizeof(b), isnan(sr) ? success_total(r) : sr);
    add_col(out, t, b, COL_SUCC);
    fmt_ms(b, sizeof(b), r->p50);
    add_col(out, t, b, COL_LAT);
    fmt_ms(b, sizeof(b), r->p99);
    add_col(out, t, b, COL_LAT);
    fmt_count(b, sizeof(b), r->connections);
    add_col(out, t, r->kind == ROW_SERVICE ? "" : b, COL_CONN);
    fmt_count(b, sizeof(b), r->pending);
    add_col(out, t, b, COL_PEND);
    if (r->kind == ROW_CLIENT) {
        fmt_count(b, sizeof(b), r->lb_size);
        add_col(out, t, b, COL_LB);
        fmt_count(b, sizeof(b), r->removals);
        add_col(out, t, b, COL_RM);
    }
    end_line(out);
}

/* Appends <line> and a newline, wrapped at spaces to the width; continuation lines are
 * indented by 4. A word longer than a line is cut in the middle. */
static void
add_wrapped(struct strbuf *out, const struct term *t, const char *line)
{
    const char *p = line;
    size_t indent = 0;

    while (*p) {
        size_t room = t->width - indent, cols = term_cols(p), cut = 0, col = 0;
        char *piece;

        term_add_spaces(out, indent);
        if (cols <= room) {
            strbuf_adds(out, p);
            break;
        }
        for (size_t i = 0; p[i] && col <= room; i++) { /* last space within the room */
            if ((p[i] & 0xc0) == 0x80)
                continue;
            if (p[i] == ' ')
                cut = i;
            col++;
        }
        if (cut == 0) { /* one long word: keep its ends */
            term_add_fit(out, t, p, room, false);
            break;
        }
        piece = xstrndup(p, cut);
        strbuf_adds(out, piece);
        free(piece);
        strbuf_addc(out, '\n');
        p += cut + 1;
        indent = 4;
    }
    strbuf_addc(out, '\n');
}

/* "<what> <label>: UNREACHABLE: <error>", or BAD ANSWER when it answered something else
 * than metrics */
static void
add_unreachable(struct strbuf *out, const struct term *t, const char *what,
                const struct statview_src *src)
{
    struct strbuf line = STRBUF_INIT;

    strbuf_addf(&line, "%s %s: %s: %s", what, src->label,
                src->answered ? "BAD ANSWER" : "UNREACHABLE",
                src->error ? src->error : "no answer");
    add_wrapped(out, t, strbuf_str(&line));
    strbuf_fini(&line);
}

static double
mget(const struct metrics *m, const char *name)
{
    double v;

    return m != NULL && metrics_get(m, name, &v) ? v : NAN;
}

static void
render_meshd_text(const struct statview_input *in, const struct model *m, const struct term *t,
                  struct strbuf *out)
{
    const struct metrics *cur = in->meshd.cur;
    size_t name_cols = t->width > COLS_FIXED + 12 ? t->width - COLS_FIXED : 12;
    char b[4][32];
    struct strbuf name = STRBUF_INIT;

    if (cur == NULL) {
        add_unreachable(out, t, "meshd", &in->meshd);
        return;
    }
    fmt_count(b[0], sizeof(b[0]), mget(cur, "meshd/workers"));
    fmt_count(b[1], sizeof(b[1]), mget(cur, "meshd/reloads"));
    fmt_count(b[2], sizeof(b[2]), mget(cur, "meshd/reload_failures"));
    fmt_count(b[3], sizeof(b[3]), mget(cur, "meshd/worker_deaths"));
    strbuf_addf(&name, "meshd %s: %s workers, %s reloads (%s failed), %s worker deaths",
                in->meshd.label, b[0], b[1], b[2], b[3]);
    add_wrapped(out, t, strbuf_str(&name));
    strbuf_reset(&name);
    if (!isnan(mget(cur, "telemetry/spans/recorded"))) {
        fmt_count(b[0], sizeof(b[0]), mget(cur, "telemetry/spans/recorded"));
        fmt_count(b[1], sizeof(b[1]), mget(cur, "telemetry/spans/sent"));
        fmt_count(b[2], sizeof(b[2]), mget(cur, "telemetry/spans/dropped/agent_unavailable"));
        strbuf_addf(out, "  spans: %s recorded, %s sent to the agent, %s dropped (agent down)\n",
                    b[0], b[1], b[2]);
    }
    if (m->n_routers == 0) {
        strbuf_adds(out, "  no routers\n");
        strbuf_fini(&name);
        return;
    }
    term_add_fit(out, t, "ROUTER / SERVICE / CLIENT", name_cols, false);
    add_col(out, t, "REQ/S", COL_RPS);
    add_col(out, t, "SUCCESS", COL_SUCC);
    add_col(out, t, "P50", COL_LAT);
    add_col(out, t, "P99", COL_LAT);
    add_col(out, t, "CONN", COL_CONN);
    add_col(out, t, "PEND", COL_PEND);
    add_col(out, t, "LB", COL_LB);
    add_col(out, t, "RM", COL_RM);
    end_line(out);
    for (size_t i = 0; i < m->n_routers; i++) {
        const struct router *r = &m->routers[i];

        strbuf_reset(&name);
        if (r->servers.n == 1) /* the usual case: the router and its server on one line */
            strbuf_addf(&name, "%s ", r->label);
        add_row(out, t, name_cols, r->servers.n == 1 ? strbuf_str(&name) : "",
                r->servers.n == 1 ? r->servers.v[0].name : r->label, &r->total);
        for (size_t j = 0; r->servers.n > 1 && j < r->servers.n; j++)
            add_row(out, t, name_cols, "  server ", r->servers.v[j].name, &r->servers.v[j]);
        for (size_t j = 0; j < r->services.n; j++)
            add_row(out, t, name_cols, "  service ", r->services.v[j].name, &r->services.v[j]);
        for (size_t j = 0; j < r->clients.n; j++)
            add_row(out, t, name_cols, "  client ", r->clients.v[j].name, &r->clients.v[j]);
    }
    strbuf_fini(&name);
}

static void
render_agent_text(const struct statview_input *in, const struct term *t, struct strbuf *out)
{
    const struct metrics *cur = in->agent.cur;
    struct strbuf line = STRBUF_INIT;
    char b[6][32];
    double reach = mget(cur, "meshagent/collector/reachable");
    bool any_reason = false;

    if (cur == NULL) {
        add_unreachable(out, t, "agent", &in->agent);
        return;
    }
    strbuf_addf(&line, "agent %s: ", in->agent.label);
    if (in->collector != NULL && in->collector[0] == '\0') {
        fmt_count(b[0], sizeof(b[0]), mget(cur, "meshagent/store/traces"));
        strbuf_addf(&line, "no collector, %s traces in the local store", b[0]);
    } else {
        /* meshagent's gauge: 1 reachable, 0 not, -1 not tried yet */
        strbuf_addf(&line, "collector %s%s%s",
                    isnan(reach) ? "state unknown"
                    : reach > 0  ? "reachable"
                    : reach == 0 ? "UNREACHABLE"
                                 : "not contacted yet",
                    in->collector ? ": " : "", in->collector ? in->collector : "");
    }
    add_wrapped(out, t, strbuf_str(&line));
    fmt_count(b[0], sizeof(b[0]), mget(cur, "meshagent/spans/received"));
    fmt_count(b[1], sizeof(b[1]), mget(cur, "meshagent/spans/shipped"));
    fmt_count(b[2], sizeof(b[2]), mget(cur, "meshagent/spans/dropped"));
    fmt_count(b[3], sizeof(b[3]), mget(cur, "meshagent/spans/pending"));
    fmt_count(b[4], sizeof(b[4]), mget(cur, "meshagent/queue/spans"));
    fmt_count(b[5], sizeof(b[5]), mget(cur, "meshagent/queue/bytes"));
    strbuf_addf(out, "  spans: %s received, %s shipped, %s dropped, %s pending\n", b[0], b[1], b[2],
                b[3]);
    strbuf_reset(&line);
    strbuf_addf(&line, "  queue: %s spans, %s bytes", b[4], b[5]);
    if (!isnan(mget(cur, "meshagent/spool/spans"))) { /* agents with a spool */
        fmt_count(b[4], sizeof(b[4]), mget(cur, "meshagent/spool/spans"));
        fmt_count(b[5], sizeof(b[5]), mget(cur, "meshagent/spool/bytes"));
        strbuf_addf(&line, "; spool: %s spans, %s bytes", b[4], b[5]);
    }
    fmt_count(b[0], sizeof(b[0]), mget(cur, "meshagent/records/invalid"));
    strbuf_addf(&line, "; invalid records: %s", b[0]);
    add_wrapped(out, t, strbuf_str(&line));
    strbuf_reset(&line);
    {
        static const char prefix[] = "meshagent/spans/dropped/";

        for (size_t i = metrics_lower_bound(cur, prefix); i < metrics_count(cur); i++) {
            const char *name = metrics_name(cur, i);

            if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
                break;
            if (metrics_value(cur, i) <= 0)
                continue;
            fmt_count(b[0], sizeof(b[0]), metrics_value(cur, i));
            strbuf_addf(&line, "%s%s %s",
                        any_reason ? ", " : "  dropped: ", name + sizeof(prefix) - 1, b[0]);
            any_reason = true;
        }
    }
    if (any_reason)
        add_wrapped(out, t, strbuf_str(&line));
    strbuf_fini(&line);
}

void
statview_render_text(const struct statview_input *in, const struct term *t, struct strbuf *out)
{
    struct model m;
    struct strbuf legend = STRBUF_INIT;

    model_build(&m, in);
    render_meshd_text(in, &m, t, out);
    if (in->has_agent)
        render_agent_text(in, t, out);
    if (in->meshd.cur != NULL && m.n_routers > 0) {
        if (isnan(m.interval_s))
            strbuf_adds(&legend, "req/s: needs two samples;");
        else
            strbuf_addf(&legend, "req/s and success over the last %.1f s", m.interval_s);
        strbuf_adds(&legend, " (success since start when idle); p50/p99 over meshd's 60 s "
                             "window; LB: load balancer size; RM: failure accrual removals.");
        add_wrapped(out, t, strbuf_str(&legend));
    }
    strbuf_fini(&legend);
    model_fini(&m);
}

/* ---- JSON ---------------------------------------------------------------------------- */

static void
add_num(struct strbuf *out, double v)
{
    if (isnan(v) || isinf(v))
        strbuf_adds(out, "null");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        strbuf_addf(out, "%.0f", v);
    else
        strbuf_addf(out, "%.15g", v);
}

static void
add_key_num(struct strbuf *out, const char *key, double v)
{
    strbuf_addf(out, ",\"%s\":", key);
    add_num(out, v);
}

static void
add_str(struct strbuf *out, const char *s)
{
    if (s == NULL)
        strbuf_adds(out, "null");
    else
        strbuf_add_json_str(out, s, strlen(s));
}

static void
json_row(struct strbuf *out, const struct row *r)
{
    strbuf_addc(out, '{');
    if (r->name != NULL) { /* a router's total has neither */
        strbuf_adds(out, "\"name\":");
        add_str(out, r->name);
        strbuf_adds(out, ",\"metric_prefix\":");
        add_str(out, r->prefix);
        strbuf_addc(out, ',');
    }
    strbuf_adds(out, "\"requests\":");
    add_num(out, r->requests);
    add_key_num(out, "success", r->success);
    add_key_num(out, "failures", r->failures);
    add_key_num(out, "rps", r->rps);
    add_key_num(out, "success_rate", success_window(r));
    add_key_num(out, "success_rate_total", success_total(r));
    add_key_num(out, "p50_ms", r->p50);
    add_key_num(out, "p99_ms", r->p99);
    if (r->kind != ROW_SERVICE)
        add_key_num(out, "connections", r->connections);
    add_key_num(out, "pending", r->pending);
    if (r->kind == ROW_CLIENT) {
        add_key_num(out, "loadbalancer_size", r->lb_size);
        add_key_num(out, "failure_accrual_removals", r->removals);
    }
    strbuf_addc(out, '}');
}

static void
json_rows(struct strbuf *out, const char *key, const struct rows *rs)
{
    strbuf_addf(out, ",\"%s\":[", key);
    for (size_t i = 0; i < rs->n; i++) {
        if (i > 0)
            strbuf_addc(out, ',');
        json_row(out, &rs->v[i]);
    }
    strbuf_addc(out, ']');
}

static void
json_src_head(struct strbuf *out, const struct statview_src *src)
{
    strbuf_adds(out, "{\"admin\":");
    add_str(out, src->label);
    strbuf_addf(out, ",\"reachable\":%s,\"error\":", src->cur ? "true" : "false");
    add_str(out, src->cur ? NULL : src->error ? src->error : "no answer");
}

static void
json_meshd(const struct statview_input *in, const struct model *m, struct strbuf *out)
{
    const struct metrics *cur = in->meshd.cur;

    json_src_head(out, &in->meshd);
    if (cur != NULL) {
        add_key_num(out, "workers", mget(cur, "meshd/workers"));
        add_key_num(out, "reloads", mget(cur, "meshd/reloads"));
        add_key_num(out, "reload_failures", mget(cur, "meshd/reload_failures"));
        add_key_num(out, "worker_deaths", mget(cur, "meshd/worker_deaths"));
        add_key_num(out, "spans_recorded", mget(cur, "telemetry/spans/recorded"));
        add_key_num(out, "spans_sent", mget(cur, "telemetry/spans/sent"));
        add_key_num(out, "spans_dropped_agent_unavailable",
                    mget(cur, "telemetry/spans/dropped/agent_unavailable"));
        strbuf_adds(out, ",\"routers\":[");
        for (size_t i = 0; i < m->n_routers; i++) {
            const struct router *r = &m->routers[i];

            strbuf_adds(out, i > 0 ? ",{\"label\":" : "{\"label\":");
            add_str(out, r->label);
            strbuf_adds(out, ",\"total\":");
            json_row(out, &r->total);
            json_rows(out, "servers", &r->servers);
            json_rows(out, "services", &r->services);
            json_rows(out, "clients", &r->clients);
            strbuf_addc(out, '}');
        }
        strbuf_addc(out, ']');
    }
    strbuf_addc(out, '}');
}

static void
json_agent(const struct statview_input *in, struct strbuf *out)
{
    static const char prefix[] = "meshagent/spans/dropped/";
    const struct metrics *cur = in->agent.cur;

    json_src_head(out, &in->agent);
    if (cur != NULL) {
        double reach = mget(cur, "meshagent/collector/reachable");

        strbuf_adds(out, ",\"collector\":");
        add_str(out, in->collector);
        strbuf_addf(out, ",\"collector_reachable\":%s",
                    isnan(reach) || reach < 0 ? "null" /* -1: not tried yet */
                    : reach > 0               ? "true"
                                              : "false");
        add_key_num(out, "spans_received", mget(cur, "meshagent/spans/received"));
        add_key_num(out, "spans_shipped", mget(cur, "meshagent/spans/shipped"));
        add_key_num(out, "spans_dropped", mget(cur, "meshagent/spans/dropped"));
        add_key_num(out, "spans_pending", mget(cur, "meshagent/spans/pending"));
        add_key_num(out, "queue_spans", mget(cur, "meshagent/queue/spans"));
        add_key_num(out, "queue_bytes", mget(cur, "meshagent/queue/bytes"));
        add_key_num(out, "spool_spans", mget(cur, "meshagent/spool/spans"));
        add_key_num(out, "spool_bytes", mget(cur, "meshagent/spool/bytes"));
        add_key_num(out, "store_traces", mget(cur, "meshagent/store/traces"));
        add_key_num(out, "records_invalid", mget(cur, "meshagent/records/invalid"));
        strbuf_adds(out, ",\"dropped\":{");
        for (size_t i = metrics_lower_bound(cur, prefix), n = 0; i < metrics_count(cur); i++) {
            const char *name = metrics_name(cur, i) + sizeof(prefix) - 1;

            if (strncmp(metrics_name(cur, i), prefix, sizeof(prefix) - 1) != 0)
                break;
            if (n++ > 0)
                strbuf_addc(out, ',');
            add_str(out, name);
            strbuf_addc(out, ':');
            add_num(out, metrics_value(cur, i));
        }
        strbuf_addc(out, '}');
    }
    strbuf_addc(out, '}');
}

void
statview_render_json(const struct statview_input *in, struct strbuf *out)
{
    struct model m;

    model_build(&m, in);
    strbuf_adds(out, "{\"interval_s\":");
    add_num(out, m.interval_s);
    strbuf_adds(out, ",\"meshd\":");
    json_meshd(in, &m, out);
    strbuf_adds(out, ",\"agent\":");
    if (in->has_agent)
        json_agent(in, out);
    else
        strbuf_adds(out, "null");
    strbuf_addc(out, '}');
    model_fini(&m);
}

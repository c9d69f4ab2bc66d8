/* tools/meshctl/tracetree.c - Zipkin spans as a tree, drawn for a terminal; see
 * tracetree.h.
 *
 * Building: every span becomes a node; nodes are sorted by id once so parent lookups are
 * binary searches. A span's parent is, in Zipkin's order of preference: for a shared
 * SERVER span, the unshared span with the same id (the client side of the same RPC);
 * otherwise the span named by parentId, the shared (server) half when both halves are
 * present, since what a server does hangs under its server span. Parent links that form
 * a cycle are cut, so every node is reached exactly once from the roots. Siblings (and
 * roots) are ordered by start time, then name, then id.
 *
 * Drawing: the line is [indented "service: name"][kind][duration][|time bar|]. The bar
 * spans the whole trace, earliest start to latest end, and each span covers the cells
 * its interval touches (at least one). */
#include "tools/meshctl/tracetree.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "common/strbuf.h"
#include "common/util.h"
#include "tools/meshctl/term.h"

#define NO_PARENT  ((size_t) -1)
#define KIND_COLS  6
#define TIME_COLS  6
#define MAX_INDENT 24 /* columns; deeper levels stop moving right */

struct tnode {
    char *id;
    char *parent_id; /* NULL for a root span */
    char *service;   /* localEndpoint.serviceName, "" when absent */
    char *name;      /* "" when absent */
    char *kind;      /* "SERVER", "CLIENT", "PRODUCER", "CONSUMER" or "" */
    char *error;     /* the "error" tag, NULL when absent */
    int64_t ts_us;   /* epoch microseconds, -1 unknown */
    int64_t dur_us;  /* -1 unknown */
    bool shared;
    size_t parent; /* index, NO_PARENT for a root */
    size_t depth;  /* levels below its root, set by the walk */
};

struct tracetree {
    char *trace_id;
    struct tnode *nodes;
    size_t n;
    size_t *order;    /* node indices in display order */
    int64_t start_us; /* -1 when no span has a timestamp */
    int64_t end_us;
    size_t n_errors;
    size_t n_services;
};

/* ---- building -------------------------------------------------------------------------- */

static const char *
jstr(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int64_t
jint(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v))
        return -1;
    if (json_object_is_type(v, json_type_int))
        return json_object_get_int64(v);
    if (json_object_is_type(v, json_type_double))
        return (int64_t) json_object_get_double(v);
    return -1;
}

static char *
dup_or(const char *s, const char *def)
{
    return s != NULL ? xstrdup(s) : def != NULL ? xstrdup(def) : NULL;
}

static void
node_from_json(struct tnode *n, struct json_object *o)
{
    struct json_object *ep, *tags, *sh;
    const char *service = NULL, *error = NULL;

    if (json_object_object_get_ex(o, "localEndpoint", &ep) &&
        json_object_is_type(ep, json_type_object))
        service = jstr(ep, "serviceName");
    if (json_object_object_get_ex(o, "tags", &tags) && json_object_is_type(tags, json_type_object))
        error = jstr(tags, "error");
    n->id = xstrdup(jstr(o, "id"));
    n->parent_id = dup_or(jstr(o, "parentId"), NULL);
    n->service = dup_or(service, "");
    n->name = dup_or(jstr(o, "name"), "");
    n->kind = dup_or(jstr(o, "kind"), "");
    n->error = dup_or(error, NULL);
    n->ts_us = jint(o, "timestamp");
    n->dur_us = jint(o, "duration");
    n->shared = json_object_object_get_ex(o, "shared", &sh) && json_object_get_boolean(sh);
    n->parent = NO_PARENT;
}

/* Orders node indices by node id (qsort_r() with the node array as context). */
static int
by_id(const void *a, const void *b, void *nodes)
{
    const struct tnode *v = nodes;

    return strcmp(v[*(const size_t *) a].id, v[*(const size_t *) b].id);
}

/* The range [*ret_lo, *ret_hi) of <idx> (sorted by id) whose nodes have id <id>. */
static void
find_range(const struct tracetree *t, const size_t *idx, const char *id, size_t *ret_lo,
           size_t *ret_hi)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(t->nodes[idx[mid]].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *ret_lo = lo;
    for (hi = lo; hi < t->n && strcmp(t->nodes[idx[hi]].id, id) == 0;)
        hi++;
    *ret_hi = hi;
}

static void
link_parents(struct tracetree *t)
{
    size_t *idx = xcalloc(t->n, sizeof(*idx));

    for (size_t i = 0; i < t->n; i++)
        idx[i] = i;
    qsort_r(idx, t->n, sizeof(*idx), by_id, t->nodes);
    for (size_t i = 0; i < t->n; i++) {
        struct tnode *n = &t->nodes[i];
        size_t lo, hi, best = NO_PARENT;

        if (n->shared && strcmp(n->kind, "SERVER") == 0) {
            find_range(t, idx, n->id, &lo, &hi);
            for (size_t k = lo; k < hi; k++)
                if (idx[k] != i && !t->nodes[idx[k]].shared)
                    best = idx[k];
        }
        if (best == NO_PARENT && n->parent_id != NULL && strcmp(n->parent_id, n->id) != 0) {
            find_range(t, idx, n->parent_id, &lo, &hi);
            for (size_t k = lo; k < hi; k++)
                if (idx[k] != i && (best == NO_PARENT || t->nodes[idx[k]].shared))
                    best = idx[k];
        }
        n->parent = best;
    }
    free(idx);
}

/* Cuts parent links that close a cycle: the node whose link closes it becomes a root. */
static void
break_cycles(struct tracetree *t)
{
    unsigned char *state = xcalloc(t->n, 1); /* 0 new, 1 on the current path, 2 done */
    size_t *path = xcalloc(t->n, sizeof(*path));

    for (size_t i = 0; i < t->n; i++) {
        size_t cur = i, len = 0;

        while (cur != NO_PARENT && state[cur] == 0) {
            state[cur] = 1;
            path[len++] = cur;
            cur = t->nodes[cur].parent;
        }
        if (cur != NO_PARENT && state[cur] == 1)
            t->nodes[path[len - 1]].parent = NO_PARENT;
        for (size_t k = 0; k < len; k++)
            state[path[k]] = 2;
    }
    free(path);
    free(state);
}

/* Orders node indices by start time (unknown last), name, id. */
static int
by_start(const void *a, const void *b, void *nodes)
{
    const struct tnode *x = (const struct tnode *) nodes + *(const size_t *) a;
    const struct tnode *y = (const struct tnode *) nodes + *(const size_t *) b;
    int r;

    if ((x->ts_us < 0) != (y->ts_us < 0))
        return x->ts_us < 0 ? 1 : -1; /* unknown start last */
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    r = strcmp(x->name, y->name);
    return r != 0 ? r : strcmp(x->id, y->id);
}

/* Fills t->order: a depth-first walk from the roots, children by start time. */
static void
walk(struct tracetree *t)
{
    size_t *n_children = xcalloc(t->n + 1, sizeof(*n_children));
    size_t *first = xcalloc(t->n + 2, sizeof(*first)); /* slot n: the roots */
    size_t *kids = xcalloc(t->n, sizeof(*kids));
    size_t *fill = xcalloc(t->n + 1, sizeof(*fill));
    size_t *stack = xcalloc(t->n, sizeof(*stack));
    size_t n_stack = 0, n_order = 0;

    for (size_t i = 0; i < t->n; i++) {
        size_t p = t->nodes[i].parent;

        n_children[p == NO_PARENT ? t->n : p]++;
    }
    for (size_t p = 0; p <= t->n; p++)
        first[p + 1] = first[p] + n_children[p];
    for (size_t i = 0; i < t->n; i++) {
        size_t p = t->nodes[i].parent == NO_PARENT ? t->n : t->nodes[i].parent;

        kids[first[p] + fill[p]++] = i;
    }
    for (size_t p = 0; p <= t->n; p++)
        if (n_children[p] > 1)
            qsort_r(kids + first[p], n_children[p], sizeof(*kids), by_start, t->nodes);
    for (size_t k = n_children[t->n]; k > 0; k--) /* roots, first one on top */
        stack[n_stack++] = kids[first[t->n] + k - 1];
    while (n_stack > 0) {
        size_t i = stack[--n_stack];
        size_t p = t->nodes[i].parent;

        t->nodes[i].depth = p == NO_PARENT ? 0 : t->nodes[p].depth + 1;
        t->order[n_order++] = i;
        for (size_t k = n_children[i]; k > 0; k--)
            stack[n_stack++] = kids[first[i] + k - 1];
    }
    MESH_BUG_ON(n_order != t->n);
    free(stack);
    free(fill);
    free(kids);
    free(first);
    free(n_children);
}

static void
totals(struct tracetree *t)
{
    t->start_us = t->end_us = -1;
    for (size_t i = 0; i < t->n; i++) {
        const struct tnode *n = &t->nodes[i];
        int64_t end = n->ts_us + (n->dur_us > 0 ? n->dur_us : 0);
        bool seen = false;

        if (n->error != NULL)
            t->n_errors++;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(t->nodes[k].service, n->service) == 0;
        t->n_services += !seen;
        if (n->ts_us < 0)
            continue;
        if (t->start_us < 0 || n->ts_us < t->start_us)
            t->start_us = n->ts_us;
        if (end > t->end_us)
            t->end_us = end;
    }
}

struct tracetree *
tracetree_new(struct json_object *spans, char *err, size_t errlen)
{
    struct tracetree *t;
    size_t n;

    if (!json_object_is_type(spans, json_type_array)) {
        snprintf(err, errlen, "a trace is a JSON array of spans");
        return NULL;
    }
    n = json_object_array_length(spans);
    if (n == 0) {
        snprintf(err, errlen, "the trace has no spans");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_array_get_idx(spans, i);

        if (!json_object_is_type(o, json_type_object) || jstr(o, "id") == NULL) {
            snprintf(err, errlen, "span %zu: not an object with an \"id\"", i);
            return NULL;
        }
    }
    t = xcalloc(1, sizeof(*t));
    t->n = n;
    t->nodes = xcalloc(n, sizeof(*t->nodes));
    t->order = xcalloc(n, sizeof(*t->order));
    for (size_t i = 0; i < n; i++)
        node_from_json(&t->nodes[i], json_object_array_get_idx(spans, i));
    t->trace_id = dup_or(jstr(json_object_array_get_idx(spans, 0), "traceId"), "");
    link_parents(t);
    break_cycles(t);
    walk(t);
    totals(t);
    return t;
}

struct tracetree *
tracetree_free(struct tracetree *t)
{
    if (t == NULL)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        struct tnode *n = &t->nodes[i];

        free(n->id);
        free(n->parent_id);
        free(n->service);
        free(n->name);
        free(n->kind);
        free(n->error);
    }
    free(t->nodes);
    free(t->order);
    free(t->trace_id);
    free(t);
    return NULL;
}

void
tracetree_summary(const struct tracetree *t, struct tracetree_summary *ret)
{
    const struct tnode *root = &t->nodes[t->order[0]];

    ret->trace_id = t->trace_id;
    ret->root_service = root->service;
    ret->root_name = root->name;
    ret->n_spans = t->n;
    ret->n_errors = t->n_errors;
    ret->n_services = t->n_services;
    ret->start_us = t->start_us;
    ret->duration_us = t->start_us < 0 ? -1 : t->end_us - t->start_us;
}

/* ---- drawing --------------------------------------------------------------------------- */

static void
fmt_clock(char *buf, size_t len, int64_t epoch_us, bool with_date)
{
    time_t s = (time_t) (epoch_us / 1000000);
    struct tm tm;

    if (epoch_us < 0 || localtime_r(&s, &tm) == NULL) {
        snprintf(buf, len, "-");
        return;
    }
    if (with_date)
        snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (epoch_us % 1000000 / 1000));
    else
        snprintf(buf, len, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static const char *
short_kind(const char *kind)
{
    if (strcasecmp(kind, "PRODUCER") == 0)
        return "PROD";
    if (strcasecmp(kind, "CONSUMER") == 0)
        return "CONS";
    return kind[0] ? kind : "-";
}

/* The bar of one span over <cells> cells. */
static void
add_bar(struct strbuf *out, const struct term *term, const struct tracetree *t,
        const struct tnode *n, size_t cells)
{
    double total = (double) (t->end_us - t->start_us);
    size_t from = 0, to = 0;

    strbuf_addc(out, '|');
    if (n->ts_us >= 0 && t->start_us >= 0) {
        double a = (double) (n->ts_us - t->start_us);
        double b = a + (n->dur_us > 0 ? (double) n->dur_us : 0);

        if (total <= 0)
            total = 1;
        from = (size_t) (a * (double) cells / total);
        to = (size_t) (b * (double) cells / total + 0.999999);
        if (from >= cells)
            from = cells - 1;
        if (to > cells)
            to = cells;
        if (to <= from)
            to = from + 1;
    }
    term_add_spaces(out, from);
    for (size_t c = from; c < to; c++)
        strbuf_adds(out, term->utf8 ? "\u2588" : "#");
    term_add_spaces(out, cells - to);
    strbuf_addc(out, '|');
}

/* The time scale above the bars: 0 on the left, the trace's duration on the right, the
 * middle in the middle when there is room. */
static void
add_scale(struct strbuf *out, int64_t duration_us, size_t cells)
{
    size_t width = cells + 2;
    char *line = xmalloc(width + 1), mid[16], end[16];
    size_t lm, le;

    memset(line, ' ', width);
    line[width] = '\0';
    term_fmt_us(mid, sizeof(mid), duration_us < 0 ? -1 : (double) duration_us / 2);
    term_fmt_us(end, sizeof(end), (double) duration_us);
    lm = strlen(mid);
    le = strlen(end);
    line[0] = '0';
    if (le + 2 <= width)
        memcpy(line + width - le, end, le);
    if (duration_us > 0 && width / 2 > lm / 2 + 2 && width / 2 - lm / 2 + lm + 2 < width - le)
        memcpy(line + width / 2 - lm / 2, mid, lm);
    strbuf_adds(out, line);
    free(line);
}

/* Columns of the "service: name" part for a given width, and of the bar. */
static void
layout(unsigned width, size_t *ret_left, size_t *ret_bar)
{
    size_t fixed = 1 + KIND_COLS + 1 + TIME_COLS + 1 + 2; /* separators, the bar's | | */
    size_t left = width * 45 / 100, bar;

    if (left < 20)
        left = 20;
    if (left > 60)
        left = 60;
    bar = width > left + fixed + 10 ? width - left - fixed : 10;
    left = width > bar + fixed + 12 ? width - bar - fixed : 12;
    *ret_left = left;
    *ret_bar = bar;
}

void
tracetree_render(const struct tracetree *t, const struct term *term, struct strbuf *out)
{
    struct tracetree_summary sum;
    struct strbuf line = STRBUF_INIT;
    char when[40], dur[16];
    size_t left, bar;

    tracetree_summary(t, &sum);
    layout(term->width, &left, &bar);
    fmt_clock(when, sizeof(when), sum.start_us, true);
    term_fmt_us(dur, sizeof(dur), (double) sum.duration_us);
    strbuf_addf(out, "trace %s\n", sum.trace_id[0] ? sum.trace_id : "(no traceId)");
    strbuf_addf(out, "  %zu span%s, %zu service%s, %zu error%s, %s, started %s\n", sum.n_spans,
                sum.n_spans == 1 ? "" : "s", sum.n_services, sum.n_services == 1 ? "" : "s",
                sum.n_errors, sum.n_errors == 1 ? "" : "s", dur, when);
    term_add_fit(out, term, "SERVICE: SPAN", left, false);
    strbuf_addc(out, ' ');
    term_add_fit(out, term, "KIND", KIND_COLS, false);
    strbuf_addc(out, ' ');
    term_add_fit(out, term, "TIME", TIME_COLS, true);
    strbuf_addc(out, ' ');
    add_scale(out, sum.duration_us, bar);
    strbuf_addc(out, '\n');
    for (size_t k = 0; k < t->n; k++) {
        const struct tnode *n = &t->nodes[t->order[k]];
        size_t indent = MESH_MIN(n->depth * 2, MESH_MIN((size_t) MAX_INDENT, left / 2));

        strbuf_reset(&line);
        term_add_spaces(&line, indent);
        strbuf_addf(&line, "%s: %s", n->service[0] ? n->service : "?", n->name);
        term_add_fit(out, term, strbuf_str(&line), left, false);
        strbuf_addc(out, ' ');
        term_add_fit(out, term, short_kind(n->kind), KIND_COLS, false);
        strbuf_addc(out, ' ');
        term_fmt_us(dur, sizeof(dur), (double) n->dur_us);
        term_add_fit(out, term, dur, TIME_COLS, true);
        strbuf_addc(out, ' ');
        add_bar(out, term, t, n, bar);
        strbuf_addc(out, '\n');
        if (n->error != NULL) {
            strbuf_reset(&line);
            term_add_spaces(&line, indent + 2);
            strbuf_addf(&line, "error: %s", n->error[0] ? n->error : "(empty)");
            term_add_fit(out, term, strbuf_str(&line),
                         MESH_MIN(term_cols(strbuf_str(&line)), (size_t) term->width), false);
            strbuf_addc(out, '\n');
        }
    }
    strbuf_fini(&line);
}

static int
recent_first(const void *a, const void *b)
{
    struct tracetree_summary x, y;

    tracetree_summary(*(struct tracetree *const *) a, &x);
    tracetree_summary(*(struct tracetree *const *) b, &y);
    if (x.start_us != y.start_us)
        return x.start_us > y.start_us ? -1 : 1;
    return strcmp(x.trace_id, y.trace_id);
}

void
tracetree_render_list(struct tracetree *const *ts, size_t n, const struct term *term,
                      struct strbuf *out)
{
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    struct tracetree **sorted = xcalloc(n + 1, sizeof(*sorted));
    struct strbuf root = STRBUF_INIT;
    size_t id_cols = 8, fixed, root_cols;
    char b[40];

    for (size_t i = 0; i < n; i++)
        sorted[i] = ts[i];
    if (n > 1)
        qsort(sorted, n, sizeof(*sorted), recent_first); /* NOLINT(bugprone-sizeof-expression) */
    for (size_t i = 0; i < n; i++)
        id_cols = MESH_MAX(id_cols, strlen(sorted[i]->trace_id));
    fixed = id_cols + 1 + 8 + 1 + 5 + 1 + 3 + 1 + TIME_COLS + 1;
    root_cols = term->width > fixed + 10 ? term->width - fixed : 10;
    term_add_fit(out, term, "TRACE ID", id_cols, false);
    strbuf_addc(out, ' ');
    term_add_fit(out, term, "START", 8, false);
    strbuf_adds(out, " SPANS ERR ");
    term_add_fit(out, term, "TIME", TIME_COLS, true);
    strbuf_adds(out, " ROOT\n");
    for (size_t i = 0; i < n; i++) {
        struct tracetree_summary s;

        tracetree_summary(sorted[i], &s);
        term_add_fit(out, term, s.trace_id, id_cols, false);
        strbuf_addc(out, ' ');
        fmt_clock(b, sizeof(b), s.start_us, false);
        term_add_fit(out, term, b, 8, false);
        snprintf(b, sizeof(b), "%zu", s.n_spans);
        strbuf_addc(out, ' ');
        term_add_fit(out, term, b, 5, true);
        snprintf(b, sizeof(b), "%zu", s.n_errors);
        strbuf_addc(out, ' ');
        term_add_fit(out, term, s.n_errors ? b : "", 3, true);
        strbuf_addc(out, ' ');
        term_fmt_us(b, sizeof(b), (double) s.duration_us);
        term_add_fit(out, term, b, TIME_COLS, true);
        strbuf_addc(out, ' ');
        strbuf_reset(&root);
        strbuf_addf(&root, "%s: %s", s.root_service[0] ? s.root_service : "?", s.root_name);
        term_add_fit(out, term, strbuf_str(&root),
                     MESH_MIN(root_cols, term_cols(strbuf_str(&root))), false);
        strbuf_addc(out, '\n');
    }
    strbuf_fini(&root);
    free(sorted);
}

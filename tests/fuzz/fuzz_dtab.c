/* tests/fuzz/fuzz_dtab.c - libFuzzer target for the dtab parser and evaluator
 * (proxy/dtab.h). Properties beyond "no crash, no leak":
 *   - a dtab that parses shows as text that parses to the same show;
 *   - evaluated for /svc/a/b and for a path under each dentry's prefix (from the show,
 *     '*' read as a label), with a binder that binds /$/..., rewrites /#/rw/... to
 *     /svc/..., fails /#/fail..., is pending on /#/pending... and Neg otherwise:
 *       - dtab_eval_traced gives the same result as dtab_eval (dtab.h), and its trace is
 *         well nested (every *_BEGIN has its *_END, in order);
 *       - the shown dtab evaluates to the same result;
 *       - the shares of a LEAF or UNION result are in [0,1] and sum to 1, and
 *         dtab_result_pick() returns a leaf for any draw;
 *   - paths: dtab_path_valid() accepts exactly what dtab_eval() does not refuse with
 *     -EINVAL; any bytes as a label (dtab_path_add_label) give a valid path that a dentry
 *     written with it matches (labels compare after \x decoding). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "proxy/dtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_dtab: %s:%d: %s\n", __FILE__, __LINE__, #c);                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int
starts(const char *path, size_t len, const char *pfx)
{
    size_t n = strlen(pfx);

    return len >= n && memcmp(path, pfx, n) == 0;
}

static void
binder(void *ctx, const char *path, size_t len, struct dtab_bind *ret)
{
    (void) ctx;
    memset(ret, 0, sizeof(*ret));
    if (starts(path, len, "/$/") && len < sizeof(ret->id)) {
        ret->kind = DTAB_BIND_BOUND;
        memcpy(ret->id, path, len);
        ret->id[len] = '\0';
    } else if (starts(path, len, "/#/rw/") && len - 6 + 4 < sizeof(ret->path)) {
        ret->kind = DTAB_BIND_REWRITE;
        (void) snprintf(ret->path, sizeof(ret->path), "/svc/%.*s", (int) (len - 6), path + 6);
    } else if (starts(path, len, "/#/fail")) {
        ret->kind = DTAB_BIND_FAIL;
        ret->reason = "fuzz binder failure";
    } else if (starts(path, len, "/#/pending")) {
        ret->kind = DTAB_BIND_PENDING;
    } else {
        ret->kind = DTAB_BIND_NEG;
    }
}

/* ---- trace nesting ------------------------------------------------------------------ */

struct nest {
    enum dtab_trace_kind open[4096];
    size_t depth;
    int broken;
};

static void
trace(void *ctx, const struct dtab_trace_ev *ev)
{
    struct nest *n = ctx;
    enum dtab_trace_kind want;

    switch (ev->kind) {
    case DTAB_TRACE_PATH_BEGIN:
    case DTAB_TRACE_DENTRY_BEGIN:
    case DTAB_TRACE_ALT_BEGIN:
    case DTAB_TRACE_UNION_BEGIN:
    case DTAB_TRACE_BRANCH_BEGIN:
        if (n->depth == sizeof(n->open) / sizeof(n->open[0])) {
            n->broken = 1;
            return;
        }
        n->open[n->depth++] = ev->kind;
        return;
    case DTAB_TRACE_PATH_END:
        want = DTAB_TRACE_PATH_BEGIN;
        break;
    case DTAB_TRACE_DENTRY_END:
        want = DTAB_TRACE_DENTRY_BEGIN;
        break;
    case DTAB_TRACE_ALT_END:
        want = DTAB_TRACE_ALT_BEGIN;
        break;
    case DTAB_TRACE_UNION_END:
        want = DTAB_TRACE_UNION_BEGIN;
        break;
    case DTAB_TRACE_BRANCH_END:
        want = DTAB_TRACE_BRANCH_BEGIN;
        break;
    default:
        return; /* BIND, REWRITE_END, LITERAL, EXCEPTION: no pair */
    }
    if (n->depth == 0 || n->open[n->depth - 1] != want)
        n->broken = 1;
    else
        n->depth--;
}

/* ---- results -------------------------------------------------------------------------- */

static void
check_same(int ra, const struct dtab_result *a, int rb, const struct dtab_result *b)
{
    CHECK(ra == rb);
    if (ra != 0)
        return;
    CHECK(a->kind == b->kind && a->n_leaves == b->n_leaves && a->pending == b->pending);
    CHECK(strcmp(a->reason, b->reason) == 0);
    for (size_t i = 0; i < a->n_leaves; i++) {
        const struct dtab_leaf *x = &a->leaves[i], *y = &b->leaves[i];

        CHECK(strcmp(x->id, y->id) == 0 && strcmp(x->residual, y->residual) == 0);
        CHECK(x->weight == y->weight && x->share == y->share && x->empty == y->empty);
    }
}

static void
check_shares(const struct dtab_result *r)
{
    double sum = 0;

    if (r->kind != DTAB_RES_LEAF && r->kind != DTAB_RES_UNION) {
        CHECK(dtab_result_pick(r, 0.5) == NULL);
        return;
    }
    CHECK(r->n_leaves >= 1);
    for (size_t i = 0; i < r->n_leaves; i++) {
        CHECK(r->leaves[i].share >= 0.0 && r->leaves[i].share <= 1.0);
        sum += r->leaves[i].share;
    }
    CHECK(fabs(sum - 1.0) < 1e-9);
    CHECK(dtab_result_pick(r, 0.0) != NULL);
    CHECK(dtab_result_pick(r, 0.5) != NULL);
    CHECK(dtab_result_pick(r, 0.9999999999) != NULL);
}

static void
eval_all(const struct dtab *d, const struct dtab *shown, const char *path, size_t len)
{
    struct dtab_result r1, r2, r3;
    struct nest *n = calloc(1, sizeof(*n));
    int a, b, c;

    CHECK(n != NULL);
    a = dtab_eval(d, path, len, binder, NULL, &r1);
    b = dtab_eval_traced(d, path, len, binder, NULL, trace, n, &r2);
    c = dtab_eval(shown, path, len, binder, NULL, &r3);
    check_same(a, &r1, b, &r2);
    check_same(a, &r1, c, &r3);
    if (b == 0)
        CHECK(!n->broken && n->depth == 0);
    if (a == 0) {
        check_shares(&r1);
        dtab_result_fini(&r1);
    }
    if (b == 0)
        dtab_result_fini(&r2);
    if (c == 0)
        dtab_result_fini(&r3);
    free(n);
}

/* The input as a path, and as a label. */
static void
fuzz_paths(const char *p, size_t n)
{
    struct dtab_result res;
    struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
    struct dtab_err err;
    struct dtab *d;
    int rc = dtab_eval(NULL, p, n, binder, NULL, &res);

    CHECK(dtab_path_valid(p, n) == (rc != -EINVAL));
    if (rc == 0)
        dtab_result_fini(&res);
    if (n == 0 || n > 200)
        return;
    strbuf_adds(&path, "/svc");
    dtab_path_add_label(&path, p, n);
    CHECK(dtab_path_valid(path.s, path.len));
    strbuf_add(&text, path.s, path.len);
    strbuf_adds(&text, "=>/$/matched");
    d = dtab_parse(text.s, text.len, &err);
    CHECK(d != NULL);
    CHECK(dtab_eval(d, path.s, path.len, binder, NULL, &res) == 0);
    CHECK(res.kind == DTAB_RES_LEAF && strcmp(res.leaves[0].id, "/$/matched") == 0);
    dtab_result_fini(&res);
    dtab_free(d);
    strbuf_fini(&path);
    strbuf_fini(&text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dtab_err err;
    struct dtab *d = dtab_parse((const char *) data, size, &err), *d2;
    struct strbuf a = STRBUF_INIT, b = STRBUF_INIT, path = STRBUF_INIT;
    size_t n_paths = 0;

    fuzz_paths((const char *) data, size);
    if (d == NULL)
        return 0;
    dtab_show(d, &a);
    d2 = dtab_parse(a.s ? a.s : "", a.len, &err);
    CHECK(d2 != NULL);
    dtab_show(d2, &b);
    CHECK(a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0));
    CHECK(dtab_size(d) == dtab_size(d2));

    eval_all(d, d2, "/svc/a/b", 8);
    /* a path under each dentry's prefix: the show is "prefix=>tree;..." and a prefix has
     * no ';' or '=' (labels escape them), so the text up to "=>" after each ';' is one */
    for (const char *p = a.s; p != NULL && n_paths < 4; n_paths++) {
        const char *arrow = strstr(p, "=>"), *semi;

        if (arrow == NULL)
            break;
        strbuf_reset(&path);
        for (const char *q = p; q < arrow; q++) {
            if (*q == '*' && q[-1] == '/' && (q + 1 == arrow || q[1] == '/'))
                strbuf_addc(&path, 'x');
            else
                strbuf_addc(&path, *q);
        }
        strbuf_adds(&path, path.len > 0 && path.s[path.len - 1] == '/' ? "r" : "/r");
        eval_all(d, d2, path.s, path.len);
        semi = strchr(arrow, ';');
        p = semi ? semi + 1 : NULL;
    }
    strbuf_fini(&a);
    strbuf_fini(&b);
    strbuf_fini(&path);
    dtab_free(d2);
    dtab_free(d);
    return 0;
}

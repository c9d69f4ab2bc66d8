/* proxy/dtab.c - Finagle delegation tables: a recursive-descent parser for the grammar in
 * dtab.h, Finagle's Dtab.show (compact, no spaces), and evaluation, which folds Finagle's
 * Dtab.lookup, Namer.bind and NameTree.simplify into one recursive walk.
 *
 * Callers: the router (base dtab, once per config generation), the HTTP server (l5d-dtab and
 * l5d-ctx-dtab headers, per request) and naming.c (dtab_eval with its namers as binder).
 *
 * Memory: a dtab owns one pool, a list of malloc'd chunks holding every node and decoded
 * label, so a syntax error or an out-of-memory unwinds by dropping the pool and dtab_free is
 * one walk of the chunk list. Evaluation builds its paths and partial results in a scratch
 * pool and copies only the final result out. Nothing here aborts on out of memory, because
 * headers are parsed on the request path; failures come back as NULL or -ENOMEM.
 *
 * Evaluation invariants (linkerd.md 4.2):
 *   - a path is looked up against every dentry, last first; each match evaluates its tree
 *     with the unmatched suffix appended to every leaf; the first match that is not Neg
 *     decides (Fail and Empty decide too); no match at all sends /#/... and /$/... to the
 *     binder, anything else is Neg;
 *   - Alt: first child that is not Neg; Union: Neg and Fail children dropped, one survivor
 *     replaces the union (its weight discarded), none is Neg; weights of nested unions are
 *     not multiplied: a leaf keeps its innermost branch weight, and <share> records the
 *     level-by-level pick probability Finagle's NameTreeFactory gives it;
 *   - a pending binder answer makes its branch "pending Neg"; a pending branch that decides
 *     an Alt, or any pending branch of a Union, makes the result pending;
 *   - recursion deeper than DTAB_MAX_DEPTH delegations fails, and so does an evaluation
 *     that takes more than DTAB_MAX_STEPS lookups (unions of loops grow exponentially);
 *     these failures, and running out of memory, are fatal: they end the evaluation and
 *     no union drops them, as the exceptions Finagle throws in those cases. */
#include "proxy/dtab.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/util.h"

#define DTAB_MAX_DEPTH   100   /* Finagle namerMaxDepth */
#define DTAB_MAX_STEPS   10000 /* lookups per evaluation */
#define DTAB_MAX_NESTING 64    /* parentheses in one tree; bounds the parser's stack */
#define POOL_CHUNK       4096  /* bytes per pool chunk unless one allocation needs more */

/* ---- pool -------------------------------------------------------------------------- */

struct pool_chunk {
    struct pool_chunk *next;
    size_t used; /* bytes handed out from data */
    size_t cap;  /* bytes in data */
    max_align_t data[];
};

struct pool {
    struct pool_chunk *head; /* newest first */
    bool oom;                /* an allocation failed; the owner reports -ENOMEM */
};

static void *
pool_alloc(struct pool *p, size_t len)
{
    const size_t align = alignof(max_align_t);
    struct pool_chunk *c = p->head;
    void *ptr;

    len = len == 0 ? align : (len + align - 1) & ~(align - 1);
    if (c == NULL || c->cap - c->used < len) {
        size_t cap = MESH_MAX(len, (size_t) POOL_CHUNK);

        c = malloc(sizeof(*c) + cap);
        if (c == NULL) {
            p->oom = true;
            return NULL;
        }
        c->cap = cap;
        c->used = 0;
        c->next = p->head;
        p->head = c;
    }
    ptr = (char *) c->data + c->used;
    c->used += len;
    return ptr;
}

static char *
pool_strndup(struct pool *p, const char *s, size_t len)
{
    char *d = pool_alloc(p, len + 1);

    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

static void
pool_fini(struct pool *p)
{
    while (p->head != NULL) {
        struct pool_chunk *next = p->head->next;

        free(p->head);
        p->head = next;
    }
}

/* A vector grown by doubling inside a pool; the abandoned arrays stay in the pool. */
static void *
pool_grow(struct pool *p, void *v, size_t n, size_t *cap, size_t elem)
{
    void *nv;

    if (n < *cap)
        return v;
    *cap = *cap ? *cap * 2 : 4;
    nv = pool_alloc(p, *cap * elem);
    if (nv != NULL && n > 0)
        memcpy(nv, v, n * elem);
    return nv;
}

/* ---- model ------------------------------------------------------------------------- */

struct label {
    const char *s; /* decoded bytes, may hold any byte value; not NUL-terminated */
    size_t len;    /* > 0 */
};

struct path {
    const struct label *v;
    size_t n; /* 0 for "/" */
};

enum tree_kind {
    TREE_LEAF = 0,
    TREE_ALT,
    TREE_UNION,
    TREE_FAIL,
    TREE_NEG,
    TREE_EMPTY,
};

struct tree {
    enum tree_kind kind;
    struct path path;      /* LEAF */
    struct tree **kids;    /* ALT, UNION: n >= 2 (the parser collapses single children) */
    const double *weights; /* UNION: one per kid */
    size_t n;
};

struct prefix_elem {
    bool any;       /* '*': matches any one element */
    struct label l; /* !any */
};

struct dentry {
    const struct prefix_elem *pfx;
    size_t n_pfx; /* 0 for the prefix "/" */
    struct tree *dst;
};

struct dtab {
    struct pool pool; /* owns everything below */
    uint64_t serial;  /* unique per process, never reused */
    struct dentry *v;
    size_t n;
};

static _Atomic uint64_t dtab_next_serial = 1;

static struct dtab *
dtab_alloc(void)
{
    struct dtab *d = calloc(1, sizeof(*d));

    if (d != NULL)
        d->serial = atomic_fetch_add(&dtab_next_serial, 1);
    return d;
}

struct dtab *
dtab_free(struct dtab *d)
{
    if (d == NULL)
        return NULL;
    pool_fini(&d->pool);
    free(d);
    return NULL;
}

size_t
dtab_size(const struct dtab *d)
{
    return d ? d->n : 0;
}

uint64_t
dtab_serial(const struct dtab *d)
{
    return d ? d->serial : 0;
}

/* ---- characters -------------------------------------------------------------------- */

static bool
is_label_char(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           c == ':' || c == '.' || c == '#' || c == '$' || c == '%' || c == '-';
}

static int
hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool
is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
label_eq(const struct label *a, const struct label *b)
{
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* ---- parser ------------------------------------------------------------------------ */

struct parser {
    const char *s;
    size_t len;
    size_t pos;
    struct pool *pool;
    struct dtab_err *err;
    bool failed;      /* first error wins */
    unsigned nesting; /* open parentheses */
};

static int
peek(const struct parser *p)
{
    return p->pos < p->len ? (unsigned char) p->s[p->pos] : -1;
}

static bool
at_end(const struct parser *p)
{
    return p->pos >= p->len;
}

/* Records the first error: <msg> at <pos>. Always returns false so callers can
 * "return fail(...)". Out of memory is reported the same way. */
static bool
fail_at(struct parser *p, size_t pos, const char *msg)
{
    if (!p->failed) {
        p->failed = true;
        p->err->pos = pos;
        (void) snprintf(p->err->msg, sizeof(p->err->msg), "%s at offset %zu", msg, pos);
    }
    return false;
}

/* "unexpected end" when the input ran out, else "expected <what>". */
static bool
fail_expected(struct parser *p, const char *what)
{
    char msg[96];

    if (at_end(p))
        return fail_at(p, p->pos, "unexpected end");
    (void) snprintf(msg, sizeof(msg), "expected %s", what);
    return fail_at(p, p->pos, msg);
}

static bool
fail_oom(struct parser *p)
{
    return fail_at(p, p->pos, "out of memory");
}

/* Skips whitespace and '#' comments (to end of line). Only called between tokens, so a
 * '#' inside a label ("/#/io.l5d.fs", "/a#b") is never a comment. */
static void
skip_ws(struct parser *p)
{
    while (!at_end(p)) {
        int c = peek(p);

        if (is_space(c)) {
            p->pos++;
        } else if (c == '#') {
            while (!at_end(p) && peek(p) != '\n')
                p->pos++;
        } else {
            break;
        }
    }
}

static bool
eat_ws_then(struct parser *p, int c)
{
    skip_ws(p);
    if (peek(p) != c)
        return false;
    p->pos++;
    return true;
}

/* label := (label-char | '\x' hex hex)+ ; p->pos is at its first byte. */
static bool
parse_label(struct parser *p, struct label *ret)
{
    size_t start = p->pos, n = 0, i;
    char *buf;

    /* first pass: validate and measure */
    while (!at_end(p)) {
        int c = peek(p);

        if (is_label_char(c)) {
            p->pos++;
        } else if (c == '\\') {
            if (p->pos + 4 > p->len || p->s[p->pos + 1] != 'x' ||
                hex_value((unsigned char) p->s[p->pos + 2]) < 0 ||
                hex_value((unsigned char) p->s[p->pos + 3]) < 0)
                return fail_at(p, p->pos, "bad \\x escape");
            p->pos += 4;
        } else {
            break;
        }
        n++;
    }
    if (n == 0)
        return fail_expected(p, "label");

    buf = pool_alloc(p->pool, n);
    if (buf == NULL)
        return fail_oom(p);
    for (i = start, n = 0; i < p->pos; n++) {
        if (p->s[i] == '\\') {
            buf[n] = (char) (hex_value((unsigned char) p->s[i + 2]) * 16 +
                             hex_value((unsigned char) p->s[i + 3]));
            i += 4;
        } else {
            buf[n] = p->s[i++];
        }
    }
    ret->s = buf;
    ret->len = n;
    return true;
}

/* path := '/' | ('/' label)+ ; p->pos is at the first '/'. */
static bool
parse_path(struct parser *p, struct path *ret)
{
    struct label *v = NULL;
    size_t n = 0, cap = 0;

    if (peek(p) != '/')
        return fail_expected(p, "'/'");
    p->pos++;
    if (!is_label_char(peek(p)) && peek(p) != '\\') {
        ret->v = NULL;
        ret->n = 0;
        return true;
    }
    for (;;) {
        v = pool_grow(p->pool, v, n, &cap, sizeof(*v));
        if (v == NULL)
            return fail_oom(p);
        if (!parse_label(p, &v[n]))
            return false;
        n++;
        if (peek(p) != '/')
            break;
        p->pos++;
    }
    ret->v = v;
    ret->n = n;
    return true;
}

/* prefix := '/' | ('/' (label | '*'))+ */
static bool
parse_prefix(struct parser *p, struct dentry *de)
{
    struct prefix_elem *v = NULL;
    size_t n = 0, cap = 0;

    if (peek(p) != '/')
        return fail_expected(p, "'/'");
    p->pos++;
    if (!is_label_char(peek(p)) && peek(p) != '\\' && peek(p) != '*') {
        de->pfx = NULL;
        de->n_pfx = 0;
        return true;
    }
    for (;;) {
        v = pool_grow(p->pool, v, n, &cap, sizeof(*v));
        if (v == NULL)
            return fail_oom(p);
        if (peek(p) == '*') {
            p->pos++;
            if (is_label_char(peek(p)) || peek(p) == '\\' || peek(p) == '*')
                return fail_at(p, p->pos - 1, "'*' must be a whole segment");
            v[n].any = true;
            v[n].l.s = NULL;
            v[n].l.len = 0;
        } else {
            if (!is_label_char(peek(p)) && peek(p) != '\\')
                return fail_expected(p, "label or '*'");
            v[n].any = false;
            if (!parse_label(p, &v[n].l))
                return false;
            if (peek(p) == '*')
                return fail_at(p, p->pos, "'*' must be a whole segment");
        }
        n++;
        if (peek(p) != '/')
            break;
        p->pos++;
    }
    de->pfx = v;
    de->n_pfx = n;
    return true;
}

static struct tree *parse_tree(struct parser *p);

static struct tree *
tree_new(struct parser *p, enum tree_kind kind)
{
    struct tree *t = pool_alloc(p->pool, sizeof(*t));

    if (t == NULL) {
        (void) fail_oom(p);
        return NULL;
    }
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    return t;
}

/* simple := '(' tree ')' | path | '!' | '~' | '$' */
static struct tree *
parse_simple(struct parser *p)
{
    struct tree *t;

    skip_ws(p);
    switch (peek(p)) {
    case '(':
        if (p->nesting >= DTAB_MAX_NESTING) {
            (void) fail_at(p, p->pos, "parentheses nested too deeply");
            return NULL;
        }
        p->pos++;
        p->nesting++;
        t = parse_tree(p);
        p->nesting--;
        if (t == NULL)
            return NULL;
        if (!eat_ws_then(p, ')')) {
            (void) fail_expected(p, "')'");
            return NULL;
        }
        return t;
    case '/':
        t = tree_new(p, TREE_LEAF);
        if (t == NULL || !parse_path(p, &t->path))
            return NULL;
        if (peek(p) == '*') {
            (void) fail_at(p, p->pos, "'*' must be a whole segment");
            return NULL;
        }
        return t;
    case '!':
        p->pos++;
        return tree_new(p, TREE_FAIL);
    case '~':
        p->pos++;
        return tree_new(p, TREE_NEG);
    case '$':
        p->pos++;
        return tree_new(p, TREE_EMPTY);
    default:
        (void) fail_expected(p, "path, '!', '~', '$' or '('");
        return NULL;
    }
}

/* number := digits with at most one '.', at least one digit */
static bool
parse_number(struct parser *p, double *ret)
{
    size_t start = p->pos;
    bool dot = false, digit = false;
    char buf[64];
    double w;

    while (!at_end(p) && (peek(p) == '.' || (peek(p) >= '0' && peek(p) <= '9'))) {
        if (peek(p) == '.') {
            if (dot)
                return fail_at(p, p->pos, "bad number");
            dot = true;
        } else {
            digit = true;
        }
        p->pos++;
    }
    if (!digit || p->pos - start >= sizeof(buf))
        return fail_at(p, start, "bad number");
    memcpy(buf, p->s + start, p->pos - start);
    buf[p->pos - start] = '\0';
    w = strtod(buf, NULL);
    if (!isfinite(w))
        return fail_at(p, start, "bad number");
    *ret = w;
    return true;
}

/* weighted := [number '*'] simple */
static struct tree *
parse_weighted(struct parser *p, double *ret_weight)
{
    int c;

    skip_ws(p);
    c = peek(p);
    *ret_weight = 1.0;
    if (c == '.' || (c >= '0' && c <= '9')) {
        if (!parse_number(p, ret_weight))
            return NULL;
        if (!eat_ws_then(p, '*')) {
            (void) fail_expected(p, "'*' after weight");
            return NULL;
        }
    }
    return parse_simple(p);
}

/* tree1 := weighted ('&' weighted)* */
static struct tree *
parse_tree1(struct parser *p)
{
    struct tree **kids = NULL, *t;
    double *weights = NULL;
    size_t n = 0, cap = 0, wcap = 0;

    do {
        double w;

        kids = pool_grow(p->pool, kids, n, &cap, sizeof(*kids));
        weights = pool_grow(p->pool, weights, n, &wcap, sizeof(*weights));
        if (kids == NULL || weights == NULL) {
            (void) fail_oom(p);
            return NULL;
        }
        kids[n] = parse_weighted(p, &w);
        if (kids[n] == NULL)
            return NULL;
        weights[n++] = w;
    } while (eat_ws_then(p, '&'));
    if (n == 1)
        return kids[0]; /* Finagle drops the weight of a lone branch */
    t = tree_new(p, TREE_UNION);
    if (t == NULL)
        return NULL;
    t->kids = kids;
    t->weights = weights;
    t->n = n;
    return t;
}

/* tree := tree1 ('|' tree1)* */
static struct tree *
parse_tree(struct parser *p)
{
    struct tree **kids = NULL, *t;
    size_t n = 0, cap = 0;

    do {
        kids = pool_grow(p->pool, kids, n, &cap, sizeof(*kids));
        if (kids == NULL) {
            (void) fail_oom(p);
            return NULL;
        }
        kids[n] = parse_tree1(p);
        if (kids[n] == NULL)
            return NULL;
        n++;
    } while (eat_ws_then(p, '|'));
    if (n == 1)
        return kids[0];
    t = tree_new(p, TREE_ALT);
    if (t == NULL)
        return NULL;
    t->kids = kids;
    t->n = n;
    return t;
}

static bool
parse_dentry(struct parser *p, struct dentry *de)
{
    skip_ws(p);
    if (!parse_prefix(p, de))
        return false;
    skip_ws(p);
    if (p->pos + 1 >= p->len || p->s[p->pos] != '=' || p->s[p->pos + 1] != '>') {
        if (peek(p) == '*')
            return fail_at(p, p->pos, "'*' must be a whole segment");
        return fail_expected(p, "'=>'");
    }
    p->pos += 2;
    de->dst = parse_tree(p);
    return de->dst != NULL;
}

struct dtab *
dtab_parse(const char *text, size_t len, struct dtab_err *err)
{
    struct dtab_err dummy = {0};
    struct parser p = {.s = text, .len = len, .err = err ? err : &dummy};
    struct dtab *d = dtab_alloc();
    size_t cap = 0;

    p.err->pos = 0;
    p.err->msg[0] = '\0';
    if (d == NULL) {
        (void) fail_oom(&p);
        return NULL;
    }
    p.pool = &d->pool;
    skip_ws(&p);
    while (!at_end(&p)) {
        d->v = pool_grow(&d->pool, d->v, d->n, &cap, sizeof(*d->v));
        if (d->v == NULL) {
            (void) fail_oom(&p);
            goto fail;
        }
        if (!parse_dentry(&p, &d->v[d->n]))
            goto fail;
        d->n++;
        skip_ws(&p);
        if (at_end(&p))
            break;
        if (peek(&p) != ';') {
            (void) fail_expected(&p, "';'");
            goto fail;
        }
        p.pos++;
        skip_ws(&p);
    }
    return d;

fail:
    return dtab_free(d);
}

/* ---- copying (dtab_concat) --------------------------------------------------------- */

static bool
copy_label(struct pool *pool, struct label *dst, const struct label *src)
{
    char *s = pool_alloc(pool, src->len);

    if (s == NULL)
        return false;
    memcpy(s, src->s, src->len);
    dst->s = s;
    dst->len = src->len;
    return true;
}

static struct tree *
copy_tree(struct pool *pool, const struct tree *src)
{
    struct tree *t = pool_alloc(pool, sizeof(*t));
    size_t i;

    if (t == NULL)
        return NULL;
    *t = *src;
    if (src->kind == TREE_LEAF && src->path.n > 0) {
        struct label *v = pool_alloc(pool, src->path.n * sizeof(*v));

        if (v == NULL)
            return NULL;
        for (i = 0; i < src->path.n; i++)
            if (!copy_label(pool, &v[i], &src->path.v[i]))
                return NULL;
        t->path.v = v;
    }
    if (src->kind == TREE_ALT || src->kind == TREE_UNION) {
        t->kids = pool_alloc(pool, src->n * sizeof(*t->kids));
        if (t->kids == NULL)
            return NULL;
        for (i = 0; i < src->n; i++) {
            t->kids[i] = copy_tree(pool, src->kids[i]);
            if (t->kids[i] == NULL)
                return NULL;
        }
        if (src->kind == TREE_UNION) {
            double *w = pool_alloc(pool, src->n * sizeof(*w));

            if (w == NULL)
                return NULL;
            memcpy(w, src->weights, src->n * sizeof(*w));
            t->weights = w;
        }
    }
    return t;
}

static bool
copy_dentry(struct pool *pool, struct dentry *dst, const struct dentry *src)
{
    struct prefix_elem *v = NULL;
    size_t i;

    if (src->n_pfx > 0) {
        v = pool_alloc(pool, src->n_pfx * sizeof(*v));
        if (v == NULL)
            return false;
        for (i = 0; i < src->n_pfx; i++) {
            v[i] = src->pfx[i];
            if (!src->pfx[i].any && !copy_label(pool, &v[i].l, &src->pfx[i].l))
                return false;
        }
    }
    dst->pfx = v;
    dst->n_pfx = src->n_pfx;
    dst->dst = copy_tree(pool, src->dst);
    return dst->dst != NULL;
}

struct dtab *
dtab_concat(const struct dtab *a, const struct dtab *b)
{
    struct dtab *d = dtab_alloc();
    size_t n = dtab_size(a) + dtab_size(b), i;

    if (d == NULL)
        return NULL;
    if (n > 0) {
        d->v = pool_alloc(&d->pool, n * sizeof(*d->v));
        if (d->v == NULL)
            return dtab_free(d);
    }
    for (i = 0; i < n; i++) {
        const struct dentry *src = i < dtab_size(a) ? &a->v[i] : &b->v[i - dtab_size(a)];

        if (!copy_dentry(&d->pool, &d->v[i], src))
            return dtab_free(d);
        d->n++;
    }
    return d;
}

/* ---- show -------------------------------------------------------------------------- */

static void
show_label(struct strbuf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;

    strbuf_addc(out, '/');
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (is_label_char(c)) {
            run++;
            continue;
        }
        strbuf_add(out, s + i - run, run);
        run = 0;
        strbuf_adds(out, "\\x");
        strbuf_addc(out, hex[c >> 4]);
        strbuf_addc(out, hex[c & 15]);
    }
    strbuf_add(out, s + len - run, run);
}

static void
show_path(struct strbuf *out, const struct label *v, size_t n)
{
    size_t i;

    if (n == 0) {
        strbuf_addc(out, '/');
        return;
    }
    for (i = 0; i < n; i++)
        show_label(out, v[i].s, v[i].len);
}

/* The shortest fixed-point decimal that reads back as <w>: "2", "0.8", "0.333...". Fixed
 * point because the grammar's numbers have no exponent. */
static void
show_weight(struct strbuf *out, double w)
{
    char buf[512];
    int prec;

    for (prec = 0; prec <= 40; prec++) {
        (void) snprintf(buf, sizeof(buf), "%.*f", prec, w);
        if (strtod(buf, NULL) == w)
            break;
    }
    strbuf_adds(out, buf);
}

static void show_alt(struct strbuf *out, const struct tree *t);

static void
show_simple(struct strbuf *out, const struct tree *t)
{
    switch (t->kind) {
    case TREE_LEAF:
        show_path(out, t->path.v, t->path.n);
        break;
    case TREE_FAIL:
        strbuf_addc(out, '!');
        break;
    case TREE_NEG:
        strbuf_addc(out, '~');
        break;
    case TREE_EMPTY:
        strbuf_addc(out, '$');
        break;
    case TREE_ALT:
    case TREE_UNION:
        strbuf_addc(out, '(');
        show_alt(out, t);
        strbuf_addc(out, ')');
        break;
    }
}

/* A union branch or an Alt branch: unions print bare ('&' binds tighter than '|'). */
static void
show_union(struct strbuf *out, const struct tree *t)
{
    size_t i;

    if (t->kind != TREE_UNION) {
        show_simple(out, t);
        return;
    }
    for (i = 0; i < t->n; i++) {
        if (i > 0)
            strbuf_addc(out, '&');
        if (t->weights[i] != 1.0) {
            show_weight(out, t->weights[i]);
            strbuf_addc(out, '*');
        }
        show_simple(out, t->kids[i]);
    }
}

static void
show_alt(struct strbuf *out, const struct tree *t)
{
    size_t i;

    if (t->kind != TREE_ALT) {
        show_union(out, t);
        return;
    }
    for (i = 0; i < t->n; i++) {
        if (i > 0)
            strbuf_addc(out, '|');
        show_union(out, t->kids[i]);
    }
}

void
dtab_show(const struct dtab *d, struct strbuf *out)
{
    size_t i, j;

    for (i = 0; i < dtab_size(d); i++) {
        const struct dentry *de = &d->v[i];

        if (i > 0)
            strbuf_addc(out, ';');
        if (de->n_pfx == 0)
            strbuf_addc(out, '/');
        for (j = 0; j < de->n_pfx; j++) {
            if (de->pfx[j].any)
                strbuf_adds(out, "/*");
            else
                show_label(out, de->pfx[j].l.s, de->pfx[j].l.len);
        }
        strbuf_adds(out, "=>");
        show_alt(out, de->dst);
    }
}

/* ---- paths ------------------------------------------------------------------------- */

bool
dtab_path_valid(const char *s, size_t len)
{
    size_t i = 0;

    if (len == 0 || s[0] != '/')
        return false;
    if (len == 1)
        return true;
    while (i < len) {
        size_t seg = 0;

        if (s[i] != '/')
            return false;
        i++;
        while (i < len && s[i] != '/') {
            if (is_label_char((unsigned char) s[i])) {
                i++;
            } else if (s[i] == '\\' && i + 4 <= len && s[i + 1] == 'x' &&
                       hex_value((unsigned char) s[i + 2]) >= 0 &&
                       hex_value((unsigned char) s[i + 3]) >= 0) {
                i += 4;
            } else {
                return false;
            }
            seg++;
        }
        if (seg == 0)
            return false;
    }
    return true;
}

void
dtab_path_add_label(struct strbuf *out, const char *label, size_t len)
{
    if (len > 0)
        show_label(out, label, len);
}

/* Parses the whole of <s> as a path into <pool>; false when it is not one. */
static bool
path_parse_strict(struct pool *pool, const char *s, size_t len, struct path *ret)
{
    struct dtab_err err;
    struct parser p = {.s = s, .len = len, .pool = pool, .err = &err};

    if (!dtab_path_valid(s, len))
        return false;
    return parse_path(&p, ret) && at_end(&p);
}

/* ---- evaluation -------------------------------------------------------------------- */

enum pres_kind {
    PRES_NEG = 0,
    PRES_FAIL,
    PRES_EMPTY,
    PRES_LEAVES,
};

struct pleaf {
    double weight;  /* innermost union branch weight (1.0 outside unions) */
    double share;   /* probability of being picked, level by level */
    const char *id; /* in the scratch pool; NULL when empty */
    const char *residual;
    void *handle;
    bool empty; /* an Empty branch of a union */
};

/* A partial result: what a subtree evaluated to. */
struct pres {
    enum pres_kind kind;
    bool pending;    /* NEG only: some deciding branch has not answered yet */
    struct pleaf *v; /* LEAVES: n >= 1, in the scratch pool */
    size_t n;
};

struct eval {
    const struct dtab *d;
    dtab_binder_fn *binder;
    void *binder_ctx;
    dtab_trace_fn *trace; /* NULL unless traced */
    void *trace_ctx;
    unsigned exploring; /* > 0 inside an alternative evaluated only to be traced */
    unsigned explore_steps;
    struct pool pool; /* scratch: paths, shown names, partial results */
    unsigned steps;
    bool fatal;       /* recursion or step limit hit, or out of memory: the whole evaluation
                       * fails, as Finagle's exceptions do; unions cannot drop it */
    char reason[200]; /* the latest failure; the one that reaches the top is the latest */
};

static void
res_neg(struct pres *out, bool pending)
{
    memset(out, 0, sizeof(*out));
    out->kind = PRES_NEG;
    out->pending = pending;
}

static void __attribute__((format(printf, 3, 4)))
res_fail(struct eval *e, struct pres *out, const char *fmt, ...)
{
    va_list ap;

    memset(out, 0, sizeof(*out));
    out->kind = PRES_FAIL;
    if (e->fatal)
        return; /* keep the reason of the fatal failure */
    va_start(ap, fmt);
    (void) vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
    va_end(ap);
}

static bool
prefix_match(const struct dentry *de, const struct label *v, size_t n)
{
    size_t i;

    if (de->n_pfx > n)
        return false;
    for (i = 0; i < de->n_pfx; i++)
        if (!de->pfx[i].any && !label_eq(&de->pfx[i].l, &v[i]))
            return false;
    return true;
}

static bool
is_namer_path(const struct label *v, size_t n)
{
    return n > 0 && v[0].len == 1 && (v[0].s[0] == '#' || v[0].s[0] == '$');
}

static void eval_path(struct eval *e, const struct label *v, size_t n, unsigned depth,
                      struct pres *out);
static char *pool_show_path(struct pool *pool, const struct label *v, size_t n, size_t *ret_len);

/* ---- tracing ----------------------------------------------------------------------- */

static enum dtab_result_kind
pres_kind(const struct pres *pr)
{
    switch (pr->kind) {
    case PRES_NEG:
        return DTAB_RES_NEG;
    case PRES_FAIL:
        return DTAB_RES_FAIL;
    case PRES_EMPTY:
        return DTAB_RES_EMPTY;
    case PRES_LEAVES:
        break;
    }
    return pr->n == 1 ? DTAB_RES_LEAF : DTAB_RES_UNION;
}

static void
trace_ev(struct eval *e, enum dtab_trace_kind kind, unsigned depth, const struct pres *pr,
         struct dtab_trace_ev *ev)
{
    ev->kind = kind;
    ev->depth = depth;
    ev->unused = e->exploring > 0;
    if (pr != NULL) {
        ev->result = pres_kind(pr);
        ev->pending = pr->kind == PRES_NEG && pr->pending;
        if (pr->kind == PRES_FAIL)
            ev->reason = e->reason;
    }
    e->trace(e->trace_ctx, ev);
}

/* Emits an event that carries at most a path and a result. */
static void
trace_simple(struct eval *e, enum dtab_trace_kind kind, unsigned depth, const char *path,
             const struct pres *pr)
{
    struct dtab_trace_ev ev = {.path = path};

    if (e->trace != NULL)
        trace_ev(e, kind, depth, pr, &ev);
}

static void show_alt(struct strbuf *out, const struct tree *t);

static void
show_prefix(struct strbuf *out, const struct dentry *de)
{
    size_t j;

    if (de->n_pfx == 0)
        strbuf_addc(out, '/');
    for (j = 0; j < de->n_pfx; j++) {
        if (de->pfx[j].any)
            strbuf_adds(out, "/*");
        else
            show_label(out, de->pfx[j].l.s, de->pfx[j].l.len);
    }
}

static void
trace_dentry(struct eval *e, const struct dentry *de, unsigned depth, const char *path)
{
    struct strbuf pfx = STRBUF_INIT, dst = STRBUF_INIT;
    struct dtab_trace_ev ev = {.path = path};

    show_prefix(&pfx, de);
    show_alt(&dst, de->dst);
    ev.prefix = strbuf_str(&pfx);
    ev.dst = strbuf_str(&dst);
    trace_ev(e, DTAB_TRACE_DENTRY_BEGIN, depth, NULL, &ev);
    strbuf_fini(&pfx);
    strbuf_fini(&dst);
}

/* Starts evaluating an alternative only the trace needs: its failures, even fatal ones,
 * must not leak into the real evaluation, nor may its lookups use up the real budget. */
struct explore_save {
    bool fatal;
    unsigned steps;
    char reason[200];
};

static void
explore_begin(struct eval *e, struct explore_save *sv)
{
    sv->fatal = e->fatal;
    sv->steps = e->steps;
    memcpy(sv->reason, e->reason, sizeof(sv->reason));
    e->exploring++;
}

static void
explore_end(struct eval *e, const struct explore_save *sv)
{
    e->exploring--;
    e->fatal = sv->fatal;
    e->steps = sv->steps;
    memcpy(e->reason, sv->reason, sizeof(e->reason));
}

/* Shows <v> into the scratch pool (NUL-terminated); NULL when out of memory. */
static char *
pool_show_path(struct pool *pool, const struct label *v, size_t n, size_t *ret_len)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = n == 0 ? 1 : 0, i, j;
    char *buf, *w;

    for (i = 0; i < n; i++) {
        len++;
        for (j = 0; j < v[i].len; j++)
            len += is_label_char((unsigned char) v[i].s[j]) ? 1 : 4;
    }
    buf = pool_alloc(pool, len + 1);
    if (buf == NULL)
        return NULL;
    w = buf;
    if (n == 0)
        *w++ = '/';
    for (i = 0; i < n; i++) {
        *w++ = '/';
        for (j = 0; j < v[i].len; j++) {
            unsigned char c = (unsigned char) v[i].s[j];

            if (is_label_char(c)) {
                *w++ = (char) c;
            } else {
                *w++ = '\\';
                *w++ = 'x';
                *w++ = hex[c >> 4];
                *w++ = hex[c & 15];
            }
        }
    }
    *w = '\0';
    *ret_len = len;
    return buf;
}

static void
trace_bind(struct eval *e, const char *shown, const struct dtab_bind *b)
{
    struct dtab_trace_ev ev = {.path = shown, .bind = b};

    switch (b->kind) {
    case DTAB_BIND_NEG:
    case DTAB_BIND_REWRITE:
        ev.result = DTAB_RES_NEG;
        break;
    case DTAB_BIND_PENDING:
        ev.result = DTAB_RES_NEG;
        ev.pending = true;
        break;
    case DTAB_BIND_FAIL:
        ev.result = DTAB_RES_FAIL;
        ev.reason = b->reason ? b->reason : "namer failure";
        break;
    case DTAB_BIND_EMPTY:
        ev.result = DTAB_RES_EMPTY;
        break;
    case DTAB_BIND_BOUND:
        ev.result = DTAB_RES_LEAF;
        break;
    }
    trace_ev(e, DTAB_TRACE_BIND, 0, NULL, &ev);
}

/* Asks the binder about <v>. Returns true with *ret_path set when the namer rewrote the
 * name (the caller delegates it again); otherwise *out holds the answer. Kept apart from
 * eval_path so the large struct dtab_bind is off the stack while the rewrite recurses. */
static bool
eval_call_binder(struct eval *e, const struct label *v, size_t n, struct pres *out,
                 struct path *ret_path)
{
    struct dtab_bind b;
    struct pleaf *leaf;
    size_t len;
    char *shown;

    res_neg(out, false);
    if (e->binder == NULL)
        return false;
    shown = pool_show_path(&e->pool, v, n, &len);
    if (shown == NULL)
        goto oom;
    memset(&b, 0, sizeof(b));
    b.kind = DTAB_BIND_NEG;
    e->binder(e->binder_ctx, shown, len, &b);
    if (e->trace != NULL)
        trace_bind(e, shown, &b);

    switch (b.kind) {
    case DTAB_BIND_NEG:
        break;
    case DTAB_BIND_PENDING:
        res_neg(out, true);
        break;
    case DTAB_BIND_FAIL:
        res_fail(e, out, "%s", b.reason ? b.reason : "namer failure");
        break;
    case DTAB_BIND_EMPTY:
        out->kind = PRES_EMPTY;
        break;
    case DTAB_BIND_BOUND:
        b.id[sizeof(b.id) - 1] = '\0';
        b.residual[sizeof(b.residual) - 1] = '\0';
        leaf = pool_alloc(&e->pool, sizeof(*leaf));
        if (leaf == NULL)
            goto oom;
        memset(leaf, 0, sizeof(*leaf));
        leaf->weight = 1.0;
        leaf->share = 1.0;
        leaf->handle = b.handle;
        leaf->id = pool_strndup(&e->pool, b.id, strlen(b.id));
        leaf->residual = pool_strndup(&e->pool, b.residual, strlen(b.residual));
        if (leaf->id == NULL || leaf->residual == NULL)
            goto oom;
        out->kind = PRES_LEAVES;
        out->v = leaf;
        out->n = 1;
        break;
    case DTAB_BIND_REWRITE:
        b.path[sizeof(b.path) - 1] = '\0';
        if (path_parse_strict(&e->pool, b.path, strlen(b.path), ret_path))
            return true;
        if (e->pool.oom)
            goto oom;
        res_fail(e, out, "namer rewrote %.100s to an invalid path", shown);
        break;
    }
    return false;

oom:
    res_fail(e, out, "out of memory");
    e->fatal = true;
    return false;
}

static void eval_tree(struct eval *e, const struct tree *t, const struct label *res, size_t n_res,
                      unsigned depth, struct pres *out);

static void
eval_union(struct eval *e, const struct tree *t, const struct label *res, size_t n_res,
           unsigned depth, struct pres *out)
{
    struct pres *rs = pool_alloc(&e->pool, t->n * sizeof(*rs));
    size_t i, kept = 0, last = 0, n_leaves = 0, k = 0;
    bool pending = false;
    double total = 0.0;
    struct pleaf *v;

    if (rs == NULL) {
        res_fail(e, out, "out of memory");
        e->fatal = true;
        return;
    }
    /* every branch is evaluated, pending or not, so all their lookups start now */
    for (i = 0; i < t->n; i++) {
        if (e->trace != NULL) {
            struct dtab_trace_ev ev = {.weight = t->weights[i]};

            trace_ev(e, DTAB_TRACE_BRANCH_BEGIN, depth, NULL, &ev);
        }
        eval_tree(e, t->kids[i], res, n_res, depth, &rs[i]);
        trace_simple(e, DTAB_TRACE_BRANCH_END, depth, NULL, &rs[i]);
        if (e->fatal) {
            *out = rs[i];
            return;
        }
        if (rs[i].kind == PRES_NEG && rs[i].pending)
            pending = true;
        if (rs[i].kind == PRES_NEG || rs[i].kind == PRES_FAIL)
            continue;
        kept++;
        last = i;
        total += t->weights[i];
        n_leaves += rs[i].kind == PRES_EMPTY ? 1 : rs[i].n;
    }
    if (pending) {
        res_neg(out, true);
        return;
    }
    if (kept == 0) {
        res_neg(out, false);
        return;
    }
    if (kept == 1) {
        *out = rs[last];
        if (out->kind == PRES_LEAVES && out->n == 1)
            out->v[0].weight = 1.0; /* a lone survivor loses its branch weight */
        return;
    }

    v = pool_alloc(&e->pool, n_leaves * sizeof(*v));
    if (v == NULL) {
        res_fail(e, out, "out of memory");
        e->fatal = true;
        return;
    }
    for (i = 0; i < t->n; i++) {
        double frac;
        size_t j;

        if (rs[i].kind == PRES_NEG || rs[i].kind == PRES_FAIL)
            continue;
        frac = total > 0.0 ? t->weights[i] / total : 1.0 / (double) kept;
        if (rs[i].kind == PRES_EMPTY) {
            memset(&v[k], 0, sizeof(v[k]));
            v[k].empty = true;
            v[k].weight = t->weights[i];
            v[k].share = frac;
            k++;
            continue;
        }
        for (j = 0; j < rs[i].n; j++) {
            v[k] = rs[i].v[j];
            if (rs[i].n == 1)
                v[k].weight = t->weights[i]; /* innermost enclosing branch */
            v[k].share *= frac;
            k++;
        }
    }
    out->kind = PRES_LEAVES;
    out->pending = false;
    out->v = v;
    out->n = k;
}

/* A traced evaluation shows the alternatives after the one taken too. */
static void
explore_alt(struct eval *e, const struct tree *t, size_t from, const struct label *res,
            size_t n_res, unsigned depth)
{
    struct explore_save sv;
    struct pres scratch;
    size_t i;

    if (e->trace == NULL || e->fatal)
        return;
    explore_begin(e, &sv);
    for (i = from; i < t->n; i++)
        eval_tree(e, t->kids[i], res, n_res, depth, &scratch);
    explore_end(e, &sv);
}

static void
eval_alt(struct eval *e, const struct tree *t, const struct label *res, size_t n_res,
         unsigned depth, struct pres *out)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        eval_tree(e, t->kids[i], res, n_res, depth, out);
        if (out->kind != PRES_NEG || out->pending) {
            explore_alt(e, t, i + 1, res, n_res, depth);
            return; /* Fail and Empty stop the search too */
        }
    }
    res_neg(out, false);
}

static void
eval_tree(struct eval *e, const struct tree *t, const struct label *res, size_t n_res,
          unsigned depth, struct pres *out)
{
    struct label *v;

    switch (t->kind) {
    case TREE_LEAF:
        if (n_res == 0) {
            eval_path(e, t->path.v, t->path.n, depth + 1, out);
            return;
        }
        if (t->path.n == 0) {
            eval_path(e, res, n_res, depth + 1, out);
            return;
        }
        v = pool_alloc(&e->pool, (t->path.n + n_res) * sizeof(*v));
        if (v == NULL) {
            res_fail(e, out, "out of memory");
            e->fatal = true;
            return;
        }
        memcpy(v, t->path.v, t->path.n * sizeof(*v));
        memcpy(v + t->path.n, res, n_res * sizeof(*v));
        eval_path(e, v, t->path.n + n_res, depth + 1, out);
        return;
    case TREE_ALT:
        trace_simple(e, DTAB_TRACE_ALT_BEGIN, depth, NULL, NULL);
        eval_alt(e, t, res, n_res, depth, out);
        trace_simple(e, DTAB_TRACE_ALT_END, depth, NULL, out);
        return;
    case TREE_UNION:
        trace_simple(e, DTAB_TRACE_UNION_BEGIN, depth, NULL, NULL);
        eval_union(e, t, res, n_res, depth, out);
        trace_simple(e, DTAB_TRACE_UNION_END, depth, NULL, out);
        return;
    case TREE_FAIL:
        res_fail(e, out, "the dtab fails this name ('!')");
        break;
    case TREE_NEG:
        res_neg(out, false);
        break;
    case TREE_EMPTY:
        memset(out, 0, sizeof(*out));
        out->kind = PRES_EMPTY;
        break;
    }
    trace_simple(e, DTAB_TRACE_LITERAL, depth, NULL, out);
}

/* A limit stopped the evaluation: fatal, as Finagle's exceptions. */
static void __attribute__((format(printf, 4, 5)))
eval_exception(struct eval *e, struct pres *out, unsigned depth, const char *fmt, ...)
{
    va_list ap;

    memset(out, 0, sizeof(*out));
    out->kind = PRES_FAIL;
    va_start(ap, fmt);
    (void) vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
    va_end(ap);
    e->fatal = true;
    if (e->trace != NULL) {
        struct dtab_trace_ev ev = {.reason = e->reason, .result = DTAB_RES_FAIL};

        trace_ev(e, DTAB_TRACE_EXCEPTION, depth, NULL, &ev);
    }
}

/* The dentries of the dtab that match <v>, from <from> down, traced as unused. */
static void
explore_dentries(struct eval *e, const struct label *v, size_t n, unsigned depth, size_t from,
                 const char *shown)
{
    struct explore_save sv;
    struct pres scratch;
    size_t i;

    if (e->trace == NULL || e->fatal)
        return;
    explore_begin(e, &sv);
    for (i = from; i-- > 0;) {
        const struct dentry *de = &e->d->v[i];

        if (!prefix_match(de, v, n))
            continue;
        trace_dentry(e, de, depth, shown);
        eval_tree(e, de->dst, v + de->n_pfx, n - de->n_pfx, depth, &scratch);
        trace_simple(e, DTAB_TRACE_DENTRY_END, depth, shown, &scratch);
    }
    explore_end(e, &sv);
}

static void
eval_path_step(struct eval *e, const struct label *v, size_t n, unsigned depth, const char *shown,
               struct pres *out)
{
    bool matched = false;
    struct path rw;
    size_t i;

    if (e->fatal) {
        res_fail(e, out, "unreachable");
        return;
    }
    if (depth > DTAB_MAX_DEPTH) {
        eval_exception(e, out, depth, "recursion limit (%d) exceeded", DTAB_MAX_DEPTH);
        return;
    }
    if (e->exploring ? ++e->explore_steps > DTAB_MAX_STEPS : ++e->steps > DTAB_MAX_STEPS) {
        eval_exception(e, out, depth, "evaluation exceeded %d lookups", DTAB_MAX_STEPS);
        return;
    }
    for (i = dtab_size(e->d); i-- > 0;) {
        const struct dentry *de = &e->d->v[i];

        if (!prefix_match(de, v, n))
            continue;
        matched = true;
        if (e->trace != NULL)
            trace_dentry(e, de, depth, shown);
        eval_tree(e, de->dst, v + de->n_pfx, n - de->n_pfx, depth, out);
        trace_simple(e, DTAB_TRACE_DENTRY_END, depth, shown, out);
        if (out->kind != PRES_NEG || out->pending) {
            explore_dentries(e, v, n, depth, i, shown);
            return; /* earlier dentries are only fallbacks for Neg */
        }
    }
    if (matched || !is_namer_path(v, n)) {
        res_neg(out, false);
        return;
    }
    if (eval_call_binder(e, v, n, out, &rw)) {
        eval_path(e, rw.v, rw.n, depth + 1, out);
        trace_simple(e, DTAB_TRACE_REWRITE_END, depth, shown, out);
    }
}

static void
eval_path(struct eval *e, const struct label *v, size_t n, unsigned depth, struct pres *out)
{
    char *shown = NULL;
    size_t len;

    if (e->trace != NULL) {
        shown = pool_show_path(&e->pool, v, n, &len);
        if (shown == NULL) {
            res_fail(e, out, "out of memory");
            e->fatal = true;
            return;
        }
        trace_simple(e, DTAB_TRACE_PATH_BEGIN, depth, shown, NULL);
    }
    eval_path_step(e, v, n, depth, shown, out);
    trace_simple(e, DTAB_TRACE_PATH_END, depth, shown, out);
}

static int
result_fill(const struct pres *pr, const char *path, size_t len, struct eval *e,
            struct dtab_result *ret)
{
    size_t i, n_empty = 0;
    int plen = (int) MESH_MIN(len, (size_t) 120);

    switch (pr->kind) {
    case PRES_NEG:
        ret->kind = DTAB_RES_NEG;
        ret->pending = pr->pending;
        if (pr->pending)
            (void) snprintf(ret->reason, sizeof(ret->reason), "%.*s: waiting for a namer to answer",
                            plen, path);
        else
            (void) snprintf(ret->reason, sizeof(ret->reason), "no route to %.*s", plen, path);
        return 0;
    case PRES_FAIL:
        ret->kind = DTAB_RES_FAIL;
        (void) snprintf(ret->reason, sizeof(ret->reason), "%s", e->reason);
        return 0;
    case PRES_EMPTY:
        ret->kind = DTAB_RES_EMPTY;
        (void) snprintf(ret->reason, sizeof(ret->reason), "%.*s is bound to no addresses", plen,
                        path);
        return 0;
    case PRES_LEAVES:
        break;
    }

    for (i = 0; i < pr->n; i++)
        n_empty += pr->v[i].empty;
    if (n_empty == pr->n) {
        ret->kind = DTAB_RES_EMPTY;
        (void) snprintf(ret->reason, sizeof(ret->reason), "%.*s is bound to no addresses", plen,
                        path);
        return 0;
    }
    ret->leaves = calloc(pr->n, sizeof(*ret->leaves));
    if (ret->leaves == NULL)
        return -ENOMEM;
    for (i = 0; i < pr->n; i++) {
        const struct pleaf *src = &pr->v[i];
        struct dtab_leaf *dst = &ret->leaves[i];
        const char *id = src->empty ? "" : src->id;
        const char *res = src->empty ? "" : src->residual;
        size_t idlen = strlen(id), reslen = strlen(res);

        /* one block per leaf: id, then residual; dtab_result_fini frees id only */
        dst->id = malloc(idlen + reslen + 2);
        if (dst->id == NULL) {
            ret->n_leaves = i;
            dtab_result_fini(ret);
            return -ENOMEM;
        }
        memcpy(dst->id, id, idlen + 1);
        dst->residual = dst->id + idlen + 1;
        memcpy(dst->residual, res, reslen + 1);
        dst->weight = src->weight;
        dst->share = src->share;
        dst->handle = src->handle;
        dst->empty = src->empty;
    }
    ret->n_leaves = pr->n;
    ret->kind = pr->n == 1 ? DTAB_RES_LEAF : DTAB_RES_UNION;
    return 0;
}

static int
eval_run(struct eval *e, const char *path, size_t len, struct dtab_result *ret)
{
    struct path p;
    struct pres pr;
    int r;

    if (!path_parse_strict(&e->pool, path, len, &p)) {
        r = e->pool.oom ? -ENOMEM : -EINVAL;
        goto out;
    }
    eval_path(e, p.v, p.n, 0, &pr);
    if (e->pool.oom) {
        r = -ENOMEM;
        goto out;
    }
    memset(ret, 0, sizeof(*ret));
    r = result_fill(&pr, path, len, e, ret);

out:
    pool_fini(&e->pool);
    return r;
}

int
dtab_eval(const struct dtab *d, const char *path, size_t len, dtab_binder_fn *binder,
          void *binder_ctx, struct dtab_result *ret)
{
    struct eval e = {.d = d, .binder = binder, .binder_ctx = binder_ctx};

    return eval_run(&e, path, len, ret);
}

int
dtab_eval_traced(const struct dtab *d, const char *path, size_t len, dtab_binder_fn *binder,
                 void *binder_ctx, dtab_trace_fn *trace, void *trace_ctx, struct dtab_result *ret)
{
    struct eval e = {
        .d = d, .binder = binder, .binder_ctx = binder_ctx, .trace = trace, .trace_ctx = trace_ctx};

    return eval_run(&e, path, len, ret);
}

void
dtab_result_fini(struct dtab_result *res)
{
    size_t i;

    for (i = 0; i < res->n_leaves; i++)
        free(res->leaves[i].id); /* residual lives in the same block */
    free(res->leaves);
    memset(res, 0, sizeof(*res));
}

const struct dtab_leaf *
dtab_result_pick(const struct dtab_result *res, double rand01)
{
    double total = 0.0, acc = 0.0, target;
    size_t i;

    if (res->kind == DTAB_RES_LEAF && res->n_leaves > 0)
        return &res->leaves[0];
    if (res->kind != DTAB_RES_UNION || res->n_leaves == 0)
        return NULL;
    for (i = 0; i < res->n_leaves; i++)
        total += res->leaves[i].share;
    if (!(total > 0.0))
        return &res->leaves[(size_t) (rand01 * (double) res->n_leaves) % res->n_leaves];
    target = rand01 * total;
    for (i = 0; i < res->n_leaves; i++) {
        acc += res->leaves[i].share;
        if (target < acc)
            return &res->leaves[i];
    }
    return &res->leaves[res->n_leaves - 1];
}

/* tests/unit/test_dtab.c - the dtab grammar (every construct, every rejection with its
 * offset), Dtab.show and its round trip, path helpers, and evaluation rule by rule against
 * a fake binder that answers from the shape of the path. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/strbuf.h"
#include "proxy/dtab.h"
#include "tests/lib/check_main.h"

/* ---- helpers ----------------------------------------------------------------------- */

static struct dtab *
parse_ok(const char *text)
{
    struct dtab_err err;
    struct dtab *d = dtab_parse(text, strlen(text), &err);

    ck_assert_msg(d != NULL, "parse of \"%s\" failed: %s", text, err.msg);
    return d;
}

/* Shows <d> into a static buffer (tests only). */
static const char *
show(const struct dtab *d)
{
    static char buf[4096];
    struct strbuf sb = STRBUF_INIT;

    dtab_show(d, &sb);
    (void) snprintf(buf, sizeof(buf), "%s", strbuf_str(&sb));
    strbuf_fini(&sb);
    return buf;
}

static unsigned binder_calls;
static char binder_last[256];

/* The fake binder:
 *   /$/inet/<h>/<p>[/rest]  BOUND "/$/inet/<h>/<p>", residual "/rest"
 *   /#/pending...           PENDING
 *   /#/fail...              FAIL "fake failure"
 *   /#/nil...               EMPTY
 *   /#/rw/<rest>            REWRITE "/<rest>"
 *   /#/loop...              REWRITE to itself
 *   anything else           NEG */
static void
fake_binder(void *ctx, const char *path, size_t len, struct dtab_bind *ret)
{
    char p[256];

    (void) ctx;
    ck_assert_uint_lt(len, sizeof(p));
    memcpy(p, path, len);
    p[len] = '\0';
    binder_calls++;
    (void) snprintf(binder_last, sizeof(binder_last), "%s", p);

    if (strncmp(p, "/$/inet/", 8) == 0) {
        const char *host = p + 8, *port = strchr(host, '/'), *rest;

        if (port == NULL)
            return;
        rest = strchr(port + 1, '/');
        if (rest == NULL)
            rest = p + len;
        ret->kind = DTAB_BIND_BOUND;
        (void) snprintf(ret->id, sizeof(ret->id), "%.*s", (int) (rest - p), p);
        (void) snprintf(ret->residual, sizeof(ret->residual), "%s", rest);
        ret->handle = (void *) 0x1234;
    } else if (strncmp(p, "/#/pending", 10) == 0) {
        ret->kind = DTAB_BIND_PENDING;
    } else if (strncmp(p, "/#/fail", 7) == 0) {
        ret->kind = DTAB_BIND_FAIL;
        ret->reason = "fake failure";
    } else if (strncmp(p, "/#/nil", 6) == 0) {
        ret->kind = DTAB_BIND_EMPTY;
    } else if (strncmp(p, "/#/rw/", 6) == 0) {
        ret->kind = DTAB_BIND_REWRITE;
        (void) snprintf(ret->path, sizeof(ret->path), "%s", p + 5);
    } else if (strncmp(p, "/#/loop", 7) == 0) {
        ret->kind = DTAB_BIND_REWRITE;
        (void) snprintf(ret->path, sizeof(ret->path), "%s", p);
    }
}

/* Evaluates <path> against <text>; returns dtab_eval's result. */
static int
eval(const char *text, const char *path, struct dtab_result *res)
{
    struct dtab *d = parse_ok(text);
    int r;

    binder_calls = 0;
    r = dtab_eval(d, path, strlen(path), fake_binder, NULL, res);
    dtab_free(d);
    return r;
}

static void
assert_leaf(const char *text, const char *path, const char *id, const char *residual)
{
    struct dtab_result res;

    ck_assert_int_eq(eval(text, path, &res), 0);
    ck_assert_msg(res.kind == DTAB_RES_LEAF, "%s on %s: kind %d (%s)", path, text, res.kind,
                  res.reason);
    ck_assert_uint_eq(res.n_leaves, 1);
    ck_assert_str_eq(res.leaves[0].id, id);
    ck_assert_str_eq(res.leaves[0].residual, residual);
    ck_assert_ptr_eq(res.leaves[0].handle, (void *) 0x1234);
    ck_assert(res.leaves[0].weight == 1.0);
    dtab_result_fini(&res);
}

static void
assert_kind(const char *text, const char *path, enum dtab_result_kind kind, bool pending)
{
    struct dtab_result res;

    ck_assert_int_eq(eval(text, path, &res), 0);
    ck_assert_msg(res.kind == kind, "%s on %s: kind %d, expected %d (%s)", path, text, res.kind,
                  kind, res.reason);
    ck_assert_msg(res.pending == pending, "%s on %s: pending %d", path, text, res.pending);
    dtab_result_fini(&res);
}

/* ---- grammar ----------------------------------------------------------------------- */

START_TEST(test_dtab_parse_empty)
{
    static const char *const empty[] = {"", "   ", "\n\t", "# only a comment\n", "  # x"};
    size_t i;

    for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        struct dtab *d = parse_ok(empty[i]);

        ck_assert_uint_eq(dtab_size(d), 0);
        ck_assert_str_eq(show(d), "");
        dtab_free(d);
    }
    ck_assert_ptr_null(dtab_free(NULL));
    ck_assert_uint_eq(dtab_size(NULL), 0);
}
END_TEST

/* Every construct, with its canonical show. */
static const struct {
    const char *in;
    const char *shown;
    size_t n;
} constructs[] = {
    {"/a=>/b", "/a=>/b", 1},
    {"/=>/b", "/=>/b", 1},
    {"/a=>/", "/a=>/", 1},
    {"/a/b/c=>/d/e", "/a/b/c=>/d/e", 1},
    {"/a/*/c=>/d", "/a/*/c=>/d", 1},
    {"/*=>/d", "/*=>/d", 1},
    {"/a=>/b|/c", "/a=>/b|/c", 1},
    {"/a=>/b&/c", "/a=>/b&/c", 1},
    {"/a=>0.8*/b&0.2*/c", "/a=>0.8*/b&0.2*/c", 1},
    {"/a=>2*/b & .5*/c", "/a=>2*/b&0.5*/c", 1},
    {"/a=>1*/b&1.0*/c", "/a=>/b&/c", 1},
    {"/a=>3 * /b", "/a=>/b", 1}, /* a lone branch loses its weight */
    {"/a => /b | /c & /d", "/a=>/b|/c&/d", 1},
    {"/a=>(/b|/c)&/d", "/a=>(/b|/c)&/d", 1},
    {"/a=>/b&(/c&/d)", "/a=>/b&(/c&/d)", 1},
    {"/a=>((/b|!)|~)", "/a=>(/b|!)|~", 1},
    {"/a=>(/b)", "/a=>/b", 1},
    {"/a=>!", "/a=>!", 1},
    {"/a=>~", "/a=>~", 1},
    {"/a=>$", "/a=>$", 1},
    {"/a=>!|~|$", "/a=>!|~|$", 1},
    {"/a=>/b;/c=>/d;", "/a=>/b;/c=>/d", 2},
    {"/#/io.l5d.fs=>/$/inet/127.0.0.1/80", "/#/io.l5d.fs=>/$/inet/127.0.0.1/80", 1},
    {"/svc=>/$/inet/::1/80", "/svc=>/$/inet/::1/80", 1},
    {"/a_b:c.d#e$f%g-h=>/x", "/a_b:c.d#e$f%g-h=>/x", 1},
    {"/a\\x20b=>/c", "/a\\x20b=>/c", 1},
    {"/\\x41\\x2f=>/c", "/A\\x2f=>/c", 1},
    {"/a=>/b#c", "/a=>/b#c", 1}, /* '#' inside a label is part of it */
    {"/a=>/b # note\n;/c=>/d # other\n", "/a=>/b;/c=>/d", 2},
    {" \t/a\n=>\n/b ;\n /c=>/d\n", "/a=>/b;/c=>/d", 2},
    {"/a=>\n  /b # first\n  | /c # second\n", "/a=>/b|/c", 1},
    {"/a=>0.333*/b&7*/c", "/a=>0.333*/b&7*/c", 1},
    {"/a=>0*/b&/c", "/a=>0*/b&/c", 1},
};

START_TEST(test_dtab_parse_constructs)
{
    size_t i;

    for (i = 0; i < sizeof(constructs) / sizeof(constructs[0]); i++) {
        struct dtab *d = parse_ok(constructs[i].in);

        ck_assert_msg(strcmp(show(d), constructs[i].shown) == 0, "\"%s\" shows as \"%s\"",
                      constructs[i].in, show(d));
        ck_assert_uint_eq(dtab_size(d), constructs[i].n);
        dtab_free(d);
    }
}
END_TEST

START_TEST(test_dtab_show_round_trip)
{
    size_t i;

    for (i = 0; i < sizeof(constructs) / sizeof(constructs[0]); i++) {
        struct dtab *d = parse_ok(constructs[i].in), *d2;
        char first[4096];

        (void) snprintf(first, sizeof(first), "%s", show(d));
        d2 = parse_ok(first);
        ck_assert_str_eq(show(d2), first);
        dtab_free(d2);
        dtab_free(d);
    }
}
END_TEST

START_TEST(test_dtab_show_weight_precision)
{
    struct dtab *d = parse_ok("/a=>0.1234567*/b&12.5*/c&100*/d");

    ck_assert_str_eq(show(d), "/a=>0.1234567*/b&12.5*/c&100*/d");
    dtab_free(d);
}
END_TEST

static const struct {
    const char *in;
    size_t pos;
    const char *msg;
} rejections[] = {
    {"/a", 2, "unexpected end"},
    {"/a=/b", 2, "expected '=>'"},
    {"/a= >/b", 2, "expected '=>'"},
    {"/a=>", 4, "unexpected end"},
    {"/a=>  ", 6, "unexpected end"},
    {"a=>/b", 0, "expected '/'"},
    {";", 0, "expected '/'"},
    {"/a=>/b;;", 7, "expected '/'"},
    {"/foo/*bar=>/b", 5, "'*' must be a whole segment"},
    {"/foo*=>/b", 4, "'*' must be a whole segment"},
    {"/a/**=>/b", 3, "'*' must be a whole segment"},
    {"/a=>/b*", 6, "'*' must be a whole segment"},
    {"/a=>/b\\x4", 6, "bad \\x escape"},
    {"/a\\xzz=>/b", 2, "bad \\x escape"},
    {"/a\\y41=>/b", 2, "bad \\x escape"},
    {"/a\\=>/b", 2, "bad \\x escape"},
    {"/a=>/b /c", 7, "expected ';'"},
    {"/a=>/b)", 6, "expected ';'"},
    {"/a=>(/b", 7, "unexpected end"},
    {"/a=>(/b;", 7, "expected ')'"},
    {"/a=>()", 5, "expected path, '!', '~', '$' or '('"},
    {"/a=>&/b", 4, "expected path, '!', '~', '$' or '('"},
    {"/a=>/b|", 7, "unexpected end"},
    {"/a=>/b&|/c", 7, "expected path"},
    {"/a=>.", 4, "bad number"},
    {"/a=>.*/b", 4, "bad number"},
    {"/a=>1.2.3*/b", 7, "bad number"},
    {"/a=>2/b", 5, "expected '*' after weight"},
    {"/a=>2", 5, "unexpected end"},
    {"/a=>2*", 6, "unexpected end"},
    {"/a=>/b/", 7, "unexpected end"},
    {"/a=>/b//c", 7, "expected label"},
    {"/a/=>/b", 3, "expected label or '*'"},
    {"/a//b=>/c", 3, "expected label or '*'"},
    {"/a b=>/c", 3, "expected '=>'"},
    {"/a=>/b c", 7, "expected ';'"},
    {"/a=>/b;x", 7, "expected '/'"},
};

START_TEST(test_dtab_parse_rejects_with_position)
{
    size_t i;

    for (i = 0; i < sizeof(rejections) / sizeof(rejections[0]); i++) {
        struct dtab_err err;
        struct dtab *d = dtab_parse(rejections[i].in, strlen(rejections[i].in), &err);
        char at[32];

        ck_assert_msg(d == NULL, "\"%s\" parsed", rejections[i].in);
        ck_assert_msg(err.pos == rejections[i].pos, "\"%s\": pos %zu, expected %zu (%s)",
                      rejections[i].in, err.pos, rejections[i].pos, err.msg);
        ck_assert_msg(strstr(err.msg, rejections[i].msg) != NULL, "\"%s\": \"%s\"",
                      rejections[i].in, err.msg);
        (void) snprintf(at, sizeof(at), " at offset %zu", rejections[i].pos);
        ck_assert_msg(strstr(err.msg, at) != NULL, "\"%s\": \"%s\"", rejections[i].in, err.msg);
    }
}
END_TEST

START_TEST(test_dtab_parse_rejects_limits)
{
    struct dtab_err err;
    char text[1024];
    size_t n = 0, i;

    n += (size_t) snprintf(text + n, sizeof(text) - n, "/a=>");
    for (i = 0; i < 70; i++)
        text[n++] = '(';
    n += (size_t) snprintf(text + n, sizeof(text) - n, "/b");
    for (i = 0; i < 70; i++)
        text[n++] = ')';
    text[n] = '\0';
    ck_assert_ptr_null(dtab_parse(text, n, &err));
    ck_assert(strstr(err.msg, "nested too deeply") != NULL);
    ck_assert_uint_eq(err.pos, 4 + 64);

    n = (size_t) snprintf(text, sizeof(text), "/a=>");
    for (i = 0; i < 400; i++)
        text[n++] = '9';
    n += (size_t) snprintf(text + n, sizeof(text) - n, "*/b");
    ck_assert_ptr_null(dtab_parse(text, n, &err));
    ck_assert(strstr(err.msg, "bad number") != NULL);
    ck_assert_uint_eq(err.pos, 4);

    /* the length is honoured: no NUL needed, nothing read past it */
    ck_assert_ptr_null(dtab_parse("/a=>/bXXXX", 4, &err));
    ck_assert_uint_eq(err.pos, 4);
    /* NULL err is allowed */
    ck_assert_ptr_null(dtab_parse("/a", 2, NULL));
}
END_TEST

START_TEST(test_dtab_concat_and_serial)
{
    struct dtab *a = parse_ok("/a=>/b"), *b = parse_ok("/a=>/c;/x/*=>0.5*/y&/z"), *c, *e;

    c = dtab_concat(a, b);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_ne(dtab_serial(a), dtab_serial(b));
    ck_assert_uint_ne(dtab_serial(c), dtab_serial(a));
    ck_assert_uint_ne(dtab_serial(c), 0);
    ck_assert_uint_eq(dtab_serial(NULL), 0);
    dtab_free(a);
    dtab_free(b); /* c is a deep copy */
    ck_assert_uint_eq(dtab_size(c), 3);
    ck_assert_str_eq(show(c), "/a=>/b;/a=>/c;/x/*=>0.5*/y&/z");
    e = dtab_concat(NULL, NULL);
    ck_assert_uint_eq(dtab_size(e), 0);
    dtab_free(e);
    e = dtab_concat(NULL, c);
    ck_assert_str_eq(show(e), show(c));
    dtab_free(e);
    dtab_free(c);
}
END_TEST

/* ---- paths ------------------------------------------------------------------------- */

START_TEST(test_dtab_path_valid)
{
    static const char *const good[] = {
        "/", "/a", "/a/b", "/\\x2f", "/$/inet/::1/80", "/#/io.l5d.fs/a", "/a\\x00b"};
    static const char *const bad[] = {"",       "a",     "//", "/a/", "/a b", "/\\x4",
                                      "/\\xzz", "/a//b", "/(", "/a*", " /a"};
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(dtab_path_valid(good[i], strlen(good[i])), "%s", good[i]);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!dtab_path_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
    ck_assert(dtab_path_valid("/ab", 2));
}
END_TEST

START_TEST(test_dtab_path_add_label)
{
    struct strbuf sb = STRBUF_INIT;

    dtab_path_add_label(&sb, "svc", 3);
    dtab_path_add_label(&sb, "a b", 3);
    dtab_path_add_label(&sb, "x/y\xff", 4);
    dtab_path_add_label(&sb, "", 0);
    dtab_path_add_label(&sb, "hello:7777", 10);
    ck_assert_str_eq(strbuf_str(&sb), "/svc/a\\x20b/x\\x2fy\\xff/hello:7777");
    ck_assert(dtab_path_valid(sb.s, sb.len));
    strbuf_fini(&sb);
}
END_TEST

/* ---- evaluation -------------------------------------------------------------------- */

START_TEST(test_dtab_eval_later_dentry_wins)
{
    assert_leaf("/svc=>/$/inet/a/1;/svc=>/$/inet/b/2", "/svc", "/$/inet/b/2", "");
    assert_leaf("/svc=>/$/inet/a/1;/svc/x=>/$/inet/b/2", "/svc/x", "/$/inet/b/2", "");
    assert_leaf("/svc/x=>/$/inet/b/2;/svc=>/$/inet/a/1", "/svc/x", "/$/inet/a/1", "/x");
}
END_TEST

START_TEST(test_dtab_eval_fallback)
{
    struct dtab_result res;

    /* the later dentry is Neg (no dentry, not a namer path): the earlier one applies */
    assert_leaf("/svc=>/$/inet/a/1;/svc=>/nothing", "/svc", "/$/inet/a/1", "");
    assert_leaf("/svc=>/$/inet/a/1;/svc=>~", "/svc", "/$/inet/a/1", "");
    assert_leaf("/svc=>/$/inet/a/1;/svc=>/#/unknown", "/svc", "/$/inet/a/1", "");
    /* Fail and Empty decide: no fallback */
    ck_assert_int_eq(eval("/svc=>/$/inet/a/1;/svc=>!", "/svc", &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_FAIL);
    ck_assert(strstr(res.reason, "'!'") != NULL);
    dtab_result_fini(&res);
    assert_kind("/svc=>/$/inet/a/1;/svc=>$", "/svc", DTAB_RES_EMPTY, false);
    assert_kind("/svc=>/$/inet/a/1;/svc=>/#/nil", "/svc", DTAB_RES_EMPTY, false);
    /* all Neg */
    ck_assert_int_eq(eval("/svc=>~;/svc=>/nothing", "/svc/x", &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_NEG);
    ck_assert(!res.pending);
    ck_assert_str_eq(res.reason, "no route to /svc/x");
    dtab_result_fini(&res);
}
END_TEST

START_TEST(test_dtab_eval_residual)
{
    assert_leaf("/svc=>/$/inet/h", "/svc/80/x/y", "/$/inet/h/80", "/x/y");
    assert_leaf("/svc=>/host;/host=>/$/inet", "/svc/h/81/z", "/$/inet/h/81", "/z");
    assert_leaf("", "/$/inet/h/1/r", "/$/inet/h/1", "/r");
    /* the prefix "/" matches every path, the bound name included: it loops, as in Finagle */
    assert_kind("/=>/$/inet/h/1", "/any/thing", DTAB_RES_FAIL, false);
}
END_TEST

START_TEST(test_dtab_eval_wildcard)
{
    assert_leaf("/svc/*/foo=>/$/inet/w/1", "/svc/anything/foo/bar", "/$/inet/w/1", "/bar");
    assert_leaf("/x/*/*=>/$/inet/w/1", "/x/a/b", "/$/inet/w/1", "");
    assert_kind("/svc/*/foo=>/$/inet/w/1", "/svc/a/b/foo", DTAB_RES_NEG, false);
    assert_kind("/svc/*=>/$/inet/w/1", "/svc", DTAB_RES_NEG, false); /* '*' needs an element */
    /* labels compare whole and decoded */
    assert_kind("/sv=>/$/inet/w/1", "/svc", DTAB_RES_NEG, false);
    assert_leaf("/s\\x76c=>/$/inet/w/1", "/svc", "/$/inet/w/1", "");
    assert_leaf("/svc=>/$/inet/w/1", "/s\\x76c", "/$/inet/w/1", "");
}
END_TEST

START_TEST(test_dtab_eval_alt)
{
    struct dtab_result res;

    assert_leaf("/svc=>~|/$/inet/a/1", "/svc", "/$/inet/a/1", "");
    assert_leaf("/svc=>/nothing|/#/none|/$/inet/a/1|/$/inet/b/2", "/svc", "/$/inet/a/1", "");
    assert_kind("/svc=>~|~", "/svc", DTAB_RES_NEG, false);
    assert_kind("/svc=>$|/$/inet/a/1", "/svc", DTAB_RES_EMPTY, false);
    ck_assert_int_eq(eval("/svc=>/#/fail|/$/inet/a/1", "/svc", &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_FAIL);
    ck_assert_str_eq(res.reason, "fake failure");
    dtab_result_fini(&res);
}
END_TEST

START_TEST(test_dtab_eval_union_weights)
{
    struct dtab_result res;

    ck_assert_int_eq(eval("/svc=>0.8*/$/inet/a/1&0.2*/$/inet/b/2", "/svc/r", &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_UNION);
    ck_assert_uint_eq(res.n_leaves, 2);
    ck_assert_str_eq(res.leaves[0].id, "/$/inet/a/1");
    ck_assert_str_eq(res.leaves[0].residual, "/r");
    ck_assert_str_eq(res.leaves[1].id, "/$/inet/b/2");
    ck_assert_double_eq_tol(res.leaves[0].weight, 0.8, 1e-12);
    ck_assert_double_eq_tol(res.leaves[1].weight, 0.2, 1e-12);
    ck_assert_double_eq_tol(res.leaves[0].share, 0.8, 1e-12);
    ck_assert_double_eq_tol(res.leaves[1].share, 0.2, 1e-12);
    ck_assert_ptr_eq(dtab_result_pick(&res, 0.0), &res.leaves[0]);
    ck_assert_ptr_eq(dtab_result_pick(&res, 0.79), &res.leaves[0]);
    ck_assert_ptr_eq(dtab_result_pick(&res, 0.81), &res.leaves[1]);
    ck_assert_ptr_eq(dtab_result_pick(&res, 0.9999), &res.leaves[1]);
    dtab_result_fini(&res);
}
END_TEST

START_TEST(test_dtab_eval_union_drops_neg_and_fail)
{
    struct dtab_result res;

    /* one survivor replaces the union and loses its weight */
    ck_assert_int_eq(eval("/svc=>3*/$/inet/a/1&~&!&/#/fail&/nothing", "/svc", &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_LEAF);
    ck_assert_str_eq(res.leaves[0].id, "/$/inet/a/1");
    ck_assert(res.leaves[0].weight == 1.0);
    dtab_result_fini(&res);
    assert_kind("/svc=>~&!&/#/fail", "/svc", DTAB_RES_NEG, false);
    /* Empty branches stay (Finagle retains them): picking one means no addresses */
    ck_assert_int_eq(eval("/svc=>3*/$/inet/a/1&1*$&~", "/svc", &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_UNION);
    ck_assert_uint_eq(res.n_leaves, 2);
    ck_assert(!res.leaves[0].empty);
    ck_assert(res.leaves[1].empty);
    ck_assert_str_eq(res.leaves[1].id, "");
    ck_assert_double_eq_tol(res.leaves[0].share, 0.75, 1e-12);
    ck_assert_ptr_eq(dtab_result_pick(&res, 0.9), &res.leaves[1]);
    dtab_result_fini(&res);
    assert_kind("/svc=>$&/#/nil", "/svc", DTAB_RES_EMPTY, false);
}
END_TEST

START_TEST(test_dtab_eval_union_nested_weights)
{
    struct dtab_result res;

    ck_assert_int_eq(
        eval("/svc=>0.5*(0.2*/$/inet/a/1&0.8*/$/inet/b/2)&0.5*/$/inet/c/3", "/svc", &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_UNION);
    ck_assert_uint_eq(res.n_leaves, 3);
    /* weights are the innermost branch's, never multiplied */
    ck_assert_double_eq_tol(res.leaves[0].weight, 0.2, 1e-12);
    ck_assert_double_eq_tol(res.leaves[1].weight, 0.8, 1e-12);
    ck_assert_double_eq_tol(res.leaves[2].weight, 0.5, 1e-12);
    /* picks go level by level */
    ck_assert_double_eq_tol(res.leaves[0].share, 0.1, 1e-12);
    ck_assert_double_eq_tol(res.leaves[1].share, 0.4, 1e-12);
    ck_assert_double_eq_tol(res.leaves[2].share, 0.5, 1e-12);
    dtab_result_fini(&res);

    /* a union reached through delegation */
    ck_assert_int_eq(eval("/svc=>/$/inet/x/9;/svc=>/u;/u=>4*/$/inet/a/1&/$/inet/b/2", "/svc", &res),
                     0);
    ck_assert_int_eq(res.kind, DTAB_RES_UNION);
    ck_assert_double_eq_tol(res.leaves[0].share, 0.8, 1e-12);
    dtab_result_fini(&res);
}
END_TEST

START_TEST(test_dtab_eval_pick_proportions)
{
    struct dtab_result res;
    unsigned count[3] = {0, 0, 0};
    unsigned i;

    ck_assert_int_eq(eval("/s=>1*/$/inet/a/1&2*/$/inet/b/2&7*/$/inet/c/3", "/s", &res), 0);
    for (i = 0; i < 10000; i++) {
        const struct dtab_leaf *l = dtab_result_pick(&res, (i + 0.5) / 10000.0);

        count[l - res.leaves]++;
    }
    ck_assert_uint_eq(count[0], 1000);
    ck_assert_uint_eq(count[1], 2000);
    ck_assert_uint_eq(count[2], 7000);
    dtab_result_fini(&res);

    /* all-zero weights split evenly instead of dividing by zero */
    ck_assert_int_eq(eval("/s=>0*/$/inet/a/1&0*/$/inet/b/2", "/s", &res), 0);
    ck_assert_double_eq_tol(res.leaves[0].share, 0.5, 1e-12);
    ck_assert_ptr_eq(dtab_result_pick(&res, 0.7), &res.leaves[1]);
    dtab_result_fini(&res);
}
END_TEST

START_TEST(test_dtab_eval_recursion_limit)
{
    struct dtab_result res;
    struct strbuf sb = STRBUF_INIT;
    struct dtab *d;
    int i;

    ck_assert_int_eq(eval("/a=>/b;/b=>/a", "/a", &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_FAIL);
    ck_assert_str_eq(res.reason, "recursion limit (100) exceeded");
    dtab_result_fini(&res);

    /* the limit is fatal: a union cannot drop it, an earlier dentry cannot catch it */
    ck_assert_int_eq(eval("/a=>/$/inet/x/1;/a=>/$/inet/y/2&/a", "/a", &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_FAIL);
    dtab_result_fini(&res);

    /* a union of loops is stopped by the step limit long before 2^100 lookups */
    ck_assert_int_eq(eval("/a=>/a&/a", "/a", &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_FAIL);
    ck_assert(strstr(res.reason, "exceeded") != NULL);
    dtab_result_fini(&res);

    /* a rewriting namer that loops */
    ck_assert_int_eq(eval("", "/#/loop", &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_FAIL);
    ck_assert_str_eq(res.reason, "recursion limit (100) exceeded");
    dtab_result_fini(&res);

    /* 99 hops are fine */
    for (i = 0; i < 98; i++)
        strbuf_addf(&sb, "/p%d=>/p%d;", i, i + 1);
    strbuf_addf(&sb, "/p98=>/$/inet/x/1");
    d = parse_ok(sb.s);
    ck_assert_int_eq(dtab_eval(d, "/p0", 3, fake_binder, NULL, &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_LEAF);
    dtab_result_fini(&res);
    dtab_free(d);
    strbuf_fini(&sb);
}
END_TEST

START_TEST(test_dtab_eval_rewrite)
{
    struct dtab_result res;

    /* the rewritten path is delegated again from the top of the dtab */
    assert_leaf("/svc=>/#/rw/real;/real=>/$/inet/r/1", "/svc/x", "/$/inet/r/1", "/x");
    ck_assert_str_eq(binder_last, "/$/inet/r/1/x");
    /* a rewrite to a path nothing binds is Neg, so an earlier dentry is the fallback */
    assert_leaf("/svc=>/$/inet/f/1;/svc=>/#/rw/nowhere", "/svc", "/$/inet/f/1", "");
    ck_assert_int_eq(eval("/svc=>/#/rw/real;/real=>!", "/svc", &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_FAIL);
    dtab_result_fini(&res);
}
END_TEST

START_TEST(test_dtab_eval_pending)
{
    assert_kind("/svc=>/#/pending", "/svc", DTAB_RES_NEG, true);
    /* a pending branch that does not decide is ignored */
    assert_leaf("/svc=>/$/inet/a/1|/#/pending", "/svc", "/$/inet/a/1", "");
    assert_leaf("/svc=>/#/pending;/svc=>/$/inet/a/1", "/svc", "/$/inet/a/1", "");
    /* one that decides makes the result pending */
    assert_kind("/svc=>/#/pending|/$/inet/a/1", "/svc", DTAB_RES_NEG, true);
    assert_kind("/svc=>~|/#/nothing|/#/pending", "/svc", DTAB_RES_NEG, true);
    assert_kind("/svc=>/$/inet/a/1;/svc=>/#/pending", "/svc", DTAB_RES_NEG, true);
    /* unions wait for every branch, and still ask about all of them */
    assert_kind("/svc=>/$/inet/a/1&/#/pending&/$/inet/b/2", "/svc", DTAB_RES_NEG, true);
    ck_assert_uint_eq(binder_calls, 3);
}
END_TEST

START_TEST(test_dtab_eval_namers_only_when_unmatched)
{
    struct dtab_result res;

    /* a dentry that matches a namer path wins over the binder */
    assert_leaf("/#/x=>/$/inet/d/1", "/#/x/y", "/$/inet/d/1", "/y");
    ck_assert_uint_eq(binder_calls, 1);
    ck_assert_str_eq(binder_last, "/$/inet/d/1/y");
    assert_kind("/#=>~", "/#/pending", DTAB_RES_NEG, false);
    ck_assert_uint_eq(binder_calls, 0);
    /* paths that are not namer paths never reach the binder */
    assert_kind("", "/foo", DTAB_RES_NEG, false);
    assert_kind("", "/#foo/x", DTAB_RES_NEG, false);
    ck_assert_uint_eq(binder_calls, 0);
    /* the binder sees the shown (escaped) path */
    assert_leaf("/svc=>/$/inet/h", "/svc/1/a\\x20b", "/$/inet/h/1", "/a\\x20b");
    /* a NULL binder or NULL dtab */
    ck_assert_int_eq(dtab_eval(NULL, "/$/inet/a/1", 11, fake_binder, NULL, &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_LEAF);
    dtab_result_fini(&res);
    ck_assert_int_eq(dtab_eval(NULL, "/$/inet/a/1", 11, NULL, NULL, &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_NEG);
    dtab_result_fini(&res);
}
END_TEST

START_TEST(test_dtab_eval_invalid_path)
{
    static const char *const bad[] = {"", "svc", "/a/", "//", "/a b", "/\\x"};
    struct dtab *d = parse_ok("/svc=>/$/inet/a/1");
    struct dtab_result res;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(dtab_eval(d, bad[i], strlen(bad[i]), fake_binder, NULL, &res), -EINVAL);
    ck_assert_int_eq(dtab_eval(d, "/", 1, fake_binder, NULL, &res), 0);
    ck_assert_int_eq(res.kind, DTAB_RES_NEG);
    ck_assert_ptr_null(dtab_result_pick(&(struct dtab_result){.kind = DTAB_RES_NEG}, 0.5));
    dtab_result_fini(&res);
    dtab_free(d);
}
END_TEST

static Suite *
dtab_suite(void)
{
    Suite *s = suite_create("dtab");
    TCase *tc;

    tc = tcase_create("grammar");
    tcase_add_test(tc, test_dtab_parse_empty);
    tcase_add_test(tc, test_dtab_parse_constructs);
    tcase_add_test(tc, test_dtab_parse_rejects_with_position);
    tcase_add_test(tc, test_dtab_parse_rejects_limits);
    tcase_add_test(tc, test_dtab_concat_and_serial);
    suite_add_tcase(s, tc);

    tc = tcase_create("show");
    tcase_add_test(tc, test_dtab_show_round_trip);
    tcase_add_test(tc, test_dtab_show_weight_precision);
    suite_add_tcase(s, tc);

    tc = tcase_create("path");
    tcase_add_test(tc, test_dtab_path_valid);
    tcase_add_test(tc, test_dtab_path_add_label);
    suite_add_tcase(s, tc);

    tc = tcase_create("eval");
    tcase_add_test(tc, test_dtab_eval_later_dentry_wins);
    tcase_add_test(tc, test_dtab_eval_fallback);
    tcase_add_test(tc, test_dtab_eval_residual);
    tcase_add_test(tc, test_dtab_eval_wildcard);
    tcase_add_test(tc, test_dtab_eval_alt);
    tcase_add_test(tc, test_dtab_eval_union_weights);
    tcase_add_test(tc, test_dtab_eval_union_drops_neg_and_fail);
    tcase_add_test(tc, test_dtab_eval_union_nested_weights);
    tcase_add_test(tc, test_dtab_eval_pick_proportions);
    tcase_add_test(tc, test_dtab_eval_recursion_limit);
    tcase_add_test(tc, test_dtab_eval_rewrite);
    tcase_add_test(tc, test_dtab_eval_pending);
    tcase_add_test(tc, test_dtab_eval_namers_only_when_unmatched);
    tcase_add_test(tc, test_dtab_eval_invalid_path);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(dtab_suite)

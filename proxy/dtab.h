/* proxy/dtab.h - Finagle delegation tables: parsing, showing and evaluating paths
 * against them. Pure code, no I/O: evaluation asks a caller-supplied binder for
 * /#/... and /$/... names (see naming.h for the one the proxy uses).
 *
 * Grammar (Finagle NameTreeParsers):
 *   dtab   := [dentry (';' dentry)*] [';']
 *   dentry := prefix '=>' tree
 *   prefix := '/' | ('/' (label | '*'))+
 *   tree   := tree1 ('|' tree1)*             Alt: ordered fallback
 *   tree1  := weighted ('&' weighted)*       Union: weighted split, binds tighter
 *   weighted := [number '*'] simple          number: 2, 0.8, .5 (default 1.0)
 *   simple := '(' tree ')' | path | '!' | '~' | '$'     Fail, Neg, Empty
 *   label  := ([0-9A-Za-z_:.#$%-] | '\x' hex hex)+
 * '#' starts a comment to end of line where whitespace may stand. */
#ifndef MESH_PROXY_DTAB_H
#define MESH_PROXY_DTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf;
struct dtab;

struct dtab_err {
    size_t pos;     /* byte offset in the input where parsing failed */
    char msg[200];  /* "expected '=>' at offset 7" style, for l5d-err and the log */
};

/* Parses <text>. Returns NULL and fills <err> on a syntax error; the empty string is
 * the empty dtab. Never aborts: out of memory is reported as an error ("out of memory"),
 * since request headers (l5d-dtab) are parsed with it. <err> may be NULL. */
struct dtab *dtab_parse(const char *text, size_t len, struct dtab_err *err);

/* A new dtab: the dentries of <a> followed by those of <b> (either may be NULL). Returns
 * NULL only when out of memory. */
struct dtab *dtab_concat(const struct dtab *a, const struct dtab *b);

struct dtab *dtab_free(struct dtab *d);
size_t dtab_size(const struct dtab *d); /* number of dentries */

/* A number unique to <d> in this process, never reused (even after <d> is freed): a safe
 * cache key where a pointer could be recycled. 0 for NULL. Dtabs are immutable. */
uint64_t dtab_serial(const struct dtab *d);

/* Finagle's Dtab.show: "prefix=>tree;prefix=>tree", no spaces: Alt as "/a|/b", Union as
 * "/a&/b" with "0.8*" before a branch whose weight is not 1, "!", "~", "$", parentheses
 * where needed. A weight prints as the shortest decimal that reads back exactly (Finagle
 * prints " | ", " & " and "%.2f"; both forms parse alike). */
void dtab_show(const struct dtab *d, struct strbuf *out);

/* Evaluation result: a tree of bound leaves, simplified (see dtab_eval). */
enum dtab_result_kind {
    DTAB_RES_NEG = 0, /* nothing matched */
    DTAB_RES_FAIL,    /* '!' or a namer failure: stop */
    DTAB_RES_EMPTY,   /* '$' or /$/nil: bound to no addresses */
    DTAB_RES_LEAF,    /* a bound name */
    DTAB_RES_UNION,   /* weighted choice among children */
};

/* What a binder answers for a namer path (/#/... or /$/...). */
enum dtab_bind_kind {
    DTAB_BIND_NEG = 0,  /* this namer does not know the name */
    DTAB_BIND_BOUND,    /* bound: <id> and <residual> set; <handle> is the binder's */
    DTAB_BIND_REWRITE,  /* a rewriting namer: <path> must be looked up again */
    DTAB_BIND_FAIL,     /* failure with <reason> */
    DTAB_BIND_EMPTY,    /* /$/nil */
    DTAB_BIND_PENDING,  /* not known yet (first DNS answer, first file read) */
};

struct dtab_bind {
    enum dtab_bind_kind kind;
    char id[512];       /* BOUND: bound id, e.g. /$/inet/127.0.0.1/8080 */
    char residual[512]; /* BOUND: the unconsumed rest, "" or "/a/b" */
    char path[1024];    /* REWRITE: new path to delegate */
    const char *reason; /* FAIL: static or binder-owned text */
    void *handle;       /* BOUND: binder's object for the id (e.g. its endpoint set) */
};

/* Binds a namer path (it starts with /# or /$). <ctx> is the binder's. */
typedef void dtab_binder_fn(void *ctx, const char *path, size_t len, struct dtab_bind *ret);

struct dtab_leaf {
    double weight;      /* weight of its innermost union branch (1.0 when none) */
    char *id;
    char *residual;     /* shares <id>'s allocation: never free it */
    void *handle;
    double share;       /* probability dtab_result_pick() picks it: the product of the
                         * normalized weights on its way down, as Finagle picks a branch
                         * level by level; the shares of a result sum to 1 */
    bool empty;         /* a '$' (Empty) branch of a union: picking it means "no
                         * addresses"; id and residual are "" and handle is NULL */
};

struct dtab_result {
    enum dtab_result_kind kind;
    struct dtab_leaf *leaves; /* LEAF: one; UNION: n_leaves */
    size_t n_leaves;
    bool pending;             /* NEG because some branch is still PENDING: retry later */
    char reason[200];         /* FAIL/NEG: why, e.g. "recursion limit (100) exceeded" */
};

/* Evaluates <path> (e.g. "/svc/hello") against <d> as Finagle does: every matching
 * dentry applies, last first (earlier ones become fallbacks), the residual is appended,
 * results are delegated again until a binder binds them; Alt takes the first branch that
 * is not Neg and stops at Fail; Union drops Neg and Fail branches and keeps weights.
 * Paths that no dentry matches and that start with /# or /$ go to <binder> (NULL: they
 * are Neg); REWRITE answers are delegated again from the top. A PENDING answer in a
 * branch that decides the result gives NEG with <pending> set.
 * Recursion deeper than 100 is a failure, and so is an evaluation needing more than
 * 10000 lookups. <d> may be NULL (the empty dtab). The binder is called synchronously
 * and must not free <d>. Returns 0 (result in *ret, release with dtab_result_fini),
 * -EINVAL when <path> is not a valid path, or -ENOMEM. */
int dtab_eval(const struct dtab *d, const char *path, size_t len, dtab_binder_fn *binder,
              void *binder_ctx, struct dtab_result *ret);
void dtab_result_fini(struct dtab_result *res);

/* ---- traced evaluation (the delegator) ---------------------------------------------- */

/* The steps of an evaluation, as nested begin/end pairs; a traced evaluation reports
 * them in this order (depth-first, last matching dentry first):
 *   PATH_BEGIN <path>
 *     either DENTRY_BEGIN <prefix> <dst>  (tree events)  DENTRY_END   for each match
 *     or     BIND <path> <bind>                          a namer's answer
 *            [PATH_BEGIN <rewritten> ... PATH_END  REWRITE_END]  when it rewrote
 *     or     nothing (no dentry matched a path that is not a namer path: Neg)
 *   PATH_END <result>
 * Tree events: a leaf path is a nested PATH_BEGIN..PATH_END (its residual appended);
 * ALT_BEGIN (children) ALT_END; UNION_BEGIN (BRANCH_BEGIN <weight> child BRANCH_END)...
 * UNION_END; LITERAL <result> for '~', '!' and '$'; EXCEPTION <reason> when a limit
 * stops the evaluation (recursion, steps, memory). */
enum dtab_trace_kind {
    DTAB_TRACE_PATH_BEGIN = 0,
    DTAB_TRACE_PATH_END,
    DTAB_TRACE_DENTRY_BEGIN,
    DTAB_TRACE_DENTRY_END,
    DTAB_TRACE_BIND,
    DTAB_TRACE_REWRITE_END,
    DTAB_TRACE_ALT_BEGIN,
    DTAB_TRACE_ALT_END,
    DTAB_TRACE_UNION_BEGIN,
    DTAB_TRACE_UNION_END,
    DTAB_TRACE_BRANCH_BEGIN,
    DTAB_TRACE_BRANCH_END,
    DTAB_TRACE_LITERAL,
    DTAB_TRACE_EXCEPTION,
};

struct dtab_trace_ev {
    enum dtab_trace_kind kind;
    unsigned depth;      /* delegation depth (0 for the path asked about) */
    const char *path;    /* PATH_*, BIND: the shown path */
    const char *prefix;  /* DENTRY_BEGIN: the dentry's prefix, shown */
    const char *dst;     /* DENTRY_BEGIN: the dentry's tree, shown as dtab_show does */
    double weight;       /* BRANCH_BEGIN */
    const struct dtab_bind *bind; /* BIND: the binder's answer */
    enum dtab_result_kind result; /* *_END, LITERAL, BIND: what the step evaluated to */
    bool pending;        /* with result NEG: because a namer has not answered yet */
    const char *reason;  /* FAIL results and EXCEPTION: why */
    bool unused;         /* the step is outside what decided the result: an alternative
                          * after the one taken, or an earlier dentry shadowed by a later
                          * one; only traced evaluations look at those */
};

/* Called for every step; <ev> and its strings are valid during the call only. */
typedef void dtab_trace_fn(void *ctx, const struct dtab_trace_ev *ev);

/* dtab_eval() reporting every step to <trace>. Unlike dtab_eval it also evaluates (and
 * reports, with <unused> set) the alternatives an Alt or a shadowed dentry would not
 * need, as Linkerd's delegator shows them; they do not change the result, their
 * lookups do not count towards the step limit of the real evaluation (a separate budget
 * of 10000 bounds them), and their binder calls are real (they start lookups). Same
 * result and returns as dtab_eval. */
int dtab_eval_traced(const struct dtab *d, const char *path, size_t len, dtab_binder_fn *binder,
                     void *binder_ctx, dtab_trace_fn *trace, void *trace_ctx,
                     struct dtab_result *ret);

/* Picks one leaf of a LEAF or UNION result by weight (see <share>), <rand01> in [0,1).
 * NULL for other kinds. The leaf may be an <empty> union branch. */
const struct dtab_leaf *dtab_result_pick(const struct dtab_result *res, double rand01);

/* Path validity and escaping: true when <s> is a Finagle path ("/" or "/a/b"). */
bool dtab_path_valid(const char *s, size_t len);
/* Appends <label> to <out> as one path segment ("/" then the label), escaping
 * non-showable bytes as \xNN; an empty label appends nothing. */
void dtab_path_add_label(struct strbuf *out, const char *label, size_t len);

#endif

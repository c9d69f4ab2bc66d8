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

struct strbuf;
struct dtab;

struct dtab_err {
    size_t pos;     /* byte offset in the input where parsing failed */
    char msg[200];  /* "expected '=>' at offset 7" style, for l5d-err and the log */
};

/* Parses <text>. Returns NULL and fills <err> on a syntax error; the empty string is
 * the empty dtab. */
struct dtab *dtab_parse(const char *text, size_t len, struct dtab_err *err);

/* A new dtab: the dentries of <a> followed by those of <b> (either may be NULL). */
struct dtab *dtab_concat(const struct dtab *a, const struct dtab *b);

struct dtab *dtab_free(struct dtab *d);
size_t dtab_size(const struct dtab *d); /* number of dentries */

/* Finagle's Dtab.show: "prefix=>tree;prefix=>tree", no spaces. */
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
    char *residual;
    void *handle;
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
 * Paths that no dentry matches and that start with /# or /$ go to <binder>.
 * Recursion deeper than 100 is a failure. Returns 0 (result in *ret, release with
 * dtab_result_fini) or -EINVAL when <path> is not a valid path. */
int dtab_eval(const struct dtab *d, const char *path, size_t len, dtab_binder_fn *binder,
              void *binder_ctx, struct dtab_result *ret);
void dtab_result_fini(struct dtab_result *res);

/* Picks one leaf of a LEAF or UNION result by weight, <rand01> in [0,1). */
const struct dtab_leaf *dtab_result_pick(const struct dtab_result *res, double rand01);

/* Path validity and escaping: true when <s> is a Finagle path ("/" or "/a/b"). */
bool dtab_path_valid(const char *s, size_t len);
/* Appends <label> to <out> as one path segment, escaping non-showable bytes as \xNN. */
void dtab_path_add_label(struct strbuf *out, const char *label, size_t len);

#endif

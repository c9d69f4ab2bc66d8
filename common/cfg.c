/* common/cfg.c - the YAML config loader: a Linkerd 1.x shaped file in, a struct cfg out.
 *
 * cfg_parse() loads the text with libyaml's document API (aliases resolved, a start mark
 * per node) and walks the tree once, section by section. Every section starts from its
 * defaults and the walk overwrites what the file sets, so a half-built struct cfg is
 * always safe to cfg_free(). An error never stops the walk: it appends one
 * "FILE:LINE:COL: KEY.PATH: message" line to the caller's struct cfg_err and the walk goes
 * on with the next key, so one run reports every problem; the caller gets a cfg only when
 * there was none. KEY.PATH ("routers[0].servers[1].port") lives in struct ld and grows
 * and shrinks as the walk descends and returns.
 *
 * Each mapping has a key table: <ok> lists what meshd reads there, <unsup> what Linkerd
 * has there but meshd does not implement (reported as "not supported by meshd yet");
 * anything else is unknown and the error lists <ok>. Sections chosen by "kind" (identifier,
 * loadBalancer, namers, telemetry, ...) look the kind up first, then use that kind's table.
 * A null value ("key:", "key: ~") means the key is absent, as with Linkerd's Jackson.
 *
 * Values that must be unique across the file (router labels, server addresses, namer
 * prefixes) are remembered with the key path of their first use as the walk meets them. */
#include "common/cfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "common/strbuf.h"
#include "common/util.h"

#define CFG_MAX_FILE_LEN   (16u << 20) /* bytes; a config is a few KB */
#define CFG_MAX_RAW_DEPTH  8           /* nesting kept by raw sections */
#define CFG_MAX_RAW_VISITS 4096        /* nodes walked in all raw sections (aliases share nodes) */
#define CFG_ERR_MORE       "...\n"

/* The kind_def.id of a kind Linkerd has and meshd does not implement. */
#define KIND_UNSUPPORTED (-1)

struct kind_def {
    const char *name;
    int id; /* >= 0: section-specific; KIND_UNSUPPORTED */
};

struct keyset {
    const char *const *ok;    /* keys meshd reads here; NULL-terminated */
    const char *const *unsup; /* Linkerd keys meshd does not implement; NULL-terminated */
    bool rest_unsup;          /* any key not in <ok> is unsupported rather than unknown */
};

/* A value that must be unique, and where it was first used. */
struct seen {
    char *key;   /* "<class>\n<value>" */
    char *where; /* key path */
};

/* Loader state for one cfg_parse() call. */
struct ld {
    yaml_document_t *doc;
    const char *file;
    struct cfg_err *err;
    struct cfg *cfg;
    yaml_mark_t root_mark; /* where defaults that no key set are blamed */
    char path[256];        /* current key path, NUL-terminated */
    size_t path_len;
    struct seen *seen;
    size_t n_seen;
    unsigned raw_visits;  /* raw_add() calls so far, all raw sections together */
    yaml_mark_t raw_mark; /* the value raw_add() was called on, for its errors */
};

/* ---- errors and key paths ------------------------------------------------------------ */

static void
err_reset(struct cfg_err *err)
{
    err->n_errors = 0;
    err->text[0] = '\0';
}

static void
err_line(struct cfg_err *err, const char *file, size_t line, size_t col, const char *what,
         const char *msg)
{
    char buf[1024];
    size_t used = strlen(err->text), len;
    int n;

    err->n_errors++;
    n = snprintf(buf, sizeof(buf), "%s:%zu:%zu: %s: %s\n", file, line, col, what, msg);
    if (n < 0)
        return;
    len = (size_t) n;
    if (len >= sizeof(buf)) {
        len = sizeof(buf) - 1;
        buf[len - 1] = '\n';
    }
    for (size_t i = 0; i + 1 < len; i++) /* one problem, one line, whatever the keys hold */
        if ((unsigned char) buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = '?';
    /* Always leave room for the truncation marker. */
    if (used + len + sizeof(CFG_ERR_MORE) <= sizeof(err->text)) {
        memcpy(err->text + used, buf, len + 1);
        return;
    }
    if (used >= strlen(CFG_ERR_MORE) &&
        strcmp(err->text + used - strlen(CFG_ERR_MORE), CFG_ERR_MORE) == 0)
        return;
    memcpy(err->text + used, CFG_ERR_MORE, sizeof(CFG_ERR_MORE));
}

static void err_at(struct ld *ld, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports a problem with the key at the current path, found at <mark>. */
static void
err_at(struct ld *ld, yaml_mark_t mark, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    (void) vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err_line(ld->err, ld->file, mark.line + 1, mark.column + 1,
             ld->path_len > 0 ? ld->path : "(root)", msg);
}

/* Appends ".<key>" to the path; returns the length to restore with path_pop(). */
static size_t
path_key(struct ld *ld, const char *key)
{
    size_t old = ld->path_len;
    int n = snprintf(ld->path + old, sizeof(ld->path) - old, "%s%s", old > 0 ? "." : "", key);

    ld->path_len = n < 0 ? old : MESH_MIN(old + (size_t) n, sizeof(ld->path) - 1);
    return old;
}

/* Appends "[<i>]" to the path; returns the length to restore with path_pop(). */
static size_t
path_idx(struct ld *ld, size_t i)
{
    size_t old = ld->path_len;
    int n = snprintf(ld->path + old, sizeof(ld->path) - old, "[%zu]", i);

    ld->path_len = n < 0 ? old : MESH_MIN(old + (size_t) n, sizeof(ld->path) - 1);
    return old;
}

static void
path_pop(struct ld *ld, size_t old)
{
    ld->path_len = old;
    ld->path[old] = '\0';
}

/* Remembers <value> of <cls> as used at the current path. Returns the path of an earlier
 * use (borrowed), or NULL when it is the first. */
static const char *
seen_add(struct ld *ld, const char *cls, const char *value)
{
    struct strbuf key = STRBUF_INIT;

    strbuf_addf(&key, "%s\n%s", cls, value);
    for (size_t i = 0; i < ld->n_seen; i++) {
        if (strcmp(ld->seen[i].key, key.s) == 0) {
            strbuf_fini(&key);
            return ld->seen[i].where;
        }
    }
    ld->seen = xrealloc(ld->seen, (ld->n_seen + 1) * sizeof(*ld->seen));
    ld->seen[ld->n_seen].key = strbuf_steal(&key);
    ld->seen[ld->n_seen].where = xstrdup(ld->path);
    ld->n_seen++;
    return NULL;
}

static void
seen_free(struct ld *ld)
{
    for (size_t i = 0; i < ld->n_seen; i++) {
        free(ld->seen[i].key);
        free(ld->seen[i].where);
    }
    free(ld->seen);
    ld->seen = NULL;
    ld->n_seen = 0;
}

/* ---- nodes and scalars --------------------------------------------------------------- */

static yaml_node_t *
node(const struct ld *ld, int id)
{
    return yaml_document_get_node(ld->doc, id);
}

static const char *
scalar(const yaml_node_t *n)
{
    return (const char *) n->data.scalar.value;
}

static bool
streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static bool
in_list(const char *const *list, const char *s)
{
    for (; list != NULL && *list != NULL; list++)
        if (streq(*list, s))
            return true;
    return false;
}

/* "a, b, c" from a NULL-terminated list (or the supported names of a kind table). */
static void
join_list(struct strbuf *sb, const char *const *list)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++)
        strbuf_addf(sb, "%s%s", i > 0 ? ", " : "", list[i]);
}

static void
join_kinds(struct strbuf *sb, const struct kind_def *kinds)
{
    bool first = true;

    for (; kinds->name != NULL; kinds++) {
        if (kinds->id == KIND_UNSUPPORTED)
            continue;
        strbuf_addf(sb, "%s%s", first ? "" : ", ", kinds->name);
        first = false;
    }
}

/* YAML's null: an explicit !!null tag, or a plain "", "~", "null", "Null", "NULL". */
static bool
is_null(const yaml_node_t *n)
{
    const char *s;

    if (n->type != YAML_SCALAR_NODE)
        return false;
    if (n->tag != NULL && streq((const char *) n->tag, YAML_NULL_TAG))
        return true;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    s = scalar(n);
    return streq(s, "") || streq(s, "~") || streq(s, "null") || streq(s, "Null") ||
           streq(s, "NULL");
}

static bool
expect_map(struct ld *ld, const yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE)
        return true;
    err_at(ld, n->start_mark, "expected a mapping");
    return false;
}

static bool
expect_seq(struct ld *ld, const yaml_node_t *n)
{
    if (n->type == YAML_SEQUENCE_NODE)
        return true;
    err_at(ld, n->start_mark, "expected a list");
    return false;
}

static size_t
seq_len(const yaml_node_t *n)
{
    return (size_t) (n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *
seq_item(const struct ld *ld, const yaml_node_t *n, size_t i)
{
    return node(ld, n->data.sequence.items.start[i]);
}

static const yaml_node_pair_t *
pairs_begin(const yaml_node_t *map)
{
    return map->data.mapping.pairs.start;
}

static const yaml_node_pair_t *
pairs_end(const yaml_node_t *map)
{
    return map->data.mapping.pairs.top;
}

/* The value of the first <key> in mapping <map>, or NULL. */
static yaml_node_t *
map_get(const struct ld *ld, const yaml_node_t *map, const char *key)
{
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        yaml_node_t *k = node(ld, p->key);

        if (k->type == YAML_SCALAR_NODE && streq(scalar(k), key))
            return node(ld, p->value);
    }
    return NULL;
}

/* Reads a string; any scalar will do (Jackson coerces 8080 to "8080" as well). */
static bool
get_str(struct ld *ld, const yaml_node_t *n, char **dst)
{
    if (n->type != YAML_SCALAR_NODE) {
        err_at(ld, n->start_mark, "expected a string");
        return false;
    }
    if (strlen(scalar(n)) != n->data.scalar.length) {
        err_at(ld, n->start_mark, "expected a string without NUL characters");
        return false;
    }
    free(*dst);
    *dst = xstrdup(scalar(n));
    return true;
}

static bool
get_nonempty_str(struct ld *ld, const yaml_node_t *n, char **dst)
{
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0) {
        err_at(ld, n->start_mark, "expected a non-empty string");
        return false;
    }
    return get_str(ld, n, dst);
}

/* Reads a decimal integer in <min>..<max>. Quoted digits are accepted, as Jackson does. */
static bool
get_uint(struct ld *ld, const yaml_node_t *n, uint64_t min, uint64_t max, uint64_t *ret)
{
    const char *s, *digits;
    char *end;
    unsigned long long v;

    if (n->type != YAML_SCALAR_NODE)
        goto not_int;
    s = scalar(n);
    digits = s + (*s == '+' || *s == '-');
    if (*digits < '0' || *digits > '9')
        goto not_int;
    errno = 0;
    v = strtoull(digits, &end, 10);
    if (*end != '\0' || (size_t) (end - s) != n->data.scalar.length)
        goto not_int;
    if (*s == '-' || errno == ERANGE || v < min || v > max) {
        err_at(ld, n->start_mark, "expected an integer in %llu..%llu", (unsigned long long) min,
               (unsigned long long) max);
        return false;
    }
    *ret = v;
    return true;

not_int:
    err_at(ld, n->start_mark, "expected an integer");
    return false;
}

static bool
get_u32(struct ld *ld, const yaml_node_t *n, uint32_t min, uint32_t max, uint32_t *dst)
{
    uint64_t v;

    if (!get_uint(ld, n, min, max, &v))
        return false;
    *dst = (uint32_t) v;
    return true;
}

static bool
get_unsigned(struct ld *ld, const yaml_node_t *n, unsigned min, unsigned max, unsigned *dst)
{
    uint64_t v;

    if (!get_uint(ld, n, min, max, &v))
        return false;
    *dst = (unsigned) v;
    return true;
}

/* Ports are 1..65535; <min> 0 where 0 means "any port" (listeners, for tests). */
static bool
get_port(struct ld *ld, const yaml_node_t *n, unsigned min, uint16_t *dst)
{
    uint64_t v;

    if (!get_uint(ld, n, min, 65535, &v))
        return false;
    *dst = (uint16_t) v;
    return true;
}

static bool
get_bool(struct ld *ld, const yaml_node_t *n, bool *dst)
{
    const char *s;

    if (n->type == YAML_SCALAR_NODE) {
        s = scalar(n);
        if (streq(s, "true") || streq(s, "True") || streq(s, "TRUE")) {
            *dst = true;
            return true;
        }
        if (streq(s, "false") || streq(s, "False") || streq(s, "FALSE")) {
            *dst = false;
            return true;
        }
    }
    err_at(ld, n->start_mark, "expected a boolean");
    return false;
}

/* Reads a probability, 0..1. */
static bool
get_rate(struct ld *ld, const yaml_node_t *n, double *dst)
{
    char *end;
    double v;

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.length == 0)
        goto not_number;
    errno = 0;
    v = strtod(scalar(n), &end);
    if (*end != '\0' || (size_t) (end - scalar(n)) != n->data.scalar.length || !isfinite(v))
        goto not_number;
    if (v < 0.0 || v > 1.0) {
        err_at(ld, n->start_mark, "expected a number in 0..1");
        return false;
    }
    *dst = v;
    return true;

not_number:
    err_at(ld, n->start_mark, "expected a number");
    return false;
}

/* An IPv4 or IPv6 literal; listeners bind to it, so host names are not accepted. */
static bool
get_ip(struct ld *ld, const yaml_node_t *n, char **dst)
{
    unsigned char addr[sizeof(struct in6_addr)];

    if (n->type != YAML_SCALAR_NODE) {
        err_at(ld, n->start_mark, "expected a string");
        return false;
    }
    if (inet_pton(AF_INET, scalar(n), addr) != 1 && inet_pton(AF_INET6, scalar(n), addr) != 1) {
        err_at(ld, n->start_mark, "expected an IP address (IPv4 or IPv6 literal), not \"%s\"",
               scalar(n));
        return false;
    }
    return get_str(ld, n, dst);
}

/* A name path: "/" followed by non-empty segments ("/svc", "/svc/world"). */
static bool
get_path(struct ld *ld, const yaml_node_t *n, char **dst)
{
    const char *s;

    if (n->type != YAML_SCALAR_NODE) {
        err_at(ld, n->start_mark, "expected a string");
        return false;
    }
    s = scalar(n);
    if (s[0] != '/' || strstr(s, "//") != NULL || (s[1] != '\0' && s[strlen(s) - 1] == '/') ||
        strpbrk(s, " \t\r\n") != NULL) {
        err_at(ld, n->start_mark, "expected a path like /svc, not \"%s\"", s);
        return false;
    }
    return get_str(ld, n, dst);
}

/* ---- mappings ------------------------------------------------------------------------ */

/* Reports key <k> of pair <p> when an earlier pair of <map> has the same key. */
static bool
is_dup_key(struct ld *ld, const yaml_node_t *map, const yaml_node_pair_t *p, const yaml_node_t *k)
{
    for (const yaml_node_pair_t *q = pairs_begin(map); q < p; q++) {
        yaml_node_t *qk = node(ld, q->key);

        if (qk->type == YAML_SCALAR_NODE && streq(scalar(qk), scalar(k))) {
            err_at(ld, k->start_mark, "duplicate key (first set at line %zu)",
                   qk->start_mark.line + 1);
            return true;
        }
    }
    return false;
}

/* Checks key <p> of mapping <map> against <ks>: reports non-string, duplicate, unsupported
 * and unknown keys. When the caller has work to do, pushes the key onto the path, stores
 * the previous path length in *ret_saved and the value in *ret_val, and returns the key
 * name (borrowed). Returns NULL with the path unchanged when the pair was dealt with here:
 * an error was reported or the value is null (the key counts as absent). */
static const char *
next_key(struct ld *ld, const yaml_node_t *map, const yaml_node_pair_t *p, const struct keyset *ks,
         yaml_node_t **ret_val, size_t *ret_saved)
{
    yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
    const char *name;
    struct strbuf sb = STRBUF_INIT;
    size_t saved;

    if (k->type != YAML_SCALAR_NODE) {
        err_at(ld, k->start_mark, "expected a string key, not a %s",
               k->type == YAML_MAPPING_NODE ? "mapping" : "list");
        return NULL;
    }
    name = scalar(k);
    saved = path_key(ld, name);
    if (is_dup_key(ld, map, p, k))
        goto skip;
    if (!in_list(ks->ok, name)) {
        if (ks->rest_unsup || in_list(ks->unsup, name)) {
            err_at(ld, k->start_mark, "not supported by meshd yet");
        } else {
            join_list(&sb, ks->ok);
            err_at(ld, k->start_mark, "unknown key; allowed here: %s", strbuf_str(&sb));
            strbuf_fini(&sb);
        }
        goto skip;
    }
    if (is_null(v))
        goto skip;
    *ret_val = v;
    *ret_saved = saved;
    return name;

skip:
    path_pop(ld, saved);
    return NULL;
}

/* Looks up the "kind" of mapping <map> in <kinds>. Returns its id, <dflt> when there is
 * no kind and <dflt> >= 0, or -1 after reporting a missing, unknown or unsupported kind. */
static int
read_kind(struct ld *ld, const yaml_node_t *map, const struct kind_def *kinds, int dflt)
{
    yaml_node_t *v = map_get(ld, map, "kind");
    struct strbuf sb = STRBUF_INIT;
    size_t saved;
    int r = -1;

    if (v == NULL || is_null(v)) {
        if (dflt >= 0)
            return dflt;
        saved = path_key(ld, "kind");
        err_at(ld, map->start_mark, "required key is missing");
        path_pop(ld, saved);
        return -1;
    }
    saved = path_key(ld, "kind");
    if (v->type != YAML_SCALAR_NODE) {
        err_at(ld, v->start_mark, "expected a string");
        goto out;
    }
    join_kinds(&sb, kinds);
    for (const struct kind_def *k = kinds; k->name != NULL; k++) {
        if (!streq(k->name, scalar(v)))
            continue;
        if (k->id == KIND_UNSUPPORTED)
            err_at(ld, v->start_mark, "%s: not supported by meshd yet (supported: %s)", scalar(v),
                   strbuf_str(&sb));
        else
            r = k->id;
        goto out;
    }
    err_at(ld, v->start_mark, "unknown kind \"%s\"; allowed here: %s", scalar(v), strbuf_str(&sb));

out:
    strbuf_fini(&sb);
    path_pop(ld, saved);
    return r;
}

static const char *
kind_name(const struct kind_def *kinds, int id)
{
    for (; kinds->name != NULL; kinds++)
        if (kinds->id == id)
            return kinds->name;
    MESH_BUG_ON(true);
    return NULL;
}

/* Reports <key> of the mapping at <mark> as missing. */
static void
err_missing(struct ld *ld, yaml_mark_t mark, const char *key)
{
    size_t saved = path_key(ld, key);

    err_at(ld, mark, "required key is missing");
    path_pop(ld, saved);
}

/* ---- raw sections -------------------------------------------------------------------- */

/* Keeps <v> under <key> as written, flattening mappings ("a.b") and lists ("a[0]"). */
/* NOLINTBEGIN(misc-no-recursion): the depth is bounded by CFG_MAX_RAW_DEPTH */
static void
raw_add(struct ld *ld, struct cfg_kv **kv, size_t *n, const char *key, const yaml_node_t *v,
        unsigned depth)
{
    struct strbuf sub = STRBUF_INIT;

    if (depth == 0)
        ld->raw_mark = v->start_mark; /* nested nodes may be aliases from anywhere */
    if (++ld->raw_visits > CFG_MAX_RAW_VISITS) {
        if (ld->raw_visits == CFG_MAX_RAW_VISITS + 1)
            err_at(ld, ld->raw_mark, "too large (more than %d nodes)", CFG_MAX_RAW_VISITS);
        return;
    }
    if (depth > CFG_MAX_RAW_DEPTH) {
        err_at(ld, ld->raw_mark, "nested too deeply (more than %d levels)", CFG_MAX_RAW_DEPTH);
        ld->raw_visits = CFG_MAX_RAW_VISITS + 1; /* once is enough: stop all raw sections */
        return;
    }
    switch (v->type) {
    case YAML_SCALAR_NODE:
        *kv = xrealloc(*kv, (*n + 1) * sizeof(**kv));
        (*kv)[*n].key = xstrdup(key);
        (*kv)[*n].value = xstrdup(scalar(v));
        (*n)++;
        break;
    case YAML_MAPPING_NODE:
        for (const yaml_node_pair_t *p = pairs_begin(v); p < pairs_end(v); p++) {
            yaml_node_t *k = node(ld, p->key);

            if (k->type != YAML_SCALAR_NODE) {
                err_at(ld, k->start_mark, "expected a string key");
                continue;
            }
            strbuf_reset(&sub);
            strbuf_addf(&sub, "%s.%s", key, scalar(k));
            raw_add(ld, kv, n, sub.s, node(ld, p->value), depth + 1);
        }
        break;
    case YAML_SEQUENCE_NODE:
        for (size_t i = 0; i < seq_len(v); i++) {
            strbuf_reset(&sub);
            strbuf_addf(&sub, "%s[%zu]", key, i);
            raw_add(ld, kv, n, sub.s, seq_item(ld, v, i), depth + 1);
        }
        break;
    default:
        break;
    }
    strbuf_fini(&sub);
}
/* NOLINTEND(misc-no-recursion) */

static void
kv_free(struct cfg_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

/* ---- admin --------------------------------------------------------------------------- */

static const char *const admin_ok[] = {"ip", "port", NULL};
static const char *const admin_unsup[] = {
    "socketOptions",
    "httpIdentifierPort",
    "shutdownGraceMs",
    "tls",
    "security",
    "workerThreads",
    NULL,
};
static const struct keyset admin_keys = {admin_ok, admin_unsup, false};

static void
parse_admin(struct ld *ld, const yaml_node_t *map)
{
    struct cfg_admin *a = &ld->cfg->admin;
    yaml_node_t *v;
    size_t saved;

    if (!expect_map(ld, map))
        return;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &admin_keys, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "ip"))
            (void) get_ip(ld, v, &a->ip);
        else if (streq(k, "port"))
            (void) get_port(ld, v, 0, &a->port);
        path_pop(ld, saved);
    }
}

/* Reports <ip>:<port> when another listener already uses it. Port 0 ("any") never clashes. */
static void
check_addr(struct ld *ld, yaml_mark_t mark, const char *ip, uint16_t port)
{
    unsigned char addr[sizeof(struct in6_addr)];
    char canon[INET6_ADDRSTRLEN + 8];
    const char *prev;
    int af = AF_INET;

    if (port == 0 || ip == NULL)
        return;
    if (inet_pton(af, ip, addr) != 1) {
        af = AF_INET6;
        if (inet_pton(af, ip, addr) != 1)
            return; /* already reported */
    }
    if (inet_ntop(af, addr, canon, sizeof(canon)) == NULL)
        return;
    (void) snprintf(canon + strlen(canon), sizeof(canon) - strlen(canon), " %u", port);
    prev = seen_add(ld, "addr", canon);
    if (prev != NULL)
        err_at(ld, mark, af == AF_INET6 ? "[%s]:%u is also used by %s" : "%s:%u is also used by %s",
               ip, port, prev);
}

/* ---- routers ------------------------------------------------------------------------- */

static const struct kind_def ident_kinds[] = {
    {"io.l5d.header.token", CFG_ID_HEADER_TOKEN},
    {"io.l5d.methodAndHost", CFG_ID_METHOD_AND_HOST},
    {"io.l5d.path", CFG_ID_PATH},
    {"io.l5d.header", CFG_ID_HEADER},
    {"io.l5d.static", CFG_ID_STATIC},
    {"io.l5d.ingress", KIND_UNSUPPORTED},
    {"io.l5d.k8s.istio", KIND_UNSUPPORTED},
    {"io.l5d.header.path", KIND_UNSUPPORTED},
    {NULL, 0},
};

static const char *const ident_header_ok[] = {"kind", "header", NULL};
static const char *const ident_mah_ok[] = {"kind", "httpUriInDst", NULL};
static const char *const ident_path_ok[] = {"kind", "segments", "consume", NULL};
static const char *const ident_static_ok[] = {"kind", "path", NULL};

static void
parse_identifier(struct ld *ld, const yaml_node_t *map, struct cfg_identifier *id)
{
    struct keyset ks = {NULL, NULL, false};
    yaml_node_t *v;
    size_t saved;
    int kind;

    if (!expect_map(ld, map))
        return;
    kind = read_kind(ld, map, ident_kinds, -1);
    if (kind < 0)
        return;
    id->kind = (enum cfg_identifier_kind) kind;
    switch (id->kind) {
    case CFG_ID_HEADER_TOKEN:
        id->header = xstrdup("Host");
        ks.ok = ident_header_ok;
        break;
    case CFG_ID_HEADER:
        id->header = xstrdup("l5d-name");
        ks.ok = ident_header_ok;
        break;
    case CFG_ID_METHOD_AND_HOST:
        ks.ok = ident_mah_ok;
        break;
    case CFG_ID_PATH:
        id->segments = 1;
        ks.ok = ident_path_ok;
        break;
    case CFG_ID_STATIC:
        ks.ok = ident_static_ok;
        break;
    }
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &ks, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "header"))
            (void) get_nonempty_str(ld, v, &id->header);
        else if (streq(k, "httpUriInDst"))
            (void) get_bool(ld, v, &id->uri_in_dst);
        else if (streq(k, "segments"))
            (void) get_unsigned(ld, v, 1, 1000, &id->segments);
        else if (streq(k, "consume"))
            (void) get_bool(ld, v, &id->consume);
        else if (streq(k, "path"))
            (void) get_path(ld, v, &id->path);
        path_pop(ld, saved);
    }
    if (id->kind == CFG_ID_STATIC && id->path == NULL)
        err_missing(ld, map->start_mark, "path");
}

/* <v> is one identifier mapping or a list of them, tried in order. */
static void
parse_identifiers(struct ld *ld, const yaml_node_t *v, struct cfg_router *r)
{
    size_t n, saved;

    if (v->type == YAML_MAPPING_NODE) {
        r->identifiers = xcalloc(1, sizeof(*r->identifiers));
        r->n_identifiers = 1;
        parse_identifier(ld, v, &r->identifiers[0]);
        return;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        err_at(ld, v->start_mark, "expected a mapping or a list of mappings");
        return;
    }
    n = seq_len(v);
    if (n == 0)
        return; /* the default */
    r->identifiers = xcalloc(n, sizeof(*r->identifiers));
    r->n_identifiers = n;
    for (size_t i = 0; i < n; i++) {
        saved = path_idx(ld, i);
        parse_identifier(ld, seq_item(ld, v, i), &r->identifiers[i]);
        path_pop(ld, saved);
    }
}

static const char *const server_ok[] = {"ip", "port", "clearContext", "maxConcurrentRequests",
                                        NULL};
static const char *const server_unsup[] = {
    "socketOptions",   "tls",
    "announce",        "timeoutMs",
    "serverSession",   "addForwardedHeader",
    "timestampHeader", "maxCallDepth",
    "engine",          NULL,
};
static const struct keyset server_keys = {server_ok, server_unsup, false};

static void
server_defaults(struct cfg_server *s)
{
    s->ip = xstrdup("127.0.0.1");
    s->port = 4140;
}

static void
parse_server(struct ld *ld, const yaml_node_t *map, struct cfg_server *s)
{
    unsigned n_errors = ld->err->n_errors;
    yaml_node_t *v;
    size_t saved;

    if (!expect_map(ld, map))
        return;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &server_keys, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "ip"))
            (void) get_ip(ld, v, &s->ip);
        else if (streq(k, "port"))
            (void) get_port(ld, v, 0, &s->port);
        else if (streq(k, "clearContext"))
            (void) get_bool(ld, v, &s->clear_context);
        else if (streq(k, "maxConcurrentRequests"))
            (void) get_u32(ld, v, 0, UINT32_MAX, &s->max_concurrent_requests);
        path_pop(ld, saved);
    }
    if (ld->err->n_errors == n_errors) /* a bad ip or port would only add noise here */
        check_addr(ld, map->start_mark, s->ip, s->port);
}

/* Returns false when <v> is not a list at all. */
static bool
parse_servers(struct ld *ld, const yaml_node_t *v, struct cfg_router *r)
{
    size_t n, saved;

    if (!expect_seq(ld, v))
        return false;
    n = seq_len(v);
    if (n == 0)
        return true; /* the default */
    r->servers = xcalloc(n, sizeof(*r->servers));
    r->n_servers = n;
    for (size_t i = 0; i < n; i++) {
        server_defaults(&r->servers[i]);
        saved = path_idx(ld, i);
        parse_server(ld, seq_item(ld, v, i), &r->servers[i]);
        path_pop(ld, saved);
    }
    return true;
}

/* client */

enum { SCOPE_GLOBAL };

/* client.kind and service.kind: per-prefix static configs are not implemented. */
static const struct kind_def scope_kinds[] = {
    {"io.l5d.global", SCOPE_GLOBAL},
    {"io.l5d.static", KIND_UNSUPPORTED},
    {NULL, 0},
};

static const struct kind_def lb_kinds[] = {
    {"p2c", CFG_LB_P2C},        {"roundRobin", CFG_LB_ROUND_ROBIN},
    {"ewma", KIND_UNSUPPORTED}, {"aperture", KIND_UNSUPPORTED},
    {"heap", KIND_UNSUPPORTED}, {NULL, 0},
};
static const char *const lb_ok[] = {"kind", NULL};
static const char *const lb_unsup[] = {
    "maxEffort",   "enableProbation", "decayTimeMs", "smoothWindowMs", "lowLoad", "highLoad",
    "minAperture", "maxAperture",     NULL,
};
static const struct keyset lb_keys = {lb_ok, lb_unsup, false};

enum { FA_CONSECUTIVE };

static const struct kind_def fa_kinds[] = {
    {"io.l5d.consecutiveFailures", FA_CONSECUTIVE},
    {"io.l5d.successRate", KIND_UNSUPPORTED},
    {"io.l5d.successRateWindowed", KIND_UNSUPPORTED},
    {"none", KIND_UNSUPPORTED},
    {NULL, 0},
};
static const char *const fa_ok[] = {"kind", "failures", "backoff", NULL};
static const struct keyset fa_keys = {fa_ok, NULL, false};

enum { BACKOFF_JITTERED };

static const struct kind_def backoff_kinds[] = {
    {"jittered", BACKOFF_JITTERED},
    {"constant", KIND_UNSUPPORTED},
    {NULL, 0},
};
static const char *const backoff_ok[] = {"kind", "minMs", "maxMs", NULL};
static const struct keyset backoff_keys = {backoff_ok, NULL, false};

static const char *const pool_ok[] = {"maxIdle", "idleTimeMs", NULL};
static const char *const pool_unsup[] = {"minSize", "maxSize", "maxWaiters", NULL};
static const struct keyset pool_keys = {pool_ok, pool_unsup, false};

static const char *const client_ok[] = {
    "kind",
    "loadBalancer",
    "failureAccrual",
    "connectTimeoutMs",
    "requestAttemptTimeoutMs",
    "hostConnectionPool",
    NULL,
};
static const char *const client_unsup[] = {
    "configs", "tls", "requeueBudget", "clientSession", "socketOptions", "failFast", "engine",
    "retries", NULL,
};
static const struct keyset client_keys = {client_ok, client_unsup, false};

static void
parse_lb(struct ld *ld, const yaml_node_t *map, struct cfg_client *c)
{
    yaml_node_t *v;
    size_t saved;
    int kind;

    if (!expect_map(ld, map))
        return;
    kind = read_kind(ld, map, lb_kinds, -1);
    if (kind < 0)
        return;
    c->lb = (enum cfg_lb_kind) kind;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        if (next_key(ld, map, p, &lb_keys, &v, &saved) != NULL)
            path_pop(ld, saved); /* only "kind", read above */
    }
}

static void
parse_backoff(struct ld *ld, const yaml_node_t *map, struct cfg_client *c)
{
    yaml_node_t *v;
    size_t saved;

    if (!expect_map(ld, map))
        return;
    if (read_kind(ld, map, backoff_kinds, -1) < 0)
        return;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &backoff_keys, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "minMs"))
            (void) get_u32(ld, v, 1, UINT32_MAX, &c->failure_accrual_backoff_min_ms);
        else if (streq(k, "maxMs"))
            (void) get_u32(ld, v, 1, UINT32_MAX, &c->failure_accrual_backoff_max_ms);
        path_pop(ld, saved);
    }
    if (c->failure_accrual_backoff_min_ms > c->failure_accrual_backoff_max_ms)
        err_at(ld, map->start_mark, "minMs (%u) is greater than maxMs (%u)",
               c->failure_accrual_backoff_min_ms, c->failure_accrual_backoff_max_ms);
}

static void
parse_failure_accrual(struct ld *ld, const yaml_node_t *map, struct cfg_client *c)
{
    yaml_node_t *v;
    size_t saved;

    if (!expect_map(ld, map))
        return;
    if (read_kind(ld, map, fa_kinds, -1) < 0)
        return;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &fa_keys, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "failures"))
            (void) get_unsigned(ld, v, 1, 1000000, &c->failure_accrual_failures);
        else if (streq(k, "backoff"))
            parse_backoff(ld, v, c);
        path_pop(ld, saved);
    }
}

static void
parse_pool(struct ld *ld, const yaml_node_t *map, struct cfg_client *c)
{
    yaml_node_t *v;
    size_t saved;

    if (!expect_map(ld, map))
        return;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &pool_keys, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "maxIdle"))
            (void) get_u32(ld, v, 0, UINT32_MAX, &c->pool_max_idle);
        else if (streq(k, "idleTimeMs"))
            (void) get_u32(ld, v, 0, UINT32_MAX, &c->pool_idle_time_ms);
        path_pop(ld, saved);
    }
}

static void
parse_client(struct ld *ld, const yaml_node_t *map, struct cfg_client *c)
{
    yaml_node_t *v;
    size_t saved;

    if (!expect_map(ld, map))
        return;
    if (read_kind(ld, map, scope_kinds, SCOPE_GLOBAL) < 0)
        return;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &client_keys, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "loadBalancer"))
            parse_lb(ld, v, c);
        else if (streq(k, "failureAccrual"))
            parse_failure_accrual(ld, v, c);
        else if (streq(k, "connectTimeoutMs"))
            (void) get_u32(ld, v, 1, UINT32_MAX, &c->connect_timeout_ms);
        else if (streq(k, "requestAttemptTimeoutMs"))
            (void) get_u32(ld, v, 0, UINT32_MAX, &c->request_attempt_timeout_ms);
        else if (streq(k, "hostConnectionPool"))
            parse_pool(ld, v, c);
        path_pop(ld, saved);
    }
}

static const char *const service_ok[] = {"kind", "totalTimeoutMs", NULL};
static const char *const service_unsup[] = {"retries", "responseClassifier", "configs", NULL};
static const struct keyset service_keys = {service_ok, service_unsup, false};

static void
parse_service(struct ld *ld, const yaml_node_t *map, struct cfg_service *s)
{
    yaml_node_t *v;
    size_t saved;

    if (!expect_map(ld, map))
        return;
    if (read_kind(ld, map, scope_kinds, SCOPE_GLOBAL) < 0)
        return;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &service_keys, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "totalTimeoutMs"))
            (void) get_u32(ld, v, 0, UINT32_MAX, &s->total_timeout_ms);
        path_pop(ld, saved);
    }
}

/* interpreter */

enum { INTERP_DEFAULT };

static const struct kind_def interp_kinds[] = {
    {"default", INTERP_DEFAULT},
    {"io.l5d.namerd", KIND_UNSUPPORTED},
    {"io.l5d.namerd.http", KIND_UNSUPPORTED},
    {"io.l5d.mesh", KIND_UNSUPPORTED},
    {"io.l5d.fs", KIND_UNSUPPORTED},
    {NULL, 0},
};
static const char *const interp_ok[] = {"kind", "transformers", NULL};
static const struct keyset interp_keys = {interp_ok, NULL, false};

/* One transformer, kept raw: any kind, any keys. */
static void
parse_transformer(struct ld *ld, const yaml_node_t *map, struct cfg_transformer *t)
{
    yaml_node_t *kind;

    if (!expect_map(ld, map))
        return;
    kind = map_get(ld, map, "kind");
    if (kind == NULL || is_null(kind)) {
        err_missing(ld, map->start_mark, "kind");
        return;
    }
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
        size_t saved;

        if (k->type != YAML_SCALAR_NODE) {
            err_at(ld, k->start_mark, "expected a string key");
            continue;
        }
        saved = path_key(ld, scalar(k));
        if (is_dup_key(ld, map, p, k) || is_null(v))
            ; /* reported, or absent */
        else if (streq(scalar(k), "kind"))
            (void) get_nonempty_str(ld, v, &t->kind);
        else if (streq(scalar(k), "prefix"))
            (void) get_nonempty_str(ld, v, &t->prefix);
        else
            raw_add(ld, &t->params, &t->n_params, scalar(k), v, 0);
        path_pop(ld, saved);
    }
    if (t->prefix == NULL && t->kind != NULL)
        t->prefix = xstrdup(t->kind);
}

static void
parse_interpreter(struct ld *ld, const yaml_node_t *map, struct cfg_router *r)
{
    yaml_node_t *v;
    size_t saved, n;

    if (!expect_map(ld, map))
        return;
    if (read_kind(ld, map, interp_kinds, INTERP_DEFAULT) < 0)
        return;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &interp_keys, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "transformers") && expect_seq(ld, v)) {
            n = seq_len(v);
            r->transformers = n > 0 ? xcalloc(n, sizeof(*r->transformers)) : NULL;
            r->n_transformers = n;
            for (size_t i = 0; i < n; i++) {
                size_t saved_i = path_idx(ld, i);

                parse_transformer(ld, seq_item(ld, v, i), &r->transformers[i]);
                path_pop(ld, saved_i);
            }
        }
        path_pop(ld, saved);
    }
}

/* router */

static const char *const router_ok[] = {
    "protocol",         "label",       "dstPrefix",       "dtab",         "identifier",
    "servers",          "client",      "service",         "maxHeadersKB", "maxInitialLineKB",
    "bindingTimeoutMs", "interpreter", "tracePropagator", "tracing",      NULL,
};
static const char *const router_unsup[] = {
    "baseDtab",
    "originator",
    "announcers",
    "bindingCache",
    "timeoutMs",
    "responseClassifier",
    "retries",
    "httpAccessLog",
    "httpAccessLogRollPolicy",
    "httpAccessLogAppend",
    "httpAccessLogRotateCount",
    "maxErrResponseKB",
    "maxChunkKB",
    "maxRequestKB",
    "maxResponseKB",
    "streamingEnabled",
    "streamAfterContentLengthKB",
    "compressionLevel",
    "loggers",
    "socketOptions",
    "failFast",
    "tls",
    NULL,
};
static const struct keyset router_keys = {router_ok, router_unsup, false};

static const char *const protocols_unsup[] = {"h2", "thrift", "thriftmux", "mux", NULL};

static void
router_defaults(struct cfg_router *r)
{
    r->dst_prefix = xstrdup("/svc");
    r->dtab = xstrdup("");
    r->client.lb = CFG_LB_P2C;
    r->client.failure_accrual_failures = 5;
    r->client.failure_accrual_backoff_min_ms = 5000;
    r->client.failure_accrual_backoff_max_ms = 300000;
    r->client.connect_timeout_ms = 1000;
    r->client.request_attempt_timeout_ms = 0;
    r->client.pool_max_idle = 1024;
    r->client.pool_idle_time_ms = 60000;
    r->service.total_timeout_ms = 0;
    r->max_headers_kb = 8;
    r->max_initial_line_kb = 4;
    r->binding_timeout_ms = 10000;
    r->trace_read = CFG_TRACE_FMT_ALL;
    r->trace_write = CFG_TRACE_FMT_L5D | CFG_TRACE_FMT_B3_MULTI;
}

static void
parse_protocol(struct ld *ld, const yaml_node_t *v, struct cfg_router *r)
{
    if (v->type != YAML_SCALAR_NODE) {
        err_at(ld, v->start_mark, "expected a string");
        return;
    }
    if (in_list(protocols_unsup, scalar(v))) {
        err_at(ld, v->start_mark, "%s: not supported by meshd yet (supported: http)", scalar(v));
        return;
    }
    if (!streq(scalar(v), "http")) {
        err_at(ld, v->start_mark, "unknown protocol \"%s\"; allowed here: http", scalar(v));
        return;
    }
    (void) get_str(ld, v, &r->protocol);
}

/* Reports <r>'s label when an earlier router has it; the path ends in ".label". */
static void
check_label(struct ld *ld, yaml_mark_t mark, const struct cfg_router *r)
{
    const char *prev = seen_add(ld, "label", r->label);

    if (prev != NULL)
        err_at(ld, mark, "label \"%s\" is also used by %s", r->label, prev);
}

/* tracing (meshd-only) and Linkerd's tracePropagator */

enum { PROP_DEFAULT, PROP_ZIPKIN };

static const struct kind_def propagator_kinds[] = {
    {"io.l5d.default", PROP_DEFAULT},
    {"io.l5d.zipkin", PROP_ZIPKIN},
    {NULL, 0},
};

static void
parse_trace_propagator(struct ld *ld, const yaml_node_t *map, struct cfg_router *r)
{
    static const char *const ok[] = {"kind", NULL};
    static const char *const unsup[] = {NULL};
    static const struct keyset keys = {ok, unsup, false};
    yaml_node_t *v;
    size_t saved;
    int kind;

    if (!expect_map(ld, map))
        return;
    kind = read_kind(ld, map, propagator_kinds, PROP_DEFAULT);
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        if (next_key(ld, map, p, &keys, &v, &saved) != NULL)
            path_pop(ld, saved);
    }
    /* io.l5d.zipkin: Linkerd then speaks B3 only (no l5d-ctx-trace on the way out) */
    if (kind == PROP_ZIPKIN)
        r->trace_write = CFG_TRACE_FMT_B3_MULTI;
}

static unsigned
parse_trace_formats(struct ld *ld, const yaml_node_t *seq)
{
    static const struct {
        const char *name;
        unsigned bit;
    } fmts[] = {{"l5d", CFG_TRACE_FMT_L5D},
                {"b3multi", CFG_TRACE_FMT_B3_MULTI},
                {"b3", CFG_TRACE_FMT_B3_SINGLE},
                {"traceparent", CFG_TRACE_FMT_TRACEPARENT}};
    unsigned mask = 0;

    if (!expect_seq(ld, seq))
        return 0;
    for (size_t i = 0; i < seq_len(seq); i++) {
        const yaml_node_t *it = seq_item(ld, seq, i);
        size_t saved = path_idx(ld, i);
        bool found = false;

        if (it->type == YAML_SCALAR_NODE) {
            for (size_t k = 0; k < ARRAY_SIZE(fmts); k++) {
                if (streq(scalar(it), fmts[k].name)) {
                    mask |= fmts[k].bit;
                    found = true;
                }
            }
        }
        if (!found)
            err_at(ld, it->start_mark, "expected one of l5d, b3multi, b3, traceparent");
        path_pop(ld, saved);
    }
    return mask;
}

static void
parse_tracing(struct ld *ld, const yaml_node_t *map, struct cfg_router *r)
{
    static const char *const ok[] = {"read", "write", "serverSpanService", "clientSpanService",
                                     NULL};
    static const char *const unsup[] = {NULL};
    static const struct keyset keys = {ok, unsup, false};
    yaml_node_t *v;
    size_t saved;

    if (!expect_map(ld, map))
        return;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &keys, &v, &saved);
        char *str = NULL;

        if (k == NULL)
            continue;
        if (streq(k, "read")) {
            r->trace_read = parse_trace_formats(ld, v);
        } else if (streq(k, "write")) {
            r->trace_write = parse_trace_formats(ld, v);
        } else if (streq(k, "serverSpanService") && get_str(ld, v, &str)) {
            if (streq(str, "router"))
                r->span_server_by_router = true;
            else if (!streq(str, "address"))
                err_at(ld, v->start_mark, "expected address or router");
        } else if (streq(k, "clientSpanService") && get_str(ld, v, &str)) {
            if (streq(str, "client"))
                r->span_client_by_client = true;
            else if (!streq(str, "destination"))
                err_at(ld, v->start_mark, "expected destination or client");
        }
        free(str);
        path_pop(ld, saved);
    }
}

static void
parse_router(struct ld *ld, const yaml_node_t *map, struct cfg_router *r)
{
    bool label_given = false, servers_bad = false;
    yaml_node_t *v;
    size_t saved;

    if (!expect_map(ld, map))
        return;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &router_keys, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "protocol")) {
            parse_protocol(ld, v, r);
        } else if (streq(k, "label")) {
            label_given = true;
            if (get_nonempty_str(ld, v, &r->label))
                check_label(ld, v->start_mark, r);
        } else if (streq(k, "dstPrefix")) {
            (void) get_path(ld, v, &r->dst_prefix);
        } else if (streq(k, "dtab")) {
            (void) get_str(ld, v, &r->dtab); /* the proxy parses it */
        } else if (streq(k, "identifier")) {
            parse_identifiers(ld, v, r);
        } else if (streq(k, "servers")) {
            servers_bad = !parse_servers(ld, v, r);
        } else if (streq(k, "client")) {
            parse_client(ld, v, &r->client);
        } else if (streq(k, "service")) {
            parse_service(ld, v, &r->service);
        } else if (streq(k, "maxHeadersKB")) {
            (void) get_u32(ld, v, 1, 1024, &r->max_headers_kb);
        } else if (streq(k, "maxInitialLineKB")) {
            (void) get_u32(ld, v, 1, 1024, &r->max_initial_line_kb);
        } else if (streq(k, "bindingTimeoutMs")) {
            (void) get_u32(ld, v, 1, UINT32_MAX, &r->binding_timeout_ms);
        } else if (streq(k, "interpreter")) {
            parse_interpreter(ld, v, r);
        } else if (streq(k, "tracePropagator")) {
            parse_trace_propagator(ld, v, r);
        } else if (streq(k, "tracing")) {
            parse_tracing(ld, v, r);
        }
        path_pop(ld, saved);
    }
    if (map_get(ld, map, "protocol") == NULL || is_null(map_get(ld, map, "protocol")))
        err_missing(ld, map->start_mark, "protocol");
    if (!label_given && r->protocol != NULL) {
        r->label = xstrdup(r->protocol);
        saved = path_key(ld, "label");
        check_label(ld, map->start_mark, r);
        path_pop(ld, saved);
    }
    if (r->n_servers == 0) {
        r->servers = xcalloc(1, sizeof(*r->servers));
        r->n_servers = 1;
        server_defaults(&r->servers[0]);
        saved = path_key(ld, "servers[0]");
        if (!servers_bad)
            check_addr(ld, map->start_mark, r->servers[0].ip, r->servers[0].port);
        path_pop(ld, saved);
    }
}

static void
router_fill(struct cfg_router *r)
{
    if (r->n_identifiers == 0) {
        r->identifiers = xcalloc(1, sizeof(*r->identifiers));
        r->n_identifiers = 1;
        r->identifiers[0].kind = CFG_ID_HEADER_TOKEN;
        r->identifiers[0].header = xstrdup("Host");
    }
    if (r->protocol == NULL)
        r->protocol = xstrdup("http");
    if (r->label == NULL)
        r->label = xstrdup(r->protocol);
}

static void
parse_routers(struct ld *ld, const yaml_node_t *v)
{
    struct cfg *cfg = ld->cfg;
    size_t n, saved;

    if (!expect_seq(ld, v))
        return;
    n = seq_len(v);
    if (n == 0) {
        err_at(ld, v->start_mark, "at least one router is required");
        return;
    }
    cfg->routers = xcalloc(n, sizeof(*cfg->routers));
    cfg->n_routers = n;
    for (size_t i = 0; i < n; i++) {
        router_defaults(&cfg->routers[i]);
        saved = path_idx(ld, i);
        parse_router(ld, seq_item(ld, v, i), &cfg->routers[i]);
        router_fill(&cfg->routers[i]);
        path_pop(ld, saved);
    }
}

/* ---- namers -------------------------------------------------------------------------- */

enum { NAMER_FS, NAMER_K8S };

static const struct kind_def namer_kinds[] = {
    {"io.l5d.fs", NAMER_FS},
    {"io.l5d.k8s", NAMER_K8S},
    {"io.l5d.k8s.ns", KIND_UNSUPPORTED},
    {"io.l5d.k8s.external", KIND_UNSUPPORTED},
    {"io.l5d.consul", KIND_UNSUPPORTED},
    {"io.l5d.marathon", KIND_UNSUPPORTED},
    {"io.l5d.serversets", KIND_UNSUPPORTED},
    {"io.l5d.zkLeader", KIND_UNSUPPORTED},
    {"io.l5d.curator", KIND_UNSUPPORTED},
    {"io.l5d.dnssrv", KIND_UNSUPPORTED},
    {"io.l5d.rancher", KIND_UNSUPPORTED},
    {NULL, 0},
};
static const char *const namer_fs_ok[] = {"kind", "prefix", "rootDir", "experimental", NULL};
/* inCluster, tls, caCertPath, tokenPath: HTTPS to the API server (docs/naming.md) */
static const char *const namer_k8s_ok[] = {"kind",          "prefix",       "host",      "port",
                                           "labelSelector", "experimental", "inCluster", "tls",
                                           "caCertPath",    "tokenPath",    NULL};
static const char *const namer_unsup[] = {"transformers", NULL};

/* A namer prefix: "io.l5d.fs" or, as Linkerd configs write it, "/io.l5d.fs". */
static bool
get_prefix(struct ld *ld, const yaml_node_t *n, char **dst)
{
    const char *s;

    if (n->type != YAML_SCALAR_NODE) {
        err_at(ld, n->start_mark, "expected a string");
        return false;
    }
    s = scalar(n);
    if (*s == '/')
        s++;
    if (*s == '\0' || *s == '/' || strstr(s, "//") != NULL || s[strlen(s) - 1] == '/' ||
        strpbrk(s, " \t\r\n#") != NULL) {
        err_at(ld, n->start_mark, "expected a prefix like /io.l5d.fs, not \"%s\"", scalar(n));
        return false;
    }
    free(*dst);
    *dst = xstrdup(s);
    return true;
}

static void
parse_namer(struct ld *ld, const yaml_node_t *map, struct cfg_namer *nm)
{
    struct keyset ks = {NULL, namer_unsup, false};
    yaml_mark_t prefix_mark = map->start_mark;
    bool experimental;
    yaml_node_t *v;
    const char *prev;
    size_t saved;
    int kind;

    if (!expect_map(ld, map))
        return;
    kind = read_kind(ld, map, namer_kinds, -1);
    if (kind < 0)
        return;
    nm->kind = xstrdup(kind_name(namer_kinds, kind));
    nm->prefix = xstrdup(nm->kind);
    ks.ok = kind == NAMER_FS ? namer_fs_ok : namer_k8s_ok;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &ks, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "prefix")) {
            prefix_mark = v->start_mark;
            (void) get_prefix(ld, v, &nm->prefix);
        } else if (streq(k, "rootDir")) {
            (void) get_nonempty_str(ld, v, &nm->root_dir);
        } else if (kind == NAMER_FS && streq(k, "experimental")) {
            (void) get_bool(ld, v, &experimental); /* accepted, no meaning for fs */
        } else if (kind == NAMER_K8S && !streq(k, "kind")) {
            /* every io.l5d.k8s key takes a scalar (a list here was kept flattened as
             * "port[0]" and then read back as an unknown key) */
            if (v->type != YAML_SCALAR_NODE)
                err_at(ld, v->start_mark, "expected a string, number or boolean");
            else
                raw_add(ld, &nm->params, &nm->n_params, k, v, 0);
        }
        path_pop(ld, saved);
    }
    if (kind == NAMER_FS && nm->root_dir == NULL)
        err_missing(ld, map->start_mark, "rootDir");
    saved = path_key(ld, "prefix");
    prev = seen_add(ld, "prefix", nm->prefix);
    if (prev != NULL)
        err_at(ld, prefix_mark, "prefix \"%s\" is also used by %s", nm->prefix, prev);
    path_pop(ld, saved);
}

static void
parse_namers(struct ld *ld, const yaml_node_t *v)
{
    struct cfg *cfg = ld->cfg;
    size_t n, saved;

    if (!expect_seq(ld, v))
        return;
    n = seq_len(v);
    cfg->namers = n > 0 ? xcalloc(n, sizeof(*cfg->namers)) : NULL;
    cfg->n_namers = n;
    for (size_t i = 0; i < n; i++) {
        saved = path_idx(ld, i);
        parse_namer(ld, seq_item(ld, v, i), &cfg->namers[i]);
        path_pop(ld, saved);
    }
}

/* ---- telemetry ----------------------------------------------------------------------- */

enum { TELE_ZIPKIN, TELE_PROMETHEUS, TELE_RECENT };

static const struct kind_def tele_kinds[] = {
    {"io.l5d.zipkin", TELE_ZIPKIN},
    {"io.l5d.prometheus", TELE_PROMETHEUS},
    {"io.l5d.recentRequests", TELE_RECENT},
    {"io.l5d.statsd", KIND_UNSUPPORTED},
    {"io.l5d.influxdb", KIND_UNSUPPORTED},
    {"io.l5d.tracelog", KIND_UNSUPPORTED},
    {"io.l5d.adminMetricsExport", KIND_UNSUPPORTED},
    {"io.l5d.commonMetrics", KIND_UNSUPPORTED},
    {"io.zipkin.http", KIND_UNSUPPORTED},
    {"io.zipkin.kafka", KIND_UNSUPPORTED},
    {NULL, 0},
};
static const char *const tele_zipkin_ok[] = {"kind",       "host",         "port",
                                             "sampleRate", "experimental", NULL};
static const char *const tele_prom_ok[] = {"kind", "path", "prefix", "experimental", NULL};
static const char *const tele_recent_ok[] = {"kind", "sampleRate", "capacity", "experimental",
                                             NULL};

static void
parse_telemeter(struct ld *ld, const yaml_node_t *map, struct cfg_telemetry *t)
{
    struct keyset ks = {NULL, NULL, false};
    bool experimental, have_rate = false;
    yaml_node_t *v;
    size_t saved;
    int kind;

    if (!expect_map(ld, map))
        return;
    kind = read_kind(ld, map, tele_kinds, -1);
    if (kind < 0)
        return;
    t->kind = xstrdup(kind_name(tele_kinds, kind));
    switch (kind) {
    case TELE_ZIPKIN:
        t->host = xstrdup("localhost");
        t->port = 9410;
        t->sample_rate = 0.001;
        ks.ok = tele_zipkin_ok;
        break;
    case TELE_PROMETHEUS:
        t->path = xstrdup("/admin/metrics/prometheus");
        t->prefix = xstrdup("");
        ks.ok = tele_prom_ok;
        break;
    default:
        t->capacity = 10;
        ks.ok = tele_recent_ok;
        break;
    }
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &ks, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "host"))
            t->collector_given |= get_nonempty_str(ld, v, &t->host);
        else if (streq(k, "port"))
            t->collector_given |= get_port(ld, v, 1, &t->port);
        else if (streq(k, "sampleRate"))
            (void) get_rate(ld, v, &t->sample_rate), have_rate = true;
        else if (streq(k, "path"))
            (void) get_path(ld, v, &t->path);
        else if (streq(k, "prefix"))
            (void) get_str(ld, v, &t->prefix);
        else if (streq(k, "capacity"))
            (void) get_u32(ld, v, 1, 1000000, &t->capacity);
        else if (streq(k, "experimental"))
            (void) get_bool(ld, v, &experimental); /* accepted, no meaning here */
        path_pop(ld, saved);
    }
    if (kind == TELE_RECENT && !have_rate)
        err_missing(ld, map->start_mark, "sampleRate");
}

static void
parse_telemetry(struct ld *ld, const yaml_node_t *v)
{
    struct cfg *cfg = ld->cfg;
    size_t n, saved;

    if (!expect_seq(ld, v))
        return;
    n = seq_len(v);
    cfg->telemetry = n > 0 ? xcalloc(n, sizeof(*cfg->telemetry)) : NULL;
    cfg->n_telemetry = n;
    for (size_t i = 0; i < n; i++) {
        saved = path_idx(ld, i);
        parse_telemeter(ld, seq_item(ld, v, i), &cfg->telemetry[i]);
        path_pop(ld, saved);
    }
}

/* ---- meshd, usage, top level --------------------------------------------------------- */

static const char *const meshd_ok[] = {
    "workers",
    "runDir",
    "agentSocket",
    "logLevel",
    "maxHeaders",
    "headerTimeoutMs",
    "idleTimeoutMs",
    "drainTimeoutMs",
    "maxConnections",
    "bufferSize",
    "user",
    "group",
    NULL,
};
static const struct keyset meshd_keys = {meshd_ok, NULL, false};
static const char *const log_levels[] = {"err", "warn", "notice", "info", "debug", NULL};

static void
parse_meshd(struct ld *ld, const yaml_node_t *map)
{
    struct cfg_meshd *m = &ld->cfg->meshd;
    struct strbuf sb = STRBUF_INIT;
    yaml_node_t *v;
    size_t saved;

    if (!expect_map(ld, map))
        return;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        const char *k = next_key(ld, map, p, &meshd_keys, &v, &saved);

        if (k == NULL)
            continue;
        if (streq(k, "workers")) {
            (void) get_unsigned(ld, v, 0, 1024, &m->workers);
        } else if (streq(k, "runDir")) {
            if (v->type == YAML_SCALAR_NODE && scalar(v)[0] != '/')
                err_at(ld, v->start_mark, "expected an absolute path");
            else
                (void) get_str(ld, v, &m->run_dir);
        } else if (streq(k, "agentSocket")) {
            if (v->type == YAML_SCALAR_NODE && strncmp(scalar(v), "ipc://", 6) != 0 &&
                strncmp(scalar(v), "tcp://", 6) != 0)
                err_at(ld, v->start_mark, "expected an ipc:// or tcp:// address");
            else
                (void) get_str(ld, v, &m->agent_socket);
        } else if (streq(k, "logLevel")) {
            if (v->type == YAML_SCALAR_NODE && !in_list(log_levels, scalar(v))) {
                join_list(&sb, log_levels);
                err_at(ld, v->start_mark, "expected one of: %s", strbuf_str(&sb));
                strbuf_reset(&sb);
            } else {
                (void) get_str(ld, v, &m->log_level);
            }
        } else if (streq(k, "maxHeaders")) {
            /* proxy/conn.c parses into arrays of 256 fields on the stack */
            (void) get_u32(ld, v, 1, 256, &m->max_headers);
        } else if (streq(k, "headerTimeoutMs")) {
            (void) get_u32(ld, v, 1, UINT32_MAX, &m->header_timeout_ms);
        } else if (streq(k, "idleTimeoutMs")) {
            (void) get_u32(ld, v, 1, UINT32_MAX, &m->idle_timeout_ms);
        } else if (streq(k, "drainTimeoutMs")) {
            (void) get_u32(ld, v, 0, UINT32_MAX, &m->drain_timeout_ms);
        } else if (streq(k, "maxConnections")) {
            (void) get_u32(ld, v, 1, 10000000, &m->max_connections);
        } else if (streq(k, "bufferSize")) {
            (void) get_u32(ld, v, 1024, 16u << 20, &m->buffer_size);
        } else if (streq(k, "user") || streq(k, "group")) {
            char **dst = streq(k, "user") ? &m->user : &m->group;

            if (v->type == YAML_SCALAR_NODE && scalar(v)[0] == '\0')
                err_at(ld, v->start_mark, "expected a user or group name, or a number");
            else
                (void) get_str(ld, v, dst);
        }
        path_pop(ld, saved);
    }
    strbuf_fini(&sb);
}

/* Linkerd's usage reporting: meshd reports nothing; "enabled: false" says just that. */
static const char *const usage_ok[] = {"enabled", NULL};
static const struct keyset usage_keys = {usage_ok, NULL, true};

static void
parse_usage(struct ld *ld, const yaml_node_t *map)
{
    yaml_node_t *v;
    size_t saved;
    bool enabled;

    if (!expect_map(ld, map))
        return;
    for (const yaml_node_pair_t *p = pairs_begin(map); p < pairs_end(map); p++) {
        if (next_key(ld, map, p, &usage_keys, &v, &saved) == NULL)
            continue;
        if (get_bool(ld, v, &enabled) && enabled)
            err_at(ld, v->start_mark, "not supported by meshd yet (only false)");
        path_pop(ld, saved);
    }
}

static const char *const top_ok[] = {"admin", "routers", "namers",    "telemetry",
                                     "meshd", "usage",   "meshagent", NULL};
static const char *const top_unsup[] = {"announcers", "tracers", NULL};
static const struct keyset top_keys = {top_ok, top_unsup, false};

static void
parse_root(struct ld *ld, const yaml_node_t *root)
{
    yaml_mark_t admin_mark = ld->root_mark;
    bool have_routers = false;
    yaml_node_t *v;
    size_t saved;

    if (root != NULL && !is_null(root) && expect_map(ld, root)) {
        for (const yaml_node_pair_t *p = pairs_begin(root); p < pairs_end(root); p++) {
            const char *k = next_key(ld, root, p, &top_keys, &v, &saved);

            if (k == NULL)
                continue;
            if (streq(k, "admin")) {
                admin_mark = v->start_mark;
                parse_admin(ld, v);
            } else if (streq(k, "routers")) {
                have_routers = true;
                parse_routers(ld, v);
            } else if (streq(k, "namers")) {
                parse_namers(ld, v);
            } else if (streq(k, "telemetry")) {
                parse_telemetry(ld, v);
            } else if (streq(k, "meshd")) {
                parse_meshd(ld, v);
            } else if (streq(k, "usage")) {
                parse_usage(ld, v);
            } else if (streq(k, "meshagent")) {
                /* kept raw: meshagent owns these keys and checks them itself */
                if (expect_map(ld, v))
                    for (const yaml_node_pair_t *q = pairs_begin(v); q < pairs_end(v); q++) {
                        yaml_node_t *kk = node(ld, q->key);

                        if (kk->type == YAML_SCALAR_NODE)
                            raw_add(ld, &ld->cfg->meshagent, &ld->cfg->n_meshagent, scalar(kk),
                                    node(ld, q->value), 0);
                        else
                            err_at(ld, kk->start_mark, "expected a string key");
                    }
            }
            path_pop(ld, saved);
        }
    } else if (root != NULL && !is_null(root)) {
        return; /* not a mapping: reported, nothing more to say */
    }
    if (!have_routers) {
        saved = path_key(ld, "routers");
        err_at(ld, ld->root_mark, "at least one router is required");
        path_pop(ld, saved);
    }
    saved = path_key(ld, "admin");
    check_addr(ld, admin_mark, ld->cfg->admin.ip, ld->cfg->admin.port);
    path_pop(ld, saved);
}

/* ---- entry points -------------------------------------------------------------------- */

static struct cfg *
cfg_new_defaults(const char *name)
{
    struct cfg *cfg = xcalloc(1, sizeof(*cfg));

    cfg->path = xstrdup(name);
    cfg->admin.ip = xstrdup("127.0.0.1");
    cfg->admin.port = 9990;
    cfg->meshd.workers = 0; /* the proxy asks for the online CPUs */
    cfg->meshd.log_level = xstrdup("notice");
    cfg->meshd.max_headers = 100;
    cfg->meshd.header_timeout_ms = 10000;
    cfg->meshd.idle_timeout_ms = 60000;
    cfg->meshd.drain_timeout_ms = 30000;
    cfg->meshd.max_connections = 10000;
    cfg->meshd.buffer_size = 16384;
    return cfg;
}

/* Fills what depends on other settings: run_dir, then agent_socket from it. The default
 * run dir depends on the euid the process had when it first loaded a config, not the
 * current one: a daemon that dropped root (meshd.user) and reloads keeps /run/meshd. */
static void
cfg_fill(struct cfg *cfg)
{
    static uid_t start_euid = (uid_t) -1;
    struct strbuf sb = STRBUF_INIT;
    uid_t uid;

    if (start_euid == (uid_t) -1)
        start_euid = geteuid();
    uid = start_euid;

    if (cfg->meshd.run_dir == NULL) {
        if (uid == 0)
            strbuf_adds(&sb, "/run/meshd");
        else
            strbuf_addf(&sb, "/tmp/meshd-%lu", (unsigned long) uid);
        cfg->meshd.run_dir = strbuf_steal(&sb);
    }
    if (cfg->meshd.agent_socket == NULL) {
        strbuf_addf(&sb, "ipc://%s/spans.ipc", cfg->meshd.run_dir);
        cfg->meshd.agent_socket = strbuf_steal(&sb);
    }
}

/* Line and column (1-based) of byte <offset> of <text>. */
static void
offset_to_mark(const char *text, size_t len, size_t offset, yaml_mark_t *mark)
{
    mark->line = 0;
    mark->column = 0;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (text[i] == '\n') {
            mark->line++;
            mark->column = 0;
        } else {
            mark->column++;
        }
    }
}

static void
report_yaml_error(struct ld *ld, const yaml_parser_t *parser, const char *text, size_t len)
{
    const char *problem = parser->problem != NULL ? parser->problem : "cannot parse";
    yaml_mark_t mark = parser->problem_mark;
    char msg[512];

    if (parser->error == YAML_READER_ERROR) {
        offset_to_mark(text, len, parser->problem_offset, &mark);
        if (parser->problem_value != -1)
            (void) snprintf(msg, sizeof(msg), "%s (byte 0x%02x)", problem,
                            (unsigned) parser->problem_value & 0xffu);
        else
            (void) snprintf(msg, sizeof(msg), "%s", problem);
    } else if (parser->context != NULL) {
        (void) snprintf(msg, sizeof(msg), "%s (%s at line %zu, column %zu)", problem,
                        parser->context, parser->context_mark.line + 1,
                        parser->context_mark.column + 1);
    } else {
        (void) snprintf(msg, sizeof(msg), "%s", problem);
    }
    err_line(ld->err, ld->file, mark.line + 1, mark.column + 1, "(yaml)", msg);
}

struct cfg *
cfg_parse(const char *text, size_t len, const char *name, struct cfg_err *err)
{
    struct cfg_err scratch;
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    yaml_node_t *root = NULL, *extra_root;
    bool have_doc = false;
    struct ld ld;

    if (err == NULL)
        err = &scratch;
    err_reset(err);
    if (name == NULL)
        name = "<string>";
    memset(&ld, 0, sizeof(ld));
    ld.file = name;
    ld.err = err;
    ld.cfg = cfg_new_defaults(name);
    if (yaml_parser_initialize(&parser) == 0) {
        fprintf(stderr, "fatal: out of memory\n");
        abort(); /* config code aborts on OOM, as xmalloc() does */
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
    if (yaml_parser_load(&parser, &doc) == 0) {
        report_yaml_error(&ld, &parser, text, len);
        goto out;
    }
    have_doc = true;
    ld.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root != NULL) {
        ld.root_mark = root->start_mark;
        if (yaml_parser_load(&parser, &extra) == 0) {
            report_yaml_error(&ld, &parser, text, len);
            goto out;
        }
        extra_root = yaml_document_get_root_node(&extra);
        if (extra_root != NULL)
            err_line(err, name, extra_root->start_mark.line + 1, extra_root->start_mark.column + 1,
                     "(yaml)", "more than one document; a config is one document");
        yaml_document_delete(&extra);
    }
    parse_root(&ld, root);
    cfg_fill(ld.cfg);

out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    seen_free(&ld);
    if (err->n_errors > 0)
        ld.cfg = cfg_free(ld.cfg);
    return ld.cfg;
}

/* Reads all of <path>; returns 0 or a negative errno (-EFBIG past CFG_MAX_FILE_LEN). */
static int
read_file(const char *path, char **ret_text, size_t *ret_len)
{
    struct stat st;
    char *text = NULL;
    size_t len = 0, cap = 4096;
    ssize_t n;
    int fd, r;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return -errno;
    if (fstat(fd, &st) == -1)
        goto fail;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        goto fail;
    }
    text = xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= CFG_MAX_FILE_LEN) {
                errno = EFBIG;
                goto fail;
            }
            cap *= 2;
            text = xrealloc(text, cap);
        }
        n = read(fd, text + len, cap - len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            goto fail;
        if (n == 0)
            break;
        len += (size_t) n;
    }
    (void) close(fd);
    *ret_text = text;
    *ret_len = len;
    return 0;

fail:
    r = -errno; /* close() may overwrite errno */
    free(text);
    (void) close(fd);
    return r;
}

struct cfg *
cfg_load(const char *path, struct cfg_err *err)
{
    struct cfg_err scratch;
    struct cfg *cfg;
    char *text = NULL, msg[256];
    size_t len = 0;
    int r;

    if (err == NULL)
        err = &scratch;
    r = read_file(path, &text, &len);
    if (r < 0) {
        (void) snprintf(msg, sizeof(msg), "cannot read: %s", strerror(-r));
        err_reset(err);
        err_line(err, path, 1, 1, "(file)", r == -EFBIG ? "cannot read: larger than 16 MiB" : msg);
        return NULL;
    }
    cfg = cfg_parse(text, len, path, err);
    free(text);
    return cfg;
}

static void
router_free(struct cfg_router *r)
{
    free(r->protocol);
    free(r->label);
    free(r->dst_prefix);
    free(r->dtab);
    for (size_t i = 0; i < r->n_identifiers; i++) {
        free(r->identifiers[i].header);
        free(r->identifiers[i].path);
    }
    free(r->identifiers);
    for (size_t i = 0; i < r->n_servers; i++)
        free(r->servers[i].ip);
    free(r->servers);
    for (size_t i = 0; i < r->n_transformers; i++) {
        free(r->transformers[i].kind);
        free(r->transformers[i].prefix);
        kv_free(r->transformers[i].params, r->transformers[i].n_params);
    }
    free(r->transformers);
}

struct cfg *
cfg_free(struct cfg *cfg)
{
    if (cfg == NULL)
        return NULL;
    free(cfg->path);
    free(cfg->admin.ip);
    for (size_t i = 0; i < cfg->n_routers; i++)
        router_free(&cfg->routers[i]);
    free(cfg->routers);
    for (size_t i = 0; i < cfg->n_namers; i++) {
        free(cfg->namers[i].kind);
        free(cfg->namers[i].prefix);
        free(cfg->namers[i].root_dir);
        kv_free(cfg->namers[i].params, cfg->namers[i].n_params);
    }
    free(cfg->namers);
    kv_free(cfg->meshagent, cfg->n_meshagent);
    for (size_t i = 0; i < cfg->n_telemetry; i++) {
        free(cfg->telemetry[i].kind);
        free(cfg->telemetry[i].host);
        free(cfg->telemetry[i].path);
        free(cfg->telemetry[i].prefix);
    }
    free(cfg->telemetry);
    free(cfg->meshd.run_dir);
    free(cfg->meshd.agent_socket);
    free(cfg->meshd.log_level);
    free(cfg->meshd.user);
    free(cfg->meshd.group);
    free(cfg);
    return NULL;
}

/* ---- JSON ---------------------------------------------------------------------------- */

/* The output uses the YAML key names, so it loads back through cfg_parse() unchanged. */

static void
json_str(struct strbuf *sb, const char *s)
{
    if (s == NULL)
        strbuf_adds(sb, "null");
    else
        strbuf_add_json_str(sb, s, strlen(s));
}

/* ,"<key>":"<value>" (or without the comma when <first>). */
static void
json_trace_formats(struct strbuf *sb, unsigned mask)
{
    static const char *const names[] = {NULL, "l5d", "b3multi", "b3", "traceparent"};
    bool first = true;

    strbuf_addc(sb, '[');
    for (unsigned i = 1; i < ARRAY_SIZE(names); i++) {
        if (mask & (1u << i)) {
            strbuf_addf(sb, "%s\"%s\"", first ? "" : ",", names[i]);
            first = false;
        }
    }
    strbuf_addc(sb, ']');
}

static void
json_kv_str(struct strbuf *sb, bool first, const char *key, const char *value)
{
    /* keys of raw sections are the user's: escaped like values */
    if (!first)
        strbuf_addc(sb, ',');
    json_str(sb, key);
    strbuf_addc(sb, ':');
    json_str(sb, value);
}

static void
json_kv_uint(struct strbuf *sb, bool first, const char *key, unsigned long long value)
{
    strbuf_addf(sb, "%s\"%s\":%llu", first ? "" : ",", key, value);
}

static void
json_kv_bool(struct strbuf *sb, bool first, const char *key, bool value)
{
    strbuf_addf(sb, "%s\"%s\":%s", first ? "" : ",", key, value ? "true" : "false");
}

/* The shortest of %.15g / %.17g that reads back as <value>. */
static void
json_kv_double(struct strbuf *sb, bool first, const char *key, double value)
{
    char buf[64];

    (void) snprintf(buf, sizeof(buf), "%.15g", value);
    if (strtod(buf, NULL) != value)
        (void) snprintf(buf, sizeof(buf), "%.17g", value);
    strbuf_addf(sb, "%s\"%s\":%s", first ? "" : ",", key, buf);
}

static void
json_params(struct strbuf *sb, const struct cfg_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_kv_str(sb, false, kv[i].key, kv[i].value);
}

static void
json_identifier(struct strbuf *sb, const struct cfg_identifier *id)
{
    strbuf_addc(sb, '{');
    json_kv_str(sb, true, "kind", kind_name(ident_kinds, (int) id->kind));
    switch (id->kind) {
    case CFG_ID_HEADER_TOKEN:
    case CFG_ID_HEADER:
        json_kv_str(sb, false, "header", id->header);
        break;
    case CFG_ID_METHOD_AND_HOST:
        json_kv_bool(sb, false, "httpUriInDst", id->uri_in_dst);
        break;
    case CFG_ID_PATH:
        json_kv_uint(sb, false, "segments", id->segments);
        json_kv_bool(sb, false, "consume", id->consume);
        break;
    case CFG_ID_STATIC:
        json_kv_str(sb, false, "path", id->path);
        break;
    }
    strbuf_addc(sb, '}');
}

static void
json_router(struct strbuf *sb, const struct cfg_router *r)
{
    const struct cfg_client *c = &r->client;

    strbuf_addc(sb, '{');
    json_kv_str(sb, true, "protocol", r->protocol);
    json_kv_str(sb, false, "label", r->label);
    json_kv_str(sb, false, "dstPrefix", r->dst_prefix);
    json_kv_str(sb, false, "dtab", r->dtab);
    strbuf_adds(sb, ",\"identifier\":[");
    for (size_t i = 0; i < r->n_identifiers; i++) {
        if (i > 0)
            strbuf_addc(sb, ',');
        json_identifier(sb, &r->identifiers[i]);
    }
    strbuf_adds(sb, "],\"servers\":[");
    for (size_t i = 0; i < r->n_servers; i++) {
        const struct cfg_server *s = &r->servers[i];

        strbuf_adds(sb, i > 0 ? ",{" : "{");
        json_kv_str(sb, true, "ip", s->ip);
        json_kv_uint(sb, false, "port", s->port);
        json_kv_bool(sb, false, "clearContext", s->clear_context);
        json_kv_uint(sb, false, "maxConcurrentRequests", s->max_concurrent_requests);
        strbuf_addc(sb, '}');
    }
    strbuf_adds(sb, "],\"client\":{\"loadBalancer\":{");
    json_kv_str(sb, true, "kind", kind_name(lb_kinds, (int) c->lb));
    strbuf_adds(sb, "},\"failureAccrual\":{");
    json_kv_str(sb, true, "kind", "io.l5d.consecutiveFailures");
    json_kv_uint(sb, false, "failures", c->failure_accrual_failures);
    strbuf_adds(sb, ",\"backoff\":{");
    json_kv_str(sb, true, "kind", "jittered");
    json_kv_uint(sb, false, "minMs", c->failure_accrual_backoff_min_ms);
    json_kv_uint(sb, false, "maxMs", c->failure_accrual_backoff_max_ms);
    strbuf_adds(sb, "}}");
    json_kv_uint(sb, false, "connectTimeoutMs", c->connect_timeout_ms);
    json_kv_uint(sb, false, "requestAttemptTimeoutMs", c->request_attempt_timeout_ms);
    strbuf_adds(sb, ",\"hostConnectionPool\":{");
    json_kv_uint(sb, true, "maxIdle", c->pool_max_idle);
    json_kv_uint(sb, false, "idleTimeMs", c->pool_idle_time_ms);
    strbuf_adds(sb, "}},\"service\":{");
    json_kv_uint(sb, true, "totalTimeoutMs", r->service.total_timeout_ms);
    strbuf_addc(sb, '}');
    json_kv_uint(sb, false, "maxHeadersKB", r->max_headers_kb);
    json_kv_uint(sb, false, "maxInitialLineKB", r->max_initial_line_kb);
    json_kv_uint(sb, false, "bindingTimeoutMs", r->binding_timeout_ms);
    strbuf_adds(sb, ",\"interpreter\":{\"kind\":\"default\",\"transformers\":[");
    for (size_t i = 0; i < r->n_transformers; i++) {
        const struct cfg_transformer *t = &r->transformers[i];

        strbuf_adds(sb, i > 0 ? ",{" : "{");
        json_kv_str(sb, true, "kind", t->kind);
        json_kv_str(sb, false, "prefix", t->prefix);
        json_params(sb, t->params, t->n_params);
        strbuf_addc(sb, '}');
    }
    strbuf_adds(sb, "]}");
    strbuf_adds(sb, ",\"tracing\":{\"read\":");
    json_trace_formats(sb, r->trace_read);
    strbuf_adds(sb, ",\"write\":");
    json_trace_formats(sb, r->trace_write);
    json_kv_str(sb, false, "serverSpanService", r->span_server_by_router ? "router" : "address");
    json_kv_str(sb, false, "clientSpanService",
                r->span_client_by_client ? "client" : "destination");
    strbuf_adds(sb, "}}");
}

static void
json_telemeter(struct strbuf *sb, const struct cfg_telemetry *t)
{
    strbuf_addc(sb, '{');
    json_kv_str(sb, true, "kind", t->kind);
    if (t->host != NULL) { /* zipkin */
        json_kv_str(sb, false, "host", t->host);
        json_kv_uint(sb, false, "port", t->port);
        json_kv_double(sb, false, "sampleRate", t->sample_rate);
    } else if (t->path != NULL) { /* prometheus */
        json_kv_str(sb, false, "path", t->path);
        json_kv_str(sb, false, "prefix", t->prefix);
    } else { /* recentRequests */
        json_kv_double(sb, false, "sampleRate", t->sample_rate);
        json_kv_uint(sb, false, "capacity", t->capacity);
    }
    strbuf_addc(sb, '}');
}

void
cfg_to_json(const struct cfg *cfg, struct strbuf *out)
{
    const struct cfg_meshd *m = &cfg->meshd;

    strbuf_adds(out, "{\"admin\":{");
    json_kv_str(out, true, "ip", cfg->admin.ip);
    json_kv_uint(out, false, "port", cfg->admin.port);
    strbuf_adds(out, "},\"routers\":[");
    for (size_t i = 0; i < cfg->n_routers; i++) {
        if (i > 0)
            strbuf_addc(out, ',');
        json_router(out, &cfg->routers[i]);
    }
    strbuf_adds(out, "],\"namers\":[");
    for (size_t i = 0; i < cfg->n_namers; i++) {
        const struct cfg_namer *nm = &cfg->namers[i];

        strbuf_adds(out, i > 0 ? ",{" : "{");
        json_kv_str(out, true, "kind", nm->kind);
        json_kv_str(out, false, "prefix", nm->prefix);
        if (nm->root_dir != NULL)
            json_kv_str(out, false, "rootDir", nm->root_dir);
        json_params(out, nm->params, nm->n_params);
        strbuf_addc(out, '}');
    }
    strbuf_adds(out, "],\"telemetry\":[");
    for (size_t i = 0; i < cfg->n_telemetry; i++) {
        if (i > 0)
            strbuf_addc(out, ',');
        json_telemeter(out, &cfg->telemetry[i]);
    }
    strbuf_adds(out, "],\"meshd\":{");
    json_kv_uint(out, true, "workers", m->workers);
    json_kv_str(out, false, "runDir", m->run_dir);
    json_kv_str(out, false, "agentSocket", m->agent_socket);
    json_kv_str(out, false, "logLevel", m->log_level);
    json_kv_uint(out, false, "maxHeaders", m->max_headers);
    json_kv_uint(out, false, "headerTimeoutMs", m->header_timeout_ms);
    json_kv_uint(out, false, "idleTimeoutMs", m->idle_timeout_ms);
    json_kv_uint(out, false, "drainTimeoutMs", m->drain_timeout_ms);
    json_kv_uint(out, false, "maxConnections", m->max_connections);
    json_kv_uint(out, false, "bufferSize", m->buffer_size);
    if (m->user != NULL)
        json_kv_str(out, false, "user", m->user);
    if (m->group != NULL)
        json_kv_str(out, false, "group", m->group);
    strbuf_addc(out, '}');
    if (cfg->n_meshagent > 0) {
        strbuf_adds(out, ",\"meshagent\":{");
        for (size_t i = 0; i < cfg->n_meshagent; i++)
            json_kv_str(out, i == 0, cfg->meshagent[i].key, cfg->meshagent[i].value);
        strbuf_addc(out, '}');
    }
    strbuf_addc(out, '}');
}

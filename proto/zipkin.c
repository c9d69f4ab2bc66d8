/* proto/zipkin.c - Zipkin encoders (JSON v2, JSON v1, Thrift v1, Scribe Log calls) and the
 * Scribe reply parser. meshagent's shippers call them on decoded span records; the field
 * mapping, with examples, is docs/zipkin-encoding.md.
 *
 * Every encoder writes what Zipkin will store, so that nothing we send is changed on the way
 * in (shared/reference/zipkin.md, "Zipkin accepted it is weaker than it is correct"):
 *   - names and service names lower-cased (ASCII), empty name left out (v2);
 *   - duration at least 1 µs; a timestamp of 0, or INT64_MAX and above, is unknown (left
 *     out, with the duration), and the end (v1 "ss"/"cr") never passes INT64_MAX;
 *   - parentId left out when it equals the span id (Zipkin drops it as circular);
 *   - "shared" only on SERVER spans (Zipkin removes it from CLIENT spans);
 *   - IPv4-mapped and IPv4-compatible IPv6 addresses sent as IPv4, 0.0.0.0 and :: as no
 *     address, IPv6 spelled exactly as Zipkin re-spells it (Endpoint.writeIpV6);
 *   - strings made valid UTF-8 (each maximal ill-formed subpart becomes U+FFFD, as Zipkin's
 *     UTF-8 reader and Python's "replace" do), in Thrift as in JSON;
 *   - a repeated tag name keeps its last value, the one Zipkin's map keeps;
 *   - JSON strings that would trip Zipkin's format sniffing (a v2 body holding the bytes
 *     `yAnnotations"`, a v1 body holding `Endpoint"` or `"tags"`) get one letter escaped
 *     as \uXXXX, which leaves the decoded text unchanged.
 *
 * Speed (bench/micro/bench_zipkin.c: JSON v2 of a typical span, ~2,700 instructions and
 * ~130 ns): output goes through a struct wbuf, written in place at the end of the caller's
 * strbuf. Writers reserve the worst case first (6 output bytes per input byte of a JSON
 * string; JSON v2 reserves a whole span at once) and then write with no checks. Strings go
 * eight bytes at a time while they are plain ASCII, ids in hex eight digits at a time,
 * decimals by digit pairs, never printf; well-known tag names are JSON-quoted once at
 * start-up; the local endpoint, the same for nearly every span of a batch, is written once
 * per call and copied. Thrift strings and Scribe scratch use stack buffers. */
#include "proto/zipkin.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/util.h"

#define WB_STACK         4096
#define TS_MAX           ((uint64_t) INT64_MAX)
#define SCRIBE_MAX_REPLY (1u << 20) /* a Log reply is ~25 bytes; an exception, a message */
#define THRIFT_MAX_DEPTH 16

/* TBinaryProtocol type codes (Thrift's TType) */
enum {
    TT_STOP = 0,
    TT_BOOL = 2,
    TT_BYTE = 3,
    TT_DOUBLE = 4,
    TT_I16 = 6,
    TT_I32 = 8,
    TT_I64 = 10,
    TT_STRING = 11,
    TT_STRUCT = 12,
    TT_MAP = 13,
    TT_SET = 14,
    TT_LIST = 15,
};

#define TMSG_VERSION_1 0x80010000u
#define TMSG_CALL      1
#define TMSG_REPLY     2

#define ANNOTATION_TYPE_BOOL   0
#define ANNOTATION_TYPE_STRING 6

/* ---- output buffer ------------------------------------------------------------------- */

/* Where a writer puts bytes. Opened on a strbuf (wb_open), it writes in place at the end of
 * the caller's string, so the output is never copied; as scratch (wb_init), it uses a 4 KiB
 * stack buffer that spills to the heap. */
struct wbuf {
    char *p;           /* next byte to write */
    char *end;         /* end of the room */
    char *base;        /* first byte of this writer's output */
    struct strbuf *sb; /* wb_open(): the string written into; NULL for scratch */
    size_t start;      /* wb_open(): offset of <base> in sb->s */
    char stack[WB_STACK];
};

static void
wb_init(struct wbuf *w)
{
    w->base = w->p = w->stack;
    w->end = w->stack + WB_STACK;
    w->sb = NULL;
    w->start = 0;
}

static size_t
wb_len(const struct wbuf *w)
{
    return (size_t) (w->p - w->base);
}

/* strbuf.h has no way to reserve room, so this adds <n> bytes and takes them back: after
 * it, sb->s has room for sb->len + <n> bytes and the NUL. At least doubles the capacity, so
 * the bytes added are paid once per growth, not per write. */
static void
sb_reserve(struct strbuf *sb, size_t n)
{
    static const char zeros[1024];
    size_t len = sb->len, want;

    if (sb->s != NULL && sb->cap - len > n)
        return;
    want = MESH_MAX(n, sb->cap);
    for (size_t added = 0; added < want;) {
        size_t chunk = MESH_MIN(want - added, sizeof(zeros));

        strbuf_add(sb, zeros, chunk);
        added += chunk;
    }
    sb->len = len;
    sb->s[len] = '\0';
}

/* Starts writing at the end of <sb>; wb_close() makes what was written part of it. */
static void
wb_open(struct wbuf *w, struct strbuf *sb)
{
    sb_reserve(sb, WB_STACK);
    w->sb = sb;
    w->start = sb->len;
    w->base = w->p = sb->s + sb->len;
    w->end = sb->s + sb->cap - 1; /* the NUL's byte */
}

static void
wb_close(struct wbuf *w)
{
    w->sb->len = (size_t) (w->p - w->sb->s);
    w->sb->s[w->sb->len] = '\0';
}

static void
wb_grow(struct wbuf *w, size_t n)
{
    size_t used = wb_len(w), cap;
    char *nb;

    if (w->sb != NULL) {
        w->sb->len = w->start + used;
        sb_reserve(w->sb, n);
        w->base = w->sb->s + w->start;
        w->p = w->base + used;
        w->end = w->sb->s + w->sb->cap - 1;
        return;
    }
    cap = (size_t) (w->end - w->base) * 2;
    while (cap - used < n)
        cap *= 2;
    nb = xmalloc(cap);
    memcpy(nb, w->base, used);
    if (w->base != w->stack)
        free(w->base);
    w->base = nb;
    w->p = nb + used;
    w->end = nb + cap;
}

/* Makes room for <n> more bytes; the writers below then write without checks. */
static inline void
wb_need(struct wbuf *w, size_t n)
{
    if (unlikely((size_t) (w->end - w->p) < n))
        wb_grow(w, n);
}

static void
wb_reset(struct wbuf *w)
{
    w->p = w->base;
}

/* Frees a scratch writer's heap block, if it spilled. */
static void
wb_fini(struct wbuf *w)
{
    if (w->sb == NULL && w->base != w->stack)
        free(w->base);
    wb_init(w);
}

/* Writes a string literal at <p> (room already made) and advances <p>. */
#define PUT_LIT(p, lit) ((p) = (char *) memcpy((p), (lit), sizeof(lit) - 1) + sizeof(lit) - 1)

static inline void
wb_lit(struct wbuf *w, const char *s, size_t n)
{
    wb_need(w, n);
    memcpy(w->p, s, n);
    w->p += n;
}

/* Makes room for and writes a string literal. */
#define WB_LIT(w, lit) wb_lit((w), (lit), sizeof(lit) - 1)

static inline void
wb_putc(struct wbuf *w, char c)
{
    wb_need(w, 1);
    *w->p++ = c;
}

/* Appends what <from> holds: an endpoint written once, repeated for each annotation. */
static void
wb_copy(struct wbuf *w, const struct wbuf *from)
{
    wb_lit(w, from->base, wb_len(from));
}

/* ---- numbers ------------------------------------------------------------------------- */

static const char hexdig[16] = "0123456789abcdef";

static const char dig2[200] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "6869707172737475767778798081828384858687888990919293949596979899";

/* The two decimal digits of <v> < 100. */
static inline const char *
dec_pair(uint32_t v)
{
    return dig2 + (size_t) v * 2;
}

/* 8 lower-hex digits of <v>, without a table: each nibble is spread into a byte of a
 * 64-bit word, most significant first in memory, then turned into its digit in all eight
 * bytes at once ('0' + n, plus 'a' - '0' - 10 where n >= 10). */
static inline char *
put_hex32(char *p, uint32_t v)
{
    uint64_t x = v;

    x = (x | x << 16) & 0x0000ffff0000ffffull;
    x = (x | x << 8) & 0x00ff00ff00ff00ffull;
    x = (x | x << 4) & 0x0f0f0f0f0f0f0f0full; /* byte k holds nibble k, least first */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    x += 0x3030303030303030ull +
         (((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull) * (uint64_t) ('a' - '0' - 10);
    memcpy(p, &x, 8);
    return p + 8;
}

/* 16 lower-hex digits, zero-padded */
static inline char *
put_hex64(char *p, uint64_t v)
{
    p = put_hex32(p, (uint32_t) (v >> 32));
    return put_hex32(p, (uint32_t) v);
}

/* <v> < 10^8 in decimal, no padding */
static inline char *
put_u32_short(char *p, uint32_t v)
{
    char tmp[8], *t = tmp + sizeof(tmp);
    size_t n;

    while (v >= 100) {
        uint32_t r = v % 100;

        v /= 100;
        t -= 2;
        memcpy(t, dec_pair(r), 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, dec_pair(v), 2);
    } else {
        *--t = (char) ('0' + v);
    }
    n = (size_t) (tmp + sizeof(tmp) - t);
    memcpy(p, t, n);
    return p + n;
}

/* <v> < 10^8 as exactly 8 digits */
static inline char *
put_8digits(char *p, uint32_t v)
{
    uint32_t hi = v / 10000, lo = v % 10000;

    memcpy(p, dec_pair(hi / 100), 2);
    memcpy(p + 2, dec_pair(hi % 100), 2);
    memcpy(p + 4, dec_pair(lo / 100), 2);
    memcpy(p + 6, dec_pair(lo % 100), 2);
    return p + 8;
}

/* <v> in decimal: 32-bit work on 8-digit pieces (epoch microseconds have 16 digits) */
static inline char *
put_u64(char *p, uint64_t v)
{
    if (v < 100000000)
        return put_u32_short(p, (uint32_t) v);
    if (v < 10000000000000000ull) {
        p = put_u32_short(p, (uint32_t) (v / 100000000));
        return put_8digits(p, (uint32_t) (v % 100000000));
    }
    p = put_u32_short(p, (uint32_t) (v / 10000000000000000ull)); /* at most 1844 */
    v %= 10000000000000000ull;
    p = put_8digits(p, (uint32_t) (v / 100000000));
    return put_8digits(p, (uint32_t) (v % 100000000));
}

static inline char *
put_be16(char *p, uint16_t v)
{
    p[0] = (char) (v >> 8);
    p[1] = (char) v;
    return p + 2;
}

static inline char *
put_be32(char *p, uint32_t v)
{
    p[0] = (char) (v >> 24);
    p[1] = (char) (v >> 16);
    p[2] = (char) (v >> 8);
    p[3] = (char) v;
    return p + 4;
}

static inline char *
put_be64(char *p, uint64_t v)
{
    p = put_be32(p, (uint32_t) (v >> 32));
    return put_be32(p, (uint32_t) v);
}

/* ---- UTF-8 --------------------------------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence at <in> (lead byte >= 0x80, Unicode 15
 * table 3-7), or 0 when it is ill-formed, with *ret_skip the length of its maximal
 * ill-formed subpart (Unicode 15 §3.9, "U+FFFD Substitution of Maximal Subparts": the
 * practice of Zipkin's Java decoder and Python's errors="replace"). */
static size_t
utf8_seq_len(const unsigned char *in, const unsigned char *end, size_t *ret_skip)
{
    unsigned c = in[0], lo = 0x80, hi = 0xbf;
    size_t n, i;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        *ret_skip = 1;
        return 0;
    }
    if (end - in < 2 || in[1] < lo || in[1] > hi) {
        *ret_skip = 1;
        return 0;
    }
    for (i = 2; i < n; i++) {
        if ((size_t) (end - in) <= i || (in[i] & 0xc0) != 0x80) {
            *ret_skip = i;
            return 0;
        }
    }
    return n;
}

/* Copies the UTF-8 sequence at <in> (lead byte >= 0x80) to *pp, or writes U+FFFD for its
 * maximal ill-formed subpart. With <json>, U+2028 and U+2029 are written as \u escapes, as
 * Zipkin's JsonEscaper does. Consumes at least one byte; writes at most 6 bytes, and at most
 * 3 per byte consumed unless <json>. Returns the input position after the sequence. */
static const unsigned char *
utf8_copy(const unsigned char *in, const unsigned char *end, char **pp, bool json)
{
    size_t skip, n = utf8_seq_len(in, end, &skip);
    char *p = *pp;

    if (n == 0) {
        PUT_LIT(p, "\xef\xbf\xbd");
        *pp = p;
        return in + skip;
    }
    if (json && in[0] == 0xe2 && in[1] == 0x80 && (in[2] == 0xa8 || in[2] == 0xa9)) {
        PUT_LIT(p, "\\u202");
        *p++ = in[2] == 0xa8 ? '8' : '9';
    } else {
        memcpy(p, in, n);
        p += n;
    }
    *pp = p;
    return in + n;
}

/* Whether <a> and <b> are the same text once made valid UTF-8 (two names Zipkin would see
 * as one tag). Different bytes can be: each ill-formed subpart is one U+FFFD. */
static bool
same_text(const char *a, size_t a_len, const char *b, size_t b_len)
{
    const unsigned char *p = (const unsigned char *) a, *pe = a_len > 0 ? p + a_len : p;
    const unsigned char *q = (const unsigned char *) b, *qe = b_len > 0 ? q + b_len : q;

    if (a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0))
        return true;
    while (p < pe && q < qe) {
        size_t p_skip, q_skip, p_n, q_n;

        if (*p < 0x80 || *q < 0x80) {
            if (*p++ != *q++)
                return false;
            continue;
        }
        p_n = utf8_seq_len(p, pe, &p_skip);
        q_n = utf8_seq_len(q, qe, &q_skip);
        if (p_n != q_n || memcmp(p, q, p_n) != 0)
            return false;
        p += p_n ? p_n : p_skip;
        q += q_n ? q_n : q_skip;
    }
    return p == pe && q == qe;
}

/* ---- what a span turns into (shared by all encoders) --------------------------------- */

enum { IP_NONE, IP_V4, IP_V6 };

/* An endpoint as Zipkin will store it. */
struct ep {
    const struct span_endpoint *e;
    const uint8_t *addr; /* 4 bytes (IP_V4) or 16 (IP_V6) inside e->ip */
    int ip;              /* IP_* */
};

/* A well-known tag's name (span_tag_name() gives no length) and its JSON form. */
struct tag_name {
    const char *name; /* NULL: no tag has this key */
    size_t len;
    char json[40];   /* the name as a JSON string, quotes included; set once JSON is known */
    size_t json_len; /* 0: too long for json[], so json_str() it */
};

/* A tag as the writers see it. */
struct tagref {
    const struct span_tag_kv *kv;
    const struct tag_name *tn; /* a well-known key below N_FAST_KEYS; NULL: see <name> */
    const char *name;          /* without <tn>: the custom name, or span_tag_name() */
    size_t name_len;
};

static inline const char *
tagref_name(const struct tagref *t, size_t *ret_len)
{
    if (t->tn != NULL) {
        *ret_len = t->tn->len;
        return t->tn->name;
    }
    *ret_len = t->name_len;
    return t->name;
}

/* A span with every Zipkin rule applied once, for the writers to follow. */
struct zspan {
    const struct span *s;
    struct ep local, remote;
    bool has_local;       /* v2: the endpoint has any of service, address, port */
    bool has_remote;      /* service or address (a port alone is not an endpoint) */
    bool has_time;        /* timestamp known: 1..INT64_MAX-1 */
    bool shared;          /* SERVER span with SPAN_F_SHARED */
    uint64_t duration_us; /* >= 1, timestamp + duration <= INT64_MAX; valid if has_time */
    uint64_t parent_id;   /* 0 when absent, or equal to the span id */
    unsigned n_tags;
    struct tagref tags[SPAN_MAX_TAGS]; /* surviving tags, in span order */
};

static bool
all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

static void
ep_classify(struct ep *ep, const struct span_endpoint *e)
{
    const uint8_t *ip = e->ip;

    ep->e = e;
    ep->ip = IP_NONE;
    ep->addr = NULL;
    if (!e->has_ip)
        return;
    if (!e->ipv6) {
        if (!all_zero(ip, 4)) {
            ep->ip = IP_V4;
            ep->addr = ip;
        }
        return;
    }
    if (all_zero(ip, 16))
        return; /* "::": unspecified, Zipkin's Thrift reader would make it 0.0.0.0 */
    /* ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, but not ::1): Zipkin's byte
     * reader turns the latter into IPv4, the spec prefers IPv4 for the former. */
    if (all_zero(ip, 10) && ((ip[10] == 0 && ip[11] == 0) || (ip[10] == 0xff && ip[11] == 0xff)) &&
        !(ip[10] == 0 && ip[12] == 0 && ip[13] == 0 && ip[14] == 0 && ip[15] == 1)) {
        if (!all_zero(ip + 12, 4)) {
            ep->ip = IP_V4;
            ep->addr = ip + 12;
        }
        return;
    }
    ep->ip = IP_V6;
    ep->addr = ip;
}

#define N_FAST_KEYS 64 /* keys below this have their names in tag_names[] */
static struct tag_name tag_names[N_FAST_KEYS];

/* Fills <out> with the tags of <s> that Zipkin keeps, in span order, and returns how many.
 * A key this build does not know is dropped (span.h). A repeated name keeps its last value,
 * as Zipkin's map does: scanning from the end, a tag is dropped when a later one has the
 * same name. Well-known keys are told apart by a bit each; names are compared only where a
 * custom tag (or a key beyond N_FAST_KEYS) is involved, which is rare. */
static unsigned
tags_resolve(const struct span *s, struct tagref *out)
{
    struct tagref rev[SPAN_MAX_TAGS]; /* survivors, last first */
    unsigned n = 0, n_slow = 0;
    uint64_t seen = 0;

    /* the common case: well-known keys only, none repeated */
    for (unsigned i = 0; i < s->n_tags; i++) {
        unsigned key = s->tags[i].key;

        if (key == 0 || key >= N_FAST_KEYS || tag_names[key].name == NULL || (seen >> key) & 1)
            goto general;
        seen |= 1ull << key;
        out[i].kv = &s->tags[i];
        out[i].tn = &tag_names[key];
    }
    return s->n_tags;

general:
    seen = 0;
    for (unsigned i = s->n_tags; i-- > 0;) {
        const struct span_tag_kv *kv = &s->tags[i];
        struct tagref t = {.kv = kv};
        bool fast = kv->key != 0 && kv->key < N_FAST_KEYS, dup = false;

        if (fast) {
            t.tn = &tag_names[kv->key];
            t.name = t.tn->name;
            t.name_len = t.tn->len;
        } else if (kv->key != 0) {
            t.name = span_tag_name(kv->key);
            t.name_len = t.name != NULL ? strlen(t.name) : 0;
        } else {
            t.name = kv->name;
            t.name_len = kv->name_len;
        }
        if (t.name == NULL)
            continue; /* a key from a newer encoder */
        if (fast) {
            dup = (seen >> kv->key) & 1;
            seen |= 1ull << kv->key;
        }
        /* a slow tag against every later survivor, a fast one against later slow ones */
        for (unsigned j = 0; j < n && !dup && (!fast || n_slow > 0); j++)
            if (!fast || rev[j].tn == NULL)
                dup = same_text(t.name, t.name_len, rev[j].name, rev[j].name_len);
        if (dup)
            continue;
        n_slow += !fast;
        rev[n++] = t;
    }
    for (unsigned i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    return n;
}

static void
zspan_init(struct zspan *z, const struct span *s)
{
    MESH_BUG_ON((s->trace_hi | s->trace_lo) == 0 || s->span_id == 0);
    MESH_BUG_ON(s->kind != SPAN_KIND_SERVER && s->kind != SPAN_KIND_CLIENT);
    MESH_BUG_ON(s->n_tags > SPAN_MAX_TAGS);

    z->s = s;
    ep_classify(&z->local, &s->local);
    ep_classify(&z->remote, &s->remote);
    z->has_local = s->local.service_len > 0 || z->local.ip != IP_NONE || s->local.port != 0;
    z->has_remote = s->remote.service_len > 0 || z->remote.ip != IP_NONE;
    /* below INT64_MAX, so that the end (v1 "ss"/"cr") is an int64 too */
    z->has_time = s->timestamp_us >= 1 && s->timestamp_us < TS_MAX;
    z->duration_us = 0;
    if (z->has_time) {
        z->duration_us = s->duration_us < 1 ? 1 : s->duration_us;
        if (z->duration_us > TS_MAX - s->timestamp_us)
            z->duration_us = TS_MAX - s->timestamp_us;
    }
    z->shared = s->kind == SPAN_KIND_SERVER && (s->flags & SPAN_F_SHARED);
    z->parent_id = s->parent_id != s->span_id ? s->parent_id : 0;

    z->n_tags = tags_resolve(s, z->tags);
}

/* The local endpoint of the previous span, as written: the spans of one batch nearly always
 * share it, so writers keep its bytes and copy them. <ep> points into a span of the current
 * call, so a cache lives for one call. */
struct epcache {
    struct wbuf text;
    const struct span_endpoint *ep; /* what <text> holds; NULL before the first span */
};

static void
epcache_init(struct epcache *c)
{
    wb_init(&c->text);
    c->ep = NULL;
}

static void
epcache_fini(struct epcache *c)
{
    wb_fini(&c->text);
}

static bool
ep_same(const struct span_endpoint *a, const struct span_endpoint *b)
{
    return a == b ||
           (a->service_len == b->service_len && a->port == b->port && a->has_ip == b->has_ip &&
            a->ipv6 == b->ipv6 && memcmp(a->ip, b->ip, sizeof(a->ip)) == 0 &&
            (a->service_len == 0 || memcmp(a->service, b->service, a->service_len) == 0));
}

/* True when <c> holds what <ep> is written as; otherwise empties <c> for the caller to write
 * <ep> into, and returns false. */
static bool
epcache_hit(struct epcache *c, const struct span_endpoint *ep)
{
    if (c->ep != NULL && ep_same(c->ep, ep))
        return true;
    wb_reset(&c->text);
    c->ep = ep;
    return false;
}

/* ---- text pieces --------------------------------------------------------------------- */

#define IPV4_TEXT_MAX 15
#define IPV6_TEXT_MAX 39

static char *
put_ipv4(char *p, const uint8_t *a)
{
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];

        if (i > 0)
            *p++ = '.';
        if (v >= 100) {
            *p++ = (char) ('0' + v / 100);
            v %= 100;
            memcpy(p, dec_pair(v), 2);
            p += 2;
        } else if (v >= 10) {
            memcpy(p, dec_pair(v), 2);
            p += 2;
        } else {
            *p++ = (char) ('0' + v);
        }
    }
    return p;
}

/* Zipkin's spelling (zipkin2.Endpoint.writeIpV6), which its decoder imposes on whatever text
 * it gets: the first longest run of zero groups, even a single group, becomes "::"; a run
 * that ends the address is only used when no run ends before a non-zero group. So
 * 2001:db8:0:1:1:1:1:1 is "2001:db8::1:1:1:1:1" and 2001:0:0:4:0:0:0:0 is
 * "2001::4:0:0:0:0". Both are valid RFC 4291 text for the same address. <a> is not "::". */
static char *
put_ipv6(char *p, const uint8_t *a)
{
    int best = -1, best_len = -1, run = -1, i = 0;

    for (int g = 0; g < 8; g++) {
        if (a[(size_t) g * 2] == 0 && a[(size_t) g * 2 + 1] == 0) {
            if (run < 0)
                run = g;
            continue;
        }
        if (run >= 0) {
            if (g - run > best_len) {
                best = run;
                best_len = g - run;
            }
            run = -1;
        }
    }
    if (best < 0 && run >= 0) {
        best = run;
        best_len = 8 - run;
    }
    while (i < 8) {
        unsigned v;
        int shift;

        if (i == best) {
            *p++ = ':';
            i += best_len;
            if (i == 8)
                *p++ = ':';
            continue;
        }
        if (i != 0)
            *p++ = ':';
        v = (unsigned) a[(size_t) i * 2] << 8 | a[(size_t) i * 2 + 1];
        for (shift = 12; shift > 0 && (v >> shift) == 0; shift -= 4)
            ;
        for (; shift >= 0; shift -= 4)
            *p++ = hexdig[(v >> shift) & 0xf];
        i++;
    }
    return p;
}

/* ---- eight bytes at a time ----------------------------------------------------------- */

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t
load8(const unsigned char *in)
{
    uint64_t x;

    memcpy(&x, in, 8);
    return x;
}

/* The 0 < <len> < 8 bytes at <in>, padded with <pad> bytes up to eight, without a libc call
 * for the variable length: two overlapping 4-byte loads when there are 4 or more. */
static inline uint64_t
load_tail(const unsigned char *in, size_t len, unsigned char pad)
{
    uint64_t x = ONES * pad, keep;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len >= 4) {
        uint32_t lo, hi;

        memcpy(&lo, in, 4);
        memcpy(&hi, in + len - 4, 4);
        keep = (1ull << (8 * len)) - 1;
        return (((uint64_t) lo | (uint64_t) hi << (8 * (len - 4))) & keep) | (x & ~keep);
    }
    for (size_t i = 0; i < len; i++)
        x = (x & ~(0xffull << (8 * i))) | (uint64_t) in[i] << (8 * i);
    (void) keep;
#else
    (void) keep;
    memcpy(&x, in, len);
#endif
    return x;
}

/* Non-zero when a byte of <x> is zero (exact as a truth value). */
static inline uint64_t
swar_has_zero(uint64_t x)
{
    return (x - ONES) & ~x & HIGHS;
}

/* Non-zero when a byte of <x> cannot be copied into a JSON string as is: below 0x20, '"',
 * '\\', DEL, or 0x80 and above. */
static inline uint64_t
swar_json_special(uint64_t x)
{
    /* x + 1 sets the high bit of 0x7f; a carry out of 0xff only follows a byte that is
     * flagged already */
    return ((x | (x + ONES)) & HIGHS) | ((x - ONES * 0x20) & ~x & HIGHS) |
           swar_has_zero(x ^ (ONES * '"')) | swar_has_zero(x ^ (ONES * '\\'));
}

/* ASCII A-Z to a-z in eight bytes that are all below 0x80 (so no carry crosses a byte). */
static inline uint64_t
swar_lower(uint64_t x)
{
    uint64_t ge_a = x + ONES * (0x80 - 'A'), gt_z = x + ONES * (0x80 - 'Z' - 1);

    return x | ((ge_a & ~gt_z & HIGHS) >> 2);
}

/* ---- JSON strings -------------------------------------------------------------------- */

#define JS_LOWER (1u << 0) /* ASCII A-Z to a-z: names and service names */
#define JS_V2    (1u << 1) /* guard against `yAnnotations"` (a v2 body would read as v1) */
#define JS_V1    (1u << 2) /* guard against `Endpoint"` and `"tags"` (v1 read as v2) */

/* Worst case output of json_str() for <len> input bytes: 6 bytes for each (\u0001), the
 * quotes, and the 5 more of a sniffing guard. The padded tail store needs 8 bytes of room
 * with at least one input byte left, which 6 * left + 7 always leaves. */
#define JSON_STR_MAX(len) ((len) *6 + 8)

/* One character that the eight-byte path could not take, at *pin: copied (lower-cased with
 * JS_LOWER), escaped, or repaired. Out of line, so that json_str() stays a small leaf. */
static char *__attribute__((noinline))
json_char(char *p, const unsigned char **pin, const unsigned char *end, unsigned mode)
{
    const unsigned char *in = *pin;
    unsigned char c = *in;

    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
        *p++ = (char) ((mode & JS_LOWER) && c >= 'A' && c <= 'Z' ? c + 32 : c);
        *pin = in + 1;
        return p;
    }
    if (c >= 0x80) {
        *pin = utf8_copy(in, end, &p, true);
        return p;
    }
    *pin = in + 1;
    *p++ = '\\';
    switch (c) {
    case '"':
    case '\\':
        *p++ = (char) c;
        break;
    case '\b':
        *p++ = 'b';
        break;
    case '\f':
        *p++ = 'f';
        break;
    case '\n':
        *p++ = 'n';
        break;
    case '\r':
        *p++ = 'r';
        break;
    case '\t':
        *p++ = 't';
        break;
    default:
        PUT_LIT(p, "u00");
        *p++ = hexdig[c >> 4];
        *p++ = hexdig[c & 0xf];
        break;
    }
    return p;
}

/* Zipkin picks a decoder by searching the raw body: a v2 body holding `yAnnotations"` is
 * refused as v1, a v1 body holding `Endpoint"` or `"tags"` as v2. If the string between
 * <start> and <p> would complete such a pattern (JS_V2, JS_V1: the version being written),
 * one letter of it becomes a \u escape: same text, no pattern. Only literal letters can
 * form these (an escape starts with '\\'), so rewriting one is safe. Returns the new end;
 * needs 5 bytes of room past <p>. */
static char *__attribute__((noinline)) json_guard(char *start, char *p, unsigned mode)
{
    if ((mode & JS_V2) && p - start >= 12 && memcmp(p - 12, "yAnnotations", 12) == 0) {
        p--;
        PUT_LIT(p, "\\u0073"); /* s */
    } else if ((mode & JS_V1) && p - start >= 8 && memcmp(p - 8, "Endpoint", 8) == 0) {
        p--;
        PUT_LIT(p, "\\u0074"); /* t */
    } else if ((mode & JS_V1) && p - start == 4 && memcmp(start, "tags", 4) == 0) {
        p = start;
        PUT_LIT(p, "\\u0074ags");
    }
    return p;
}

/* Writes <s> as a JSON string literal, quotes included. Room: JSON_STR_MAX(len).
 * Runs of plain ASCII go eight bytes at a time; a tail shorter than eight is padded with
 * 'a' and stored whole (the room allows it), then only its length counts. */
static inline __attribute__((always_inline)) char *
json_str(char *p, const char *s, size_t len, unsigned mode)
{
    const unsigned char *in = (const unsigned char *) s, *end = len > 0 ? in + len : in;
    char *start;

    *p++ = '"';
    start = p;
    while (in < end) {
        for (; end - in >= 8; in += 8, p += 8) {
            uint64_t x = load8(in);

            if (swar_json_special(x))
                break;
            if (mode & JS_LOWER)
                x = swar_lower(x);
            memcpy(p, &x, 8);
        }
        if (end - in < 8) {
            size_t rem = (size_t) (end - in);
            uint64_t x = load_tail(in, rem, 'a');

            if (!swar_json_special(x)) {
                if (mode & JS_LOWER)
                    x = swar_lower(x);
                memcpy(p, &x, 8);
                p += rem;
                break;
            }
        }
        p = json_char(p, &in, end, mode);
    }
    if (p != start && (p[-1] == 's' || p[-1] == 't') && (mode & (JS_V1 | JS_V2)))
        p = json_guard(start, p, mode);
    *p++ = '"';
    return p;
}

/* tag_names[]: the name of each well-known key and its JSON form, used by both versions (no
 * sniffing guard applies to these names, and an escape would be valid JSON in either). */
static void __attribute__((constructor)) tag_names_init(void)
{
    char tmp[JSON_STR_MAX(64)];

    for (unsigned k = 1; k < N_FAST_KEYS; k++) {
        struct tag_name *tn = &tag_names[k];
        size_t len;

        tn->name = span_tag_name(k);
        if (tn->name == NULL)
            continue;
        tn->len = strlen(tn->name);
        if (tn->len > 64)
            continue;
        len = (size_t) (json_str(tmp, tn->name, tn->len, JS_V1 | JS_V2) - tmp);
        if (len <= sizeof(tn->json)) {
            memcpy(tn->json, tmp, len);
            tn->json_len = len;
        }
    }
}

static void
wb_json_str(struct wbuf *w, const char *s, size_t len, unsigned mode)
{
    wb_need(w, JSON_STR_MAX(len));
    w->p = json_str(w->p, s, len, mode);
}

/* A tag name as a JSON string. Room: the larger of sizeof(tag_names[0].json) and
 * JSON_STR_MAX(name_len). A well-known name is copied from tag_names[] whole, a fixed size
 * (cheaper than memcpy of a variable length), then only its length kept. */
static inline char *
put_json_tag_name(char *p, const struct tagref *t, unsigned mode)
{
    const char *name;
    size_t len;

    if (t->tn != NULL && t->tn->json_len > 0) {
        memcpy(p, t->tn->json, sizeof(t->tn->json));
        return p + t->tn->json_len;
    }
    name = tagref_name(t, &len);
    return json_str(p, name, len, mode);
}

/* A tag value: its string, or its number in decimal. Room: JSON_STR_MAX(value_len), or 22. */
static inline char *
put_json_tag_value(char *p, const struct span_tag_kv *kv, unsigned mode)
{
    if (kv->is_num) {
        *p++ = '"';
        p = put_u64(p, kv->num);
        *p++ = '"';
        return p;
    }
    return json_str(p, kv->value, kv->value_len, mode);
}

static void
wb_json_tag_name(struct wbuf *w, const struct tagref *t, unsigned mode)
{
    size_t len;

    (void) tagref_name(t, &len);
    wb_need(w, MESH_MAX(sizeof(tag_names[0].json), JSON_STR_MAX(len)));
    w->p = put_json_tag_name(w->p, t, mode);
}

static void
wb_json_tag_value(struct wbuf *w, const struct span_tag_kv *kv, unsigned mode)
{
    wb_need(w, kv->is_num ? 22 : JSON_STR_MAX(kv->value_len));
    w->p = put_json_tag_value(w->p, kv, mode);
}

/* ---- JSON v2 ------------------------------------------------------------------------- */

/* Room put_json_endpoint() needs for a service name of <len> bytes. */
#define JSON_EP_MAX(len) (14 + JSON_STR_MAX(len) + 1 + 8 + IPV6_TEXT_MAX + 1 + 1 + 7 + 5)

/* The members of endpoint <ep>, no braces. <v1> writes serviceName even when empty (the v1
 * model requires it). Room: JSON_EP_MAX(service_len). */
static char *
put_json_endpoint(char *p, const struct ep *ep, bool v1, unsigned mode)
{
    const struct span_endpoint *e = ep->e;
    bool first = true;

    if (e->service_len > 0 || v1) {
        PUT_LIT(p, "\"serviceName\":");
        p = json_str(p, e->service, e->service_len, mode | JS_LOWER);
        first = false;
    }
    if (ep->ip != IP_NONE) {
        if (!first)
            *p++ = ',';
        if (ep->ip == IP_V4) {
            PUT_LIT(p, "\"ipv4\":\"");
            p = put_ipv4(p, ep->addr);
        } else {
            PUT_LIT(p, "\"ipv6\":\"");
            p = put_ipv6(p, ep->addr);
        }
        *p++ = '"';
        first = false;
    }
    if (e->port != 0) {
        if (!first)
            *p++ = ',';
        PUT_LIT(p, "\"port\":");
        p = put_u64(p, e->port);
    }
    return p;
}

static void
json_endpoint(struct wbuf *w, const struct ep *ep, bool v1, unsigned mode)
{
    wb_need(w, JSON_EP_MAX(ep->e->service_len));
    w->p = put_json_endpoint(w->p, ep, v1, mode);
}

/* ids, as both JSON versions start: {"traceId":"..."[,"parentId":"..."],"id":"..." */
#define JSON_IDS_MAX (12 + 32 + 14 + 16 + 8 + 16 + 1)

static char *
put_json_ids(char *p, const struct span *s, uint64_t parent_id)
{
    PUT_LIT(p, "{\"traceId\":\"");
    if (s->trace_hi != 0)
        p = put_hex64(p, s->trace_hi);
    p = put_hex64(p, s->trace_lo);
    if (parent_id != 0) {
        PUT_LIT(p, "\",\"parentId\":\"");
        p = put_hex64(p, parent_id);
    }
    PUT_LIT(p, "\",\"id\":\"");
    p = put_hex64(p, s->span_id);
    *p++ = '"';
    return p;
}

/* ,"timestamp":N,"duration":N */
#define JSON_TIMES_MAX (13 + 20 + 12 + 20)

static char *
put_json_times(char *p, const struct zspan *z)
{
    PUT_LIT(p, ",\"timestamp\":");
    p = put_u64(p, z->s->timestamp_us);
    PUT_LIT(p, ",\"duration\":");
    return put_u64(p, z->duration_us);
}

/* Everything json_v2_span() writes for <z> but the local endpoint's cached text. */
static size_t
json_v2_max(const struct zspan *z)
{
    const struct span *s = z->s;
    size_t n = JSON_IDS_MAX + 16 + 8 + JSON_STR_MAX(s->name_len) + JSON_TIMES_MAX + 19 +
               JSON_EP_MAX(s->remote.service_len) + 1 + 9 + 1 + 13 + 14 + 1;

    for (unsigned i = 0; i < z->n_tags; i++) {
        const struct tagref *t = &z->tags[i];
        size_t len;

        (void) tagref_name(t, &len);
        n += 2 + MESH_MAX(sizeof(tag_names[0].json), JSON_STR_MAX(len));
        n += t->kv->is_num ? 22 : JSON_STR_MAX(t->kv->value_len);
    }
    return n;
}

/* <lc>: the local endpoint's text, kept across the spans of one call. One reservation for
 * the whole span, then writes with no checks. */
static void
json_v2_span(struct wbuf *w, struct epcache *lc, const struct span *s)
{
    struct zspan z;
    char *p;

    zspan_init(&z, s);
    if (z.has_local && !epcache_hit(lc, &s->local)) {
        WB_LIT(&lc->text, ",\"localEndpoint\":{");
        json_endpoint(&lc->text, &z.local, false, JS_V2);
        wb_putc(&lc->text, '}');
    }
    wb_need(w, json_v2_max(&z) + (z.has_local ? wb_len(&lc->text) : 0));
    p = put_json_ids(w->p, s, z.parent_id);
    if (s->kind == SPAN_KIND_SERVER)
        PUT_LIT(p, ",\"kind\":\"SERVER\"");
    else
        PUT_LIT(p, ",\"kind\":\"CLIENT\"");
    if (s->name_len > 0) {
        PUT_LIT(p, ",\"name\":");
        p = json_str(p, s->name, s->name_len, JS_LOWER | JS_V2);
    }
    if (z.has_time)
        p = put_json_times(p, &z);
    if (z.has_local) {
        memcpy(p, lc->text.base, wb_len(&lc->text));
        p += wb_len(&lc->text);
    }
    if (z.has_remote) {
        PUT_LIT(p, ",\"remoteEndpoint\":{");
        p = put_json_endpoint(p, &z.remote, false, JS_V2);
        *p++ = '}';
    }
    for (unsigned i = 0; i < z.n_tags; i++) {
        if (i == 0)
            PUT_LIT(p, ",\"tags\":{");
        else
            *p++ = ',';
        p = put_json_tag_name(p, &z.tags[i], JS_V2);
        *p++ = ':';
        p = put_json_tag_value(p, z.tags[i].kv, JS_V2);
    }
    if (z.n_tags > 0)
        *p++ = '}';
    if (s->flags & SPAN_F_DEBUG)
        PUT_LIT(p, ",\"debug\":true");
    if (z.shared)
        PUT_LIT(p, ",\"shared\":true");
    *p++ = '}';
    w->p = p;
}

void
zipkin_json_v2_span(struct strbuf *out, const struct span *s)
{
    struct epcache lc;
    struct wbuf w;

    wb_open(&w, out);
    epcache_init(&lc);
    json_v2_span(&w, &lc, s);
    wb_close(&w);
    epcache_fini(&lc);
}

void
zipkin_json_v2_list(struct strbuf *out, const struct span *const *spans, size_t n)
{
    struct epcache lc;
    struct wbuf w;

    wb_open(&w, out);
    epcache_init(&lc);
    wb_putc(&w, '[');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            wb_putc(&w, ',');
        json_v2_span(&w, &lc, spans[i]);
    }
    wb_putc(&w, ']');
    wb_close(&w);
    epcache_fini(&lc);
}

/* ---- JSON v1 ------------------------------------------------------------------------- */

static void
json_v1_endpoint(struct wbuf *w, const struct ep *ep)
{
    wb_putc(w, '{');
    json_endpoint(w, ep, true, JS_V1);
    wb_putc(w, '}');
}

/* {"timestamp":N,"value":"sr","endpoint":{...}}, <value> 2 letters, <ep> the endpoint text */
static void
json_v1_annotation(struct wbuf *w, uint64_t ts, const char *value, const struct wbuf *ep)
{
    char *p;

    wb_need(w, 13 + 20 + 10 + 2 + 13);
    p = w->p;
    PUT_LIT(p, "{\"timestamp\":");
    p = put_u64(p, ts);
    PUT_LIT(p, ",\"value\":\"");
    *p++ = value[0];
    *p++ = value[1];
    PUT_LIT(p, "\",\"endpoint\":");
    w->p = p;
    wb_copy(w, ep);
    wb_putc(w, '}');
}

/* <lc>: the local endpoint's text, kept across the spans of one call. */
static void
json_v1_span(struct wbuf *w, struct epcache *lc, const struct span *s)
{
    bool server = s->kind == SPAN_KIND_SERVER;
    const struct wbuf *epw = &lc->text;
    struct zspan z;

    zspan_init(&z, s);
    if (!epcache_hit(lc, &s->local))
        json_v1_endpoint(&lc->text, &z.local);

    wb_need(w, JSON_IDS_MAX + 8);
    w->p = put_json_ids(w->p, s, z.parent_id);
    PUT_LIT(w->p, ",\"name\":"); /* required in v1, so written even when empty */
    wb_json_str(w, s->name, s->name_len, JS_LOWER | JS_V1);
    /* v1 marks a shared span by leaving out the span-level timing */
    if (z.has_time && !z.shared) {
        wb_need(w, JSON_TIMES_MAX);
        w->p = put_json_times(w->p, &z);
    }
    WB_LIT(w, ",\"annotations\":[");
    if (z.has_time) {
        json_v1_annotation(w, z.s->timestamp_us, server ? "sr" : "cs", epw);
        wb_putc(w, ',');
        json_v1_annotation(w, z.s->timestamp_us + z.duration_us, server ? "ss" : "cr", epw);
    }
    WB_LIT(w, "],\"binaryAnnotations\":[");
    for (unsigned i = 0; i < z.n_tags; i++) {
        if (i > 0)
            wb_putc(w, ',');
        WB_LIT(w, "{\"key\":");
        wb_json_tag_name(w, &z.tags[i], JS_V1);
        WB_LIT(w, ",\"value\":");
        wb_json_tag_value(w, z.tags[i].kv, JS_V1);
        WB_LIT(w, ",\"endpoint\":");
        wb_copy(w, epw);
        wb_putc(w, '}');
    }
    if (z.has_remote) {
        /* an address annotation: true, with the peer as endpoint */
        if (z.n_tags > 0)
            wb_putc(w, ',');
        if (server)
            WB_LIT(w, "{\"key\":\"ca\",\"value\":true,\"endpoint\":");
        else
            WB_LIT(w, "{\"key\":\"sa\",\"value\":true,\"endpoint\":");
        json_v1_endpoint(w, &z.remote);
        wb_putc(w, '}');
    }
    if (!z.has_time && z.n_tags == 0 && !z.has_remote) {
        /* Nothing would carry the local endpoint. Zipkin's own v1 writer adds an empty "lc"
         * (local component) for this; its reader drops the tag but keeps the endpoint. */
        WB_LIT(w, "{\"key\":\"lc\",\"value\":\"\",\"endpoint\":");
        wb_copy(w, epw);
        wb_putc(w, '}');
    }
    wb_putc(w, ']');
    if (s->flags & SPAN_F_DEBUG)
        WB_LIT(w, ",\"debug\":true");
    wb_putc(w, '}');
}

void
zipkin_json_v1_list(struct strbuf *out, const struct span *const *spans, size_t n)
{
    struct epcache lc;
    struct wbuf w;

    wb_open(&w, out);
    epcache_init(&lc);
    wb_putc(&w, '[');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            wb_putc(&w, ',');
        json_v1_span(&w, &lc, spans[i]);
    }
    wb_putc(&w, ']');
    wb_close(&w);
    epcache_fini(&lc);
}

/* ---- Thrift v1 (TBinaryProtocol) ----------------------------------------------------- */

static inline char *
t_field(char *p, int type, int id)
{
    *p++ = (char) type;
    return put_be16(p, (uint16_t) id);
}

/* A Thrift string: i32 length, then <s> made valid UTF-8 (and lower-cased with <lower>). */
static void
wb_t_str(struct wbuf *w, const char *s, size_t len, bool lower)
{
    const unsigned char *in = (const unsigned char *) s, *end = len > 0 ? in + len : in;
    char *lenp, *p;

    wb_need(w, 4 + 3 * len + 8); /* + 8: the padded tail store, as in json_str() */
    lenp = w->p;
    p = lenp + 4;
    while (in < end) {
        unsigned char c;

        for (; end - in >= 8; in += 8, p += 8) {
            uint64_t x = load8(in);

            if (x & HIGHS)
                break;
            if (lower)
                x = swar_lower(x);
            memcpy(p, &x, 8);
        }
        if (end - in < 8) {
            size_t rem = (size_t) (end - in);
            uint64_t x = load_tail(in, rem, 'a');

            if (!(x & HIGHS)) {
                if (lower)
                    x = swar_lower(x);
                memcpy(p, &x, 8);
                p += rem;
                break;
            }
        }
        c = *in;
        if (likely(c < 0x80)) {
            *p++ = (char) (lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
            in++;
        } else {
            in = utf8_copy(in, end, &p, false);
        }
    }
    (void) put_be32(lenp, (uint32_t) (p - lenp - 4));
    w->p = p;
}

/* The fields of an Endpoint struct, STOP included (the caller wrote the field header). */
static void
thrift_endpoint(struct wbuf *w, const struct ep *ep)
{
    const struct span_endpoint *e = ep->e;
    uint32_t v4 = 0;
    char *p;

    if (ep->ip == IP_V4)
        v4 = (uint32_t) ep->addr[0] << 24 | (uint32_t) ep->addr[1] << 16 |
             (uint32_t) ep->addr[2] << 8 | ep->addr[3];
    wb_need(w, 16);
    p = w->p;
    p = t_field(p, TT_I32, 1); /* ipv4: 0 when none */
    p = put_be32(p, v4);
    p = t_field(p, TT_I16, 2); /* port, read back unsigned */
    p = put_be16(p, e->port);
    p = t_field(p, TT_STRING, 3); /* service_name, "" when unknown */
    w->p = p;
    wb_t_str(w, e->service, e->service_len, true);
    wb_need(w, 24);
    p = w->p;
    if (ep->ip == IP_V6) {
        p = t_field(p, TT_STRING, 4);
        p = put_be32(p, 16);
        memcpy(p, ep->addr, 16);
        p += 16;
    }
    *p++ = TT_STOP;
    w->p = p;
}

static void
thrift_annotation(struct wbuf *w, uint64_t ts, const char *value, const struct wbuf *ep)
{
    char *p;

    wb_need(w, 32);
    p = w->p;
    p = t_field(p, TT_I64, 1);
    p = put_be64(p, ts);
    p = t_field(p, TT_STRING, 2);
    p = put_be32(p, 2);
    *p++ = value[0];
    *p++ = value[1];
    p = t_field(p, TT_STRUCT, 3);
    w->p = p;
    wb_copy(w, ep);
    wb_need(w, 1);
    *w->p++ = TT_STOP;
}

/* A BinaryAnnotation of type STRING (a tag; a number goes in decimal) with host <ep>. */
static void
thrift_tag(struct wbuf *w, const struct tagref *t, const struct wbuf *ep)
{
    const struct span_tag_kv *kv = t->kv;
    const char *name;
    size_t name_len;
    char *p;

    wb_need(w, 3);
    w->p = t_field(w->p, TT_STRING, 1);
    name = tagref_name(t, &name_len);
    wb_t_str(w, name, name_len, false);
    wb_need(w, 32);
    w->p = t_field(w->p, TT_STRING, 2);
    if (kv->is_num) {
        char *lenp = w->p;

        p = put_u64(lenp + 4, kv->num);
        (void) put_be32(lenp, (uint32_t) (p - lenp - 4));
        w->p = p;
    } else {
        wb_t_str(w, kv->value, kv->value_len, false);
    }
    wb_need(w, 16);
    p = w->p;
    p = t_field(p, TT_I32, 3);
    p = put_be32(p, ANNOTATION_TYPE_STRING);
    p = t_field(p, TT_STRUCT, 4);
    w->p = p;
    wb_copy(w, ep);
    wb_need(w, 1);
    *w->p++ = TT_STOP;
}

/* <lc>: the local Endpoint's bytes, kept across the spans of one call. */
static void
thrift_span(struct wbuf *w, struct epcache *lc, const struct span *s)
{
    const struct wbuf *epw = &lc->text;
    bool server = s->kind == SPAN_KIND_SERVER;
    bool add_lc = false;
    unsigned n_bin;
    struct zspan z;
    char *p;

    zspan_init(&z, s);
    if (!epcache_hit(lc, &s->local))
        thrift_endpoint(&lc->text, &z.local);

    wb_need(w, 16);
    p = w->p;
    p = t_field(p, TT_I64, 1);
    p = put_be64(p, s->trace_lo);
    p = t_field(p, TT_STRING, 3);
    w->p = p;
    wb_t_str(w, s->name, s->name_len, true);
    wb_need(w, 40);
    p = w->p;
    p = t_field(p, TT_I64, 4);
    p = put_be64(p, s->span_id);
    if (z.parent_id != 0) {
        p = t_field(p, TT_I64, 5);
        p = put_be64(p, z.parent_id);
    }
    p = t_field(p, TT_LIST, 6);
    *p++ = TT_STRUCT;
    p = put_be32(p, z.has_time ? 2 : 0);
    w->p = p;
    if (z.has_time) {
        thrift_annotation(w, s->timestamp_us, server ? "sr" : "cs", epw);
        thrift_annotation(w, s->timestamp_us + z.duration_us, server ? "ss" : "cr", epw);
    }
    n_bin = z.n_tags + z.has_remote;
    if (n_bin == 0 && !z.has_time) {
        add_lc = true; /* see json_v1_span() */
        n_bin = 1;
    }
    wb_need(w, 8);
    p = w->p;
    p = t_field(p, TT_LIST, 8);
    *p++ = TT_STRUCT;
    p = put_be32(p, n_bin);
    w->p = p;
    for (unsigned i = 0; i < z.n_tags; i++)
        thrift_tag(w, &z.tags[i], epw);
    if (z.has_remote) {
        /* an address annotation: BOOL true, host = the peer ("ca" client, "sa" server) */
        wb_need(w, 32);
        p = w->p;
        p = t_field(p, TT_STRING, 1);
        p = put_be32(p, 2);
        *p++ = server ? 'c' : 's'; /* "ca" or "sa" */
        *p++ = 'a';
        p = t_field(p, TT_STRING, 2);
        p = put_be32(p, 1);
        *p++ = 1;
        p = t_field(p, TT_I32, 3);
        p = put_be32(p, ANNOTATION_TYPE_BOOL);
        p = t_field(p, TT_STRUCT, 4);
        w->p = p;
        thrift_endpoint(w, &z.remote);
        wb_need(w, 1);
        *w->p++ = TT_STOP;
    }
    if (add_lc) {
        static const struct span_tag_kv lc_kv = {.value = "", .value_len = 0};
        static const struct tagref lc_tag = {.name = "lc", .name_len = 2, .kv = &lc_kv};

        thrift_tag(w, &lc_tag, epw);
    }
    wb_need(w, 48);
    p = w->p;
    if (s->flags & SPAN_F_DEBUG) {
        p = t_field(p, TT_BOOL, 9);
        *p++ = 1;
    }
    if (z.has_time && !z.shared) {
        p = t_field(p, TT_I64, 10);
        p = put_be64(p, s->timestamp_us);
        p = t_field(p, TT_I64, 11);
        p = put_be64(p, z.duration_us);
    }
    if (s->trace_hi != 0) {
        p = t_field(p, TT_I64, 12);
        p = put_be64(p, s->trace_hi);
    }
    *p++ = TT_STOP;
    w->p = p;
}

void
zipkin_thrift_v1_span(struct strbuf *out, const struct span *s)
{
    struct epcache lc;
    struct wbuf w;

    wb_open(&w, out);
    epcache_init(&lc);
    thrift_span(&w, &lc, s);
    wb_close(&w);
    epcache_fini(&lc);
}

void
zipkin_thrift_v1_list(struct strbuf *out, const struct span *const *spans, size_t n)
{
    struct epcache lc;
    struct wbuf w;

    MESH_BUG_ON(n > INT32_MAX);
    wb_open(&w, out);
    epcache_init(&lc);
    *w.p++ = TT_STRUCT;
    w.p = put_be32(w.p, (uint32_t) n);
    for (size_t i = 0; i < n; i++) {
        thrift_span(&w, &lc, spans[i]);
    }
    wb_close(&w);
    epcache_fini(&lc);
}

/* ---- Scribe -------------------------------------------------------------------------- */

static const char b64[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char b64_pairs[4096][2]; /* the two digits of each 12-bit value */

static void __attribute__((constructor)) b64_pairs_init(void)
{
    for (unsigned v = 0; v < 4096; v++) {
        b64_pairs[v][0] = b64[v >> 6];
        b64_pairs[v][1] = b64[v & 63];
    }
}

/* Standard base64 with padding, no line breaks (what zipkin-reporter sends). */
static char *
put_base64(char *p, const unsigned char *in, size_t len)
{
    size_t i = 0;

    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];

        memcpy(p, b64_pairs[v >> 12], 2);
        memcpy(p + 2, b64_pairs[v & 0xfff], 2);
        p += 4;
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t) in[i] << 16;

        *p++ = b64[v >> 18];
        *p++ = b64[(v >> 12) & 63];
        *p++ = '=';
        *p++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;

        *p++ = b64[v >> 18];
        *p++ = b64[(v >> 12) & 63];
        *p++ = b64[(v >> 6) & 63];
        *p++ = '=';
    }
    return p;
}

void
scribe_log_call(struct strbuf *out, int32_t seqid, const struct span *const *spans, size_t n)
{
    struct epcache lc;
    struct wbuf w, t;
    char *p;

    MESH_BUG_ON(n > INT32_MAX);
    wb_open(&w, out);
    wb_init(&t);
    epcache_init(&lc);
    p = w.p;
    p += 4; /* frame length, written last */
    p = put_be32(p, TMSG_VERSION_1 | TMSG_CALL);
    p = put_be32(p, 3);
    PUT_LIT(p, "Log");
    p = put_be32(p, (uint32_t) seqid);
    p = t_field(p, TT_LIST, 1); /* messages */
    *p++ = TT_STRUCT;
    p = put_be32(p, (uint32_t) n);
    w.p = p;
    for (size_t i = 0; i < n; i++) {
        size_t b64_len;

        wb_reset(&t);
        thrift_span(&t, &lc, spans[i]);
        b64_len = (wb_len(&t) + 2) / 3 * 4;
        wb_need(&w, 32 + b64_len);
        p = w.p;
        p = t_field(p, TT_STRING, 1);
        p = put_be32(p, 6);
        PUT_LIT(p, "zipkin");
        p = t_field(p, TT_STRING, 2);
        p = put_be32(p, (uint32_t) b64_len);
        p = put_base64(p, (const unsigned char *) t.base, wb_len(&t));
        *p++ = TT_STOP; /* LogEntry */
        w.p = p;
    }
    wb_need(&w, 1);
    *w.p++ = TT_STOP; /* Log_args */
    MESH_BUG_ON(wb_len(&w) - 4 > INT32_MAX);
    (void) put_be32(w.base, (uint32_t) (wb_len(&w) - 4));
    wb_close(&w);
    wb_fini(&t);
    epcache_fini(&lc);
}

/* ---- Scribe reply -------------------------------------------------------------------- */

/* A bounds-checked reader over the bytes of one frame that may not all be there yet. */
struct rd {
    const uint8_t *p, *end;
};

static int
rd_take(struct rd *r, size_t n, const uint8_t **ret)
{
    if ((size_t) (r->end - r->p) < n)
        return -EAGAIN;
    *ret = r->p;
    r->p += n;
    return 0;
}

static int
rd_be(struct rd *r, size_t n, uint32_t *ret)
{
    const uint8_t *b;
    uint32_t v = 0;

    if (rd_take(r, n, &b) < 0)
        return -EAGAIN;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | b[i];
    *ret = v;
    return 0;
}

/* Skips a value of Thrift type <type>: work bounded by the input, nesting by <depth>. */
static int
rd_skip(struct rd *r, unsigned type, unsigned depth) /* NOLINT(misc-no-recursion): depth-bounded */
{
    const uint8_t *b;
    uint32_t v, ft, kt, vt, n;
    int rc;

    if (depth > THRIFT_MAX_DEPTH)
        return -EBADMSG;
    switch (type) {
    case TT_BOOL:
    case TT_BYTE:
        return rd_take(r, 1, &b);
    case TT_I16:
        return rd_take(r, 2, &b);
    case TT_I32:
        return rd_take(r, 4, &b);
    case TT_I64:
    case TT_DOUBLE:
        return rd_take(r, 8, &b);
    case TT_STRING:
        if ((rc = rd_be(r, 4, &v)) < 0)
            return rc;
        if (v > INT32_MAX)
            return -EBADMSG;
        return rd_take(r, v, &b);
    case TT_STRUCT:
        for (;;) {
            if ((rc = rd_be(r, 1, &ft)) < 0)
                return rc;
            if (ft == TT_STOP)
                return 0;
            if ((rc = rd_take(r, 2, &b)) < 0 || (rc = rd_skip(r, ft, depth + 1)) < 0)
                return rc;
        }
    case TT_MAP:
        if ((rc = rd_be(r, 1, &kt)) < 0 || (rc = rd_be(r, 1, &vt)) < 0 ||
            (rc = rd_be(r, 4, &n)) < 0)
            return rc;
        if (n > INT32_MAX)
            return -EBADMSG;
        for (uint32_t i = 0; i < n; i++)
            if ((rc = rd_skip(r, kt, depth + 1)) < 0 || (rc = rd_skip(r, vt, depth + 1)) < 0)
                return rc;
        return 0;
    case TT_SET:
    case TT_LIST:
        if ((rc = rd_be(r, 1, &vt)) < 0 || (rc = rd_be(r, 4, &n)) < 0)
            return rc;
        if (n > INT32_MAX)
            return -EBADMSG;
        for (uint32_t i = 0; i < n; i++)
            if ((rc = rd_skip(r, vt, depth + 1)) < 0)
                return rc;
        return 0;
    default:
        return -EBADMSG;
    }
}

/* Parses the message in <r>: 0 and the result, -EAGAIN when it ran out of bytes (the
 * caller decides whether more can come), or -EBADMSG. */
static int
parse_log_reply(struct rd *r, int32_t *ret_seqid, uint32_t *ret_code)
{
    const uint8_t *name;
    uint32_t v, type, seqid, ft, fid, code = 0;
    bool have_code = false;
    int rc;

    if ((rc = rd_be(r, 4, &v)) < 0)
        return rc;
    if (v & 0x80000000u) { /* strict: version | type, name, seqid */
        if ((v & 0xffff0000u) != TMSG_VERSION_1)
            return -EBADMSG;
        type = v & 0xff;
        if ((rc = rd_be(r, 4, &v)) < 0)
            return rc;
        if (v != 3)
            return -EBADMSG;
        if ((rc = rd_take(r, 3, &name)) < 0)
            return rc;
    } else { /* old: name, type byte, seqid */
        if (v != 3)
            return -EBADMSG;
        if ((rc = rd_take(r, 3, &name)) < 0 || (rc = rd_be(r, 1, &type)) < 0)
            return rc;
    }
    if (memcmp(name, "Log", 3) != 0 || type != TMSG_REPLY)
        return -EBADMSG; /* another method, an EXCEPTION (3: TApplicationException), a CALL */
    if ((rc = rd_be(r, 4, &seqid)) < 0)
        return rc;
    for (;;) { /* Log_result */
        if ((rc = rd_be(r, 1, &ft)) < 0)
            return rc;
        if (ft == TT_STOP)
            break;
        if ((rc = rd_be(r, 2, &fid)) < 0)
            return rc;
        if (fid == 0 && ft == TT_I32) {
            if ((rc = rd_be(r, 4, &code)) < 0)
                return rc;
            have_code = true;
        } else if ((rc = rd_skip(r, ft, 1)) < 0) {
            return rc;
        }
    }
    if (!have_code || (code != SCRIBE_OK && code != SCRIBE_TRY_LATER))
        return -EBADMSG;
    *ret_seqid = (int32_t) seqid;
    *ret_code = code;
    return 0;
}

int
scribe_parse_reply(const uint8_t *buf, size_t len, int32_t *ret_seqid,
                   enum scribe_result *ret_result)
{
    uint32_t frame_len, code;
    bool complete;
    int32_t seqid;
    struct rd r;
    int rc;

    if (len < 4)
        return -EAGAIN;
    frame_len = (uint32_t) buf[0] << 24 | (uint32_t) buf[1] << 16 | (uint32_t) buf[2] << 8 | buf[3];
    if (frame_len == 0 || frame_len > SCRIBE_MAX_REPLY)
        return -EBADMSG; /* also what an HTTP answer or other garbage looks like */
    complete = len - 4 >= frame_len;
    r.p = buf + 4;
    r.end = r.p + (complete ? frame_len : len - 4);
    rc = parse_log_reply(&r, &seqid, &code);
    if (rc == -EAGAIN)
        return complete ? -EBADMSG : -EAGAIN;
    if (rc < 0)
        return rc;
    if (!complete)
        return -EAGAIN; /* the result is there, but the frame is longer */
    if (r.p != r.end)
        return -EBADMSG; /* bytes after the result inside the frame */
    *ret_seqid = seqid;
    *ret_result = (enum scribe_result) code;
    return (int) (4 + frame_len);
}

/* proto/span.c - the span record codec (wire format: docs/span-record.md).
 *
 * Workers call span_encode() once per finished span and append the record to the batch they
 * send to meshagent; the agent calls span_batch_decode() on each message it pulls.
 *
 * The encoder is a fixed-layout msgpack writer: one pass validates <s> and computes the exact
 * record length, so the second pass writes without bounds checks and a record that does not
 * fit writes nothing. Ids and the timestamp always take the 9-byte uint64 form (0 takes one
 * byte where 0 means "absent"); every other integer takes its shortest form.
 *
 * The decoder is a strict reader, not msgpack-c's unpacker: no zone, no object tree, every
 * read checked against the end of the buffer before it happens. It accepts any valid msgpack
 * encoding of each field (any integer width, str8 for a short string, ...), so records from
 * other msgpack writers decode too; it rejects wrong types, out-of-range values and
 * truncation with a reason naming the field. Unknown trailing fields (of a record or of an
 * endpoint) are skipped by an iterative skipper whose work is bounded by the input length,
 * whatever the nesting. */
#include "proto/span.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "proto/mpskip.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define RECORD_FIELDS   13 /* fields of a version 1 record */
#define ENDPOINT_FIELDS 3  /* [service, ip, port] */

static const struct {
    const char *name;
    size_t len;
} tag_names[] = {
#define T(k, s) [k] = {s, sizeof(s) - 1}
    T(SPAN_TAG_HTTP_METHOD, "http.method"),
    T(SPAN_TAG_HTTP_PATH, "http.path"),
    T(SPAN_TAG_HTTP_URL, "http.url"),
    T(SPAN_TAG_HTTP_STATUS_CODE, "http.status_code"),
    T(SPAN_TAG_HTTP_HOST, "http.host"),
    T(SPAN_TAG_ROUTER_LABEL, "router.label"),
    T(SPAN_TAG_SERVICE, "service"),
    T(SPAN_TAG_CLIENT, "client"),
    T(SPAN_TAG_RESIDUAL, "residual"),
    T(SPAN_TAG_DTAB_LOCAL, "dtab.local"),
    T(SPAN_TAG_REQUEST_SIZE, "http.request.size"),
    T(SPAN_TAG_RESPONSE_SIZE, "http.response.size"),
    T(SPAN_TAG_ERROR, "error"),
    T(SPAN_TAG_DTAB_BASE, "dtab.base"),
    T(SPAN_TAG_L5D_SUCCESS, "l5d.success"),
#undef T
};

#define N_TAG_NAMES (sizeof(tag_names) / sizeof(tag_names[0]))

const char *
span_tag_name(unsigned key)
{
    return key < N_TAG_NAMES ? tag_names[key].name : NULL;
}

/* ---- encoder ------------------------------------------------------------------------ */

static inline size_t
str_size(size_t len)
{
    return len + 1 + (len >= 32) + (len >= 256); /* fixstr, str8, str16 (len <= 8192) */
}

static inline size_t
uint_size(uint64_t v)
{
    if (v < 128)
        return 1;
    if (v < 256)
        return 2;
    if (v < 65536)
        return 3;
    return v <= UINT32_MAX ? 5 : 9;
}

static inline size_t
id_size(uint64_t v)
{
    return v == 0 ? 1 : 9;
}

static inline bool
endpoint_present(const struct span_endpoint *e)
{
    return e->has_ip || e->service_len > 0;
}

static inline size_t
endpoint_size(const struct span_endpoint *e)
{
    return 1 + str_size(e->service_len) + (e->has_ip ? (e->ipv6 ? 18 : 6) : 1) + uint_size(e->port);
}

static inline uint8_t *
put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
    return p + 2;
}

static inline uint8_t *
put_be32(uint8_t *p, uint32_t v)
{
    v = __builtin_bswap32(v);
    memcpy(p, &v, 4);
    return p + 4;
}

static inline uint8_t *
put_be64(uint8_t *p, uint64_t v)
{
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
    return p + 8;
}

static inline uint8_t *
put_u64(uint8_t *p, uint64_t v)
{
    *p = 0xcf;
    return put_be64(p + 1, v);
}

static inline uint8_t *
put_id(uint8_t *p, uint64_t v)
{
    if (v == 0) {
        *p = 0;
        return p + 1;
    }
    return put_u64(p, v);
}

static inline uint8_t *
put_uint(uint8_t *p, uint64_t v)
{
    if (v < 128) {
        *p = (uint8_t) v;
        return p + 1;
    }
    if (v < 256) {
        p[0] = 0xcc;
        p[1] = (uint8_t) v;
        return p + 2;
    }
    if (v < 65536) {
        *p = 0xcd;
        return put_be16(p + 1, (uint16_t) v);
    }
    if (v <= UINT32_MAX) {
        *p = 0xce;
        return put_be32(p + 1, (uint32_t) v);
    }
    return put_u64(p, v);
}

static inline uint8_t *
put_str(uint8_t *p, const char *s, size_t len)
{
    if (len < 32) {
        *p++ = (uint8_t) (0xa0 | len);
    } else if (len < 256) {
        *p++ = 0xd9;
        *p++ = (uint8_t) len;
    } else {
        *p = 0xda;
        p = put_be16(p + 1, (uint16_t) len);
    }
    if (len > 0)
        memcpy(p, s, len);
    return p + len;
}

static inline uint8_t *
put_endpoint(uint8_t *p, const struct span_endpoint *e)
{
    *p++ = 0x90 | ENDPOINT_FIELDS;
    p = put_str(p, e->service, e->service_len);
    if (!e->has_ip) {
        *p++ = 0xc0;
    } else if (e->ipv6) {
        p[0] = 0xc4;
        p[1] = 16;
        memcpy(p + 2, e->ip, 16);
        p += 18;
    } else {
        p[0] = 0xc4;
        p[1] = 4;
        memcpy(p + 2, e->ip, 4);
        p += 6;
    }
    return put_uint(p, e->port);
}

int
span_encode(const struct span *s, uint8_t *buf, size_t cap)
{
    size_t need, big;
    uint8_t *p = buf;
    bool remote = endpoint_present(&s->remote);

    if (unlikely(s->kind != SPAN_KIND_SERVER && s->kind != SPAN_KIND_CLIENT))
        return -EINVAL;
    if (unlikely((s->trace_hi | s->trace_lo) == 0 || s->span_id == 0))
        return -EINVAL;
    if (unlikely(s->n_tags > SPAN_MAX_TAGS))
        return -EINVAL;

    /* one pass: exact size, and the longest string (checked once, after the loop) */
    big = s->name_len | s->local.service_len | s->remote.service_len;
    need = 1 + 1 + id_size(s->trace_hi) + 9 + 9 + id_size(s->parent_id) + 1 + uint_size(s->flags) +
           9 + uint_size(s->duration_us) + str_size(s->name_len) + endpoint_size(&s->local) +
           (remote ? endpoint_size(&s->remote) : 1) + (s->n_tags < 16 ? 1 : 3);
    for (unsigned i = 0; i < s->n_tags; i++) {
        const struct span_tag_kv *t = &s->tags[i];

        if (t->key != 0) {
            need += uint_size(t->key);
        } else {
            if (unlikely(t->name_len == 0))
                return -EINVAL;
            big |= t->name_len;
            need += str_size(t->name_len);
        }
        if (t->is_num) {
            need += uint_size(t->num);
        } else {
            big |= t->value_len;
            need += str_size(t->value_len);
        }
    }
    /* OR of lengths <= 8191 stays <= 8191; 8192 (a power of two) is checked on its own */
    if (unlikely(big > SPAN_MAX_STR_LEN - 1)) {
        if (s->name_len > SPAN_MAX_STR_LEN || s->local.service_len > SPAN_MAX_STR_LEN ||
            s->remote.service_len > SPAN_MAX_STR_LEN)
            return -EINVAL;
        for (unsigned i = 0; i < s->n_tags; i++) {
            const struct span_tag_kv *t = &s->tags[i];

            if ((t->key == 0 && t->name_len > SPAN_MAX_STR_LEN) ||
                (!t->is_num && t->value_len > SPAN_MAX_STR_LEN))
                return -EINVAL;
        }
    }
    if (unlikely(need > cap))
        return -ENOSPC;

    *p++ = 0x90 | RECORD_FIELDS;
    *p++ = SPAN_RECORD_VERSION;
    p = put_id(p, s->trace_hi);
    p = put_u64(p, s->trace_lo);
    p = put_u64(p, s->span_id);
    p = put_id(p, s->parent_id);
    *p++ = (uint8_t) s->kind;
    p = put_uint(p, s->flags);
    p = put_u64(p, s->timestamp_us);
    p = put_uint(p, s->duration_us);
    p = put_str(p, s->name, s->name_len);
    p = put_endpoint(p, &s->local);
    if (remote)
        p = put_endpoint(p, &s->remote);
    else
        *p++ = 0xc0;
    if (s->n_tags < 16) {
        *p++ = (uint8_t) (0x80 | s->n_tags);
    } else {
        *p = 0xde;
        p = put_be16(p + 1, (uint16_t) s->n_tags);
    }
    for (unsigned i = 0; i < s->n_tags; i++) {
        const struct span_tag_kv *t = &s->tags[i];

        if (t->key != 0)
            p = put_uint(p, t->key);
        else
            p = put_str(p, t->name, t->name_len);
        if (t->is_num)
            p = put_uint(p, t->num);
        else
            p = put_str(p, t->value, t->value_len);
    }
    return (int) (p - buf);
}

/* ---- decoder ------------------------------------------------------------------------ */

/* What went wrong with a field; indexes the columns of <reasons>. */
enum fault {
    F_OK = 0,
    F_TRUNC,
    F_TYPE,
    F_RANGE,
};

/* The fields a reason can name; rows of <reasons>. */
enum field {
    FLD_RECORD,
    FLD_VERSION,
    FLD_TRACE_HI,
    FLD_TRACE_LO,
    FLD_SPAN_ID,
    FLD_PARENT_ID,
    FLD_KIND,
    FLD_FLAGS,
    FLD_TIMESTAMP,
    FLD_DURATION,
    FLD_NAME,
    FLD_LOCAL,
    FLD_LOCAL_SERVICE,
    FLD_LOCAL_IP,
    FLD_LOCAL_PORT,
    FLD_REMOTE,
    FLD_REMOTE_SERVICE,
    FLD_REMOTE_IP,
    FLD_REMOTE_PORT,
    FLD_TAGS,
    FLD_TAG_KEY,
    FLD_TAG_VALUE,
    FLD_EXTRA,
    FLD_COUNT,
};

/* [field][fault]: why a record was rejected. NULL where a fault cannot happen. */
static const char *const reasons[FLD_COUNT][4] = {
    [FLD_RECORD] = {NULL, "record: truncated", "record: not an array", "record: too few fields"},
    [FLD_VERSION] = {NULL, "version: truncated", "version: not an unsigned integer",
                     "version: unsupported"},
    [FLD_TRACE_HI] = {NULL, "trace_hi: truncated", "trace_hi: not an unsigned integer", NULL},
    [FLD_TRACE_LO] = {NULL, "trace_lo: truncated", "trace_lo: not an unsigned integer",
                      "trace id: zero"},
    [FLD_SPAN_ID] = {NULL, "span_id: truncated", "span_id: not an unsigned integer",
                     "span_id: zero"},
    [FLD_PARENT_ID] = {NULL, "parent_id: truncated", "parent_id: not an unsigned integer", NULL},
    [FLD_KIND] = {NULL, "kind: truncated", "kind: not an unsigned integer",
                  "kind: not SERVER (1) or CLIENT (2)"},
    [FLD_FLAGS] = {NULL, "flags: truncated", "flags: not an unsigned integer",
                   "flags: over 32 bits"},
    [FLD_TIMESTAMP] = {NULL, "timestamp: truncated", "timestamp: not an unsigned integer", NULL},
    [FLD_DURATION] = {NULL, "duration: truncated", "duration: not an unsigned integer", NULL},
    [FLD_NAME] = {NULL, "name: truncated", "name: not a string", "name: too long"},
    [FLD_LOCAL] = {NULL, "local endpoint: truncated", "local endpoint: not an array",
                   "local endpoint: too few fields"},
    [FLD_LOCAL_SERVICE] = {NULL, "local service: truncated", "local service: not a string",
                           "local service: too long"},
    [FLD_LOCAL_IP] = {NULL, "local ip: truncated", "local ip: not bin or nil",
                      "local ip: not 4 or 16 bytes"},
    [FLD_LOCAL_PORT] = {NULL, "local port: truncated", "local port: not an unsigned integer",
                        "local port: over 65535"},
    [FLD_REMOTE] = {NULL, "remote endpoint: truncated", "remote endpoint: not an array or nil",
                    "remote endpoint: too few fields"},
    [FLD_REMOTE_SERVICE] = {NULL, "remote service: truncated", "remote service: not a string",
                            "remote service: too long"},
    [FLD_REMOTE_IP] = {NULL, "remote ip: truncated", "remote ip: not bin or nil",
                       "remote ip: not 4 or 16 bytes"},
    [FLD_REMOTE_PORT] = {NULL, "remote port: truncated", "remote port: not an unsigned integer",
                         "remote port: over 65535"},
    [FLD_TAGS] = {NULL, "tags: truncated", "tags: not a map", "tags: too many"},
    [FLD_TAG_KEY] = {NULL, "tag key: truncated", "tag key: not an unsigned integer or string",
                     "tag key: zero, over 65535, empty or too long"},
    [FLD_TAG_VALUE] = {NULL, "tag value: truncated", "tag value: not a string or unsigned integer",
                       "tag value: too long"},
    [FLD_EXTRA] = {NULL, "extra field: truncated", "extra field: reserved byte 0xc1", NULL},
};

struct rd {
    const uint8_t *p;   /* next byte */
    const uint8_t *end; /* one past the last byte */
};

static inline size_t
rd_left(const struct rd *r)
{
    return (size_t) (r->end - r->p);
}

static inline uint64_t
get_be64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

/* Reads an unsigned integer in any msgpack integer form; a signed form must hold a
 * non-negative value (a negative one is F_TYPE, leaving F_RANGE to the caller). */
static inline enum fault
rd_uint(struct rd *r, uint64_t *v)
{
    size_t left = rd_left(r), n;
    uint8_t b;

    if (unlikely(left == 0))
        return F_TRUNC;
    b = *r->p;
    if (b < 0x80) {
        *v = b;
        r->p++;
        return F_OK;
    }
    if (likely(b == 0xcf && left >= 9)) {
        *v = get_be64(r->p + 1);
        r->p += 9;
        return F_OK;
    }
    if (b >= 0xcc && b <= 0xcf)
        n = (size_t) 1 << (b - 0xcc);
    else if (b >= 0xd0 && b <= 0xd3)
        n = (size_t) 1 << (b - 0xd0);
    else
        return F_TYPE; /* negative fixint included */
    if (unlikely(left - 1 < n))
        return F_TRUNC;
    if (b >= 0xd0 && (r->p[1] & 0x80))
        return F_TYPE; /* a negative value is not an unsigned integer */
    *v = mp_get_be(r->p + 1, n);
    r->p += 1 + n;
    return F_OK;
}

static inline bool
is_str(uint8_t b)
{
    return (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb);
}

static inline bool
is_uint(uint8_t b)
{
    return b < 0x80 || (b >= 0xcc && b <= 0xd3);
}

/* Reads a string of at most SPAN_MAX_STR_LEN bytes; the caller knows *r->p is a str type or
 * accepts F_TYPE. */
static inline enum fault
rd_str(struct rd *r, const char **s, size_t *len)
{
    size_t left = rd_left(r), n, hdr;
    uint8_t b;

    if (unlikely(left == 0))
        return F_TRUNC;
    b = *r->p;
    if (b >= 0xa0 && b <= 0xbf) {
        n = b & 0x1f;
        hdr = 1;
    } else if (b >= 0xd9 && b <= 0xdb) {
        hdr = 1 + ((size_t) 1 << (b - 0xd9));
        if (unlikely(left < hdr))
            return F_TRUNC;
        n = mp_get_be(r->p + 1, hdr - 1);
    } else {
        return F_TYPE;
    }
    if (unlikely(n > SPAN_MAX_STR_LEN))
        return F_RANGE;
    if (unlikely(left - hdr < n))
        return F_TRUNC;
    *s = (const char *) r->p + hdr;
    *len = n;
    r->p += hdr + n;
    return F_OK;
}

/* Reads an array header (fixarray, array16, array32) of at least <min> elements. */
static inline enum fault
rd_array(struct rd *r, size_t min, size_t *n)
{
    size_t left = rd_left(r), hdr;
    uint8_t b;

    if (unlikely(left == 0))
        return F_TRUNC;
    b = *r->p;
    if (b >= 0x90 && b <= 0x9f) {
        *n = b & 0x0f;
        hdr = 1;
    } else if (b == 0xdc || b == 0xdd) {
        hdr = b == 0xdc ? 3 : 5;
        if (unlikely(left < hdr))
            return F_TRUNC;
        *n = mp_get_be(r->p + 1, hdr - 1);
    } else {
        return F_TYPE;
    }
    if (unlikely(*n < min))
        return F_RANGE;
    r->p += hdr;
    return F_OK;
}

/* Skips <count> msgpack values of any type (proto/mpskip.h). */
static enum fault
rd_skip(struct rd *r, uint64_t count)
{
    int e = mp_skip(&r->p, r->end, count);

    return e == 0 ? F_OK : e == -EINVAL ? F_TYPE : F_TRUNC;
}

/* Reads an endpoint [service, ip, port, ...]; <fld> is the row of its "endpoint" reason,
 * followed by the rows of service, ip and port. */
static inline enum fault
rd_endpoint(struct rd *r, struct span_endpoint *e, enum field *fld)
{
    enum field base = *fld;
    enum fault f;
    uint64_t v;
    size_t n, hdr, ip_len;

    f = rd_array(r, ENDPOINT_FIELDS, &n);
    if (f != F_OK)
        return f;
    *fld = base + 1;
    f = rd_str(r, &e->service, &e->service_len);
    if (f != F_OK)
        return f;
    *fld = base + 2;
    if (rd_left(r) == 0)
        return F_TRUNC;
    if (*r->p == 0xc0) {
        e->has_ip = false;
        e->ipv6 = false;
        memset(e->ip, 0, sizeof(e->ip));
        r->p++;
    } else if (*r->p >= 0xc4 && *r->p <= 0xc6) { /* bin 8/16/32 */
        hdr = 1 + ((size_t) 1 << (*r->p - 0xc4));
        if (rd_left(r) < hdr)
            return F_TRUNC;
        ip_len = (size_t) mp_get_be(r->p + 1, hdr - 1);
        if (ip_len != 4 && ip_len != 16)
            return F_RANGE;
        if (rd_left(r) - hdr < ip_len)
            return F_TRUNC;
        memset(e->ip, 0, sizeof(e->ip));
        memcpy(e->ip, r->p + hdr, ip_len);
        e->has_ip = true;
        e->ipv6 = ip_len == 16;
        r->p += hdr + ip_len;
    } else {
        return F_TYPE;
    }
    *fld = base + 3;
    f = rd_uint(r, &v);
    if (f != F_OK)
        return f;
    if (v > UINT16_MAX)
        return F_RANGE;
    e->port = (uint16_t) v;
    if (n > ENDPOINT_FIELDS) {
        *fld = FLD_EXTRA;
        return rd_skip(r, n - ENDPOINT_FIELDS);
    }
    return F_OK;
}

static inline enum fault
rd_tag(struct rd *r, struct span_tag_kv *t, enum field *fld)
{
    enum fault f;
    uint64_t v;

    *fld = FLD_TAG_KEY;
    if (rd_left(r) == 0)
        return F_TRUNC;
    if (is_uint(*r->p)) {
        f = rd_uint(r, &v);
        if (f != F_OK)
            return f;
        if (v == 0 || v > UINT16_MAX)
            return F_RANGE;
        t->key = (uint16_t) v;
        if (v < N_TAG_NAMES) {
            t->name = tag_names[v].name;
            t->name_len = tag_names[v].len;
        } else {
            t->name = NULL;
            t->name_len = 0;
        }
    } else {
        f = rd_str(r, &t->name, &t->name_len);
        if (f != F_OK)
            return f;
        if (t->name_len == 0)
            return F_RANGE;
        t->key = 0;
    }
    *fld = FLD_TAG_VALUE;
    if (rd_left(r) == 0)
        return F_TRUNC;
    if (is_str(*r->p)) {
        t->is_num = false;
        t->num = 0;
        return rd_str(r, &t->value, &t->value_len);
    }
    t->is_num = true;
    t->value = NULL;
    t->value_len = 0;
    return rd_uint(r, &t->num);
}

/* Decodes one record; on failure returns the fault and sets *fld to the field at fault. */
static enum fault
decode(struct rd *r, struct span *s, enum field *fld)
{
    enum fault f;
    uint64_t v;
    size_t n, n_tags, hdr;

    *fld = FLD_RECORD;
    f = rd_array(r, 1, &n);
    if (f != F_OK)
        return f;
    *fld = FLD_VERSION;
    f = rd_uint(r, &v);
    if (f != F_OK)
        return f;
    if (v != SPAN_RECORD_VERSION)
        return F_RANGE;
    *fld = FLD_RECORD;
    if (n < RECORD_FIELDS)
        return F_RANGE;

    *fld = FLD_TRACE_HI;
    if ((f = rd_uint(r, &s->trace_hi)) != F_OK)
        return f;
    *fld = FLD_TRACE_LO;
    if ((f = rd_uint(r, &s->trace_lo)) != F_OK)
        return f;
    if ((s->trace_hi | s->trace_lo) == 0)
        return F_RANGE;
    *fld = FLD_SPAN_ID;
    if ((f = rd_uint(r, &s->span_id)) != F_OK)
        return f;
    if (s->span_id == 0)
        return F_RANGE;
    *fld = FLD_PARENT_ID;
    if ((f = rd_uint(r, &s->parent_id)) != F_OK)
        return f;
    *fld = FLD_KIND;
    if ((f = rd_uint(r, &v)) != F_OK)
        return f;
    if (v != SPAN_KIND_SERVER && v != SPAN_KIND_CLIENT)
        return F_RANGE;
    s->kind = (enum span_kind) v;
    *fld = FLD_FLAGS;
    if ((f = rd_uint(r, &v)) != F_OK)
        return f;
    if (v > UINT32_MAX)
        return F_RANGE;
    s->flags = (uint32_t) v;
    *fld = FLD_TIMESTAMP;
    if ((f = rd_uint(r, &s->timestamp_us)) != F_OK)
        return f;
    *fld = FLD_DURATION;
    if ((f = rd_uint(r, &s->duration_us)) != F_OK)
        return f;
    *fld = FLD_NAME;
    if ((f = rd_str(r, &s->name, &s->name_len)) != F_OK)
        return f;

    *fld = FLD_LOCAL;
    if ((f = rd_endpoint(r, &s->local, fld)) != F_OK)
        return f;
    *fld = FLD_REMOTE;
    if (rd_left(r) == 0)
        return F_TRUNC;
    if (*r->p == 0xc0) {
        r->p++;
        memset(&s->remote, 0, sizeof(s->remote));
    } else {
        if ((f = rd_endpoint(r, &s->remote, fld)) != F_OK)
            return f;
        if (!endpoint_present(&s->remote)) /* same as absent: keep re-encoding stable */
            memset(&s->remote, 0, sizeof(s->remote));
    }

    *fld = FLD_TAGS;
    if (rd_left(r) == 0)
        return F_TRUNC;
    if ((*r->p & 0xf0) == 0x80) {
        n_tags = *r->p & 0x0f;
        hdr = 1;
    } else if (*r->p == 0xde || *r->p == 0xdf) {
        hdr = *r->p == 0xde ? 3 : 5;
        if (rd_left(r) < hdr)
            return F_TRUNC;
        n_tags = mp_get_be(r->p + 1, hdr - 1);
    } else {
        return F_TYPE;
    }
    if (n_tags > SPAN_MAX_TAGS)
        return F_RANGE;
    r->p += hdr;
    for (size_t i = 0; i < n_tags; i++)
        if ((f = rd_tag(r, &s->tags[i], fld)) != F_OK)
            return f;
    s->n_tags = (unsigned) n_tags;

    *fld = FLD_EXTRA;
    return rd_skip(r, n - RECORD_FIELDS);
}

int
span_decode(const uint8_t *buf, size_t len, struct span *out, const char **ret_reason)
{
    struct rd r = {buf, buf + len};
    enum field fld;
    enum fault f = decode(&r, out, &fld);

    if (likely(f == F_OK)) {
        if (unlikely(r.p - buf > INT_MAX)) { /* only unknown extra fields can be this big */
            *ret_reason = "record: over 2 GiB";
            return -EBADMSG;
        }
        return (int) (r.p - buf);
    }
    *ret_reason = reasons[fld][f] != NULL ? reasons[fld][f] : "record: malformed";
    return fld == FLD_VERSION && f == F_RANGE ? -EPROTONOSUPPORT : -EBADMSG;
}

int
span_batch_decode(const uint8_t *buf, size_t len, span_batch_fn *fn, void *arg,
                  struct span_batch_result *ret)
{
    struct span s;
    size_t off = 0;

    memset(ret, 0, sizeof(*ret));
    while (off < len) {
        const char *reason = NULL;
        int n = span_decode(buf + off, len - off, &s, &reason);

        if (likely(n > 0)) {
            fn(&s, arg);
            ret->n_spans++;
            off += (size_t) n;
            continue;
        }
        ret->n_bad++;
        ret->reason = reason;
        if (n == -EPROTONOSUPPORT) {
            struct rd r = {buf + off, buf + len};

            if (rd_skip(&r, 1) == F_OK) {
                ret->n_unsupported++;
                off = (size_t) (r.p - buf);
                continue;
            }
            ret->reason = "record of another version: truncated";
        }
        ret->malformed = true;
        ret->bad_offset = off;
        break;
    }
    return (int) ret->n_spans;
}

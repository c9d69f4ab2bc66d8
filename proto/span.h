/* proto/span.h - the span record: one finished span as meshd workers send it to meshagent.
 *
 * A record is one msgpack array; a nanomsg message (a batch) is records concatenated, with
 * nothing between them. docs/span-record.md is the wire specification, field by field, with
 * the versioning rules and a worked example in hex.
 *
 * Pure code: no I/O, no allocation. The encoder is a fixed-layout writer (no generic packer)
 * for the workers' hot path; the decoder is a strict bounds-checked reader for the agent. A
 * decoded span points into the caller's buffer (zero-copy), so it is valid only while that
 * buffer is unchanged. */
#ifndef MESH_PROTO_SPAN_H
#define MESH_PROTO_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The major version in every record. Trailing fields may be added to a record or to an
 * endpoint without changing it (decoders skip fields they do not know); anything else that
 * changes the meaning of existing bytes needs a new major version. */
#define SPAN_RECORD_VERSION 1

#define SPAN_MAX_TAGS    24   /* tags per span; more is an error on both sides */
#define SPAN_MAX_STR_LEN 8192 /* bytes of any one string (name, service, tag name or value) */

enum span_kind {
    SPAN_KIND_SERVER = 1,
    SPAN_KIND_CLIENT = 2,
};

/* span.flags */
#define SPAN_F_SAMPLED (1u << 0)
#define SPAN_F_DEBUG   (1u << 1) /* Zipkin "debug": keep even if the agent samples */
#define SPAN_F_SHARED  (1u << 2) /* Zipkin "shared": the span id was started by another host */

struct span_endpoint {
    const char *service; /* may be empty; not NUL-terminated */
    size_t service_len;
    uint8_t ip[16]; /* network order: ip[0..3] for IPv4 (rest zero), ip[0..15] for IPv6 */
    bool ipv6;
    bool has_ip;
    uint16_t port; /* 0: unknown */
};

/* Well-known tags travel as small integer keys; any other tag is a name/value string pair.
 * New keys are only ever appended (docs/span-record.md, "Versioning"). */
enum span_tag {
    SPAN_TAG_HTTP_METHOD = 1,  /* "http.method" */
    SPAN_TAG_HTTP_PATH,        /* "http.path" */
    SPAN_TAG_HTTP_URL,         /* "http.url" */
    SPAN_TAG_HTTP_STATUS_CODE, /* "http.status_code" */
    SPAN_TAG_HTTP_HOST,        /* "http.host" */
    SPAN_TAG_ROUTER_LABEL,     /* "router.label" */
    SPAN_TAG_SERVICE,          /* "service" */
    SPAN_TAG_CLIENT,           /* "client" */
    SPAN_TAG_RESIDUAL,         /* "residual" */
    SPAN_TAG_DTAB_LOCAL,       /* "dtab.local" */
    SPAN_TAG_REQUEST_SIZE,     /* "http.request.size" */
    SPAN_TAG_RESPONSE_SIZE,    /* "http.response.size" */
    SPAN_TAG_ERROR,            /* "error" */
    SPAN_TAG_DTAB_BASE,        /* "dtab.base" */
    SPAN_TAG_L5D_SUCCESS,      /* "l5d.success" */
};

/* The Zipkin v2 tag name of well-known key <key>, or NULL if <key> is not one (a key from a
 * newer encoder, or 0). Static storage. */
const char *span_tag_name(unsigned key);

struct span_tag_kv {
    uint16_t key;     /* enum span_tag, or 0 for a custom tag named by <name> */
    const char *name; /* custom tags: the name, not empty. Decoded well-known tags: the
                       * static span_tag_name(key), NULL for a key this decoder does not know
                       * (consumers drop those). Ignored by the encoder when key != 0. */
    size_t name_len;
    const char *value; /* string value, may be empty; unused when <is_num> */
    size_t value_len;
    uint64_t num; /* the value when <is_num>: sent as a msgpack integer, shown in decimal */
    bool is_num;
};

struct span {
    uint64_t trace_hi;  /* upper 64 bits of a 128-bit trace id; 0 for a 64-bit trace */
    uint64_t trace_lo;  /* trace_hi:trace_lo is never all zero */
    uint64_t span_id;   /* never 0 */
    uint64_t parent_id; /* 0: root span */
    enum span_kind kind;
    uint32_t flags;        /* SPAN_F_*; unknown bits travel unchanged */
    uint64_t timestamp_us; /* wall clock (clock_wall_us()) at the start */
    uint64_t duration_us;
    const char *name; /* span name, e.g. "get"; may be empty */
    size_t name_len;
    struct span_endpoint local;  /* always sent */
    struct span_endpoint remote; /* absent when !has_ip and service_len == 0 (port ignored) */
    struct span_tag_kv tags[SPAN_MAX_TAGS]; /* entries past n_tags are not read or written */
    unsigned n_tags;
};

/* Encodes <s> as one record into <buf>. Returns its length in bytes (> 0); -ENOSPC when it
 * needs more than <cap> bytes (nothing is written: flush the batch and retry); -EINVAL when
 * <s> cannot be sent: bad kind, zero trace or span id, n_tags > SPAN_MAX_TAGS, a string
 * longer than SPAN_MAX_STR_LEN, a custom tag with an empty name. Never writes past <cap>. */
int span_encode(const struct span *s, uint8_t *buf, size_t cap);

/* Decodes the record at the start of <buf> (<len> bytes; further records may follow).
 * Returns the bytes it used (> 0) and fills <out>; strings point into <buf>. Otherwise sets
 * *ret_reason to a static string naming the field and the fault ("tags: too many") and
 * returns -EBADMSG for malformed or truncated input, or -EPROTONOSUPPORT for a record of
 * another major version. <out> is clobbered on failure. Never reads outside <buf>. */
int span_decode(const uint8_t *buf, size_t len, struct span *out, const char **ret_reason);

/* Called once per decoded record of a batch; <s> is valid during the call only. */
typedef void span_batch_fn(const struct span *s, void *arg);

struct span_batch_result {
    unsigned n_spans;       /* records decoded and passed to the callback */
    unsigned n_bad;         /* records lost: n_unsupported, plus 1 if <malformed> */
    unsigned n_unsupported; /* records of another major version, skipped whole */
    bool malformed;         /* a malformed record ended the batch: nothing after it is framed */
    size_t bad_offset;      /* byte offset of that record in <buf>; 0 unless <malformed> */
    const char *reason;     /* static: why the last record lost was rejected; NULL if none */
};

/* Decodes the batch <buf> (<len> bytes, records concatenated) and calls <fn>(span, <arg>) for
 * each good record in order. A record of another major version is skipped whole (its
 * framing is plain msgpack) and decoding goes on; a malformed record ends the batch, since
 * the bytes after it cannot be framed. Fills *ret and returns ret->n_spans. An empty batch
 * is fine. <fn> must not free <buf>. */
int span_batch_decode(const uint8_t *buf, size_t len, span_batch_fn *fn, void *arg,
                      struct span_batch_result *ret);

#endif

/* proto/zipkin.h - what meshagent sends to Zipkin: JSON v2 (POST /api/v2/spans), JSON v1
 * and Thrift v1 (POST /api/v1/spans, older collectors), and Scribe Log() calls over
 * framed binary Thrift (port 9410). Pure encoders and decoders: no I/O.
 *
 * The truth for every byte is ../shared/spec/zipkin/ (zipkin2-api.yaml, zipkinCore.thrift,
 * scribe.thrift); docs/zipkin-encoding.md says how each span field maps. Ids are written
 * as lower-hex strings of 16 or 32 characters (JSON), or i64 trace_id/trace_id_high
 * (Thrift). Well-known tags keep their Zipkin names (span_tag_name()). */
#ifndef MESH_PROTO_ZIPKIN_H
#define MESH_PROTO_ZIPKIN_H

#include <stddef.h>
#include <stdint.h>

#include "proto/span.h"

struct strbuf;

/* JSON v2: appends one Span object (no trailing comma). */
void zipkin_json_v2_span(struct strbuf *out, const struct span *s);
/* JSON v2: appends a ListOfSpans array of <n> spans. */
void zipkin_json_v2_list(struct strbuf *out, const struct span *const *spans, size_t n);

/* JSON v1 (annotations sr/ss/cs/cr, binaryAnnotations): appends a list of <n> spans. */
void zipkin_json_v1_list(struct strbuf *out, const struct span *const *spans, size_t n);

/* Thrift v1, TBinaryProtocol: appends one zipkinCore.Span struct. */
void zipkin_thrift_v1_span(struct strbuf *out, const struct span *s);
/* Thrift v1 list<Span> as POST /api/v1/spans with Content-Type application/x-thrift wants. */
void zipkin_thrift_v1_list(struct strbuf *out, const struct span *const *spans, size_t n);

/* Scribe: appends a whole framed message (4-byte length + TBinaryProtocol call) for
 * Log(messages) with category "zipkin", each message the base64 of one Thrift v1 span. */
void scribe_log_call(struct strbuf *out, int32_t seqid, const struct span *const *spans, size_t n);

enum scribe_result {
    SCRIBE_OK = 0,
    SCRIBE_TRY_LATER = 1,
};

/* Parses a framed Log() reply at <buf>. Returns bytes consumed (>0) and sets *ret_result,
 * -EAGAIN when more bytes are needed, or -EBADMSG (a reply that is not a Log result, or an
 * exception). */
int scribe_parse_reply(const uint8_t *buf, size_t len, int32_t *ret_seqid,
                       enum scribe_result *ret_result);

#endif

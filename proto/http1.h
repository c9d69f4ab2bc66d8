/* proto/http1.h - strict HTTP/1.1 message-head parser and body framing scanners.
 *
 * Pure code: no I/O, no allocation. The parser points into the caller's buffer, so the
 * parsed request/response is valid only while that buffer is unchanged.
 *
 * Strictness (request smuggling defences, RFC 9112): lines end in CRLF only (a bare LF or
 * bare CR is an error), no obs-fold, no whitespace between a field name and its colon,
 * field names are tokens, field values have no CTLs except HTAB, Content-Length together
 * with Transfer-Encoding is an error, differing duplicate Content-Length is an error, a
 * Transfer-Encoding other than exactly one final "chunked" is an error, an HTTP/1.1
 * request needs exactly one Host. Every rejection sets an HTTP status and a reason.
 *
 * Beyond those, and also documented rule by rule in docs/http1-parser.md: a request-target
 * must fit its method (authority-form only for CONNECT, "*" only for OPTIONS, otherwise
 * origin-form or "scheme://" absolute-form); a Host value with whitespace, ",", "/", "?",
 * "#" or "@" is an error; a Connection option naming Host or Content-Length is an error
 * (dropping them as hop-by-hop would change routing or framing); responses get the same
 * Transfer-Encoding rule as requests (only a lone final "chunked"), so an upstream never
 * makes the proxy read a non-chunked coding until close. */
#ifndef MESH_PROTO_HTTP1_H
#define MESH_PROTO_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Headers the proxy looks at, recognised once by the parser (case-insensitively). */
enum http1_hdr_id {
    HTTP1_HDR_OTHER = 0,
    HTTP1_HDR_HOST,
    HTTP1_HDR_CONTENT_LENGTH,
    HTTP1_HDR_TRANSFER_ENCODING,
    HTTP1_HDR_CONNECTION,
    HTTP1_HDR_KEEP_ALIVE,
    HTTP1_HDR_PROXY_CONNECTION,
    HTTP1_HDR_PROXY_AUTHENTICATE,
    HTTP1_HDR_PROXY_AUTHORIZATION,
    HTTP1_HDR_TE,
    HTTP1_HDR_TRAILER,
    HTTP1_HDR_UPGRADE,
    HTTP1_HDR_EXPECT,
    HTTP1_HDR_VIA,
    HTTP1_HDR_L5D, /* any name starting with "l5d-" */
};

/* http1_header.flags */
#define HTTP1_HDR_F_HOP (1u << 0) /* hop-by-hop: RFC 9110 7.6.1 list or named in Connection */

struct http1_header {
    const char *name; /* not NUL-terminated */
    size_t name_len;
    const char *value; /* leading/trailing OWS trimmed */
    size_t value_len;
    enum http1_hdr_id id;
    unsigned flags; /* HTTP1_HDR_F_* */
};

enum http1_body {
    HTTP1_BODY_NONE = 0,    /* no body bytes follow the head */
    HTTP1_BODY_LENGTH,      /* content_length bytes follow */
    HTTP1_BODY_CHUNKED,     /* chunked coding: scan with http1_chunked_scan() */
    HTTP1_BODY_UNTIL_CLOSE, /* responses only: body ends when the peer closes */
};

struct http1_limits {
    size_t max_request_line; /* bytes, excluding CRLF; over it: 414 */
    size_t max_head;         /* bytes of the whole head incl. request line; over it: 431 */
    /* Leading empty lines count towards max_head but not max_request_line. Both limits are
     * enforced as soon as the bytes present pass them, before the head is complete, so a
     * caller whose buffer holds max_head bytes never waits on a head that cannot fit. */
    size_t max_headers;      /* count; over it: 431 (also bounded by the caller's array) */
};

/* Why a message was rejected: the HTTP status to answer with and a short reason for
 * the l5d-err header and the log ("bare LF in header section", ...). Static string. */
struct http1_error {
    int status;         /* 400, 414, 431, 501, 505 for requests; 502 for responses */
    const char *reason; /* static, never NULL after an error */
};

struct http1_request {
    const char *method;
    size_t method_len;
    const char *target; /* request-target exactly as sent */
    size_t target_len;
    int minor_version; /* HTTP/1.<minor_version>: 0 or 1 */
    struct http1_header *headers; /* caller's array, filled by the parser */
    size_t n_headers;
    const char *host; /* value of the Host header, NULL when absent */
    size_t host_len;
    enum http1_body body;   /* NONE, LENGTH or CHUNKED for requests */
    uint64_t content_length; /* with HTTP1_BODY_LENGTH (may be 0); 0 otherwise */
    bool keep_alive;       /* after version default and Connection: close/keep-alive */
    bool expect_continue;  /* Expect: 100-continue present (HTTP/1.1 only, RFC 9110 10.1.1) */
    bool is_head;          /* method is HEAD */
    bool has_upgrade;      /* Upgrade present (the proxy does not tunnel: ignored, removed) */
};

struct http1_response {
    int minor_version;
    int status; /* 100..999 */
    const char *reason;
    size_t reason_len;
    struct http1_header *headers;
    size_t n_headers;
    enum http1_body body;
    uint64_t content_length;
    bool keep_alive; /* the upstream connection may be reused after this response */
};

/* Parses a request head from <buf>/<len>. <headers> is an array of <max_headers> slots
 * that <req> will point to. Returns the length of the head (through the empty line) on
 * success, -EAGAIN when <buf> holds an incomplete head that is still within <lim>, or
 * -EBADMSG with <err> filled. Leading empty lines (CRLF) before the request line are
 * skipped as RFC 9112 2.2 allows and counted in the returned length. <lim> is required.
 * <req> is written only on success, <err> only on -EBADMSG; on success the headers array
 * holds req->n_headers fields in arrival order. Bytes after the head (a body, a pipelined
 * request) are not looked at. */
int http1_parse_request(const char *buf, size_t len, const struct http1_limits *lim,
                        struct http1_header *headers, size_t max_headers,
                        struct http1_request *req, struct http1_error *err);

/* Parses a response head. <request_was_head> and the status decide the framing
 * (HEAD, 1xx, 204 and 304 have no body). Same returns as http1_parse_request(); an error
 * has status 502 (the proxy answers the client with it), and its reason says what the
 * upstream got wrong. No leading empty lines are skipped before the status line. */
int http1_parse_response(const char *buf, size_t len, const struct http1_limits *lim,
                         bool request_was_head, struct http1_header *headers,
                         size_t max_headers, struct http1_response *rsp,
                         struct http1_error *err);

/* Incremental scanner for a chunked body as it passes through unchanged: it finds where
 * the message ends and validates the framing (chunk-size hex without overflow, chunk
 * extensions, CRLF after data, trailer fields as header lines). Zero-initialise to start. */
struct http1_chunked {
    int state;             /* private */
    uint64_t remaining;    /* private: data bytes left in the current chunk */
    size_t line_len;       /* private: bytes seen on the current size/trailer line */
    uint64_t data_bytes;   /* decoded payload bytes seen so far (for stats) */
};

/* Scans <len> bytes of body. Returns 1 when the message ended within <buf> (then
 * *ret_used is the number of bytes that belong to this message), 0 when all <len> bytes
 * belong to the body and more are needed (*ret_used = len), -EBADMSG with <err> filled
 * on bad framing. A size or trailer line longer than 4096 bytes is an error. Once it has
 * returned 1 it keeps returning 1 with *ret_used = 0; once it has failed it keeps failing. */
int http1_chunked_scan(struct http1_chunked *c, const char *buf, size_t len, size_t *ret_used,
                       struct http1_error *err);

/* True when <name> (a header name) is "l5d-"-prefixed, case-insensitively. */
bool http1_is_l5d(const char *name, size_t len);

#endif

/* proto/http1.c - strict HTTP/1.1 head parser (RFC 9112) and chunked-body scanner.
 *
 * Called by proxy/conn.c (requests from clients) and proxy/upstream.c (responses from
 * upstreams), and by the unit tests and fuzzers byte for byte. The parser is in the
 * picohttpparser mould: it re-scans the head from the start of the caller's buffer on
 * every call, moves a pointer forward, never allocates, and points the parsed fields into
 * the buffer. Bytes that may be long (request-target, field values, reason phrase) are
 * scanned eight at a time with a SWAR test for "byte < 0x20 or == 0x7f"; short ones
 * (method, field names) go through a 256-entry token table.
 *
 * Invariants: the scan never reads past min(len, lim->max_head), so a head that is still
 * incomplete at that point is rejected (431) rather than re-scanned forever; every error
 * is found on bytes that are present, so a prefix of a valid head always gives -EAGAIN;
 * <req>/<rsp> are written only on success, <err> only on failure.
 *
 * The chunked scanner keeps its position in struct http1_chunked, one state per place in
 * the grammar (chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; last-chunk "0";
 * trailer-section; CRLF). "line" counts the bytes of the current size or trailer line.
 *
 *   state       byte                          next
 *   SIZE        HEXDIG (<= 16 of them)        SIZE
 *   SIZE        SP / HTAB                     SIZE_WS
 *   SIZE        ";"                           EXT
 *   SIZE        CR                            SIZE_LF
 *   SIZE_WS     SP / HTAB                     SIZE_WS
 *   SIZE_WS     ";"                           EXT
 *   EXT         HTAB, SP..~, obs-text         EXT
 *   EXT         CR                            SIZE_LF
 *   SIZE_LF     LF, size > 0                  DATA
 *   SIZE_LF     LF, size == 0                 TRAILER
 *   DATA        <size> bytes                  DATA_CR
 *   DATA_CR     CR                            DATA_LF
 *   DATA_LF     LF                            SIZE
 *   TRAILER     tchar                         TR_NAME
 *   TRAILER     CR                            END_LF
 *   TR_NAME     tchar                         TR_NAME
 *   TR_NAME     ":"                           TR_VALUE
 *   TR_VALUE    HTAB, SP..~, obs-text         TR_VALUE
 *   TR_VALUE    CR                            TR_LF
 *   TR_LF       LF                            TRAILER
 *   END_LF      LF                            DONE (returns 1)
 *   any         anything else                 ERROR (returns -EBADMSG)
 */
#include "proto/http1.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "common/util.h"

#define CHUNK_LINE_MAX 4096 /* bytes of a chunk-size or trailer line, excluding CRLF */

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" /
 *         "|" / "~" / DIGIT / ALPHA (RFC 9110 5.6.2) */
static const unsigned char tchar[256] = {
    /* 0x00 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x10 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x20 */ 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0,
    /* 0x30 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    /* 0x40 */ 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x50 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1,
    /* 0x60 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x70 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,
    /* 0x80..0xff: 0 */
};

#define IS_TCHAR(c)     (tchar[(unsigned char) (c)] != 0)
#define IS_OWS(c)       ((c) == ' ' || (c) == '\t')
#define IS_DIGIT(c)     ((unsigned char) ((c) - '0') < 10)
/* CTLs other than HTAB, and DEL: never allowed in a field value or reason phrase */
#define IS_BAD_VCHAR(c) (((unsigned char) (c) < 0x20 && (c) != '\t') || (unsigned char) (c) == 0x7f)

#define SWAR_ONES  0x0101010101010101ull
#define SWAR_HIGHS 0x8080808080808080ull

enum chunked_state {
    CH_SIZE = 0, /* zero-initialised struct starts here */
    CH_SIZE_WS,
    CH_EXT,
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER,
    CH_TR_NAME,
    CH_TR_VALUE,
    CH_TR_LF,
    CH_END_LF,
    CH_DONE,
    CH_ERROR,
};

/* Framing facts gathered while the header fields are scanned. */
struct fields {
    struct http1_header *headers;
    size_t cap;       /* usable slots: min(lim->max_headers, max_headers) */
    size_t n;         /* slots filled */
    const char *host; /* first Host value */
    size_t host_len;
    unsigned n_host; /* Host fields seen */
    uint64_t content_length;
    bool has_cl;          /* a valid Content-Length was seen (all equal so far) */
    bool has_te;          /* a Transfer-Encoding was seen */
    bool te_chunked;      /* "chunked" appeared in it */
    bool te_last_chunked; /* ... as the last coding so far */
    bool te_other;        /* a coding other than chunked appeared */
    bool has_connection;
    bool has_upgrade;
    bool expect_continue;
};

/* Facts from the Connection fields. */
struct conn_opts {
    bool close;
    bool keep_alive;
};

static const unsigned char hop_by_id[] = {
    [HTTP1_HDR_CONNECTION] = 1,
    [HTTP1_HDR_KEEP_ALIVE] = 1,
    [HTTP1_HDR_PROXY_CONNECTION] = 1,
    [HTTP1_HDR_PROXY_AUTHENTICATE] = 1,
    [HTTP1_HDR_PROXY_AUTHORIZATION] = 1,
    [HTTP1_HDR_TE] = 1,
    [HTTP1_HDR_TRAILER] = 1,
    [HTTP1_HDR_TRANSFER_ENCODING] = 1,
    [HTTP1_HDR_UPGRADE] = 1,
    [HTTP1_HDR_L5D] = 0,
};

static int
fail(struct http1_error *err, int status, const char *reason)
{
    err->status = status;
    err->reason = reason;
    return -EBADMSG;
}

/* Eight bytes from <p>, the byte at the lowest address in the least significant position. */
static inline uint64_t
load64(const char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v)); /* one unaligned load; no alignment or aliasing assumption */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Flags (high bit of the byte) the bytes of <x> below <lt> (<= 0x80) or equal to 0x7f.
 * Bytes above the lowest true match may be flagged falsely (a borrow propagates upwards),
 * never the ones below it, so the lowest flag is exact and is the only one used. */
static inline uint64_t
swar_stop(uint64_t x, unsigned lt)
{
    uint64_t d = x ^ (SWAR_ONES * 0x7f);

    return ((x - SWAR_ONES * lt) & ~x & SWAR_HIGHS) | ((d - SWAR_ONES) & ~d & SWAR_HIGHS);
}

/* First byte in [p, end) below <lt> or equal to 0x7f; end if none. Eight bytes per step
 * while eight remain. */
static inline const char *
scan_stop(const char *p, const char *end, unsigned lt)
{
    while (end - p >= 8) {
        uint64_t m = swar_stop(load64(p), lt);

        if (m != 0)
            return p + __builtin_ctzll(m) / 8;
        p += 8;
    }
    while (p < end && (unsigned char) *p >= lt && (unsigned char) *p != 0x7f)
        p++;
    return p;
}

/* First byte in [p, end) that is a CTL other than HTAB, or DEL; end if none. */
static const char *
find_ctl(const char *p, const char *end)
{
    for (;;) {
        p = scan_stop(p, end, 0x20);
        if (p == end || *p != '\t')
            return p;
        p++;
    }
}

/* First byte in [p, end) that is a CTL, SP or DEL; end if none. */
static const char *
find_ctl_sp(const char *p, const char *end)
{
    return scan_stop(p, end, 0x21);
}

/* <s> (<n> bytes, all tchar) equals the lowercase literal <lit>, ignoring case. OR-ing 0x20
 * maps A-Z onto a-z and leaves every other tchar off the letters, digits and "-" that the
 * literals are made of, so this is exact for tokens. */
static inline bool
tok_eq(const char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char) s[i] | 0x20) != (unsigned char) lit[i])
            return false;
    }
    return true;
}

/* ASCII case-insensitive compare of two byte strings of length <n>. */
static bool
ci_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char) a[i], y = (unsigned char) b[i];

        if ((unsigned) (x - 'A') < 26u)
            x |= 0x20;
        if ((unsigned) (y - 'A') < 26u)
            y |= 0x20;
        if (x != y)
            return false;
    }
    return true;
}

static enum http1_hdr_id
hdr_lookup(const char *n, size_t len)
{
    switch (len) {
    case 2:
        if (tok_eq(n, "te", 2))
            return HTTP1_HDR_TE;
        break;
    case 3:
        if (tok_eq(n, "via", 3))
            return HTTP1_HDR_VIA;
        break;
    case 4:
        if (tok_eq(n, "host", 4))
            return HTTP1_HDR_HOST;
        break;
    case 6:
        if (tok_eq(n, "expect", 6))
            return HTTP1_HDR_EXPECT;
        break;
    case 7:
        if (tok_eq(n, "trailer", 7))
            return HTTP1_HDR_TRAILER;
        if (tok_eq(n, "upgrade", 7))
            return HTTP1_HDR_UPGRADE;
        break;
    case 10:
        if (tok_eq(n, "connection", 10))
            return HTTP1_HDR_CONNECTION;
        if (tok_eq(n, "keep-alive", 10))
            return HTTP1_HDR_KEEP_ALIVE;
        break;
    case 14:
        if (tok_eq(n, "content-length", 14))
            return HTTP1_HDR_CONTENT_LENGTH;
        break;
    case 16:
        if (tok_eq(n, "proxy-connection", 16))
            return HTTP1_HDR_PROXY_CONNECTION;
        break;
    case 17:
        if (tok_eq(n, "transfer-encoding", 17))
            return HTTP1_HDR_TRANSFER_ENCODING;
        break;
    case 18:
        if (tok_eq(n, "proxy-authenticate", 18))
            return HTTP1_HDR_PROXY_AUTHENTICATE;
        break;
    case 19:
        if (tok_eq(n, "proxy-authorization", 19))
            return HTTP1_HDR_PROXY_AUTHORIZATION;
        break;
    default:
        break;
    }
    return http1_is_l5d(n, len) ? HTTP1_HDR_L5D : HTTP1_HDR_OTHER;
}

/* Content-Length = 1*DIGIT, also as a list of identical values ("5, 5") that some senders
 * produce when they merge duplicate fields (RFC 9110 8.6). */
static int
parse_content_length(struct fields *f, const char *p, size_t len, struct http1_error *err)
{
    const char *end = p + len;
    uint64_t first = 0;
    bool have_first = false;

    for (;;) {
        uint64_t v = 0;

        if (p == end || !IS_DIGIT(*p))
            return fail(err, 400, "invalid Content-Length");
        do {
            unsigned d = (unsigned) (*p - '0');

            if (v > (UINT64_MAX - d) / 10)
                return fail(err, 400, "Content-Length too large");
            v = v * 10 + d;
            p++;
        } while (p < end && IS_DIGIT(*p));
        if (have_first && v != first)
            return fail(err, 400, "differing Content-Length values");
        first = v;
        have_first = true;
        while (p < end && IS_OWS(*p))
            p++;
        if (p == end)
            break;
        if (*p != ',')
            return fail(err, 400, "invalid Content-Length");
        p++;
        while (p < end && IS_OWS(*p))
            p++;
    }
    if (f->has_cl && f->content_length != first)
        return fail(err, 400, "differing Content-Length values");
    f->content_length = first;
    f->has_cl = true;
    return 0;
}

/* Transfer-Encoding = #transfer-coding, accumulated over all the fields: the only list the
 * caller will accept in the end is exactly one "chunked". Parameters are skipped without
 * honouring quoted strings; that can only mis-split a list that has a coding other than
 * chunked in it, which is rejected anyway. */
static int
parse_transfer_encoding(struct fields *f, const char *p, size_t len, struct http1_error *err)
{
    const char *end = p + len;

    f->has_te = true;
    for (;;) {
        const char *tok;
        bool chunked;

        while (p < end && IS_OWS(*p))
            p++;
        tok = p;
        while (p < end && IS_TCHAR(*p))
            p++;
        if (p == tok)
            return fail(err, 400,
                        p == end || *p == ',' ? "empty Transfer-Encoding element"
                                              : "invalid Transfer-Encoding");
        chunked = p - tok == 7 && tok_eq(tok, "chunked", 7);
        while (p < end && IS_OWS(*p))
            p++;
        if (p < end && *p == ';') {
            if (chunked)
                return fail(err, 400, "parameters on chunked transfer coding");
            while (p < end && *p != ',')
                p++;
        } else if (p < end && *p != ',') {
            return fail(err, 400, "invalid Transfer-Encoding");
        }
        if (chunked) {
            if (f->te_chunked)
                return fail(err, 400, "chunked applied more than once");
            f->te_chunked = true;
        } else {
            f->te_other = true;
        }
        f->te_last_chunked = chunked;
        if (p == end)
            return 0;
        p++; /* ',' */
    }
}

/* A Host value that could not be a single uri-host [ ":" port ] and would make the
 * router see a different authority than the upstream does. */
static bool
host_is_valid(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (p[i]) {
        case ' ':
        case '\t':
        case ',':
        case '/':
        case '?':
        case '#':
        case '@':
            return false;
        default:
            break;
        }
    }
    return true;
}

/* Records one parsed field in <f>: id, hop-by-hop flag, and the framing facts. */
static inline int
add_field(struct fields *f, const char *name, size_t name_len, const char *value, size_t value_len,
          struct http1_error *err)
{
    struct http1_header *h = &f->headers[f->n++];
    enum http1_hdr_id id = hdr_lookup(name, name_len);

    h->name = name;
    h->name_len = name_len;
    h->value = value;
    h->value_len = value_len;
    h->id = id;
    h->flags = hop_by_id[id] ? HTTP1_HDR_F_HOP : 0;
    switch (id) {
    case HTTP1_HDR_HOST:
        if (++f->n_host > 1)
            return fail(err, 400, "multiple Host headers");
        if (!host_is_valid(value, value_len))
            return fail(err, 400, "invalid Host header");
        f->host = value;
        f->host_len = value_len;
        return 0;
    case HTTP1_HDR_CONTENT_LENGTH:
        return parse_content_length(f, value, value_len, err);
    case HTTP1_HDR_TRANSFER_ENCODING:
        return parse_transfer_encoding(f, value, value_len, err);
    case HTTP1_HDR_CONNECTION:
        f->has_connection = true;
        return 0;
    case HTTP1_HDR_UPGRADE:
        f->has_upgrade = true;
        return 0;
    case HTTP1_HDR_EXPECT:
        if (value_len == 12 && ci_eq(value, "100-continue", 12))
            f->expect_continue = true;
        return 0;
    default:
        return 0;
    }
}

/* Scans header fields from <p> up to and including the empty line. Returns 0 and sets
 * *ret_end past the empty line, -EAGAIN when [p, end) ends first, or -EBADMSG with a
 * request status (400, 431) in <err>. */
static int
parse_fields(const char *p, const char *end, struct fields *f, const char **ret_end,
             struct http1_error *err)
{
    for (;;) {
        const char *name, *value, *vend;
        size_t name_len;
        int r;

        if (p == end)
            return -EAGAIN;
        if (*p == '\r') {
            if (end - p < 2)
                return -EAGAIN;
            if (p[1] != '\n')
                return fail(err, 400, "bare CR in header section");
            *ret_end = p + 2;
            return 0;
        }
        if (!IS_TCHAR(*p)) {
            if (*p == '\n')
                return fail(err, 400, "bare LF in header section");
            if (IS_OWS(*p))
                return fail(err, 400,
                            f->n == 0 ? "whitespace before first header field"
                                      : "obs-fold not allowed");
            if (*p == ':')
                return fail(err, 400, "empty header field name");
            return fail(err, 400, "invalid character in header field name");
        }
        if (f->n == f->cap)
            return fail(err, 431, "too many header fields");

        name = p;
        do
            p++;
        while (p < end && IS_TCHAR(*p));
        if (p == end)
            return -EAGAIN;
        if (*p != ':') {
            if (IS_OWS(*p))
                return fail(err, 400, "whitespace before colon in header field");
            if (*p == '\n')
                return fail(err, 400, "bare LF in header section");
            if (*p == '\r')
                return fail(err, 400, "header field without colon");
            return fail(err, 400, "invalid character in header field name");
        }
        name_len = (size_t) (p - name);
        p++;

        while (p < end && IS_OWS(*p))
            p++;
        value = p;
        p = find_ctl(p, end);
        if (p == end)
            return -EAGAIN;
        if (*p != '\r')
            return fail(err, 400,
                        *p == '\n' ? "bare LF in header section"
                                   : "control character in header field value");
        if (end - p < 2)
            return -EAGAIN;
        if (p[1] != '\n')
            return fail(err, 400, "bare CR in header section");
        vend = p;
        while (vend > value && IS_OWS(vend[-1]))
            vend--;
        p += 2;

        r = add_field(f, name, name_len, value, (size_t) (vend - value), err);
        if (r < 0)
            return r;
    }
}

/* Applies the Connection fields once the whole head is known: close / keep-alive options,
 * and HTTP1_HDR_F_HOP on every field they name (RFC 9110 7.6.1). */
static int
apply_connection(struct fields *f, struct conn_opts *co, struct http1_error *err)
{
    for (size_t i = 0; i < f->n; i++) {
        const char *p, *end;

        if (f->headers[i].id != HTTP1_HDR_CONNECTION)
            continue;
        p = f->headers[i].value;
        end = p + f->headers[i].value_len;
        for (;;) {
            const char *tok;
            size_t len;

            while (p < end && (IS_OWS(*p) || *p == ','))
                p++; /* empty list elements are allowed (RFC 9110 5.6.1) */
            if (p == end)
                break;
            tok = p;
            while (p < end && IS_TCHAR(*p))
                p++;
            len = (size_t) (p - tok);
            if (len == 0 || (p < end && !IS_OWS(*p) && *p != ','))
                return fail(err, 400, "invalid Connection header");
            if (len == 5 && tok_eq(tok, "close", 5))
                co->close = true;
            else if (len == 10 && tok_eq(tok, "keep-alive", 10))
                co->keep_alive = true;
            else if ((len == 4 && tok_eq(tok, "host", 4)) ||
                     (len == 14 && tok_eq(tok, "content-length", 14)))
                /* stripping them as hop-by-hop would change routing or framing */
                return fail(err, 400, "Connection names an end-to-end header");
            for (size_t j = 0; j < f->n; j++) {
                struct http1_header *h = &f->headers[j];

                if (h->name_len == len && ci_eq(h->name, tok, len))
                    h->flags |= HTTP1_HDR_F_HOP;
            }
        }
    }
    return 0;
}

/* authority-form = uri-host ":" port, as CONNECT requires. */
static bool
authority_is_valid(const char *t, size_t len)
{
    size_t colon = len, port_len;

    for (size_t i = 0; i < len; i++) {
        if (t[i] == '/' || t[i] == '?' || t[i] == '#' || t[i] == '@')
            return false;
        if (t[i] == ':')
            colon = i;
    }
    if (colon == 0 || colon == len)
        return false;
    port_len = len - colon - 1;
    if (port_len == 0 || port_len > 5)
        return false;
    for (size_t i = colon + 1; i < len; i++) {
        if (!IS_DIGIT(t[i]))
            return false;
    }
    return true;
}

/* absolute-form: scheme "://" ..., the only absolute-URI shape an HTTP proxy can route. */
static bool
absolute_is_valid(const char *t, size_t len)
{
    size_t i = 0;

    if (len == 0 || (unsigned char) ((t[0] | 0x20) - 'a') >= 26)
        return false;
    while (i < len && t[i] != ':') {
        char c = t[i];

        if ((unsigned char) ((c | 0x20) - 'a') >= 26 && !IS_DIGIT(c) && c != '+' && c != '-' &&
            c != '.')
            return false;
        i++;
    }
    return len - i >= 4 && t[i + 1] == '/' && t[i + 2] == '/' && i + 3 < len;
}

static int
check_target(const struct http1_request *r, struct http1_error *err)
{
    const char *t = r->target;

    if (r->method_len == 7 && memcmp(r->method, "CONNECT", 7) == 0) {
        if (!authority_is_valid(t, r->target_len))
            return fail(err, 400, "CONNECT needs an authority-form request-target");
        return 0;
    }
    if (t[0] == '/')
        return 0;
    if (r->target_len == 1 && t[0] == '*') {
        if (r->method_len != 7 || memcmp(r->method, "OPTIONS", 7) != 0)
            return fail(err, 400, "asterisk-form request-target is only for OPTIONS");
        return 0;
    }
    if (!absolute_is_valid(t, r->target_len))
        return fail(err, 400, "invalid request-target");
    return 0;
}

/* End of the window a start line beginning at <line> is scanned in: one byte past the
 * longest allowed line, so a line over <max> is found at the same byte whether or not the
 * rest of it has arrived, and before anything wrong in that rest is. */
static const char *
line_window(const char *line, const char *end, size_t max)
{
    return (size_t) (end - line) > max ? line + max + 1 : end;
}

static size_t
head_cap(const struct http1_limits *lim, size_t len)
{
    size_t cap = lim->max_head < (size_t) INT_MAX ? lim->max_head : (size_t) INT_MAX;

    return len < cap ? len : cap;
}

int
http1_parse_request(const char *buf, size_t len, const struct http1_limits *lim,
                    struct http1_header *headers, size_t max_headers, struct http1_request *req,
                    struct http1_error *err)
{
    const char *p = buf, *end = buf + head_cap(lim, len), *line, *lend, *q, *head_end = NULL;
    struct http1_request r;
    struct fields f;
    struct conn_opts co = {false, false};
    int ret;

    /* RFC 9112 2.2: ignore empty lines before the request-line */
    while (p < end && *p == '\r') {
        if (end - p < 2)
            goto incomplete;
        if (p[1] != '\n')
            return fail(err, 400, "bare CR in request line");
        p += 2;
    }
    if (p == end)
        goto incomplete;
    line = p;
    lend = line_window(line, end, lim->max_request_line);

    /* method SP */
    while (p < lend && IS_TCHAR(*p))
        p++;
    if (p == lend)
        goto incomplete_line;
    if (*p != ' ' || p == line) {
        if (*p == '\n')
            return fail(err, 400, "bare LF in request line");
        return fail(err, 400, p == line ? "invalid method" : "invalid character in method");
    }
    r.method = line;
    r.method_len = (size_t) (p - line);
    p++;

    /* request-target SP */
    q = p;
    p = find_ctl_sp(p, lend);
    if (p == lend)
        goto incomplete_line;
    if (*p != ' ') {
        if (*p == '\n')
            return fail(err, 400, "bare LF in request line");
        if (*p == '\r')
            return fail(err, 400, p == q ? "missing request-target" : "missing HTTP version");
        return fail(err, 400, "control character in request-target");
    }
    if (p == q)
        return fail(err, 400, "multiple spaces in request line");
    r.target = q;
    r.target_len = (size_t) (p - q);
    p++;

    /* HTTP-version CRLF */
    q = p;
    p = find_ctl(p, lend);
    if (p == lend)
        goto incomplete_line;
    if (*p != '\r')
        return fail(err, 400,
                    *p == '\n' ? "bare LF in request line" : "control character in request line");
    if (end - p < 2)
        goto incomplete;
    if (p[1] != '\n')
        return fail(err, 400, "bare CR in request line");
    if (p - q != 8 || memcmp(q, "HTTP/", 5) != 0 || !IS_DIGIT(q[5]) || q[6] != '.' ||
        !IS_DIGIT(q[7]))
        return fail(err, 400, "invalid HTTP version");
    if (q[5] != '1' || (q[7] != '0' && q[7] != '1'))
        return fail(err, 505, "unsupported HTTP version");
    r.minor_version = q[7] - '0';
    p += 2;

    ret = check_target(&r, err);
    if (ret < 0)
        return ret;

    memset(&f, 0, sizeof(f));
    f.headers = headers;
    f.cap = lim->max_headers < max_headers ? lim->max_headers : max_headers;
    ret = parse_fields(p, end, &f, &head_end, err);
    if (ret == -EAGAIN)
        goto incomplete;
    if (ret < 0)
        return ret;

    /* framing (RFC 9112 6.1, 6.3): the smuggling defences */
    if (f.has_te) {
        if (f.has_cl)
            return fail(err, 400, "Content-Length with Transfer-Encoding");
        if (r.minor_version == 0)
            return fail(err, 400, "Transfer-Encoding in HTTP/1.0 request");
        if (!f.te_last_chunked)
            return fail(err, 400, "Transfer-Encoding does not end in chunked");
        if (f.te_other)
            return fail(err, 501, "unsupported transfer coding");
        r.body = HTTP1_BODY_CHUNKED;
        r.content_length = 0;
    } else if (f.has_cl) {
        r.body = HTTP1_BODY_LENGTH;
        r.content_length = f.content_length;
    } else {
        r.body = HTTP1_BODY_NONE;
        r.content_length = 0;
    }
    if (r.minor_version == 1 && f.n_host == 0)
        return fail(err, 400, "missing Host header");
    if (f.has_connection) {
        ret = apply_connection(&f, &co, err);
        if (ret < 0)
            return ret;
    }

    r.headers = headers;
    r.n_headers = f.n;
    r.host = f.host;
    r.host_len = f.host_len;
    r.keep_alive = !co.close && (r.minor_version == 1 || co.keep_alive);
    /* RFC 9110 10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored */
    r.expect_continue = f.expect_continue && r.minor_version == 1;
    r.is_head = r.method_len == 4 && memcmp(r.method, "HEAD", 4) == 0;
    r.has_upgrade = f.has_upgrade;
    *req = r;
    return (int) (head_end - buf);

incomplete_line:
    if ((size_t) (lend - line) > lim->max_request_line)
        return fail(err, 414, "request line too long");
incomplete:
    if (len > (size_t) (end - buf))
        return fail(err, 431, "request header section too large");
    return -EAGAIN;
}

int
http1_parse_response(const char *buf, size_t len, const struct http1_limits *lim,
                     bool request_was_head, struct http1_header *headers, size_t max_headers,
                     struct http1_response *rsp, struct http1_error *err)
{
    static const char pattern[] = "HTTP/#.# ###"; /* '#': DIGIT */
    const char *p = buf, *end = buf + head_cap(lim, len), *q, *head_end = NULL;
    const char *lend = line_window(buf, end, lim->max_request_line);
    struct http1_response r;
    struct fields f;
    struct conn_opts co = {false, false};
    int ret;

    for (size_t i = 0; i < sizeof(pattern) - 1; i++) {
        if (p + i == lend)
            goto incomplete_line;
        if (pattern[i] == '#' ? !IS_DIGIT(p[i]) : p[i] != pattern[i])
            return fail(err, 502, i < 9 ? "invalid status line" : "invalid status code");
    }
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
        return fail(err, 502, "unsupported HTTP version");
    if (p[9] == '0')
        return fail(err, 502, "invalid status code");
    r.minor_version = p[7] - '0';
    r.status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    p += 12;

    /* [ SP reason-phrase ] CRLF: the SP is optional when the phrase is empty */
    if (p == lend)
        goto incomplete_line;
    if (*p == ' ') {
        p++;
    } else if (*p != '\r') {
        if (*p == '\n')
            return fail(err, 502, "bare LF in status line");
        return fail(err, 502, "invalid status code");
    }
    q = p;
    p = find_ctl(p, lend);
    if (p == lend)
        goto incomplete_line;
    if (*p != '\r')
        return fail(err, 502,
                    *p == '\n' ? "bare LF in status line" : "control character in reason phrase");
    if (end - p < 2)
        goto incomplete;
    if (p[1] != '\n')
        return fail(err, 502, "bare CR in status line");
    r.reason = q;
    r.reason_len = (size_t) (p - q);
    p += 2;

    memset(&f, 0, sizeof(f));
    f.headers = headers;
    f.cap = lim->max_headers < max_headers ? lim->max_headers : max_headers;
    ret = parse_fields(p, end, &f, &head_end, err);
    if (ret == -EAGAIN)
        goto incomplete;
    if (ret < 0)
        goto bad_gateway;

    if (f.has_te) {
        if (f.has_cl)
            return fail(err, 502, "Content-Length with Transfer-Encoding");
        if (r.minor_version == 0)
            return fail(err, 502, "Transfer-Encoding in HTTP/1.0 response");
        if (!f.te_last_chunked)
            return fail(err, 502, "Transfer-Encoding does not end in chunked");
        if (f.te_other)
            return fail(err, 502, "unsupported transfer coding");
    }
    if (f.has_connection) {
        ret = apply_connection(&f, &co, err);
        if (ret < 0)
            goto bad_gateway;
    }

    /* RFC 9112 6.3: the first rule that applies decides */
    r.content_length = 0;
    if (request_was_head || r.status < 200 || r.status == 204 || r.status == 304) {
        r.body = HTTP1_BODY_NONE;
    } else if (f.has_te) {
        r.body = HTTP1_BODY_CHUNKED;
    } else if (f.has_cl) {
        r.body = HTTP1_BODY_LENGTH;
        r.content_length = f.content_length;
    } else {
        r.body = HTTP1_BODY_UNTIL_CLOSE;
    }
    r.headers = headers;
    r.n_headers = f.n;
    r.keep_alive =
        r.body != HTTP1_BODY_UNTIL_CLOSE && !co.close && (r.minor_version == 1 || co.keep_alive);
    *rsp = r;
    return (int) (head_end - buf);

bad_gateway:
    err->status = 502; /* the reason stays: it says what the upstream got wrong */
    return ret;
incomplete_line:
    if ((size_t) (lend - buf) > lim->max_request_line)
        return fail(err, 502, "status line too long");
incomplete:
    if (len > (size_t) (end - buf))
        return fail(err, 502, "response header section too large");
    return -EAGAIN;
}

/* Consumes one byte of a chunk-size or trailer line, bounding the line. */
static inline bool
line_byte(struct http1_chunked *c)
{
    return ++c->line_len <= CHUNK_LINE_MAX;
}

static int
chunked_fail(struct http1_chunked *c, struct http1_error *err, const char *reason)
{
    c->state = CH_ERROR;
    return fail(err, 400, reason);
}

int
http1_chunked_scan(struct http1_chunked *c, const char *buf, size_t len, size_t *ret_used,
                   struct http1_error *err)
{
    size_t i = 0;

    if (c->state == CH_DONE) {
        *ret_used = 0;
        return 1;
    }
    if (c->state == CH_ERROR)
        return fail(err, 400, "chunked body already failed");

    while (i < len) {
        unsigned char ch;

        if (c->state == CH_DATA) {
            uint64_t n = len - i < c->remaining ? len - i : c->remaining;

            i += (size_t) n;
            c->remaining -= n;
            c->data_bytes += n;
            if (c->remaining == 0)
                c->state = CH_DATA_CR;
            continue;
        }

        ch = (unsigned char) buf[i++];
        switch (c->state) {
        case CH_SIZE:
            if (IS_DIGIT(ch) || (unsigned char) ((ch | 0x20) - 'a') < 6) {
                if (c->line_len == 16)
                    return chunked_fail(c, err, "chunk size too large");
                c->line_len++;
                c->remaining = (c->remaining << 4) |
                               (unsigned) (IS_DIGIT(ch) ? ch - '0' : (ch | 0x20) - 'a' + 10);
            } else if (c->line_len == 0) {
                return chunked_fail(
                    c, err, ch == '\n' ? "bare LF in chunk size line" : "missing chunk size");
            } else if (ch == '\r') {
                c->state = CH_SIZE_LF;
            } else if (ch == ';') {
                c->line_len++;
                c->state = CH_EXT;
            } else if (IS_OWS(ch)) {
                c->line_len++;
                c->state = CH_SIZE_WS;
            } else if (ch == '\n') {
                return chunked_fail(c, err, "bare LF in chunk size line");
            } else {
                return chunked_fail(c, err, "invalid chunk size");
            }
            break;
        case CH_SIZE_WS:
            if (ch == ';')
                c->state = CH_EXT;
            else if (!IS_OWS(ch))
                return chunked_fail(c, err, "invalid chunk size line");
            if (!line_byte(c))
                return chunked_fail(c, err, "chunk size line too long");
            break;
        case CH_EXT:
            if (ch == '\r') {
                c->state = CH_SIZE_LF;
                break;
            }
            if (IS_BAD_VCHAR(ch))
                return chunked_fail(c, err,
                                    ch == '\n' ? "bare LF in chunk size line"
                                               : "control character in chunk extension");
            if (!line_byte(c))
                return chunked_fail(c, err, "chunk size line too long");
            break;
        case CH_SIZE_LF:
            if (ch != '\n')
                return chunked_fail(c, err, "bare CR in chunk size line");
            c->line_len = 0;
            c->state = c->remaining == 0 ? CH_TRAILER : CH_DATA;
            break;
        case CH_DATA_CR:
            if (ch != '\r')
                return chunked_fail(c, err,
                                    ch == '\n' ? "bare LF after chunk data"
                                               : "missing CRLF after chunk data");
            c->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (ch != '\n')
                return chunked_fail(c, err, "bare CR after chunk data");
            c->state = CH_SIZE;
            c->line_len = 0;
            c->remaining = 0;
            break;
        case CH_TRAILER:
            if (ch == '\r') {
                c->state = CH_END_LF;
            } else if (IS_TCHAR(ch)) {
                c->line_len = 1;
                c->state = CH_TR_NAME;
            } else if (ch == '\n') {
                return chunked_fail(c, err, "bare LF in trailer section");
            } else if (IS_OWS(ch)) {
                return chunked_fail(c, err, "obs-fold not allowed");
            } else if (ch == ':') {
                return chunked_fail(c, err, "empty trailer field name");
            } else {
                return chunked_fail(c, err, "invalid character in trailer field name");
            }
            break;
        case CH_TR_NAME:
            if (ch == ':') {
                c->state = CH_TR_VALUE;
            } else if (!IS_TCHAR(ch)) {
                if (IS_OWS(ch))
                    return chunked_fail(c, err, "whitespace before colon in trailer field");
                if (ch == '\n')
                    return chunked_fail(c, err, "bare LF in trailer section");
                if (ch == '\r')
                    return chunked_fail(c, err, "trailer field without colon");
                return chunked_fail(c, err, "invalid character in trailer field name");
            }
            if (!line_byte(c))
                return chunked_fail(c, err, "trailer line too long");
            break;
        case CH_TR_VALUE:
            if (ch == '\r') {
                c->state = CH_TR_LF;
                break;
            }
            if (IS_BAD_VCHAR(ch))
                return chunked_fail(c, err,
                                    ch == '\n' ? "bare LF in trailer section"
                                               : "control character in trailer field");
            if (!line_byte(c))
                return chunked_fail(c, err, "trailer line too long");
            break;
        case CH_TR_LF:
            if (ch != '\n')
                return chunked_fail(c, err, "bare CR in trailer section");
            c->line_len = 0;
            c->state = CH_TRAILER;
            break;
        case CH_END_LF:
            if (ch != '\n')
                return chunked_fail(c, err, "bare CR in trailer section");
            c->state = CH_DONE;
            *ret_used = i;
            return 1;
        default:
            return chunked_fail(c, err, "bug: invalid chunked scanner state");
        }
    }
    *ret_used = len;
    return 0;
}

bool
http1_is_l5d(const char *name, size_t len)
{
    /* c | 0x20 == 'l' only for 'L' and 'l', likewise for 'd' */
    return len >= 4 && (name[0] | 0x20) == 'l' && name[1] == '5' && (name[2] | 0x20) == 'd' &&
           name[3] == '-';
}

/* tests/fuzz/fuzz_http1_diff.c - differential check of our HTTP/1.1 parser (proto/http1.h)
 * against Debian's libhttp-parser 2.9 (Node's old parser), on the same bytes.
 *
 * The input format is fuzz_http1's, so that corpus replays here too: data[0] % 6 picks a
 * request head (0), a response head (1), a response to HEAD (2), a chunked body (3), or
 * the first message of a request (4) or response (5) stream, whose data[1] is skipped.
 *
 * Both parsers see the same bytes. They must agree on accept/reject, and on an accepted
 * head: method, request-target, version, status, the header fields (count, names, values
 * with surrounding whitespace trimmed, in order) and the body framing (none, Content-Length
 * and its value, chunked, until close); on a chunked body: where the message ends. The
 * only disagreements allowed are the deliberate ones of docs/fuzzing.md, "Differential
 * check", each recognised below by the reason our parser gives (we are stricter: we
 * reject what libhttp-parser accepts) or by a named property of the input (libhttp-parser
 * rejects what we accept). Anything else aborts with both verdicts printed. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "proto/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_H 64

static const char *cur_input; /* for the failure report */
static size_t cur_len;

static void
mismatch(const char *what, const char *ours, const char *theirs)
{
    fprintf(stderr, "fuzz_http1_diff: %s (ours: %s; libhttp-parser: %s)\ninput: \"", what,
            ours ? ours : "-", theirs ? theirs : "-");
    for (size_t i = 0; i < cur_len && i < 600; i++) {
        unsigned char c = (unsigned char) cur_input[i];

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "\"\n");
    abort();
}

#define CHECK(c, ours, theirs)                                                                     \
    do {                                                                                           \
        if (!(c))                                                                                  \
            mismatch(#c, ours, theirs);                                                            \
    } while (0)

/* ---- libhttp-parser's view ------------------------------------------------------------ */

struct span {
    size_t off, len; /* into <buf> of struct theirs */
};

struct theirs {
    char buf[16384]; /* target, names, values, reason: pieces appended as the callbacks come */
    size_t used;
    struct span url, status;
    struct span name[MAX_H], value[MAX_H];
    size_t n;        /* header fields */
    bool in_value;   /* the last callback was a value */
    bool overflow;   /* more than MAX_H fields or bytes than <buf>: not compared */
    bool head_done;  /* on_headers_complete ran */
    bool msg_done;   /* on_message_complete ran */
    bool skip_body;  /* answer "no body" from on_headers_complete (response to HEAD) */
    bool pause_at_head;
    unsigned flags;  /* parser flags at on_headers_complete */
    uint64_t content_length;
};

static struct theirs T;

static void
append(struct span *s, const char *at, size_t len)
{
    if (T.used + len > sizeof(T.buf)) {
        T.overflow = true;
        return;
    }
    if (s->len == 0)
        s->off = T.used;
    else if (s->off + s->len != T.used) {
        T.overflow = true; /* not contiguous: cannot happen, the pieces come in order */
        return;
    }
    memcpy(T.buf + T.used, at, len);
    T.used += len;
    s->len += len;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
    (void) p;
    append(&T.url, at, len);
    return 0;
}

static int
on_status(http_parser *p, const char *at, size_t len)
{
    (void) p;
    append(&T.status, at, len);
    return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
    (void) p;
    if (T.in_value || T.n == 0) {
        if (T.n == MAX_H) {
            T.overflow = true;
            return 0;
        }
        T.n++;
        T.in_value = false;
    }
    append(&T.name[T.n - 1], at, len);
    return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
    (void) p;
    T.in_value = true;
    if (T.n > 0 && T.n <= MAX_H)
        append(&T.value[T.n - 1], at, len);
    return 0;
}

static int
on_headers_complete(http_parser *p)
{
    T.head_done = true;
    T.flags = p->flags;
    T.content_length = p->content_length;
    if (T.pause_at_head)
        http_parser_pause(p, 1);
    return T.skip_body ? 1 : 0;
}

static int
on_message_complete(http_parser *p)
{
    T.msg_done = true;
    http_parser_pause(p, 1); /* one message only */
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

/* Runs libhttp-parser over <p>/<n>. Returns the bytes it consumed; *ret_err its errno
 * (HPE_PAUSED when it stopped where we asked). */
static http_parser HP;

static size_t
theirs_run(enum http_parser_type type, const char *p, size_t n, bool pause_at_head,
           bool skip_body, enum http_errno *ret_err)
{
    size_t used;

    memset(&T, 0, sizeof(T));
    T.pause_at_head = pause_at_head;
    T.skip_body = skip_body;
    http_parser_init(&HP, type);
    used = http_parser_execute(&HP, &settings, p, n);
    *ret_err = HTTP_PARSER_ERRNO(&HP);
    return used;
}

/* ---- comparison -------------------------------------------------------------------------- */

static bool
same(const char *a, size_t al, const char *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static void
trim_ows(const char **s, size_t *len)
{
    while (*len > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

/* Our rejections of what libhttp-parser accepts: every reason here is a deliberate
 * strictness of ours, documented in docs/fuzzing.md with its reason. Matched by prefix
 * where the reason names a position ("... in request line"). */
static const char *const stricter[] = {
    /* line ends and folding: smuggling vectors when the next hop parses differently */
    "bare LF ",
    "bare CR ",
    "obs-fold not allowed",
    "whitespace before colon in header field",
    "whitespace before first header field",
    "multiple spaces in request line",
    /* characters libhttp-parser lets through */
    "control character in ",
    "invalid character in header field name",
    "invalid character in method",
    "empty header field name",
    "header field without colon",
    /* framing (RFC 9112 6) */
    "invalid Content-Length",
    "Content-Length too large",
    "differing Content-Length values",
    "Transfer-Encoding in HTTP/1.0 request",
    "Transfer-Encoding in HTTP/1.0 response",
    "Transfer-Encoding does not end in chunked",
    "chunked applied more than once",
    "parameters on chunked transfer coding",
    "empty Transfer-Encoding element",
    "invalid Transfer-Encoding",
    "unsupported transfer coding",
    /* routing */
    "missing Host header",
    "multiple Host headers",
    "invalid Host header",
    "Connection names an end-to-end header",
    "invalid Connection header",
    /* request-target form (RFC 9112 3.2) */
    "CONNECT needs an authority-form request-target",
    "asterisk-form request-target is only for OPTIONS",
    "invalid request-target",
    /* versions: we take 1.0 and 1.1 only (505 for other HTTP/d.d); libhttp-parser takes a
     * request line without a version as HTTP/0.9 */
    "missing HTTP version",
    "missing request-target",
    "unsupported HTTP version",
    "invalid HTTP version",
    "invalid status line",
    "invalid status code",
    /* our limits (proto/http1.h), lower than libhttp-parser's 80 KB */
    "request line too long",
    "status line too long",
    "request header section too large",
    "response header section too large",
    "too many header fields",
    /* chunked bodies; libhttp-parser reads any byte >= 0x80 as the hex digit 0 (its unhex
     * table has 128 entries set, the rest are 0) */
    "missing chunk size",
    "invalid chunk size",
    "chunk size too large",
    "chunk size line too long",
    "trailer line too long",
    "missing CRLF after chunk data",
    "empty trailer field name",
    "invalid character in trailer field name",
    "whitespace before colon in trailer field",
    "trailer field without colon",
    NULL,
};

static bool
is_stricter(const char *reason)
{
    for (size_t i = 0; stricter[i] != NULL; i++)
        if (strncmp(reason, stricter[i], strlen(stricter[i])) == 0)
            return true;
    return false;
}

/* How many fields named <name>; whether any of their values holds a ','; whether any has
 * an HTAB in the whitespace around its value (the value points into the input, so the
 * bytes between the colon and the CR are there to look at). */
static size_t
count_fields(const struct http1_header *h, size_t n, const char *name, bool *ret_list,
             bool *ret_tab)
{
    size_t k = 0;

    *ret_list = *ret_tab = false;
    for (size_t i = 0; i < n; i++) {
        if (h[i].name_len == strlen(name) && strncasecmp(h[i].name, name, h[i].name_len) == 0) {
            const char *p;

            k++;
            if (memchr(h[i].value, ',', h[i].value_len) != NULL)
                *ret_list = true;
            for (p = h[i].name + h[i].name_len + 1; p < h[i].value; p++)
                *ret_tab |= *p == '\t';
            for (p = h[i].value + h[i].value_len; *p != '\r'; p++)
                *ret_tab |= *p == '\t';
        }
    }
    return k;
}

/* libhttp-parser 2.9.4 takes a field whose name merely starts with Transfer-Encoding
 * ("Transfer-Encodingx") for Transfer-Encoding: beside a Content-Length it rejects the
 * message, and its value replaces the real one's "chunked" (so it frames differently). */
static bool
te_prefix_name(const struct http1_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].name_len > 17 && strncasecmp(h[i].name, "transfer-encoding", 17) == 0)
            return true;
    return false;
}

/* libhttp-parser's rejections of what we accept, each recognised by a property of the
 * input (docs/fuzzing.md): returns the explanation, or NULL when there is none. <method>
 * is NULL for a response. */
static const char *
theirs_stricter(const char *method, size_t method_len, const struct http1_header *h, size_t n,
                enum http_errno e)
{
    bool list, tab;
    size_t k;

    /* libhttp-parser knows a fixed list of methods; a method is any token for us */
    if (e == HPE_INVALID_METHOD && method != NULL) {
        for (int i = 0; i < 64; i++) {
            const char *s = http_method_str((enum http_method) i);

            if (strcmp(s, "<unknown>") == 0)
                break;
            if (same(method, method_len, s, strlen(s)))
                return NULL; /* a method it knows: no excuse */
        }
        return "method outside libhttp-parser's list";
    }
    /* its URL parser is stricter than RFC 9112's request-target grammar (it checks
     * userinfo, ports, and rejects some bytes >= 0x80 and '#' and others in the path) */
    if (method != NULL &&
        (e == HPE_INVALID_URL || e == HPE_INVALID_HOST || e == HPE_INVALID_PORT ||
         e == HPE_INVALID_PATH || e == HPE_INVALID_QUERY_STRING || e == HPE_INVALID_FRAGMENT))
        return "libhttp-parser's URL parser";
    /* equal Content-Length values, repeated or as a list, count once for us (RFC 9112
     * 6.3 allows it); libhttp-parser rejects any repetition */
    k = count_fields(h, n, "content-length", &list, &tab);
    if (e == HPE_UNEXPECTED_CONTENT_LENGTH && k >= 2)
        return "repeated equal Content-Length";
    if (e == HPE_INVALID_CONTENT_LENGTH && list)
        return "Content-Length list of equal values";
    /* libhttp-parser 2.9.4 marks Transfer-Encoding present on any field name that starts
     * with it ("Transfer-Encodingx"), and then rejects the Content-Length beside it */
    if (e == HPE_UNEXPECTED_CONTENT_LENGTH && k >= 1 && te_prefix_name(h, n))
        return "a field name starting with Transfer-Encoding";
    /* OWS is SP or HTAB (RFC 9110 5.6.3); libhttp-parser allows only SP around a
     * Content-Length value */
    if (e == HPE_INVALID_CONTENT_LENGTH && tab)
        return "HTAB around the Content-Length value";
    return NULL;
}

/* OWS around "chunked" may be HTAB; libhttp-parser then does not see chunked (and reads
 * a response until close, a request as bodiless). We read chunked, as RFC 9110 5.6.3. */
static bool
te_tab_differs(const struct http1_header *h, size_t n, enum http1_body ours)
{
    bool list, tab;

    return ours == HTTP1_BODY_CHUNKED && count_fields(h, n, "transfer-encoding", &list, &tab) > 0 &&
           tab;
}

static void
body_kind_theirs(bool response, int status, bool to_head, enum http1_body *ret, uint64_t *cl)
{
    *cl = 0;
    if (response && (to_head || (status >= 100 && status < 200) || status == 204 ||
                     status == 304)) {
        *ret = HTTP1_BODY_NONE;
    } else if (T.flags & F_CHUNKED) {
        *ret = HTTP1_BODY_CHUNKED;
    } else if (T.flags & F_CONTENTLENGTH) {
        *ret = HTTP1_BODY_LENGTH;
        *cl = T.content_length;
    } else {
        *ret = response ? HTTP1_BODY_UNTIL_CLOSE : HTTP1_BODY_NONE;
    }
}

static void
compare_headers(const struct http1_header *h, size_t n)
{
    if (T.overflow)
        return;
    CHECK(n == T.n, "field count", "field count");
    for (size_t i = 0; i < n; i++) {
        const char *v = T.buf + T.value[i].off;
        size_t vl = T.value[i].len;

        trim_ows(&v, &vl);
        CHECK(same(h[i].name, h[i].name_len, T.buf + T.name[i].off, T.name[i].len), "name",
              "name");
        CHECK(same(h[i].value, h[i].value_len, v, vl), "value", "value");
    }
}

static const struct http1_limits lim = {
    .max_request_line = 4096, .max_head = 8192, .max_headers = MAX_H};

static void
diff_request(const char *p, size_t n)
{
    struct http1_header h[MAX_H];
    struct http1_request r;
    struct http1_error err = {0};
    enum http_errno e;
    int rc = http1_parse_request(p, n, &lim, h, MAX_H, &r, &err);
    size_t used = theirs_run(HTTP_REQUEST, p, n, true, false, &e);
    bool theirs_ok = T.head_done && (e == HPE_OK || e == HPE_PAUSED);
    bool theirs_bad = !theirs_ok && e != HPE_OK;

    (void) used;
    if (rc > 0) {
        enum http1_body b;
        uint64_t cl;

        if (theirs_bad) {
            const char *why = theirs_stricter(r.method, r.method_len, h, r.n_headers, e);

            CHECK(why != NULL, "accepted", http_errno_name(e));
            return;
        }
        CHECK(theirs_ok, "accepted", "incomplete");
        {
            const char *m = http_method_str((enum http_method) HP.method);

            CHECK(same(r.method, r.method_len, m, strlen(m)), "method", m);
        }
        if (!T.overflow)
            CHECK(same(r.target, r.target_len, T.buf + T.url.off, T.url.len), "target",
                  "target");
        CHECK(HP.http_major == 1 && r.minor_version == HP.http_minor, "version", "version");
        compare_headers(h, r.n_headers);
        body_kind_theirs(false, 0, false, &b, &cl);
        if (b != r.body && (te_tab_differs(h, r.n_headers, r.body) || te_prefix_name(h, r.n_headers)))
            return;
        CHECK(b == r.body, "framing", "framing");
        CHECK(cl == r.content_length, "Content-Length", "Content-Length");
    } else if (rc == -EBADMSG) {
        if (theirs_ok)
            CHECK(is_stricter(err.reason), err.reason, "accepted");
    } else {
        /* incomplete for us: libhttp-parser may have failed early on a byte we have not
         * judged yet (we stop at the limits only), but it cannot have a whole head */
        CHECK(!T.head_done, "incomplete", "head complete");
    }
}

static void
diff_response(const char *p, size_t n, bool to_head)
{
    struct http1_header h[MAX_H];
    struct http1_response r;
    struct http1_error err = {0};
    enum http_errno e;
    int rc = http1_parse_response(p, n, &lim, to_head, h, MAX_H, &r, &err);
    size_t used = theirs_run(HTTP_RESPONSE, p, n, true, to_head, &e);
    bool theirs_ok = T.head_done && (e == HPE_OK || e == HPE_PAUSED);
    bool theirs_bad = !theirs_ok && e != HPE_OK;

    (void) used;
    if (rc > 0) {
        enum http1_body b;
        uint64_t cl;

        if (theirs_bad) {
            const char *why = theirs_stricter(NULL, 0, h, r.n_headers, e);

            CHECK(why != NULL, "accepted", http_errno_name(e));
            return;
        }
        CHECK(theirs_ok, "accepted", "incomplete");
        CHECK(HP.http_major == 1 && r.minor_version == HP.http_minor, "version", "version");
        CHECK(r.status == (int) HP.status_code, "status", "status");
        if (!T.overflow)
            CHECK(same(r.reason, r.reason_len, T.buf + T.status.off, T.status.len), "reason",
                  "reason");
        compare_headers(h, r.n_headers);
        body_kind_theirs(true, r.status, to_head, &b, &cl);
        if (b != r.body && (te_tab_differs(h, r.n_headers, r.body) || te_prefix_name(h, r.n_headers)))
            return;
        CHECK(b == r.body, "framing", "framing");
        CHECK(cl == r.content_length || b != HTTP1_BODY_LENGTH, "Content-Length",
              "Content-Length");
    } else if (rc == -EBADMSG) {
        if (theirs_ok)
            CHECK(is_stricter(err.reason), err.reason, "accepted");
    } else {
        CHECK(!T.head_done, "incomplete", "head complete");
    }
}

/* A chunked body after a fixed head: both must end the message at the same byte. */
static void
diff_chunked(const char *p, size_t n)
{
    static const char head[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    static char buf[sizeof(head) + 65536];
    struct http1_chunked c = {0};
    struct http1_error err = {0};
    size_t used = 0, hl = sizeof(head) - 1, theirs_used;
    enum http_errno e;
    int rc;

    if (n > sizeof(buf) - hl)
        return;
    memcpy(buf, head, hl);
    memcpy(buf + hl, p, n);
    rc = http1_chunked_scan(&c, p, n, &used, &err);
    theirs_used = theirs_run(HTTP_REQUEST, buf, hl + n, false, false, &e);
    CHECK(T.head_done, "head", "head");
    if (rc == 1) {
        /* libhttp-parser reads trailer fields with its header rules: a Content-Length or
         * Transfer-Encoding trailer is judged as one (we forward trailers unread) */
        if (!T.msg_done && (HP.flags & F_TRAILING) &&
            (e == HPE_INVALID_CONTENT_LENGTH || e == HPE_UNEXPECTED_CONTENT_LENGTH ||
             e == HPE_INVALID_TRANSFER_ENCODING || e == HPE_INVALID_HEADER_TOKEN))
            return;
        /* BWS before a chunk extension may be HTAB (RFC 9112 7.1.1); libhttp-parser takes
         * SP only (it stops at the offending byte) */
        if (!T.msg_done && e == HPE_INVALID_CHUNK_SIZE && theirs_used >= hl &&
            theirs_used < hl + n && p[theirs_used - hl] == '\t')
            return;
        CHECK(T.msg_done, "message ended", http_errno_name(e));
        CHECK(theirs_used == hl + used, "end of message", "end of message");
    } else if (rc < 0) {
        if (T.msg_done)
            CHECK(is_stricter(err.reason), err.reason, "ended");
    } else {
        CHECK(!T.msg_done, "needs more", "ended");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p;
    size_t n, skip;
    int mode;

    if (size < 2)
        return 0;
    mode = data[0] % 6;
    skip = mode >= 4 ? 2 : 1;
    if (size < skip)
        return 0;
    n = size - skip;
    p = malloc(n ? n : 1);
    if (p == NULL)
        return 0;
    memcpy(p, data + skip, n);
    cur_input = p;
    cur_len = n;
    switch (mode) {
    case 0:
    case 4:
        diff_request(p, n);
        break;
    case 1:
    case 5:
        diff_response(p, n, false);
        break;
    case 2:
        diff_response(p, n, true);
        break;
    case 3:
        diff_chunked(p, n);
        break;
    }
    free(p);
    return 0;
}

/* tests/unit/test_http1.c - the HTTP/1.1 head parser and chunked scanner, through
 * proto/http1.h only: request line, header fields, the request-smuggling defences one by
 * one, limits, framing and connection options, responses, and the chunked scanner fed in
 * arbitrary splits. Every rejection is checked for its status and its exact reason. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http1.h"
#include "tests/lib/check_main.h"

#define MAX_HDRS 64

static struct http1_limits lim;
static struct http1_header hdrs[MAX_HDRS];
static struct http1_request req;
static struct http1_response rsp;
static struct http1_error err;

static void
setup(void)
{
    lim.max_request_line = 8192;
    lim.max_head = 65536;
    lim.max_headers = MAX_HDRS;
    memset(hdrs, 0, sizeof(hdrs));
    memset(&req, 0, sizeof(req));
    memset(&rsp, 0, sizeof(rsp));
    err.status = 0;
    err.reason = NULL;
}

static int
parse_req_n(const char *s, size_t len)
{
    return http1_parse_request(s, len, &lim, hdrs, MAX_HDRS, &req, &err);
}

static int
parse_req(const char *s)
{
    return parse_req_n(s, strlen(s));
}

static int
parse_rsp(const char *s, bool head)
{
    return http1_parse_response(s, strlen(s), &lim, head, hdrs, MAX_HDRS, &rsp, &err);
}

/* feeds <s> in one call to a fresh scanner */
static int
scan_all(const char *s, size_t len, struct http1_chunked *c, size_t *used)
{
    memset(c, 0, sizeof(*c));
    return http1_chunked_scan(c, s, len, used, &err);
}

#define REQ_OK(s) ck_assert_int_eq(parse_req(s), (int) strlen(s))
#define REQ_ERR(s, st, why)                                                                        \
    do {                                                                                           \
        ck_assert_int_eq(parse_req(s), -EBADMSG);                                                  \
        ck_assert_int_eq(err.status, (st));                                                        \
        ck_assert_str_eq(err.reason, (why));                                                       \
    } while (0)
#define RSP_OK(s, head) ck_assert_int_eq(parse_rsp((s), (head)), (int) strlen(s))
#define RSP_ERR(s, why)                                                                            \
    do {                                                                                           \
        ck_assert_int_eq(parse_rsp((s), false), -EBADMSG);                                         \
        ck_assert_int_eq(err.status, 502);                                                         \
        ck_assert_str_eq(err.reason, (why));                                                       \
    } while (0)
#define CHUNKED_ERR(s, why)                                                                        \
    do {                                                                                           \
        struct http1_chunked c_;                                                                   \
        size_t u_ = 12345;                                                                         \
        ck_assert_int_eq(scan_all((s), strlen(s), &c_, &u_), -EBADMSG);                            \
        ck_assert_int_eq(err.status, 400);                                                         \
        ck_assert_str_eq(err.reason, (why));                                                       \
    } while (0)

#define H11 " HTTP/1.1\r\nHost: example.com\r\n"

static bool
span_eq(const char *p, size_t len, const char *s)
{
    return len == strlen(s) && memcmp(p, s, len) == 0;
}

static const struct http1_header *
find_hdr(const char *name)
{
    for (size_t i = 0; i < req.n_headers; i++) {
        if (span_eq(req.headers[i].name, req.headers[i].name_len, name))
            return &req.headers[i];
    }
    return NULL;
}

/* ---- request line ---------------------------------------------------------------- */

START_TEST(test_http1_request_line_origin_form)
{
    const char *s = "GET /a/b?c=d&e HTTP/1.1\r\nHost: example.com\r\n\r\n";

    REQ_OK(s);
    ck_assert(span_eq(req.method, req.method_len, "GET"));
    ck_assert(span_eq(req.target, req.target_len, "/a/b?c=d&e"));
    ck_assert_int_eq(req.minor_version, 1);
    ck_assert_uint_eq(req.n_headers, 1);
    ck_assert_ptr_eq(req.headers, hdrs);
    ck_assert(span_eq(req.host, req.host_len, "example.com"));
    ck_assert_int_eq(req.body, HTTP1_BODY_NONE);
    ck_assert(req.keep_alive);
    ck_assert(!req.is_head);
    ck_assert(!req.expect_continue);
    ck_assert(!req.has_upgrade);
}
END_TEST

START_TEST(test_http1_request_line_absolute_form)
{
    REQ_OK("GET http://example.com:8080/x?y" H11 "\r\n");
    ck_assert(span_eq(req.target, req.target_len, "http://example.com:8080/x?y"));
    REQ_OK("GET https://example.com" H11 "\r\n");
    REQ_ERR("GET example.com/x" H11 "\r\n", 400, "invalid request-target");
    REQ_ERR("GET http:/x" H11 "\r\n", 400, "invalid request-target");
    REQ_ERR("GET 1http://x/" H11 "\r\n", 400, "invalid request-target");
    REQ_ERR("GET http://" H11 "\r\n", 400, "invalid request-target");
}
END_TEST

START_TEST(test_http1_request_line_authority_form)
{
    REQ_OK("CONNECT example.com:443" H11 "\r\n");
    ck_assert(span_eq(req.target, req.target_len, "example.com:443"));
    REQ_OK("CONNECT [::1]:8443" H11 "\r\n");
    REQ_ERR("CONNECT /x" H11 "\r\n", 400, "CONNECT needs an authority-form request-target");
    REQ_ERR("CONNECT example.com" H11 "\r\n", 400,
            "CONNECT needs an authority-form request-target");
    REQ_ERR("CONNECT example.com:" H11 "\r\n", 400,
            "CONNECT needs an authority-form request-target");
    REQ_ERR("CONNECT :443" H11 "\r\n", 400, "CONNECT needs an authority-form request-target");
    REQ_ERR("CONNECT a@b:443" H11 "\r\n", 400, "CONNECT needs an authority-form request-target");
    REQ_ERR("CONNECT http://b:443/" H11 "\r\n", 400,
            "CONNECT needs an authority-form request-target");
    /* authority-form is for CONNECT only */
    REQ_ERR("GET example.com:443" H11 "\r\n", 400, "invalid request-target");
}
END_TEST

START_TEST(test_http1_request_line_asterisk_form)
{
    REQ_OK("OPTIONS *" H11 "\r\n");
    ck_assert(span_eq(req.target, req.target_len, "*"));
    REQ_ERR("GET *" H11 "\r\n", 400, "asterisk-form request-target is only for OPTIONS");
    REQ_ERR("OPTIONS *x" H11 "\r\n", 400, "invalid request-target");
}
END_TEST

START_TEST(test_http1_request_line_versions)
{
    REQ_OK("GET / HTTP/1.0\r\n\r\n");
    ck_assert_int_eq(req.minor_version, 0);
    ck_assert_ptr_null(req.host);
    REQ_ERR("GET / HTTP/2.0\r\n\r\n", 505, "unsupported HTTP version");
    REQ_ERR("GET / HTTP/1.2\r\n\r\n", 505, "unsupported HTTP version");
    REQ_ERR("GET / HTTP/0.9\r\n\r\n", 505, "unsupported HTTP version");
    REQ_ERR("GET / HTTP/3.1\r\n\r\n", 505, "unsupported HTTP version");
    REQ_ERR("GET / HTTP/1.1x\r\n\r\n", 400, "invalid HTTP version");
    REQ_ERR("GET / HTTX/1.1\r\n\r\n", 400, "invalid HTTP version");
    REQ_ERR("GET / http/1.1\r\n\r\n", 400, "invalid HTTP version");
    REQ_ERR("GET / HTTP/11\r\n\r\n", 400, "invalid HTTP version");
    REQ_ERR("GET / HTTP/1.10\r\n\r\n", 400, "invalid HTTP version");
    REQ_ERR("GET / HTTP/1\r\n\r\n", 400, "invalid HTTP version");
    REQ_ERR("GET / HTTP/a.b\r\n\r\n", 400, "invalid HTTP version");
    REQ_ERR("GET / HTTP/1.1 \r\n\r\n", 400, "invalid HTTP version");
    REQ_ERR("GET / \r\n\r\n", 400, "invalid HTTP version");
    REQ_ERR("GET /\r\n\r\n", 400, "missing HTTP version");
}
END_TEST

START_TEST(test_http1_request_line_single_spaces)
{
    REQ_ERR("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "multiple spaces in request line");
    REQ_ERR("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid HTTP version");
    REQ_ERR("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in method");
    REQ_ERR("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", 400, "control character in request-target");
    REQ_ERR("GET / a HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid HTTP version");
    REQ_ERR("GET\r\n\r\n", 400, "invalid character in method");
    REQ_ERR("GET \r\n\r\n", 400, "missing request-target");
}
END_TEST

START_TEST(test_http1_request_line_method)
{
    REQ_OK("PURGE /x" H11 "\r\n");
    ck_assert(span_eq(req.method, req.method_len, "PURGE"));
    REQ_OK("M-SEARCH! /x" H11 "\r\n");
    REQ_ERR(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid method");
    REQ_ERR("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in method");
    REQ_ERR("GE:T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in method");
    REQ_ERR("\x80GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid method");
}
END_TEST

START_TEST(test_http1_request_line_target_chars)
{
    static const char nul[] = "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n";

    REQ_ERR("GET /a\x01"
            "b HTTP/1.1\r\nHost: a\r\n\r\n",
            400, "control character in request-target");
    REQ_ERR("GET /a\x7f"
            "b HTTP/1.1\r\nHost: a\r\n\r\n",
            400, "control character in request-target");
    REQ_ERR("GET /aaaaaaaaaaaaaaaaa\x1f"
            "b HTTP/1.1\r\nHost: a\r\n\r\n",
            400, "control character in request-target");
    ck_assert_int_eq(parse_req_n(nul, sizeof(nul) - 1), -EBADMSG);
    ck_assert_str_eq(err.reason, "control character in request-target");
    /* obs-text passes through, as the upstream decides what a path means */
    REQ_OK("GET /caf\xc3\xa9" H11 "\r\n");
    ck_assert_uint_eq(req.target_len, 6);
}
END_TEST

START_TEST(test_http1_request_line_line_endings)
{
    REQ_ERR("GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF in request line");
    REQ_ERR("GET /\nHost: a\r\n\r\n", 400, "bare LF in request line");
    REQ_ERR("GET\n", 400, "bare LF in request line");
    REQ_ERR("GET / HTTP/1.1\rHost: a\r\n\r\n", 400, "bare CR in request line");
    REQ_ERR("GET / HTTP/1.1\r\r\n\r\n", 400, "bare CR in request line");
    REQ_ERR("GET /a\rb HTTP/1.1\r\n\r\n", 400, "missing HTTP version");
}
END_TEST

START_TEST(test_http1_request_line_leading_crlf)
{
    const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";

    REQ_OK(s); /* the length covers the skipped empty lines */
    ck_assert(span_eq(req.method, req.method_len, "GET"));
    ck_assert_ptr_eq(req.method, s + 4);
    ck_assert_int_eq(parse_req("\r\n"), -EAGAIN);
    ck_assert_int_eq(parse_req("\r"), -EAGAIN);
    REQ_ERR("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare LF in request line");
    REQ_ERR("\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare LF in request line");
    REQ_ERR("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare CR in request line");
}
END_TEST

START_TEST(test_http1_request_line_is_head)
{
    REQ_OK("HEAD /" H11 "\r\n");
    ck_assert(req.is_head);
    REQ_OK("head /" H11 "\r\n"); /* methods are case-sensitive: an unknown method */
    ck_assert(!req.is_head);
    REQ_OK("HEADX /" H11 "\r\n");
    ck_assert(!req.is_head);
}
END_TEST

/* ---- header fields ----------------------------------------------------------------- */

START_TEST(test_http1_headers_values)
{
    static const char s[] = "GET / HTTP/1.1\r\n"
                            "Host:example.com\r\n"
                            "X-A:  a  b \t \r\n"
                            "X-Empty:\r\n"
                            "X-Blank:   \r\n"
                            "X-Tab: a\tb\r\n"
                            "X-Obs: caf\xc3\xa9\r\n"
                            "X-Long: 0123456789abcdef0123456789abcdef0123456789\r\n"
                            "\r\n";
    const struct http1_header *h;

    REQ_OK(s);
    ck_assert_uint_eq(req.n_headers, 7);
    ck_assert(span_eq(req.host, req.host_len, "example.com"));
    h = find_hdr("X-A");
    ck_assert_ptr_nonnull(h);
    ck_assert(span_eq(h->value, h->value_len, "a  b"));
    h = find_hdr("X-Empty");
    ck_assert_uint_eq(h->value_len, 0);
    h = find_hdr("X-Blank");
    ck_assert_uint_eq(h->value_len, 0);
    h = find_hdr("X-Tab");
    ck_assert(span_eq(h->value, h->value_len, "a\tb"));
    h = find_hdr("X-Obs");
    ck_assert(span_eq(h->value, h->value_len, "caf\xc3\xa9"));
    h = find_hdr("X-Long");
    ck_assert(span_eq(h->value, h->value_len, "0123456789abcdef0123456789abcdef0123456789"));
    /* pointers are into the caller's buffer */
    ck_assert(h->name > s && h->name < s + sizeof(s));
}
END_TEST

START_TEST(test_http1_headers_ids)
{
    static const struct {
        const char *name;
        enum http1_hdr_id id;
    } cases[] = {
        {"Host", HTTP1_HDR_HOST},
        {"content-length", HTTP1_HDR_CONTENT_LENGTH},
        {"TRANSFER-ENCODING", HTTP1_HDR_TRANSFER_ENCODING},
        {"Connection", HTTP1_HDR_CONNECTION},
        {"Keep-Alive", HTTP1_HDR_KEEP_ALIVE},
        {"Proxy-Connection", HTTP1_HDR_PROXY_CONNECTION},
        {"Proxy-Authenticate", HTTP1_HDR_PROXY_AUTHENTICATE},
        {"Proxy-Authorization", HTTP1_HDR_PROXY_AUTHORIZATION},
        {"TE", HTTP1_HDR_TE},
        {"Trailer", HTTP1_HDR_TRAILER},
        {"Upgrade", HTTP1_HDR_UPGRADE},
        {"Expect", HTTP1_HDR_EXPECT},
        {"VIA", HTTP1_HDR_VIA},
        {"l5d-dst-override", HTTP1_HDR_L5D},
        {"L5D-CTX-TRACE", HTTP1_HDR_L5D},
        {"l5d-", HTTP1_HDR_L5D},
        {"l5d", HTTP1_HDR_OTHER},
        {"l5dx-a", HTTP1_HDR_OTHER},
        {"Hosts", HTTP1_HDR_OTHER},
        {"Content-Lengt", HTTP1_HDR_OTHER},
        {"Connectio_", HTTP1_HDR_OTHER},
        {"Trailers", HTTP1_HDR_OTHER},
        {"X-Forwarded-For", HTTP1_HDR_OTHER},
    };
    char buf[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *val = cases[i].id == HTTP1_HDR_CONTENT_LENGTH      ? "0"
                          : cases[i].id == HTTP1_HDR_TRANSFER_ENCODING ? "chunked"
                                                                       : "x";
        int n = snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\n%s: %s\r\n%s\r\n", cases[i].name,
                         val, cases[i].id == HTTP1_HDR_HOST ? "" : "Host: h\r\n");

        ck_assert_msg(parse_req(buf) == n, "%s: %s", cases[i].name, err.reason);
        ck_assert_msg(hdrs[0].id == cases[i].id, "%s: id %d", cases[i].name, hdrs[0].id);
    }
}
END_TEST

START_TEST(test_http1_headers_hop_flags)
{
    static const char *const hop[] = {
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    };
    static const char *const e2e[] = {"Host",   "Content-Length", "Via",
                                      "Expect", "l5d-x",          "X-Other"};
    char buf[256];

    for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++) {
        const char *val = strcmp(hop[i], "Transfer-Encoding") == 0 ? "chunked" : "x";
        int n =
            snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nHost: h\r\n%s: %s\r\n\r\n", hop[i], val);

        ck_assert_msg(parse_req(buf) == n, "%s: %s", hop[i], err.reason);
        ck_assert_msg(hdrs[1].flags & HTTP1_HDR_F_HOP, "%s not hop-by-hop", hop[i]);
        ck_assert(!(hdrs[0].flags & HTTP1_HDR_F_HOP));
    }
    for (size_t i = 0; i < sizeof(e2e) / sizeof(e2e[0]); i++) {
        int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.0\r\n%s: 1\r\n\r\n", e2e[i]);

        ck_assert_msg(parse_req(buf) == n, "%s: %s", e2e[i], err.reason);
        ck_assert_msg(!(hdrs[0].flags & HTTP1_HDR_F_HOP), "%s hop-by-hop", e2e[i]);
    }
}
END_TEST

START_TEST(test_http1_headers_connection_names_hop)
{
    REQ_OK("GET / HTTP/1.1\r\n"
           "X-Foo: 1\r\n"
           "Host: h\r\n"
           "Connection: keep-alive, x-foo,,  X-BAR \r\n"
           "x-bar: 2\r\n"
           "X-Baz: 3\r\n"
           "connection: X-Qux\r\n"
           "X-QUX: 4\r\n"
           "X-Fooo: 5\r\n"
           "\r\n");
    ck_assert(find_hdr("X-Foo")->flags & HTTP1_HDR_F_HOP);
    ck_assert(find_hdr("x-bar")->flags & HTTP1_HDR_F_HOP);
    ck_assert(find_hdr("X-QUX")->flags & HTTP1_HDR_F_HOP);
    ck_assert(!(find_hdr("X-Baz")->flags & HTTP1_HDR_F_HOP));
    ck_assert(!(find_hdr("X-Fooo")->flags & HTTP1_HDR_F_HOP));
    ck_assert(!(find_hdr("Host")->flags & HTTP1_HDR_F_HOP));
    ck_assert(req.keep_alive);
    REQ_ERR("GET /" H11 "Connection: clo(se\r\n\r\n", 400, "invalid Connection header");
    REQ_ERR("GET /" H11 "Connection: close;x\r\n\r\n", 400, "invalid Connection header");
}
END_TEST

START_TEST(test_http1_headers_name_chars)
{
    REQ_OK("GET /" H11 "X!#$%&'*+-.^_`|~09az: 1\r\n\r\n");
    REQ_ERR("GET /" H11 "X(y: 1\r\n\r\n", 400, "invalid character in header field name");
    REQ_ERR("GET /" H11 "X\x01y: 1\r\n\r\n", 400, "invalid character in header field name");
    REQ_ERR("GET /" H11 "\"x\": 1\r\n\r\n", 400, "invalid character in header field name");
    REQ_ERR("GET /" H11 "X\xc3\xa9: 1\r\n\r\n", 400, "invalid character in header field name");
    REQ_ERR("GET /" H11 ": 1\r\n\r\n", 400, "empty header field name");
    REQ_ERR("GET /" H11 "NoColon\r\n\r\n", 400, "header field without colon");
}
END_TEST

START_TEST(test_http1_headers_value_ctl)
{
    static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";

    REQ_ERR("GET /" H11 "X: a\x01"
            "b\r\n\r\n",
            400, "control character in header field value");
    REQ_ERR("GET /" H11 "X: a\x7f"
            "b\r\n\r\n",
            400, "control character in header field value");
    REQ_ERR("GET /" H11 "X: 0123456789abcdef\x1b\r\n\r\n", 400,
            "control character in header field value");
    ck_assert_int_eq(parse_req_n(nul, sizeof(nul) - 1), -EBADMSG);
    ck_assert_int_eq(err.status, 400);
    ck_assert_str_eq(err.reason, "control character in header field value");
    REQ_OK("GET /" H11 "X: \ta\tb\t\r\n\r\n");
    ck_assert(span_eq(find_hdr("X")->value, find_hdr("X")->value_len, "a\tb"));
}
END_TEST

START_TEST(test_http1_headers_is_l5d)
{
    ck_assert(http1_is_l5d("l5d-dst-override", 16));
    ck_assert(http1_is_l5d("L5D-Err", 7));
    ck_assert(http1_is_l5d("l5d-", 4));
    ck_assert(!http1_is_l5d("l5d-", 3));
    ck_assert(!http1_is_l5d("l5d_x", 5));
    ck_assert(!http1_is_l5d("x-l5d-a", 7));
    ck_assert(!http1_is_l5d("", 0));
    ck_assert(!http1_is_l5d(",5d-a", 5)); /* 0x2c | 0x20 is not 'l' */
    ck_assert(!http1_is_l5d("l5D\x0d", 4));
}
END_TEST

/* ---- smuggling defences ------------------------------------------------------------ */

START_TEST(test_http1_smuggling_cl_with_te)
{
    REQ_ERR("POST /" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
            "Content-Length with Transfer-Encoding");
    REQ_ERR("POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400,
            "Content-Length with Transfer-Encoding");
    REQ_ERR("POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400,
            "Content-Length with Transfer-Encoding");
}
END_TEST

START_TEST(test_http1_smuggling_cl_duplicates)
{
    REQ_OK("POST /" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n");
    ck_assert_int_eq(req.body, HTTP1_BODY_LENGTH);
    ck_assert_uint_eq(req.content_length, 5);
    REQ_OK("POST /" H11 "Content-Length: 5, 5\r\n\r\n");
    ck_assert_uint_eq(req.content_length, 5);
    REQ_OK("POST /" H11 "Content-Length: 5,5 ,\t5\r\ncontent-length: 5\r\n\r\n");
    ck_assert_uint_eq(req.content_length, 5);
    REQ_ERR("POST /" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
            "differing Content-Length values");
    REQ_ERR("POST /" H11 "Content-Length: 5, 6\r\n\r\n", 400, "differing Content-Length values");
    REQ_ERR("POST /" H11 "Content-Length: 5, 5\r\nContent-Length: 50\r\n\r\n", 400,
            "differing Content-Length values");
    REQ_ERR("POST /" H11 "Content-Length: 0\r\nContent-Length: 00000000000000000000001\r\n\r\n",
            400, "differing Content-Length values");
}
END_TEST

START_TEST(test_http1_smuggling_cl_syntax)
{
    static const char *const bad[] = {"",   "-1",  "+5", "5a",    "0x10", "5 5", "5,",
                                      ",5", "1.0", "5;", "\"5\"", "5,,5", "1e3"};
    char buf[128];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf), "POST /" H11 "Content-Length: %s\r\n\r\n", bad[i]);
        ck_assert_msg(parse_req(buf) == -EBADMSG, "accepted \"%s\"", bad[i]);
        ck_assert_int_eq(err.status, 400);
        ck_assert_str_eq(err.reason, "invalid Content-Length");
    }
    REQ_OK("POST /" H11 "Content-Length:  007 \r\n\r\n");
    ck_assert_uint_eq(req.content_length, 7);
}
END_TEST

START_TEST(test_http1_smuggling_cl_overflow)
{
    REQ_OK("POST /" H11 "Content-Length: 18446744073709551615\r\n\r\n");
    ck_assert_uint_eq(req.content_length, UINT64_MAX);
    REQ_ERR("POST /" H11 "Content-Length: 18446744073709551616\r\n\r\n", 400,
            "Content-Length too large");
    REQ_ERR("POST /" H11 "Content-Length: 99999999999999999999999999\r\n\r\n", 400,
            "Content-Length too large");
}
END_TEST

START_TEST(test_http1_smuggling_te_chunked_only)
{
    REQ_OK("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n");
    ck_assert_int_eq(req.body, HTTP1_BODY_CHUNKED);
    REQ_OK("POST /" H11 "Transfer-Encoding: CHUNKED \r\n\r\n");
    ck_assert_int_eq(req.body, HTTP1_BODY_CHUNKED);
    REQ_OK("POST /" H11 "transfer-encoding:\tChunked\r\n\r\n");
    ck_assert_int_eq(req.body, HTTP1_BODY_CHUNKED);
}
END_TEST

START_TEST(test_http1_smuggling_te_not_final_chunked)
{
    REQ_ERR("POST /" H11 "Transfer-Encoding: gzip\r\n\r\n", 400,
            "Transfer-Encoding does not end in chunked");
    REQ_ERR("POST /" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n", 400,
            "Transfer-Encoding does not end in chunked");
    REQ_ERR("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", 400,
            "Transfer-Encoding does not end in chunked");
    REQ_ERR("POST /" H11 "Transfer-Encoding: xchunked\r\n\r\n", 400,
            "Transfer-Encoding does not end in chunked");
    REQ_ERR("POST /" H11 "Transfer-Encoding: chunkedx\r\n\r\n", 400,
            "Transfer-Encoding does not end in chunked");
}
END_TEST

START_TEST(test_http1_smuggling_te_unsupported)
{
    REQ_ERR("POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 501,
            "unsupported transfer coding");
    REQ_ERR("POST /" H11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501,
            "unsupported transfer coding");
    REQ_ERR("POST /" H11 "Transfer-Encoding: gzip;q=1, chunked\r\n\r\n", 501,
            "unsupported transfer coding");
}
END_TEST

START_TEST(test_http1_smuggling_te_malformed)
{
    REQ_ERR("POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 400,
            "chunked applied more than once");
    REQ_ERR("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
            "chunked applied more than once");
    REQ_ERR("POST /" H11 "Transfer-Encoding: chunked;x=1\r\n\r\n", 400,
            "parameters on chunked transfer coding");
    REQ_ERR("POST /" H11 "Transfer-Encoding:\r\n\r\n", 400, "empty Transfer-Encoding element");
    REQ_ERR("POST /" H11 "Transfer-Encoding: , chunked\r\n\r\n", 400,
            "empty Transfer-Encoding element");
    REQ_ERR("POST /" H11 "Transfer-Encoding: chunked,\r\n\r\n", 400,
            "empty Transfer-Encoding element");
    REQ_ERR("POST /" H11 "Transfer-Encoding: \"chunked\"\r\n\r\n", 400,
            "invalid Transfer-Encoding");
    REQ_ERR("POST /" H11 "Transfer-Encoding: chun ked\r\n\r\n", 400, "invalid Transfer-Encoding");
}
END_TEST

START_TEST(test_http1_smuggling_te_http10)
{
    REQ_ERR("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
            "Transfer-Encoding in HTTP/1.0 request");
    REQ_ERR("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
            "Transfer-Encoding in HTTP/1.0 request");
}
END_TEST

START_TEST(test_http1_smuggling_host)
{
    REQ_ERR("GET / HTTP/1.1\r\n\r\n", 400, "missing Host header");
    REQ_ERR("GET / HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n", 400, "multiple Host headers");
    REQ_ERR("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, "multiple Host headers");
    REQ_ERR("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid Host header");
    REQ_ERR("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", 400, "invalid Host header");
    REQ_ERR("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "invalid Host header");
    REQ_ERR("GET / HTTP/1.1\r\nHost: user@evil\r\n\r\n", 400, "invalid Host header");
    REQ_OK("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
    ck_assert(span_eq(req.host, req.host_len, "[::1]:8080"));
    REQ_OK("GET / HTTP/1.1\r\nHost:\r\n\r\n"); /* empty Host is valid (RFC 9110 7.2) */
    ck_assert_ptr_nonnull(req.host);
    ck_assert_uint_eq(req.host_len, 0);
}
END_TEST

START_TEST(test_http1_smuggling_obs_fold)
{
    REQ_ERR("GET /" H11 "X: a\r\n b\r\n\r\n", 400, "obs-fold not allowed");
    REQ_ERR("GET /" H11 "X: a\r\n\tb\r\n\r\n", 400, "obs-fold not allowed");
    REQ_ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n , chunked\r\n\r\n", 400,
            "obs-fold not allowed");
    REQ_ERR("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "whitespace before first header field");
}
END_TEST

START_TEST(test_http1_smuggling_bare_lf)
{
    REQ_ERR("GET /" H11 "X: a\nY: b\r\n\r\n", 400, "bare LF in header section");
    REQ_ERR("GET /" H11 "X: a\r\n\n", 400, "bare LF in header section");
    REQ_ERR("GET / HTTP/1.1\nHost: a\n\n", 400, "bare LF in request line");
    REQ_ERR("GET /" H11 "X\n: a\r\n\r\n", 400, "bare LF in header section");
    REQ_ERR("GET /" H11 "\n", 400, "bare LF in header section");
    REQ_ERR("GET /" H11 "X: 0123456789abcdef0123\n\r\n", 400, "bare LF in header section");
}
END_TEST

START_TEST(test_http1_smuggling_bare_cr)
{
    REQ_ERR("GET /" H11 "X: a\rY: b\r\n\r\n", 400, "bare CR in header section");
    REQ_ERR("GET /" H11 "X: a\r\r\n\r\n", 400, "bare CR in header section");
    REQ_ERR("GET /" H11 "\rX: a\r\n\r\n", 400, "bare CR in header section");
    REQ_ERR("GET /" H11 "\r\r", 400, "bare CR in header section");
    REQ_ERR("GET /" H11 "X\r: a\r\n\r\n", 400, "header field without colon");
}
END_TEST

START_TEST(test_http1_smuggling_space_before_colon)
{
    REQ_ERR("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "whitespace before colon in header field");
    REQ_ERR("POST /" H11 "Transfer-Encoding : chunked\r\n\r\n", 400,
            "whitespace before colon in header field");
    REQ_ERR("POST /" H11 "Content-Length\t: 5\r\n\r\n", 400,
            "whitespace before colon in header field");
    REQ_ERR("GET /" H11 "X Y: a\r\n\r\n", 400, "whitespace before colon in header field");
}
END_TEST

START_TEST(test_http1_smuggling_connection_framing)
{
    /* a proxy that strips Content-Length as hop-by-hop would re-frame the body */
    REQ_ERR("POST /" H11 "Content-Length: 5\r\nConnection: Content-Length\r\n\r\n", 400,
            "Connection names an end-to-end header");
    REQ_ERR("GET /" H11 "Connection: close, host\r\n\r\n", 400,
            "Connection names an end-to-end header");
}
END_TEST

/* ---- limits -------------------------------------------------------------------------- */

/* "GET /aaa...a HTTP/1.1": a request line of exactly <line_len> bytes */
static char *
make_request(size_t line_len, const char *rest)
{
    size_t target_len = line_len - strlen("GET  HTTP/1.1");
    size_t len = line_len + 2 + strlen(rest);
    char *s = malloc(len + 1), *target = malloc(target_len + 1);

    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(target);
    memset(target, 'a', target_len);
    target[0] = '/';
    target[target_len] = '\0';
    ck_assert_int_eq(snprintf(s, len + 1, "GET %s HTTP/1.1\r\n%s", target, rest), (int) len);
    free(target);
    return s;
}

START_TEST(test_http1_limits_request_line)
{
    char *ok, *over;

    lim.max_request_line = 100;
    ok = make_request(100, "Host: a\r\n\r\n");
    over = make_request(101, "Host: a\r\n\r\n");
    REQ_OK(ok);
    REQ_ERR(over, 414, "request line too long");
    /* incomplete lines: decided as soon as the limit is passed */
    ck_assert_int_eq(parse_req_n(ok, 100), -EAGAIN);
    ck_assert_int_eq(parse_req_n(ok, 101), -EAGAIN); /* 100 bytes + CR */
    ck_assert_int_eq(parse_req_n(over, 101), -EBADMSG);
    ck_assert_int_eq(err.status, 414);
    ck_assert_str_eq(err.reason, "request line too long");
    ck_assert_int_eq(parse_req_n(over, 60), -EAGAIN);
    lim.max_request_line = 10;
    REQ_ERR("GET /0123456789", 414, "request line too long"); /* still in the target */
    REQ_ERR("\r\n\r\nGET /0123456789", 414, "request line too long");
    /* the limit is found at the same byte whatever follows it */
    REQ_ERR("GET /0123456789\x01 HTTP/1.1\r\n\r\n", 414, "request line too long");
    REQ_ERR("GET /01234 HTTP/1.1\r\n\r\n", 414, "request line too long");
    REQ_ERR("GET /012 HTTP/1.1\r\n\r\n", 414, "request line too long");
    ck_assert_int_eq(parse_req("\r\n\r\n\r\nGET /01"), -EAGAIN); /* empty lines do not count */
    free(ok);
    free(over);
}
END_TEST

START_TEST(test_http1_limits_head)
{
    char *s = make_request(
        200, "Host: a\r\nX: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n");
    size_t len = strlen(s);
    char *pipelined = malloc(2 * len + 1);

    lim.max_head = len;
    REQ_OK(s);
    lim.max_head = len - 1;
    ck_assert_int_eq(parse_req(s), -EBADMSG);
    ck_assert_int_eq(err.status, 431);
    ck_assert_str_eq(err.reason, "request header section too large");
    /* incomplete but already over: 431 without waiting for the end */
    ck_assert_int_eq(parse_req_n(s, len - 1), -EAGAIN);
    lim.max_head = 150;
    ck_assert_int_eq(parse_req_n(s, 151), -EBADMSG);
    ck_assert_int_eq(err.status, 431);
    ck_assert_int_eq(parse_req_n(s, 150), -EAGAIN);
    /* a complete head within the limit followed by more bytes is fine */
    lim.max_head = len;
    ck_assert_ptr_nonnull(pipelined);
    snprintf(pipelined, 2 * len + 1, "%s%s", s, s);
    ck_assert_int_eq(parse_req(pipelined), (int) len);
    /* leading empty lines count towards the head */
    lim.max_head = 8;
    REQ_ERR("\r\n\r\n\r\n\r\n\r\n", 431, "request header section too large");
    free(s);
    free(pipelined);
}
END_TEST

START_TEST(test_http1_limits_header_count)
{
    const char *three = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n";
    const char *four = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\nZ: 3\r\n\r\n";

    lim.max_headers = 3;
    REQ_OK(three);
    ck_assert_uint_eq(req.n_headers, 3);
    REQ_ERR(four, 431, "too many header fields");
    /* the caller's array bounds it too */
    lim.max_headers = 100;
    ck_assert_int_eq(http1_parse_request(three, strlen(three), &lim, hdrs, 2, &req, &err),
                     -EBADMSG);
    ck_assert_int_eq(err.status, 431);
    ck_assert_str_eq(err.reason, "too many header fields");
    ck_assert_int_eq(http1_parse_request(three, strlen(three), &lim, hdrs, 3, &req, &err),
                     (int) strlen(three));
    ck_assert_int_eq(http1_parse_request("GET / HTTP/1.0\r\n\r\n", 18, &lim, NULL, 0, &req, &err),
                     18);
    ck_assert_uint_eq(req.n_headers, 0);
}
END_TEST

/* ---- framing and incremental parsing ----------------------------------------------- */

START_TEST(test_http1_framing_incremental)
{
    static const char *const heads[] = {
        "GET /a/b?c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test/1.0\r\n"
        "Accept: */*\r\nX-Tab: a\tb\r\nX-Empty:\r\n\r\n",
        "\r\n\r\nPOST http://h/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close, X-A\r\nX-A: 1\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
    };

    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        size_t len = strlen(heads[i]);

        for (size_t n = 0; n < len; n++) {
            memset(&req, 0xa5, sizeof(req));
            ck_assert_msg(parse_req_n(heads[i], n) == -EAGAIN, "head %zu prefix %zu: %s", i, n,
                          err.reason);
            ck_assert_uint_eq(req.method_len, (size_t) 0xa5a5a5a5a5a5a5a5ull); /* untouched */
        }
        ck_assert_int_eq(parse_req_n(heads[i], len), (int) len);
    }
}
END_TEST

START_TEST(test_http1_framing_pipelined)
{
    const char *first = "POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
    const char *s = "POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                    "GET /two HTTP/1.1\r\nHost: b\r\n\r\n";
    int n = parse_req(s);

    ck_assert_int_eq(n, (int) strlen(first));
    ck_assert(span_eq(req.target, req.target_len, "/one"));
    ck_assert_uint_eq(req.content_length, 3);
    n = parse_req(s + n + 3);
    ck_assert_int_eq(n, (int) strlen("GET /two HTTP/1.1\r\nHost: b\r\n\r\n"));
    ck_assert(span_eq(req.target, req.target_len, "/two"));
    ck_assert(span_eq(req.host, req.host_len, "b"));
    /* two heads back to back */
    ck_assert_int_eq(parse_req("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n"), 18);
}
END_TEST

START_TEST(test_http1_framing_body)
{
    REQ_OK("GET /" H11 "\r\n");
    ck_assert_int_eq(req.body, HTTP1_BODY_NONE);
    ck_assert_uint_eq(req.content_length, 0);
    REQ_OK("POST /" H11 "Content-Length: 10\r\n\r\n");
    ck_assert_int_eq(req.body, HTTP1_BODY_LENGTH);
    ck_assert_uint_eq(req.content_length, 10);
    REQ_OK("POST /" H11 "Content-Length: 0\r\n\r\n");
    ck_assert_int_eq(req.body, HTTP1_BODY_LENGTH);
    ck_assert_uint_eq(req.content_length, 0);
    REQ_OK("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n");
    ck_assert_int_eq(req.body, HTTP1_BODY_CHUNKED);
    REQ_OK("POST / HTTP/1.0\r\nContent-Length: 4\r\n\r\n");
    ck_assert_int_eq(req.body, HTTP1_BODY_LENGTH);
    ck_assert_uint_eq(req.content_length, 4);
}
END_TEST

START_TEST(test_http1_framing_keep_alive)
{
    REQ_OK("GET /" H11 "\r\n");
    ck_assert(req.keep_alive);
    REQ_OK("GET /" H11 "Connection: close\r\n\r\n");
    ck_assert(!req.keep_alive);
    REQ_OK("GET /" H11 "Connection: X-Foo, CLOSE\r\n\r\n");
    ck_assert(!req.keep_alive);
    REQ_OK("GET /" H11 "Connection: keep-alive\r\nConnection: close\r\n\r\n");
    ck_assert(!req.keep_alive);
    REQ_OK("GET /" H11 "Connection: closed\r\n\r\n");
    ck_assert(req.keep_alive);
    REQ_OK("GET / HTTP/1.0\r\n\r\n");
    ck_assert(!req.keep_alive);
    REQ_OK("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    ck_assert(req.keep_alive);
    REQ_OK("GET / HTTP/1.0\r\nConnection: te, keep-alive\r\n\r\n");
    ck_assert(req.keep_alive);
    REQ_OK("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
    ck_assert(!req.keep_alive);
    REQ_OK("GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n");
    ck_assert(!req.keep_alive);
    REQ_OK("GET / HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n");
    ck_assert(!req.keep_alive);
}
END_TEST

START_TEST(test_http1_framing_expect_upgrade)
{
    REQ_OK("POST /" H11 "Expect: 100-continue\r\nContent-Length: 1\r\n\r\n");
    ck_assert(req.expect_continue);
    REQ_OK("POST /" H11 "expect:  100-Continue \r\nContent-Length: 1\r\n\r\n");
    ck_assert(req.expect_continue);
    REQ_OK("POST /" H11 "Expect: 100-continuex\r\n\r\n");
    ck_assert(!req.expect_continue);
    REQ_OK("POST /" H11 "Expect: x\r\n\r\n");
    ck_assert(!req.expect_continue);
    REQ_OK("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"); /* RFC 9110 10.1.1 */
    ck_assert(!req.expect_continue);
    REQ_OK("GET /" H11 "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    ck_assert(req.has_upgrade);
    ck_assert(find_hdr("Upgrade")->flags & HTTP1_HDR_F_HOP);
    REQ_OK("GET /" H11 "\r\n");
    ck_assert(!req.has_upgrade);
}
END_TEST

/* ---- responses --------------------------------------------------------------------- */

START_TEST(test_http1_response_status_line)
{
    RSP_OK("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false);
    ck_assert_int_eq(rsp.minor_version, 1);
    ck_assert_int_eq(rsp.status, 200);
    ck_assert(span_eq(rsp.reason, rsp.reason_len, "OK"));
    ck_assert_uint_eq(rsp.n_headers, 1);
    ck_assert_ptr_eq(rsp.headers, hdrs);
    ck_assert_int_eq(hdrs[0].id, HTTP1_HDR_CONTENT_LENGTH);
    RSP_OK("HTTP/1.0 404 Not \tFound \xc3\xa9\r\nContent-Length: 0\r\n\r\n", false);
    ck_assert_int_eq(rsp.minor_version, 0);
    ck_assert_int_eq(rsp.status, 404);
    ck_assert(span_eq(rsp.reason, rsp.reason_len, "Not \tFound \xc3\xa9"));
    RSP_OK("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", false);
    ck_assert_uint_eq(rsp.reason_len, 0);
    RSP_OK("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false);
    ck_assert_int_eq(rsp.status, 200);
    ck_assert_uint_eq(rsp.reason_len, 0);
    RSP_OK("HTTP/1.1 999 Whatever\r\n\r\n", false);
    ck_assert_int_eq(rsp.status, 999);
}
END_TEST

START_TEST(test_http1_response_status_line_errors)
{
    RSP_ERR("HTTP/2.0 200 OK\r\n\r\n", "unsupported HTTP version");
    RSP_ERR("HTTP/1.2 200 OK\r\n\r\n", "unsupported HTTP version");
    RSP_ERR("HTTX/1.1 200 OK\r\n\r\n", "invalid status line");
    RSP_ERR("http/1.1 200 OK\r\n\r\n", "invalid status line");
    RSP_ERR("HTTP/1.1  200 OK\r\n\r\n", "invalid status code");
    RSP_ERR("HTTP/1.1 20 OK\r\n\r\n", "invalid status code");
    RSP_ERR("HTTP/1.1 2000 OK\r\n\r\n", "invalid status code");
    RSP_ERR("HTTP/1.1 abc OK\r\n\r\n", "invalid status code");
    RSP_ERR("HTTP/1.1 099 OK\r\n\r\n", "invalid status code");
    RSP_ERR("HTTP/1.1 200 O\x01K\r\n\r\n", "control character in reason phrase");
    RSP_ERR("HTTP/1.1 200 OK\n\r\n", "bare LF in status line");
    RSP_ERR("HTTP/1.1 200\n\r\n", "bare LF in status line");
    RSP_ERR("HTTP/1.1 200 OK\rX\r\n", "bare CR in status line");
    RSP_ERR("\r\nHTTP/1.1 200 OK\r\n\r\n", "invalid status line");
    lim.max_request_line = 20;
    RSP_ERR("HTTP/1.1 200 A very long reason\r\n\r\n", "status line too long");
    RSP_ERR("HTTP/1.1 200 A very long reason", "status line too long");
    RSP_OK("HTTP/1.1 200 Exactly\r\n\r\n", false);
}
END_TEST

START_TEST(test_http1_response_header_errors)
{
    RSP_ERR("HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n", "bare LF in header section");
    RSP_ERR("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obs-fold not allowed");
    RSP_ERR("HTTP/1.1 200 OK\r\nX : a\r\n\r\n", "whitespace before colon in header field");
    RSP_ERR("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "bare CR in header section");
    RSP_ERR("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "differing Content-Length values");
    RSP_ERR("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "invalid Content-Length");
    RSP_ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "Transfer-Encoding does not end in chunked");
    RSP_ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "unsupported transfer coding");
    RSP_ERR("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "Transfer-Encoding in HTTP/1.0 response");
    RSP_ERR("HTTP/1.1 200 OK\r\nConnection: content-length\r\n\r\n",
            "Connection names an end-to-end header");
    lim.max_headers = 1;
    RSP_ERR("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", "too many header fields");
    lim.max_headers = MAX_HDRS;
    lim.max_head = 30;
    RSP_ERR("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", "response header section too large");
    ck_assert_int_eq(parse_rsp("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n", false), -EAGAIN); /* 29 */
    RSP_ERR("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2222\r\n", "response header section too large");
}
END_TEST

START_TEST(test_http1_response_cl_with_te)
{
    RSP_ERR("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "Content-Length with Transfer-Encoding");
    RSP_ERR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "Content-Length with Transfer-Encoding");
    /* even where the body length is decided by the status */
    ck_assert_int_eq(parse_rsp("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n",
                               false),
                     -EBADMSG);
    ck_assert_int_eq(err.status, 502);
}
END_TEST

START_TEST(test_http1_response_framing)
{
    RSP_OK("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", false);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_LENGTH);
    ck_assert_uint_eq(rsp.content_length, 42);
    ck_assert(rsp.keep_alive);
    RSP_OK("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", false);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_CHUNKED);
    ck_assert(rsp.keep_alive);
    RSP_OK("HTTP/1.1 200 OK\r\n\r\n", false);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_UNTIL_CLOSE);
    ck_assert(!rsp.keep_alive);
    RSP_OK("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", true);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_NONE);
    ck_assert_uint_eq(rsp.content_length, 0);
    ck_assert(rsp.keep_alive);
    RSP_OK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_NONE);
    RSP_OK("HTTP/1.1 200 OK\r\n\r\n", true);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_NONE);
    ck_assert(rsp.keep_alive);
    RSP_OK("HTTP/1.1 100 Continue\r\n\r\n", false);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_NONE);
    RSP_OK("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
           "Connection: upgrade\r\n\r\n",
           false);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_NONE);
    ck_assert(hdrs[0].flags & HTTP1_HDR_F_HOP);
    RSP_OK("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", false);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_NONE);
    RSP_OK("HTTP/1.1 204 No Content\r\n\r\n", false);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_NONE);
    ck_assert(rsp.keep_alive);
    RSP_OK("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", false);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_NONE);
    RSP_OK("HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n", false);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_LENGTH);
}
END_TEST

START_TEST(test_http1_response_keep_alive)
{
    RSP_OK("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", false);
    ck_assert(!rsp.keep_alive);
    RSP_OK("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false);
    ck_assert(!rsp.keep_alive);
    RSP_OK("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", false);
    ck_assert(rsp.keep_alive);
    RSP_OK("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", false);
    ck_assert_int_eq(rsp.body, HTTP1_BODY_UNTIL_CLOSE);
    ck_assert(!rsp.keep_alive);
    RSP_OK("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n", false);
    ck_assert(!rsp.keep_alive);
}
END_TEST

START_TEST(test_http1_response_incremental)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\n";
    const char *bare = "HTTP/1.1 204\r\n\r\n";
    size_t len = strlen(s);

    for (size_t n = 0; n < len; n++) {
        ck_assert_msg(http1_parse_response(s, n, &lim, false, hdrs, MAX_HDRS, &rsp, &err) ==
                          -EAGAIN,
                      "prefix %zu: %s", n, err.reason);
    }
    for (size_t n = 0; n < strlen(bare); n++)
        ck_assert_int_eq(http1_parse_response(bare, n, &lim, false, hdrs, MAX_HDRS, &rsp, &err),
                         -EAGAIN);
    ck_assert_int_eq(parse_rsp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1", false),
                     (int) strlen("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
}
END_TEST

/* ---- chunked bodies ---------------------------------------------------------------- */

static const char chunked_msg[] = "5\r\nhello\r\n"
                                  "1A;name=value;quoted=\"a;b\\\"c\"\r\n"
                                  "abcdefghijklmnopqrstuvwxyz\r\n"
                                  "0000a \t; ext\r\n"
                                  "0123456789\r\n"
                                  "0\r\n"
                                  "X-Checksum: abc\r\n"
                                  "X-Empty:\r\n"
                                  "\r\n";
#define CHUNKED_MSG_DATA 41

START_TEST(test_http1_chunked_whole)
{
    struct http1_chunked c;
    size_t used = 0;
    char buf[sizeof(chunked_msg) + 16];

    ck_assert_int_eq(scan_all(chunked_msg, sizeof(chunked_msg) - 1, &c, &used), 1);
    ck_assert_uint_eq(used, sizeof(chunked_msg) - 1);
    ck_assert_uint_eq(c.data_bytes, CHUNKED_MSG_DATA);
    /* bytes after the message belong to the next one */
    snprintf(buf, sizeof(buf), "%sGET / HTTP/1.1", chunked_msg);
    ck_assert_int_eq(scan_all(buf, sizeof(chunked_msg) - 1 + 14, &c, &used), 1);
    ck_assert_uint_eq(used, sizeof(chunked_msg) - 1);
    /* once done, it stays done */
    ck_assert_int_eq(http1_chunked_scan(&c, "x", 1, &used, &err), 1);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(scan_all("0\r\n\r\n", 5, &c, &used), 1);
    ck_assert_uint_eq(used, 5);
    ck_assert_uint_eq(c.data_bytes, 0);
}
END_TEST

START_TEST(test_http1_chunked_byte_at_a_time)
{
    struct http1_chunked c;
    size_t len = sizeof(chunked_msg) - 1;

    memset(&c, 0, sizeof(c));
    for (size_t i = 0; i < len; i++) {
        size_t used = 99;
        int r = http1_chunked_scan(&c, chunked_msg + i, 1, &used, &err);

        if (i + 1 < len) {
            ck_assert_msg(r == 0, "byte %zu: %d %s", i, r, r < 0 ? err.reason : "");
            ck_assert_uint_eq(used, 1);
        } else {
            ck_assert_int_eq(r, 1);
            ck_assert_uint_eq(used, 1);
        }
    }
    ck_assert_uint_eq(c.data_bytes, CHUNKED_MSG_DATA);
    /* empty input is a no-op */
    memset(&c, 0, sizeof(c));
    {
        size_t used = 99;

        ck_assert_int_eq(http1_chunked_scan(&c, chunked_msg, 0, &used, &err), 0);
        ck_assert_uint_eq(used, 0);
    }
}
END_TEST

START_TEST(test_http1_chunked_random_splits)
{
    char buf[2 * sizeof(chunked_msg)];
    size_t len = sizeof(chunked_msg) - 1;
    unsigned seed = 12345;

    /* the message followed by a second one: the first must end exactly at its end */
    snprintf(buf, sizeof(buf), "%s%s", chunked_msg, chunked_msg);
    for (int round = 0; round < 2000; round++) {
        struct http1_chunked c;
        size_t off = 0;
        int r = 0;

        memset(&c, 0, sizeof(c));
        while (off < 2 * len) {
            size_t n, used = 0;

            seed = seed * 1103515245u + 12345u;
            n = 1 + (seed >> 16) % 40;
            if (n > 2 * len - off)
                n = 2 * len - off;
            r = http1_chunked_scan(&c, buf + off, n, &used, &err);
            ck_assert_msg(r >= 0, "round %d off %zu: %s", round, off, err.reason);
            off += used;
            if (r == 1)
                break;
            ck_assert_uint_eq(used, n);
        }
        ck_assert_int_eq(r, 1);
        ck_assert_uint_eq(off, len);
        ck_assert_uint_eq(c.data_bytes, CHUNKED_MSG_DATA);
    }
}
END_TEST

START_TEST(test_http1_chunked_large_chunk)
{
    struct http1_chunked c;
    static char data[4096];
    size_t used;

    memset(data, 'x', sizeof(data));
    ck_assert_int_eq(scan_all("100000\r\n", 8, &c, &used), 0);
    for (int i = 0; i < 256; i++) {
        ck_assert_int_eq(http1_chunked_scan(&c, data, sizeof(data), &used, &err), 0);
        ck_assert_uint_eq(used, sizeof(data));
    }
    ck_assert_uint_eq(c.data_bytes, 0x100000);
    ck_assert_int_eq(http1_chunked_scan(&c, "\r\n0\r\n\r\nrest", 11, &used, &err), 1);
    ck_assert_uint_eq(used, 7);
    /* 16 hex digits is the most there can be */
    ck_assert_int_eq(scan_all("ffffffffffffffff\r\nabc", 21, &c, &used), 0);
    ck_assert_uint_eq(c.data_bytes, 3);
    ck_assert_int_eq(scan_all("00000000000000aB\r\n", 18, &c, &used), 0);
}
END_TEST

START_TEST(test_http1_chunked_size_errors)
{
    CHUNKED_ERR("\r\n", "missing chunk size");
    CHUNKED_ERR(";ext\r\n", "missing chunk size");
    CHUNKED_ERR(" 5\r\n", "missing chunk size");
    CHUNKED_ERR("-5\r\n", "missing chunk size");
    CHUNKED_ERR("g\r\n", "missing chunk size");
    CHUNKED_ERR("5x\r\n", "invalid chunk size");
    CHUNKED_ERR("0x5\r\n", "invalid chunk size");
    CHUNKED_ERR("5 \r\n", "invalid chunk size line");
    CHUNKED_ERR("5 x\r\n", "invalid chunk size line");
    CHUNKED_ERR("10000000000000000\r\n", "chunk size too large");
    CHUNKED_ERR("00000000000000001\r\n", "chunk size too large");
    CHUNKED_ERR("5;a\x01\r\n", "control character in chunk extension");
}
END_TEST

START_TEST(test_http1_chunked_line_endings)
{
    CHUNKED_ERR("5\nhello\r\n0\r\n\r\n", "bare LF in chunk size line");
    CHUNKED_ERR("\n", "bare LF in chunk size line");
    CHUNKED_ERR("5;x\nhello\r\n", "bare LF in chunk size line");
    CHUNKED_ERR("5\rhello\r\n", "bare CR in chunk size line");
    CHUNKED_ERR("5\r\nhello\n0\r\n\r\n", "bare LF after chunk data");
    CHUNKED_ERR("5\r\nhello\rx", "bare CR after chunk data");
    CHUNKED_ERR("5\r\nhelloX\r\n", "missing CRLF after chunk data");
    CHUNKED_ERR("3\r\nhello\r\n", "missing CRLF after chunk data");
    CHUNKED_ERR("0\r\n\n", "bare LF in trailer section");
    CHUNKED_ERR("0\r\n\rx", "bare CR in trailer section");
    CHUNKED_ERR("0\r\nX: a\nY: b\r\n\r\n", "bare LF in trailer section");
    CHUNKED_ERR("0\r\nX: a\rY: b\r\n\r\n", "bare CR in trailer section");
}
END_TEST

START_TEST(test_http1_chunked_trailers)
{
    struct http1_chunked c;
    size_t used;
    const char *ok = "0\r\nA: 1\r\nB-c:\t x \r\nD:\r\n\r\n";

    ck_assert_int_eq(scan_all(ok, strlen(ok), &c, &used), 1);
    ck_assert_uint_eq(used, strlen(ok));
    CHUNKED_ERR("0\r\nX : a\r\n\r\n", "whitespace before colon in trailer field");
    CHUNKED_ERR("0\r\nA: 1\r\n b\r\n\r\n", "obs-fold not allowed");
    CHUNKED_ERR("0\r\nX: a\x01\r\n\r\n", "control character in trailer field");
    CHUNKED_ERR("0\r\nX: a\x7f\r\n\r\n", "control character in trailer field");
    CHUNKED_ERR("0\r\nNoColon\r\n\r\n", "trailer field without colon");
    CHUNKED_ERR("0\r\n: v\r\n\r\n", "empty trailer field name");
    CHUNKED_ERR("0\r\nX(: v\r\n\r\n", "invalid character in trailer field name");
    CHUNKED_ERR("0\r\n(X: v\r\n\r\n", "invalid character in trailer field name");
}
END_TEST

/* <fill> everywhere in <buf>, then <head> at its start and <tail> at <tail_at>: a line of a
 * chosen length (no terminating NUL: the scanner takes lengths) */
static void
fill_line(char *buf, size_t size, char fill, const char *head, size_t tail_at, const char *tail)
{
    memset(buf, fill, size);
    for (size_t i = 0; head[i] != '\0'; i++)
        buf[i] = head[i];
    for (size_t i = 0; tail[i] != '\0'; i++)
        buf[tail_at + i] = tail[i];
}

START_TEST(test_http1_chunked_line_limit)
{
    static char line[5000];
    struct http1_chunked c;
    size_t used;

    /* a size line of exactly 4096 bytes: "1;" + 4094 extension bytes */
    fill_line(line, sizeof(line), 'e', "1;", 4096, "\r\nx\r\n0\r\n\r\n");
    ck_assert_int_eq(scan_all(line, 4106, &c, &used), 1);
    ck_assert_uint_eq(used, 4106);
    fill_line(line, sizeof(line), 'e', "1;", 4097, "\r\n");
    ck_assert_int_eq(scan_all(line, 4099, &c, &used), -EBADMSG);
    ck_assert_str_eq(err.reason, "chunk size line too long");
    /* found even before the line ends */
    ck_assert_int_eq(scan_all(line, 4097, &c, &used), -EBADMSG);
    ck_assert_int_eq(err.status, 400);
    ck_assert_int_eq(scan_all(line, 4096, &c, &used), 0);
    /* a trailer line of 4096 bytes, then one of 4097 */
    fill_line(line, sizeof(line), 'v', "0\r\nX:", 3 + 4096, "\r\n\r\n");
    ck_assert_int_eq(scan_all(line, 3 + 4096 + 4, &c, &used), 1);
    fill_line(line, sizeof(line), 'v', "0\r\nX:", 3 + 4097, "\r\n\r\n");
    ck_assert_int_eq(scan_all(line, 3 + 4097 + 4, &c, &used), -EBADMSG);
    ck_assert_str_eq(err.reason, "trailer line too long");
    /* a failed scanner stays failed */
    ck_assert_int_eq(http1_chunked_scan(&c, "0\r\n\r\n", 5, &used, &err), -EBADMSG);
    ck_assert_int_eq(err.status, 400);
}
END_TEST

static Suite *
http1_suite(void)
{
    Suite *s = suite_create("http1");
    TCase *tc;

    tc = tcase_create("request_line");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_http1_request_line_origin_form);
    tcase_add_test(tc, test_http1_request_line_absolute_form);
    tcase_add_test(tc, test_http1_request_line_authority_form);
    tcase_add_test(tc, test_http1_request_line_asterisk_form);
    tcase_add_test(tc, test_http1_request_line_versions);
    tcase_add_test(tc, test_http1_request_line_single_spaces);
    tcase_add_test(tc, test_http1_request_line_method);
    tcase_add_test(tc, test_http1_request_line_target_chars);
    tcase_add_test(tc, test_http1_request_line_line_endings);
    tcase_add_test(tc, test_http1_request_line_leading_crlf);
    tcase_add_test(tc, test_http1_request_line_is_head);
    suite_add_tcase(s, tc);

    tc = tcase_create("headers");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_http1_headers_values);
    tcase_add_test(tc, test_http1_headers_ids);
    tcase_add_test(tc, test_http1_headers_hop_flags);
    tcase_add_test(tc, test_http1_headers_connection_names_hop);
    tcase_add_test(tc, test_http1_headers_name_chars);
    tcase_add_test(tc, test_http1_headers_value_ctl);
    tcase_add_test(tc, test_http1_headers_is_l5d);
    suite_add_tcase(s, tc);

    tc = tcase_create("smuggling");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_http1_smuggling_cl_with_te);
    tcase_add_test(tc, test_http1_smuggling_cl_duplicates);
    tcase_add_test(tc, test_http1_smuggling_cl_syntax);
    tcase_add_test(tc, test_http1_smuggling_cl_overflow);
    tcase_add_test(tc, test_http1_smuggling_te_chunked_only);
    tcase_add_test(tc, test_http1_smuggling_te_not_final_chunked);
    tcase_add_test(tc, test_http1_smuggling_te_unsupported);
    tcase_add_test(tc, test_http1_smuggling_te_malformed);
    tcase_add_test(tc, test_http1_smuggling_te_http10);
    tcase_add_test(tc, test_http1_smuggling_host);
    tcase_add_test(tc, test_http1_smuggling_obs_fold);
    tcase_add_test(tc, test_http1_smuggling_bare_lf);
    tcase_add_test(tc, test_http1_smuggling_bare_cr);
    tcase_add_test(tc, test_http1_smuggling_space_before_colon);
    tcase_add_test(tc, test_http1_smuggling_connection_framing);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_http1_limits_request_line);
    tcase_add_test(tc, test_http1_limits_head);
    tcase_add_test(tc, test_http1_limits_header_count);
    suite_add_tcase(s, tc);

    tc = tcase_create("framing");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_http1_framing_incremental);
    tcase_add_test(tc, test_http1_framing_pipelined);
    tcase_add_test(tc, test_http1_framing_body);
    tcase_add_test(tc, test_http1_framing_keep_alive);
    tcase_add_test(tc, test_http1_framing_expect_upgrade);
    suite_add_tcase(s, tc);

    tc = tcase_create("response");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_http1_response_status_line);
    tcase_add_test(tc, test_http1_response_status_line_errors);
    tcase_add_test(tc, test_http1_response_header_errors);
    tcase_add_test(tc, test_http1_response_cl_with_te);
    tcase_add_test(tc, test_http1_response_framing);
    tcase_add_test(tc, test_http1_response_keep_alive);
    tcase_add_test(tc, test_http1_response_incremental);
    suite_add_tcase(s, tc);

    tc = tcase_create("chunked");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_http1_chunked_whole);
    tcase_add_test(tc, test_http1_chunked_byte_at_a_time);
    tcase_add_test(tc, test_http1_chunked_random_splits);
    tcase_add_test(tc, test_http1_chunked_large_chunk);
    tcase_add_test(tc, test_http1_chunked_size_errors);
    tcase_add_test(tc, test_http1_chunked_line_endings);
    tcase_add_test(tc, test_http1_chunked_trailers);
    tcase_add_test(tc, test_http1_chunked_line_limit);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(http1_suite)

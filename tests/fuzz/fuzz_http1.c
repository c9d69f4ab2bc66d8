/* tests/fuzz/fuzz_http1.c - libFuzzer target for the HTTP/1.1 parser (proto/http1.h).
 *
 * The first byte picks what the rest is: a request head, a response head (to a HEAD
 * request or not), a chunked body, a pipelined stream of requests or of responses (the
 * second byte then says which responses answer HEAD requests). Properties beyond "no
 * crash, no over-read":
 *   - an accepted head's length never exceeds the input, and every prefix of it is
 *     incomplete (-EAGAIN) or the same rejection (the parser never accepts a prefix it
 *     would later reject... checked on the accepted length only, to stay fast);
 *   - a rejection always carries a status and a reason;
 *   - the chunked scanner gives the same answer however the input is split;
 *   - an accepted head, written out again in canonical form (single SP, "name:value",
 *     no leading empty lines, trimmed values), parses to the same fields;
 *   - a pipelined stream (heads, Content-Length and chunked bodies, responses read until
 *     close) splits into the same messages, and fails at the same byte with the same
 *     reason, whether it arrives whole or a few bytes at a time as a proxy reads it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http1.h"

#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip_request(const struct http1_request *r, size_t head_len);
static void roundtrip_response(const struct http1_response *r, size_t head_len, bool to_head);

static void
fuzz_head(const char *p, size_t n, int mode)
{
    struct http1_limits lim = {.max_request_line = 4096, .max_head = 8192, .max_headers = 64};
    struct http1_header hdrs[64];
    struct http1_request req;
    struct http1_response rsp;
    struct http1_error err = {0};
    int rc;

    if (mode == 0)
        rc = http1_parse_request(p, n, &lim, hdrs, 64, &req, &err);
    else
        rc = http1_parse_response(p, n, &lim, mode == 2, hdrs, 64, &rsp, &err);
    if (rc > 0) {
        CHECK((size_t) rc <= n);
        if (mode == 0)
            roundtrip_request(&req, (size_t) rc);
        else
            roundtrip_response(&rsp, (size_t) rc, mode == 2);
        /* the head alone parses to the same length */
        if (mode == 0)
            CHECK(http1_parse_request(p, (size_t) rc, &lim, hdrs, 64, &req, &err) == rc);
        else
            CHECK(http1_parse_response(p, (size_t) rc, &lim, mode == 2, hdrs, 64, &rsp, &err) ==
                  rc);
    } else if (rc == -EBADMSG) {
        CHECK(err.status >= 400 && err.reason != NULL);
    } else {
        CHECK(rc == -EAGAIN);
    }
}

static int
scan_split(const char *p, size_t n, size_t step, size_t *ret_used)
{
    struct http1_chunked c = {0};
    struct http1_error err;
    size_t off = 0;

    while (off < n) {
        size_t take = n - off < step ? n - off : step, used = 0;
        int rc = http1_chunked_scan(&c, p + off, take, &used, &err);

        if (rc < 0)
            return -1;
        CHECK(used <= take);
        off += used;
        if (rc == 1) {
            *ret_used = off;
            return 1;
        }
        CHECK(used == take);
    }
    *ret_used = off;
    return 0;
}

static const struct http1_limits stream_lim = {
    .max_request_line = 4096, .max_head = 8192, .max_headers = 64};

static bool
same_bytes(const char *a, size_t al, const char *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static size_t
put(char *out, size_t off, size_t cap, const char *s, size_t n)
{
    CHECK(off + n <= cap);
    memcpy(out + off, s, n);
    return off + n;
}

static size_t
put_headers(char *out, size_t off, size_t cap, const struct http1_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        off = put(out, off, cap, h[i].name, h[i].name_len);
        off = put(out, off, cap, ":", 1);
        off = put(out, off, cap, h[i].value, h[i].value_len);
        off = put(out, off, cap, "\r\n", 2);
    }
    return put(out, off, cap, "\r\n", 2);
}

static void
check_same_headers(const struct http1_header *a, size_t an, const struct http1_header *b,
                   size_t bn)
{
    CHECK(an == bn);
    for (size_t i = 0; i < an; i++) {
        CHECK(same_bytes(a[i].name, a[i].name_len, b[i].name, b[i].name_len));
        CHECK(same_bytes(a[i].value, a[i].value_len, b[i].value, b[i].value_len));
        CHECK(a[i].id == b[i].id && a[i].flags == b[i].flags);
    }
}

/* The canonical form of an accepted request head parses to the same request. */
static void
roundtrip_request(const struct http1_request *r, size_t head_len)
{
    static char out[16384];
    struct http1_header h2[64];
    struct http1_request r2;
    struct http1_error err;
    char ver[16];
    size_t k = 0;
    int rc;

    k = put(out, k, sizeof(out), r->method, r->method_len);
    k = put(out, k, sizeof(out), " ", 1);
    k = put(out, k, sizeof(out), r->target, r->target_len);
    k = put(out, k, sizeof(out), ver, (size_t) snprintf(ver, sizeof(ver), " HTTP/1.%d\r\n",
                                                            r->minor_version));
    k = put_headers(out, k, sizeof(out), r->headers, r->n_headers);
    CHECK(k <= head_len); /* never longer than what was accepted: fits the same limits */
    rc = http1_parse_request(out, k, &stream_lim, h2, 64, &r2, &err);
    CHECK(rc == (int) k);
    CHECK(same_bytes(r->method, r->method_len, r2.method, r2.method_len));
    CHECK(same_bytes(r->target, r->target_len, r2.target, r2.target_len));
    CHECK(r->minor_version == r2.minor_version);
    check_same_headers(r->headers, r->n_headers, r2.headers, r2.n_headers);
    CHECK((r->host == NULL) == (r2.host == NULL));
    if (r->host != NULL)
        CHECK(same_bytes(r->host, r->host_len, r2.host, r2.host_len));
    CHECK(r->body == r2.body && r->content_length == r2.content_length);
    CHECK(r->keep_alive == r2.keep_alive && r->expect_continue == r2.expect_continue);
    CHECK(r->is_head == r2.is_head && r->has_upgrade == r2.has_upgrade);
}

static void
roundtrip_response(const struct http1_response *r, size_t head_len, bool to_head)
{
    static char out[16384];
    struct http1_header h2[64];
    struct http1_response r2;
    struct http1_error err;
    char line[32];
    size_t k = 0;
    int rc;

    k = put(out, k, sizeof(out), line,
            (size_t) snprintf(line, sizeof(line), "HTTP/1.%d %03d%s", r->minor_version,
                              r->status, r->reason_len ? " " : ""));
    k = put(out, k, sizeof(out), r->reason, r->reason_len);
    k = put(out, k, sizeof(out), "\r\n", 2);
    k = put_headers(out, k, sizeof(out), r->headers, r->n_headers);
    CHECK(k <= head_len);
    rc = http1_parse_response(out, k, &stream_lim, to_head, h2, 64, &r2, &err);
    CHECK(rc == (int) k);
    CHECK(r->minor_version == r2.minor_version && r->status == r2.status);
    CHECK(same_bytes(r->reason, r->reason_len, r2.reason, r2.reason_len));
    check_same_headers(r->headers, r->n_headers, r2.headers, r2.n_headers);
    CHECK(r->body == r2.body && r->content_length == r2.content_length);
    CHECK(r->keep_alive == r2.keep_alive);
}

/* ---- pipelined streams -------------------------------------------------------------- */

#define MAX_MSGS 64

struct msg {
    size_t start, head_len; /* offsets in the stream */
    uint64_t body_len;      /* bytes of body on the wire (chunked: through the last CRLF) */
    int status;             /* responses */
    size_t n_headers;
};

struct stream_result {
    struct msg m[MAX_MSGS];
    size_t n;
    size_t end;         /* where parsing stopped */
    int fail;           /* 0: stopped for lack of bytes (or MAX_MSGS), 1: rejected */
    const char *reason; /* when <fail> */
};

enum st { ST_HEAD, ST_LENGTH, ST_CHUNKED, ST_CLOSE, ST_DONE };

/* A reader as the proxy has it: <avail> bytes of the stream have arrived; consume what
 * can be consumed. <s>/<st>/<left>/<ch> carry the state between calls. */
struct reader {
    struct stream_result r;
    enum st st;
    uint64_t left;
    struct http1_chunked ch;
    size_t off;
    bool responses;
    unsigned head_mask; /* responses: bit i%8 set -> message i answers a HEAD request */
};

static void
reader_step(struct reader *rd, const char *p, size_t avail, bool eof)
{
    for (;;) {
        struct msg *m = &rd->r.m[rd->r.n];

        switch (rd->st) {
        case ST_DONE:
            return;
        case ST_HEAD: {
            struct http1_header h[64];
            struct http1_error err = {0};
            int rc;

            if (rd->r.n == MAX_MSGS) {
                rd->st = ST_DONE;
                return;
            }
            if (rd->off == avail)
                return;
            if (rd->responses) {
                struct http1_response rsp;
                bool to_head = (rd->head_mask >> (rd->r.n % 8)) & 1;

                rc = http1_parse_response(p + rd->off, avail - rd->off, &stream_lim, to_head, h,
                                          64, &rsp, &err);
                if (rc > 0) {
                    roundtrip_response(&rsp, (size_t) rc, to_head);
                    m->status = rsp.status;
                    m->n_headers = rsp.n_headers;
                    rd->st = rsp.body == HTTP1_BODY_LENGTH    ? ST_LENGTH
                             : rsp.body == HTTP1_BODY_CHUNKED ? ST_CHUNKED
                             : rsp.body == HTTP1_BODY_NONE    ? ST_HEAD
                                                              : ST_CLOSE;
                    rd->left = rsp.content_length;
                }
            } else {
                struct http1_request req;

                rc = http1_parse_request(p + rd->off, avail - rd->off, &stream_lim, h, 64, &req,
                                         &err);
                if (rc > 0) {
                    roundtrip_request(&req, (size_t) rc);
                    m->n_headers = req.n_headers;
                    rd->st = req.body == HTTP1_BODY_LENGTH    ? ST_LENGTH
                             : req.body == HTTP1_BODY_CHUNKED ? ST_CHUNKED
                                                              : ST_HEAD;
                    CHECK(req.body != HTTP1_BODY_UNTIL_CLOSE);
                    rd->left = req.content_length;
                }
            }
            if (rc == -EAGAIN)
                return;
            if (rc == -EBADMSG) {
                CHECK(err.reason != NULL);
                rd->r.fail = 1;
                rd->r.reason = err.reason;
                rd->r.end = rd->off;
                rd->st = ST_DONE;
                return;
            }
            CHECK(rc > 0 && (size_t) rc <= avail - rd->off);
            m->start = rd->off;
            m->head_len = (size_t) rc;
            m->body_len = 0;
            rd->off += (size_t) rc;
            memset(&rd->ch, 0, sizeof(rd->ch));
            if (rd->st == ST_HEAD)
                rd->r.n++;
            break;
        }
        case ST_LENGTH: {
            size_t take = avail - rd->off < rd->left ? avail - rd->off : (size_t) rd->left;

            rd->off += take;
            rd->left -= take;
            m->body_len += take;
            if (rd->left > 0)
                return;
            rd->r.n++;
            rd->st = ST_HEAD;
            break;
        }
        case ST_CHUNKED: {
            struct http1_error err = {0};
            size_t used = 0;
            int rc = http1_chunked_scan(&rd->ch, p + rd->off, avail - rd->off, &used, &err);

            if (rc < 0) {
                CHECK(err.reason != NULL);
                rd->r.fail = 2; /* where in the body is not compared: see fuzz_stream() */
                rd->r.reason = err.reason;
                rd->r.end = rd->off;
                rd->st = ST_DONE;
                return;
            }
            CHECK(used <= avail - rd->off);
            rd->off += used;
            m->body_len += used;
            if (rc == 0)
                return;
            rd->r.n++;
            rd->st = ST_HEAD;
            break;
        }
        case ST_CLOSE:
            m->body_len += avail - rd->off;
            rd->off = avail;
            if (!eof)
                return;
            rd->r.n++;
            rd->st = ST_DONE;
            return;
        }
    }
}

static void
fuzz_stream(const char *p, size_t n, bool responses, unsigned head_mask, size_t step)
{
    static struct reader whole, parts;

    memset(&whole, 0, sizeof(whole));
    whole.responses = responses;
    whole.head_mask = head_mask;
    parts = whole;
    reader_step(&whole, p, n, true);
    for (size_t avail = 0; avail < n;) {
        avail = n - avail < step ? n : avail + step;
        reader_step(&parts, p, avail, avail == n);
    }
    if (n == 0)
        reader_step(&parts, p, 0, true);
    CHECK(whole.r.n == parts.r.n && whole.r.fail == parts.r.fail);
    for (size_t i = 0; i < whole.r.n; i++) {
        const struct msg *a = &whole.r.m[i], *b = &parts.r.m[i];

        CHECK(a->start == b->start && a->head_len == b->head_len);
        CHECK(a->body_len == b->body_len && a->status == b->status);
        CHECK(a->n_headers == b->n_headers);
    }
    if (whole.r.fail) {
        /* a head fails at the same place with the same reason (the parser re-scans from
         * the start); a chunked body fails with the same reason (<end> is where the last
         * scan call started, which depends on the split) */
        if (whole.r.fail == 1)
            CHECK(whole.r.end == parts.r.end);
        CHECK(strcmp(whole.r.reason, parts.r.reason) == 0);
    } else {
        CHECK(whole.off == parts.off);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p;
    size_t n;

    if (size < 2)
        return 0;
    n = size - 1;
    p = malloc(n); /* exactly sized: ASan sees any over-read */
    if (p == NULL)
        return 0;
    memcpy(p, data + 1, n);
    switch (data[0] % 6) {
    case 0:
    case 1:
    case 2:
        fuzz_head(p, n, data[0] % 4);
        break;
    case 3: {
        size_t u1 = 0, u2 = 0, u3 = 0;
        int a = scan_split(p, n, n, &u1);
        int b = scan_split(p, n, 1, &u2);
        int c = scan_split(p, n, 1 + data[0] % 7, &u3);

        CHECK(a == b && b == c);
        if (a == 1)
            CHECK(u1 == u2 && u2 == u3);
        break;
    }
    case 4:
    case 5:
        /* data[1]: which responses answer HEAD, and the read size (1..8 bytes) */
        fuzz_stream(p + 1, n - 1, data[0] % 6 == 5, data[1], 1 + (data[1] >> 5));
        break;
    }
    free(p);
    return 0;
}

/* tests/fuzz/fuzz_http1.c - libFuzzer target for the HTTP/1.1 parser (proto/http1.h).
 *
 * The first byte picks what the rest is: a request head, a response head (to a HEAD
 * request or not), or a chunked body. Properties beyond "no crash, no over-read":
 *   - an accepted head's length never exceeds the input, and every prefix of it is
 *     incomplete (-EAGAIN) or the same rejection (the parser never accepts a prefix it
 *     would later reject... checked on the accepted length only, to stay fast);
 *   - a rejection always carries a status and a reason;
 *   - the chunked scanner gives the same answer however the input is split. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

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
    switch (data[0] % 4) {
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
    }
    free(p);
    return 0;
}

/* tests/fuzz/fuzz_naming_fs.c - libFuzzer target for the io.l5d.fs file format
 * (naming_fs_parse(), proxy/naming.h; docs/naming.md). The input is a file's bytes.
 * Properties beyond "no crash, no leak":
 *   - every address has a port 1..65535, a finite weight >= 0 and a non-empty host
 *     without whitespace or '#';
 *   - lines are independent: the file parses iff each of its lines parses alone, to the
 *     concatenation of their addresses, and a failure names the first bad line;
 *   - CRLF line ends give the same result as LF;
 *   - the addresses written back canonically ("host port * weight", %.17g) parse to the
 *     same addresses, bit for bit. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "proxy/naming.h"

#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 4096

struct addrs {
    struct strbuf hosts; /* each host followed by '\n' */
    uint16_t port[MAX_LINES];
    double weight[MAX_LINES];
    size_t n;
    size_t over; /* lines past MAX_LINES: counted, not kept */
};

static void
collect(const struct naming_fs_line *l, void *ctx)
{
    struct addrs *a = ctx;
    size_t hl = strlen(l->host);

    CHECK(l->port >= 1);
    CHECK(isfinite(l->weight) && l->weight >= 0.0);
    CHECK(hl > 0 && strcspn(l->host, " \t\r\n\f\v#") == hl);
    if (a->n == MAX_LINES) {
        a->over++;
        return;
    }
    strbuf_add(&a->hosts, l->host, hl);
    strbuf_addc(&a->hosts, '\n');
    a->port[a->n] = l->port;
    a->weight[a->n] = l->weight;
    a->n++;
}

static char *
parse(const char *text, size_t len, struct addrs *a)
{
    memset(a, 0, sizeof(*a)); /* hosts: STRBUF_INIT */
    return naming_fs_parse(text, len, collect, a);
}

static void
check_same(const struct addrs *a, const struct addrs *b)
{
    CHECK(a->n == b->n && a->over == b->over);
    CHECK(a->hosts.len == b->hosts.len &&
          (a->hosts.len == 0 || memcmp(a->hosts.s, b->hosts.s, a->hosts.len) == 0));
    CHECK(memcmp(a->port, b->port, a->n * sizeof(a->port[0])) == 0);
    CHECK(memcmp(a->weight, b->weight, a->n * sizeof(a->weight[0])) == 0);
}

static struct addrs whole, other;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    char *why = parse(text, size, &whole), *why2;
    struct strbuf sb = STRBUF_INIT;

    if (memchr(text, '\0', size) != NULL) {
        CHECK(why != NULL && strncmp(why, "NUL byte at offset ", 19) == 0);
        free(why);
        strbuf_fini(&whole.hosts);
        return 0;
    }
    /* lines alone: the first failure is the file's, and the addresses add up */
    {
        const char *p = text, *end = text + size;
        char *first_why = NULL;
        size_t n = 0;

        while (p <= end && first_why == NULL) {
            const char *nl = memchr(p, '\n', (size_t) (end - p));
            size_t len = (size_t) ((nl ? nl : end) - p);

            first_why = parse(p, len, &other);
            n += other.n + other.over;
            strbuf_fini(&other.hosts);
            if (nl == NULL)
                break;
            p = nl + 1;
        }
        CHECK((why == NULL) == (first_why == NULL));
        if (why != NULL)
            CHECK(strcmp(why, first_why) == 0);
        else
            CHECK(n == whole.n + whole.over);
        free(first_why);
    }
    /* CRLF */
    for (size_t i = 0; i < size; i++) {
        if (text[i] == '\n')
            strbuf_addc(&sb, '\r');
        strbuf_addc(&sb, text[i]);
    }
    why2 = parse(sb.s ? sb.s : "", sb.len, &other);
    CHECK((why == NULL) == (why2 == NULL));
    if (why == NULL)
        check_same(&whole, &other);
    else
        CHECK(strcmp(why, why2) == 0);
    free(why2);
    strbuf_fini(&other.hosts);
    /* canonical form */
    if (why == NULL) {
        const char *h = whole.hosts.s;

        strbuf_reset(&sb);
        for (size_t i = 0; i < whole.n; i++) {
            const char *nl = strchr(h, '\n');

            strbuf_addf(&sb, "%.*s %u * %.17g\n", (int) (nl - h), h, whole.port[i],
                        whole.weight[i]);
            h = nl + 1;
        }
        why2 = parse(sb.s ? sb.s : "", sb.len, &other);
        CHECK(why2 == NULL);
        if (whole.over == 0)
            check_same(&whole, &other);
        strbuf_fini(&other.hosts);
    }
    free(why);
    strbuf_fini(&sb);
    strbuf_fini(&whole.hosts);
    return 0;
}

/* proto/tracectx.c - trace-context codecs: l5d-ctx-trace, B3 (multi and single), W3C
 * traceparent, l5d-sample, l5d-ctx-deadline, the sampling decision and the precedence rule.
 *
 * Called by proxy/router.c on every request (read on the server side, write on the client
 * side) and by the unit tests and fuzzers. Everything works on the caller's bytes and
 * stack: no allocation, no locale, no libc parsing (strtod and friends read the locale and
 * need NUL-terminated input). Parsers validate everything into locals first and copy the
 * result to *ret as their last step, so a failure never writes. Hex is read in either case
 * (except traceparent, whose spec demands lower-case) and always written lower-case.
 *
 * Wire layouts (docs/trace-context.md has the sources):
 *   l5d-ctx-trace  base64( span | parent | trace_lo | flags [| trace_hi] ), u64 big-endian
 *   b3             {trace16|trace32}-{span16}[-{0|1|d}][-{parent16}]   or  0 | 1 | d
 *   traceparent    {ver2}-{trace32}-{parent16}-{flags2}[-...]           (ver 00: 55 chars)
 *   deadline       {timestamp_ns} {deadline_ns}
 */
#include "proto/tracectx.h"

#include <errno.h>
#include <string.h>

#define L5D_BLOB_64  32 /* bytes of the blob with a 64-bit trace id */
#define L5D_BLOB_128 40
#define TP_LEN       55 /* traceparent version 00 */

static const char hexdig[16] = "0123456789abcdef";

static const char b64enc[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- small helpers -------------------------------------------------------------------- */

/* 0..15, or -1 for a non-hex byte; <lower_only> rejects 'A'..'F'. */
static int
hexval(char ch, bool lower_only)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (!lower_only && ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Reads exactly 16 hex digits at <p>. */
static int
hex16(const char *p, bool lower_only, uint64_t *ret)
{
    uint64_t v = 0;

    for (size_t i = 0; i < 16; i++) {
        int d = hexval(p[i], lower_only);

        if (d < 0)
            return -EBADMSG;
        v = (v << 4) | (uint64_t) d;
    }
    *ret = v;
    return 0;
}

/* A B3 trace id: 16 or 32 hex digits, not all zero. */
static int
trace_id_parse(const char *p, size_t len, bool lower_only, uint64_t *ret_hi, uint64_t *ret_lo)
{
    uint64_t hi = 0, lo;

    if (len == 32) {
        if (hex16(p, lower_only, &hi) < 0)
            return -EBADMSG;
        p += 16;
    } else if (len != 16) {
        return -EBADMSG;
    }
    if (hex16(p, lower_only, &lo) < 0 || (hi == 0 && lo == 0))
        return -EBADMSG;
    *ret_hi = hi;
    *ret_lo = lo;
    return 0;
}

/* A span or parent id: exactly 16 hex digits, not zero. */
static int
span_id_parse(const char *p, size_t len, uint64_t *ret)
{
    uint64_t v;

    if (len != 16 || hex16(p, false, &v) < 0 || v == 0)
        return -EBADMSG;
    *ret = v;
    return 0;
}

static void
put_hex64(uint64_t v, char *out)
{
    for (int i = 15; i >= 0; i--) {
        out[i] = hexdig[v & 0xf];
        v >>= 4;
    }
}

static bool
ieq(const char *a, size_t alen, const char *lit)
{
    size_t n = strlen(lit);

    if (alen != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];

        if (c >= 'A' && c <= 'Z')
            c = (char) (c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

/* Empty output for a too-small buffer, as the header promises. */
static size_t
too_small(char *out, size_t cap)
{
    if (cap > 0)
        out[0] = '\0';
    return 0;
}

static uint64_t
get_be64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void
put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char) (v & 0xff);
        v >>= 8;
    }
}

/* ---- l5d-ctx-trace -------------------------------------------------------------------- */

static int
b64val(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

/* Decodes standard base64 into <out> (<cap> bytes) the way java.util.Base64's basic
 * decoder does: '=' padding is optional, but when present it must complete the last
 * quantum; the unused low bits of the last symbol are not checked. Returns the byte count
 * or -EBADMSG. */
static int
b64_decode(const char *v, size_t len, unsigned char *out, size_t cap)
{
    size_t pad = 0, n, o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;

    while (pad < 2 && pad < len && v[len - 1 - pad] == '=')
        pad++;
    n = len - pad;
    if (n % 4 == 1 || (pad > 0 && (n % 4 == 0 || (n + pad) % 4 != 0)))
        return -EBADMSG;
    if (n * 3 / 4 > cap)
        return -EBADMSG;
    for (size_t i = 0; i < n; i++) {
        int d = b64val(v[i]);

        if (d < 0)
            return -EBADMSG;
        acc = (acc << 6) | (uint32_t) d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (int) o;
}

int
tracectx_l5d_parse(const char *v, size_t len, struct trace_ctx *ret)
{
    unsigned char blob[L5D_BLOB_128];
    struct trace_ctx c;
    int n;

    if (len > 56) /* longest form: 40 bytes with "==" */
        return -EBADMSG;
    n = b64_decode(v, len, blob, sizeof(blob));
    if (n != L5D_BLOB_64 && n != L5D_BLOB_128)
        return -EBADMSG;
    c.span_id = get_be64(blob);
    c.parent_id = get_be64(blob + 8);
    c.trace_lo = get_be64(blob + 16);
    c.flags = get_be64(blob + 24);
    c.trace_hi = n == L5D_BLOB_128 ? get_be64(blob + 32) : 0;
    if (c.span_id == 0 || (c.trace_hi == 0 && c.trace_lo == 0))
        return -EBADMSG;
    if (c.parent_id == c.span_id) /* Finagle: no explicit parent */
        c.parent_id = 0;
    *ret = c;
    return 0;
}

size_t
tracectx_l5d_format(const struct trace_ctx *c, char *out, size_t cap)
{
    unsigned char blob[L5D_BLOB_128];
    size_t n = c->trace_hi != 0 ? L5D_BLOB_128 : L5D_BLOB_64;
    size_t olen = (n + 2) / 3 * 4, o = 0, i;

    if (cap < olen + 1)
        return too_small(out, cap);
    put_be64(blob, c->span_id);
    put_be64(blob + 8, c->parent_id != 0 ? c->parent_id : c->span_id);
    put_be64(blob + 16, c->trace_lo);
    put_be64(blob + 24, c->flags);
    if (c->trace_hi != 0)
        put_be64(blob + 32, c->trace_hi);
    for (i = 0; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t) blob[i] << 16 | (uint32_t) blob[i + 1] << 8 | blob[i + 2];

        out[o++] = b64enc[w >> 18];
        out[o++] = b64enc[(w >> 12) & 63];
        out[o++] = b64enc[(w >> 6) & 63];
        out[o++] = b64enc[w & 63];
    }
    if (n - i == 1) {
        uint32_t w = (uint32_t) blob[i] << 16;

        out[o++] = b64enc[w >> 18];
        out[o++] = b64enc[(w >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t w = (uint32_t) blob[i] << 16 | (uint32_t) blob[i + 1] << 8;

        out[o++] = b64enc[w >> 18];
        out[o++] = b64enc[(w >> 12) & 63];
        out[o++] = b64enc[(w >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

size_t
tracectx_reqid_format(const struct trace_ctx *c, char *out)
{
    return tracectx_hex64(c->trace_lo, out);
}

/* ---- B3 ------------------------------------------------------------------------------- */

static const uint64_t F_KEEP = TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED;
static const uint64_t F_DEBUG = TRACECTX_F_DEBUG | TRACECTX_F_SAMPLING_KNOWN | TRACECTX_F_SAMPLED;

/* X-B3-Flags: a decimal unsigned integer of at most 19 digits (fits without overflow). */
static int
b3_flags_parse(const char *v, size_t len, uint64_t *ret)
{
    uint64_t x = 0;

    if (len == 0 || len > 19)
        return -EBADMSG;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -EBADMSG;
        x = x * 10 + (uint64_t) (v[i] - '0');
    }
    *ret = x;
    return 0;
}

int
tracectx_b3_multi_parse(const char *trace_id, size_t tl, const char *span_id, size_t sl,
                        const char *parent, size_t pl, const char *sampled, size_t sal,
                        const char *flags, size_t fl, struct trace_ctx *ret)
{
    struct trace_ctx c = {0};
    uint64_t bflags;

    if (sampled != NULL) {
        if (ieq(sampled, sal, "1") || ieq(sampled, sal, "true"))
            c.flags = F_KEEP;
        else if (ieq(sampled, sal, "0") || ieq(sampled, sal, "false"))
            c.flags = TRACECTX_F_SAMPLING_KNOWN;
        else
            return -EBADMSG;
    }
    if (flags != NULL) {
        if (b3_flags_parse(flags, fl, &bflags) < 0)
            return -EBADMSG;
        if (bflags & TRACECTX_F_DEBUG)
            c.flags = F_DEBUG;
    }
    if (trace_id == NULL && span_id == NULL) {
        /* sampling only: needs a decision and no parent ("X-B3-Flags: 0" alone says
         * nothing, and must not outrank a later format that does) */
        if (parent != NULL || c.flags == 0)
            return -EBADMSG;
        *ret = c;
        return 0;
    }
    if (trace_id == NULL || span_id == NULL)
        return -EBADMSG;
    if (trace_id_parse(trace_id, tl, false, &c.trace_hi, &c.trace_lo) < 0 ||
        span_id_parse(span_id, sl, &c.span_id) < 0)
        return -EBADMSG;
    if (parent != NULL && span_id_parse(parent, pl, &c.parent_id) < 0)
        return -EBADMSG;
    *ret = c;
    return 0;
}

/* The one-character sampling field of "b3". */
static int
b3_sampling_parse(char ch, uint64_t *ret)
{
    switch (ch) {
    case '0':
        *ret = TRACECTX_F_SAMPLING_KNOWN;
        return 0;
    case '1':
        *ret = F_KEEP;
        return 0;
    case 'd':
        *ret = F_DEBUG;
        return 0;
    default:
        return -EBADMSG;
    }
}

int
tracectx_b3_single_parse(const char *v, size_t len, struct trace_ctx *ret)
{
    struct trace_ctx c = {0};
    const char *end = v + len, *p, *dash;

    if (len == 1) {
        if (b3_sampling_parse(v[0], &c.flags) < 0)
            return -EBADMSG;
        *ret = c;
        return 0;
    }
    if (len > TRACECTX_B3_SINGLE_MAX - 1)
        return -EBADMSG;
    dash = memchr(v, '-', len);
    if (dash == NULL || trace_id_parse(v, (size_t) (dash - v), false, &c.trace_hi, &c.trace_lo) < 0)
        return -EBADMSG;
    p = dash + 1;
    if ((size_t) (end - p) < 16 || span_id_parse(p, 16, &c.span_id) < 0)
        return -EBADMSG;
    p += 16;
    if (p == end)
        goto done;
    /* "-{sampling}" is one character; "-{parent}" sixteen */
    if (*p++ != '-')
        return -EBADMSG;
    if (end - p == 1 || (end - p > 1 && p[1] == '-')) {
        if (b3_sampling_parse(*p, &c.flags) < 0)
            return -EBADMSG;
        p++;
        if (p == end)
            goto done;
        if (*p++ != '-')
            return -EBADMSG;
    }
    if (span_id_parse(p, (size_t) (end - p), &c.parent_id) < 0)
        return -EBADMSG;
done:
    *ret = c;
    return 0;
}

size_t
tracectx_b3_single_format(const struct trace_ctx *c, char *out, size_t cap)
{
    char tmp[TRACECTX_B3_SINGLE_MAX];
    size_t o = tracectx_trace_id_hex(c, tmp);

    tmp[o++] = '-';
    put_hex64(c->span_id, tmp + o);
    o += 16;
    switch (tracectx_decision(c)) {
    case TRACECTX_KEEP:
        tmp[o++] = '-';
        tmp[o++] = (c->flags & TRACECTX_F_DEBUG) ? 'd' : '1';
        break;
    case TRACECTX_DROP:
        tmp[o++] = '-';
        tmp[o++] = '0';
        break;
    case TRACECTX_UNDECIDED:
        break;
    }
    if (c->parent_id != 0) {
        tmp[o++] = '-';
        put_hex64(c->parent_id, tmp + o);
        o += 16;
    }
    if (cap < o + 1)
        return too_small(out, cap);
    memcpy(out, tmp, o);
    out[o] = '\0';
    return o;
}

size_t
tracectx_hex64(uint64_t v, char *out)
{
    put_hex64(v, out);
    out[16] = '\0';
    return 16;
}

size_t
tracectx_trace_id_hex(const struct trace_ctx *c, char *out)
{
    if (c->trace_hi == 0)
        return tracectx_hex64(c->trace_lo, out);
    put_hex64(c->trace_hi, out);
    return 16 + tracectx_hex64(c->trace_lo, out + 16);
}

const char *
tracectx_b3_sampled_value(const struct trace_ctx *c)
{
    if (c->flags & TRACECTX_F_DEBUG)
        return NULL;
    switch (tracectx_decision(c)) {
    case TRACECTX_KEEP:
        return "1";
    case TRACECTX_DROP:
        return "0";
    case TRACECTX_UNDECIDED:
        break;
    }
    return NULL;
}

const char *
tracectx_b3_flags_value(const struct trace_ctx *c)
{
    return (c->flags & TRACECTX_F_DEBUG) ? "1" : NULL;
}

/* ---- traceparent ---------------------------------------------------------------------- */

int
tracectx_traceparent_parse(const char *v, size_t len, struct trace_ctx *ret)
{
    struct trace_ctx c = {0};
    int ver_hi, ver_lo, f_hi, f_lo;

    if (len < TP_LEN)
        return -EBADMSG;
    ver_hi = hexval(v[0], true);
    ver_lo = hexval(v[1], true);
    if (ver_hi < 0 || ver_lo < 0 || (ver_hi == 0xf && ver_lo == 0xf))
        return -EBADMSG;
    /* 00 is exactly 55 chars; a later version may append "-..." that we do not know */
    if (ver_hi == 0 && ver_lo == 0 ? len != TP_LEN : (len > TP_LEN && v[TP_LEN] != '-'))
        return -EBADMSG;
    if (v[2] != '-' || v[35] != '-' || v[52] != '-')
        return -EBADMSG;
    if (trace_id_parse(v + 3, 32, true, &c.trace_hi, &c.trace_lo) < 0)
        return -EBADMSG;
    if (hex16(v + 36, true, &c.span_id) < 0 || c.span_id == 0)
        return -EBADMSG;
    f_hi = hexval(v[53], true);
    f_lo = hexval(v[54], true);
    if (f_hi < 0 || f_lo < 0)
        return -EBADMSG;
    c.flags = (f_lo & 1) ? F_KEEP : TRACECTX_F_SAMPLING_KNOWN;
    *ret = c;
    return 0;
}

size_t
tracectx_traceparent_format(const struct trace_ctx *c, char *out, size_t cap)
{
    if (cap < TP_LEN + 1)
        return too_small(out, cap);
    memcpy(out, "00-", 3);
    put_hex64(c->trace_hi, out + 3);
    put_hex64(c->trace_lo, out + 19);
    out[35] = '-';
    put_hex64(c->span_id, out + 36);
    out[52] = '-';
    out[53] = '0';
    out[54] = tracectx_decision(c) == TRACECTX_KEEP ? '1' : '0';
    out[55] = '\0';
    return TP_LEN;
}

/* ---- sampling ------------------------------------------------------------------------- */

enum tracectx_decision
tracectx_decision(const struct trace_ctx *c)
{
    if (c->flags & TRACECTX_F_DEBUG)
        return TRACECTX_KEEP;
    if (!(c->flags & TRACECTX_F_SAMPLING_KNOWN))
        return TRACECTX_UNDECIDED;
    return (c->flags & TRACECTX_F_SAMPLED) ? TRACECTX_KEEP : TRACECTX_DROP;
}

/* splitmix64's finaliser: a bijection that spreads any id, even sequential or
 * timestamp-heavy ones, uniformly over 64 bits. Fixed constants, no salt, so every node
 * computes the same value. */
static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

bool
tracectx_sample_decide(uint64_t trace_lo, double rate)
{
    if (!(rate > 0.0)) /* also NaN */
        return false;
    if (rate >= 1.0)
        return true;
    /* top 53 bits as an exact double in [0, 2^53): P(keep) = rate, to 2^-53 */
    return (double) (mix64(trace_lo) >> 11) < rate * 9007199254740992.0;
}

/* Powers of ten that are exact doubles. */
static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

int
tracectx_sample_rate_parse(const char *v, size_t len, double *ret)
{
    const char *p = v, *end = v + len;
    bool neg = false;
    uint64_t mant = 0;
    int ndigits = 0, sig = 0;
    long exp10 = 0, e = 0;
    double x;

    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    /* digits [. digits]: keep 19 significant digits, count the rest in the exponent */
    for (; p < end && *p >= '0' && *p <= '9'; p++, ndigits++) {
        if (sig < 19) {
            mant = mant * 10 + (uint64_t) (*p - '0');
            sig += mant != 0;
        } else {
            exp10++;
        }
    }
    if (p < end && *p == '.') {
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, ndigits++) {
            if (sig < 19) {
                mant = mant * 10 + (uint64_t) (*p - '0');
                sig += mant != 0;
                exp10--;
            }
        }
    }
    if (ndigits == 0)
        return -EINVAL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        bool eneg = false;
        int edigits = 0;

        p++;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        for (; p < end && *p >= '0' && *p <= '9'; p++, edigits++) {
            if (e < 100000) /* beyond this the value is 0 or huge anyway */
                e = e * 10 + (*p - '0');
        }
        if (edigits == 0)
            return -EINVAL;
        exp10 += eneg ? -e : e;
    }
    if (p != end)
        return -EINVAL;

    if (neg || mant == 0) {
        *ret = 0.0;
        return 0;
    }
    if (exp10 >= 0) {
        /* mant >= 1 and a non-negative exponent: >= 1 */
        *ret = 1.0;
        return 0;
    }
    /* mant / 10^-exp10; exact-operand division is correctly rounded when mant < 2^53
     * and -exp10 <= 22 (the common "0.25" case), close enough otherwise */
    if (exp10 < -400) { /* below the smallest double: 19 digits cannot lift it */
        *ret = 0.0;
        return 0;
    }
    x = (double) mant;
    while (exp10 < -22) {
        x /= 1e22;
        exp10 += 22;
    }
    x /= pow10_exact[-exp10];
    *ret = x > 1.0 ? 1.0 : x;
    return 0;
}

bool
tracectx_sample_apply(struct trace_ctx *c, double rate, double override)
{
    bool keep;

    if (c->flags & TRACECTX_F_DEBUG)
        keep = true;
    else if (override >= 0.0 && override <= 1.0)
        keep = tracectx_sample_decide(c->trace_lo, override);
    else if (c->flags & TRACECTX_F_SAMPLING_KNOWN)
        keep = (c->flags & TRACECTX_F_SAMPLED) != 0;
    else
        keep = tracectx_sample_decide(c->trace_lo, rate);
    c->flags &= ~(uint64_t) TRACECTX_F_SAMPLED;
    c->flags |= TRACECTX_F_SAMPLING_KNOWN | (keep ? TRACECTX_F_SAMPLED : 0);
    return keep;
}

/* ---- building contexts ---------------------------------------------------------------- */

void
tracectx_root(uint64_t trace_hi, uint64_t trace_lo, uint64_t span_id,
              const struct trace_ctx *decision_from, struct trace_ctx *ret)
{
    ret->trace_hi = trace_hi;
    ret->trace_lo = trace_lo;
    ret->span_id = span_id;
    ret->parent_id = 0;
    ret->flags = decision_from != NULL ? decision_from->flags : 0;
}

void
tracectx_child(const struct trace_ctx *parent, uint64_t span_id, struct trace_ctx *ret)
{
    struct trace_ctx c = *parent; /* <ret> may alias <parent> */

    c.parent_id = parent->span_id;
    c.span_id = span_id;
    *ret = c;
}

/* ---- precedence ----------------------------------------------------------------------- */

static const enum tracectx_source precedence[] = {
    TRACECTX_L5D,
    TRACECTX_B3_SINGLE,
    TRACECTX_B3_MULTI,
    TRACECTX_TRACEPARENT,
};

#define N_PRECEDENCE (sizeof(precedence) / sizeof(precedence[0]))

static bool
is_child_of(const struct trace_ctx *child, const struct trace_ctx *of)
{
    return child->span_id != 0 && child->trace_lo == of->trace_lo &&
           child->parent_id == of->span_id && child->span_id != of->span_id;
}

enum tracectx_source
tracectx_choose(const struct trace_ctx cands[TRACECTX_N_SOURCES], unsigned valid)
{
    enum tracectx_source pick = TRACECTX_NONE;

    for (size_t i = 0; i < N_PRECEDENCE; i++) {
        if (valid & TRACECTX_FMT(precedence[i])) {
            pick = precedence[i];
            break;
        }
    }
    if (pick == TRACECTX_NONE || cands[pick].span_id == 0)
        return pick;
    /* follow direct children; each step moves down one generation, so N steps suffice
     * even for contrived cycles */
    for (size_t step = 0; step < N_PRECEDENCE; step++) {
        enum tracectx_source next = TRACECTX_NONE;

        for (size_t i = 0; i < N_PRECEDENCE; i++) {
            enum tracectx_source s = precedence[i];

            if (s != pick && (valid & TRACECTX_FMT(s)) && is_child_of(&cands[s], &cands[pick])) {
                next = s;
                break;
            }
        }
        if (next == TRACECTX_NONE)
            break;
        pick = next;
    }
    return pick;
}

static const char *const source_names[TRACECTX_N_SOURCES] = {
    [TRACECTX_NONE] = "none",
    [TRACECTX_L5D] = "l5d",
    [TRACECTX_B3_MULTI] = "b3multi",
    [TRACECTX_B3_SINGLE] = "b3",
    [TRACECTX_TRACEPARENT] = "traceparent",
};

const char *
tracectx_source_name(enum tracectx_source src)
{
    if ((unsigned) src >= TRACECTX_N_SOURCES)
        return "none";
    return source_names[src];
}

int
tracectx_source_from_name(const char *name, size_t len, enum tracectx_source *ret)
{
    for (unsigned i = TRACECTX_L5D; i < TRACECTX_N_SOURCES; i++) {
        if (strlen(source_names[i]) == len && memcmp(source_names[i], name, len) == 0) {
            *ret = (enum tracectx_source) i;
            return 0;
        }
    }
    return -EINVAL;
}

/* ---- l5d-ctx-deadline ----------------------------------------------------------------- */

void
tracectx_deadline_init(struct trace_deadline *d)
{
    d->timestamp_ns = TRACECTX_DEADLINE_NONE_TS;
    d->deadline_ns = TRACECTX_DEADLINE_NONE_DL;
}

bool
tracectx_deadline_is_none(const struct trace_deadline *d)
{
    return d->timestamp_ns == TRACECTX_DEADLINE_NONE_TS &&
           d->deadline_ns == TRACECTX_DEADLINE_NONE_DL;
}

/* [+-]digits as an int64 (Java's Long.parseLong grammar), without overflow. */
static int
int64_parse(const char *p, size_t len, int64_t *ret)
{
    bool neg = false;
    uint64_t x = 0, limit;
    size_t i = 0;

    if (len > 0 && (p[0] == '+' || p[0] == '-')) {
        neg = p[0] == '-';
        i = 1;
    }
    if (i == len)
        return -EBADMSG;
    limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    for (; i < len; i++) {
        unsigned d;

        if (p[i] < '0' || p[i] > '9')
            return -EBADMSG;
        d = (unsigned) (p[i] - '0');
        if (x > (limit - d) / 10)
            return -EBADMSG;
        x = x * 10 + d;
    }
    /* -(2^63) has no positive twin: negate in unsigned arithmetic */
    *ret = neg ? (int64_t) (0 - x) : (int64_t) x;
    return 0;
}

int
tracectx_deadline_parse(const char *v, size_t len, struct trace_deadline *ret)
{
    const char *sp = memchr(v, ' ', len);
    struct trace_deadline d;
    size_t tl;

    if (sp == NULL)
        return -EBADMSG;
    tl = (size_t) (sp - v);
    if (int64_parse(v, tl, &d.timestamp_ns) < 0 ||
        int64_parse(sp + 1, len - tl - 1, &d.deadline_ns) < 0)
        return -EBADMSG;
    *ret = d;
    return 0;
}

void
tracectx_deadline_merge(struct trace_deadline *acc, const struct trace_deadline *d)
{
    if (d->timestamp_ns > acc->timestamp_ns)
        acc->timestamp_ns = d->timestamp_ns;
    if (d->deadline_ns < acc->deadline_ns)
        acc->deadline_ns = d->deadline_ns;
}

/* Writes <v> in decimal to <out> (at least 21 bytes); returns the length, no NUL. */
static size_t
put_int64(int64_t v, char *out)
{
    char tmp[20];
    uint64_t x = v < 0 ? 0 - (uint64_t) v : (uint64_t) v;
    size_t n = 0, o = 0;

    do {
        tmp[n++] = (char) ('0' + x % 10);
        x /= 10;
    } while (x != 0);
    if (v < 0)
        out[o++] = '-';
    while (n > 0)
        out[o++] = tmp[--n];
    return o;
}

size_t
tracectx_deadline_format(const struct trace_deadline *d, char *out, size_t cap)
{
    char tmp[TRACECTX_DEADLINE_MAX];
    size_t o = put_int64(d->timestamp_ns, tmp);

    tmp[o++] = ' ';
    o += put_int64(d->deadline_ns, tmp + o);
    if (cap < o + 1)
        return too_small(out, cap);
    memcpy(out, tmp, o);
    out[o] = '\0';
    return o;
}

/* tools/meshctl/term.c - column arithmetic for meshctl's screens; see term.h. */
#include "tools/meshctl/term.h"

#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/strbuf.h"

void
term_init(struct term *t, unsigned width)
{
    struct winsize ws;
    const char *cs, *env = getenv("COLUMNS");

    (void) setlocale(LC_CTYPE, "");
    cs = nl_langinfo(CODESET);
    t->utf8 = cs != NULL && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
    t->tty = isatty(STDOUT_FILENO) == 1;
    if (width == 0 && t->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        width = ws.ws_col;
    if (width == 0 && env != NULL)
        width = (unsigned) strtoul(env, NULL, 10);
    if (width == 0)
        width = TERM_DEFAULT_WIDTH;
    t->width = width < TERM_MIN_WIDTH ? TERM_MIN_WIDTH : width;
}

static bool
is_cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

size_t
term_cols(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += !is_cont((unsigned char) *s);
    return n;
}

/* Byte offset of the code point that starts column <col> of <s> (or the end). */
static size_t
col_offset(const char *s, size_t col)
{
    size_t i = 0;

    while (s[i] && col > 0) {
        i++;
        while (is_cont((unsigned char) s[i]))
            i++;
        col--;
    }
    return i;
}

void
term_add_spaces(struct strbuf *out, size_t n)
{
    static const char spaces[] = "                                ";

    while (n > 0) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

        strbuf_add(out, spaces, k);
        n -= k;
    }
}

void
term_add_fit(struct strbuf *out, const struct term *t, const char *s, size_t cols, bool right_align)
{
    size_t have = term_cols(s), head, tail, tail_off;

    if (have <= cols) {
        if (right_align)
            term_add_spaces(out, cols - have);
        strbuf_adds(out, s);
        if (!right_align)
            term_add_spaces(out, cols - have);
        return;
    }
    if (cols == 0)
        return;
    /* keep one more column of the end than of the start: the end of a path names it */
    head = (cols - 1) / 2;
    tail = cols - 1 - head;
    strbuf_add(out, s, col_offset(s, head));
    strbuf_adds(out, t->utf8 ? "\u2026" : "~");
    tail_off = col_offset(s, have - tail);
    strbuf_adds(out, s + tail_off);
}

void
term_fmt_us(char *buf, size_t len, double us)
{
    double ms = us / 1000.0, s = us / 1e6;

    if (us < 0)
        snprintf(buf, len, "-");
    else if (us < 999.5)
        snprintf(buf, len, "%.0fus", us);
    else if (ms < 9.995)
        snprintf(buf, len, "%.2fms", ms);
    else if (ms < 99.95)
        snprintf(buf, len, "%.1fms", ms);
    else if (ms < 999.5)
        snprintf(buf, len, "%.0fms", ms);
    else if (s < 9.995)
        snprintf(buf, len, "%.2fs", s);
    else if (s < 99.95)
        snprintf(buf, len, "%.1fs", s);
    else
        snprintf(buf, len, "%.0fs", s);
}

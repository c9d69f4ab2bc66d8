/* tools/meshctl/term.h - fitting text into terminal columns: the output width, whether
 * the locale can show UTF-8 glyphs (the "…" of a truncated name, the blocks of a time
 * bar), cutting long names in the middle, and short human units for durations. */
#ifndef MESH_TOOLS_MESHCTL_TERM_H
#define MESH_TOOLS_MESHCTL_TERM_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf;

struct term {
    unsigned width; /* columns to fill; 80 unless the terminal or COLUMNS says otherwise */
    bool utf8;      /* the locale's charset is UTF-8: "…" and "█", else "~" and "#" */
    bool tty;       /* stdout is a terminal (--watch clears the screen only then) */
};

#define TERM_DEFAULT_WIDTH 80
#define TERM_MIN_WIDTH     40

/* Fills <t> for standard output: the width is <width> when not 0, else the terminal's
 * (TIOCGWINSZ), else $COLUMNS, else 80, and never below 40. Calls setlocale(LC_CTYPE, ""). */
void term_init(struct term *t, unsigned width);

/* Columns <s> takes: one per UTF-8 code point (meshctl prints no wide characters). */
size_t term_cols(const char *s);

/* Appends <s> in exactly <cols> columns: padded with spaces (on the left when
 * <right_align>), or cut in the middle with an ellipsis when longer, so that both the
 * start and the end of a long name stay visible. */
void term_add_fit(struct strbuf *out, const struct term *t, const char *s, size_t cols,
                  bool right_align);

/* <n> spaces. */
void term_add_spaces(struct strbuf *out, size_t n);

/* A duration in microseconds as at most 6 columns: "850us", "8.45ms", "12.3ms",
 * "123ms", "1.23s", "12.3s", "123s"; "-" when <us> is negative (unknown). */
void term_fmt_us(char *buf, size_t len, double us);

#endif

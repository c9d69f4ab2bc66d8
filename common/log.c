/* common/log.c - stderr logger. A line is written with one write(2) so that lines of
 * the master and its workers never interleave mid-line. */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

static char log_tag[32] = "meshd";
static enum log_level log_level = LOG_LEVEL_NOTICE;
static const char *const level_names[] = {"err", "warn", "notice", "info", "debug"};

void
log_set_tag(const char *tag)
{
    snprintf(log_tag, sizeof(log_tag), "%s", tag);
}

void
log_set_level(enum log_level level)
{
    log_level = level;
}

enum log_level
log_get_level(void)
{
    return log_level;
}

int
log_level_parse(const char *s, enum log_level *ret_level)
{
    for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *ret_level = (enum log_level) i;
            return 0;
        }
    }
    return -EINVAL;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    char line[1024];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n, m;

    if (level > log_level)
        return;
    (void) gettimeofday(&tv, NULL);
    (void) gmtime_r(&tv.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-6s %s[%d]: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int) (tv.tv_usec / 1000), level_names[level], log_tag, (int) getpid());
    if (n < 0)
        return;
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m;
    if ((size_t) n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    (void) !write(STDERR_FILENO, line, (size_t) n);
}

int
log_ratelimit_ok(struct log_ratelimit *rl)
{
    uint64_t now = clock_mono_us();

    if (now - rl->window_start_us >= rl->interval_us) {
        if (rl->suppressed)
            log_msg(LOG_LEVEL_NOTICE, "%lu similar messages suppressed", rl->suppressed);
        rl->window_start_us = now;
        rl->in_window = 0;
        rl->suppressed = 0;
    }
    if (rl->in_window < rl->burst) {
        rl->in_window++;
        return 1;
    }
    rl->suppressed++;
    return 0;
}

/* common/log.h - one line per event on stderr: time, level, process tag, message.
 * Only proxy/, agent/ and tools/ log; common/ and proto/ return errors instead. */
#ifndef MESH_COMMON_LOG_H
#define MESH_COMMON_LOG_H

#include <stdint.h>

enum log_level {
    LOG_LEVEL_ERR = 0,
    LOG_LEVEL_WARN,
    LOG_LEVEL_NOTICE,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

/* <tag> is copied: e.g. "master" or "worker 2"; the pid is added by log_msg(). */
void log_set_tag(const char *tag);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "err|warn|notice|info|debug"; returns -EINVAL for anything else. */
int log_level_parse(const char *s, enum log_level *ret_level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)    log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_get_level() >= LOG_LEVEL_DEBUG)                                                    \
            log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                                                 \
    } while (0)

/* Rate limit for messages that can repeat per request: at most <burst> per <interval_us>. */
struct log_ratelimit {
    uint64_t interval_us;
    unsigned burst;
    uint64_t window_start_us;
    unsigned in_window;
    unsigned long suppressed;
};

#define LOG_RATELIMIT_INIT(interval_us_, burst_) {.interval_us = (interval_us_), .burst = (burst_)}

/* Returns 1 when the caller may log now, 0 when it should stay quiet. */
int log_ratelimit_ok(struct log_ratelimit *rl);

#endif

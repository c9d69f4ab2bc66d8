/* tools/meshctl/meshctl.h - what the subcommands share: exit codes, the entry point of
 * each subcommand (called by main.c with argv[0] the subcommand's name) and the handful of
 * helpers every command uses to report trouble the same way. */
#ifndef MESH_TOOLS_MESHCTL_MESHCTL_H
#define MESH_TOOLS_MESHCTL_MESHCTL_H

/* Exit codes, as docs/meshctl.md documents them. */
#define MESHCTL_EXIT_OK 0 /* done; every target answered */
#define MESHCTL_EXIT_UNREACHABLE                                                                   \
    1                        /* a target could not be reached, or what was asked for               \
                              * was not found or not valid (config check) */
#define MESHCTL_EXIT_USAGE 2 /* bad command line */

#define MESHCTL_DEFAULT_ADMIN "127.0.0.1:9990" /* meshd's admin.ip/admin.port defaults */
#define MESHCTL_DEFAULT_AGENT "127.0.0.1:9991" /* meshagent's admin defaults */
#define MESHCTL_TIMEOUT_MS    3000             /* one admin request, connect to last byte */

int cmd_stats_main(int argc, char **argv);
int cmd_config_main(int argc, char **argv);
int cmd_traces_main(int argc, char **argv);
int cmd_trace_main(int argc, char **argv);
int cmd_dtab_main(int argc, char **argv);

/* "meshctl <cmd>: <message>" on stderr, then "Try 'meshctl <cmd> --help'." Returns
 * MESHCTL_EXIT_USAGE so callers can `return meshctl_usage_error(...)`. */
int meshctl_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a --width value (TERM_MIN_WIDTH..1000 columns). Returns 0 or -EINVAL. */
int meshctl_parse_width(const char *s, unsigned *ret_width);

#endif

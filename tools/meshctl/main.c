/* tools/meshctl/main.c - meshctl, the command line of a meshd node: `meshctl COMMAND
 * [OPTIONS]`. Dispatches to the subcommands (cmd_*.c), each with its own --help.
 * docs/meshctl.md is the manual. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "tools/meshctl/meshctl.h"
#include "tools/meshctl/term.h"

#ifndef MESHCTL_VERSION
#define MESHCTL_VERSION "dev"
#endif

struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"stats", cmd_stats_main, "routers, services, clients and the node agent at a glance"},
    {"traces", cmd_traces_main, "recent traces from the node agent"},
    {"trace", cmd_trace_main, "one trace as a tree with time bars"},
    {"config", cmd_config_main, "config check FILE: validate a config file"},
    {"dtab", cmd_dtab_main, "dtab resolve PATH: how a name resolves (meshd or a config)"},
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: meshctl COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "`meshctl COMMAND --help` describes each one.\n"
               "Exit status: 0 ok, 1 a target could not be reached or was not found,\n"
               "2 usage error.\n");
}

int
meshctl_usage_error(const char *cmd, const char *fmt, ...)
{
    struct strbuf msg = STRBUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "meshctl %s: %s\nTry 'meshctl %s --help'.\n", cmd, strbuf_str(&msg), cmd);
    strbuf_fini(&msg);
    return MESHCTL_EXIT_USAGE;
}

int
meshctl_parse_width(const char *s, unsigned *ret_width)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < TERM_MIN_WIDTH || v > 1000)
        return -EINVAL;
    *ret_width = (unsigned) v;
    return 0;
}

int
main(int argc, char **argv)
{
    const char *level = getenv("MESHCTL_LOG_LEVEL");
    enum log_level lvl = LOG_LEVEL_WARN;

    /* MESHCTL_LOG_LEVEL=debug shows every admin request on stderr */
    log_set_tag("meshctl");
    if (level != NULL && log_level_parse(level, &lvl) != 0)
        fprintf(stderr, "meshctl: MESHCTL_LOG_LEVEL: unknown level '%s', ignoring\n", level);
    log_set_level(lvl);
    if (argc < 2) {
        usage(stderr);
        return MESHCTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return MESHCTL_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("meshctl %s\n", MESHCTL_VERSION);
        return MESHCTL_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "meshctl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return MESHCTL_EXIT_USAGE;
}

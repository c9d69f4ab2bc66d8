/* proxy/main.c - meshd's command line: `meshd [--check] CONFIG.yaml`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "proxy/master.h"

static void
usage(FILE *f)
{
    fprintf(f, "usage: meshd [--check] [--log-level LEVEL] CONFIG.yaml\n"
               "\n"
               "  --check            validate CONFIG.yaml, print its problems, exit 0 or 1\n"
               "  --log-level LEVEL  err, warn, notice (default), info or debug;\n"
               "                     overrides meshd.logLevel in the config\n"
               "  --version          print the version\n"
               "\n"
               "Signals: HUP reloads the config, TERM/INT/QUIT drain and stop.\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"check", no_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *level_arg = NULL;
    bool check = false;
    struct cfg_err err;
    struct strbuf problems = STRBUF_INIT;
    enum log_level level;
    struct cfg *cfg;
    int opt;

    while ((opt = getopt_long(argc, argv, "cl:Vh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            check = true;
            break;
        case 'l':
            level_arg = optarg;
            break;
        case 'V':
            printf("meshd %s\n", MESHD_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    cfg = cfg_load(argv[optind], &err);
    if (cfg == NULL) {
        fprintf(stderr, "%s", err.text);
        fprintf(stderr, "meshd: %s: %u problem%s found\n", argv[optind], err.n_errors,
                err.n_errors == 1 ? "" : "s");
        return 1;
    }
    if (master_validate(cfg, &problems) != 0) {
        fprintf(stderr, "%s", strbuf_str(&problems));
        strbuf_fini(&problems);
        cfg_free(cfg);
        return 1;
    }
    strbuf_fini(&problems);
    if (check) {
        printf("%s: ok\n", argv[optind]);
        cfg_free(cfg);
        return 0;
    }
    if (level_arg == NULL)
        level_arg = cfg->meshd.log_level ? cfg->meshd.log_level : "notice";
    if (log_level_parse(level_arg, &level) != 0) {
        fprintf(stderr, "meshd: unknown log level '%s' (err, warn, notice, info, debug)\n",
                level_arg);
        cfg_free(cfg);
        return 2;
    }
    log_set_level(level);
    return master_run(argv[optind], cfg);
}

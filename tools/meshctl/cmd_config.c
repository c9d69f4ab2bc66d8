/* tools/meshctl/cmd_config.c - `meshctl config check FILE`: loads FILE with the loader
 * meshd and meshagent use (common/cfg.h) and adds the checks of `meshd --check` that
 * need no proxy code: listen addresses are IP literals, io.l5d.fs rootDirs exist. Dtab
 * syntax is the naming module's (proxy/), so `meshd --check` stays the last word. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cfg.h"
#include "common/net.h"
#include "common/strbuf.h"
#include "tools/meshctl/meshctl.h"

static void
config_usage(FILE *f)
{
    fprintf(f, "usage: meshctl config check FILE\n"
               "\n"
               "Validates FILE as meshd and meshagent will read it: every problem is printed\n"
               "as FILE:LINE:COL: KEY: message. Dtab syntax is checked by `meshd --check`.\n"
               "\n"
               "  -h, --help   show this help\n"
               "\n"
               "Exit status: 0 valid, 1 invalid or unreadable, 2 usage error.\n");
}

/* The parts of meshd's master_validate() that need only common/. */
static unsigned
check_more(const struct cfg *cfg, struct strbuf *problems)
{
    unsigned n = 0;

    for (size_t i = 0; i < cfg->n_routers; i++) {
        const struct cfg_router *r = &cfg->routers[i];

        for (size_t s = 0; s < r->n_servers; s++) {
            struct sockaddr_storage ss;
            socklen_t len;

            if (net_parse_addr(r->servers[s].ip, r->servers[s].port, &ss, &len) != 0) {
                strbuf_addf(problems, "%s: routers[%zu].servers[%zu].ip: not an IP address: %s\n",
                            cfg->path, i, s, r->servers[s].ip);
                n++;
            }
        }
    }
    for (size_t i = 0; i < cfg->n_namers; i++) {
        const struct cfg_namer *nm = &cfg->namers[i];
        struct stat st;

        if (nm->kind && strcmp(nm->kind, "io.l5d.fs") == 0 && nm->root_dir &&
            (stat(nm->root_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
            strbuf_addf(problems, "%s: namers[%zu].rootDir: %s is not a directory\n", cfg->path, i,
                        nm->root_dir);
            n++;
        }
    }
    return n;
}

int
cmd_config_main(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    struct strbuf problems = STRBUF_INIT;
    struct cfg_err err;
    struct cfg *cfg;
    const char *file;
    unsigned n;
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'h') {
            config_usage(stdout);
            return MESHCTL_EXIT_OK;
        }
        return meshctl_usage_error("config", "unknown option");
    }
    if (optind >= argc)
        return meshctl_usage_error("config", "missing action: check");
    if (strcmp(argv[optind], "check") != 0)
        return meshctl_usage_error("config", "unknown action '%s' (only: check)", argv[optind]);
    optind++;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            config_usage(stdout);
            return MESHCTL_EXIT_OK;
        }
        return meshctl_usage_error("config", "unknown option");
    }
    if (optind != argc - 1)
        return meshctl_usage_error("config",
                                   optind >= argc ? "check: missing FILE" : "check: one FILE only");
    file = argv[optind];
    cfg = cfg_load(file, &err);
    if (cfg == NULL) {
        fprintf(stderr, "%s", err.text);
        fprintf(stderr, "meshctl: %s: %u problem%s found\n", file, err.n_errors,
                err.n_errors == 1 ? "" : "s");
        return MESHCTL_EXIT_UNREACHABLE;
    }
    n = check_more(cfg, &problems);
    if (n > 0) {
        fprintf(stderr, "%smeshctl: %s: %u problem%s found\n", strbuf_str(&problems), file, n,
                n == 1 ? "" : "s");
        strbuf_fini(&problems);
        cfg_free(cfg);
        return MESHCTL_EXIT_UNREACHABLE;
    }
    printf("%s: ok: %zu router%s", file, cfg->n_routers, cfg->n_routers == 1 ? "" : "s");
    for (size_t i = 0; i < cfg->n_routers; i++)
        printf("%s%s", i == 0 ? " (" : ", ", cfg->routers[i].label);
    printf("%s, admin %s:%u\n", cfg->n_routers ? ")" : "", cfg->admin.ip,
           (unsigned) cfg->admin.port);
    strbuf_fini(&problems);
    cfg_free(cfg);
    return MESHCTL_EXIT_OK;
}

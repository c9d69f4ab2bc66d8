/* tools/meshctl/cmd_dtab.c - `meshctl dtab resolve`: how a path resolves through a
 * router's dtab (plus dentries given on the command line), as the admin's /delegator.json
 * tree, printed readably or as JSON.
 *
 * Two sources of the tree: a running meshd (--admin, its /delegator.json), or the config
 * file alone (--config), offline: meshctl then runs the same naming code meshd does
 * (proxy/naming.c, proxy/delegator.c) on a loop of its own, so a dtab can be tried before
 * it is deployed. Offline, io.l5d.fs reads its directory and io.l5d.k8s asks the API it is
 * configured with; a name still pending after --wait shows as pending. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <json-c/json.h>

#include "common/cfg.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "proxy/delegator.h"
#include "proxy/naming.h"
#include "tools/meshctl/fetch.h"
#include "tools/meshctl/meshctl.h"

static const char dtab_usage[] =
    "usage: meshctl dtab resolve [--config FILE | --admin HOST:PORT] [--router LABEL]\n"
    "                            [--dtab 'DTAB'] [--wait SECONDS] [--json] PATH\n"
    "\n"
    "Shows how PATH (e.g. /svc/hello) resolves through a router's dtab, with DTAB's\n"
    "dentries appended as an l5d-dtab header would: every dentry tried, alternatives,\n"
    "weighted unions, transformers, and the addresses each bound name has.\n"
    "\n"
    "  -c, --config FILE      offline: evaluate with the routers and namers of FILE, on\n"
    "                         this machine (io.l5d.fs reads its directory, io.l5d.k8s\n"
    "                         asks its API); nothing needs to run\n"
    "  -a, --admin HOST:PORT  ask a running meshd's /delegator.json (default\n"
    "                         127.0.0.1:9990 when neither option is given)\n"
    "  -r, --router LABEL     the router (default: the first one)\n"
    "  -d, --dtab DTAB        dentries appended to the router's dtab for this lookup\n"
    "  -w, --wait SECONDS     --config: how long namers may take to answer (default 2)\n"
    "  -j, --json             print the tree as JSON (the admin's /delegator.json)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 the tree was shown, 1 meshd could not be reached or the lookup was\n"
    "refused (bad path or dtab, unknown router: the reason is printed), 2 usage error.\n";

/* ---- the readable tree ---------------------------------------------------------------- */

static const char *
str_of(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static void
print_addrs(json_object *bound)
{
    json_object *addr, *addrs, *meta, *state;
    const char *type;
    size_t i, n;

    if (!json_object_object_get_ex(bound, "addr", &addr))
        return;
    type = str_of(addr, "type");
    if (json_object_object_get_ex(addr, "meta", &meta) &&
        json_object_object_get_ex(meta, "state", &state))
        printf("  (%s)", json_object_get_string(state));
    if (type != NULL && strcmp(type, "pending") == 0) {
        printf("  pending");
        return;
    }
    if (!json_object_object_get_ex(addr, "addrs", &addrs))
        return;
    n = json_object_array_length(addrs);
    if (n == 0)
        printf("  no addresses");
    for (i = 0; i < n; i++) {
        json_object *a = json_object_array_get_idx(addrs, i), *am, *w;
        const char *ip = str_of(a, "ip");
        json_object *port;

        (void) json_object_object_get_ex(a, "port", &port);
        printf("%s%s%s%s:%d", i == 0 ? "  " : ", ", ip && strchr(ip, ':') ? "[" : "", ip ? ip : "?",
               ip && strchr(ip, ':') ? "]" : "", json_object_get_int(port));
        if (json_object_object_get_ex(a, "meta", &am) &&
            json_object_object_get_ex(am, "endpoint_addr_weight", &w))
            printf(" *%g", json_object_get_double(w));
    }
}

static void print_node(json_object *node, struct strbuf *indent, bool last);

static void
print_kids(json_object *arr, struct strbuf *indent)
{
    size_t i, n = json_object_array_length(arr);

    for (i = 0; i < n; i++)
        print_node(json_object_array_get_idx(arr, i), indent, i + 1 == n);
}

static void
print_child(json_object *child, struct strbuf *indent)
{
    print_node(child, indent, true);
}

/* One node: its line, then its children one level deeper. */
static void
print_node(json_object *node, struct strbuf *indent, bool last)
{
    json_object *dentry, *kid, *bound, *unused;
    const char *type = str_of(node, "type"), *path = str_of(node, "path");
    size_t mark = indent->len;

    printf("%s%s", strbuf_str(indent), last ? "└─ " : "├─ ");
    strbuf_adds(indent, last ? "   " : "│  ");
    if (type == NULL && json_object_object_get_ex(node, "tree", &kid)) {
        json_object *w;

        (void) json_object_object_get_ex(node, "weight", &w);
        printf("weight %g\n", json_object_get_double(w));
        print_child(kid, indent);
        goto out;
    }
    if (json_object_object_get_ex(node, "dentry", &dentry))
        printf("%s => %s  ", str_of(dentry, "prefix") ? str_of(dentry, "prefix") : "?",
               str_of(dentry, "dst") ? str_of(dentry, "dst") : "?");
    printf("%s %s", type ? type : "?", path ? path : "");
    if (json_object_object_get_ex(node, "unused", &unused))
        printf("  (unused)");
    if (type != NULL && (strcmp(type, "fail") == 0 || strcmp(type, "exception") == 0) &&
        str_of(node, "message"))
        printf("  %s", str_of(node, "message"));
    if (type != NULL && strcmp(type, "transformation") == 0 && str_of(node, "name"))
        printf("  by %s", str_of(node, "name"));
    if (json_object_object_get_ex(node, "bound", &bound)) {
        const char *id = str_of(bound, "id"), *rest = str_of(bound, "path");

        printf("  => %s%s", id ? id : "?", rest && rest[0] ? rest : "");
        print_addrs(bound);
    }
    if (json_object_object_get_ex(node, "rewrite", &kid))
        printf("  -> %s", json_object_get_string(kid));
    printf("\n");
    if (json_object_object_get_ex(node, "delegate", &kid))
        print_child(kid, indent);
    if (json_object_object_get_ex(node, "tree", &kid))
        print_child(kid, indent);
    if (json_object_object_get_ex(node, "alt", &kid))
        print_kids(kid, indent);
    if (json_object_object_get_ex(node, "union", &kid))
        print_kids(kid, indent);
out:
    indent->len = mark;
    indent->s[mark] = '\0';
}

static int
show(const char *json, bool as_json, const char *path)
{
    json_object *root;
    struct strbuf indent = STRBUF_INIT;

    if (as_json) {
        fputs(json, stdout);
        return MESHCTL_EXIT_OK;
    }
    root = json_tokener_parse(json);
    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        fprintf(stderr, "meshctl dtab: the delegation tree is not JSON\n");
        json_object_put(root);
        return MESHCTL_EXIT_UNREACHABLE;
    }
    printf("%s\n", path);
    strbuf_adds(&indent, "");
    print_node(root, &indent, true);
    strbuf_fini(&indent);
    json_object_put(root);
    return MESHCTL_EXIT_OK;
}

/* ---- the two sources ------------------------------------------------------------------ */

static void
url_escape(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~/", c) != NULL) {
            strbuf_addc(sb, (char) c);
        } else {
            strbuf_addc(sb, '%');
            strbuf_addc(sb, hex[c >> 4]);
            strbuf_addc(sb, hex[c & 15]);
        }
    }
}

static int
from_admin(const char *admin, const char *router, const char *dtab, const char *path, bool as_json)
{
    struct fetch_target t;
    struct fetch_result res;
    struct strbuf url = STRBUF_INIT;
    int rc;

    if (fetch_target_parse(&t, admin) != 0)
        return meshctl_usage_error("dtab", "--admin: expected HOST:PORT, not \"%s\"", admin);
    strbuf_adds(&url, "/delegator.json?path=");
    url_escape(&url, path);
    if (router != NULL) {
        strbuf_adds(&url, "&namespace=");
        url_escape(&url, router);
    }
    if (dtab != NULL) {
        strbuf_adds(&url, "&dtab=");
        url_escape(&url, dtab);
    }
    if (fetch_get(&t, strbuf_str(&url), MESHCTL_TIMEOUT_MS, &res) != 0) {
        fprintf(stderr, "meshctl dtab: meshd at %s: %s\n", t.label, res.err);
        rc = MESHCTL_EXIT_UNREACHABLE;
    } else if (res.status != 200) {
        fprintf(stderr, "meshctl dtab: meshd at %s answered %d: %s", t.label, res.status, res.body);
        rc = MESHCTL_EXIT_UNREACHABLE;
    } else {
        rc = show(res.body, as_json, path);
    }
    fetch_result_fini(&res);
    strbuf_fini(&url);
    return rc;
}

static void
on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void) w;
    (void) revents;
    ev_break(loop, EVBREAK_ONE);
}

static int
from_config(const char *file, const char *router, const char *dtab, const char *path, double wait_s,
            bool as_json)
{
    struct cfg_err cerr;
    struct cfg *cfg = cfg_load(file, &cerr);
    struct ev_loop *loop;
    struct naming *n;
    struct strbuf out = STRBUF_INIT;
    char err[256];
    uint64_t deadline = clock_mono_us() + (uint64_t) (wait_s * 1e6);
    ev_timer poll;
    int status, rc;

    if (cfg == NULL) {
        fprintf(stderr, "meshctl dtab: %s\n", cerr.text);
        return MESHCTL_EXIT_UNREACHABLE;
    }
    loop = ev_loop_new(EVFLAG_AUTO);
    n = naming_new(loop, cfg, err, sizeof(err));
    if (n == NULL) {
        fprintf(stderr, "meshctl dtab: %s: %s\n", file, err);
        ev_loop_destroy(loop);
        cfg_free(cfg);
        return MESHCTL_EXIT_UNREACHABLE;
    }
    /* ask until nothing is pending (namers answer on the loop) or the wait is over */
    ev_timer_init(&poll, on_poll, 0.02, 0.02);
    ev_timer_start(loop, &poll);
    for (;;) {
        strbuf_reset(&out);
        status = delegator_json(n, cfg, router, dtab, path, &out);
        if (status != 200 || clock_mono_us() >= deadline ||
            (strstr(strbuf_str(&out), "\"pending\"") == NULL))
            break;
        ev_run(loop, 0);
    }
    ev_timer_stop(loop, &poll);
    if (status != 200) {
        fprintf(stderr, "meshctl dtab: %s", strbuf_str(&out));
        rc = MESHCTL_EXIT_UNREACHABLE;
    } else {
        rc = show(strbuf_str(&out), as_json, path);
    }
    strbuf_fini(&out);
    naming_free(n);
    ev_loop_destroy(loop);
    cfg_free(cfg);
    return rc;
}

int
cmd_dtab_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"admin", required_argument, NULL, 'a'},
        {"router", required_argument, NULL, 'r'}, {"dtab", required_argument, NULL, 'd'},
        {"wait", required_argument, NULL, 'w'},   {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *admin = NULL, *router = NULL, *dtab = NULL;
    double wait_s = 2.0;
    bool as_json = false;
    int c;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(dtab_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? MESHCTL_EXIT_USAGE : MESHCTL_EXIT_OK;
    }
    if (strcmp(argv[1], "resolve") != 0)
        return meshctl_usage_error("dtab", "unknown subcommand \"%s\" (resolve is the one)",
                                   argv[1]);
    argc--;
    argv++;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:a:r:d:w:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'a':
            admin = optarg;
            break;
        case 'r':
            router = optarg;
            break;
        case 'd':
            dtab = optarg;
            break;
        case 'w': {
            char *end;

            wait_s = strtod(optarg, &end);
            if (*end != '\0' || !(wait_s >= 0 && wait_s <= 60))
                return meshctl_usage_error("dtab", "--wait: seconds from 0 to 60, not \"%s\"",
                                           optarg);
            break;
        }
        case 'j':
            as_json = true;
            break;
        case 'h':
            fputs(dtab_usage, stdout);
            return MESHCTL_EXIT_OK;
        default:
            return meshctl_usage_error("dtab", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return meshctl_usage_error("dtab", "resolve takes one PATH, like /svc/hello");
    if (config != NULL && admin != NULL)
        return meshctl_usage_error("dtab", "--config and --admin exclude each other");
    if (config != NULL)
        return from_config(config, router, dtab, argv[optind], wait_s, as_json);
    return from_admin(admin != NULL ? admin : MESHCTL_DEFAULT_ADMIN, router, dtab, argv[optind],
                      as_json);
}

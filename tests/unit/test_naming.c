/* tests/unit/test_naming.c - the worker's namers on a real libev loop: io.l5d.fs files in a
 * temporary rootDir (format, limits, edits and deletes seen through inotify), /$/inet with
 * IP literals and names (resolver thread), the built-in and rewriting namers through a
 * dtab, union picks and the evaluation cache. Every wait runs the loop with a deadline.
 * Each test works in its own directory under a per-TCase base that the parent process
 * removes, so even a failed (forked, exited) test leaves nothing in /tmp. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "common/cfg.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "proxy/dtab.h"
#include "proxy/naming.h"
#include "tests/lib/check_main.h"
#include "tests/lib/naming_pair.h"

static char base[64]; /* per TCase, made and removed by the parent (unchecked fixture) */
static char root[64]; /* per test, inside <base>: a failed test cannot leave it behind */
static struct ev_loop *loop;
static struct cfg *cfg;
static struct naming *nm;
static unsigned changes;
/* TCase "shared": the same tests through a worker's shared naming, the master's name
 * service answering over a socketpair (tests/lib/naming_pair.h) */
static bool shared_mode;
static struct naming_pair pair;

static void
on_change(void *ctx)
{
    (void) ctx;
    changes++;
}

static struct cfg *
cfg_with_fs(const char *root_dir)
{
    struct cfg *c = xcalloc(1, sizeof(*c));

    c->namers = xcalloc(1, sizeof(*c->namers));
    c->n_namers = 1;
    c->namers[0].kind = xstrdup("io.l5d.fs");
    c->namers[0].prefix = xstrdup("io.l5d.fs");
    c->namers[0].root_dir = xstrdup(root_dir);
    return c;
}

static void
cfg_release(struct cfg *c)
{
    size_t i;

    for (i = 0; c != NULL && i < c->n_namers; i++) {
        free(c->namers[i].kind);
        free(c->namers[i].prefix);
        free(c->namers[i].root_dir);
    }
    if (c != NULL)
        free(c->namers);
    free(c);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

static void
rm_rf(const char *path)
{
    (void) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
base_setup(void)
{
    (void) snprintf(base, sizeof(base), "/tmp/test_naming.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
}

static void
base_teardown(void)
{
    rm_rf(base);
}

/* <shared>: <nm> is a worker's shared naming fed by the master's name service (the TCase
 * "shared"); otherwise a naming of its own. */
static void
setup_mode(bool shared)
{
    char err[256] = "";

    (void) snprintf(root, sizeof(root), "%s/t.XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(root));
    loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(loop);
    cfg = cfg_with_fs(root);
    if (shared) {
        ck_assert_msg(naming_pair_start(&pair, loop, cfg, err, sizeof(err)) == 0, "%s", err);
        nm = pair.worker;
    } else {
        nm = naming_new(loop, cfg, err, sizeof(err));
        ck_assert_msg(nm != NULL, "naming_new: %s", err);
    }
    naming_set_on_change(nm, on_change, NULL);
    changes = 0;
    shared_mode = shared;
}

static void
setup(void)
{
    setup_mode(false);
}

static void
setup_shared(void)
{
    setup_mode(true);
}

static void
teardown(void)
{
    if (shared_mode) {
        naming_pair_stop(&pair);
        nm = NULL;
    }
    nm = naming_free(nm);
    ev_loop_destroy(loop);
    loop = NULL;
    cfg_release(cfg);
    cfg = NULL;
    rm_rf(root);
}

/* ---- helpers ----------------------------------------------------------------------- */

static void
put(const char *rel, const char *content)
{
    char path[256];
    int fd;

    (void) snprintf(path, sizeof(path), "%s/%s", root, rel);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ne(fd, -1);
    ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t) strlen(content));
    ck_assert_int_eq(close(fd), 0);
}

/* Writes beside <rel>, then renames over it (editors, ConfigMaps). */
static void
put_atomic(const char *rel, const char *content)
{
    char tmp[256], path[256], trel[128];

    (void) snprintf(trel, sizeof(trel), "%s.tmp", rel);
    put(trel, content);
    (void) snprintf(tmp, sizeof(tmp), "%s/%s", root, trel);
    (void) snprintf(path, sizeof(path), "%s/%s", root, rel);
    ck_assert_int_eq(rename(tmp, path), 0);
}

static void
on_poll(struct ev_loop *l, ev_timer *t, int revents)
{
    (void) l;
    (void) t;
    (void) revents;
}

/* Runs the loop until the on-change callback fired since <before>, at most 1 s. In
 * shared mode the worker hears only of names it asked for, so this runs the loop a
 * little instead: the master's inotify watch is on the same loop, and the kernel queued
 * the event before the write returned. */
static void
settle(unsigned before)
{
    ev_tstamp start = ev_time();
    ev_timer poll;

    if (shared_mode) {
        while (ev_time() - start < 0.05) {
            ev_run(loop, EVRUN_NOWAIT);
            usleep(1000);
        }
        return;
    }

    ev_timer_init(&poll, on_poll, 0.005, 0.005);
    ev_timer_start(loop, &poll);
    while (changes == before && ev_time() - start < 1.0)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &poll);
    ck_assert_msg(changes != before, "no change seen within 1 s");
}

/* Creates <rel> and waits until the namer has seen it: the directory mirror learns new
 * files from inotify, on the loop. */
static void
put_new(const char *rel, const char *content)
{
    unsigned before = changes;

    put(rel, content);
    settle(before);
}

static void
make_dir(const char *rel)
{
    char path[256];

    (void) snprintf(path, sizeof(path), "%s/%s", root, rel);
    ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void
remove_rel(const char *rel)
{
    char path[256];

    (void) snprintf(path, sizeof(path), "%s/%s", root, rel);
    rm_rf(path);
}

static struct dtab *
dtab_of(const char *text)
{
    struct dtab_err err;
    struct dtab *d = dtab_parse(text, strlen(text), &err);

    ck_assert_msg(d != NULL, "%s: %s", text, err.msg);
    return d;
}

static char why[256];

/* Binds <path> through <text> (NULL: no dtab). On success *ret holds a reference. */
static int
bind_via(const char *text, const char *path, struct name_bound *ret)
{
    struct dtab *d = text ? dtab_of(text) : NULL;
    int r;

    why[0] = '\0';
    memset(ret, 0, sizeof(*ret));
    r = naming_bind(nm, d, path, strlen(path), ret, why, sizeof(why));
    if (shared_mode) { /* the first bind of a name asks the master: wait for its answer */
        ev_tstamp deadline = ev_time() + 3.0;

        while (r == -EAGAIN && ev_time() < deadline) {
            ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
            usleep(1000);
            r = naming_bind(nm, d, path, strlen(path), ret, why, sizeof(why));
        }
    }
    dtab_free(d);
    return r;
}

/* Binds until the answer is not -EAGAIN (running the loop meanwhile) or <timeout_s> pass. */
static int
bind_settled(const char *text, const char *path, struct name_bound *ret, double timeout_s)
{
    ev_tstamp deadline = ev_time() + timeout_s;
    int r;

    for (;;) {
        r = bind_via(text, path, ret);
        if (r != -EAGAIN || ev_time() > deadline)
            return r;
        ev_run(loop, EVRUN_NOWAIT);
        usleep(2000);
    }
}

struct wait_ctx {
    const char *text;
    const char *path;
    int want_r;
    size_t want_n; /* with want_r == 0 */
};

static bool
wait_matches(const struct wait_ctx *w)
{
    struct name_bound b;
    int r = bind_via(w->text, w->path, &b);
    bool ok = r == w->want_r && (r != 0 || b.eps->n == w->want_n);

    if (r == 0)
        name_bound_fini(&b);
    return ok;
}

/* Runs the loop until binding <path> gives <want_r> (and <want_n> endpoints when 0);
 * returns the seconds it took, or -1 after <timeout_s>. */
static double
wait_for(const char *text, const char *path, int want_r, size_t want_n, double timeout_s)
{
    struct wait_ctx w = {text, path, want_r, want_n};
    ev_tstamp start = ev_time();
    ev_timer poll;

    ev_timer_init(&poll, on_poll, 0.005, 0.005);
    ev_timer_start(loop, &poll);
    while (!wait_matches(&w)) {
        if (ev_time() - start > timeout_s) {
            ev_timer_stop(loop, &poll);
            return -1.0;
        }
        ev_run(loop, EVRUN_ONCE);
    }
    ev_timer_stop(loop, &poll);
    return ev_time() - start;
}

static bool
ep_is(const struct endpoint *e, const char *ip, unsigned port)
{
    char buf[INET6_ADDRSTRLEN];

    if (e->addr.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) &e->addr;

        return e->addr_len == sizeof(*in) && ntohs(in->sin_port) == port &&
               inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf)) && strcmp(buf, ip) == 0;
    }
    if (e->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &e->addr;

        return e->addr_len == sizeof(*in6) && ntohs(in6->sin6_port) == port &&
               inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf)) && strcmp(buf, ip) == 0;
    }
    return false;
}

static unsigned
ep_port(const struct endpoint *e)
{
    return ntohs(((const struct sockaddr_in *) &e->addr)->sin_port);
}

/* ---- io.l5d.fs --------------------------------------------------------------------- */

START_TEST(test_naming_fs_weights_and_comments)
{
    struct name_bound b;

    put_new("world", "# hosts for world\n"
                     "127.0.0.1 8080\n"
                     "\n"
                     "  127.0.0.2\t 8081 * 2.5   # heavy\n"
                     "::1 8082 * 0\n"
                     "   # indented comment\n"
                     "127.0.0.3 8083 # no weight");
    ck_assert_int_eq(bind_via("/svc=>/#/io.l5d.fs", "/svc/world/extra/x", &b), 0);
    ck_assert_str_eq(b.id, "/#/io.l5d.fs/world");
    ck_assert_str_eq(b.residual, "/extra/x");
    ck_assert_uint_eq(b.eps->n, 4);
    ck_assert(ep_is(&b.eps->e[0], "127.0.0.1", 8080));
    ck_assert(ep_is(&b.eps->e[1], "127.0.0.2", 8081));
    ck_assert(ep_is(&b.eps->e[2], "::1", 8082));
    ck_assert(ep_is(&b.eps->e[3], "127.0.0.3", 8083));
    ck_assert(b.eps->e[0].weight == 1.0);
    ck_assert(b.eps->e[1].weight == 2.5);
    ck_assert(b.eps->e[2].weight == 0.0);
    ck_assert(b.eps->e[3].weight == 1.0);
    name_bound_fini(&b);
    ck_assert_ptr_null(b.eps);

    /* without a dtab, the namer path itself */
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/world", &b), 0);
    ck_assert_str_eq(b.residual, "");
    name_bound_fini(&b);

    /* an empty file binds to no endpoints */
    put_new("empty", "# nobody\n\n");
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/empty", &b), 0);
    ck_assert_uint_eq(b.eps->n, 0);
    name_bound_fini(&b);
}
END_TEST

START_TEST(test_naming_fs_malformed_lines)
{
    static const char *const bad[] = {
        "bogus",
        "127.0.0.1 0",
        "127.0.0.1 65536",
        "127.0.0.1 80 * x",
        "127.0.0.1 80 x 2",
        "127.0.0.1 80 * 1 9",
        "127.0.0.1 8o",
        "127.0.0.1",
        "127.0.0.1 80 *",
        "127.0.0.1 -80",
        "127.0.0.1 80 * -1",
    };
    struct name_bound b;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        char content[128], path[64], want[128];

        (void) snprintf(content, sizeof(content), "127.0.0.9 9\n%s # c\n", bad[i]);
        (void) snprintf(path, sizeof(path), "bad%zu", i);
        put_new(path, content);
        (void) snprintf(path, sizeof(path), "/#/io.l5d.fs/bad%zu", i);
        ck_assert_int_eq(bind_via(NULL, path, &b), -EIO);
        (void) snprintf(want, sizeof(want), "malformed address: %s", bad[i]);
        ck_assert_msg(strcmp(why, want) == 0, "\"%s\": got \"%s\"", bad[i], why);
    }
    put_new("ok", "127.0.0.1 1\n127.0.0.1 65535\n");
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/ok", &b), 0);
    name_bound_fini(&b);
}
END_TEST

/* A NUL byte used to end the file silently (the lines after it were dropped): now it
 * fails the file, wherever it is (seen while writing tests/fuzz/fuzz_naming_fs). */
START_TEST(test_naming_fs_nul_byte)
{
    static const char text[] = "127.0.0.1 80\n\0\n127.0.0.2 80\n";
    unsigned before = changes;
    struct name_bound b;
    char path[256];
    int fd;

    (void) snprintf(path, sizeof(path), "%s/nul", root);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ne(fd, -1);
    ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t) sizeof(text) - 1);
    ck_assert_int_eq(close(fd), 0);
    settle(before);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/nul", &b), -EIO);
    ck_assert_str_eq(why, "NUL byte at offset 13");
    /* the same lines without it bind both addresses */
    put_new("nonul", "127.0.0.1 80\n\n127.0.0.2 80\n");
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/nonul", &b), 0);
    ck_assert_uint_eq(b.eps->n, 2);
    name_bound_fini(&b);
}
END_TEST

START_TEST(test_naming_fs_size_limit)
{
    char *big = xmalloc(512001 + 1);
    struct name_bound b;

    /* exactly 500 KB: accepted */
    memset(big, ' ', 512000);
    memcpy(big, "127.0.0.1 80\n#", 14);
    big[512000] = '\0';
    put_new("limit", big);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/limit", &b), 0);
    ck_assert_uint_eq(b.eps->n, 1);
    name_bound_fini(&b);
    /* one byte more: rejected */
    big[512000] = ' ';
    big[512001] = '\0';
    put_new("over", big);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/over", &b), -EIO);
    ck_assert_msg(strstr(why, "512000 byte limit") != NULL, "%s", why);
    free(big);
}
END_TEST

START_TEST(test_naming_fs_edit_seen_within_a_second)
{
    struct name_bound b;
    uint64_t v1;
    double took;

    put_new("svc", "127.0.0.1 1\n");
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/svc", &b), 0);
    ck_assert_uint_eq(b.eps->n, 1);
    v1 = b.eps->version;

    /* edited in place */
    put("svc", "127.0.0.1 1\n127.0.0.1 2\n");
    took = wait_for(NULL, "/#/io.l5d.fs/svc", 0, 2, 1.0);
    ck_assert_msg(took >= 0.0 && took < 1.0, "edit seen after %f s", took);
    ck_assert_uint_gt(changes, 0);
    /* the old set is untouched and still ours */
    ck_assert_uint_eq(b.eps->n, 1);
    name_bound_fini(&b);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/svc", &b), 0);
    ck_assert_uint_ne(b.eps->version, v1);
    name_bound_fini(&b);

    /* replaced by rename */
    put_atomic("svc", "127.0.0.1 1\n127.0.0.1 2\n127.0.0.1 3\n");
    took = wait_for(NULL, "/#/io.l5d.fs/svc", 0, 3, 1.0);
    ck_assert_msg(took >= 0.0 && took < 1.0, "rename seen after %f s", took);

    /* broken, then fixed */
    put("svc", "127.0.0.1 x\n");
    ck_assert(wait_for(NULL, "/#/io.l5d.fs/svc", -EIO, 0, 1.0) >= 0.0);
    put("svc", "127.0.0.1 4\n");
    ck_assert(wait_for(NULL, "/#/io.l5d.fs/svc", 0, 1, 1.0) >= 0.0);
}
END_TEST

START_TEST(test_naming_fs_delete_is_neg)
{
    struct name_bound b;

    put_new("gone", "127.0.0.1 1\n");
    ck_assert_int_eq(bind_via("/svc=>/#/io.l5d.fs", "/svc/gone", &b), 0);
    name_bound_fini(&b);
    remove_rel("gone");
    ck_assert(wait_for("/svc=>/#/io.l5d.fs", "/svc/gone", -ENOENT, 0, 1.0) >= 0.0);
    ck_assert_msg(strstr(why, "no route to /svc/gone") != NULL, "%s", why);
    /* Neg falls back to an earlier dentry */
    ck_assert_int_eq(bind_via("/svc=>/$/inet/127.0.0.1/5;/svc=>/#/io.l5d.fs", "/svc/gone", &b), 0);
    ck_assert_str_eq(b.id, "/$/inet/127.0.0.1/5");
    name_bound_fini(&b);
}
END_TEST

START_TEST(test_naming_fs_created_later)
{
    struct name_bound b;

    ck_assert_int_eq(bind_via("/svc=>/#/io.l5d.fs", "/svc/late", &b), -ENOENT);
    put("late", "127.0.0.1 7\n");
    ck_assert(wait_for("/svc=>/#/io.l5d.fs", "/svc/late", 0, 1, 1.0) >= 0.0);
    ck_assert_uint_gt(changes, 0);
}
END_TEST

START_TEST(test_naming_fs_subdirectories)
{
    struct name_bound b;

    make_dir("a");
    make_dir("a/b");
    put("a/b/svc", "127.0.0.1 9\n");
    ck_assert(wait_for(NULL, "/#/io.l5d.fs/a/b/svc/x", 0, 1, 1.0) >= 0.0);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/a/b/svc/x/y", &b), 0);
    ck_assert_str_eq(b.id, "/#/io.l5d.fs/a/b/svc");
    ck_assert_str_eq(b.residual, "/x/y");
    name_bound_fini(&b);
    /* a directory is not a name, a missing segment is Neg, no escaping rootDir */
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/a/b", &b), -ENOENT);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/a/c/svc", &b), -ENOENT);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/a/../a/b/svc", &b), -ENOENT);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/a/b/./svc", &b), -ENOENT);
    /* edits inside the sub-directory are watched too */
    put("a/b/svc", "127.0.0.1 9\n127.0.0.1 10\n");
    ck_assert(wait_for(NULL, "/#/io.l5d.fs/a/b/svc", 0, 2, 1.0) >= 0.0);
    /* the whole tree removed */
    remove_rel("a");
    ck_assert(wait_for(NULL, "/#/io.l5d.fs/a/b/svc", -ENOENT, 0, 1.0) >= 0.0);
    /* and made again */
    make_dir("a");
    make_dir("a/b");
    put_atomic("a/b/svc", "127.0.0.1 11\n");
    ck_assert(wait_for(NULL, "/#/io.l5d.fs/a/b/svc", 0, 1, 1.0) >= 0.0);
}
END_TEST

START_TEST(test_naming_fs_tree_present_at_start)
{
    char err[256];
    struct name_bound b;

    /* a tree scanned by naming_new(), not learnt through events */
    nm = naming_free(nm);
    make_dir("d");
    put("d/svc", "127.0.0.1 12\n");
    put("top", "127.0.0.1 13\n");
    nm = naming_new(loop, cfg, err, sizeof(err));
    ck_assert_ptr_nonnull(nm);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/d/svc", &b), 0);
    ck_assert(ep_is(&b.eps->e[0], "127.0.0.1", 12));
    name_bound_fini(&b);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/top", &b), 0);
    name_bound_fini(&b);
    /* another prefix is not this namer */
    ck_assert_int_eq(bind_via(NULL, "/#/other/top", &b), -ENOENT);
}
END_TEST

START_TEST(test_naming_fs_host_names)
{
    struct name_bound b;
    int r;

    put_new("named", "localhost 8080 * 3\n127.0.0.5 8081\n");
    r = bind_via(NULL, "/#/io.l5d.fs/named", &b);
    ck_assert_int_eq(r, -EAGAIN); /* the resolver thread has not answered yet */
    ck_assert(wait_for(NULL, "/#/io.l5d.fs/named", 0, 2, 5.0) >= 0.0);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/named", &b), 0);
    ck_assert(ep_is(&b.eps->e[0], "127.0.0.1", 8080));
    ck_assert(b.eps->e[0].weight == 3.0);
    ck_assert(ep_is(&b.eps->e[1], "127.0.0.5", 8081));
    name_bound_fini(&b);
    ck_assert_uint_gt(changes, 0);
}
END_TEST

START_TEST(test_naming_new_rejects_bad_root)
{
    char err[256] = "";
    struct cfg *c = cfg_with_fs("/nonexistent/meshd-test");

    ck_assert_ptr_null(naming_new(loop, c, err, sizeof(err)));
    ck_assert_msg(strstr(err, "rootDir /nonexistent/meshd-test") != NULL, "%s", err);
    cfg_release(c);

    put("file", "");
    c = cfg_with_fs(root);
    free(c->namers[0].root_dir);
    c->namers[0].root_dir = xstrdup("/dev/null");
    ck_assert_ptr_null(naming_new(loop, c, err, sizeof(err)));
    ck_assert_msg(strstr(err, "not a directory") != NULL, "%s", err);
    free(c->namers[0].root_dir);
    c->namers[0].root_dir = NULL;
    ck_assert_ptr_null(naming_new(loop, c, err, sizeof(err)));
    ck_assert_msg(strstr(err, "rootDir is required") != NULL, "%s", err);
    cfg_release(c);
}
END_TEST

START_TEST(test_naming_fs_custom_prefix)
{
    char err[256];
    struct cfg *c = cfg_with_fs(root);
    struct naming *saved = nm;
    struct name_bound b;

    free(c->namers[0].prefix);
    c->namers[0].prefix = xstrdup("/disco/local"); /* leading '/' tolerated, two segments */
    nm = naming_new(loop, c, err, sizeof(err));
    ck_assert_msg(nm != NULL, "%s", err);
    put("web", "127.0.0.1 14\n");
    ck_assert(wait_for("/svc=>/#/disco/local", "/svc/web", 0, 1, 1.0) >= 0.0);
    ck_assert_int_eq(bind_via("/svc=>/#/disco/local", "/svc/web", &b), 0);
    ck_assert_str_eq(b.id, "/#/disco/local/web");
    name_bound_fini(&b);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/web", &b), -ENOENT);
    naming_free(nm);
    nm = saved;
    cfg_release(c);
}
END_TEST

/* Linkerd's io.l5d.port transformer: the hosts an io.l5d.fs file names, on another port
 * (each node's incoming router, as the two-node demo routes), weights kept. */
START_TEST(test_naming_port_transformer)
{
    struct strbuf yaml = STRBUF_INIT;
    struct cfg_err cerr;
    struct cfg *c;
    struct naming *n;
    struct name_bound b;
    struct dtab *d = dtab_of("/svc=>/#/io.l5d.fs");
    char err[256], w[256];
    ev_tstamp deadline;
    int r;

    strbuf_addf(&yaml,
                "namers: [{kind: io.l5d.fs, rootDir: '%s'}]\n"
                "routers:\n"
                "- protocol: http\n"
                "  label: out\n"
                "  interpreter: {kind: default, transformers: [{kind: io.l5d.port, port: 4141}]}\n"
                "  servers: [{port: 0}]\n",
                root);
    c = cfg_parse(yaml.s, yaml.len, NULL, &cerr);
    ck_assert_msg(c != NULL, "%s", cerr.text);
    n = naming_new(loop, c, err, sizeof(err));
    ck_assert_msg(n != NULL, "%s", err);
    put("hello", "10.77.0.1 7777 * 3\n10.77.0.2 7777\n");
    deadline = ev_time() + 3.0;
    /* pending, or not found until inotify tells of the new file */
    while ((r = naming_bind_router(n, "out", d, "/svc/hello", 10, &b, w, sizeof(w))) != 0 &&
           ev_time() < deadline) {
        ev_run(loop, EVRUN_NOWAIT);
        usleep(2000);
    }
    ck_assert_int_eq(r, 0);
    ck_assert_str_eq(b.id, "/%/io.l5d.port/4141/#/io.l5d.fs/hello");
    ck_assert_uint_eq(b.eps->n, 2);
    ck_assert(ep_is(&b.eps->e[0], "10.77.0.1", 4141) || ep_is(&b.eps->e[1], "10.77.0.1", 4141));
    ck_assert(ep_is(&b.eps->e[0], "10.77.0.2", 4141) || ep_is(&b.eps->e[1], "10.77.0.2", 4141));
    ck_assert(b.eps->e[0].weight + b.eps->e[1].weight == 4.0);
    name_bound_fini(&b);
    /* another router has no transformer: the app's own port */
    ck_assert_int_eq(naming_bind_router(n, "in", d, "/svc/hello", 10, &b, w, sizeof(w)), 0);
    ck_assert_str_eq(b.id, "/#/io.l5d.fs/hello");
    ck_assert(ep_is(&b.eps->e[0], "10.77.0.1", 7777) || ep_is(&b.eps->e[0], "10.77.0.2", 7777));
    name_bound_fini(&b);
    dtab_free(d);
    naming_free(n);
    cfg_free(c);
    strbuf_fini(&yaml);
}
END_TEST

START_TEST(test_naming_port_transformer_needs_port)
{
    static const char text[] = "routers:\n"
                               "- protocol: http\n"
                               "  interpreter: {transformers: [{kind: io.l5d.port, port: 70000}]}\n"
                               "  servers: [{port: 0}]\n";
    struct cfg_err cerr;
    struct cfg *c = cfg_parse(text, sizeof(text) - 1, NULL, &cerr);
    char err[256] = "";

    ck_assert_msg(c != NULL, "%s", cerr.text);
    ck_assert_ptr_null(naming_new(loop, c, err, sizeof(err)));
    ck_assert_msg(strstr(err, "io.l5d.port: port: expected 1..65535") != NULL, "%s", err);
    cfg_free(c);
}
END_TEST

/* ---- /$ namers --------------------------------------------------------------------- */

START_TEST(test_naming_inet_numeric)
{
    struct name_bound b;

    ck_assert_int_eq(bind_via("/svc=>/$/inet/127.0.0.1/8080", "/svc/a/b", &b), 0);
    ck_assert_str_eq(b.id, "/$/inet/127.0.0.1/8080");
    ck_assert_str_eq(b.residual, "/a/b");
    ck_assert_uint_eq(b.eps->n, 1);
    ck_assert(ep_is(&b.eps->e[0], "127.0.0.1", 8080));
    name_bound_fini(&b);

    ck_assert_int_eq(bind_via(NULL, "/$/inet/::1/9090", &b), 0);
    ck_assert(ep_is(&b.eps->e[0], "::1", 9090));
    name_bound_fini(&b);

    /* host omitted: 127.0.0.1, id as written */
    ck_assert_int_eq(bind_via(NULL, "/$/inet/7070/r", &b), 0);
    ck_assert_str_eq(b.id, "/$/inet/7070");
    ck_assert_str_eq(b.residual, "/r");
    ck_assert(ep_is(&b.eps->e[0], "127.0.0.1", 7070));
    name_bound_fini(&b);

    ck_assert_int_eq(bind_via(NULL, "/$/inet/127.0.0.1/99999", &b), -EIO);
    ck_assert_int_eq(bind_via(NULL, "/$/inet", &b), -EIO);
}
END_TEST

START_TEST(test_naming_inet_localhost)
{
    struct name_bound b;
    size_t i;
    bool found = false;

    ck_assert_int_eq(bind_via(NULL, "/$/inet/localhost/8080", &b), -EAGAIN);
    ck_assert_msg(strstr(why, "waiting") != NULL, "%s", why);
    ck_assert_int_eq(bind_settled(NULL, "/$/inet/localhost/8080", &b, 5.0), 0);
    ck_assert_str_eq(b.id, "/$/inet/localhost/8080");
    for (i = 0; i < b.eps->n; i++)
        found |= ep_is(&b.eps->e[i], "127.0.0.1", 8080);
    ck_assert(found);
    name_bound_fini(&b);
    ck_assert_uint_gt(changes, 0);
}
END_TEST

/* Shared mode: a host name is resolved by the master; an address literal, a rewrite and
 * /$/fail never leave the worker. */
START_TEST(test_naming_shared_inet)
{
    struct name_bound b;
    unsigned asked;
    bool found = false;

    ck_assert_int_eq(bind_via(NULL, "/$/inet/localhost/8080/rest", &b), 0);
    ck_assert_str_eq(b.id, "/$/inet/localhost/8080");
    ck_assert_str_eq(b.residual, "/rest");
    for (size_t i = 0; i < b.eps->n; i++)
        found |= ep_is(&b.eps->e[i], "127.0.0.1", 8080);
    ck_assert(found);
    name_bound_fini(&b);
    asked = pair.master_end.msgs;
    ck_assert_uint_eq(asked, 1); /* one WATCH */
    ck_assert_int_eq(bind_via(NULL, "/$/inet/127.0.0.1/80", &b), 0);
    name_bound_fini(&b);
    ck_assert_int_eq(bind_via("/a=>/$/io.buoyant.hostportPfx/inet;/inet=>/$/inet", "/a/127.0.0.1:81",
                              &b),
                     0);
    name_bound_fini(&b);
    ck_assert_int_eq(bind_via(NULL, "/$/fail", &b), -EIO);
    ck_assert_uint_eq(pair.master_end.msgs, asked);
}
END_TEST

START_TEST(test_naming_inet_unresolvable)
{
    struct name_bound b;

    ck_assert_int_eq(bind_settled(NULL, "/$/inet/nonexistent.invalid/80", &b, 15.0), -EIO);
    ck_assert_str_eq(why, "cannot resolve nonexistent.invalid");
    /* an Alt does not fall back over a failure; a union drops it */
    ck_assert_int_eq(bind_via("/s=>/$/inet/nonexistent.invalid/80|/$/inet/127.0.0.1/1", "/s", &b),
                     -EIO);
    ck_assert_int_eq(bind_via("/s=>/$/inet/nonexistent.invalid/80&/$/inet/127.0.0.1/1", "/s", &b),
                     0);
    ck_assert_str_eq(b.id, "/$/inet/127.0.0.1/1");
    name_bound_fini(&b);
}
END_TEST

START_TEST(test_naming_builtins)
{
    struct name_bound b;

    ck_assert_int_eq(bind_via("/svc=>/$/fail", "/svc/x", &b), -EIO);
    ck_assert_msg(strstr(why, "/$/fail") != NULL, "%s", why);
    ck_assert_int_eq(bind_via("/svc=>/$/nil", "/svc/x", &b), -ENOENT);
    ck_assert_int_eq(bind_via("/svc=>/$/foo", "/svc/x", &b), -EIO);
    ck_assert_str_eq(why, "unknown namer foo");
    ck_assert_int_eq(bind_via("/svc=>/$/inet/127.0.0.1/1", "/nothing", &b), -ENOENT);
    ck_assert_str_eq(why, "no route to /nothing");
    ck_assert_int_eq(bind_via("/svc=>!", "svc", &b), -EINVAL);
    ck_assert_int_eq(bind_via(NULL, "/svc/", &b), -EINVAL);
    ck_assert_int_eq(bind_via("/svc=>!", "/svc", &b), -EIO);
    ck_assert_int_eq(bind_via("/a=>/b;/b=>/a", "/a", &b), -EIO);
    ck_assert_str_eq(why, "recursion limit (100) exceeded");
}
END_TEST

START_TEST(test_naming_rinet_through_dtab)
{
    struct name_bound b;

    ck_assert_int_eq(bind_via("/svc=>/$/io.buoyant.rinet/8080", "/svc/127.0.0.1/rest", &b), 0);
    ck_assert_str_eq(b.id, "/$/io.buoyant.rinet/8080/127.0.0.1");
    ck_assert_str_eq(b.residual, "/rest");
    ck_assert(ep_is(&b.eps->e[0], "127.0.0.1", 8080));
    name_bound_fini(&b);
    ck_assert_int_eq(bind_via("/svc=>/$/io.buoyant.rinet/http", "/svc/127.0.0.1", &b), -ENOENT);
}
END_TEST

START_TEST(test_naming_hostport_rewrites)
{
    const char *hp = "/svc=>/$/io.buoyant.hostportPfx/inet;/inet=>/$/inet";
    const char *ph = "/svc=>/$/io.buoyant.porthostPfx/ph;/ph=>/$/io.buoyant.rinet";
    struct name_bound b;

    ck_assert_int_eq(bind_via(hp, "/svc/127.0.0.1:9090/x", &b), 0);
    ck_assert_str_eq(b.id, "/$/inet/127.0.0.1/9090");
    ck_assert_str_eq(b.residual, "/x");
    name_bound_fini(&b);
    ck_assert_int_eq(bind_via(ph, "/svc/127.0.0.1:9091", &b), 0);
    ck_assert_str_eq(b.id, "/$/io.buoyant.rinet/9091/127.0.0.1");
    ck_assert(ep_is(&b.eps->e[0], "127.0.0.1", 9091));
    name_bound_fini(&b);
    /* Neg unless exactly one colon and a DNS-label port */
    ck_assert_int_eq(bind_via(hp, "/svc/a:b:c", &b), -ENOENT);
    ck_assert_int_eq(bind_via(hp, "/svc/host", &b), -ENOENT);
    ck_assert_int_eq(bind_via(hp, "/svc/host:", &b), -ENOENT);
    ck_assert_int_eq(bind_via(hp, "/svc/host:Http", &b), -ENOENT);
    /* a port may be a DNS label (a named port), for a later dentry to map */
    ck_assert_int_eq(bind_via("/svc=>/$/io.buoyant.hostportPfx/p;/p/web/http=>/$/inet/127.0.0.1/3",
                              "/svc/web:http", &b),
                     0);
    name_bound_fini(&b);
}
END_TEST

START_TEST(test_naming_http_rewrites)
{
    static const struct {
        const char *dtab, *path;
        unsigned port;
        const char *residual;
    } ok[] = {
        {"/svc=>/$/io.buoyant.http.subdomainOfPfx/example.com/host;"
         "/host/web=>/$/inet/127.0.0.1/1",
         "/svc/web.example.com:8080/p", 1, "/p"},
        {"/svc=>/$/io.buoyant.http.subdomainOf/example.com;/web=>/$/inet/127.0.0.1/2",
         "/svc/web.example.com", 2, ""},
        {"/svc=>/$/io.buoyant.http.domainToPathPfx/d;/d/com/example/web=>/$/inet/127.0.0.1/3",
         "/svc/web.example.com/x", 3, "/x"},
        {"/svc=>/$/io.buoyant.http.domainToPath;/com/example=>/$/inet/127.0.0.1/4",
         "/svc/example.com", 4, ""},
        {"/svc=>/$/io.buoyant.http.anyMethodPfx/m;/m/hello=>/$/inet/127.0.0.1/5",
         "/svc/GET/hello/z", 5, "/z"},
        {"/svc=>/$/io.buoyant.http.anyMethod;/hello=>/$/inet/127.0.0.1/6", "/svc/POST/hello", 6,
         ""},
        {"/svc=>/$/io.buoyant.http.anyHostPfx/h;/h/res=>/$/inet/127.0.0.1/7",
         "/svc/foo.example.com/res", 7, ""},
        {"/svc=>/$/io.buoyant.http.anyHost;/res=>/$/inet/127.0.0.1/8", "/svc/foo.example.com/res",
         8, ""},
    };
    static const struct {
        const char *dtab, *path;
    } neg[] = {
        {"/svc=>/$/io.buoyant.http.subdomainOfPfx/example.com/host", "/svc/example.com"},
        {"/svc=>/$/io.buoyant.http.subdomainOfPfx/example.com/host", "/svc/web.example.org"},
        {"/svc=>/$/io.buoyant.http.subdomainOf/example.com", "/svc/web.example.comx"},
        {"/svc=>/$/io.buoyant.http.anyMethodPfx/m", "/svc/get/hello"},
        {"/svc=>/$/io.buoyant.http.anyMethod", "/svc/Get"},
        {"/svc=>/$/io.buoyant.http.anyHost", "/svc/a\\x20b/res"},
        {"/svc=>/$/io.buoyant.http.domainToPath", "/svc/a..b"},
    };
    struct name_bound b;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(ok); i++) {
        ck_assert_msg(bind_via(ok[i].dtab, ok[i].path, &b) == 0, "%s: %s", ok[i].path, why);
        ck_assert_msg(ep_port(&b.eps->e[0]) == ok[i].port, "%s", ok[i].path);
        ck_assert_str_eq(b.residual, ok[i].residual);
        name_bound_fini(&b);
    }
    for (i = 0; i < ARRAY_SIZE(neg); i++)
        ck_assert_msg(bind_via(neg[i].dtab, neg[i].path, &b) == -ENOENT, "%s", neg[i].path);
}
END_TEST

/* The worked example of docs/naming.md, section 2. */
START_TEST(test_naming_docs_example)
{
    const char *d = "/svc       => /#/io.l5d.fs ;\n"
                    "/svc/world => /$/inet/127.0.0.1/7777 ;\n"
                    "/svc       => /$/io.buoyant.hostportPfx/inet ;\n"
                    "/inet      => /$/inet\n";
    struct name_bound b;

    ck_assert_int_eq(bind_via(d, "/svc/world", &b), 0);
    ck_assert_str_eq(b.id, "/$/inet/127.0.0.1/7777");
    ck_assert_str_eq(b.residual, "");
    name_bound_fini(&b);
    ck_assert_int_eq(bind_via(d, "/svc/127.0.0.1:8080/a/b", &b), 0);
    ck_assert_str_eq(b.id, "/$/inet/127.0.0.1/8080");
    ck_assert_str_eq(b.residual, "/a/b");
    name_bound_fini(&b);
    ck_assert_int_eq(bind_via(d, "/svc/other", &b), -ENOENT);
    put_new("other", "127.0.0.1 9\n");
    ck_assert_int_eq(bind_via(d, "/svc/other", &b), 0);
    ck_assert_str_eq(b.id, "/#/io.l5d.fs/other");
    name_bound_fini(&b);
}
END_TEST

/* ---- picks and the cache ----------------------------------------------------------- */

START_TEST(test_naming_union_pick_proportions)
{
    struct dtab *d = dtab_of("/svc=>0.8*/$/inet/127.0.0.1/1&0.2*/$/inet/127.0.0.1/2");
    unsigned count[3] = {0, 0, 0}, i;
    const unsigned total = 20000;

    for (i = 0; i < total; i++) {
        struct name_bound b;

        ck_assert_int_eq(naming_bind(nm, d, "/svc", 4, &b, why, sizeof(why)), 0);
        count[ep_port(&b.eps->e[0])]++;
        name_bound_fini(&b);
    }
    ck_assert_msg(count[1] > total * 0.77 && count[1] < total * 0.83, "%u of %u", count[1], total);
    ck_assert_uint_eq(count[1] + count[2], total);
    dtab_free(d);

    /* a nested union whose second branch fails (port 0) and is dropped: 50/50 */
    d = dtab_of("/svc=>0.5*/$/inet/127.0.0.1/1&0.5*(/$/inet/127.0.0.1/2&/$/inet/127.0.0.1/0)");
    memset(count, 0, sizeof(count));
    for (i = 0; i < total; i++) {
        struct name_bound b;

        ck_assert_int_eq(naming_bind(nm, d, "/svc", 4, &b, why, sizeof(why)), 0);
        count[ep_port(&b.eps->e[0])]++;
        name_bound_fini(&b);
    }
    ck_assert_msg(count[1] > total * 0.47 && count[1] < total * 0.53, "%u of %u", count[1], total);
    dtab_free(d);
}
END_TEST

START_TEST(test_naming_cache_keyed_by_dtab_and_generation)
{
    struct dtab *d1 = dtab_of("/svc=>/$/inet/127.0.0.1/1"), *d2;
    struct name_bound a, b;

    ck_assert_int_eq(naming_bind(nm, d1, "/svc", 4, &a, why, sizeof(why)), 0);
    ck_assert_int_eq(naming_bind(nm, d1, "/svc", 4, &b, why, sizeof(why)), 0);
    ck_assert_ptr_eq(a.eps, b.eps); /* one published set, referenced twice */
    ck_assert_uint_ge(a.eps->refs, 3);
    name_bound_fini(&b);
    dtab_free(d1);
    /* a new dtab, perhaps at the same address, is not confused with the old one */
    d2 = dtab_of("/svc=>/$/inet/127.0.0.1/2");
    ck_assert_int_eq(naming_bind(nm, d2, "/svc", 4, &b, why, sizeof(why)), 0);
    ck_assert_uint_eq(ep_port(&b.eps->e[0]), 2);
    name_bound_fini(&b);
    name_bound_fini(&a);
    dtab_free(d2);

    /* a cached Neg is re-evaluated once a file appears */
    d1 = dtab_of("/svc=>/#/io.l5d.fs");
    ck_assert_int_eq(naming_bind(nm, d1, "/svc/new", 8, &a, why, sizeof(why)), -ENOENT);
    ck_assert_int_eq(naming_bind(nm, d1, "/svc/new", 8, &a, why, sizeof(why)), -ENOENT);
    put("new", "127.0.0.1 3\n");
    ck_assert(wait_for("/svc=>/#/io.l5d.fs", "/svc/new", 0, 1, 1.0) >= 0.0);
    ck_assert_int_eq(naming_bind(nm, d1, "/svc/new", 8, &a, why, sizeof(why)), 0);
    name_bound_fini(&a);
    dtab_free(d1);

    ck_assert_ptr_null(endpoint_set_ref(NULL));
    ck_assert_ptr_null(endpoint_set_unref(NULL));
}
END_TEST

START_TEST(test_naming_without_namers)
{
    char err[64];
    struct naming *saved = nm;
    struct name_bound b;

    nm = naming_new(loop, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(nm);
    ck_assert_int_eq(bind_via(NULL, "/$/inet/127.0.0.1/1", &b), 0);
    name_bound_fini(&b);
    ck_assert_int_eq(bind_via(NULL, "/#/io.l5d.fs/x", &b), -ENOENT);
    naming_free(nm);
    nm = saved;
    ck_assert_ptr_null(naming_free(NULL));
}
END_TEST

/* The io.l5d.fs cases, run by a worker's own naming and by a shared one. */
static void
add_fs_cases(TCase *tc)
{
    tcase_add_test(tc, test_naming_fs_weights_and_comments);
    tcase_add_test(tc, test_naming_fs_malformed_lines);
    tcase_add_test(tc, test_naming_fs_nul_byte);
    tcase_add_test(tc, test_naming_fs_size_limit);
    tcase_add_test(tc, test_naming_fs_edit_seen_within_a_second);
    tcase_add_test(tc, test_naming_fs_delete_is_neg);
    tcase_add_test(tc, test_naming_fs_created_later);
    tcase_add_test(tc, test_naming_fs_subdirectories);
}

static Suite *
naming_suite(void)
{
    Suite *s = suite_create("naming");
    TCase *tc;

    tc = tcase_create("fs");
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    add_fs_cases(tc);
    tcase_add_test(tc, test_naming_fs_tree_present_at_start);
    tcase_add_test(tc, test_naming_fs_custom_prefix);
    tcase_add_test(tc, test_naming_port_transformer);
    tcase_add_test(tc, test_naming_port_transformer_needs_port);
    tcase_add_test(tc, test_naming_new_rejects_bad_root);
    suite_add_tcase(s, tc);

    /* the io.l5d.fs and DNS cases again, through a worker's shared naming */
    tc = tcase_create("shared");
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, setup_shared, teardown);
    tcase_set_timeout(tc, 30);
    add_fs_cases(tc);
    tcase_add_test(tc, test_naming_fs_custom_prefix);
    tcase_add_test(tc, test_naming_shared_inet);
    tcase_add_test(tc, test_naming_inet_unresolvable);
    tcase_add_test(tc, test_naming_builtins);
    tcase_add_test(tc, test_naming_union_pick_proportions);
    suite_add_tcase(s, tc);

    tc = tcase_create("dns");
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_naming_fs_host_names);
    tcase_add_test(tc, test_naming_inet_localhost);
    tcase_add_test(tc, test_naming_inet_unresolvable);
    suite_add_tcase(s, tc);

    tc = tcase_create("namers");
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_naming_inet_numeric);
    tcase_add_test(tc, test_naming_builtins);
    tcase_add_test(tc, test_naming_rinet_through_dtab);
    tcase_add_test(tc, test_naming_hostport_rewrites);
    tcase_add_test(tc, test_naming_http_rewrites);
    tcase_add_test(tc, test_naming_without_namers);
    tcase_add_test(tc, test_naming_docs_example);
    suite_add_tcase(s, tc);

    tc = tcase_create("bind");
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_naming_union_pick_proportions);
    tcase_add_test(tc, test_naming_cache_keyed_by_dtab_and_generation);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(naming_suite)

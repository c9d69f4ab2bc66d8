/* proxy/master.c - the master process: binds, forks, supervises, reloads, serves admin.
 *
 * It never touches client bytes. For every router server and every worker slot it binds
 * one SO_REUSEPORT socket before forking, so a worker that is replaced hands its accept
 * queue to its successor, and a reload reuses the sockets of addresses that stay: no
 * connection is refused while workers come and go.
 *
 * Workers of one config generation share a generation number. A reload (SIGHUP) loads
 * and validates the new config; if it is bad the old workers keep running and the log
 * says why. If it is good, new workers start; once they all said READY (or after 5 s),
 * the old generation is told to QUIT and drains. A worker that dies unexpectedly is
 * replaced, with back-off when it dies right after starting; five such deaths in a row
 * make the master give up and exit non-zero instead of looping.
 *
 * Signals: SIGHUP reload; SIGTERM, SIGINT, SIGQUIT graceful stop (drain in-flight
 * requests within meshd.drainTimeoutMs, then exit 0); a second SIGTERM/SIGINT stops at
 * once.
 *
 * Privileges: started as root, the master binds every listening socket and the admin
 * socket, then becomes meshd.user (all of it: the workers it forks inherit that) and
 * can never be root again; without meshd.user it stays root and says so loudly. A
 * reload then runs as that user: it cannot bind ports below 1024 or add sockets beside
 * ones root bound (SO_REUSEPORT wants the same owner), see docs/security.md. */
#include "proxy/master.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "common/cfg.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/net.h"
#include "common/priv.h"
#include "common/stats.h"
#include "common/strbuf.h"
#include "proto/ipc.h"
#include "proxy/admin.h"
#include "proxy/dashboard.h"
#include "proxy/delegator.h"
#include "proxy/namesvc.h"
#include "proto/namemsg.h"
#include "proxy/dtab.h"
#include "proxy/proxy.h"
#include "proxy/sdnotify.h"

#define MAX_PROCS          256
#define FAST_DEATH_US      2000000 /* a worker dying sooner than this after start */
#define MAX_FAST_DEATHS    5
#define READY_WAIT_S       5.0

struct proc {
    pid_t pid;            /* 0 = free entry */
    int slot;
    unsigned gen;
    int chan_fd;
    ev_io chan_io;
    int stats_idx;
    uint64_t started_us;
    bool ready;
    bool quitting;
    struct namesvc_peer *peer; /* its names (proxy/namesvc.c) */
    struct master *m;
};

struct lsock {
    char *ip;
    uint16_t cfg_port;    /* as configured (0 = any) */
    uint16_t port;        /* as bound */
    int slot;
    int fd;
    unsigned gen;         /* last generation that uses it */
};

struct slot_state {
    unsigned fast_deaths;
    ev_timer respawn;     /* back-off before replacing a worker that died fast */
    struct master *m;
    int slot;
};

struct master {
    struct ev_loop *loop;
    const char *cfg_path;
    struct cfg *cfg;          /* current generation's */
    unsigned gen;
    unsigned n_workers;
    struct lsock *socks;
    size_t n_socks;
    struct proc procs[MAX_PROCS];
    struct slot_state *slots;
    unsigned n_slots;
    struct stats_shm *shm;
    struct stats_region *own;
    int own_idx;
    uint64_t *worker_deaths, *reloads, *reload_failures;
    int64_t *workers_gauge;
    struct admin *admin;
    struct namesvc *names;    /* every name resolved once, for all workers */
    char *admin_ip;
    uint16_t admin_port;
    ev_signal sig_hup, sig_term, sig_int, sig_quit;
    ev_child child;
    ev_timer ready_wait;      /* reload: old generation quits when this fires */
    ev_timer stop_deadline;
    ev_timer rotate;          /* stats histogram window */
    bool stopping;
    bool notified_ready;      /* READY=1 sent to systemd */
    bool dropped;             /* became meshd.user: root's sockets cannot be added to */
    int exit_code;
};

static void master_on_channel(struct ev_loop *loop, ev_io *w, int revents);

static void
notify(struct master *m, const char *state)
{
    int r = sdnotify(state);

    (void) m;
    if (r < 0)
        log_warn("sd_notify(%s): %s", state, strerror(-r));
}

/* Workers of the current generation that said READY. */
static unsigned
live_ready(struct master *m)
{
    unsigned n = 0;

    for (int i = 0; i < MAX_PROCS; i++)
        if (m->procs[i].pid && m->procs[i].gen == m->gen && m->procs[i].ready)
            n++;
    return n;
}

/* ---- validation -------------------------------------------------------------------- */

int
master_validate(const struct cfg *cfg, struct strbuf *errors)
{
    int bad = 0;

    for (size_t i = 0; i < cfg->n_routers; i++) {
        const struct cfg_router *r = &cfg->routers[i];
        struct dtab_err derr;
        struct dtab *d = dtab_parse(r->dtab ? r->dtab : "", r->dtab ? strlen(r->dtab) : 0, &derr);

        if (d == NULL) {
            strbuf_addf(errors, "%s: routers[%zu].dtab: %s\n", cfg->path, i, derr.msg);
            bad = 1;
        }
        dtab_free(d);
        for (size_t s = 0; s < r->n_servers; s++) {
            struct sockaddr_storage ss;
            socklen_t len;

            if (net_parse_addr(r->servers[s].ip, r->servers[s].port, &ss, &len) != 0) {
                strbuf_addf(errors, "%s: routers[%zu].servers[%zu].ip: not an IP address: %s\n",
                            cfg->path, i, s, r->servers[s].ip);
                bad = 1;
            }
        }
    }
    if (cfg->meshd.group != NULL && cfg->meshd.user == NULL) {
        strbuf_addf(errors, "%s: meshd.group: needs meshd.user\n", cfg->path);
        bad = 1;
    }
    if (cfg->meshd.user != NULL) {
        struct priv_id id;
        char err[256];

        if (priv_resolve(cfg->meshd.user, cfg->meshd.group, &id, err, sizeof(err)) != 0) {
            strbuf_addf(errors, "%s: meshd.user/group: %s\n", cfg->path, err);
            bad = 1;
        }
    }
    for (size_t i = 0; i < cfg->n_namers; i++) {
        const struct cfg_namer *n = &cfg->namers[i];
        struct stat st;

        if (n->kind && strcmp(n->kind, "io.l5d.fs") == 0 && n->root_dir &&
            (stat(n->root_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
            strbuf_addf(errors, "%s: namers[%zu].rootDir: %s is not a directory\n", cfg->path, i,
                        n->root_dir);
            bad = 1;
        }
    }
    return bad ? -EINVAL : 0;
}

unsigned
master_worker_count(const struct cfg *cfg)
{
    long n;

    if (cfg->meshd.workers)
        return cfg->meshd.workers;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned) n : 1;
}

/* ---- listening sockets ------------------------------------------------------------- */

static struct lsock *
find_sock(struct master *m, const char *ip, uint16_t cfg_port, int slot)
{
    for (size_t i = 0; i < m->n_socks; i++) {
        struct lsock *s = &m->socks[i];

        if (s->fd >= 0 && s->slot == slot && s->cfg_port == cfg_port && strcmp(s->ip, ip) == 0)
            return s;
    }
    return NULL;
}

/* Makes sure every (server, slot) of <cfg> has a socket tagged with <gen>. */
static int
bind_sockets(struct master *m, const struct cfg *cfg, unsigned n_workers, unsigned gen,
             struct strbuf *errors)
{
    for (size_t i = 0; i < cfg->n_routers; i++) {
        for (size_t s = 0; s < cfg->routers[i].n_servers; s++) {
            const struct cfg_server *srv = &cfg->routers[i].servers[s];
            uint16_t bound_port = srv->port;

            for (unsigned k = 0; k < n_workers; k++) {
                struct lsock *ls = find_sock(m, srv->ip, srv->port, (int) k);
                int fd;

                if (ls) {
                    ls->gen = gen;
                    bound_port = ls->port;
                    continue;
                }
                fd = net_listen_tcp(srv->ip, bound_port, true, 4096);
                if (fd < 0) {
                    strbuf_addf(errors, "cannot listen on %s:%u for router %s: %s%s\n", srv->ip,
                                bound_port, cfg->routers[i].label, strerror(-fd),
                                m->dropped && (fd == -EACCES || fd == -EADDRINUSE)
                                    ? " (meshd runs as meshd.user: a port below 1024, or more "
                                      "workers on a port root bound, needs a restart)"
                                    : "");
                    return fd;
                }
                if (bound_port == 0)
                    bound_port = (uint16_t) net_local_port(fd);
                m->socks = xrealloc(m->socks, (m->n_socks + 1) * sizeof(*m->socks));
                ls = &m->socks[m->n_socks++];
                ls->ip = xstrdup(srv->ip);
                ls->cfg_port = srv->port;
                ls->port = bound_port;
                ls->slot = (int) k;
                ls->fd = fd;
                ls->gen = gen;
            }
            log_notice("router %s listening on %s:%u", cfg->routers[i].label, srv->ip, bound_port);
        }
    }
    return 0;
}

/* Closes sockets no generation newer than <oldest_gen> uses. */
static void
close_unused_sockets(struct master *m, unsigned oldest_gen)
{
    size_t k = 0;

    for (size_t i = 0; i < m->n_socks; i++) {
        if (m->socks[i].gen < oldest_gen) {
            (void) close(m->socks[i].fd);
            free(m->socks[i].ip);
            continue;
        }
        m->socks[k++] = m->socks[i];
    }
    m->n_socks = k;
}

/* ---- workers ------------------------------------------------------------------------ */

/* A worker's copy of the master's memory: freed before it exits so that leak checkers
 * only report the worker's own leaks. Unmapping the stats mapping only drops this
 * process's view; the master's stays. */
static void
master_free_in_child(struct master *m)
{
    for (size_t i = 0; i < m->n_socks; i++)
        free(m->socks[i].ip);
    free(m->socks);
    free(m->slots);
    free(m->admin_ip);
    m->admin = admin_discard(m->admin); /* its fd was closed at fork */
    cfg_free(m->cfg);
    stats_shm_free(m->shm);
    free(m);
}

static unsigned
live_procs(struct master *m, unsigned gen, bool any_gen)
{
    unsigned n = 0;

    for (int i = 0; i < MAX_PROCS; i++)
        if (m->procs[i].pid && (any_gen || m->procs[i].gen == gen))
            n++;
    return n;
}

static void
send_quit(struct proc *p, uint32_t deadline_ms)
{
    struct ipc_msg msg = {.type = IPC_QUIT, .arg = deadline_ms};

    p->quitting = true;
    if (send(p->chan_fd, &msg, sizeof(msg), MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
        (void) kill(p->pid, SIGKILL); /* cannot reach it: it will be replaced if needed */
}

static int
spawn_worker(struct master *m, int slot)
{
    struct proc *p = NULL;
    int sv[2], idx;
    int fds[256];
    size_t n_fds = 0;
    pid_t pid;

    for (int i = 0; i < MAX_PROCS; i++) {
        if (m->procs[i].pid == 0) {
            p = &m->procs[i];
            break;
        }
    }
    if (p == NULL) {
        log_err("too many worker processes, not starting another");
        return -ENOSPC;
    }
    for (size_t i = 0; i < m->cfg->n_routers; i++) {
        for (size_t s = 0; s < m->cfg->routers[i].n_servers; s++) {
            const struct cfg_server *srv = &m->cfg->routers[i].servers[s];
            struct lsock *ls = find_sock(m, srv->ip, srv->port, slot);

            if (ls == NULL || n_fds == ARRAY_SIZE(fds)) {
                log_err("bug: no listening socket for %s:%u slot %d", srv->ip, srv->port, slot);
                return -EINVAL;
            }
            fds[n_fds++] = ls->fd;
        }
    }
    idx = stats_shm_claim(m->shm);
    if (idx < 0) {
        log_err("no free stats region for a new worker");
        return idx;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
        int e = errno;

        stats_shm_release(m->shm, idx);
        log_err("socketpair: %s", strerror(e));
        return -e;
    }
    pid = fork();
    if (pid == -1) {
        int e = errno;

        (void) close(sv[0]);
        (void) close(sv[1]);
        stats_shm_release(m->shm, idx);
        log_err("fork: %s", strerror(e));
        return -e;
    }
    if (pid == 0) {
        sigset_t all;
        int rc;

        /* The child keeps only its slot's sockets and its end of the channel. */
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGCHLD, SIG_DFL);
        (void) close(sv[0]);
        for (size_t i = 0; i < m->n_socks; i++)
            if (m->socks[i].slot != slot || m->socks[i].gen != m->gen)
                (void) close(m->socks[i].fd);
        for (int i = 0; i < MAX_PROCS; i++)
            if (m->procs[i].pid)
                (void) close(m->procs[i].chan_fd);
        if (m->admin)
            (void) close(admin_fd(m->admin));
        namesvc_close_fds_in_child(m->names);
        rc = worker_main(m->cfg, slot, fds, n_fds, sv[1], stats_shm_region(m->shm, idx));
        (void) close(sv[1]);
        for (size_t i = 0; i < n_fds; i++)
            (void) close(fds[i]);
        master_free_in_child(m);
        exit(rc); /* not _exit: leak checkers run at exit */
    }
    (void) close(sv[1]);
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    p->slot = slot;
    p->gen = m->gen;
    p->chan_fd = sv[0];
    p->stats_idx = idx;
    p->started_us = clock_mono_us();
    p->m = m;
    p->peer = namesvc_peer_new(m->names, m->gen, p->chan_fd);
    ev_io_init(&p->chan_io, master_on_channel, p->chan_fd, EV_READ);
    ev_io_start(m->loop, &p->chan_io);
    stats_gauge_add(m->workers_gauge, 1);
    log_info("worker %d started (pid %d, generation %u)", slot, (int) pid, m->gen);
    return 0;
}

static void
master_on_channel(struct ev_loop *loop, ev_io *w, int revents)
{
    struct proc *p = container_of(w, struct proc, chan_io);
    static char buf[NAMEMSG_MAX];
    struct ipc_msg msg;
    ssize_t n;

    (void) revents;
    n = recv(p->chan_fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        ev_io_stop(loop, &p->chan_io); /* the worker is exiting; SIGCHLD follows */
        return;
    }
    if ((size_t) n < sizeof(msg))
        return;
    memcpy(&msg, buf, sizeof(msg));
    if (msg.type == IPC_NAME_WATCH || msg.type == IPC_NAME_UNWATCH) {
        namesvc_peer_input(p->peer, buf, (size_t) n);
        return;
    }
    if (n == sizeof(msg) && msg.type == IPC_READY) {
        p->ready = true;
        if (!p->m->notified_ready && live_ready(p->m) == p->m->n_workers) {
            /* systemd (Type=notify): started once every worker polls its sockets */
            p->m->notified_ready = true;
            notify(p->m, "READY=1\nSTATUS=serving");
        }
        /* a reload waits for the whole new generation before retiring the old one */
        if (ev_is_active(&p->m->ready_wait) && p->gen == p->m->gen) {
            bool all = true;

            for (int i = 0; i < MAX_PROCS; i++)
                if (p->m->procs[i].pid && p->m->procs[i].gen == p->m->gen && !p->m->procs[i].ready)
                    all = false;
            if (all) {
                ev_timer_stop(loop, &p->m->ready_wait);
                ev_invoke(loop, &p->m->ready_wait, EV_TIMER);
            }
        }
    }
}

static void
master_on_respawn(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct slot_state *s = container_of(t, struct slot_state, respawn);

    (void) loop;
    (void) revents;
    if (!s->m->stopping && (unsigned) s->slot < s->m->n_workers)
        (void) spawn_worker(s->m, s->slot);
}

static void
master_stop_now(struct master *m, int code)
{
    m->exit_code = code;
    m->stopping = true;
    for (int i = 0; i < MAX_PROCS; i++)
        if (m->procs[i].pid)
            (void) kill(m->procs[i].pid, SIGKILL);
    if (live_procs(m, 0, true) == 0)
        ev_break(m->loop, EVBREAK_ALL);
}

/* Sets the log level of the master and of every worker; workers forked later inherit it. */
static void
master_set_log_level(struct master *m, enum log_level level)
{
    struct ipc_msg msg = {.type = IPC_LOG_LEVEL, .arg = (uint32_t) level};

    log_set_level(level);
    for (int i = 0; i < MAX_PROCS; i++)
        if (m->procs[i].pid)
            (void) send(m->procs[i].chan_fd, &msg, sizeof(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void
master_on_child(struct ev_loop *loop, ev_child *w, int revents)
{
    struct master *m = container_of(w, struct master, child);
    struct proc *p = NULL;
    int status = w->rstatus;
    pid_t pid = w->rpid;

    (void) revents;
    for (int i = 0; i < MAX_PROCS; i++)
        if (m->procs[i].pid == pid)
            p = &m->procs[i];
    if (p == NULL)
        return;
    ev_io_stop(loop, &p->chan_io);
    p->peer = namesvc_peer_free(p->peer);
    (void) close(p->chan_fd);
    stats_shm_release(m->shm, p->stats_idx);
    stats_gauge_add(m->workers_gauge, -1);
    p->pid = 0;

    if (p->quitting || m->stopping) {
        log_info("worker %d (pid %d, generation %u) exited", p->slot, (int) pid, p->gen);
    } else {
        struct slot_state *s = &m->slots[p->slot];
        bool fast = clock_mono_us() - p->started_us < FAST_DEATH_US;

        stats_inc(m->worker_deaths, 1);
        if (WIFSIGNALED(status))
            log_err("worker %d (pid %d) killed by signal %d, replacing it", p->slot, (int) pid,
                    WTERMSIG(status));
        else
            log_err("worker %d (pid %d) exited with status %d, replacing it", p->slot,
                    (int) pid, WEXITSTATUS(status));
        if (p->gen == m->gen && (unsigned) p->slot < m->n_workers) {
            s->fast_deaths = fast ? s->fast_deaths + 1 : 0;
            if (s->fast_deaths >= MAX_FAST_DEATHS) {
                log_err("worker %d died %u times right after starting, giving up", p->slot,
                        s->fast_deaths);
                master_stop_now(m, 1);
                return;
            }
            if (s->fast_deaths == 0) {
                (void) spawn_worker(m, p->slot);
            } else {
                double delay = 0.1 * (double) (1u << (s->fast_deaths - 1));

                ev_timer_stop(loop, &s->respawn);
                ev_timer_set(&s->respawn, delay, 0.);
                ev_timer_start(loop, &s->respawn);
            }
        }
    }
    /* sockets only old generations used can go once those are gone */
    {
        unsigned oldest = m->gen;

        for (int i = 0; i < MAX_PROCS; i++)
            if (m->procs[i].pid && m->procs[i].gen < oldest)
                oldest = m->procs[i].gen;
        close_unused_sockets(m, oldest);
    }
    if (m->stopping && live_procs(m, 0, true) == 0)
        ev_break(loop, EVBREAK_ALL);
}

/* ---- reload and stop ---------------------------------------------------------------- */

static void
master_on_ready_wait(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = container_of(t, struct master, ready_wait);

    (void) loop;
    (void) revents;
    for (int i = 0; i < MAX_PROCS; i++)
        if (m->procs[i].pid && m->procs[i].gen < m->gen && !m->procs[i].quitting)
            send_quit(&m->procs[i], m->cfg->meshd.drain_timeout_ms);
}

static void
slots_resize(struct master *m, unsigned n)
{
    if (n <= m->n_slots)
        return;
    m->slots = xrealloc(m->slots, n * sizeof(*m->slots));
    for (unsigned i = m->n_slots; i < n; i++) {
        memset(&m->slots[i], 0, sizeof(m->slots[i]));
        m->slots[i].m = m;
        m->slots[i].slot = (int) i;
        ev_init(&m->slots[i].respawn, master_on_respawn);
    }
    m->n_slots = n;
}

static bool
str_same(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void master_admin_handler(void *ctx, const struct admin_request *req,
                                 struct admin_response *rsp);

static void
master_reload(struct master *m)
{
    struct cfg_err err;
    struct strbuf errors = STRBUF_INIT;
    struct cfg *next;
    unsigned n_workers;

    log_notice("reloading %s", m->cfg_path);
    notify(m, "RELOADING=1");
    next = cfg_load(m->cfg_path, &err);
    if (next == NULL) {
        log_err("reload failed, keeping the running config:\n%s", err.text);
        stats_inc(m->reload_failures, 1);
        return;
    }
    if (master_validate(next, &errors) != 0) {
        log_err("reload failed, keeping the running config:\n%s", strbuf_str(&errors));
        goto fail;
    }
    {
        char nerr[256];

        if (namesvc_naming(m->names, m->gen + 1, next, nerr, sizeof(nerr)) == NULL) {
            log_err("reload failed, keeping the running config: naming: %s", nerr);
            goto fail;
        }
    }
    n_workers = master_worker_count(next);
    if (bind_sockets(m, next, n_workers, m->gen + 1, &errors) != 0) {
        log_err("reload failed, keeping the running config: %s", strbuf_str(&errors));
        goto fail;
    }
    if (!str_same(next->meshd.user, m->cfg->meshd.user) ||
        !str_same(next->meshd.group, m->cfg->meshd.group))
        log_warn("reload: meshd.user and meshd.group change at the next restart");
    if (next->admin.port != m->admin_port || strcmp(next->admin.ip, m->admin_ip) != 0) {
        char aerr[256];
        struct admin *a = admin_new(m->loop, next->admin.ip, next->admin.port,
                                    master_admin_handler, m, aerr, sizeof(aerr));

        if (a == NULL) {
            log_err("reload failed, keeping the running config: %s", aerr);
            goto fail;
        }
        admin_free(m->admin);
        m->admin = a;
        free(m->admin_ip);
        m->admin_ip = xstrdup(next->admin.ip);
        m->admin_port = next->admin.port;
    }
    cfg_free(m->cfg);
    m->cfg = next;
    m->gen++;
    m->n_workers = n_workers;
    slots_resize(m, n_workers);
    for (unsigned k = 0; k < n_workers; k++) {
        m->slots[k].fast_deaths = 0;
        (void) spawn_worker(m, (int) k);
    }
    stats_inc(m->reloads, 1);
    ev_timer_stop(m->loop, &m->ready_wait);
    ev_timer_set(&m->ready_wait, READY_WAIT_S, 0.);
    ev_timer_start(m->loop, &m->ready_wait);
    log_notice("reload: generation %u starting with %u workers", m->gen, n_workers);
    notify(m, "READY=1\nSTATUS=serving (reloaded)");
    strbuf_fini(&errors);
    return;

fail:
    stats_inc(m->reload_failures, 1);
    namesvc_drop(m->names, m->gen + 1);
    /* sockets bound for the failed generation are not used by anyone */
    close_unused_sockets(m, m->gen);
    for (size_t i = 0; i < m->n_socks; i++)
        if (m->socks[i].gen > m->gen)
            m->socks[i].gen = m->gen;
    cfg_free(next);
    strbuf_fini(&errors);
    notify(m, "READY=1\nSTATUS=serving (last reload failed, see the log)");
}

static void
master_on_stop_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = container_of(t, struct master, stop_deadline);

    (void) loop;
    (void) revents;
    log_warn("workers did not finish draining in time, killing them");
    master_stop_now(m, 0);
}

static void
master_begin_stop(struct master *m, const char *why)
{
    if (m->stopping) {
        log_notice("%s again: stopping now", why);
        master_stop_now(m, 0);
        return;
    }
    log_notice("%s: draining in-flight requests (up to %u ms), then exiting", why,
               m->cfg->meshd.drain_timeout_ms);
    m->stopping = true;
    notify(m, "STOPPING=1");
    for (unsigned k = 0; k < m->n_slots; k++)
        ev_timer_stop(m->loop, &m->slots[k].respawn);
    for (int i = 0; i < MAX_PROCS; i++)
        if (m->procs[i].pid && !m->procs[i].quitting)
            send_quit(&m->procs[i], m->cfg->meshd.drain_timeout_ms);
    ev_timer_init(&m->stop_deadline, master_on_stop_deadline,
                  m->cfg->meshd.drain_timeout_ms / 1000.0 + 2.0, 0.);
    ev_timer_start(m->loop, &m->stop_deadline);
    if (live_procs(m, 0, true) == 0)
        ev_break(m->loop, EVBREAK_ALL);
}

static void
master_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct master *m = w->data;

    (void) loop;
    (void) revents;
    switch (w->signum) {
    case SIGHUP:
        if (!m->stopping)
            master_reload(m);
        break;
    case SIGTERM:
        master_begin_stop(m, "SIGTERM");
        break;
    case SIGINT:
        master_begin_stop(m, "SIGINT");
        break;
    case SIGQUIT:
        master_begin_stop(m, "SIGQUIT");
        break;
    default:
        break;
    }
}

static void
master_on_rotate(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = container_of(t, struct master, rotate);

    (void) loop;
    (void) revents;
    stats_shm_rotate(m->shm);
}

/* ---- admin -------------------------------------------------------------------------- */

static bool
path_is(const struct admin_request *req, const char *p)
{
    return req->path_len == strlen(p) && memcmp(req->path, p, req->path_len) == 0;
}

static const char *const level_names[] = {"err", "warn", "notice", "info", "debug"};

/* GET /admin/logging: the level; POST /admin/logging?level=L (or the body level=L): sets
 * it in the master and every worker. Changing it is a POST, like every mutation. */
static void
master_admin_logging(struct master *m, const struct admin_request *req, struct admin_response *rsp,
                     bool get, bool post)
{
    char value[16];
    enum log_level level;
    bool given = admin_query_get(req, "level", value, sizeof(value));

    if (!given && post && req->body_len > 6 && req->body_len < 6 + sizeof(value) &&
        memcmp(req->body, "level=", 6) == 0) {
        memcpy(value, req->body + 6, req->body_len - 6);
        value[req->body_len - 6] = '\0';
        value[strcspn(value, "\r\n")] = '\0';
        given = true;
    }
    if (get && !given) {
        strbuf_addf(&rsp->body, "%s\n", level_names[log_get_level()]);
        return;
    }
    if (!post) {
        rsp->status = 405;
        rsp->extra_headers = "Allow: GET, HEAD, POST\r\n";
        strbuf_adds(&rsp->body, "use POST to change the log level\n");
        return;
    }
    if (!given || log_level_parse(value, &level) != 0) {
        rsp->status = 400;
        strbuf_adds(&rsp->body, "level: one of err, warn, notice, info, debug\n");
        return;
    }
    log_notice("admin: log level %s -> %s", level_names[log_get_level()], level_names[level]);
    master_set_log_level(m, level);
    strbuf_addf(&rsp->body, "%s\n", level_names[level]);
}

static void
master_admin_handler(void *ctx, const struct admin_request *req, struct admin_response *rsp)
{
    struct master *m = ctx;
    bool get = (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0) ||
               (req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0);
    bool post = req->method_len == 4 && memcmp(req->method, "POST", 4) == 0;
    char nerr[256] = "";

    if (path_is(req, "/admin/ping") && get) {
        strbuf_adds(&rsp->body, "pong");
    } else if (path_is(req, "/admin/metrics.json") && get) {
        rsp->content_type = "application/json";
        stats_render_json(m->shm, &rsp->body);
    } else if (path_is(req, "/admin/metrics/prometheus") && get) {
        rsp->content_type = "text/plain; version=0.0.4";
        stats_render_prometheus(m->shm, &rsp->body);
    } else if (path_is(req, "/config.json") && get) {
        rsp->content_type = "application/json";
        cfg_to_json(m->cfg, &rsp->body);
    } else if (path_is(req, "/admin/shutdown")) {
        if (!post) {
            rsp->status = 405;
            rsp->extra_headers = "Allow: POST\r\n";
            strbuf_adds(&rsp->body, "use POST to shut down\n");
            return;
        }
        strbuf_adds(&rsp->body, "shutting down\n");
        master_begin_stop(m, "admin /admin/shutdown");
    } else if (path_is(req, "/admin/logging")) {
        master_admin_logging(m, req, rsp, get, post);
    } else if (path_is(req, "/admin") && get) {
        rsp->content_type = "text/plain; charset=utf-8";
        strbuf_adds(&rsp->body,
                    "meshd admin\n"
                    "  /, /dashboard               the dashboard (a page for a browser)\n"
                    "  /agent/api/v2/...           the node's meshagent query API, relayed\n"
                    "  /admin/ping                 liveness: answers pong\n"
                    "  /admin/metrics.json         all metrics, Linkerd's flat JSON\n"
                    "  /admin/metrics/prometheus   the same, Prometheus text format\n"
                    "  /config.json                the effective config\n"
                    "  /admin/logging              the log level; POST ?level=debug sets it\n"
                    "  POST /admin/shutdown        graceful stop\n");
    } else if (dashboard_admin(m->loop, m->cfg, req, rsp)) {
        /* /, /dashboard/..., /agent/api/v2/...: proxy/dashboard.c */
    } else if (delegator_admin(namesvc_naming(m->names, m->gen, m->cfg, nerr, sizeof(nerr)), nerr,
                               m->cfg, req, rsp)) {
        /* /delegator.json, /delegator: proxy/delegator.c, in the workers' names */
    } else if (get || post) {
        rsp->status = 404;
        strbuf_addf(&rsp->body, "no such admin path: %.*s\n", (int) req->path_len, req->path);
    } else {
        rsp->status = 405;
        rsp->extra_headers = "Allow: GET, HEAD, POST\r\n";
        strbuf_adds(&rsp->body, "method not allowed\n");
    }
}

/* ---- entry -------------------------------------------------------------------------- */

/* Everything that needs root is done (sockets bound): become meshd.user for good. */
static int
master_drop_privileges(const struct cfg *cfg, bool *ret_dropped)
{
    struct priv_id id;
    char err[256];

    if (geteuid() != 0) {
        if (cfg->meshd.user != NULL)
            log_notice("meshd.user %s: not started as root, running as uid %lu", cfg->meshd.user,
                       (unsigned long) geteuid());
        return 0;
    }
    if (cfg->meshd.user == NULL) {
        log_warn("running as root: workers parsing client requests have every privilege; set "
                 "meshd.user (docs/security.md), or meshd.user: root to silence this");
        return 0;
    }
    if (priv_resolve(cfg->meshd.user, cfg->meshd.group, &id, err, sizeof(err)) != 0 ||
        priv_drop(&id, err, sizeof(err)) != 0) {
        log_err("meshd.user: %s, not starting", err);
        return -1;
    }
    *ret_dropped = id.uid != 0;
    if (id.uid == 0)
        log_notice("meshd.user %s: staying root, as configured", cfg->meshd.user);
    else
        log_notice("running as uid %lu, gid %lu (meshd.user %s)", (unsigned long) id.uid,
                   (unsigned long) id.gid, cfg->meshd.user);
    return 0;
}

int
master_run(const char *cfg_path, struct cfg *cfg)
{
    struct master *m = xcalloc(1, sizeof(*m));
    struct strbuf errors = STRBUF_INIT;
    char err[256];
    int rc;

    log_set_tag("master");
    signal(SIGPIPE, SIG_IGN);
    m->loop = ev_default_loop(EVFLAG_NOENV);
    m->cfg_path = cfg_path;
    m->cfg = cfg;
    m->gen = 1;
    m->n_workers = master_worker_count(cfg);
    m->shm = stats_shm_new(m->n_workers * 4 + 8, 4096, 512);
    if (m->shm == NULL) {
        log_err("cannot map the stats region");
        return 1;
    }
    m->own_idx = stats_shm_claim(m->shm);
    m->own = stats_shm_region(m->shm, m->own_idx);
    m->worker_deaths = stats_counter(m->own, "meshd/worker_deaths");
    m->reloads = stats_counter(m->own, "meshd/reloads");
    m->reload_failures = stats_counter(m->own, "meshd/reload_failures");
    m->workers_gauge = stats_gauge(m->own, "meshd/workers");

    if (bind_sockets(m, cfg, m->n_workers, m->gen, &errors) != 0) {
        log_err("%s", strbuf_str(&errors));
        strbuf_fini(&errors);
        return 1;
    }
    strbuf_fini(&errors);
    m->admin = admin_new(m->loop, cfg->admin.ip, cfg->admin.port, master_admin_handler, m, err,
                         sizeof(err));
    if (m->admin == NULL) {
        log_err("%s", err);
        return 1;
    }
    m->admin_ip = xstrdup(cfg->admin.ip);
    m->admin_port = cfg->admin.port;
    log_notice("admin listening on %s:%d", cfg->admin.ip, net_local_port(admin_fd(m->admin)));
    if (master_drop_privileges(cfg, &m->dropped) != 0)
        return 1;
    /* the namers start as meshd.user, as the workers did */
    m->names = namesvc_new(m->loop);
    if (namesvc_naming(m->names, m->gen, cfg, err, sizeof(err)) == NULL) {
        log_err("naming: %s", err);
        return 1;
    }

    ev_child_init(&m->child, master_on_child, 0, 0);
    ev_child_start(m->loop, &m->child);
    ev_signal_init(&m->sig_hup, master_on_signal, SIGHUP);
    ev_signal_init(&m->sig_term, master_on_signal, SIGTERM);
    ev_signal_init(&m->sig_int, master_on_signal, SIGINT);
    ev_signal_init(&m->sig_quit, master_on_signal, SIGQUIT);
    m->sig_hup.data = m->sig_term.data = m->sig_int.data = m->sig_quit.data = m;
    ev_signal_start(m->loop, &m->sig_hup);
    ev_signal_start(m->loop, &m->sig_term);
    ev_signal_start(m->loop, &m->sig_int);
    ev_signal_start(m->loop, &m->sig_quit);
    ev_init(&m->ready_wait, master_on_ready_wait);
    ev_timer_init(&m->rotate, master_on_rotate, 60., 60.);
    ev_timer_start(m->loop, &m->rotate);

    slots_resize(m, m->n_workers);
    for (unsigned k = 0; k < m->n_workers; k++) {
        if (spawn_worker(m, (int) k) != 0) {
            master_stop_now(m, 1);
            break;
        }
    }
    log_notice("meshd started: %u workers, config %s", m->n_workers, cfg_path);
    ev_run(m->loop, 0);

    rc = m->exit_code;
    log_notice("meshd stopped");
    m->admin = admin_free(m->admin);
    m->names = namesvc_free(m->names);
    close_unused_sockets(m, ~0u);
    free(m->socks);
    free(m->slots);
    free(m->admin_ip);
    cfg_free(m->cfg);
    stats_shm_free(m->shm);
    free(m);
    return rc;
}

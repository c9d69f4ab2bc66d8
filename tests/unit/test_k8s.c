/* tests/unit/test_k8s.c - the Kubernetes JSON shapes (Endpoints, Services, watch events,
 * lists) and, through naming with an in-process fake API on the test's loop, the
 * io.l5d.k8s namer and the k8s transformers' matching. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <json-c/json.h>

#include "common/cfg.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "proxy/dtab.h"
#include "proxy/k8s.h"
#include "proxy/naming.h"
#include "tests/lib/check_main.h"
#include "tests/lib/naming_pair.h"

/* ---- JSON shapes ------------------------------------------------------------------------ */

static const char ep_json[] =
    "{\"kind\":\"Endpoints\",\"apiVersion\":\"v1\","
    "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"resourceVersion\":\"42\"},"
    "\"subsets\":["
    " {\"addresses\":[{\"ip\":\"10.1.1.5\",\"nodeName\":\"node-a\",\"targetRef\":{\"kind\":\"Pod\"}"
    "},"
    "                 {\"ip\":\"10.1.2.7\",\"nodeName\":\"node-b\"}],"
    "  \"notReadyAddresses\":[{\"ip\":\"10.1.3.9\",\"nodeName\":\"node-c\"}],"
    "  \"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"},"
    "             {\"name\":\"admin\",\"port\":9990,\"protocol\":\"TCP\"},"
    "             {\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]},"
    " {\"addresses\":[{\"ip\":\"10.1.9.1\"}],"
    "  \"ports\":[{\"name\":\"http\",\"port\":8081,\"protocol\":\"TCP\"}]}"
    "]}";

static struct json_object *
parse(const char *s)
{
    struct json_object *o = json_tokener_parse(s);

    ck_assert_ptr_nonnull(o);
    return o;
}

START_TEST(test_k8s_named_port_on_ready_addresses)
{
    struct json_object *ep = parse(ep_json);
    struct k8s_addr *a = NULL;
    int n = k8s_endpoints_resolve(ep, NULL, "http", &a);

    ck_assert_int_eq(n, 3); /* the not-ready address is left out */
    ck_assert_str_eq(a[0].ip, "10.1.1.5");
    ck_assert_int_eq(a[0].port, 8080);
    ck_assert_str_eq(a[0].node, "node-a");
    ck_assert_str_eq(a[1].node, "node-b");
    ck_assert_str_eq(a[2].ip, "10.1.9.1");
    ck_assert_int_eq(a[2].port, 8081); /* each subset has its own port numbers */
    ck_assert_str_eq(a[2].node, "");
    free(a);
    json_object_put(ep);
}
END_TEST

START_TEST(test_k8s_unknown_port_is_neg)
{
    struct json_object *ep = parse(ep_json);
    struct k8s_addr *a = NULL;

    ck_assert_int_eq(k8s_endpoints_resolve(ep, NULL, "grpc", &a), -ENOENT);
    ck_assert_int_eq(k8s_endpoints_resolve(ep, NULL, "dns", &a), -ENOENT); /* UDP */
    ck_assert_ptr_null(a);
    json_object_put(ep);
}
END_TEST

START_TEST(test_k8s_no_subsets_is_empty)
{
    struct json_object *ep =
        parse("{\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"web\"},\"subsets\":[]}");
    struct json_object *bare = parse("{\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"web\"}}");
    struct k8s_addr *a = NULL;

    ck_assert_int_eq(k8s_endpoints_resolve(ep, NULL, "http", &a), 0);
    ck_assert_int_eq(k8s_endpoints_resolve(bare, NULL, "http", &a), 0);
    ck_assert_int_eq(k8s_endpoints_resolve(NULL, NULL, "http", &a), 0); /* absent object */
    ck_assert_ptr_null(a);
    json_object_put(ep);
    json_object_put(bare);
}
END_TEST

START_TEST(test_k8s_numeric_port_through_target_port)
{
    struct json_object *ep = parse(ep_json);
    struct json_object *svc_num =
        parse("{\"kind\":\"Service\",\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":8080,"
              "\"protocol\":\"TCP\"},{\"port\":81,\"targetPort\":\"admin\"},{\"port\":9990}]}}");
    struct k8s_addr *a = NULL;

    ck_assert_int_eq(k8s_endpoints_resolve(ep, svc_num, "80", &a), 2); /* 8080: first subset */
    ck_assert_int_eq(a[0].port, 8080);
    free(a);
    ck_assert_int_eq(k8s_endpoints_resolve(ep, svc_num, "81", &a), 2); /* named targetPort */
    ck_assert_int_eq(a[0].port, 9990);
    free(a);
    ck_assert_int_eq(k8s_endpoints_resolve(ep, svc_num, "9990", &a), 2); /* no targetPort */
    free(a);
    ck_assert_int_eq(k8s_endpoints_resolve(ep, NULL, "8081", &a), 1); /* no Service: as is */
    ck_assert_str_eq(a[0].ip, "10.1.9.1");
    free(a);
    ck_assert_int_eq(k8s_endpoints_resolve(ep, svc_num, "82", &a), -ENOENT);
    json_object_put(ep);
    json_object_put(svc_num);
}
END_TEST

START_TEST(test_k8s_watch_events)
{
    static const char added[] = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Endpoints\","
                                "\"metadata\":{\"resourceVersion\":\"7\"},\"subsets\":[]}}";
    static const char gone[] =
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
        "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: 1 (5)\","
        "\"reason\":\"Expired\",\"code\":410}}";
    struct k8s_event ev;

    ck_assert_int_eq(k8s_event_parse(added, strlen(added), &ev), 0);
    ck_assert_int_eq(ev.type, K8S_EV_ADDED);
    ck_assert_str_eq(ev.rv, "7");
    ck_assert_ptr_nonnull(ev.object);
    k8s_event_fini(&ev);
    ck_assert_int_eq(k8s_event_parse(gone, strlen(gone), &ev), 0);
    ck_assert_int_eq(ev.type, K8S_EV_ERROR);
    ck_assert_int_eq(ev.code, 410);
    ck_assert_str_eq(ev.message, "too old resource version: 1 (5)");
    k8s_event_fini(&ev);
    ck_assert_int_eq(k8s_event_parse("{\"type\":\"MODIFIED\"}", 19, &ev), -EBADMSG);
    ck_assert_int_eq(k8s_event_parse("{\"type\":\"NOPE\",\"object\":{}}", 28, &ev), -EBADMSG);
    ck_assert_int_eq(k8s_event_parse("{\"type\":\"ADDED\",\"obj", 20, &ev), -EBADMSG);
    ck_assert_int_eq(k8s_event_parse("{} {}", 5, &ev), -EBADMSG);
}
END_TEST

START_TEST(test_k8s_list_shapes)
{
    static const char list[] =
        "{\"kind\":\"EndpointsList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
        "\"99\"},"
        "\"items\":[{\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"12\"}}]}";
    static const char empty[] = "{\"kind\":\"EndpointsList\",\"metadata\":{\"resourceVersion\":"
                                "\"100\"},\"items\":[]}\n";
    struct json_object *obj = NULL;
    char rv[64];

    ck_assert_int_eq(k8s_list_parse(list, strlen(list), &obj, rv, sizeof(rv)), 0);
    ck_assert_str_eq(rv, "99"); /* the list's version, not the item's */
    ck_assert_ptr_nonnull(obj);
    json_object_put(obj);
    ck_assert_int_eq(k8s_list_parse(empty, strlen(empty), &obj, rv, sizeof(rv)), 0);
    ck_assert_ptr_null(obj);
    ck_assert_str_eq(rv, "100");
    ck_assert_int_eq(k8s_list_parse(ep_json, strlen(ep_json), &obj, rv, sizeof(rv)), 0);
    ck_assert_str_eq(rv, "42");
    json_object_put(obj);
    ck_assert_int_eq(k8s_list_parse("[1,2]", 5, &obj, rv, sizeof(rv)), -EBADMSG);
    ck_assert_int_eq(k8s_list_parse("nope", 4, &obj, rv, sizeof(rv)), -EBADMSG);
}
END_TEST

/* ---- an in-process fake API ---------------------------------------------------------- */

struct fake_conn {
    ev_io io;
    int fd;
    char buf[8192];
    size_t len;
    struct fake_conn *next;
};

static struct ev_loop *loop;
static int api_fd = -1, api_port;
static ev_io api_io;
static struct fake_conn *conns;
static const char *fake_objects[8][2]; /* {"endpoints/ns/name", json} */
static unsigned n_lists;

static const char *
fake_find(const char *key)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(fake_objects) && fake_objects[i][0] != NULL; i++)
        if (strcmp(fake_objects[i][0], key) == 0)
            return fake_objects[i][1];
    return NULL;
}

static void
send_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

        if (n <= 0)
            return;
        s += n;
        len -= (size_t) n;
    }
}

/* GET /api/v1/namespaces/<ns>/<resource>?fieldSelector=metadata.name%3D<name>[&watch=true] */
static void
fake_answer(struct fake_conn *c)
{
    char ns[64] = "", res[64] = "", name[64] = "", key[256], head[256];
    const char *q = strstr(c->buf, "metadata.name%3D"), *obj;
    struct strbuf body = STRBUF_INIT;

    (void) sscanf(c->buf, "GET /api/v1/namespaces/%63[^/]/%63[^?]", ns, res);
    if (q != NULL)
        (void) sscanf(q + 16, "%63[a-z0-9-]", name);
    if (strstr(c->buf, "watch=true") != NULL) {
        static const char stream[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n";

        send_all(c->fd, stream, strlen(stream)); /* and nothing more: a quiet stream */
        return;
    }
    n_lists++;
    snprintf(key, sizeof(key), "%s/%s/%s", res, ns, name);
    obj = fake_find(key);
    strbuf_addf(&body,
                "{\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[%s]}",
                obj ? obj : "");
    snprintf(head, sizeof(head),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             body.len);
    send_all(c->fd, head, strlen(head));
    send_all(c->fd, body.s, body.len);
    strbuf_fini(&body);
    shutdown(c->fd, SHUT_WR);
}

static void
fake_on_read(struct ev_loop *l, ev_io *w, int revents)
{
    struct fake_conn *c = container_of(w, struct fake_conn, io);
    ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

    (void) revents;
    if (n <= 0) {
        ev_io_stop(l, w);
        return;
    }
    c->len += (size_t) n;
    c->buf[c->len] = '\0';
    if (strstr(c->buf, "\r\n\r\n") != NULL) {
        fake_answer(c);
        c->len = 0;
    }
}

static void
fake_on_accept(struct ev_loop *l, ev_io *w, int revents)
{
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct fake_conn *c;

    (void) revents;
    if (fd == -1)
        return;
    c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->next = conns;
    conns = c;
    ev_io_init(&c->io, fake_on_read, fd, EV_READ);
    ev_io_start(l, &c->io);
}

static void
fake_start(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);

    api_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(api_fd, 0);
    ck_assert_int_eq(bind(api_fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(api_fd, 16), 0);
    ck_assert_int_eq(getsockname(api_fd, (struct sockaddr *) &sin, &len), 0);
    api_port = ntohs(sin.sin_port);
    ev_io_init(&api_io, fake_on_accept, api_fd, EV_READ);
    ev_io_start(loop, &api_io);
}

static void
setup(void)
{
    loop = ev_loop_new(EVFLAG_AUTO);
    memset(fake_objects, 0, sizeof(fake_objects));
    n_lists = 0;
    fake_start();
}

static void
teardown(void)
{
    while (conns != NULL) {
        struct fake_conn *c = conns;

        conns = c->next;
        ev_io_stop(loop, &c->io);
        close(c->fd);
        free(c);
    }
    ev_io_stop(loop, &api_io);
    close(api_fd);
    ev_loop_destroy(loop);
}

/* The pods of service web: on node-a and node-b, whose daemonset pods (on the host
 * network: node addresses) share no /24 with them; and one on node-c, which has none. */
static const char web_ep[] =
    "{\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"3\"},"
    "\"subsets\":[{\"addresses\":[{\"ip\":\"10.1.1.5\",\"nodeName\":\"node-a\"},"
    "{\"ip\":\"10.1.2.7\",\"nodeName\":\"node-b\"},{\"ip\":\"10.1.2.8\",\"nodeName\":\"node-b\"},"
    "{\"ip\":\"10.1.3.9\",\"nodeName\":\"node-c\"}],"
    "\"ports\":[{\"name\":\"http\",\"port\":8080}]}]}";
static const char l5d_ep[] =
    "{\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"l5d\",\"resourceVersion\":\"4\"},"
    "\"subsets\":[{\"addresses\":[{\"ip\":\"192.168.50.10\",\"nodeName\":\"node-a\"},"
    "{\"ip\":\"192.168.50.11\",\"nodeName\":\"node-b\"}],"
    "\"ports\":[{\"name\":\"incoming\",\"port\":4141},{\"name\":\"outgoing\",\"port\":4140}]}]}";
/* Linkerd's DaemonSetTransformerTest vectors for the /24 rule */
static const char web24_ep[] =
    "{\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"web24\"},"
    "\"subsets\":[{\"addresses\":[{\"ip\":\"1.1.1.55\"},{\"ip\":\"1.1.2.55\"}],"
    "\"ports\":[{\"name\":\"http\",\"port\":8080}]}]}";
static const char l5d24_ep[] =
    "{\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"l5d24\"},"
    "\"subsets\":[{\"addresses\":[{\"ip\":\"1.1.1.1\"},{\"ip\":\"1.1.2.1\"},{\"ip\":\"1.1.3.1\"}],"
    "\"ports\":[{\"name\":\"incoming\",\"port\":4141}]}]}";

/* Parses <text> with every "@PORT@" replaced by the fake API's port. */
static struct cfg *
load(const char *text)
{
    struct strbuf yaml = STRBUF_INIT;
    struct cfg_err err;
    struct cfg *cfg;
    const char *p;

    while ((p = strstr(text, "@PORT@")) != NULL) {
        strbuf_add(&yaml, text, (size_t) (p - text));
        strbuf_addf(&yaml, "%d", api_port);
        text = p + 6;
    }
    strbuf_adds(&yaml, text);
    cfg = cfg_parse(yaml.s, yaml.len, NULL, &err);
    strbuf_fini(&yaml);
    ck_assert_msg(cfg != NULL, "%s", err.text);
    return cfg;
}

/* Binds until the answer is not pending (at most 3 s of loop time). */
static int
bind_wait(struct naming *n, const char *router, const char *dtab_text, const char *path,
          struct name_bound *nb)
{
    struct dtab *d = dtab_parse(dtab_text, strlen(dtab_text), NULL);
    uint64_t deadline = clock_mono_us() + 3000000;
    char why[256];
    int r;

    ck_assert_ptr_nonnull(d);
    while ((r = naming_bind_router(n, router, d, path, strlen(path), nb, why, sizeof(why))) ==
               -EAGAIN &&
           clock_mono_us() < deadline)
        ev_run(loop, EVRUN_ONCE);
    dtab_free(d);
    return r;
}

static bool
has_addr(const struct endpoint_set *s, const char *ip, uint16_t port)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) &s->e[i].addr;
        char buf[INET_ADDRSTRLEN];

        if (s->e[i].addr.ss_family != AF_INET)
            continue;
        inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
        if (strcmp(buf, ip) == 0 && ntohs(in->sin_port) == port)
            return true;
    }
    return false;
}

static const char k8s_cfg[] = "namers:\n"
                              "- kind: io.l5d.k8s\n"
                              "  host: 127.0.0.1\n"
                              "  port: @PORT@\n"
                              "routers:\n"
                              "- protocol: http\n"
                              "  label: out\n"
                              "  interpreter:\n"
                              "    kind: default\n"
                              "    transformers:\n"
                              "    - kind: io.l5d.k8s.daemonset\n"
                              "      namespace: default\n"
                              "      service: l5d\n"
                              "      port: incoming\n"
                              "      k8sHost: 127.0.0.1\n"
                              "      k8sPort: @PORT@\n"
                              "  servers: [{port: 0}]\n"
                              "- protocol: http\n"
                              "  label: in\n"
                              "  interpreter:\n"
                              "    kind: default\n"
                              "    transformers:\n"
                              "    - kind: io.l5d.k8s.localnode\n"
                              "  servers: [{port: 0}]\n";

START_TEST(test_k8s_namer_binds_endpoints)
{
    struct cfg *cfg;
    struct naming *n;
    struct name_bound nb;
    char err[256];

    fake_objects[0][0] = "endpoints/default/web";
    fake_objects[0][1] = web_ep;
    setenv("NODE_NAME", "node-b", 1);
    cfg = load(k8s_cfg);
    n = naming_new(loop, cfg, err, sizeof(err));
    ck_assert_msg(n != NULL, "%s", err);
    ck_assert_int_eq(bind_wait(n, NULL, "/svc=>/#/io.l5d.k8s/default/http", "/svc/WEB/x", &nb), 0);
    ck_assert_str_eq(nb.id, "/#/io.l5d.k8s/default/http/WEB"); /* looked up lower-cased */
    ck_assert_str_eq(nb.residual, "/x");
    ck_assert_uint_eq(nb.eps->n, 4);
    ck_assert(has_addr(nb.eps, "10.1.1.5", 8080));
    ck_assert_str_eq(nb.eps->e[0].node, "node-a");
    name_bound_fini(&nb);
    /* an unknown port name is Neg; a missing service is bound to no endpoints */
    ck_assert_int_eq(bind_wait(n, NULL, "/svc=>/#/io.l5d.k8s/default/grpc", "/svc/web", &nb),
                     -ENOENT);
    ck_assert_int_eq(bind_wait(n, NULL, "/svc=>/#/io.l5d.k8s/default/http", "/svc/nope", &nb), 0);
    ck_assert_uint_eq(nb.eps->n, 0);
    name_bound_fini(&nb);
    naming_free(n);
    cfg_free(cfg);
}
END_TEST

/* web bound through the daemonset transformer of k8s_cfg's router "out" */
static void
assert_web_through_daemonset(const struct name_bound *nb)
{
    ck_assert_str_eq(nb->id, "/%/io.l5d.k8s.daemonset/default/incoming/l5d/#/io.l5d.k8s/default/"
                             "http/web");
    /* node-a's and node-b's daemonset pods, though no pod shares a /24 with them; node-c
     * has none, so its pod is not reachable through the mesh */
    ck_assert_uint_eq(nb->eps->n, 2);
    ck_assert(has_addr(nb->eps, "192.168.50.10", 4141));
    ck_assert(has_addr(nb->eps, "192.168.50.11", 4141));
    ck_assert(nb->eps->e[0].weight + nb->eps->e[1].weight == 3.0); /* two pods on node-b */
}

/* The fake API serves web and the l5d daemonset; the worker runs on node-b. */
static struct cfg *
load_web_and_daemonset(void)
{
    fake_objects[0][0] = "endpoints/default/web";
    fake_objects[0][1] = web_ep;
    fake_objects[1][0] = "endpoints/default/l5d";
    fake_objects[1][1] = l5d_ep;
    setenv("NODE_NAME", "node-b", 1);
    return load(k8s_cfg);
}

START_TEST(test_k8s_daemonset_matches_by_node_name)
{
    struct cfg *cfg;
    struct naming *n;
    struct name_bound nb;
    char err[256];

    cfg = load_web_and_daemonset();
    n = naming_new(loop, cfg, err, sizeof(err));
    ck_assert_msg(n != NULL, "%s", err);
    ck_assert_int_eq(bind_wait(n, "out", "/svc=>/#/io.l5d.k8s/default/http", "/svc/web", &nb), 0);
    assert_web_through_daemonset(&nb);
    name_bound_fini(&nb);
    naming_free(n);
    cfg_free(cfg);
}
END_TEST

/* ---- shared mode: a worker's naming fed by the master's name service (namesvc.h). */

START_TEST(test_k8s_shared_worker_binds_as_the_master)
{
    struct naming_pair pair;
    struct cfg *cfg;
    struct naming *w;
    struct name_bound nb;
    char err[256];

    cfg = load_web_and_daemonset();
    ck_assert_msg(naming_pair_start(&pair, loop, cfg, err, sizeof(err)) == 0, "%s", err);
    w = pair.worker;

    /* the daemonset transformer's pods and the name both come from the master */
    ck_assert_int_eq(bind_wait(w, "out", "/svc=>/#/io.l5d.k8s/default/http", "/svc/web/x", &nb), 0);
    assert_web_through_daemonset(&nb);
    ck_assert_str_eq(nb.residual, "/x");
    ck_assert_str_eq(nb.eps->e[0].node, "node-a"); /* node names travel */
    name_bound_fini(&nb);
    /* the localnode transformer filters the shared set by the worker's NODE_NAME */
    ck_assert_int_eq(bind_wait(w, "in", "/svc=>/#/io.l5d.k8s/default/http", "/svc/web", &nb), 0);
    ck_assert_uint_eq(nb.eps->n, 2);
    ck_assert(has_addr(nb.eps, "10.1.2.7", 8080));
    name_bound_fini(&nb);
    /* Neg arrives as Neg (an unknown port name) */
    ck_assert_int_eq(bind_wait(w, NULL, "/svc=>/#/io.l5d.k8s/default/grpc", "/svc/web", &nb),
                     -ENOENT);
    /* one list per object, however the worker asked: the master's watches only */
    ck_assert_int_eq(n_lists, 2);

    naming_pair_stop(&pair);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_k8s_localnode_keeps_own_node)
{
    struct cfg *cfg;
    struct naming *n;
    struct name_bound nb;
    char err[256];

    cfg = load_web_and_daemonset();
    n = naming_new(loop, cfg, err, sizeof(err));
    ck_assert_msg(n != NULL, "%s", err);
    ck_assert_int_eq(bind_wait(n, "in", "/svc=>/#/io.l5d.k8s/default/http", "/svc/web", &nb), 0);
    ck_assert_str_eq(nb.id, "/%/io.l5d.k8s.localnode/node-b/#/io.l5d.k8s/default/http/web");
    ck_assert_uint_eq(nb.eps->n, 2);
    ck_assert(has_addr(nb.eps, "10.1.2.7", 8080));
    ck_assert(has_addr(nb.eps, "10.1.2.8", 8080));
    name_bound_fini(&nb);
    naming_free(n);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_k8s_localnode_needs_node_name)
{
    struct cfg *cfg;
    char err[256];

    unsetenv("NODE_NAME");
    cfg = load(k8s_cfg);
    ck_assert_ptr_null(naming_new(loop, cfg, err, sizeof(err)));
    ck_assert_msg(strstr(err, "NODE_NAME") != NULL, "%s", err);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_k8s_subnet_rule_on_request)
{
    static const char yaml[] = "namers:\n"
                               "- kind: io.l5d.k8s\n"
                               "  host: 127.0.0.1\n"
                               "  port: @PORT@\n"
                               "routers:\n"
                               "- protocol: http\n"
                               "  label: out\n"
                               "  interpreter:\n"
                               "    transformers:\n"
                               "    - kind: io.l5d.k8s.daemonset\n"
                               "      namespace: default\n"
                               "      service: l5d24\n"
                               "      port: incoming\n"
                               "      k8sHost: 127.0.0.1\n"
                               "      k8sPort: @PORT@\n"
                               "      match: subnet\n"
                               "  servers: [{port: 0}]\n";
    struct cfg *cfg;
    struct naming *n;
    struct name_bound nb;
    char err[256];

    fake_objects[0][0] = "endpoints/default/web24";
    fake_objects[0][1] = web24_ep;
    fake_objects[1][0] = "endpoints/default/l5d24";
    fake_objects[1][1] = l5d24_ep;
    cfg = load(yaml);
    n = naming_new(loop, cfg, err, sizeof(err));
    ck_assert_msg(n != NULL, "%s", err);
    ck_assert_int_eq(bind_wait(n, "out", "/svc=>/#/io.l5d.k8s/default/http", "/svc/web24", &nb), 0);
    ck_assert_uint_eq(nb.eps->n, 2); /* 1.1.1.55 -> 1.1.1.1, 1.1.2.55 -> 1.1.2.1 */
    ck_assert(has_addr(nb.eps, "1.1.1.1", 4141));
    ck_assert(has_addr(nb.eps, "1.1.2.1", 4141));
    name_bound_fini(&nb);
    naming_free(n);
    cfg_free(cfg);
}
END_TEST

static Suite *
k8s_suite(void)
{
    Suite *s = suite_create("k8s");
    TCase *tc = tcase_create("json");
    TCase *tn = tcase_create("namer_and_transformers");

    tcase_add_test(tc, test_k8s_named_port_on_ready_addresses);
    tcase_add_test(tc, test_k8s_unknown_port_is_neg);
    tcase_add_test(tc, test_k8s_no_subsets_is_empty);
    tcase_add_test(tc, test_k8s_numeric_port_through_target_port);
    tcase_add_test(tc, test_k8s_watch_events);
    tcase_add_test(tc, test_k8s_list_shapes);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(tn, setup, teardown);
    tcase_add_test(tn, test_k8s_namer_binds_endpoints);
    tcase_add_test(tn, test_k8s_daemonset_matches_by_node_name);
    tcase_add_test(tn, test_k8s_shared_worker_binds_as_the_master);
    tcase_add_test(tn, test_k8s_localnode_keeps_own_node);
    tcase_add_test(tn, test_k8s_localnode_needs_node_name);
    tcase_add_test(tn, test_k8s_subnet_rule_on_request);
    suite_add_tcase(s, tn);
    return s;
}

CHECK_MAIN(k8s_suite)

/* proxy/router.c - a router's runtime in one worker: its parsed dtab, how a request is
 * identified (the name it asks for), and the per-name objects (services and clients)
 * that carry stats and, for clients, the load-balanced endpoints.
 *
 * Identifiers (Linkerd's HTTP identifiers, tried in order until one identifies):
 *   io.l5d.header.token  /<dstPrefix>/<header value as one segment>  (default: Host)
 *   io.l5d.methodAndHost /<dstPrefix>/1.1/<METHOD>/<host>[/<uri path>]
 *   io.l5d.path          /<dstPrefix>/<first N path segments>
 *   io.l5d.header        /<dstPrefix><header value, which must be a path>
 *   io.l5d.static        /<dstPrefix><path> */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cfg.h"
#include "common/stats.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "proxy/dtab.h"
#include "proxy/proxy.h"

#define ROUTER_MAX_SERVICES 1000 /* logical names with their own stats, per router */

void
scope_stats_init(struct scope_stats *s, struct stats_region *r, const char *prefix)
{
    char name[STATS_NAME_MAX];

    snprintf(name, sizeof(name), "%s/requests", prefix);
    s->requests = stats_counter(r, name);
    snprintf(name, sizeof(name), "%s/success", prefix);
    s->success = stats_counter(r, name);
    snprintf(name, sizeof(name), "%s/failures", prefix);
    s->failures = stats_counter(r, name);
    snprintf(name, sizeof(name), "%s/pending", prefix);
    s->pending = stats_gauge(r, name);
    snprintf(name, sizeof(name), "%s/request_latency_ms", prefix);
    s->latency = stats_histogram(r, name);
}

int
router_init(struct router *r, struct worker *w, const struct cfg_router *cfg, char *err,
            size_t errlen)
{
    struct dtab_err derr;

    memset(r, 0, sizeof(*r));
    r->cfg = cfg;
    r->worker = w;
    list_init(&r->services);
    list_init(&r->clients);
    snprintf(r->via, sizeof(r->via), "1.1 meshd");
    r->dtab = dtab_parse(cfg->dtab ? cfg->dtab : "", cfg->dtab ? strlen(cfg->dtab) : 0, &derr);
    if (r->dtab == NULL) {
        snprintf(err, errlen, "router %s: dtab: %s", cfg->label, derr.msg);
        return -EINVAL;
    }
    return 0;
}

void
router_fini(struct router *r)
{
    struct list *pos, *tmp;

    list_for_each_safe(pos, tmp, &r->services) {
        list_remove(pos);
        free(list_entry(pos, struct service, link));
    }
    list_for_each_safe(pos, tmp, &r->clients) {
        struct client *c = list_entry(pos, struct client, link);

        list_remove(pos);
        upstream_client_fini(c);
        free(c);
    }
    r->dtab = dtab_free(r->dtab);
}

/* Appends "/<prefix>" to <sb>, the router's dstPrefix (which is a path, or "/"). */
static void
add_prefix(struct strbuf *sb, const struct router *r)
{
    const char *p = r->cfg->dst_prefix ? r->cfg->dst_prefix : "/svc";

    if (strcmp(p, "/") != 0)
        strbuf_adds(sb, p);
}

static const struct http1_header *
find_header(const struct http1_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (util_strcaseeq(req->headers[i].name, req->headers[i].name_len, name))
            return &req->headers[i];
    return NULL;
}

/* Appends the segments of the URI path (up to '?'), at most <max> of them (0 = all).
 * Returns the number added. */
static unsigned
add_uri_segments(struct strbuf *sb, const char *uri, size_t len, unsigned max)
{
    unsigned n = 0;
    size_t i = 0;

    while (i < len && uri[i] != '?' && uri[i] != '#') {
        size_t start;

        while (i < len && uri[i] == '/')
            i++;
        start = i;
        while (i < len && uri[i] != '/' && uri[i] != '?' && uri[i] != '#')
            i++;
        if (i > start) {
            if (max && n == max)
                break;
            dtab_path_add_label(sb, uri + start, i - start);
            n++;
        }
    }
    return n;
}

static int
identify_one(const struct router *r, const struct cfg_identifier *id, const struct ident_input *in,
             struct strbuf *sb, char *why, size_t whylen)
{
    const struct http1_header *h;

    strbuf_reset(sb);
    add_prefix(sb, r);
    switch (id->kind) {
    case CFG_ID_HEADER_TOKEN:
        if (id->header == NULL || strcasecmp(id->header, "host") == 0) {
            if (in->host == NULL || in->host_len == 0) {
                snprintf(why, whylen, "no Host header");
                return -ENOENT;
            }
            dtab_path_add_label(sb, in->host, in->host_len);
            return 0;
        }
        h = find_header(in->req, id->header);
        if (h == NULL || h->value_len == 0) {
            snprintf(why, whylen, "no %s header", id->header);
            return -ENOENT;
        }
        dtab_path_add_label(sb, h->value, h->value_len);
        return 0;
    case CFG_ID_METHOD_AND_HOST:
        strbuf_adds(sb, in->req->minor_version == 0 ? "/1.0" : "/1.1");
        dtab_path_add_label(sb, in->req->method, in->req->method_len);
        if (in->req->minor_version == 1) {
            char host[256];
            size_t n = MESH_MIN(in->host_len, sizeof(host));

            if (in->host == NULL || in->host_len == 0) {
                snprintf(why, whylen, "no Host header");
                return -ENOENT;
            }
            for (size_t i = 0; i < n; i++)
                host[i] = (char) (in->host[i] >= 'A' && in->host[i] <= 'Z' ? in->host[i] + 32
                                                                           : in->host[i]);
            dtab_path_add_label(sb, host, n);
        }
        if (id->uri_in_dst)
            (void) add_uri_segments(sb, in->uri, in->uri_len, 0);
        return 0;
    case CFG_ID_PATH: {
        unsigned want = id->segments ? id->segments : 1;

        if (add_uri_segments(sb, in->uri, in->uri_len, want) < want) {
            snprintf(why, whylen, "path has fewer than %u segments", want);
            return -ENOENT;
        }
        return 0;
    }
    case CFG_ID_HEADER:
        h = find_header(in->req, id->header ? id->header : "l5d-name");
        if (h == NULL || !dtab_path_valid(h->value, h->value_len) || h->value_len == 0) {
            snprintf(why, whylen, "%s header missing or not a path",
                     id->header ? id->header : "l5d-name");
            return -ENOENT;
        }
        if (!(h->value_len == 1 && h->value[0] == '/'))
            strbuf_add(sb, h->value, h->value_len);
        return 0;
    case CFG_ID_STATIC:
        if (id->path && strcmp(id->path, "/") != 0)
            strbuf_adds(sb, id->path);
        return 0;
    }
    snprintf(why, whylen, "unknown identifier");
    return -ENOENT;
}

int
router_identify(const struct router *r, const struct ident_input *in, char *ret_path,
                size_t pathlen, char *why, size_t whylen)
{
    struct strbuf sb = STRBUF_INIT;
    char reason[200] = "";
    int rc = -ENOENT;

    for (size_t i = 0; i < r->cfg->n_identifiers; i++) {
        rc = identify_one(r, &r->cfg->identifiers[i], in, &sb, reason, sizeof(reason));
        if (rc == 0)
            break;
    }
    if (r->cfg->n_identifiers == 0) {
        struct cfg_identifier def = {.kind = CFG_ID_HEADER_TOKEN};

        rc = identify_one(r, &def, in, &sb, reason, sizeof(reason));
    }
    if (rc == 0 && sb.len >= pathlen) {
        snprintf(reason, sizeof(reason), "name too long");
        rc = -ENOENT;
    }
    if (rc == 0) {
        if (sb.len == 0)
            strbuf_addc(&sb, '/');
        memcpy(ret_path, sb.s, sb.len + 1);
    } else {
        snprintf(why, whylen, "Unknown destination: %s", reason);
    }
    strbuf_fini(&sb);
    return rc;
}

/* Metric scope elements drop the path's leading slash, as Linkerd's do. */
static const char *
scope_name(const char *path)
{
    return path[0] == '/' ? path + 1 : path;
}

struct service *
router_service(struct router *r, const char *name)
{
    struct list *pos, *tmp;
    struct service *s;
    char prefix[STATS_NAME_MAX];

    list_for_each_safe(pos, tmp, &r->services) {
        s = list_entry(pos, struct service, link);
        if (strcmp(s->name, name) == 0) {
            if (pos != r->services.next) { /* most recently used first */
                list_remove(pos);
                list_insert_head(&r->services, pos);
            }
            return s;
        }
    }
    /* Names come from requests (Host headers): bound how many get their own stats, or
     * a client sending random hosts would grow the worker without limit. */
    if (r->n_services >= ROUTER_MAX_SERVICES)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    r->n_services++;
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(prefix, sizeof(prefix), "rt/%s/service/%s", r->cfg->label, scope_name(name));
    scope_stats_init(&s->stats, r->worker->stats, prefix);
    list_insert_head(&r->services, &s->link);
    return s;
}

struct client *
router_client(struct router *r, const struct name_bound *b)
{
    struct list *pos, *tmp;
    struct client *c = NULL;
    char prefix[STATS_NAME_MAX], name[STATS_NAME_MAX];

    list_for_each_safe(pos, tmp, &r->clients) {
        struct client *x = list_entry(pos, struct client, link);

        if (strcmp(x->id, b->id) == 0) {
            c = x;
            if (pos != r->clients.next) {
                list_remove(pos);
                list_insert_head(&r->clients, pos);
            }
            break;
        }
    }
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL)
            return NULL;
        c->router = r;
        snprintf(c->id, sizeof(c->id), "%s", b->id);
        snprintf(prefix, sizeof(prefix), "rt/%s/client/%s", r->cfg->label, scope_name(b->id));
        snprintf(c->stats_prefix, sizeof(c->stats_prefix), "%s", prefix);
        scope_stats_init(&c->stats, r->worker->stats, prefix);
        snprintf(name, sizeof(name), "%s/connections", prefix);
        c->connections = stats_gauge(r->worker->stats, name);
        snprintf(name, sizeof(name), "%s/failure_accrual/removals", prefix);
        c->fa_removals = stats_counter(r->worker->stats, name);
        snprintf(name, sizeof(name), "%s/failure_accrual/revivals", prefix);
        c->fa_revivals = stats_counter(r->worker->stats, name);
        snprintf(name, sizeof(name), "%s/loadbalancer/size", prefix);
        c->lb_size = stats_gauge(r->worker->stats, name);
        snprintf(name, sizeof(name), "%s/loadbalancer/available", prefix);
        c->lb_available = stats_gauge(r->worker->stats, name);
        snprintf(name, sizeof(name), "%s/failure_accrual/removed", prefix);
        c->fa_removed = stats_gauge(r->worker->stats, name);
        for (int k = 1; k <= 5; k++) {
            snprintf(name, sizeof(name), "%s/status/%dXX", prefix, k);
            c->status_class[k] = stats_counter(r->worker->stats, name);
        }
        list_insert_head(&r->clients, &c->link);
    }
    if (b->eps && upstream_sync_endpoints(c, b->eps) != 0)
        return NULL;
    return c;
}

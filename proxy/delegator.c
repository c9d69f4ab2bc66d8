/* proxy/delegator.c - /delegator.json and /delegator (see delegator.h).
 *
 * delegator_json() runs naming_delegate() and turns its trace, a depth-first sequence of
 * begin/end steps (dtab.h), into Linkerd's DelegateTree JSON with a stack of frames: a
 * begin pushes a frame, the matching end pops it, builds its node from the children the
 * frame collected and hands the node to the frame below. How steps become nodes:
 *
 *   PATH p with dentry children  {"type":"delegate","path":p,"delegate":child}, or with
 *                                several matching dentries child = {"type":"alt",...}
 *   PATH p whose namer answered  the namer's node itself (leaf, neg, fail, empty, or for
 *                                a rewriting namer {"type":"delegate","rewrite":new path,
 *                                "delegate":<the new path's node>})
 *   PATH p, nothing matched      {"type":"neg","path":p}
 *   DENTRY d                     its tree's node, with "dentry": {"prefix","dst"}
 *   ALT, UNION (BRANCH w)        {"type":"alt","alt":[...]}, {"type":"union",
 *                                "union":[{"weight":w,"tree":...}]}
 *   LITERAL ~ ! $                neg, fail, empty
 *   EXCEPTION                    {"type":"exception","message":...}
 * A leaf that router transformers rewrite is wrapped in one {"type":"transformation",
 * "name", "bound", "tree"} per transformer, outermost last. Nodes that did not decide the
 * result (alternatives after the one taken, shadowed dentries) carry "unused": true.
 *
 * delegator_admin() answers from the master's naming of the current generation
 * (proxy/namesvc.c), the one the workers' names come from. */
#include "proxy/delegator.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "proxy/admin.h"
#include "proxy/dtab.h"
#include "proxy/naming.h"

#define DELEGATOR_MAX_DEPTH 512 /* frames: 100 delegations, each a few nested steps */

struct frame {
    enum dtab_trace_kind kind; /* the BEGIN step that pushed it (BIND for a rewrite) */
    char *path;                /* the path being delegated here */
    json_object *kids;         /* array of child nodes */
    json_object *dentry;       /* DENTRY: {"prefix","dst"} */
    json_object *node;         /* REWRITE: the delegate node waiting for its child */
    double weight;             /* BRANCH */
    bool from_dentries;        /* PATH: its children are the trees of matching dentries */
};

struct builder {
    struct frame stack[DELEGATOR_MAX_DEPTH];
    size_t depth;
    json_object *root;
    bool overflow;
};

/* ---- nodes ------------------------------------------------------------------------------ */

static json_object *
node_new(const char *type, const char *path)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "type", json_object_new_string(type));
    if (path != NULL)
        json_object_object_add(o, "path", json_object_new_string(path));
    return o;
}

static const char *
result_type(enum dtab_result_kind k)
{
    switch (k) {
    case DTAB_RES_NEG:
        return "neg";
    case DTAB_RES_FAIL:
        return "fail";
    case DTAB_RES_EMPTY:
        return "empty";
    case DTAB_RES_LEAF:
        return "leaf";
    case DTAB_RES_UNION:
        return "union";
    }
    return "neg";
}

static json_object *
addr_json(const struct endpoint_set *eps, const char *state)
{
    json_object *addr = json_object_new_object(), *addrs, *meta = json_object_new_object();
    size_t i;

    if (state != NULL && state[0] != '\0')
        json_object_object_add(meta, "state", json_object_new_string(state));
    if (eps == NULL) {
        json_object_object_add(addr, "type", json_object_new_string("pending"));
        json_object_object_add(addr, "meta", meta);
        return addr;
    }
    json_object_object_add(addr, "type", json_object_new_string("bound"));
    addrs = json_object_new_array();
    for (i = 0; i < eps->n; i++) {
        const struct endpoint *e = &eps->e[i];
        json_object *a = json_object_new_object(), *am = json_object_new_object();
        char ip[INET6_ADDRSTRLEN] = "";
        unsigned port = 0;

        if (e->addr.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *) &e->addr;

            (void) inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
            port = ntohs(in->sin_port);
        } else if (e->addr.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &e->addr;

            (void) inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
            port = ntohs(in6->sin6_port);
        }
        json_object_object_add(a, "ip", json_object_new_string(ip));
        json_object_object_add(a, "port", json_object_new_int((int) port));
        if (e->weight != 1.0)
            json_object_object_add(am, "endpoint_addr_weight", json_object_new_double(e->weight));
        if (e->node != NULL)
            json_object_object_add(am, "nodeName", json_object_new_string(e->node));
        json_object_object_add(a, "meta", am);
        json_object_array_add(addrs, a);
    }
    json_object_object_add(addr, "addrs", addrs);
    json_object_object_add(addr, "meta", meta);
    return addr;
}

static json_object *
bound_json(const struct endpoint_set *eps, const char *state, const char *id, const char *residual)
{
    json_object *b = json_object_new_object();

    json_object_object_add(b, "addr", addr_json(eps, state));
    json_object_object_add(b, "id", json_object_new_string(id));
    json_object_object_add(b, "path", json_object_new_string(residual));
    return b;
}

/* ---- the builder ------------------------------------------------------------------------ */

static struct frame *
top(struct builder *b)
{
    return b->depth > 0 ? &b->stack[b->depth - 1] : NULL;
}

static const char *
cur_path(struct builder *b)
{
    struct frame *f = top(b);

    return f != NULL ? f->path : NULL;
}

static void
add_node(struct builder *b, json_object *node, bool unused)
{
    struct frame *f = top(b);

    if (unused)
        json_object_object_add(node, "unused", json_object_new_boolean(true));
    if (f == NULL) {
        json_object_put(b->root);
        b->root = node;
        return;
    }
    json_object_array_add(f->kids, node);
}

static struct frame *
push(struct builder *b, enum dtab_trace_kind kind, const char *path)
{
    struct frame *f;
    const char *inherited = cur_path(b);

    if (b->depth == DELEGATOR_MAX_DEPTH) {
        b->overflow = true;
        return NULL;
    }
    f = &b->stack[b->depth++];
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    f->path = path != NULL ? xstrdup(path) : inherited != NULL ? xstrdup(inherited) : NULL;
    f->kids = json_object_new_array();
    return f;
}

static void
frame_drop(struct frame *f)
{
    free(f->path);
    json_object_put(f->kids);
    json_object_put(f->dentry);
    json_object_put(f->node);
    memset(f, 0, sizeof(*f));
}

/* The <i>th child, referenced. */
static json_object *
kid(struct frame *f, size_t i)
{
    return json_object_get(json_object_array_get_idx(f->kids, i));
}

static json_object *
pop_path(struct frame *f, const struct dtab_trace_ev *ev)
{
    size_t n = json_object_array_length(f->kids), i;
    json_object *node, *alt;

    if (n == 0) {
        node = node_new("neg", f->path);
        if (ev->pending)
            json_object_object_add(node, "pending", json_object_new_boolean(true));
        return node;
    }
    if (!f->from_dentries)
        return kid(f, 0); /* the namer's own node */
    node = node_new("delegate", f->path);
    if (n == 1) {
        json_object_object_add(node, "delegate", kid(f, 0));
        return node;
    }
    alt = node_new("alt", f->path);
    json_object_object_add(alt, "alt", json_object_new_array());
    for (i = 0; i < n; i++)
        json_object_array_add(json_object_object_get(alt, "alt"), kid(f, i));
    json_object_object_add(node, "delegate", alt);
    return node;
}

static json_object *
pop_node(struct frame *f, const struct dtab_trace_ev *ev)
{
    size_t n = json_object_array_length(f->kids), i;
    json_object *node, *arr;

    switch (ev->kind) {
    case DTAB_TRACE_PATH_END:
        return pop_path(f, ev);
    case DTAB_TRACE_DENTRY_END:
        node = n > 0 ? kid(f, 0) : node_new("neg", f->path);
        json_object_object_add(node, "dentry", json_object_get(f->dentry));
        return node;
    case DTAB_TRACE_ALT_END:
        node = node_new("alt", f->path);
        arr = json_object_new_array();
        for (i = 0; i < n; i++)
            json_object_array_add(arr, kid(f, i));
        json_object_object_add(node, "alt", arr);
        return node;
    case DTAB_TRACE_UNION_END:
        node = node_new("union", f->path);
        arr = json_object_new_array();
        for (i = 0; i < n; i++)
            json_object_array_add(arr, kid(f, i));
        json_object_object_add(node, "union", arr);
        return node;
    case DTAB_TRACE_BRANCH_END:
        node = json_object_new_object();
        json_object_object_add(node, "weight", json_object_new_double(f->weight));
        json_object_object_add(node, "tree", n > 0 ? kid(f, 0) : node_new("neg", f->path));
        return node;
    case DTAB_TRACE_REWRITE_END:
        node = json_object_get(f->node);
        json_object_object_add(node, "delegate", n > 0 ? kid(f, 0) : node_new("neg", NULL));
        return node;
    default:
        return node_new("exception", f->path);
    }
}

static json_object *
bind_node(const struct dtab_trace_ev *ev, const struct naming_leaf_info *leaf)
{
    const struct dtab_bind *bd = ev->bind;
    json_object *node;
    size_t k;

    switch (bd->kind) {
    case DTAB_BIND_BOUND:
        node = node_new("leaf", ev->path);
        json_object_object_add(
            node, "bound",
            bound_json(leaf ? leaf->eps : NULL, leaf ? leaf->state : NULL, bd->id, bd->residual));
        for (k = 0; leaf != NULL && k < leaf->n_xforms; k++) {
            json_object *t = node_new("transformation", ev->path);

            json_object_object_add(t, "name", json_object_new_string(leaf->xforms[k].name));
            json_object_object_add(t, "bound",
                                   bound_json(leaf->xforms[k].eps, leaf->xforms[k].state,
                                              leaf->xforms[k].id, bd->residual));
            json_object_object_add(t, "tree", node);
            node = t;
        }
        return node;
    case DTAB_BIND_PENDING:
        node = node_new("leaf", ev->path);
        json_object_object_add(node, "bound",
                               bound_json(NULL,
                                          leaf != NULL && leaf->state != NULL && leaf->state[0]
                                              ? leaf->state
                                              : "waiting for the namer to answer",
                                          ev->path, ""));
        return node;
    case DTAB_BIND_FAIL:
        node = node_new("fail", ev->path);
        json_object_object_add(node, "message", json_object_new_string(ev->reason));
        return node;
    case DTAB_BIND_EMPTY:
        return node_new("empty", ev->path);
    case DTAB_BIND_NEG:
    case DTAB_BIND_REWRITE:
        break;
    }
    return node_new("neg", ev->path);
}

static void
on_step(void *ctx, const struct dtab_trace_ev *ev, const struct naming_leaf_info *leaf)
{
    struct builder *b = ctx;
    struct frame *f;
    json_object *node;

    if (b->overflow)
        return;
    switch (ev->kind) {
    case DTAB_TRACE_PATH_BEGIN:
    case DTAB_TRACE_ALT_BEGIN:
    case DTAB_TRACE_UNION_BEGIN:
        (void) push(b, ev->kind, ev->path);
        return;
    case DTAB_TRACE_DENTRY_BEGIN:
        f = push(b, ev->kind, ev->path);
        if (f != NULL) {
            f->dentry = json_object_new_object();
            json_object_object_add(f->dentry, "prefix", json_object_new_string(ev->prefix));
            json_object_object_add(f->dentry, "dst", json_object_new_string(ev->dst));
        }
        return;
    case DTAB_TRACE_BRANCH_BEGIN:
        f = push(b, ev->kind, NULL);
        if (f != NULL)
            f->weight = ev->weight;
        return;
    case DTAB_TRACE_BIND:
        if (ev->bind->kind == DTAB_BIND_REWRITE) {
            f = push(b, ev->kind, ev->path);
            if (f == NULL)
                return;
            f->node = node_new("delegate", ev->path);
            json_object_object_add(f->node, "rewrite", json_object_new_string(ev->bind->path));
            return;
        }
        add_node(b, bind_node(ev, leaf), ev->unused);
        return;
    case DTAB_TRACE_LITERAL:
        node = node_new(result_type(ev->result), cur_path(b));
        add_node(b, node, ev->unused);
        return;
    case DTAB_TRACE_EXCEPTION:
        node = node_new("exception", cur_path(b));
        json_object_object_add(node, "message", json_object_new_string(ev->reason));
        add_node(b, node, ev->unused);
        return;
    case DTAB_TRACE_PATH_END:
    case DTAB_TRACE_DENTRY_END:
    case DTAB_TRACE_ALT_END:
    case DTAB_TRACE_UNION_END:
    case DTAB_TRACE_BRANCH_END:
    case DTAB_TRACE_REWRITE_END:
        f = top(b);
        if (f == NULL)
            return;
        node = pop_node(f, ev);
        frame_drop(f);
        b->depth--;
        if (ev->kind == DTAB_TRACE_DENTRY_END && top(b) != NULL)
            top(b)->from_dentries = true;
        /* a branch entry is not a node: it only wraps one */
        add_node(b, node, ev->unused && ev->kind != DTAB_TRACE_BRANCH_END);
        return;
    }
}

/* ---- delegator_json --------------------------------------------------------------------- */

static const struct cfg_router *
find_router(const struct cfg *cfg, const char *label)
{
    size_t i;

    if (cfg == NULL || cfg->n_routers == 0)
        return NULL;
    if (label == NULL || label[0] == '\0')
        return &cfg->routers[0];
    for (i = 0; i < cfg->n_routers; i++)
        if (cfg->routers[i].label != NULL && strcmp(cfg->routers[i].label, label) == 0)
            return &cfg->routers[i];
    return NULL;
}

int
delegator_json(struct naming *n, const struct cfg *cfg, const char *router, const char *local_dtab,
               const char *path, struct strbuf *out)
{
    const struct cfg_router *r = find_router(cfg, router);
    struct dtab *base = NULL, *local = NULL, *full = NULL;
    struct builder *b = NULL;
    struct dtab_result res;
    struct dtab_err err;
    int status = 200, rc;

    if (r == NULL && cfg != NULL && cfg->n_routers > 0) {
        strbuf_addf(out, "no router labelled \"%s\"\n", router);
        return 404;
    }
    if (path == NULL || !dtab_path_valid(path, strlen(path))) {
        strbuf_addf(out, "path: \"%s\" is not a path like /svc/name\n", path ? path : "");
        return 400;
    }
    base = dtab_parse(r != NULL && r->dtab != NULL ? r->dtab : "",
                      r != NULL && r->dtab != NULL ? strlen(r->dtab) : 0, &err);
    if (base == NULL) {
        strbuf_addf(out, "router dtab: %s\n", err.msg);
        return 400;
    }
    if (local_dtab != NULL && local_dtab[0] != '\0') {
        local = dtab_parse(local_dtab, strlen(local_dtab), &err);
        if (local == NULL) {
            strbuf_addf(out, "dtab: %s\n", err.msg);
            status = 400;
            goto out;
        }
    }
    full = dtab_concat(base, local);
    b = xcalloc(1, sizeof(*b));
    rc =
        naming_delegate(n, r != NULL ? r->label : NULL, full, path, strlen(path), on_step, b, &res);
    if (rc < 0) {
        strbuf_addf(out, "cannot evaluate %s: %s\n", path, strerror(-rc));
        status = rc == -EINVAL ? 400 : 500;
        goto out;
    }
    dtab_result_fini(&res);
    if (b->overflow || b->root == NULL) {
        strbuf_adds(out, "the delegation tree is too deep to show\n");
        status = 500;
        goto out;
    }
    strbuf_adds(out, json_object_to_json_string_ext(b->root, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    strbuf_addc(out, '\n');

out:
    if (b != NULL) {
        while (b->depth > 0)
            frame_drop(&b->stack[--b->depth]);
        json_object_put(b->root);
        free(b);
    }
    dtab_free(full);
    dtab_free(local);
    dtab_free(base);
    return status;
}

/* ---- the admin routes ------------------------------------------------------------------- */

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The percent-decoded value of <key> in the query, malloc'd; NULL when absent. */
static char *
query_get(const struct admin_request *req, const char *key)
{
    const char *q = req->query, *end = req->query + req->query_len;
    size_t klen = strlen(key);

    while (q < end) {
        const char *amp = memchr(q, '&', (size_t) (end - q)), *v;
        const char *stop = amp != NULL ? amp : end;

        if ((size_t) (stop - q) > klen && memcmp(q, key, klen) == 0 && q[klen] == '=') {
            char *out = xmalloc((size_t) (stop - q) + 1), *w = out;

            for (v = q + klen + 1; v < stop; v++) {
                if (*v == '+') {
                    *w++ = ' ';
                } else if (*v == '%' && stop - v >= 3 && hexval((unsigned char) v[1]) >= 0 &&
                           hexval((unsigned char) v[2]) >= 0) {
                    *w++ =
                        (char) (hexval((unsigned char) v[1]) * 16 + hexval((unsigned char) v[2]));
                    v += 2;
                } else {
                    *w++ = *v;
                }
            }
            *w = '\0';
            return out;
        }
        q = stop + 1;
    }
    return NULL;
}

static char *
body_get(json_object *o, const char *key)
{
    json_object *v;

    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return xstrdup(json_object_get_string(v));
}

static const char delegator_page[] =
    "<!doctype html>\n"
    "<html><head><meta charset=\"utf-8\"><title>meshd delegator</title>\n"
    "<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em}\n"
    "textarea,input,select{font:13px monospace;width:100%;box-sizing:border-box}\n"
    "ul{list-style:none;padding-left:1.4em;border-left:1px solid #ccc;margin:.2em 0}\n"
    "li{margin:.2em 0}.t{font-weight:bold}.neg,.fail,.exception{color:#b00}\n"
    ".leaf{color:#070}.unused{opacity:.45}.d{color:#555}code{background:#f4f4f4}\n"
    "</style></head><body>\n"
    "<h1>Delegator</h1>\n"
    "<p>How a path resolves through a router's dtab, with extra dentries appended as an "
    "<code>l5d-dtab</code> header would.</p>\n"
    "<label>Router <select id=\"router\"></select></label>\n"
    "<label>Path <input id=\"path\" value=\"/svc/\"></label>\n"
    "<label>Extra dentries <textarea id=\"dtab\" rows=\"3\" "
    "placeholder=\"/svc/web => /#/io.l5d.k8s/default/http/web-v2;\"></textarea></label>\n"
    "<p><button id=\"go\">Resolve</button> <span id=\"msg\"></span></p>\n"
    "<div id=\"tree\"></div>\n"
    "<script>\n"
    "var ROUTERS = __ROUTERS__;\n"
    "var sel = document.getElementById('router');\n"
    "ROUTERS.forEach(function (r) { var o = document.createElement('option');"
    " o.textContent = r.label; o.title = r.dtab; sel.appendChild(o); });\n"
    "function el(tag, cls, text) { var e = document.createElement(tag);"
    " if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }\n"
    "function addrs(b) { if (!b || !b.addr) return ''; var a = b.addr;"
    " if (a.type !== 'bound') return ' [' + a.type + (a.meta && a.meta.state ? ': ' +"
    " a.meta.state : '') + ']';"
    " return ' -> ' + (a.addrs.length ? a.addrs.map(function (x) { return x.ip + ':' + x.port +"
    " (x.meta.nodeName ? ' (' + x.meta.nodeName + ')' : ''); }).join(', ') : 'no addresses') +"
    " (a.meta && a.meta.state ? ' [' + a.meta.state + ']' : ''); }\n"
    "var pending = false;\n"
    "function render(n) { var li = el('li', n.unused ? 'unused' : '');"
    " li.appendChild(el('span', 't ' + n.type, n.type));"
    " if (n.weight !== undefined) li.appendChild(el('span', 'd', ' ' + n.weight + ' *'));"
    " li.appendChild(el('span', '', ' ' + (n.path || '')));"
    " if (n.dentry) li.appendChild(el('span', 'd', '  via ' + n.dentry.prefix + ' => ' +"
    " n.dentry.dst));"
    " if (n.name) li.appendChild(el('span', 'd', ' ' + n.name));"
    " if (n.bound) { li.appendChild(el('div', 'leaf', n.bound.id + (n.bound.path ? ' residual ' +"
    " n.bound.path : '') + addrs(n.bound))); if (n.bound.addr.type === 'pending') pending ="
    " true; }"
    " if (n.message) li.appendChild(el('div', n.type, n.message));"
    " var kids = n.delegate ? [n.delegate] : n.alt ? n.alt : n.tree ? [n.tree] : n.union ?"
    " n.union.map(function (u) { var t = Object.assign({}, u.tree); t.weight = u.weight; return"
    " t; }) : [];"
    " if (kids.length) { var ul = el('ul'); kids.forEach(function (k) {"
    " ul.appendChild(render(k)); }); li.appendChild(ul); } return li; }\n"
    "function go(tries) { var q = 'namespace=' + encodeURIComponent(sel.value) + '&path=' +"
    " encodeURIComponent(document.getElementById('path').value) + '&dtab=' +"
    " encodeURIComponent(document.getElementById('dtab').value);"
    " var msg = document.getElementById('msg'); msg.textContent = 'resolving...';"
    " fetch('delegator.json?' + q).then(function (r) { return r.text().then(function (t) {"
    " return {ok: r.ok, t: t}; }); }).then(function (r) { var tree ="
    " document.getElementById('tree'); tree.textContent = ''; if (!r.ok) { msg.textContent ="
    " r.t; return; } pending = false; var ul = el('ul'); ul.appendChild(render(JSON.parse(r.t)));"
    " tree.appendChild(ul); msg.textContent = pending ? 'some names are still resolving...' :"
    " ''; if (pending && tries < 10) setTimeout(function () { go(tries + 1); }, 500); })"
    " .catch(function (e) { msg.textContent = String(e); }); }\n"
    "document.getElementById('go').onclick = function () { go(0); };\n"
    "</script></body></html>\n";

static void
page(const struct cfg *cfg, struct strbuf *out)
{
    const char *mark = strstr(delegator_page, "__ROUTERS__");
    json_object *routers = json_object_new_array();
    size_t i;

    for (i = 0; cfg != NULL && i < cfg->n_routers; i++) {
        json_object *r = json_object_new_object();

        json_object_object_add(
            r, "label", json_object_new_string(cfg->routers[i].label ? cfg->routers[i].label : ""));
        json_object_object_add(
            r, "dtab", json_object_new_string(cfg->routers[i].dtab ? cfg->routers[i].dtab : ""));
        json_object_array_add(routers, r);
    }
    strbuf_add(out, delegator_page, (size_t) (mark - delegator_page));
    /* "</" escaped so that a dtab cannot end the script element */
    for (const char *s = json_object_to_json_string_ext(routers, JSON_C_TO_STRING_PLAIN); *s; s++) {
        if (s[0] == '<' && s[1] == '/')
            strbuf_adds(out, "<\\");
        else
            strbuf_addc(out, *s);
    }
    strbuf_adds(out, mark + strlen("__ROUTERS__"));
    json_object_put(routers);
}

static bool
req_path_is(const struct admin_request *req, const char *p)
{
    return req->path_len == strlen(p) && memcmp(req->path, p, req->path_len) == 0;
}

static bool
method_is(const struct admin_request *req, const char *m)
{
    return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

bool
delegator_admin(struct naming *n, const char *naming_err, const struct cfg *cfg,
                const struct admin_request *req, struct admin_response *rsp)
{
    bool get = method_is(req, "GET") || method_is(req, "HEAD");
    char *path = NULL, *dtab = NULL, *router = NULL;

    if (req_path_is(req, "/delegator")) {
        if (!get) {
            rsp->status = 405;
            rsp->extra_headers = "Allow: GET, HEAD\r\n";
            strbuf_adds(&rsp->body, "method not allowed\n");
            return true;
        }
        rsp->content_type = "text/html; charset=utf-8";
        page(cfg, &rsp->body);
        return true;
    }
    if (!req_path_is(req, "/delegator.json"))
        return false;

    if (get) {
        path = query_get(req, "path");
        dtab = query_get(req, "dtab");
        router = query_get(req, "namespace");
        if (router == NULL)
            router = query_get(req, "router");
    } else if (method_is(req, "POST")) {
        json_object *o = NULL;
        struct json_tokener *tok = json_tokener_new();

        if (tok != NULL && req->body_len < (1u << 20))
            o = json_tokener_parse_ex(tok, req->body, (int) req->body_len);
        if (o == NULL || !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            json_tokener_free(tok);
            rsp->status = 400;
            strbuf_adds(&rsp->body, "expected a JSON object {\"path\", \"dtab\", \"namespace\"}\n");
            return true;
        }
        json_tokener_free(tok);
        path = body_get(o, "path");
        dtab = body_get(o, "dtab");
        router = body_get(o, "namespace");
        if (router == NULL)
            router = body_get(o, "router");
        json_object_put(o);
    } else {
        rsp->status = 405;
        rsp->extra_headers = "Allow: GET, HEAD, POST\r\n";
        strbuf_adds(&rsp->body, "method not allowed\n");
        return true;
    }

    if (n == NULL) {
        rsp->status = 500;
        strbuf_addf(&rsp->body, "naming: %s\n", naming_err != NULL ? naming_err : "unavailable");
        goto out;
    }
    rsp->status = delegator_json(n, cfg, router, dtab, path, &rsp->body);
    if (rsp->status == 200)
        rsp->content_type = "application/json";

out:
    free(path);
    free(dtab);
    free(router);
    return true;
}

/* tests/unit/test_delegator.c - the delegation tree of /delegator.json, built from a traced
 * evaluation with the built-in namers (IP literals only: nothing leaves the process). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <json-c/json.h>

#include "common/cfg.h"
#include "common/strbuf.h"
#include "proxy/admin.h"
#include "proxy/delegator.h"
#include "proxy/naming.h"
#include "tests/lib/check_main.h"

static struct ev_loop *loop;
static struct cfg *cfg;
static struct naming *nm;

static const char yaml[] = "routers:\n"
                           "- protocol: http\n"
                           "  label: out\n"
                           "  dtab: |\n"
                           "    /svc => /$/inet/127.0.0.1/9;\n"
                           "    /svc/web => 3 * /$/inet/127.0.0.1/8081 & /$/inet/127.0.0.1/8082;\n"
                           "    /svc/alt => /svc/nothing | /svc/web;\n"
                           "    /svc/nothing => ~;\n"
                           "    /svc/rw => /$/io.buoyant.hostportPfx/h/127.0.0.1:7;\n"
                           "    /h => /$/inet;\n"
                           "    /loop => /loop/x;\n"
                           "  servers: [{port: 0}]\n"
                           "- protocol: http\n"
                           "  label: in\n"
                           "  dtab: /svc => /$/inet/127.0.0.1/10\n"
                           "  servers: [{port: 0}]\n";

static void
setup(void)
{
    struct cfg_err err;
    char why[256];

    loop = ev_loop_new(EVFLAG_AUTO);
    cfg = cfg_parse(yaml, strlen(yaml), NULL, &err);
    ck_assert_msg(cfg != NULL, "%s", err.text);
    nm = naming_new(loop, cfg, why, sizeof(why));
    ck_assert_msg(nm != NULL, "%s", why);
}

static void
teardown(void)
{
    naming_free(nm);
    cfg_free(cfg);
    ev_loop_destroy(loop);
}

/* The tree for <path> (with <dtab> appended to router <router>), parsed. */
static json_object *
tree(const char *router, const char *dtab, const char *path)
{
    struct strbuf out = STRBUF_INIT;
    struct json_tokener *tok;
    json_object *o;
    int st = delegator_json(nm, cfg, router, dtab, path, &out);

    ck_assert_msg(st == 200, "%d: %s", st, strbuf_str(&out));
    tok = json_tokener_new_ex(1000); /* deeper than json-c's default 32: 100 delegations */
    o = json_tokener_parse_ex(tok, strbuf_str(&out), (int) out.len);
    json_tokener_free(tok);
    ck_assert_msg(o != NULL, "not JSON: %.300s", strbuf_str(&out));
    strbuf_fini(&out);
    return o;
}

static json_object *
get(json_object *o, const char *key)
{
    json_object *v = NULL;

    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no \"%s\" in %.300s", key,
                  json_object_to_json_string(o));
    return v;
}

static const char *
str(json_object *o, const char *key)
{
    return json_object_get_string(get(o, key));
}

START_TEST(test_delegator_delegate_to_leaf)
{
    json_object *t = tree(NULL, NULL, "/svc/other/x"), *leaf, *bound, *addrs;

    ck_assert_str_eq(str(t, "type"), "delegate");
    ck_assert_str_eq(str(t, "path"), "/svc/other/x");
    leaf = get(t, "delegate");
    ck_assert_str_eq(str(leaf, "type"), "leaf");
    ck_assert_str_eq(str(leaf, "path"), "/$/inet/127.0.0.1/9/other/x");
    ck_assert_str_eq(str(get(leaf, "dentry"), "prefix"), "/svc");
    ck_assert_str_eq(str(get(leaf, "dentry"), "dst"), "/$/inet/127.0.0.1/9");
    bound = get(leaf, "bound");
    ck_assert_str_eq(str(bound, "id"), "/$/inet/127.0.0.1/9");
    ck_assert_str_eq(str(bound, "path"), "/other/x");
    ck_assert_str_eq(str(get(bound, "addr"), "type"), "bound");
    addrs = get(get(bound, "addr"), "addrs");
    ck_assert_int_eq((int) json_object_array_length(addrs), 1);
    ck_assert_str_eq(str(json_object_array_get_idx(addrs, 0), "ip"), "127.0.0.1");
    ck_assert_int_eq(json_object_get_int(get(json_object_array_get_idx(addrs, 0), "port")), 9);
    json_object_put(t);
}
END_TEST

START_TEST(test_delegator_union_with_weights)
{
    json_object *t = tree("out", NULL, "/svc/web"), *d, *u, *b0;

    d = get(t, "delegate"); /* two dentries match: /svc/web (used) and /svc (shadowed) */
    ck_assert_str_eq(str(d, "type"), "alt");
    ck_assert_int_eq((int) json_object_array_length(get(d, "alt")), 2);
    u = json_object_array_get_idx(get(d, "alt"), 0);
    ck_assert_str_eq(str(u, "type"), "union");
    ck_assert_str_eq(str(get(u, "dentry"), "prefix"), "/svc/web");
    ck_assert_str_eq(str(get(u, "dentry"), "dst"),
                     "3*/$/inet/127.0.0.1/8081&/$/inet/127.0.0.1/8082");
    b0 = json_object_array_get_idx(get(u, "union"), 0);
    ck_assert(json_object_get_double(get(b0, "weight")) == 3.0);
    ck_assert_str_eq(str(get(b0, "tree"), "type"), "leaf");
    ck_assert(json_object_get_double(
                  get(json_object_array_get_idx(get(u, "union"), 1), "weight")) == 1.0);
    /* the shadowed dentry is shown, marked unused */
    ck_assert(json_object_get_boolean(get(json_object_array_get_idx(get(d, "alt"), 1), "unused")));
    json_object_put(t);
}
END_TEST

START_TEST(test_delegator_alt_neg_then_union)
{
    json_object *t = tree(NULL, NULL, "/svc/alt"), *d, *alt, *first, *second;

    d = get(t, "delegate");
    alt = json_object_array_get_idx(get(d, "alt"), 0); /* the /svc/alt dentry's tree */
    ck_assert_str_eq(str(alt, "type"), "alt");
    first = json_object_array_get_idx(get(alt, "alt"), 0);
    ck_assert_str_eq(str(first, "path"), "/svc/nothing");
    /* /svc/nothing => ~ wins over /svc for it, and is Neg: the fallback /svc is tried */
    ck_assert_str_eq(str(json_object_array_get_idx(get(get(first, "delegate"), "alt"), 0), "type"),
                     "neg");
    second = json_object_array_get_idx(get(alt, "alt"), 1);
    ck_assert_str_eq(str(second, "path"), "/svc/web");
    json_object_put(t);
}
END_TEST

START_TEST(test_delegator_local_dtab_fail_and_router)
{
    json_object *t = tree("out", "/svc/x => !", "/svc/x"), *f;

    f = json_object_array_get_idx(get(get(t, "delegate"), "alt"), 0);
    ck_assert_str_eq(str(f, "type"), "fail");
    json_object_put(t);
    t = tree("in", NULL, "/svc/x");
    ck_assert_str_eq(str(get(get(t, "delegate"), "bound"), "id"), "/$/inet/127.0.0.1/10");
    json_object_put(t);
}
END_TEST

START_TEST(test_delegator_rewrite_and_exception)
{
    json_object *t = tree(NULL, NULL, "/svc/rw"), *rw;

    rw = json_object_array_get_idx(get(get(t, "delegate"), "alt"), 0);
    ck_assert_str_eq(str(rw, "type"), "delegate");
    ck_assert_str_eq(str(rw, "rewrite"), "/h/127.0.0.1/7");
    ck_assert_str_eq(str(get(get(rw, "delegate"), "delegate"), "type"), "leaf");
    json_object_put(t);

    t = tree(NULL, NULL, "/loop");
    ck_assert(strstr(json_object_to_json_string(t), "\"exception\"") != NULL);
    ck_assert(strstr(json_object_to_json_string(t), "recursion limit") != NULL);
    json_object_put(t);
}
END_TEST

START_TEST(test_delegator_rejects_bad_input)
{
    struct strbuf out = STRBUF_INIT;

    ck_assert_int_eq(delegator_json(nm, cfg, NULL, NULL, "svc", &out), 400);
    strbuf_reset(&out);
    ck_assert_int_eq(delegator_json(nm, cfg, NULL, "/a => (", "/svc", &out), 400);
    ck_assert_msg(strstr(strbuf_str(&out), "offset") != NULL, "%s", strbuf_str(&out));
    strbuf_reset(&out);
    ck_assert_int_eq(delegator_json(nm, cfg, "nope", NULL, "/svc", &out), 404);
    strbuf_fini(&out);
}
END_TEST

static int
admin_call(const char *method, const char *path, const char *query, const char *body,
           struct strbuf *out)
{
    struct admin_request req = {.method = method,
                                .method_len = strlen(method),
                                .path = path,
                                .path_len = strlen(path),
                                .query = query,
                                .query_len = strlen(query),
                                .body = body,
                                .body_len = strlen(body)};
    struct admin_response rsp = {.status = 200};

    ck_assert(delegator_admin(nm, NULL, cfg, &req, &rsp));
    strbuf_add(out, strbuf_str(&rsp.body), rsp.body.len);
    strbuf_fini(&rsp.body);
    return rsp.status;
}

START_TEST(test_delegator_admin_routes)
{
    struct strbuf out = STRBUF_INIT;
    struct admin_request other = {.method = "GET",
                                  .method_len = 3,
                                  .path = "/admin/ping",
                                  .path_len = 11,
                                  .query = "",
                                  .body = ""};
    struct admin_response rsp = {.status = 200};

    ck_assert_int_eq(
        admin_call("GET", "/delegator.json", "path=%2Fsvc%2Fweb&namespace=out", "", &out), 200);
    ck_assert_msg(strstr(strbuf_str(&out), "\"union\"") != NULL, "%s", strbuf_str(&out));
    strbuf_reset(&out);
    ck_assert_int_eq(
        admin_call("POST", "/delegator.json", "",
                   "{\"path\":\"/svc/y\",\"dtab\":\"/svc/y=>$\",\"namespace\":\"out\"}", &out),
        200);
    ck_assert_msg(strstr(strbuf_str(&out), "\"empty\"") != NULL, "%s", strbuf_str(&out));
    strbuf_reset(&out);
    ck_assert_int_eq(admin_call("POST", "/delegator.json", "", "[", &out), 400);
    strbuf_reset(&out);
    ck_assert_int_eq(admin_call("GET", "/delegator", "", "", &out), 200);
    ck_assert_msg(strstr(strbuf_str(&out), "<script>") != NULL, "%s", strbuf_str(&out));
    ck_assert_msg(strstr(strbuf_str(&out), "http://") == NULL &&
                      strstr(strbuf_str(&out), "https://") == NULL,
                  "the page must not load anything from elsewhere");
    strbuf_fini(&out);
    ck_assert(!delegator_admin(nm, NULL, cfg, &other, &rsp));
    /* no naming (it could not start): a 500 that says why */
    ck_assert(delegator_admin(NULL, "rootDir gone", cfg,
                              &(struct admin_request){.method = "GET",
                                                      .method_len = 3,
                                                      .path = "/delegator.json",
                                                      .path_len = 15,
                                                      .query = "path=/svc/x",
                                                      .query_len = 11,
                                                      .body = ""},
                              &rsp));
    ck_assert_int_eq(rsp.status, 500);
    ck_assert_msg(strstr(strbuf_str(&rsp.body), "rootDir gone") != NULL, "%s",
                  strbuf_str(&rsp.body));
    strbuf_fini(&rsp.body);
}
END_TEST

static Suite *
delegator_suite(void)
{
    Suite *s = suite_create("delegator");
    TCase *tc = tcase_create("tree");
    TCase *ta = tcase_create("admin");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_delegator_delegate_to_leaf);
    tcase_add_test(tc, test_delegator_union_with_weights);
    tcase_add_test(tc, test_delegator_alt_neg_then_union);
    tcase_add_test(tc, test_delegator_local_dtab_fail_and_router);
    tcase_add_test(tc, test_delegator_rewrite_and_exception);
    tcase_add_test(tc, test_delegator_rejects_bad_input);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(ta, setup, teardown);
    tcase_add_test(ta, test_delegator_admin_routes);
    suite_add_tcase(s, ta);
    return s;
}

CHECK_MAIN(delegator_suite)

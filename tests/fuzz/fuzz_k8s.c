/* tests/fuzz/fuzz_k8s.c - libFuzzer target for the Kubernetes API JSON handling
 * (proxy/k8s.h): list answers (k8s_list_parse), watch-stream events (k8s_event_parse) and
 * the resolution of a port against Endpoints and a Service (k8s_endpoints_resolve).
 *
 * The input is a watch session, one JSON document a line, as a watch sees it after
 * de-chunking: [a Service list answer,] an Endpoints list answer, then watch events.
 * data[0] picks the port name (low 3 bits) and whether the first line is a Service
 * (bit 3). The session is played as proxy/k8s.c plays it (ADDED/MODIFIED replace the
 * object, DELETED empties it, ERROR and BOOKMARK keep it) and, after every change, the
 * port is resolved. Properties beyond "no crash, no leak":
 *   - a parsed event or list, written back as JSON by json-c, parses to the same type,
 *     resourceVersion, code, message and object;
 *   - rv and message are NUL-terminated within their arrays, an ERROR code is 0..999;
 *   - a resolution returns -ENOENT, 0 (NULL addresses) or n > 0 addresses, each with a
 *     port 1..65535, a NUL-terminated ip and node; and the same object after a JSON round
 *     trip resolves to the same addresses. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "proxy/k8s.h"

#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ports[8] = {"http", "80", "8080", "incoming", "9990", "admin", "0", "1"};

static struct json_object *
reparse(struct json_object *o)
{
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    struct json_object *r = json_tokener_parse(s);

    CHECK(r != NULL);
    return r;
}

/* Same JSON text (json_object_equal() would say NaN != NaN; json-c accepts NaN). */
static int
same_json(struct json_object *a, struct json_object *b)
{
    char *sa = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
    int same;

    CHECK(sa != NULL);
    same = strcmp(sa, json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN)) == 0;
    free(sa);
    return same;
}

static void
check_addrs(const struct k8s_addr *a, int n)
{
    CHECK(n == -ENOENT || n >= 0);
    CHECK((n > 0) == (a != NULL));
    for (int i = 0; i < n; i++) {
        CHECK(a[i].port >= 1);
        CHECK(memchr(a[i].ip, '\0', sizeof(a[i].ip)) != NULL && a[i].ip[0] != '\0');
        CHECK(memchr(a[i].node, '\0', sizeof(a[i].node)) != NULL);
    }
}

static void
resolve(struct json_object *ep, struct json_object *svc, const char *port)
{
    struct k8s_addr *a = NULL, *b = NULL;
    int n = k8s_endpoints_resolve(ep, svc, port, &a);

    check_addrs(a, n);
    if (n != -ENOMEM) {
        /* the same objects after a JSON round trip resolve to the same addresses */
        struct json_object *ep2 = ep ? reparse(ep) : NULL, *svc2 = svc ? reparse(svc) : NULL;
        int m = k8s_endpoints_resolve(ep2, svc2, port, &b);

        CHECK(m == n);
        for (int i = 0; i < n; i++) {
            CHECK(strcmp(a[i].ip, b[i].ip) == 0 && a[i].port == b[i].port);
            CHECK(strcmp(a[i].node, b[i].node) == 0);
        }
        json_object_put(ep2);
        json_object_put(svc2);
    }
    free(a);
    free(b);
}

static const char *const type_names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

static void
check_event(const struct k8s_event *ev)
{
    struct json_object *o = json_object_new_object(), *again_obj;
    struct k8s_event again;
    const char *s;

    CHECK(ev->object != NULL && json_object_is_type(ev->object, json_type_object));
    CHECK(memchr(ev->rv, '\0', sizeof(ev->rv)) != NULL);
    CHECK(memchr(ev->message, '\0', sizeof(ev->message)) != NULL);
    CHECK(ev->code >= 0 && ev->code < 1000);
    CHECK(ev->type == K8S_EV_ERROR || (ev->code == 0 && ev->message[0] == '\0'));
    json_object_object_add(o, "type", json_object_new_string(type_names[ev->type]));
    json_object_object_add(o, "object", json_object_get(ev->object));
    s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    CHECK(k8s_event_parse(s, strlen(s), &again) == 0);
    CHECK(again.type == ev->type && strcmp(again.rv, ev->rv) == 0);
    CHECK(again.code == ev->code && strcmp(again.message, ev->message) == 0);
    again_obj = again.object;
    CHECK(same_json(again_obj, ev->object));
    k8s_event_fini(&again);
    json_object_put(o);
}

/* A list answer: 0 with the first item (or NULL) and rv, checked by a round trip. */
static int
parse_list(const char *line, size_t len, struct json_object **ret, char *rv, size_t rvlen)
{
    struct json_object *obj = NULL;
    int r = k8s_list_parse(line, len, &obj, rv, rvlen);

    CHECK(r == 0 || r == -EBADMSG);
    if (r != 0)
        return r;
    CHECK(memchr(rv, '\0', rvlen) != NULL);
    {
        struct json_object *list = json_object_new_object(), *md = json_object_new_object();
        struct json_object *items = json_object_new_array(), *obj2 = NULL;
        char rv2[64];
        const char *s;

        json_object_object_add(md, "resourceVersion", json_object_new_string(rv));
        json_object_object_add(list, "metadata", md);
        if (obj != NULL)
            json_object_array_add(items, json_object_get(obj));
        json_object_object_add(list, "items", items);
        s = json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN);
        CHECK(k8s_list_parse(s, strlen(s), &obj2, rv2, sizeof(rv2)) == 0);
        CHECK(strcmp(rv, rv2) == 0);
        CHECK((obj == NULL) == (obj2 == NULL));
        if (obj != NULL)
            CHECK(same_json(obj, obj2));
        json_object_put(obj2);
        json_object_put(list);
    }
    *ret = obj;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *svc = NULL, *ep = NULL;
    const char *port, *p, *end;
    char rv[64];
    int line_no = 0;

    if (size < 1)
        return 0;
    port = ports[data[0] & 7];
    p = (const char *) data + 1;
    end = (const char *) data + size;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t len = (size_t) ((nl ? nl : end) - p);

        if (line_no == 0 && (data[0] & 8)) {
            if (parse_list(p, len, &svc, rv, sizeof(rv)) != 0)
                break;
        } else if (line_no == 0 || (line_no == 1 && (data[0] & 8))) {
            if (parse_list(p, len, &ep, rv, sizeof(rv)) != 0)
                break;
            resolve(ep, svc, port);
        } else {
            struct k8s_event ev;

            if (k8s_event_parse(p, len, &ev) == 0) {
                check_event(&ev);
                if (ev.type == K8S_EV_ADDED || ev.type == K8S_EV_MODIFIED) {
                    json_object_put(ep);
                    ep = json_object_get(ev.object);
                    resolve(ep, svc, port);
                } else if (ev.type == K8S_EV_DELETED) {
                    json_object_put(ep);
                    ep = NULL;
                    resolve(ep, svc, port);
                }
                k8s_event_fini(&ev);
            }
        }
        line_no++;
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    json_object_put(ep);
    json_object_put(svc);
    return 0;
}

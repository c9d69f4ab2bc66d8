/* tools/meshctl/metrics.c - /admin/metrics.json as a sorted name/value table; see
 * metrics.h. json-c parses, the table is sorted once, lookups are binary searches. */
#include "tools/meshctl/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/util.h"

struct metric {
    char *name;
    double value;
};

struct metrics {
    struct metric *items; /* sorted by name, no duplicates kept */
    size_t n_items;
    uint64_t taken_us;
};

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const struct metric *) a)->name, ((const struct metric *) b)->name);
}

struct metrics *
metrics_parse(const char *json, size_t len, uint64_t taken_us, char *err, size_t errlen)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *root;
    struct json_object_iter it;
    struct metrics *m;
    size_t end;

    if (tok == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    root = json_tokener_parse_ex(tok, json, (int) len);
    if (root == NULL) {
        enum json_tokener_error e = json_tokener_get_error(tok);

        snprintf(err, errlen, "not JSON: %s at byte %zu",
                 e == json_tokener_continue ? "unexpected end of input"
                                            : json_tokener_error_desc(e),
                 json_tokener_get_parse_end(tok));
        json_tokener_free(tok);
        return NULL;
    }
    end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    while (end < len && strchr(" \t\r\n", json[end]) != NULL)
        end++;
    if (end < len || !json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "not a JSON object of metrics");
        json_object_put(root);
        return NULL;
    }
    m = xcalloc(1, sizeof(*m));
    m->taken_us = taken_us;
    m->items = xcalloc((size_t) json_object_object_length(root) + 1, sizeof(*m->items));
    json_object_object_foreachC(root, it)
    {
        double v;

        switch (json_object_get_type(it.val)) {
        case json_type_int:
            v = (double) json_object_get_int64(it.val);
            break;
        case json_type_double:
            v = json_object_get_double(it.val);
            break;
        case json_type_boolean:
            v = json_object_get_boolean(it.val) ? 1 : 0;
            break;
        default:
            continue;
        }
        m->items[m->n_items].name = xstrdup(it.key);
        m->items[m->n_items].value = v;
        m->n_items++;
    }
    json_object_put(root);
    qsort(m->items, m->n_items, sizeof(*m->items), by_name);
    return m;
}

struct metrics *
metrics_free(struct metrics *m)
{
    if (m == NULL)
        return NULL;
    for (size_t i = 0; i < m->n_items; i++)
        free(m->items[i].name);
    free(m->items);
    free(m);
    return NULL;
}

size_t
metrics_lower_bound(const struct metrics *m, const char *prefix)
{
    size_t lo = 0, hi = m->n_items;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(m->items[mid].name, prefix) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool
metrics_get(const struct metrics *m, const char *name, double *ret_value)
{
    size_t i;

    if (m == NULL)
        return false;
    i = metrics_lower_bound(m, name);
    if (i == m->n_items || strcmp(m->items[i].name, name) != 0)
        return false;
    *ret_value = m->items[i].value;
    return true;
}

uint64_t
metrics_taken_us(const struct metrics *m)
{
    return m->taken_us;
}

size_t
metrics_count(const struct metrics *m)
{
    return m->n_items;
}

const char *
metrics_name(const struct metrics *m, size_t i)
{
    return m->items[i].name;
}

double
metrics_value(const struct metrics *m, size_t i)
{
    return m->items[i].value;
}

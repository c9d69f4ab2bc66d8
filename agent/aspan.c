/* agent/aspan.c - owned span copies (see aspan.h). One malloc a span: the fixed fields,
 * then n_tags tag slots, then the strings back to back. A well-known tag's name is the
 * static span_tag_name() string, so only custom tag names are copied. */
#include "agent/aspan.h"

#include <stdlib.h>
#include <string.h>

static size_t
span_strings_len(const struct span *s, unsigned *ret_n_tags)
{
    size_t len = s->name_len + s->local.service_len + s->remote.service_len;
    unsigned n = 0;

    for (unsigned i = 0; i < s->n_tags; i++) {
        const struct span_tag_kv *t = &s->tags[i];

        if (t->name == NULL)
            continue; /* a key this agent does not know: dropped, as the contract says */
        n++;
        if (t->key == 0)
            len += t->name_len;
        if (!t->is_num)
            len += t->value_len;
    }
    *ret_n_tags = n;
    return len;
}

static const char *
put(char **p, const char *src, size_t len)
{
    const char *start = *p;

    if (len > 0)
        memcpy(*p, src, len);
    *p += len;
    return start;
}

struct aspan *
aspan_new(const struct span *s)
{
    unsigned n_tags;
    size_t slen = span_strings_len(s, &n_tags);
    size_t mem = sizeof(struct aspan) + n_tags * sizeof(struct span_tag_kv) + slen;
    struct aspan *a = malloc(mem);
    char *p;
    unsigned j = 0;

    if (a == NULL)
        return NULL;
    list_init(&a->link);
    a->mem = mem;
    a->trace_hi = s->trace_hi;
    a->trace_lo = s->trace_lo;
    a->span_id = s->span_id;
    a->parent_id = s->parent_id;
    a->kind = s->kind;
    a->flags = s->flags;
    a->timestamp_us = s->timestamp_us;
    a->duration_us = s->duration_us;
    a->local = s->local;
    a->remote = s->remote;
    a->n_tags = n_tags;
    p = (char *) &a->tags[n_tags];
    a->name = put(&p, s->name, s->name_len);
    a->name_len = s->name_len;
    a->local.service = put(&p, s->local.service, s->local.service_len);
    a->remote.service = put(&p, s->remote.service, s->remote.service_len);
    for (unsigned i = 0; i < s->n_tags; i++) {
        const struct span_tag_kv *t = &s->tags[i];
        struct span_tag_kv *d = &a->tags[j];

        if (t->name == NULL)
            continue;
        *d = *t;
        if (t->key == 0)
            d->name = put(&p, t->name, t->name_len);
        if (!t->is_num)
            d->value = put(&p, t->value, t->value_len);
        j++;
    }
    return a;
}

struct aspan *
aspan_free(struct aspan *a)
{
    free(a);
    return NULL;
}

void
aspan_view(const struct aspan *a, struct span *out)
{
    out->trace_hi = a->trace_hi;
    out->trace_lo = a->trace_lo;
    out->span_id = a->span_id;
    out->parent_id = a->parent_id;
    out->kind = a->kind;
    out->flags = a->flags;
    out->timestamp_us = a->timestamp_us;
    out->duration_us = a->duration_us;
    out->name = a->name;
    out->name_len = a->name_len;
    out->local = a->local;
    out->remote = a->remote;
    out->n_tags = a->n_tags;
    if (a->n_tags > 0)
        memcpy(out->tags, a->tags, a->n_tags * sizeof(a->tags[0]));
}

static bool
tag_same(const struct span_tag_kv *x, const struct span_tag_kv *y)
{
    return x->name_len == y->name_len && memcmp(x->name, y->name, x->name_len) == 0;
}

static void
endpoint_fill(struct span_endpoint *dst, const struct span_endpoint *src)
{
    if (dst->service_len == 0) {
        dst->service = src->service;
        dst->service_len = src->service_len;
    }
    if (!dst->has_ip && src->has_ip) {
        memcpy(dst->ip, src->ip, sizeof(dst->ip));
        dst->ipv6 = src->ipv6;
        dst->has_ip = true;
    }
    if (dst->port == 0)
        dst->port = src->port;
}

struct aspan *
aspan_merge(const struct aspan *old, const struct aspan *new)
{
    struct span *m = malloc(sizeof(*m));
    struct aspan *r;
    uint64_t end_old, end_new, start, end;

    if (m == NULL)
        return NULL;
    aspan_view(old, m);
    if (m->name_len == 0) {
        m->name = new->name;
        m->name_len = new->name_len;
    }
    if (m->parent_id == 0)
        m->parent_id = new->parent_id;
    m->flags |= new->flags;
    endpoint_fill(&m->local, &new->local);
    endpoint_fill(&m->remote, &new->remote);

    /* timing: the union of both fragments' intervals (one missing: the other's) */
    end_old = old->timestamp_us + old->duration_us;
    end_new = new->timestamp_us + new->duration_us;
    if (old->timestamp_us == 0 || (new->timestamp_us != 0 && new->timestamp_us < old->timestamp_us))
        start = new->timestamp_us;
    else
        start = old->timestamp_us;
    end = MESH_MAX(old->timestamp_us ? end_old : 0, new->timestamp_us ? end_new : 0);
    m->timestamp_us = start;
    m->duration_us =
        start != 0 && end > start ? end - start : MESH_MAX(old->duration_us, new->duration_us);

    /* tags: new ones first (they win), then old ones under other names */
    m->n_tags = 0;
    for (unsigned i = 0; i < new->n_tags && m->n_tags < SPAN_MAX_TAGS; i++)
        m->tags[m->n_tags++] = new->tags[i];
    for (unsigned i = 0; i < old->n_tags && m->n_tags < SPAN_MAX_TAGS; i++) {
        bool dup = false;

        for (unsigned k = 0; k < new->n_tags && !dup; k++)
            dup = tag_same(&old->tags[i], &new->tags[k]);
        if (!dup)
            m->tags[m->n_tags++] = old->tags[i];
    }
    r = aspan_new(m);
    free(m);
    return r;
}

bool
aspan_is_error(const struct aspan *a)
{
    for (unsigned i = 0; i < a->n_tags; i++) {
        const struct span_tag_kv *t = &a->tags[i];

        if (t->key == SPAN_TAG_ERROR ||
            (t->key == 0 && t->name_len == 5 && memcmp(t->name, "error", 5) == 0))
            return true;
        if (t->key == SPAN_TAG_HTTP_STATUS_CODE) {
            uint64_t code = t->num;

            if (!t->is_num) {
                code = 0;
                for (size_t k = 0; k < t->value_len && k < 4; k++) {
                    if (t->value[k] < '0' || t->value[k] > '9')
                        break;
                    code = code * 10 + (uint64_t) (t->value[k] - '0');
                }
            }
            if (code >= 500 && code <= 999)
                return true;
        }
    }
    return false;
}

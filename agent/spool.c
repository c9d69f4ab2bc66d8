/* agent/spool.c - the on-disk spool (see spool.h). The index is an array of entries in
 * file order (a ring would save the memmove at take, but a spool holds at most a few
 * thousand batches and takes happen once a batch). */
#include "agent/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/batcher.h"
#include "agent/receiver.h"
#include "common/list.h"
#include "common/log.h"
#include "common/priv.h"
#include "common/strbuf.h"
#include "common/util.h"

struct entry {
    uint64_t seq;
    unsigned n_spans;
    int32_t seqid;
    bool gzipped;
    size_t bytes;
};

struct spool {
    char dir[256];
    char format[16];
    uint64_t max_bytes;
    struct entry *v; /* oldest first */
    size_t n, cap;
    uint64_t next_seq;
    uint64_t n_spans, bytes, recovered;
};

static void
entry_path(const struct spool *sp, const struct entry *e, char *out, size_t len)
{
    snprintf(out, len, "%s/%016" PRIx64 "-%u-%" PRId32 "-%c.%s", sp->dir, e->seq, e->n_spans,
             e->seqid, e->gzipped ? 'g' : 'p', sp->format);
}

static int
entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
index_add(struct spool *sp, const struct entry *e)
{
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? sp->cap * 2 : 64;
        sp->v = xrealloc(sp->v, sp->cap * sizeof(*sp->v));
    }
    sp->v[sp->n++] = *e;
    sp->n_spans += e->n_spans;
    sp->bytes += e->bytes;
}

struct spool *
spool_new(const char *dir, uint64_t max_bytes, const char *format, char *err, size_t errlen)
{
    struct spool *sp;
    struct dirent *de;
    DIR *d;
    int r;

    if (strlen(dir) >= sizeof(sp->dir) - 40) {
        snprintf(err, errlen, "spool %s: path too long", dir);
        return NULL;
    }
    r = receiver_make_dir(dir, 0700); /* spans: the agent's user only */
    if (r < 0) {
        snprintf(err, errlen, "spool %s: %s", dir, strerror(-r));
        return NULL;
    }
    d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
        return NULL;
    }
    sp = xcalloc(1, sizeof(*sp));
    snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
    snprintf(sp->format, sizeof(sp->format), "%s", format);
    sp->max_bytes = max_bytes;
    while ((de = readdir(d)) != NULL) {
        struct entry e = {0};
        char flag, fmt[32], path[512];
        struct stat st;

        if (sscanf(de->d_name, "%16" SCNx64 "-%u-%" SCNd32 "-%c.%31s", &e.seq, &e.n_spans, &e.seqid,
                   &flag, fmt) != 5)
            continue; /* temporary files, anything else */
        if (strcmp(fmt, format) != 0) {
            log_warn("spool: %s/%s holds %s batches, not %s: left in place", dir, de->d_name, fmt,
                     format);
            continue;
        }
        e.gzipped = flag == 'g';
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
            continue;
        e.bytes = (size_t) st.st_size;
        index_add(sp, &e);
        sp->recovered += e.n_spans;
        if (e.seq >= sp->next_seq)
            sp->next_seq = e.seq + 1;
    }
    closedir(d);
    if (sp->n > 1)
        qsort(sp->v, sp->n, sizeof(*sp->v), entry_cmp);
    return sp;
}

int
spool_chown(const struct spool *sp, const struct priv_id *id)
{
    int r = priv_chown(sp->dir, id);

    for (size_t i = 0; r == 0 && i < sp->n; i++) {
        char path[512];

        entry_path(sp, &sp->v[i], path, sizeof(path));
        r = priv_chown(path, id);
    }
    return r;
}

struct spool *
spool_free(struct spool *sp)
{
    if (sp == NULL)
        return NULL;
    free(sp->v);
    free(sp);
    return NULL;
}

void
spool_set_max_bytes(struct spool *sp, uint64_t max_bytes)
{
    sp->max_bytes = max_bytes;
}

int
spool_put(struct spool *sp, struct batch *b)
{
    struct entry e = {.seq = sp->next_seq,
                      .n_spans = b->n_spans,
                      .seqid = b->seqid,
                      .gzipped = b->gzipped,
                      .bytes = b->body.len};
    char path[512], tmp[520];
    size_t off = 0;
    int fd, r;

    if (sp->bytes + e.bytes > sp->max_bytes)
        return -ENOSPC;
    entry_path(sp, &e, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s/.tmp-%016" PRIx64, sp->dir, e.seq);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1)
        return -errno;
    while (off < e.bytes) {
        ssize_t n = write(fd, b->body.s + off, e.bytes - off);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        off += (size_t) n;
    }
    if (close(fd) == -1) {
        fd = -1;
        goto fail;
    }
    if (rename(tmp, path) == -1) {
        fd = -1;
        goto fail;
    }
    sp->next_seq++;
    index_add(sp, &e);
    batch_free(b);
    return 0;

fail:
    r = errno ? -errno : -EIO;
    if (fd >= 0)
        (void) close(fd);
    (void) unlink(tmp);
    return r;
}

size_t
spool_peek_bytes(const struct spool *sp)
{
    return sp->n > 0 ? sp->v[0].bytes : 0;
}

struct batch *
spool_take(struct spool *sp, uint64_t *ret_lost)
{
    while (sp->n > 0) {
        struct entry e = sp->v[0];
        struct batch *b = NULL;
        char path[512];
        size_t off = 0;
        int fd;

        memmove(sp->v, sp->v + 1, (sp->n - 1) * sizeof(*sp->v));
        sp->n--;
        sp->n_spans -= e.n_spans;
        sp->bytes -= e.bytes;
        entry_path(sp, &e, path, sizeof(path));
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            b = calloc(1, sizeof(*b));
        if (b != NULL) {
            list_init(&b->link);
            b->n_spans = e.n_spans;
            b->seqid = e.seqid;
            b->gzipped = e.gzipped;
            b->body.s = malloc(e.bytes + 1);
            b->body.cap = e.bytes + 1;
            while (b->body.s != NULL && off < e.bytes) {
                ssize_t n = read(fd, b->body.s + off, e.bytes - off);

                if (n == -1 && errno == EINTR)
                    continue;
                if (n <= 0)
                    break;
                off += (size_t) n;
            }
        }
        if (fd >= 0)
            (void) close(fd);
        (void) unlink(path);
        if (b != NULL && b->body.s != NULL && off == e.bytes && e.bytes > 0) {
            b->body.len = e.bytes;
            b->body.s[e.bytes] = '\0';
            return b;
        }
        batch_free(b);
        *ret_lost += e.n_spans;
    }
    return NULL;
}

uint64_t
spool_n_spans(const struct spool *sp)
{
    return sp->n_spans;
}

uint64_t
spool_bytes(const struct spool *sp)
{
    return sp->bytes;
}

unsigned
spool_n_batches(const struct spool *sp)
{
    return (unsigned) sp->n;
}

uint64_t
spool_recovered(const struct spool *sp)
{
    return sp->recovered;
}

/* agent/spool.h - the on-disk spool behind the ship queue: when the queue is full (a long
 * collector outage), encoded batches are written to files in a directory of their own
 * instead of being dropped, bounded by <max_bytes>; as the queue drains they are read back,
 * oldest first. At SIGTERM what could not be shipped is spooled too, and the next agent
 * takes stock of the directory at start ("recovered" spans) and ships it.
 *
 * One file a batch, named <seq>-<n_spans>-<seqid>-<g|p>.<format>: the order, the books,
 * the Scribe sequence number, gzip or plain, and the encoding, so a batch is never sent
 * to a collector that expects another encoding (such files are left in place and
 * logged). Files are written to a temporary name and renamed, 0600; the agent does not
 * fsync (a power loss can cost the last batches; a crash of the agent cannot). Writes are
 * synchronous on the loop: the spool only works while the collector is away. */
#ifndef MESH_AGENT_SPOOL_H
#define MESH_AGENT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct batch;
struct priv_id;
struct spool;

/* Opens <dir> (created 0700 if missing) for batches of <format> ("json_v2", "scribe",
 * ...), and indexes the files a previous agent left. NULL with <err> filled on failure. */
struct spool *spool_new(const char *dir, uint64_t max_bytes, const char *format, char *err,
                        size_t errlen);
/* Gives the directory and its batch files to <id> (the agent is about to drop root).
 * Returns 0 or -errno. */
int spool_chown(const struct spool *sp, const struct priv_id *id);
/* Forgets the index; the files stay for the next agent. NULL is a no-op. */
struct spool *spool_free(struct spool *sp);
void spool_set_max_bytes(struct spool *sp, uint64_t max_bytes);

/* Writes <b> to a file and frees it: returns 0. Returns -ENOSPC when it would pass
 * max_bytes, or a negative errno when the write failed; <b> is then left to the caller. */
int spool_put(struct spool *sp, struct batch *b);
/* Body bytes of the oldest batch, 0 when the spool is empty. */
size_t spool_peek_bytes(const struct spool *sp);
/* Reads back and removes the oldest batch, or NULL when the spool is empty. A file that
 * cannot be read is removed from the index and its spans are added to *ret_lost. */
struct batch *spool_take(struct spool *sp, uint64_t *ret_lost);

uint64_t spool_n_spans(const struct spool *sp);
uint64_t spool_bytes(const struct spool *sp);
unsigned spool_n_batches(const struct spool *sp);
/* Spans found in the directory at spool_new(). */
uint64_t spool_recovered(const struct spool *sp);

#endif

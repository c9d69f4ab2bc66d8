/* common/priv.h - dropping root: the daemons bind their ports and create their run
 * directory as root, then become an unprivileged user for good (docs/security.md,
 * "Privileges"). No logging here: callers print <err>. */
#ifndef MESH_COMMON_PRIV_H
#define MESH_COMMON_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct priv_id {
    uid_t uid;
    gid_t gid;
    char user[64]; /* for initgroups() and messages; "" when given as a number */
};

/* Looks up <user> (a name or a decimal uid) and <group> (a name, a decimal gid, or NULL /
 * "" for the user's primary group). Returns 0 and fills *ret_id, or -ENOENT / -EINVAL with
 * <err> saying what is wrong. */
int priv_resolve(const char *user, const char *group, struct priv_id *ret_id, char *err,
                 size_t errlen);

/* Becomes <id> for good: supplementary groups (the user's, or none for a numeric uid),
 * gid, then uid (saved ids included), then PR_SET_NO_NEW_PRIVS; finally checks that
 * setuid(0) fails. Must run as root. Returns 0, or a negative errno with <err> filled;
 * after a failure the process must exit, its ids may be half changed. */
int priv_drop(const struct priv_id *id, char *err, size_t errlen);

/* chown <path> to <id> unless it is already owned by it (lchown: links are not followed).
 * Returns 0 or -errno. */
int priv_chown(const char *path, const struct priv_id *id);

#endif

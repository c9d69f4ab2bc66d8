/* common/priv.c - see priv.h. The order is the one that cannot be undone half-way in the
 * wrong direction: groups first (they need root), then the gid, then the uid (setresuid
 * sets the saved uid too, so there is nothing left to go back to). */
#include "common/priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static bool
parse_id(const char *s, unsigned long *ret)
{
    char *end;
    unsigned long v;

    if (s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v >= (unsigned long) (uid_t) -1)
        return false;
    *ret = v;
    return true;
}

int
priv_resolve(const char *user, const char *group, struct priv_id *ret_id, char *err, size_t errlen)
{
    struct priv_id id;
    struct passwd *pw;
    unsigned long n;

    memset(&id, 0, sizeof(id));
    if (user == NULL || user[0] == '\0') {
        snprintf(err, errlen, "user: empty");
        return -EINVAL;
    }
    if (parse_id(user, &n)) {
        id.uid = (uid_t) n;
        pw = getpwuid(id.uid);
    } else {
        pw = getpwnam(user);
        if (pw == NULL) {
            snprintf(err, errlen, "user %s: no such user", user);
            return -ENOENT;
        }
        id.uid = pw->pw_uid;
    }
    if (pw != NULL && strlen(pw->pw_name) < sizeof(id.user))
        snprintf(id.user, sizeof(id.user), "%s", pw->pw_name);
    if (group != NULL && group[0] != '\0') {
        if (parse_id(group, &n)) {
            id.gid = (gid_t) n;
        } else {
            struct group *gr = getgrnam(group);

            if (gr == NULL) {
                snprintf(err, errlen, "group %s: no such group", group);
                return -ENOENT;
            }
            id.gid = gr->gr_gid;
        }
    } else if (pw != NULL) {
        id.gid = pw->pw_gid;
    } else {
        snprintf(err, errlen, "user %s: not in the user database, so a group is required", user);
        return -EINVAL;
    }
    *ret_id = id;
    return 0;
}

int
priv_drop(const struct priv_id *id, char *err, size_t errlen)
{
    uid_t ruid, euid, suid;
    int e;

    if (geteuid() != 0) {
        snprintf(err, errlen, "dropping privileges: not running as root");
        return -EPERM;
    }
    /* the user's own supplementary groups (e.g. a group shared with meshagent), else none */
    if (id->user[0] != '\0' ? initgroups(id->user, id->gid) == -1 : setgroups(0, NULL) == -1) {
        e = errno;
        snprintf(err, errlen, "setting supplementary groups: %s", strerror(e));
        return -e;
    }
    if (setresgid(id->gid, id->gid, id->gid) == -1) {
        e = errno;
        snprintf(err, errlen, "setresgid(%lu): %s", (unsigned long) id->gid, strerror(e));
        return -e;
    }
    if (setresuid(id->uid, id->uid, id->uid) == -1) {
        e = errno;
        snprintf(err, errlen, "setresuid(%lu): %s", (unsigned long) id->uid, strerror(e));
        return -e;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
        e = errno;
        snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(e));
        return -e;
    }
    /* nothing may be left to go back to */
    if (getresuid(&ruid, &euid, &suid) == -1 || ruid != id->uid || euid != id->uid ||
        suid != id->uid || getegid() != id->gid || getgid() != id->gid) {
        snprintf(err, errlen, "dropping privileges: the ids did not change as asked");
        return -EPERM;
    }
    if (id->uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
        snprintf(err, errlen, "dropping privileges: root could be regained, refusing to run");
        return -EPERM;
    }
    return 0;
}

int
priv_chown(const char *path, const struct priv_id *id)
{
    struct stat st;

    if (lstat(path, &st) == -1)
        return -errno;
    if (st.st_uid == id->uid && st.st_gid == id->gid)
        return 0;
    if (lchown(path, id->uid, id->gid) == -1)
        return -errno;
    return 0;
}

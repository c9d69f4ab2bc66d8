/* tests/fuzz/replay_main.c - runs a fuzz target's LLVMFuzzerTestOneInput over files, without
 * libFuzzer: the seed corpora and the regression inputs (every crash ever found) replay in
 * every build, gcc included, as the meson suite "fuzz-replay".
 *
 *   replay_<target> [--if-exists] PATH...
 *
 * Each PATH is a file or a directory (its regular files, in name order); a PATH after
 * --if-exists may be missing (a target's regressions/ directory before its first crash).
 *
 * Each input is passed as libFuzzer passes it: a heap copy of exactly its size, so ASan
 * sees an over-read. A target reports a broken property by aborting. Exit 0 when every
 * input ran; 1 when a path cannot be read or no input was found at all (so a test over an
 * empty or missing corpus cannot pass). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    for (;;) {
        size_t r;

        if (cap - len < 65536) {
            uint8_t *nb = realloc(buf, cap + 65536);

            if (nb == NULL) {
                fprintf(stderr, "%s: out of memory\n", path);
                free(buf);
                (void) fclose(f);
                return -1;
            }
            buf = nb;
            cap += 65536;
        }
        r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        perror(path);
        free(buf);
        (void) fclose(f);
        return -1;
    }
    (void) fclose(f);
    {
        /* exactly sized, as libFuzzer does it */
        uint8_t *exact = malloc(len ? len : 1);

        if (exact == NULL) {
            free(buf);
            return -1;
        }
        if (len > 0)
            memcpy(exact, buf, len);
        free(buf);
        (void) LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    return 0;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Runs every regular file of <dir>, in name order. Returns the count or -1. */
static long
run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    long done = 0;

    if (d == NULL) {
        perror(dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));

            if (nn == NULL)
                break;
            names = nn;
        }
        names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (names[n] == NULL)
            break;
        (void) sprintf(names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    (void) closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        struct stat st;

        if (done >= 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(names[i]) < 0)
                done = -1;
            else
                done++;
        }
        free(names[i]);
    }
    free(names);
    return done;
}

int
main(int argc, char **argv)
{
    long total = 0;
    int may_miss = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        long n;

        if (strcmp(argv[i], "--if-exists") == 0) {
            may_miss = 1;
            continue;
        }
        if (stat(argv[i], &st) != 0) {
            if (may_miss) {
                may_miss = 0;
                continue;
            }
            perror(argv[i]);
            return 1;
        }
        may_miss = 0;
        if (S_ISDIR(st.st_mode)) {
            n = run_dir(argv[i]);
        } else {
            n = run_file(argv[i]) < 0 ? -1 : 1;
        }
        if (n < 0)
            return 1;
        printf("%s: %ld input(s)\n", argv[i], n);
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "no inputs: give the corpus and regression directories\n");
        return 1;
    }
    printf("%ld input(s) replayed, no failure\n", total);
    return 0;
}

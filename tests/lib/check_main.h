/* tests/lib/check_main.h - main() for a Check suite: runs it in fork mode (a crash fails
 * one test, not the suite), prints Check's summary and exits non-zero on any failure. */
#ifndef MESH_TESTS_CHECK_MAIN_H
#define MESH_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(suite_fn)                                                                       \
    int main(void)                                                                                 \
    {                                                                                              \
        SRunner *sr = srunner_create(suite_fn());                                                  \
        int failed;                                                                                \
                                                                                                   \
        srunner_run_all(sr, CK_NORMAL);                                                            \
        failed = srunner_ntests_failed(sr);                                                        \
        srunner_free(sr);                                                                          \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                                          \
    }

#endif

/* placeholder: replaced by the module's real suite */
#include "tests/lib/check_main.h"
START_TEST(test_stats_placeholder) { ck_assert(1); }
END_TEST
static Suite *s_(void) { Suite *s = suite_create("stats"); TCase *tc = tcase_create("x"); tcase_add_test(tc, test_stats_placeholder); suite_add_tcase(s, tc); return s; }
CHECK_MAIN(s_)

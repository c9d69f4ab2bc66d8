/* tests/unit/test_strbuf.c - the growable string and its JSON escaping. */
#include <string.h>

#include "common/strbuf.h"
#include "tests/lib/check_main.h"

START_TEST(test_strbuf_grows_and_formats)
{
    struct strbuf sb = STRBUF_INIT;

    ck_assert_str_eq(strbuf_str(&sb), "");
    for (int i = 0; i < 1000; i++)
        strbuf_addf(&sb, "%d,", i);
    ck_assert_uint_eq(sb.len, strlen(sb.s));
    ck_assert(strncmp(sb.s, "0,1,2,", 6) == 0);
    ck_assert(strstr(sb.s, "999,") != NULL);
    strbuf_reset(&sb);
    ck_assert_str_eq(strbuf_str(&sb), "");
    strbuf_fini(&sb);
}
END_TEST

START_TEST(test_strbuf_json_escapes)
{
    struct strbuf sb = STRBUF_INIT;
    const char in[] = "a\"b\\c\n\x01";

    strbuf_add_json_str(&sb, in, sizeof(in) - 1);
    ck_assert_str_eq(sb.s, "\"a\\\"b\\\\c\\n\\u0001\"");
    strbuf_fini(&sb);
}
END_TEST

START_TEST(test_strbuf_steal_leaves_empty)
{
    struct strbuf sb = STRBUF_INIT;
    char *s;

    s = strbuf_steal(&sb);
    ck_assert_str_eq(s, "");
    free(s);
    strbuf_adds(&sb, "x");
    s = strbuf_steal(&sb);
    ck_assert_str_eq(s, "x");
    ck_assert_ptr_null(sb.s);
    free(s);
}
END_TEST

static Suite *
strbuf_suite(void)
{
    Suite *s = suite_create("strbuf");
    TCase *tc = tcase_create("build");

    tcase_add_test(tc, test_strbuf_grows_and_formats);
    tcase_add_test(tc, test_strbuf_json_escapes);
    tcase_add_test(tc, test_strbuf_steal_leaves_empty);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(strbuf_suite)

/* The host's json_float_array(): the text of every finite float reads back
 * to the same float, is as short as any text that does, is valid JSON, and
 * what cannot be written (NaN, infinities, a short buffer) is refused. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "host.h"

static size_t write_array(const float *v, size_t n, char *out, size_t len)
{
    return es_host_table.json_float_array(v, n, out, len);
}

static float from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint32_t rng_state = 2463534242u;
static uint32_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Significant digits in a decimal text ("-0.00125" has 3). */
static int significant_digits(const char *text, size_t len)
{
    int digits = 0, leading = 1;
    for (size_t i = 0; i < len && text[i] != 'e'; i++) {
        if (text[i] < '0' || text[i] > '9')
            continue;
        if (leading && text[i] == '0')
            continue;
        leading = 0;
        digits++;
    }
    /* Trailing zeros of an integer ("100") are not significant. */
    const char *e = memchr(text, 'e', len);
    size_t end = e ? (size_t)(e - text) : len;
    if (memchr(text, '.', end) == NULL)
        while (end > 0 && text[end - 1] == '0' && digits > 1)
            end--, digits--;
    return digits;
}

static void known_values(void **unused)
{
    (void)unused;
    const float v[] = {0.0f, -0.0f, 1.0f, -0.5f, 0.1f, 1e-7f, 0.000001f,
                       FLT_MAX, 1e21f, 1e20f, 123456789.0f, FLT_TRUE_MIN};
    char out[EMBSYNC_JSON_FLOAT_ARRAY_MAX(12)];
    size_t len = write_array(v, 12, out, sizeof out);
    const char *want = "[0,-0,1,-0.5,0.1,1e-07,1e-06,3.4028235e+38,1e+21,"
                       "1e+20,123456790,1e-45]";
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
}

static void empty_array(void **unused)
{
    (void)unused;
    char out[EMBSYNC_JSON_FLOAT_ARRAY_MAX(0)];
    assert_int_equal(write_array(NULL, 0, out, sizeof out), 2);
    assert_string_equal(out, "[]");
}

/* A million random bit patterns: exact round trip, shortest text, within
 * EMBSYNC_JSON_FLOAT_MAX, and one JSON array cJSON reads back whole. */
static void random_floats_round_trip(void **unused)
{
    (void)unused;
    enum { N = 1000, ROUNDS = 1000 };
    float *v = malloc(N * sizeof *v);
    char *out = malloc(EMBSYNC_JSON_FLOAT_ARRAY_MAX(N));
    assert_non_null(v);
    assert_non_null(out);
    size_t longest = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (size_t i = 0; i < N; i++) {
            /* Half raw bit patterns (every exponent), half embedding-like
             * values in [-1, 1]. */
            do
                v[i] = i % 2 ? from_bits(next_random())
                             : (float)((double)next_random() / 2147483648.0 - 1.0);
            while (!isfinite(v[i]));
        }
        size_t len = write_array(v, N, out, EMBSYNC_JSON_FLOAT_ARRAY_MAX(N));
        assert_true(len > 0);
        assert_int_equal(strlen(out), len);
        assert_int_equal(out[0], '[');
        assert_int_equal(out[len - 1], ']');
        const char *at = out + 1;
        for (size_t i = 0; i < N; i++) {
            char *end;
            float back = strtof(at, &end);
            size_t text_len = (size_t)(end - at);
            if (memcmp(&back, &v[i], sizeof back) != 0)
                fail_msg("%.9g written as %.*s", (double)v[i], (int)text_len, at);
            if (text_len + 1 > longest)
                longest = text_len + 1;
            /* No text with one digit fewer reads back to v[i]. */
            int digits = significant_digits(at, text_len);
            if (digits > 1) {
                char shorter[320];
                snprintf(shorter, sizeof shorter, "%.*g", digits - 1, (double)v[i]);
                if (strtof(shorter, NULL) == v[i])
                    fail_msg("%.*s is not shortest: %s", (int)text_len, at, shorter);
            }
            assert_int_equal(*end, i + 1 < N ? ',' : ']');
            at = end + 1;
        }
        if (round == 0) {
            cJSON *array = cJSON_Parse(out);
            assert_true(cJSON_IsArray(array));
            assert_int_equal(cJSON_GetArraySize(array), N);
            for (size_t i = 0; i < N; i++)
                assert_true((float)cJSON_GetArrayItem(array, (int)i)->valuedouble == v[i]);
            cJSON_Delete(array);
        }
    }
    assert_true(longest <= EMBSYNC_JSON_FLOAT_MAX);
    free(v);
    free(out);
}

static void refuses_what_json_cannot_hold(void **unused)
{
    (void)unused;
    char out[EMBSYNC_JSON_FLOAT_ARRAY_MAX(3)];
    const float nan_in[] = {1.0f, NAN, 2.0f};
    const float inf_in[] = {1.0f, 2.0f, -INFINITY};
    memset(out, 'x', sizeof out);
    assert_int_equal(write_array(nan_in, 3, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(write_array(inf_in, 3, out, sizeof out), 0);
    assert_string_equal(out, "");
}

static void refuses_a_short_buffer(void **unused)
{
    (void)unused;
    const float v[] = {0.25f, 0.5f, 0.75f};
    char out[EMBSYNC_JSON_FLOAT_ARRAY_MAX(3)];
    /* Even when the text itself would fit: the contract is the bound. */
    assert_int_equal(write_array(v, 3, out, sizeof out - 1), 0);
    assert_int_equal(write_array(v, 3, NULL, sizeof out), 0);
    assert_int_equal(write_array(v, 3, out, sizeof out), 15);
    assert_string_equal(out, "[0.25,0.5,0.75]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_values),
        cmocka_unit_test(empty_array),
        cmocka_unit_test(random_floats_round_trip),
        cmocka_unit_test(refuses_what_json_cannot_hold),
        cmocka_unit_test(refuses_a_short_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

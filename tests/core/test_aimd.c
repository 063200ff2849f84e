/* The AIMD limit: slow start, additive increase, halving once per round
 * trip on congestion or a latency far above the floor, the bounds, and a
 * fixed limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "aimd.h"

/* One success of a request sent at t taking `latency` seconds. */
static void ok_at(es_aimd *a, double t, double latency)
{
    es_aimd_sample(a, t, t + latency, ES_AIMD_OK);
}

static void slow_start_then_additive(void **unused)
{
    (void)unused;
    es_aimd a;
    es_aimd_init(&a, 64, 1, 0);
    assert_int_equal(es_aimd_window(&a), 1);
    /* Slow start: +1 per answer, so a round trip of w answers doubles w. */
    double t = 0;
    for (unsigned rtt = 0; rtt < 4; rtt++) {
        unsigned w = es_aimd_window(&a);
        for (unsigned i = 0; i < w; i++)
            ok_at(&a, t, 0.1);
        t += 0.1;
        assert_int_equal(es_aimd_window(&a), 2 * w);
    }
    assert_int_equal(es_aimd_window(&a), 16);
    /* A 429: halved, and slow start is over. */
    es_aimd_sample(&a, t, t + 0.01, ES_AIMD_CONGESTED);
    assert_int_equal(es_aimd_window(&a), 8);
    t += 0.1;
    /* Additive: each answer adds 1/window, so about one round trip of
     * answers (8, and one more as the window grows on the way) adds one. */
    for (unsigned i = 0; i < 8; i++)
        ok_at(&a, t, 0.1);
    assert_int_equal(es_aimd_window(&a), 8);
    ok_at(&a, t, 0.1);
    assert_int_equal(es_aimd_window(&a), 9);
    es_aimd_destroy(&a);
}

static void one_halving_per_round_trip(void **unused)
{
    (void)unused;
    es_aimd a;
    es_aimd_init(&a, 32, 1, 16);
    /* Sixteen requests sent at t=0 all answer 503: one halving, not four. */
    for (int i = 0; i < 16; i++)
        es_aimd_sample(&a, 0.0, 0.5 + i * 0.01, ES_AIMD_CONGESTED);
    assert_int_equal(es_aimd_window(&a), 8);
    /* One sent after that decrease is news: halved again. */
    es_aimd_sample(&a, 1.0, 1.2, ES_AIMD_CONGESTED);
    assert_int_equal(es_aimd_window(&a), 4);
    es_aimd_view v;
    es_aimd_read(&a, &v);
    assert_int_equal(v.decreases, 2);
    es_aimd_destroy(&a);
}

static void bounds(void **unused)
{
    (void)unused;
    es_aimd a;
    es_aimd_init(&a, 4, 1, 100);
    assert_int_equal(es_aimd_window(&a), 4); /* never above the ceiling */
    for (int i = 0; i < 100; i++)
        ok_at(&a, i, 0.1);
    assert_int_equal(es_aimd_window(&a), 4);
    for (int i = 0; i < 10; i++)
        es_aimd_sample(&a, 200.0 + i, 200.5 + i, ES_AIMD_CONGESTED);
    assert_int_equal(es_aimd_window(&a), 1); /* never below one */
    es_aimd_restart(&a, 2);
    assert_int_equal(es_aimd_window(&a), 2);
    es_aimd_destroy(&a);
}

static void latency_far_above_the_floor_is_congestion(void **unused)
{
    (void)unused;
    es_aimd a;
    es_aimd_init(&a, 32, 1, 8);
    ok_at(&a, 0, 0.100);                     /* floor 100 ms; window 9 */
    assert_int_equal(es_aimd_window(&a), 9);
    ok_at(&a, 1, 0.300);                     /* 3 × floor + slack: fine */
    assert_int_equal(es_aimd_window(&a), 10);
    ok_at(&a, 2, 3 * 0.100 + ES_AIMD_LATENCY_SLACK + 0.05); /* beyond: halved */
    assert_int_equal(es_aimd_window(&a), 5);
    es_aimd_destroy(&a);
}

static void fixed_is_the_ceiling(void **unused)
{
    (void)unused;
    es_aimd a;
    es_aimd_init(&a, 6, 0, 1);
    assert_int_equal(es_aimd_window(&a), 6);
    for (int i = 0; i < 5; i++)
        es_aimd_sample(&a, i, i + 0.1, ES_AIMD_CONGESTED);
    assert_int_equal(es_aimd_window(&a), 6);
    es_aimd_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slow_start_then_additive),
        cmocka_unit_test(one_halving_per_round_trip),
        cmocka_unit_test(bounds),
        cmocka_unit_test(latency_far_above_the_floor_is_congestion),
        cmocka_unit_test(fixed_is_the_ceiling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* hosts_off: hosts off per hour / day from stored power states, on sets worked out by hand:
 * a host going off mid-hour (powering_off counts as off), a gap in a host's samples (unknown,
 * not off), a host with no samples, `unknown` samples, state carried in from before --since,
 * partial buckets, the hold derived from the tick and its cap, day buckets, bad arguments. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hosts_off.h"

#define MS_MIN 60000LL
#define MS_H (60 * MS_MIN)
#define MS_DAY (24 * MS_H)
/* 2026-11-27T08:00:00Z */
#define T0 1795766400000LL
#define CAP (10 * MS_MIN)

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

struct set {
    struct hosts_off_sample s[128];
    size_t n;
};

static void add(struct set *st, size_t host, int64_t min_from_t0, enum hosts_off_state state)
{
    assert_true(st->n < sizeof st->s / sizeof st->s[0]);
    st->s[st->n++] = (struct hosts_off_sample){ host, T0 + min_from_t0 * MS_MIN, state };
}

/* Window 08:00..10:00, a 5-minute tick.
 * host 0: on 07:55..08:25, powering_off 08:30, off 08:35..09:55 (and on at 10:00, outside).
 *   08h: off 08:30-09:00 = 1800 s; 09h: off all 3600 s.
 * host 1: off 07:55..08:55 (07:55 carries into 08:00); no samples 09:00..09:15; waking 09:20,
 *   on 09:25..09:55. The 08:55 sample stands until 09:05 (hold = 2 ticks = 600 s), so
 *   09:05-09:20 is unknown. 08h: off all 3600 s; 09h: off 300 s, unknown 900 s.
 * 08h: mean off (1800 + 3600) / 3600 = 1.5, 1 off whole hour (host 1), unknown 0.
 * 09h: mean off (3600 + 300) / 3600 = 1.0833, 1 off whole hour (host 0), unknown 0.25. */
static void seed_two_hosts(struct set *st)
{
    for (int m = -5; m <= 115; m += 5)
        add(st, 0, m, m < 30 ? HOSTS_OFF_STATE_UP : HOSTS_OFF_STATE_OFF);
    add(st, 0, 120, HOSTS_OFF_STATE_UP);
    for (int m = -5; m <= 55; m += 5)
        add(st, 1, m, HOSTS_OFF_STATE_OFF);
    for (int m = 80; m <= 115; m += 5)
        add(st, 1, m, HOSTS_OFF_STATE_UP);
}

static void test_mid_hour_and_gap(void **state)
{
    (void)state;
    struct set st = { .n = 0 };
    seed_two_hosts(&st);
    struct hosts_off r;
    struct joule_err e = { 0 };
    assert_int_equal(hosts_off_compute(st.s, st.n, 2, T0, T0 + 2 * MS_H, MS_H, CAP, &r, &e), 0);
    assert_int_equal(r.interval_ms, 5 * MS_MIN);
    assert_int_equal(r.hold_ms, 10 * MS_MIN);
    assert_int_equal(r.n_buckets, 2);
    assert_int_equal(r.buckets[0].start_ms, T0);
    assert_int_equal(r.buckets[1].start_ms, T0 + MS_H);
    NEAR(r.buckets[0].mean_off, 1.5);
    assert_int_equal(r.buckets[0].off_whole, 1);
    NEAR(r.buckets[0].mean_unknown, 0);
    NEAR(r.buckets[1].mean_off, 3900.0 / 3600.0);
    assert_int_equal(r.buckets[1].off_whole, 1);
    NEAR(r.buckets[1].mean_unknown, 0.25);
    assert_int_equal(r.off_ms[0 * 2 + 0], 30 * MS_MIN);
    assert_int_equal(r.off_ms[0 * 2 + 1], MS_H);
    assert_int_equal(r.off_ms[1 * 2 + 0], MS_H);
    assert_int_equal(r.off_ms[1 * 2 + 1], 5 * MS_MIN);
    hosts_off_free(&r);
}

/* A third host the report knows but has no sample of is unknown all along, never off. */
static void test_host_without_samples(void **state)
{
    (void)state;
    struct set st = { .n = 0 };
    seed_two_hosts(&st);
    struct hosts_off r;
    assert_int_equal(hosts_off_compute(st.s, st.n, 3, T0, T0 + 2 * MS_H, MS_H, CAP, &r, NULL), 0);
    NEAR(r.buckets[0].mean_off, 1.5);
    NEAR(r.buckets[0].mean_unknown, 1.0);
    NEAR(r.buckets[1].mean_unknown, 1.25);
    assert_int_equal(r.buckets[0].off_whole, 1);
    assert_int_equal(r.off_ms[0 * 3 + 2], 0);
    hosts_off_free(&r);
}

/* `unknown` samples count as unknown; a sample older than the hold does not reach the window;
 * samples at or after --until are ignored. */
static void test_unknown_state_and_edges(void **state)
{
    (void)state;
    struct set st = { .n = 0 };
    add(&st, 0, -11, HOSTS_OFF_STATE_OFF);     /* 07:49 + 10 min < 08:00: does not reach */
    add(&st, 0, 10, HOSTS_OFF_STATE_OFF);      /* 08:10-08:15 */
    add(&st, 0, 15, HOSTS_OFF_STATE_UNKNOWN);  /* 08:15-08:20 unknown */
    add(&st, 0, 20, HOSTS_OFF_STATE_OFF);      /* 08:20-08:25 */
    add(&st, 0, 25, HOSTS_OFF_STATE_UP);       /* 08:25-08:35 */
    add(&st, 0, 60, HOSTS_OFF_STATE_OFF);      /* at --until: ignored */
    struct hosts_off r;
    assert_int_equal(hosts_off_compute(st.s, st.n, 1, T0, T0 + MS_H, MS_H, CAP, &r, NULL), 0);
    /* intervals 21, 5, 5, 5, 35 min: median 5 min, hold 10 min */
    assert_int_equal(r.hold_ms, 10 * MS_MIN);
    assert_int_equal(r.n_buckets, 1);
    NEAR(r.buckets[0].mean_off, 10.0 / 60.0);
    /* known: 08:10-08:15, 08:20-08:35 = 20 min; unknown 40 min */
    NEAR(r.buckets[0].mean_unknown, 40.0 / 60.0);
    assert_int_equal(r.buckets[0].off_whole, 0);
    hosts_off_free(&r);
}

/* --since 08:30, --until 10:15: buckets 08h (08:30-09:00), 09h, 10h (10:00-10:15), each mean
 * over its own part; a host off all of a partial bucket is off for the whole of it. */
static void test_partial_buckets(void **state)
{
    (void)state;
    struct set st = { .n = 0 };
    for (int m = 25; m < 140; m += 5)
        add(&st, 0, m, m < 100 ? HOSTS_OFF_STATE_OFF : HOSTS_OFF_STATE_UP);
    struct hosts_off r;
    assert_int_equal(hosts_off_compute(st.s, st.n, 1, T0 + 30 * MS_MIN, T0 + 135 * MS_MIN, MS_H,
                                       CAP, &r, NULL),
                     0);
    assert_int_equal(r.n_buckets, 3);
    assert_int_equal(r.buckets[0].start_ms, T0);
    assert_int_equal(r.buckets[0].from_ms, T0 + 30 * MS_MIN);
    assert_int_equal(r.buckets[2].to_ms, T0 + 135 * MS_MIN);
    NEAR(r.buckets[0].mean_off, 1.0);
    assert_int_equal(r.buckets[0].off_whole, 1);
    /* 09h: off until 09:40 */
    NEAR(r.buckets[1].mean_off, 40.0 / 60.0);
    assert_int_equal(r.buckets[1].off_whole, 0);
    NEAR(r.buckets[2].mean_off, 0);
    NEAR(r.buckets[2].mean_unknown, 0);
    hosts_off_free(&r);
}

/* The hold: 2 ticks, capped at the cap, but never shorter than one tick. */
static void test_hold(void **state)
{
    (void)state;
    struct hosts_off r;
    struct set st = { .n = 0 };
    /* a 400 s tick: 2 ticks = 800 s > cap 600 s: hold 600 s */
    for (int k = 0; k < 9; k++)
        st.s[st.n++] = (struct hosts_off_sample){ 0, T0 + k * 400000LL, HOSTS_OFF_STATE_OFF };
    assert_int_equal(hosts_off_compute(st.s, st.n, 1, T0, T0 + MS_H, MS_H, CAP, &r, NULL), 0);
    assert_int_equal(r.interval_ms, 400000);
    assert_int_equal(r.hold_ms, CAP);
    NEAR(r.buckets[0].mean_off, 1.0); /* 9 x 400 s = 3600 s */
    hosts_off_free(&r);
    /* a 20-minute tick (longer than the cap): each sample stands for its tick */
    st.n = 0;
    for (int m = 0; m < 60; m += 20)
        add(&st, 0, m, HOSTS_OFF_STATE_OFF);
    assert_int_equal(hosts_off_compute(st.s, st.n, 1, T0, T0 + MS_H, MS_H, CAP, &r, NULL), 0);
    assert_int_equal(r.hold_ms, 20 * MS_MIN);
    NEAR(r.buckets[0].mean_off, 1.0);
    assert_int_equal(r.buckets[0].off_whole, 1);
    hosts_off_free(&r);
    /* one sample each: no interval; the cap */
    st.n = 0;
    add(&st, 0, 10, HOSTS_OFF_STATE_OFF);
    add(&st, 1, 30, HOSTS_OFF_STATE_OFF);
    assert_int_equal(hosts_off_compute(st.s, st.n, 2, T0, T0 + MS_H, MS_H, CAP, &r, NULL), 0);
    assert_int_equal(r.interval_ms, 0);
    assert_int_equal(r.hold_ms, CAP);
    NEAR(r.buckets[0].mean_off, 20.0 / 60.0);
    hosts_off_free(&r);
}

/* Day buckets, samples given out of order. */
static void test_days_unsorted(void **state)
{
    (void)state;
    struct set st = { .n = 0 };
    /* day 1 (from 00:00Z = T0 - 8 h): off 02:00-14:00 at a 10-minute tick; day 2 unseen */
    int64_t day0 = T0 - 8 * MS_H;
    for (int m = 14 * 60 - 10; m >= 0; m -= 10) {
        st.s[st.n++] = (struct hosts_off_sample){ 0, day0 + m * MS_MIN,
                                                  m >= 120 ? HOSTS_OFF_STATE_OFF
                                                           : HOSTS_OFF_STATE_UP };
        assert_true(st.n < sizeof st.s / sizeof st.s[0]);
    }
    struct hosts_off r;
    assert_int_equal(hosts_off_compute(st.s, st.n, 1, day0, day0 + 2 * MS_DAY, MS_DAY, CAP, &r,
                                       NULL),
                     0);
    assert_int_equal(r.n_buckets, 2);
    NEAR(r.buckets[0].mean_off, 12.0 / 24.0);
    NEAR(r.buckets[0].mean_unknown, 10.0 / 24.0); /* 14:00-24:00 */
    NEAR(r.buckets[1].mean_unknown, 1.0);
    assert_int_equal(r.buckets[1].off_whole, 0);
    for (size_t i = 1; i < st.n; i++)
        assert_true(st.s[i - 1].t_ms <= st.s[i].t_ms);
    hosts_off_free(&r);
}

static void test_parse_and_errors(void **state)
{
    (void)state;
    enum hosts_off_state s;
    assert_int_equal(hosts_off_state_parse("off", &s), 0);
    assert_int_equal(s, HOSTS_OFF_STATE_OFF);
    assert_int_equal(hosts_off_state_parse("powering_off", &s), 0);
    assert_int_equal(s, HOSTS_OFF_STATE_OFF);
    assert_int_equal(hosts_off_state_parse("waking", &s), 0);
    assert_int_equal(s, HOSTS_OFF_STATE_UP);
    assert_int_equal(hosts_off_state_parse("draining", &s), 0);
    assert_int_equal(s, HOSTS_OFF_STATE_UP);
    assert_int_equal(hosts_off_state_parse("on", &s), 0);
    assert_int_equal(s, HOSTS_OFF_STATE_UP);
    assert_int_equal(hosts_off_state_parse("unknown", &s), 0);
    assert_int_equal(s, HOSTS_OFF_STATE_UNKNOWN);
    assert_int_equal(hosts_off_state_parse("standby", &s), -1);
    assert_int_equal(hosts_off_state_parse("", &s), -1);
    assert_int_equal(hosts_off_state_parse(NULL, &s), -1);

    struct hosts_off r;
    struct joule_err e = { 0 };
    struct hosts_off_sample one = { 2, T0, HOSTS_OFF_STATE_OFF };
    assert_int_equal(hosts_off_compute(&one, 1, 2, T0, T0 + MS_H, MS_H, CAP, &r, &e), JOULE_EINVAL);
    assert_non_null(strstr(e.msg, "host 2 of 2"));
    assert_int_equal(hosts_off_compute(NULL, 0, 1, T0, T0, MS_H, CAP, &r, &e), JOULE_EINVAL);
    assert_int_equal(hosts_off_compute(NULL, 0, 1, T0, T0 + MS_H, 0, CAP, &r, &e), JOULE_EINVAL);
    assert_int_equal(hosts_off_compute(NULL, 0, 1, T0, T0 + MS_H, MS_H, 0, &r, &e), JOULE_EINVAL);
    e.msg[0] = '\0';
    assert_int_equal(hosts_off_compute(NULL, 0, 1, 0, (int64_t)HOSTS_OFF_MAX_BUCKETS * MS_H, MS_H,
                                       CAP, &r, &e),
                     JOULE_EINVAL);
    assert_non_null(strstr(e.msg, "buckets"));
    /* the limit itself is fine; nothing known: all unknown */
    assert_int_equal(hosts_off_compute(NULL, 0, 1, 0, (int64_t)(HOSTS_OFF_MAX_BUCKETS - 1) * MS_H,
                                       MS_H, CAP, &r, &e),
                     0);
    assert_int_equal(r.n_buckets, HOSTS_OFF_MAX_BUCKETS - 1);
    NEAR(r.buckets[0].mean_unknown, 1.0);
    hosts_off_free(&r);
    hosts_off_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mid_hour_and_gap),   cmocka_unit_test(test_host_without_samples),
        cmocka_unit_test(test_unknown_state_and_edges), cmocka_unit_test(test_partial_buckets),
        cmocka_unit_test(test_hold),               cmocka_unit_test(test_days_unsorted),
        cmocka_unit_test(test_parse_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_replay_day.c - full PlanetLab days through the replay simulator (tests/data copy of
 * 20110303): bit-for-bit determinism, and CloudSim's Dvfs baseline as a pure check of the
 * simulator (no policy involved). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "replay.h"
#include "support/test_support.h"

static char *data_dir(const char *rel)
{
    char *p = joule_test_source_path(rel);
    return p;
}

static void run_day(enum policy_algorithm alg, struct replay_result *r, bool series)
{
    char *dir = data_dir("tests/data/planetlab/20110303");
    struct replay_workload *w = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(replay_load_planetlab(dir, NULL, &w, &err), 0);
    assert_int_equal(w->n_vms, 1052);
    struct replay_opts o;
    replay_opts_defaults(&o);
    size_t nh;
    o.hosts = replay_cloudsim_hosts(&nh);
    o.n_hosts = nh;
    o.policy.algorithm = alg;
    o.keep_series = series;
    assert_int_equal(replay_run(w, &o, r, &err), 0);
    replay_workload_free(w);
    free(dir);
}

/* Same input -> same output, to the last bit, series included. */
static void test_deterministic(void **state)
{
    (void)state;
    struct replay_result a, b;
    run_day(POLICY_ALGORITHM_JOULE, &a, true);
    run_day(POLICY_ALGORITHM_JOULE, &b, true);
    assert_true(a.migrations > 0);
    assert_memory_equal(&a.energy_kwh, &b.energy_kwh, sizeof a.energy_kwh);
    assert_int_equal(a.migrations, b.migrations);
    assert_memory_equal(&a.slatah, &b.slatah, sizeof a.slatah);
    assert_memory_equal(&a.pdm, &b.pdm, sizeof a.pdm);
    assert_int_equal(a.host_shutdowns, b.host_shutdowns);
    assert_int_equal(a.n_series, b.n_series);
    assert_int_equal(a.n_series, 287);
    assert_memory_equal(a.series, b.series, a.n_series * sizeof *a.series);
    replay_result_free(&a);
    replay_result_free(&b);
}

/* CloudSim's Dvfs (first fit, no migration) is a pure check of the simulator: README table b
 * gives 802.75 kWh and 455 host shutdowns. */
static void test_dvfs_matches_cloudsim(void **state)
{
    (void)state;
    char *dir = data_dir("tests/data/planetlab/20110303");
    struct replay_workload *w = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(replay_load_planetlab(dir, NULL, &w, &err), 0);
    struct replay_opts o;
    replay_opts_defaults(&o);
    size_t nh;
    o.hosts = replay_cloudsim_hosts(&nh);
    o.n_hosts = nh;
    o.migrations = false;
    o.placement = REPLAY_PLACEMENT_FIRST_FIT;
    struct replay_result r;
    assert_int_equal(replay_run(w, &o, &r, &err), 0);
    printf("dvfs 20110303 sorted: %.4f kWh (CloudSim 802.75), %llu shutdowns (455)\n",
           r.energy_kwh, (unsigned long long)r.host_shutdowns);
    assert_true(fabs(r.energy_kwh - 802.75) < 0.01);
    assert_int_equal(r.host_shutdowns, 455);
    replay_result_free(&r);
    replay_workload_free(w);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dvfs_matches_cloudsim),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

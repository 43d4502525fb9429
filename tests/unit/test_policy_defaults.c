/* The policy defaults live in two tables: config_defaults() (what jouled reads when a key is
 * absent) and policy_cfg_defaults() (the pure library's own, used by replay, bench and tests).
 * They must agree, or jouled and replay would decide differently on the same cluster. */
#include "support/test_support.h"

#include "config.h"
#include "policy/policy.h"
#include "policy_glue.h"

static void test_config_defaults_equal_policy_defaults(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    char *errors = NULL;
    assert_int_equal(config_load_string("api = { listen = \"\"; };", &cfg, &errors), 0);
    struct policy_cfg from_config, lib;
    policy_cfg_from_config(cfg, &from_config);
    policy_cfg_defaults(&lib);
    /* the decision interval is not a policy setting: jouled sets it from periodic_s, replay
     * from its trace step */
    from_config.interval_s = lib.interval_s;
    /* every field of struct policy_cfg (field by field: padding makes memcmp unreliable) */
    assert_int_equal(from_config.algorithm, lib.algorithm);
    assert_int_equal(from_config.balance, lib.balance);
    assert_int_equal(from_config.max_moves_per_round, lib.max_moves_per_round);
    assert_int_equal(from_config.vm_cooldown_ns, lib.vm_cooldown_ns);
    assert_int_equal(from_config.host_min_off_ns, lib.host_min_off_ns);
    assert_int_equal(from_config.seed, lib.seed);
    assert_int_equal(from_config.lr_history, lib.lr_history);
    assert_int_equal(from_config.joule_window, lib.joule_window);
    assert_int_equal(from_config.limits_at_creation_only, lib.limits_at_creation_only);
    assert_float_equal(from_config.th1_pct, lib.th1_pct, 0);
    assert_float_equal(from_config.th2_factor, lib.th2_factor, 0);
    assert_float_equal(from_config.placement_target_pct, lib.placement_target_pct, 0);
    assert_float_equal(from_config.balance_gap_pct, lib.balance_gap_pct, 0);
    assert_float_equal(from_config.interval_s, lib.interval_s, 0);
    assert_float_equal(from_config.migration_mib_s, lib.migration_mib_s, 0);
    assert_float_equal(from_config.thr_threshold, lib.thr_threshold, 0);
    assert_float_equal(from_config.lr_safety, lib.lr_safety, 0);
    assert_float_equal(from_config.lr_fallback_threshold, lib.lr_fallback_threshold, 0);
    assert_float_equal(from_config.joule_percentile, lib.joule_percentile, 0);
    assert_float_equal(from_config.joule_target_pct, lib.joule_target_pct, 0);
    assert_float_equal(from_config.joule_high_pct, lib.joule_high_pct, 0);
    assert_float_equal(from_config.joule_low_pct, lib.joule_low_pct, 0);
    assert_float_equal(from_config.joule_headroom_pct, lib.joule_headroom_pct, 0);
    assert_float_equal(from_config.joule_min_gain_wh, lib.joule_min_gain_wh, 0);
    assert_float_equal(from_config.joule_horizon_s, lib.joule_horizon_s, 0);
    assert_float_equal(from_config.joule_migration_w, lib.joule_migration_w, 0);
    assert_float_equal(from_config.th2_dead_band_pct, lib.th2_dead_band_pct, 0);
    assert_int_equal(from_config.host_min_on_ns, lib.host_min_on_ns);
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_equal_policy_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

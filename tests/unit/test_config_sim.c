/* The sim config group (the simulated cluster jouled builds for the demo and tests) and the
 * settings added for the loop: overload cooldown, expected peak load. Errors name file:line. */
#include "support/test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *const hosts =
    "api = { listen = \"\"; };\n"
    "hosts = ( { name = \"s1\"; hypervisor = \"sim\"; cpus = 8; },\n"
    "          { name = \"s2\"; hypervisor = \"sim\"; } );\n";

static struct config *ok(const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s", hosts, extra);
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load_string(text, &cfg, &errors) < 0)
        fail_msg("%s", errors);
    return cfg;
}

static char *bad(const char *text)
{
    struct config *cfg = NULL;
    char *errors = NULL;
    assert_int_equal(config_load_string(text, &cfg, &errors), JOULE_ECONFIG);
    assert_null(cfg);
    return errors;
}

static void test_sim_group(void **state)
{
    (void)state;
    struct config *cfg = ok("sim = { start = \"2026-11-23T00:00:00Z\"; time_factor = 1440; "
                            "duration_s = 86400; migration_mibps = 500;\n"
                            "  vms = ( { name = \"v1\"; host = \"s1\"; vcpus = 2; memory_mib = 512; "
                            "base = 0.1; amplitude = 0.6; trough_h = 4.5; period_h = 12; },\n"
                            "          { name = \"v2\"; host = \"s2\"; } ); };\n"
                            "policy = { overload_cooldown_s = 30; };\n"
                            "schedule = { peak_expected_load_pct = 45; };\n");
    assert_true(cfg->sim.enabled);
    assert_true(cfg->sim.start_ns == 1795392000LL * JOULE_NS_PER_S);
    assert_true(cfg->sim.time_factor == 1440);
    assert_true(cfg->sim.duration_ns == 86400LL * JOULE_NS_PER_S);
    assert_true(cfg->sim.migration_mibps == 500);
    assert_int_equal(cfg->sim.n_vms, 2);
    assert_string_equal(cfg->sim.vms[0].host, "s1");
    assert_int_equal(cfg->sim.vms[0].vcpus, 2);
    assert_true(cfg->sim.vms[0].trough_ns == 16200LL * JOULE_NS_PER_S);
    assert_true(cfg->sim.vms[0].period_ns == 12LL * 3600 * JOULE_NS_PER_S);
    assert_int_equal(cfg->sim.vms[1].vcpus, 1); /* defaults */
    assert_true(cfg->sim.vms[1].period_ns == 24LL * 3600 * JOULE_NS_PER_S);
    assert_true(cfg->policy.overload_cooldown_ns == 30LL * JOULE_NS_PER_S);
    assert_true(cfg->schedule.peak_expected_load_pct == 45);
    config_free(cfg);
    cfg = ok("");
    assert_false(cfg->sim.enabled); /* sim hosts without the group load (replay builds its own) */
    assert_true(cfg->policy.overload_cooldown_ns == 120LL * JOULE_NS_PER_S);
    config_free(cfg);
}

static void test_sim_errors_name_lines(void **state)
{
    (void)state;
    char *e = bad("api = { listen = \"\"; };\n"
                  "hosts = ( { name = \"s1\"; hypervisor = \"sim\"; } );\n"
                  "sim = { start = \"yesterday\";\n"
                  "  vms = ( { name = \"v1\"; host = \"nope\"; },\n"
                  "          { name = \"v2\"; host = \"s1\"; base = 0.7; amplitude = 0.5; },\n"
                  "          { name = \"v2\"; host = \"s1\"; colour = 1; } ); };\n");
    assert_non_null(strstr(e, "<string>:3: start: \"yesterday\" is not a UTC time"));
    assert_non_null(strstr(e, "<string>:4: host: \"nope\" is not a configured host"));
    assert_non_null(strstr(e, ":5: amplitude: base 0.7 + amplitude 0.5 is above 1"));
    assert_non_null(strstr(e, ":6: name: VM \"v2\" is listed twice"));
    assert_non_null(strstr(e, "colour"));
    free(e);
    e = bad("api = { listen = \"\"; };\n"
            "hosts = ( { name = \"s1\"; hypervisor = \"sim\"; },\n"
            "          { name = \"real\"; uri = \"qemu:///system\"; } );\n"
            "sim = { vms = ( ); };\n");
    assert_non_null(strstr(e, "<string>:3: hypervisor: host \"real\" is not a sim host"));
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_group),
        cmocka_unit_test(test_sim_errors_name_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

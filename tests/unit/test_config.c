/* Config: a good file, each kind of bad value, unknown keys, parse errors, private files. */
#include "support/test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "util/xalloc.h"

struct fx {
    char *dir;
};

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    f->dir = joule_test_tmpdir("config");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    joule_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static const char *GOOD =
    "cluster = \"lab\";\n"                                   /* 1 */
    "mode = \"dry-run\";\n"                                  /* 2 */
    "tick_s = 5;\n"                                          /* 3 */
    "load_window_s = 30;\n"                                  /* 4 */
    "policy = { th1_pct = 75; th2_factor = 0.7; balance = \"bands\"; min_active_hosts = 2; };\n"
    "schedule = { peak = [ \"mon-fri 08:00-18:00\" ]; off_peak = [ \"daily 22:00-06:00\" ]; };\n"
    "migration = { in_flight = 3; per_source = 1; timeout_s = 120; flags = [ \"live\", \"peer2peer\" ]; };\n"
    "meter = { protocol = \"xbee2\"; port = \"/dev/ttyUSB0\"; baud = 115200; };\n"
    "store = { uri = \"mongodb://127.0.0.1:27017/j\"; };\n"
    "api = { listen = \"\"; };\n"
    "pinned_vms = [ \"db1\" ];\n"
    "hosts = (\n"
    "  { name = \"a\"; uri = \"qemu:///system\"; cpus = 4; memory_mib = 8192;\n"
    "    meter = \"00:13:a2:00:40:a1:b2:c1\"; idle_w = 60; max_w = 120;\n"
    "    power = { methods = [ \"exec\", \"wol\" ]; wol = { mac = \"52:54:00:00:00:01\"; };\n"
    "              exec = { on = [ \"/bin/true\", \"{host}\" ]; off = [ \"/bin/true\" ]; }; }; },\n"
    "  { name = \"b\"; uri = \"qemu:///system\"; priority = 3; }\n"
    ");\n";

static void test_good_file(void **state)
{
    struct fx *f = *state;
    char *path = joule_test_write_file(f->dir, "good.conf", GOOD, 0644);
    struct config *cfg = NULL;
    char *errors = NULL;
    int rc = config_load(path, &cfg, &errors);
    if (rc < 0)
        fprintf(stderr, "%s", errors);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg->cluster, "lab");
    assert_int_equal(cfg->mode, CONFIG_MODE_DRY_RUN);
    assert_int_equal(cfg->tick_ns, 5 * JOULE_NS_PER_S);
    assert_true(cfg->policy.th1_pct == 75);
    assert_true(cfg->policy.placement_target_pct == 75); /* follows th1 unless set */
    assert_true(cfg->policy.th2_factor == 0.7);
    assert_int_equal(cfg->policy.balance, CONFIG_BALANCE_BANDS);
    assert_int_equal(cfg->policy.min_active_hosts, 2);
    assert_int_equal(cfg->schedule.n_peak, 1);
    assert_int_equal(cfg->schedule.peak[0].days, 0x1f);
    assert_int_equal(cfg->schedule.peak[0].start_min, 8 * 60);
    assert_int_equal(cfg->migration.in_flight, 3);
    assert_int_equal(cfg->migration.flags, CONFIG_MIGRATE_LIVE | CONFIG_MIGRATE_PEER2PEER);
    assert_int_equal(cfg->meter.protocol, CONFIG_METER_XBEE2);
    assert_int_equal(cfg->meter.baud, 115200);
    assert_int_equal(cfg->n_hosts, 2);
    assert_string_equal(cfg->hosts[0].name, "a");
    assert_true(cfg->hosts[0].cpus == 4);
    assert_true(cfg->hosts[0].meter_ieee == 0x0013a20040a1b2c1ULL);
    assert_int_equal(cfg->hosts[0].n_methods, 2);
    assert_int_equal(cfg->hosts[0].methods[0], CONFIG_POWER_EXEC);
    assert_int_equal(cfg->hosts[0].wol.mac_bytes[5], 1);
    assert_string_equal(cfg->hosts[0].exec.on[1], "{host}");
    assert_string_equal(cfg->hosts[1].migration_uri, "qemu:///system");
    assert_true(cfg->hosts[1].idle_w == 100); /* defaults */
    assert_true(config_vm_pinned(cfg, "db1"));
    assert_false(config_vm_pinned(cfg, "web1"));
    assert_int_equal(config_host_index(cfg, "b"), 1);
    config_free(cfg);
    free(path);
}

static void test_defaults_match_design(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    char *errors = NULL;
    assert_int_equal(config_load_string("api = { listen = \"\"; };", &cfg, &errors), 0);
    /* DESIGN.md's defaults table */
    assert_true(cfg->policy.th1_pct == 80);
    assert_true(cfg->policy.th2_factor == 0.8);
    assert_true(cfg->policy.overload_pct == 90);
    assert_true(cfg->policy.balance_gap_pct == 10);
    assert_int_equal(cfg->tick_ns, 10 * JOULE_NS_PER_S);
    assert_int_equal(cfg->load_window_ns, 60 * JOULE_NS_PER_S);
    assert_int_equal(cfg->periodic_ns, 600 * JOULE_NS_PER_S);
    assert_int_equal(cfg->policy.min_active_hosts, 1);
    assert_int_equal(cfg->policy.vm_cooldown_ns, 1800 * JOULE_NS_PER_S);
    assert_int_equal(cfg->policy.host_min_off_ns, 1800 * JOULE_NS_PER_S);
    assert_int_equal(cfg->policy.max_moves_per_round, 4);
    assert_int_equal(cfg->migration.timeout_ns, 300 * JOULE_NS_PER_S);
    assert_int_equal(cfg->migration.in_flight, 2);
    assert_int_equal(cfg->migration.per_source, 1);
    config_free(cfg);
}

/* Loads text expecting failure; returns the error text (caller frees). */
static char *load_bad(struct fx *f, const char *text)
{
    char *path = joule_test_write_file(f->dir, "bad.conf", text, 0644);
    struct config *cfg = NULL;
    char *errors = NULL;
    assert_int_equal(config_load(path, &cfg, &errors), JOULE_ECONFIG);
    assert_null(cfg);
    assert_non_null(errors);
    free(path);
    return errors;
}

static void expect_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, hay);
}

static void test_out_of_range_names_file_line_key(void **state)
{
    struct fx *f = *state;
    char *e = load_bad(f, "api = { listen = \"\"; };\n"
                          "policy = {\n"
                          "  th1_pct = 180;\n"
                          "};\n");
    char *want = xasprintf("%s/bad.conf:3: th1_pct: 180 is out of range (1..100)", f->dir);
    expect_contains(e, want);
    free(want);
    free(e);
}

static void test_every_error_reported(void **state)
{
    struct fx *f = *state;
    char *e = load_bad(f, "api = { listen = \"\"; };\n"          /* 1 */
                          "tick_s = \"ten\";\n"                   /* 2 wrong type */
                          "mode = \"yolo\";\n"                    /* 3 bad enum */
                          "colour = 3;\n"                         /* 4 unknown key */
                          "policy = { th2_factor = 1.5; wobble = 1; };\n" /* 5: range + unknown */
                          "schedule = { peak = [ \"someday 08:00-18:00\" ]; };\n" /* 6 */
                          "hosts = ( { name = \"a\"; uri = \"x\"; meter = \"zz\"; },\n" /* 7 */
                          "          { name = \"a\"; uri = \"x\"; power = { methods = [\"ipmi\"]; }; } );\n");
    expect_contains(e, ":2: tick_s: expected a number, found a string");
    expect_contains(e, ":3: mode: \"yolo\" is not allowed (auto, dry-run)");
    expect_contains(e, ":4: colour: unknown setting");
    expect_contains(e, ":5: th2_factor: 1.5 is out of range (0.01..1)");
    expect_contains(e, ":5: wobble: unknown setting in policy");
    expect_contains(e, ":6: peak: \"someday 08:00-18:00\": bad day list");
    expect_contains(e, ":7: meter: \"zz\" is not an IEEE address");
    expect_contains(e, "name: \"a\" is already the name of the host at line 7");
    expect_contains(e, "methods: ipmi needs power.ipmi.host");
    expect_contains(e, "secrets_file: IPMI power control needs a secrets file");
    free(e);
}

static void test_parse_error_has_line(void **state)
{
    struct fx *f = *state;
    char *e = load_bad(f, "cluster = \"x\";\n\npolicy = { th1_pct = ; };\n");
    char *want = xasprintf("%s/bad.conf:3: ", f->dir);
    expect_contains(e, want);
    free(want);
    free(e);
}

static void test_missing_file(void **state)
{
    struct fx *f = *state;
    char *path = xasprintf("%s/nope.conf", f->dir);
    struct config *cfg = NULL;
    char *errors = NULL;
    assert_int_equal(config_load(path, &cfg, &errors), JOULE_ECONFIG);
    expect_contains(errors, "nope.conf:0: cannot read the file");
    free(errors);
    free(path);
}

static void test_cross_field_checks(void **state)
{
    struct fx *f = *state;
    char *e = load_bad(f, "api = { listen = \"\"; };\n"
                          "tick_s = 30;\n"
                          "load_window_s = 10;\n"
                          "migration = { in_flight = 1; per_source = 2; };\n"
                          "hosts = ( { name = \"a\"; uri = \"x\"; idle_w = 200; max_w = 100; } );\n"
                          "meter = { protocol = \"znp\"; };\n");
    expect_contains(e, ":3: load_window_s: 10 s is shorter than tick_s 30 s");
    expect_contains(e, ":4: per_source: 2 is above in_flight 1");
    expect_contains(e, ":5: max_w: 100 is below idle_w 200");
    expect_contains(e, "port: meter protocol znp needs a serial port");
    free(e);
}

static void test_secrets_permissions(void **state)
{
    struct fx *f = *state;
    char *sec = joule_test_write_file(f->dir, "secrets.conf",
                                      "hosts = ( { name = \"a\"; ipmi_user = \"u\"; "
                                      "ipmi_password = \"p\"; } );\n",
                                      0644);
    char *text = xasprintf("api = { listen = \"\"; };\nsecrets_file = \"%s\";\n"
                           "hosts = ( { name = \"a\"; uri = \"x\"; power = { methods = [\"ipmi\"]; "
                           "ipmi = { host = \"127.0.0.1:9623\"; }; }; } );\n",
                           sec);
    char *e = load_bad(f, text);
    expect_contains(e, ":2: secrets_file: ");
    expect_contains(e, "mode 0644 gives group/other access (use 0600 or 0400)");
    free(e);

    /* 0600: accepted, and the password reaches the host */
    chmod(sec, 0600);
    char *path = joule_test_write_file(f->dir, "ok.conf", text, 0644);
    struct config *cfg = NULL;
    char *errors = NULL;
    int rc = config_load(path, &cfg, &errors);
    if (rc < 0)
        fprintf(stderr, "%s", errors);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg->hosts[0].ipmi.password, "p");
    assert_string_equal(cfg->hosts[0].ipmi.user, "u");
    config_free(cfg);
    free(path);
    free(text);
    free(sec);
}

static void test_token_file_permissions(void **state)
{
    struct fx *f = *state;
    char *tok = joule_test_write_file(f->dir, "api.token", "0123456789abcdef0123\n", 0640);
    char *text = xasprintf("api = { token_file = \"%s\"; };\n", tok);
    char *e = load_bad(f, text);
    expect_contains(e, "token_file: ");
    expect_contains(e, "mode 0640 gives group/other access");
    free(e);
    chmod(tok, 0400);
    char *path = joule_test_write_file(f->dir, "ok.conf", text, 0644);
    struct config *cfg = NULL;
    char *errors = NULL;
    assert_int_equal(config_load(path, &cfg, &errors), 0);
    assert_string_equal(cfg->api.token, "0123456789abcdef0123");
    config_free(cfg);
    free(path);
    free(text);
    free(tok);
}

static void test_windows(void **state)
{
    (void)state;
    struct config_window w;
    struct joule_err err;
    assert_int_equal(config_window_parse("mon-fri 08:00-18:00", &w, &err), 0);
    assert_true(config_window_contains(&w, 0, 8 * 60));
    assert_false(config_window_contains(&w, 0, 18 * 60));
    assert_false(config_window_contains(&w, 5, 9 * 60)); /* saturday */
    free(w.text);
    assert_int_equal(config_window_parse("fri 22:00-06:00", &w, &err), 0);
    assert_true(config_window_contains(&w, 4, 23 * 60));
    assert_true(config_window_contains(&w, 5, 5 * 60)); /* saturday morning: started friday */
    assert_false(config_window_contains(&w, 0, 5 * 60));
    free(w.text);
    assert_int_equal(config_window_parse("sat,sun 00:00-24:00", &w, &err), 0);
    assert_int_equal(w.days, 0x60);
    free(w.text);
    assert_int_equal(config_window_parse("fri-mon 10:00-11:00", &w, &err), 0);
    assert_int_equal(w.days, 0x71); /* fri sat sun mon */
    free(w.text);
    assert_true(config_window_parse("mon 25:00-26:00", &w, &err) < 0);
    assert_true(config_window_parse("mon 08:00-08:00", &w, &err) < 0);
    assert_true(config_window_parse("08:00-09:00", &w, &err) < 0);
}

static void test_example_config_is_valid(void **state)
{
    (void)state;
    char *path = joule_test_source_path("etc/jouled.conf.example");
    struct config *cfg = NULL;
    char *errors = NULL;
    int rc = config_load(path, &cfg, &errors);
    if (rc < 0)
        fprintf(stderr, "%s", errors);
    assert_int_equal(rc, 0);
    assert_true(cfg->n_hosts >= 2);
    config_free(cfg);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_match_design, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range_names_file_line_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_error_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_error_has_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cross_field_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_file_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_example_config_is_valid, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* IPMI power control against two real BMC simulators (OpenIPMI ipmi_sim) on 127.0.0.1, started
 * and stopped by this test: the ipmi driver's status/on/off round trips, the state machine's
 * soft off -> hard off fallback and its verification by IPMI status, a wrong password, a BMC
 * that does not answer (SIGSTOPped) -> timeout -> fallback to the next method, and
 * `joulectl power`. Driver calls run on the state machine's worker threads with the real clock.
 * Prints the time per IPMI call and from "wake" to "on verified". */
#include "support/test_support.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "ipmi_sim_lab.h"
#include "power.h"
#include "registry.h"
#include "util/xalloc.h"

#define MS 1000000LL

extern char **environ;

struct lab {
    char *dir;
    struct ipmi_sim_inst bmc[2];
    char *secrets;
};

static int group_teardown(void **state);

static int group_setup(void **state)
{
    struct lab *l = xcalloc(1, sizeof *l);
    l->dir = joule_test_tmpdir("power-ipmi");
    for (int i = 0; i < 2; i++) {
        char name[8];
        snprintf(name, sizeof name, "bmc%d", i);
        int rc = ipmi_lab_start(&l->bmc[i], l->dir, name, 1);
        if (rc < 0 || rc == 77 || rc == 1 || ipmi_lab_wait_ready(&l->bmc[i], 10000) < 0) {
            *state = l;
            group_teardown(state);
            if (rc > 0)
                exit(rc); /* skip (or, under JOULE_CI, fail): ipmi_sim missing */
            return -1;
        }
    }
    l->secrets = joule_test_write_file(
        l->dir, "secrets.conf",
        "default = { ipmi_user = \"" IPMI_LAB_USER "\";\n"
        "            ipmi_password = \"" IPMI_LAB_PASSWORD "\"; };\n"
        "hosts = ( { name = \"bad\"; ipmi_password = \"wrong-password\"; },\n"
        "          { name = \"op\"; ipmi_user = \"" IPMI_LAB_OPERATOR "\"; } );\n",
        0600);
    *state = l;
    return 0;
}

static int group_teardown(void **state)
{
    struct lab *l = *state;
    if (!l)
        return 0;
    for (int i = 0; i < 2; i++)
        ipmi_lab_stop(&l->bmc[i]);
    joule_test_rmtree(l->dir);
    free(l->dir);
    free(l->secrets);
    free(l);
    return 0;
}

/* Per test: both BMCs answering, both fake hosts on, soft shutdowns honoured. */
static int reset(void **state)
{
    struct lab *l = *state;
    for (int i = 0; i < 2; i++) {
        ipmi_lab_freeze(&l->bmc[i], false);
        ipmi_lab_set_power(&l->bmc[i], 1);
        ipmi_lab_set_soft(&l->bmc[i], false);
    }
    return 0;
}

/* Hosts h0 -> bmc0, h1 -> bmc1 (then exec), bad -> bmc0 with a wrong password. */
static char *config_path(struct lab *l, const char *name, double timeout_s, int retries,
                         double grace_s)
{
    char *text = xasprintf(
        "api = { listen = \"\"; };\n"
        "secrets_file = \"%s\";\n"
        "policy = { min_active_hosts = 1; };\n"
        "hosts = (\n"
        "  { name = \"h0\"; hypervisor = \"sim\"; boot_s = 1; shutdown_s = 1;\n"
        "    power = { methods = [ \"ipmi\" ];\n"
        "      ipmi = { host = \"127.0.0.1:%u\"; workaround_opensesspriv = true; timeout_s = %g;\n"
        "               retries = %d; soft_off_grace_s = %g; watts_sensor = %d; }; }; },\n"
        "  { name = \"h1\"; hypervisor = \"sim\"; boot_s = 1; shutdown_s = 1;\n"
        "    power = { methods = [ \"ipmi\", \"exec\" ];\n"
        "      ipmi = { host = \"127.0.0.1:%u\"; workaround_opensesspriv = true; timeout_s = %g;\n"
        "               retries = %d; soft_off_grace_s = %g; };\n"
        "      exec = { on = [ \"/bin/sh\", \"-c\", \"echo 1 > %s/power\" ];\n"
        "               off = [ \"/bin/sh\", \"-c\", \"echo 0 > %s/power\" ];\n"
        "               timeout_s = 5; }; }; },\n"
        "  { name = \"bad\"; hypervisor = \"sim\";\n"
        "    power = { methods = [ \"ipmi\" ];\n"
        "      ipmi = { host = \"127.0.0.1:%u\"; workaround_opensesspriv = true; timeout_s = %g;\n"
        "               retries = %d; }; }; },\n"
        "  { name = \"op\"; hypervisor = \"sim\";\n"
        "    power = { methods = [ \"ipmi\" ];\n"
        "      ipmi = { host = \"127.0.0.1:%u\"; workaround_opensesspriv = true; }; }; }\n"
        ");\n",
        l->secrets, l->bmc[0].port, timeout_s, retries, grace_s, IPMI_LAB_WATTS_SENSOR,
        l->bmc[1].port, timeout_s,
        retries, grace_s, l->bmc[1].dir, l->bmc[1].dir, l->bmc[0].port, timeout_s, retries,
        l->bmc[0].port);
    char *p = joule_test_write_file(l->dir, name, text, 0600);
    free(text);
    return p;
}

static struct config *load_cfg(const char *path)
{
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load(path, &cfg, &errors) < 0)
        fail_msg("config: %s", errors);
    return cfg;
}

static struct power *driver(struct config *cfg, const char *host)
{
    struct drv_env env = { .clock = clock_real() };
    struct power *p = NULL;
    struct joule_err err = { 0 };
    if (power_new(registry_find_power("ipmi"), config_host_find(cfg, host), &env, &p, &err) < 0)
        fail_msg("ipmi driver: %s", err.msg);
    return p;
}

static void test_round_trips(void **state)
{
    struct lab *l = *state;
    char *path = config_path(l, "round.conf", 2, 1, 1);
    struct config *cfg = load_cfg(path);
    struct power *p = driver(cfg, "h0");
    struct joule_err err = { 0 };
    enum power_hw hw = POWER_HW_UNKNOWN;

    assert_int_equal(power_status(p, &hw, &err), 0);
    assert_int_equal(hw, POWER_HW_ON);
    assert_int_equal(power_off(p, true, &err), 0);
    assert_int_equal(ipmi_lab_power(&l->bmc[0]), 0);
    assert_true(ipmi_lab_calls_contain(&l->bmc[0], "set power 0"));
    assert_int_equal(power_status(p, &hw, &err), 0);
    assert_int_equal(hw, POWER_HW_OFF);
    assert_int_equal(power_on(p, &err), 0);
    assert_int_equal(ipmi_lab_power(&l->bmc[0]), 1);
    assert_int_equal(power_status(p, &hw, &err), 0);
    assert_int_equal(hw, POWER_HW_ON);
    assert_int_equal(power_off(p, false, &err), 0); /* soft: the fake OS obeys */
    assert_true(ipmi_lab_calls_contain(&l->bmc[0], "set shutdown 1"));
    assert_int_equal(ipmi_lab_power(&l->bmc[0]), 0);
    assert_int_equal(power_status(p, &hw, &err), 0);
    assert_int_equal(hw, POWER_HW_OFF);
    power_free(p);

    /* watts from the BMC's power sensor, decoded with its SDR (4 W steps) */
    p = driver(cfg, "h0");
    double w = -1;
    /* ipmi_sim reads the watts file every 200 ms; right after its start the value is 0 */
    int64_t deadline = ipmi_lab_mono_ns() + 5000 * MS;
    while (ipmi_lab_mono_ns() < deadline && w != 180.0) {
        if (power_read_watts(p, &w, &err) < 0)
            fail_msg("read watts: %s", err.msg);
        if (w != 180.0)
            poll(NULL, 0, 50);
    }
    assert_float_equal(w, 180.0, 1e-9);
    ipmi_lab_set_watts(&l->bmc[0], 252);
    deadline = ipmi_lab_mono_ns() + 5000 * MS;
    while (ipmi_lab_mono_ns() < deadline && power_read_watts(p, &w, &err) == 0 && w != 252.0)
        poll(NULL, 0, 50);
    assert_float_equal(w, 252.0, 1e-9);
    /* h1 has no watts source configured */
    struct power *p1 = driver(cfg, "h1");
    assert_int_equal(power_read_watts(p1, &w, &err), JOULE_ENOTSUP);
    assert_non_null(strstr(err.msg, "no watts source"));
    power_free(p1);
    /* DCMI power reading, which ipmi_sim does not implement: a clear error, not a number */
    cfg->hosts[0].ipmi.watts_dcmi = true;
    p1 = driver(cfg, "h0");
    assert_true(power_read_watts(p1, &w, &err) < 0);
    assert_non_null(strstr(err.msg, "DCMI"));
    power_free(p1);

    /* time per call: one session + one command, on loopback */
    enum { N = 20 };
    int64_t min = INT64_MAX, max = 0, total = 0;
    for (int i = 0; i < N; i++) {
        int64_t t0 = ipmi_lab_mono_ns();
        assert_int_equal(power_status(p, &hw, &err), 0);
        int64_t d = ipmi_lab_mono_ns() - t0;
        total += d;
        min = d < min ? d : min;
        max = d > max ? d : max;
    }
    printf("MEASURE ipmi chassis status call: mean %.1f ms, min %.1f ms, max %.1f ms (n=%d)\n",
           (double)total / N / MS, (double)min / MS, (double)max / MS, N);
    power_free(p);
    config_free(cfg);
    free(path);
}

/* What the monitor would report for a fake host: libvirt answers while its power file says 1. */
static void lab_facts(struct lab *l, struct power_facts f[3])
{
    memset(f, 0, 3 * sizeof *f);
    for (int i = 0; i < 2; i++)
        f[i].libvirt_reachable = ipmi_lab_power(&l->bmc[i]) == 1;
    f[2].libvirt_reachable = true;
}

/* Steps the state machine every 20 ms until host reaches `want` or the deadline passes. */
static bool step_until(struct lab *l, struct power_ctl *pc, int host, enum power_state want,
                       int timeout_ms)
{
    int64_t deadline = ipmi_lab_mono_ns() + (int64_t)timeout_ms * MS;
    struct power_facts f[3];
    while (ipmi_lab_mono_ns() < deadline) {
        lab_facts(l, f);
        power_ctl_step(pc, clock_mono_ns(clock_real()), f, 3);
        if (power_ctl_state(pc, host) == want && !power_ctl_busy(pc))
            return true;
        poll(NULL, 0, 20);
    }
    return false;
}

static struct power_ctl *ctl(struct config *cfg)
{
    struct drv_env env = { .clock = clock_real() };
    struct power_ctl *pc = NULL;
    struct joule_err err = { 0 };
    if (power_ctl_new(cfg, &env, &pc, &err) < 0)
        fail_msg("power_ctl_new: %s", err.msg);
    return pc;
}

static void test_soft_off_timeout_then_hard_off(void **state)
{
    struct lab *l = *state;
    char *path = config_path(l, "soft.conf", 2, 1, 1.5);
    struct config *cfg = load_cfg(path);
    struct power_ctl *pc = ctl(cfg);
    ipmi_lab_set_soft(&l->bmc[0], true); /* the OS ignores ACPI power button presses */
    assert_true(step_until(l, pc, 0, POWER_STATE_ON, 5000));
    struct power_facts f[3];
    lab_facts(l, f);
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_request_off(pc, 0, &f[0], 3, false, &err), 0);
    assert_true(step_until(l, pc, 0, POWER_STATE_OFF, 15000));
    assert_true(ipmi_lab_calls_contain(&l->bmc[0], "set shutdown 1"));
    assert_true(ipmi_lab_calls_contain(&l->bmc[0], "set power 0"));
    struct power_action_record r[4];
    assert_int_equal(power_ctl_take_records(pc, r, 4), 1);
    assert_true(r[0].ok);
    assert_true(r[0].hard);
    assert_string_equal(r[0].method, "ipmi");
    assert_string_equal(r[0].verified_by, "ipmi_status");
    printf("MEASURE off with soft-off grace 1.5 s then hard off: %.3f s to verified\n",
           (double)(r[0].end_ns - r[0].start_ns) / JOULE_NS_PER_S);

    /* wake: IPMI power up, verified when "libvirt" answers (the fake host's power file) */
    assert_int_equal(power_ctl_request_on(pc, 0, &err), 0);
    assert_true(step_until(l, pc, 0, POWER_STATE_ON, 10000));
    assert_int_equal(power_ctl_take_records(pc, r, 4), 1);
    assert_true(r[0].ok);
    assert_int_equal(r[0].action, RECORD_POWER_ON);
    assert_string_equal(r[0].verified_by, "libvirt_reachable");
    struct power_ctl_stats st;
    power_ctl_stats(pc, &st);
    printf("MEASURE wake -> on verified (ipmi power up, host reachable at once): %.1f ms\n",
           (double)st.last_wake_ns / MS);
    printf("MEASURE driver calls through power_ctl: %llu, mean %.1f ms, max %.1f ms\n",
           (unsigned long long)st.calls,
           st.calls ? (double)st.call_ns_total / (double)st.calls / MS : 0.0,
           (double)st.call_ns_max / MS);
    power_ctl_free(pc);
    config_free(cfg);
    free(path);
}

static void test_operator_user(void **state)
{
    struct lab *l = *state;
    char *path = config_path(l, "op.conf", 2, 1, 1);
    struct config *cfg = load_cfg(path);
    struct power *p = driver(cfg, "op");
    struct joule_err err = { 0 };
    enum power_hw hw = POWER_HW_UNKNOWN;
    /* A user with operator privilege can read and switch the chassis. (ipmi_sim grants this
     * user an admin-level session through FreeIPMI, so the driver's fallback to operator on
     * "privilege level cannot be obtained", seen on real BMCs, is not exercised here.) */
    if (power_status(p, &hw, &err) < 0)
        fail_msg("status as operator: %s", err.msg);
    assert_int_equal(hw, POWER_HW_ON);
    assert_int_equal(power_off(p, true, &err), 0);
    assert_int_equal(ipmi_lab_power(&l->bmc[0]), 0);
    assert_int_equal(power_on(p, &err), 0);
    assert_int_equal(ipmi_lab_power(&l->bmc[0]), 1);
    power_free(p);
    config_free(cfg);
    free(path);
}

static void test_wrong_password(void **state)
{
    struct lab *l = *state;
    char *path = config_path(l, "bad.conf", 1, 2, 1);
    struct config *cfg = load_cfg(path);
    struct power *p = driver(cfg, "bad");
    struct joule_err err = { 0 };
    enum power_hw hw;
    int64_t t0 = ipmi_lab_mono_ns();
    assert_int_equal(power_status(p, &hw, &err), JOULE_EPERM);
    printf("MEASURE wrong password reported after %.0f ms: %s\n",
           (double)(ipmi_lab_mono_ns() - t0) / MS, err.msg);
    assert_non_null(strstr(err.msg, "authentication failed"));
    assert_non_null(strstr(err.msg, "wrong user or password"));
    assert_null(strstr(err.msg, "wrong-password")); /* never the secret itself */
    assert_int_equal(power_on(p, &err), JOULE_EPERM);
    assert_int_equal(ipmi_lab_power(&l->bmc[0]), 1); /* nothing happened */
    power_free(p);
    config_free(cfg);
    free(path);
}

static void test_unanswering_bmc_falls_back(void **state)
{
    struct lab *l = *state;
    char *path = config_path(l, "dead.conf", 0.4, 0, 1);
    struct config *cfg = load_cfg(path);

    /* the driver alone: a clear timeout */
    ipmi_lab_freeze(&l->bmc[1], true);
    struct power *p = driver(cfg, "h1");
    struct joule_err err = { 0 };
    enum power_hw hw;
    assert_int_equal(power_status(p, &hw, &err), JOULE_ETIMEDOUT);
    assert_non_null(strstr(err.msg, "no answer within 400 ms"));
    power_free(p);
    ipmi_lab_freeze(&l->bmc[1], false);

    /* the state machine: h1 seen off by IPMI, then its BMC hangs; the wake falls back to exec */
    ipmi_lab_set_power(&l->bmc[1], 0);
    struct power_ctl *pc = ctl(cfg);
    assert_true(step_until(l, pc, 1, POWER_STATE_OFF, 5000));
    ipmi_lab_freeze(&l->bmc[1], true);
    assert_int_equal(power_ctl_request_on(pc, 1, &err), 0);
    assert_true(step_until(l, pc, 1, POWER_STATE_ON, 15000));
    struct power_action_record r[4];
    assert_int_equal(power_ctl_take_records(pc, r, 4), 1);
    assert_true(r[0].ok);
    assert_string_equal(r[0].method, "exec");
    struct power_ctl_stats st;
    power_ctl_stats(pc, &st);
    assert_true(st.call_errors >= POWER_CALL_TRIES); /* both ipmi tries timed out */
    printf("MEASURE wake with a hung BMC (2 x 0.4 s timeouts, then exec): %.1f ms to verified\n",
           (double)st.last_wake_ns / MS);
    struct event_record ev[4];
    assert_int_equal(power_ctl_take_events(pc, ev, 4), 0); /* a fallback is not an alert */
    ipmi_lab_freeze(&l->bmc[1], false);
    power_ctl_free(pc);
    config_free(cfg);
    free(path);
}

/* ---- joulectl power ---- */

static int run_joulectl(char *const *args, char *out, size_t out_size)
{
    const char *bd = getenv("JOULE_BUILD_DIR");
    char *bin = xasprintf("%s/tools/joulectl", bd ? bd : "..");
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    size_t n = 0;
    while (args[n])
        n++;
    char **argv = xcalloc(n + 2, sizeof *argv);
    argv[0] = bin;
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = args[i];
    pid_t pid;
    int rc = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    assert_int_equal(rc, 0);
    size_t len = 0;
    ssize_t r;
    while ((r = read(pfd[0], out + len, out_size - len - 1)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(pfd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    free(argv);
    free(bin);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_joulectl_power(void **state)
{
    struct lab *l = *state;
    char *path = config_path(l, "ctl.conf", 2, 1, 1);
    char out[4096];

    char *st[] = { "power", "h0", "status", "--config", path, NULL };
    assert_int_equal(run_joulectl(st, out, sizeof out), 0);
    assert_non_null(strstr(out, "h0: on"));
    char *stj[] = { "power", "h0", "status", "--config", path, "--json", NULL };
    assert_int_equal(run_joulectl(stj, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"state\" : \"on\""));

    /* off: joule cannot ask this host's hypervisor whether VMs run there -> refused */
    char *off[] = { "power", "h0", "off", "--config", path, NULL };
    assert_int_equal(run_joulectl(off, out, sizeof out), 1);
    assert_non_null(strstr(out, "refused"));
    assert_int_equal(ipmi_lab_power(&l->bmc[0]), 1);

    char *forced[] = { "power", "h0", "off", "--config", path, "--force", NULL };
    assert_int_equal(run_joulectl(forced, out, sizeof out), 0);
    assert_non_null(strstr(out, "power_forced")); /* logged */
    assert_int_equal(ipmi_lab_power(&l->bmc[0]), 0);
    assert_int_equal(run_joulectl(st, out, sizeof out), 0);
    assert_non_null(strstr(out, "h0: off"));

    char *on[] = { "power", "h0", "on", "--config", path, NULL };
    assert_int_equal(run_joulectl(on, out, sizeof out), 0);
    assert_int_equal(ipmi_lab_power(&l->bmc[0]), 1);

    char *bad[] = { "power", "nosuch", "on", "--config", path, NULL };
    assert_int_equal(run_joulectl(bad, out, sizeof out), 1);
    assert_non_null(strstr(out, "nosuch"));
    char *usage[] = { "power", "h0", "sideways", "--config", path, NULL };
    assert_int_equal(run_joulectl(usage, out, sizeof out), 2);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_round_trips, reset),
        cmocka_unit_test_setup(test_soft_off_timeout_then_hard_off, reset),
        cmocka_unit_test_setup(test_operator_user, reset),
        cmocka_unit_test_setup(test_wrong_password, reset),
        cmocka_unit_test_setup(test_unanswering_bmc_falls_back, reset),
        cmocka_unit_test_setup(test_joulectl_power, reset),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

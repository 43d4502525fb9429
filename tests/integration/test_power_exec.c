/* The exec power driver's command runner with real processes and real time: a command that
 * outlives its timeout is killed with its whole process group, and a command that leaves a
 * background process holding its output open still counts as finished when it exits. */
#include "support/test_support.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "power.h"
#include "power/exec_priv.h"
#include "util/xalloc.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = -1;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = -1;
        fclose(f);
    }
    return (pid_t)pid;
}

/* Gone, or a zombie waiting for its new parent to reap it. */
static bool dead(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    char buf[512] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static void test_timeout_kills_the_group(void **state)
{
    (void)state;
    char *dir = joule_test_tmpdir("power-exec");
    char *pidfile = xasprintf("%s/bg.pid", dir);
    char *script = xasprintf("echo started; sleep 30 & echo $! > %s; wait", pidfile);
    char *argv[] = { "/bin/sh", "-c", script, NULL };
    int code = -1;
    struct joule_err err = { 0 };
    assert_int_equal(exec_run(argv, 300 * JOULE_NS_PER_MS, &code, NULL, 0, &err), JOULE_ETIMEDOUT);
    assert_non_null(strstr(err.msg, "no exit within 0.3 s (killed)"));
    assert_non_null(strstr(err.msg, "started"));
    pid_t bg = read_pid(pidfile);
    assert_true(bg > 1);
    int64_t deadline = mono_ms() + 5000;
    while (!dead(bg) && mono_ms() < deadline)
        poll(NULL, 0, 20);
    assert_true(dead(bg)); /* the grandchild died with its group */
    joule_test_rmtree(dir);
    free(dir);
    free(pidfile);
    free(script);
}

static void test_background_holder_is_not_a_timeout(void **state)
{
    (void)state;
    char *dir = joule_test_tmpdir("power-exec");
    char *pidfile = xasprintf("%s/bg.pid", dir);
    /* the background sleep keeps the output pipe open after sh exits 0 */
    char *script = xasprintf("sleep 20 & echo $! > %s; echo done; exit 0", pidfile);
    char *argv[] = { "/bin/sh", "-c", script, NULL };
    int code = -1;
    char out[256] = "";
    struct joule_err err = { 0 };
    int rc = exec_run(argv, 10 * JOULE_NS_PER_S, &code, out, sizeof out, &err);
    pid_t bg = read_pid(pidfile);
    if (bg > 1)
        kill(bg, SIGKILL); /* started (indirectly) by this test */
    assert_int_equal(rc, 0);
    assert_int_equal(code, 0);
    assert_non_null(strstr(out, "done"));
    joule_test_rmtree(dir);
    free(dir);
    free(pidfile);
    free(script);
}

static void test_killed_by_signal(void **state)
{
    (void)state;
    char *argv[] = { "/bin/sh", "-c", "kill -TERM $$", NULL };
    int code = -1;
    struct joule_err err = { 0 };
    assert_int_equal(exec_run(argv, 5 * JOULE_NS_PER_S, &code, NULL, 0, &err), JOULE_EIO);
    assert_non_null(strstr(err.msg, "killed by signal 15"));
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, c;
    if (!f)
        return 0;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* The state machine on worker threads: an off aborted (a VM appeared) while its slow command
 * still runs, then requested again while that command is still running. The new action waits
 * for the worker, sends its own command, and is verified; the aborted one is recorded failed. */
static void test_off_requested_again_while_old_call_runs(void **state)
{
    (void)state;
    char *dir = joule_test_tmpdir("power-exec");
    char *log = xasprintf("%s/off.log", dir);
    char *text = xasprintf(
        "api = { listen = \"\"; };\n"
        "policy = { min_active_hosts = 1; };\n"
        "hosts = ( { name = \"x\"; hypervisor = \"sim\"; shutdown_s = 5; power = { methods = "
        "[\"exec\"]; exec = { on = [\"/bin/true\"]; off = [\"/bin/sh\", \"-c\", "
        "\"echo off >> %s; sleep 0.4\"]; timeout_s = 5; }; }; },\n"
        "          { name = \"y\"; hypervisor = \"sim\"; } );",
        log);
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load_string(text, &cfg, &errors) < 0)
        fail_msg("%s", errors);
    struct drv_env env = { .clock = clock_real() };
    struct power_ctl *pc = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(power_ctl_new(cfg, &env, &pc, &err), 0);
    struct power_facts f[2] = { { .libvirt_reachable = true }, { .libvirt_reachable = true } };
    power_ctl_step(pc, clock_mono_ns(clock_real()), f, 2);
    assert_int_equal(power_ctl_state(pc, 0), POWER_STATE_ON);

    assert_int_equal(power_ctl_request_off(pc, 0, &f[0], 2, false, &err), 0);
    power_ctl_step(pc, clock_mono_ns(clock_real()), f, 2); /* off command starts (0.4 s) */
    f[0].n_vms = 1;                                        /* a VM shows up: abort */
    power_ctl_step(pc, clock_mono_ns(clock_real()), f, 2);
    assert_int_equal(power_ctl_state(pc, 0), POWER_STATE_ON);
    f[0].n_vms = 0;                                        /* gone again: off once more */
    assert_int_equal(power_ctl_request_off(pc, 0, &f[0], 2, false, &err), 0);
    int64_t deadline = mono_ms() + 5000;
    while (count_lines(log) < 2 && mono_ms() < deadline) {
        power_ctl_step(pc, clock_mono_ns(clock_real()), f, 2);
        poll(NULL, 0, 20);
    }
    assert_int_equal(count_lines(log), 2);
    /* the host goes down: verified by libvirt down + meter */
    f[0].libvirt_reachable = false;
    f[0].watts_fresh = true;
    f[0].watts = 3;
    deadline = mono_ms() + 5000;
    while (power_ctl_state(pc, 0) != POWER_STATE_OFF && mono_ms() < deadline) {
        power_ctl_step(pc, clock_mono_ns(clock_real()), f, 2);
        poll(NULL, 0, 20);
    }
    assert_int_equal(power_ctl_state(pc, 0), POWER_STATE_OFF);
    struct power_action_record r[4];
    assert_int_equal(power_ctl_take_records(pc, r, 4), 2);
    assert_false(r[0].ok);
    assert_true(r[1].ok);
    power_ctl_free(pc);
    config_free(cfg);
    free(text);
    joule_test_rmtree(dir);
    free(dir);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeout_kills_the_group),
        cmocka_unit_test(test_background_holder_is_not_a_timeout),
        cmocka_unit_test(test_killed_by_signal),
        cmocka_unit_test(test_off_requested_again_while_old_call_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

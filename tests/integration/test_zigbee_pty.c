/* The ZigBee meter drivers end to end through real ptys: socat links two ptys, meter-sim plays
 * the coordinator with 3 meters on one side, the driver (through the registry) reads the other.
 * - clean: every reading reaches its host, in order, with the watts meter-sim logged;
 * - 50% corruption (bad checksums, garbage, truncated frames): still every valid frame;
 * - unplug: socat is killed and restarted; readings resume without reopening the driver.
 * Waits poll for events with deadlines; nothing sleeps for synchronisation. */
#include "support/test_support.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "registry.h"
#include "util/xalloc.h"

extern char **environ;

#define N_METERS 3
#define MAX_READINGS 4096
#define DEADLINE_S 30

struct fx {
    char *dir, *coord, *meter, *log, *simlog, *socatlog;
    pid_t socat, sim;
    struct config *cfg;
    struct meter *m;
    /* readings per host, in arrival order */
    double watts[N_METERS][MAX_READINGS];
    size_t n_watts[N_METERS];
    size_t n_energy[N_METERS];
    int64_t last_t_ns[N_METERS];
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    char *copy = xstrdup(path ? path : "/usr/bin:/bin"), *save = NULL;
    char *found = NULL;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char *p = xasprintf("%s/%s", d, name);
        if (access(p, X_OK) == 0)
            found = p;
        else
            free(p);
    }
    free(copy);
    return found;
}

static pid_t spawn(char *const argv[], const char *out_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, out_path,
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("spawn %s: %s", argv[0], strerror(rc));
    return pid;
}

static void stop(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    int64_t deadline = mono_ms() + 5000;
    while (waitpid(*pid, NULL, WNOHANG) == 0) {
        if (mono_ms() > deadline) {
            kill(*pid, SIGKILL);
            waitpid(*pid, NULL, 0);
            break;
        }
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    *pid = 0;
}

static void start_socat(struct fx *f)
{
    char *socat = find_in_path("socat");
    assert_non_null(socat);
    unlink(f->coord);
    unlink(f->meter);
    char *a1 = xasprintf("pty,raw,echo=0,link=%s", f->coord);
    char *a2 = xasprintf("pty,raw,echo=0,link=%s", f->meter);
    char *argv[] = { socat, "-d", "-d", a1, a2, NULL };
    f->socat = spawn(argv, f->socatlog);
    free(a1);
    free(a2);
    free(socat);
    int64_t deadline = mono_ms() + 10000;
    while (access(f->coord, F_OK) != 0 || access(f->meter, F_OK) != 0) {
        if (mono_ms() > deadline)
            fail_msg("socat did not create %s and %s", f->coord, f->meter);
        struct timespec ts = { 0, 5 * 1000000L };
        nanosleep(&ts, NULL);
    }
}

static void start_sim(struct fx *f, const char *proto, const char *count, const char *corrupt)
{
    char *sim = xasprintf("%s/tools/meter-sim/meter-sim", getenv("JOULE_BUILD_DIR"));
    char *argv[] = { sim, "--protocol", (char *)proto, "--port", f->meter, "--meters", "3",
                     "--count", (char *)count, "--interval-ms", "4", "--energy-every", "4",
                     "--corrupt", (char *)corrupt, "--seed", "7", "--wait-request",
                     "--linger-ms", "200", "--reconnect-s", "20", "--log", f->log, NULL };
    f->sim = spawn(argv, f->simlog);
    free(sim);
}

static int setup_proto(void **state, const char *proto)
{
    char *socat = find_in_path("socat");
    if (!socat) {
        print_message("socat is not installed (tools/setup installs it)\n");
        exit(joule_test_skip("socat missing"));
    }
    free(socat);
    if (!getenv("JOULE_BUILD_DIR"))
        fail_msg("JOULE_BUILD_DIR is not set (run through ctest)");
    struct fx *f = xcalloc(1, sizeof *f);
    f->dir = joule_test_tmpdir("zigbee");
    f->coord = xasprintf("%s/coord", f->dir);
    f->meter = xasprintf("%s/meter", f->dir);
    f->log = xasprintf("%s/sent.log", f->dir);
    f->simlog = xasprintf("%s/meter-sim.err", f->dir);
    f->socatlog = xasprintf("%s/socat.err", f->dir);
    start_socat(f);
    char *text = xasprintf(
        "api = { listen = \"\"; };\n"
        "meter = { protocol = \"%s\"; port = \"%s\"; read_timeout_ms = 100; stale_s = 60; };\n"
        "hosts = ( { name = \"a\"; hypervisor = \"sim\"; meter = \"00:13:a2:00:40:a1:00:01\"; power = { methods = [\"sim\"]; }; },\n"
        "          { name = \"b\"; hypervisor = \"sim\"; meter = \"00:13:a2:00:40:a1:00:02\"; power = { methods = [\"sim\"]; }; },\n"
        "          { name = \"c\"; hypervisor = \"sim\"; meter = \"00:13:a2:00:40:a1:00:03\"; power = { methods = [\"sim\"]; }; } );",
        proto, f->coord);
    char *errors = NULL;
    if (config_load_string(text, &f->cfg, &errors) < 0)
        fail_msg("%s", errors);
    free(text);
    struct drv_env env = { .clock = clock_real() };
    struct joule_err err = { 0 };
    const struct meter_ops *ops = registry_find_meter(proto);
    assert_non_null(ops);
    if (meter_new(ops, f->cfg, &env, &f->m, &err) < 0)
        fail_msg("%s", err.msg);
    if (meter_open(f->m, &err) < 0)
        fail_msg("%s", err.msg);
    *state = f;
    return 0;
}

static int setup_xbee1(void **state) { return setup_proto(state, "xbee1"); }
static int setup_xbee2(void **state) { return setup_proto(state, "xbee2"); }
static int setup_znp(void **state) { return setup_proto(state, "znp"); }

static int teardown(void **state)
{
    struct fx *f = *state;
    meter_free(f->m);
    stop(&f->sim);
    stop(&f->socat);
    config_free(f->cfg);
    if (getenv("JOULE_TEST_KEEP"))
        print_message("kept %s\n", f->dir);
    else
        joule_test_rmtree(f->dir);
    free(f->dir);
    free(f->coord);
    free(f->meter);
    free(f->log);
    free(f->simlog);
    free(f->socatlog);
    free(f);
    return 0;
}

static void collect(struct fx *f, int timeout_ms)
{
    struct meter_reading r[64];
    struct joule_err err = { 0 };
    int n = meter_poll(f->m, r, 64, timeout_ms, &err);
    if (n < 0)
        fail_msg("poll: %s", err.msg);
    for (int i = 0; i < n; i++) {
        assert_true(r[i].host >= 0 && r[i].host < N_METERS);
        int h = r[i].host;
        assert_int_equal(r[i].ieee, 0x0013a20040a10001ULL + (uint64_t)h);
        if (r[i].has_watts) {
            assert_true(f->n_watts[h] < MAX_READINGS);
            f->watts[h][f->n_watts[h]++] = r[i].watts;
        }
        if (r[i].has_energy)
            f->n_energy[h]++;
        f->last_t_ns[h] = r[i].t_ns;
    }
}

/* Reads meter-sim's log of valid frames: per meter, the raw ActivePower values in order. */
static void read_sent(struct fx *f, long sent[N_METERS][MAX_READINGS], size_t n_sent[N_METERS],
                      size_t n_energy[N_METERS])
{
    FILE *lf = fopen(f->log, "r");
    assert_non_null(lf);
    char kind;
    unsigned idx;
    char ieee[32];
    long raw;
    memset(n_sent, 0, N_METERS * sizeof n_sent[0]);
    memset(n_energy, 0, N_METERS * sizeof n_energy[0]);
    while (fscanf(lf, " %c %u %31s %ld", &kind, &idx, ieee, &raw) == 4) {
        assert_true(idx < N_METERS);
        if (kind == 'P')
            sent[idx][n_sent[idx]++] = raw;
        else
            n_energy[idx]++;
    }
    fclose(lf);
}

/* How many of the frames meter-sim logged as valid for host h arrived, in order. */
static size_t matched(const struct fx *f, int h, const long *sent, size_t n_sent)
{
    size_t k = 0;
    for (size_t i = 0; i < f->n_watts[h] && k < n_sent; i++)
        if (f->watts[h][i] == sent[k] / 10.0) /* divisor 10; both exact in binary for x.y */
            k++;
    return k;
}

/* Runs meter-sim for `count` rounds and checks that every frame it logged as valid arrived, in
 * order. With `exact`, nothing else may arrive. Without (corruption), a damaged frame whose ZCL
 * survived and whose one-byte checksum matched by chance (a frame cut in its trailer, followed
 * by bytes that happen to fit) may add a reading with the meter's real value: at most
 * MAX_EXTRA per host, so a decoder that lets corrupt frames through still fails. */
#define MAX_EXTRA 3
static void run_exact(struct fx *f, const char *proto, const char *count, const char *corrupt,
                      bool exact)
{
    start_sim(f, proto, count, corrupt);
    int status = 0;
    int64_t deadline = mono_ms() + DEADLINE_S * 1000;
    while (f->sim > 0 && mono_ms() < deadline) {
        collect(f, 50);
        pid_t w = waitpid(f->sim, &status, WNOHANG);
        if (w == f->sim)
            f->sim = 0;
    }
    assert_int_equal(f->sim, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    static long sent[N_METERS][MAX_READINGS];
    size_t n_sent[N_METERS], n_energy[N_METERS];
    read_sent(f, sent, n_sent, n_energy);
    /* the sim has exited: what it wrote is in the pty; poll until it has all arrived */
    for (;;) {
        bool all = true;
        for (int h = 0; h < N_METERS; h++)
            all = all && matched(f, h, sent[h], n_sent[h]) == n_sent[h] &&
                  f->n_energy[h] >= n_energy[h];
        if (all || mono_ms() > deadline)
            break;
        collect(f, 50);
    }
    collect(f, 20); /* anything extra still in flight */
    for (int h = 0; h < N_METERS; h++) {
        assert_true(n_sent[h] > 0);
        size_t got = matched(f, h, sent[h], n_sent[h]);
        if (got != n_sent[h])
            fail_msg("host %d: %zu of the %zu valid frames meter-sim sent arrived (%zu readings)",
                     h, got, n_sent[h], f->n_watts[h]);
        size_t extra = f->n_watts[h] - n_sent[h];
        size_t extra_e = f->n_energy[h] - n_energy[h];
        if (extra || extra_e)
            print_message("host %d: %zu + %zu extra readings from damaged frames\n", h, extra,
                          extra_e);
        assert_true(f->n_energy[h] >= n_energy[h]);
        assert_true(extra <= (exact ? 0 : MAX_EXTRA));
        assert_true(extra_e <= (exact ? 0 : MAX_EXTRA));
    }
}

static void test_clean(void **state)
{
    struct fx *f = *state;
    run_exact(f, f->cfg->meter.protocol == CONFIG_METER_ZNP     ? "znp"
                 : f->cfg->meter.protocol == CONFIG_METER_XBEE2 ? "xbee2"
                                                                : "xbee1",
              "25", "0", true);
    struct meter_stats st;
    meter_stats(f->m, &st);
    assert_int_equal(st.bad_checksum, 0);
    assert_int_equal(st.unknown_meter, 0);
    assert_true(st.frames_ok >= 3 * 25);
}

static void test_corrupt(void **state)
{
    struct fx *f = *state;
    run_exact(f, f->cfg->meter.protocol == CONFIG_METER_ZNP     ? "znp"
                 : f->cfg->meter.protocol == CONFIG_METER_XBEE2 ? "xbee2"
                                                                : "xbee1",
              "60", "50", false);
    struct meter_stats st;
    meter_stats(f->m, &st);
    assert_true(st.bad_checksum > 0);
    assert_true(st.resyncs > 0);
    print_message("frames_ok=%llu bad_checksum=%llu truncated=%llu length=%llu format=%llu "
                  "resyncs=%llu garbage=%llu\n",
                  (unsigned long long)st.frames_ok, (unsigned long long)st.bad_checksum,
                  (unsigned long long)st.truncated, (unsigned long long)st.rejected_length,
                  (unsigned long long)st.rejected_format, (unsigned long long)st.resyncs,
                  (unsigned long long)st.garbage_bytes);
}

static size_t total_watts(const struct fx *f)
{
    size_t n = 0;
    for (int h = 0; h < N_METERS; h++)
        n += f->n_watts[h];
    return n;
}

/* Kill socat under a running reader, restart it: readings resume, the driver reopened alone. */
static void test_unplug(void **state)
{
    struct fx *f = *state;
    start_sim(f, "xbee2", "0", "0");
    int64_t deadline = mono_ms() + DEADLINE_S * 1000;
    while (total_watts(f) < 30 && mono_ms() < deadline)
        collect(f, 50);
    assert_true(total_watts(f) >= 30);
    stop(&f->socat);
    /* the reader notices the hang-up and keeps polling without readings */
    struct meter_stats st;
    for (int i = 0; i < 20; i++)
        collect(f, 20);
    size_t before = total_watts(f);
    start_socat(f);
    while (total_watts(f) < before + 30 && mono_ms() < deadline)
        collect(f, 50);
    meter_stats(f->m, &st);
    assert_true(total_watts(f) >= before + 30);
    assert_true(st.reopens >= 1);
    for (int h = 0; h < N_METERS; h++)
        assert_true(f->n_watts[h] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean, setup_xbee1, teardown),
        cmocka_unit_test_setup_teardown(test_clean, setup_xbee2, teardown),
        cmocka_unit_test_setup_teardown(test_clean, setup_znp, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup_xbee1, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup_xbee2, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup_znp, teardown),
        cmocka_unit_test_setup_teardown(test_unplug, setup_xbee2, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

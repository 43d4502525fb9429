/* bench_replay - decision quality and replay cost on the 10 PlanetLab days.
 * For each day (sorted file-name order, CloudSim set-up): energy, migrations and SLAV of joule's
 * default policy, of CloudSim's ThrMmt 0.8 and LrMmt 1.2 and of the papers' threshold policy
 * (first-fit start, memory checked, 4 moves a round); then the wall time and peak memory
 * (max RSS of a fresh process) of one day's replay with the default policy.
 * Traces: --planetlab DIR, else $JOULE_PLANETLAB_DIR, else ../shared/data/planetlab beside the
 * source tree (JOULE_SOURCE_DIR or the compiled-in path). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "replay.h"
#include "util/xalloc.h"

#ifndef JOULE_SOURCE_DIR_DEFAULT
#define JOULE_SOURCE_DIR_DEFAULT "."
#endif

static const char *const days[] = { "20110303", "20110306", "20110309", "20110322", "20110325",
                                    "20110403", "20110409", "20110411", "20110412", "20110420" };

static const struct {
    const char *name;
    enum policy_algorithm alg;
} policies[] = {
    { "joule", POLICY_ALGORITHM_JOULE },
    { "thr-mmt", POLICY_ALGORITHM_THR_MMT },
    { "lr-mmt", POLICY_ALGORITHM_LR_MMT },
    { "thresh", POLICY_ALGORITHM_THRESHOLD }, /* the papers' Th1/Th2/balance, for reference */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *dir, enum policy_algorithm alg, struct replay_result *r, double *wall)
{
    struct replay_workload *w = NULL;
    struct joule_err err = { 0 };
    double t0 = now_s();
    if (replay_load_planetlab(dir, NULL, &w, &err) < 0) {
        fprintf(stderr, "bench_replay: %s\n", err.msg);
        return -1;
    }
    struct replay_opts o;
    replay_opts_defaults(&o);
    size_t nh;
    o.hosts = replay_cloudsim_hosts(&nh);
    o.n_hosts = nh;
    o.policy.algorithm = alg;
    int rc = replay_run(w, &o, r, &err);
    if (rc < 0)
        fprintf(stderr, "bench_replay: %s: %s\n", dir, err.msg);
    *wall = now_s() - t0;
    replay_workload_free(w);
    return rc;
}

int main(int argc, char **argv)
{
    const char *base = getenv("JOULE_PLANETLAB_DIR");
    char *owned = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--planetlab") == 0 && i + 1 < argc) {
            base = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_replay [--planetlab DIR]\n");
            return 2;
        }
    }
    if (!base) {
        const char *src = getenv("JOULE_SOURCE_DIR");
        owned = xasprintf("%s/../shared/data/planetlab", src ? src : JOULE_SOURCE_DIR_DEFAULT);
        base = owned;
    }
    struct stat st;
    char *probe = xasprintf("%s/%s", base, days[0]);
    if (stat(probe, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "bench_replay: no PlanetLab traces at %s (expected %s/<day>/ as in "
                        "shared/data/planetlab; give --planetlab DIR or JOULE_PLANETLAB_DIR)\n",
                base, base);
        free(probe);
        free(owned);
        return 1;
    }

    /* Cost of one day with the default policy, in a fresh process (peak RSS is per process). */
    pid_t pid = fork();
    if (pid == 0) {
        struct replay_result r;
        double wall;
        int rc = run(probe, POLICY_ALGORITHM_JOULE, &r, &wall);
        if (rc == 0) {
            printf("one day (%s, joule default): wall %.3f s (load + replay)\n", days[0], wall);
            replay_result_free(&r);
        }
        fflush(stdout);
        _exit(rc == 0 ? 0 : 1);
    }
    int status;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_replay: the one-day run failed\n");
        free(probe);
        free(owned);
        return 1;
    }
    printf("one day (%s, joule default): peak memory %.1f MB (max RSS)\n", days[0],
           (double)ru.ru_maxrss / 1024.0);
    printf("goal: < 0.5 s and < 100 MB\n\n");
    free(probe);

    printf("%-9s %-8s %11s %10s %11s %9s %9s %8s\n", "day", "policy", "energy_kWh", "migrations",
           "SLAV_%", "SLATAH_%", "PDM_%", "wall_s");
    int fails = 0;
    for (size_t d = 0; d < sizeof days / sizeof days[0]; d++) {
        char *dir = xasprintf("%s/%s", base, days[d]);
        for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++) {
            struct replay_result r;
            double wall;
            if (run(dir, policies[p].alg, &r, &wall) < 0) {
                fails++;
                continue;
            }
            printf("%-9s %-8s %11.2f %10llu %11.6f %9.4f %9.5f %8.3f\n", days[d],
                   policies[p].name, r.energy_kwh, (unsigned long long)r.migrations,
                   r.slav * 100, r.slatah * 100, r.pdm * 100, wall);
            fflush(stdout);
            replay_result_free(&r);
        }
        free(dir);
    }
    printf("\nCloudSim 3.0.3 on 20110303 (README table b): ThrMmt 192.62 kWh 26711 0.00318 %%; "
           "LrMmt 163.48 kWh 27859 0.00464 %%; best energy LrRs 150.80 kWh\n");
    free(owned);
    return fails ? 1 : 0;
}

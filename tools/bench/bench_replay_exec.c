/* bench_replay_exec - the replay's two engines side by side on one PlanetLab day replayed onto a
 * configured cluster: the CloudSim-compatible engine (controller/replay.c) and the executor
 * engine (controller/replay_exec.c: monitor, model, policy, synchronous executor, power state
 * machine on sim drivers). For joule, thr-mmt and lr-mmt: energy, migrations, host shutdowns,
 * SLATAH, PDM and the wall time of each run.
 *   bench_replay_exec [--day DIR] [--hosts N] [--cpus C] [--tick S]
 * Defaults: the repository's copy of 20110303 (1052 VMs of one vCPU), 80 hosts of 16 cores
 * (CloudSim's placement reserves a VM's full size at creation: 1052 cores),
 * 256 GiB of memory (CPU binds, not memory), 90..250 W, boot 120 s, shutdown 30 s, tick 30 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "policy_glue.h"
#include "replay.h"
#include "replay_exec.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#ifndef JOULE_SOURCE_DIR_DEFAULT
#define JOULE_SOURCE_DIR_DEFAULT "."
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct {
    const char *name;
    enum policy_algorithm alg;
} policies[] = {
    { "joule", POLICY_ALGORITHM_JOULE },
    { "thr-mmt", POLICY_ALGORITHM_THR_MMT },
    { "lr-mmt", POLICY_ALGORITHM_LR_MMT },
};

static void print(const char *engine, const char *policy, const struct replay_result *r,
                  double wall)
{
    printf("%-9s %-8s %10.2f %10llu %9llu %10.4f %10.6f %8.2f\n", engine, policy, r->energy_kwh,
           (unsigned long long)r->migrations, (unsigned long long)r->host_shutdowns,
           r->slatah * 100, r->pdm * 100, wall);
}

int main(int argc, char **argv)
{
    char *day = NULL;
    long n_hosts = 80;
    double cpus = 16, tick = 30;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--day") == 0 && i + 1 < argc)
            day = xstrdup(argv[++i]);
        else if (strcmp(argv[i], "--hosts") == 0 && i + 1 < argc)
            n_hosts = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--cpus") == 0 && i + 1 < argc)
            cpus = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--tick") == 0 && i + 1 < argc)
            tick = strtod(argv[++i], NULL);
        else {
            fprintf(stderr, "usage: bench_replay_exec [--day DIR] [--hosts N] [--cpus C] "
                            "[--tick S]\n");
            return 2;
        }
    }
    if (n_hosts < 1 || n_hosts > 10000 || !(cpus > 0) || !(tick > 0)) {
        fprintf(stderr, "bench_replay_exec: hosts 1..10000, cpus and tick > 0\n");
        return 2;
    }
    if (!day) {
        const char *src = getenv("JOULE_SOURCE_DIR");
        day = xasprintf("%s/tests/data/planetlab/20110303", src ? src : JOULE_SOURCE_DIR_DEFAULT);
    }
    log_set_levels("err", NULL);
    struct strbuf conf;
    memset(&conf, 0, sizeof conf);
    strbuf_addf(&conf, "api = { listen = \"\"; };\ntick_s = %g;\n"
                         "policy = { consolidate = \"always\"; };\nhosts = (\n", tick);
    for (long h = 0; h < n_hosts; h++)
        strbuf_addf(&conf, "%s{ name = \"n%03ld\"; hypervisor = \"sim\"; cpus = %g; "
                             "memory_mib = 262144; idle_w = 90; max_w = 250; boot_s = 120; "
                             "shutdown_s = 30; power = { methods = [ \"sim\" ]; }; }\n",
                      h ? "," : "", h, cpus);
    strbuf_addf(&conf, ");\n");
    struct config *cfg = NULL;
    char *errors = NULL;
    int rc = 1;
    int lrc = config_load_string(strbuf_str(&conf), &cfg, &errors);
    strbuf_free(&conf);
    if (lrc < 0) {
        fprintf(stderr, "%s", errors);
        free(errors);
        free(day);
        return 1;
    }
    struct replay_workload *w = NULL;
    struct replay_host_model *models = NULL;
    const struct replay_host_model **hosts = NULL;
    struct joule_err err = { 0 };
    if (replay_load_planetlab(day, NULL, &w, &err) < 0 ||
        replay_hosts_from_config(cfg, &models, &err) < 0) {
        fprintf(stderr, "bench_replay_exec: %s\n", err.msg);
        goto out;
    }
    replay_scale_vms_to_cores(w);
    hosts = xcalloc((size_t)n_hosts, sizeof *hosts);
    for (long h = 0; h < n_hosts; h++)
        hosts[h] = &models[h];
    printf("%s: %zu VMs onto %ld hosts of %g cores (90..250 W), tick %g s, interval 300 s\n",
           day, w->n_vms, n_hosts, cpus, tick);
    printf("%-9s %-8s %10s %10s %9s %10s %10s %8s\n", "engine", "policy", "energy_kWh",
           "migrations", "shutdowns", "SLATAH_%", "PDM_%", "wall_s");
    for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++) {
        struct replay_opts o;
        replay_opts_defaults(&o);
        policy_cfg_from_config(cfg, &o.policy);
        o.policy.algorithm = policies[p].alg;
        o.hosts = hosts;
        o.n_hosts = (size_t)n_hosts;
        o.remove_idle_vms = false;
        o.policy.limits_at_creation_only = false;
        struct replay_result r;
        double t0 = now_s();
        if (replay_run(w, &o, &r, &err) < 0) {
            fprintf(stderr, "bench_replay_exec: cloudsim %s: %s\n", policies[p].name, err.msg);
            goto out;
        }
        print("cloudsim", policies[p].name, &r, now_s() - t0);
        replay_result_free(&r);

        struct replay_exec_opts xo;
        replay_exec_opts_defaults(&xo, cfg);
        xo.policy = o.policy;
        t0 = now_s();
        if (replay_exec_run(w, &xo, &r, &err) < 0) {
            fprintf(stderr, "bench_replay_exec: executor %s: %s\n", policies[p].name, err.msg);
            goto out;
        }
        print("executor", policies[p].name, &r, now_s() - t0);
        replay_result_free(&r);
    }
    rc = 0;
 out:
    free(hosts);
    free(models);
    replay_workload_free(w);
    config_free(cfg);
    free(day);
    return rc;
}

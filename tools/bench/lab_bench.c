/* lab_bench - numbers from the libvirt lab with the production driver: sampling cost per host
 * per tick (one virConnectGetAllDomainStats each) and live migration time per guest (p2p,
 * a -> b -> a). The lab and its guests must be up (tools/bench/lab.sh does all of it).
 *   lab_bench [ticks] [round_trips] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "registry.h"
#include "util/xalloc.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int ticks = argc > 1 ? atoi(argv[1]) : 20;
    int trips = argc > 2 ? atoi(argv[2]) : 2;
    const char *dir = getenv("JOULE_LAB_DIR") ? getenv("JOULE_LAB_DIR") : "/tmp/joule-lab";
    char *text = xasprintf(
        "api = { listen = \"\"; };\n"
        "hosts = ( { name = \"a\";\n"
        "            uri = \"qemu+unix:///system?socket=%s/a/run/libvirt/libvirt-sock\";\n"
        "            migration_uri = \"qemu+tcp://10.213.0.1/system\"; },\n"
        "          { name = \"b\";\n"
        "            uri = \"qemu+unix:///system?socket=%s/b/run/libvirt/libvirt-sock\";\n"
        "            migration_uri = \"qemu+tcp://10.213.0.2/system\"; } );\n",
        dir, dir);
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load_string(text, &cfg, &errors) < 0) {
        fprintf(stderr, "%s\n", errors);
        return 1;
    }
    free(text);
    struct drv_env env = { .clock = clock_real() };
    struct hypervisor *hv[2] = { 0 };
    struct joule_err e = { 0 };
    for (int h = 0; h < 2; h++) {
        const struct hypervisor_ops *ops = registry_find_hypervisor("libvirt");
        if (hypervisor_new(ops, &cfg->hosts[h], &env, &hv[h], &e) < 0 ||
            hypervisor_connect(hv[h], &e) < 0) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
    }
    struct hv_sample s = { 0 };
    for (int h = 0; h < 2; h++) {
        double sum = 0, max = 0;
        size_t vms = 0;
        for (int i = 0; i < ticks; i++) {
            double t0 = now_s();
            if (hypervisor_sample(hv[h], &s, &e) < 0) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
            }
            double dt = now_s() - t0;
            sum += dt;
            max = dt > max ? dt : max;
            vms = s.n_vms;
            struct timespec ts = { 0, 200 * 1000000L };
            nanosleep(&ts, NULL); /* pacing between samples, like ticks */
        }
        printf("sampling host %s: %zu VMs, mean %.2f ms, max %.2f ms per call (%d calls)\n",
               cfg->hosts[h].name, vms, sum / ticks * 1e3, max * 1e3, ticks);
    }
    /* migrate every guest found on a to b and back */
    if (hypervisor_sample(hv[0], &s, &e) < 0)
        return 1;
    size_t n = s.n_vms;
    char (*uuids)[JOULE_UUID_STRLEN] = xcalloc(n + 1, sizeof *uuids);
    char (*names)[64] = xcalloc(n + 1, sizeof *names);
    for (size_t i = 0; i < n; i++) {
        memcpy(uuids[i], s.vms[i].uuid, JOULE_UUID_STRLEN);
        snprintf(names[i], sizeof names[i], "%s", s.vms[i].name);
    }
    struct hv_migrate_opts o = { .flags = cfg->migration.flags,
                                 .timeout_ns = 120 * JOULE_NS_PER_S };
    for (int t = 0; t < trips; t++) {
        for (int dir2 = 0; dir2 < 2; dir2++) {
            int from = dir2, to = 1 - dir2;
            struct hv_migrate_dest d = { .name = cfg->hosts[to].name, .uri = cfg->hosts[to].uri,
                                         .migration_uri = cfg->hosts[to].migration_uri,
                                         .state = hv[to]->state };
            for (size_t i = 0; i < n; i++) {
                struct hv_migrate_result r;
                double t0 = now_s();
                int rc = hypervisor_migrate(hv[from], uuids[i], &d, &o, &r, &e);
                double dt = now_s() - t0;
                if (rc < 0) {
                    fprintf(stderr, "%s\n", e.msg);
                    return 1;
                }
                printf("migration %s %s->%s: %.2f s wall, %.1f MiB, downtime %.0f ms\n", names[i],
                       cfg->hosts[from].name, cfg->hosts[to].name, dt,
                       (double)r.bytes / 1048576.0,
                       r.downtime_ns >= 0 ? (double)r.downtime_ns / 1e6 : -1.0);
            }
        }
    }
    free(uuids);
    free(names);
    hv_sample_free(&s);
    for (int h = 0; h < 2; h++)
        hypervisor_free(hv[h]);
    config_free(cfg);
    return 0;
}

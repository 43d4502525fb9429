/* bench_monitor - what one hung host costs the monitor's tick, one host after another
 * (monitor_set_inline, the monitor before concurrent sampling) against one worker per host.
 *
 *   bench_monitor [hosts] [latency_ms] [hang_s] [ticks]     defaults: 50 20 3 3
 *
 * A scripted in-process hypervisor driver (thread-safe) answers each sample after latency_ms
 * (a libvirt round trip on a loaded host) with 4 VMs; host 0 hangs for hang_s and then fails,
 * as a frozen libvirtd does until libvirt's keepalive gives up (12 s in production). Prints the
 * tick wall time (mean, max) per mode, and the cost of the workers themselves (no latency, no
 * hung host). Numbers only: nothing here is checked. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "model.h"
#include "monitor.h"
#include "registry.h"
#include "util/log.h"
#include "util/xalloc.h"

#define VMS_PER_HOST 4

struct bench_hv {
    int host;
    int64_t latency_ns;
    int64_t hang_ns;          /* host 0 only */
    uint64_t cpu_ns;
};

static void sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = { .tv_sec = ns / JOULE_NS_PER_S, .tv_nsec = ns % JOULE_NS_PER_S };
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) != 0)
        ;
}

static int b_connect(void *st, struct joule_err *err)
{
    (void)st, (void)err;
    return 0;
}

static bool b_alive(void *st)
{
    (void)st;
    return true;
}

static int b_sample(void *st, struct hv_sample *out, struct joule_err *err)
{
    struct bench_hv *b = st;
    hv_sample_clear(out);
    if (b->hang_ns > 0) {
        sleep_ns(b->hang_ns);
        return joule_err_set(err, JOULE_EUNAVAIL, "host %d: keepalive timeout (simulated)",
                             b->host);
    }
    sleep_ns(b->latency_ns);
    const struct clock *ck = clock_real();
    out->t_ns = clock_now_ns(ck);
    out->mono_ns = clock_mono_ns(ck);
    out->cpus = 16;
    out->mhz = 2000;
    out->mem_kib = 64ULL << 20;
    b->cpu_ns += 1000000000ULL;
    for (int v = 0; v < VMS_PER_HOST; v++) {
        struct hv_vm_sample *vs = hv_sample_add_vm(out);
        snprintf(vs->uuid, sizeof vs->uuid, "00000000-0000-4000-8000-%06d%06d", b->host, v);
        vs->name = xasprintf("h%d-vm%d", b->host, v);
        vs->state = HV_VM_RUNNING;
        vs->cpu_time_ns = b->cpu_ns;
        vs->vcpus = 2;
        vs->mem_kib = 1 << 20;
    }
    return 0;
}

static int b_migrate(void *st, const char *vm_uuid, const struct hv_migrate_dest *dest,
                     const struct hv_migrate_opts *opts, struct hv_migrate_result *res,
                     struct joule_err *err)
{
    (void)st, (void)vm_uuid, (void)dest, (void)opts, (void)res;
    return joule_err_set(err, JOULE_ENOTSUP, "bench: no migration");
}

static void b_destroy(void *st) { free(st); }

static const struct hypervisor_ops bench_ops = {
    .abi = JOULE_DRIVER_ABI, .name = "bench", .connect = b_connect, .alive = b_alive,
    .sample = b_sample, .migrate = b_migrate, .destroy = b_destroy, .thread_safe = true,
};

static double now_s(void)
{
    return (double)clock_mono_ns(clock_real()) / 1e9;
}

/* Runs `ticks` ticks; prints mean and max tick wall time. */
static void run(const char *label, int n_hosts, int64_t latency_ns, int64_t hang_ns, int ticks,
                bool inline_samples)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, "api = { listen = \"\"; };\ntick_s = 10;\nhosts = (");
    for (int h = 0; h < n_hosts; h++)
        fprintf(f, "%s{ name = \"h%d\"; hypervisor = \"sim\"; }", h ? ", " : "", h);
    fprintf(f, ");\n");
    fclose(f);
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load_string(text, &cfg, &errors) < 0) {
        fprintf(stderr, "config: %s\n", errors);
        exit(1);
    }
    free(text);
    struct hypervisor **hv = xcalloc((size_t)n_hosts, sizeof *hv);
    for (int h = 0; h < n_hosts; h++) {
        struct bench_hv *b = xcalloc(1, sizeof *b);
        b->host = h;
        b->latency_ns = latency_ns;
        b->hang_ns = h == 0 ? hang_ns : 0;
        hv[h] = xcalloc(1, sizeof *hv[h]);
        hv[h]->ops = &bench_ops;
        hv[h]->state = b;
        hv[h]->id = xasprintf("h%d", h);
    }
    struct model *m = model_new(cfg);
    struct monitor *mon = NULL;
    struct monitor_deps d = { .cfg = cfg, .model = m, .hv = hv, .clock = clock_real() };
    struct joule_err err = { 0 };
    if (monitor_new(&d, &mon, &err) < 0) {
        fprintf(stderr, "monitor_new: %s\n", err.msg);
        exit(1);
    }
    monitor_set_inline(mon, inline_samples);
    double sum = 0, max = 0;
    size_t sampled = 0, lagging = 0;
    for (int t = 0; t < ticks; t++) {
        struct monitor_tick_out o;
        double a = now_s();
        monitor_tick(mon, &o, &err);
        double c = now_s() - a;
        sum += c;
        max = c > max ? c : max;
        sampled += o.hosts_sampled;
        lagging += o.hosts_lagging;
    }
    printf("%-34s tick mean %8.3f s  max %8.3f s  hosts sampled/tick %5.1f  lagging/tick %.1f\n",
           label, sum / ticks, max, (double)sampled / ticks, (double)lagging / ticks);
    double f0 = now_s();
    monitor_free(mon); /* joins a sample still in flight */
    double fw = now_s() - f0;
    if (fw > 0.01)
        printf("%-34s (monitor_free waited %.2f s for the hung host's call)\n", "", fw);
    for (int h = 0; h < n_hosts; h++)
        hypervisor_free(hv[h]);
    free(hv);
    model_free(m);
    config_free(cfg);
}

int main(int argc, char **argv)
{
    int n_hosts = argc > 1 ? atoi(argv[1]) : 50;
    double lat_ms = argc > 2 ? atof(argv[2]) : 20;
    double hang_s = argc > 3 ? atof(argv[3]) : 3;
    int ticks = argc > 4 ? atoi(argv[4]) : 3;
    if (n_hosts < 1 || n_hosts > 4096 || lat_ms < 0 || hang_s < 0 || ticks < 1) {
        fprintf(stderr, "usage: bench_monitor [hosts 1..4096] [latency_ms] [hang_s] [ticks]\n");
        return 2;
    }
    log_set_levels("err", NULL);
    int64_t lat = (int64_t)(lat_ms * 1e6), hang = (int64_t)(hang_s * 1e9);
    printf("bench_monitor: %d hosts, %d VMs each, sample latency %.0f ms, host h0 hung %.1f s, "
           "%d ticks, sample_timeout_s 2.5 (tick_s 10 / 4)\n",
           n_hosts, VMS_PER_HOST, lat_ms, hang_s, ticks);
    run("one after another, h0 hung:", n_hosts, lat, hang, ticks, true);
    run("one worker per host, h0 hung:", n_hosts, lat, hang, ticks, false);
    run("one after another, none hung:", n_hosts, lat, 0, ticks, true);
    run("one worker per host, none hung:", n_hosts, lat, 0, ticks, false);
    run("workers only (0 ms, none hung):", n_hosts, 0, 0, ticks, false);
    run("inline only (0 ms, none hung):", n_hosts, 0, 0, ticks, true);
    return 0;
}

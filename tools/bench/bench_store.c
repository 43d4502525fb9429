/* bench_store - MongoDB store throughput against a running server (tools/bench/store-bench
 * starts a local FerretDB for it).
 *   bench_store tick URI [ticks]   one tick of 1,000 hosts / 20,000 VMs per tick: the documents
 *                                  built by controller/docs.c, written by the mongo store (one
 *                                  unordered bulk insert per collection), timed per tick.
 *   bench_store seed30d URI        30 days of one host's power samples at 10 s (259,200
 *                                  documents), for timing `joulectl report` on them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "docs.h"
#include "driver.h"
#include "model.h"
#include "registry.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define N_HOSTS 1000
#define VMS_PER_HOST 20
#define S JOULE_NS_PER_S
#define T0 (1795737600LL * S) /* 2026-11-27T00:00:00Z */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct config *make_config(const char *uri, const char *db, const char *spool, int n_hosts)
{
    struct strbuf sb = { 0 };
    strbuf_addf(&sb, "cluster = \"bench\";\ntick_s = 10;\napi = { listen = \"\"; };\n"
                     "store = { uri = \"%s\"; database = \"%s\"; spool_path = \"%s\"; };\nhosts = (",
                uri, db, spool);
    for (int h = 0; h < n_hosts; h++)
        strbuf_addf(&sb, "%s{ name = \"host%04d\"; uri = \"qemu+tcp://host%04d/system\"; cpus = 32; "
                         "idle_w = 100; max_w = 300; }",
                    h ? ", " : "", h, h);
    strbuf_addf(&sb, ");\n");
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load_string(strbuf_str(&sb), &cfg, &errors) < 0) {
        fprintf(stderr, "config: %s\n", errors);
        exit(1);
    }
    strbuf_free(&sb);
    return cfg;
}

static struct store *open_store(const struct config *cfg)
{
    struct store *s = NULL;
    struct joule_err e = { 0 };
    if (store_new(registry_find_store("mongo"), cfg, NULL, &s, &e) < 0 || store_open(s, &e) < 0) {
        fprintf(stderr, "store: %s\n", e.msg);
        exit(1);
    }
    return s;
}

static void sample_all(struct model *m, int64_t t, int k)
{
    struct hv_sample s = { 0 };
    for (int h = 0; h < N_HOSTS; h++) {
        hv_sample_clear(&s);
        s.t_ns = t;
        s.mono_ns = t;
        s.cpus = 32;
        s.mem_kib = 256ULL * 1024 * 1024;
        for (int v = 0; v < VMS_PER_HOST; v++) {
            struct hv_vm_sample *vm = hv_sample_add_vm(&s);
            int id = h * VMS_PER_HOST + v;
            snprintf(vm->uuid, sizeof vm->uuid, "bbbbbbbb-0000-4000-8000-%012d", id);
            vm->name = xasprintf("vm%05d", id);
            vm->cpu_time_ns = (uint64_t)k * (uint64_t)(v + 1) * 500000000ULL;
            vm->vcpus = 2;
            vm->mem_kib = 2 * 1024 * 1024;
            vm->state = HV_VM_RUNNING;
        }
        model_apply_sample(m, h, &s);
    }
    hv_sample_free(&s);
    model_estimate_watts(m, t, 60 * S);
}

static int insert(struct store *s, const char *coll, bson_t **docs, size_t n)
{
    struct joule_err e = { 0 };
    int rc = store_insert(s, coll, (const bson_t *const *)docs, n, &e);
    for (size_t i = 0; i < n; i++)
        bson_destroy(docs[i]);
    if (rc != (int)n) {
        fprintf(stderr, "insert %s: %s\n", coll, e.msg);
        return -1;
    }
    return 0;
}

static int bench_tick(const char *uri, int ticks)
{
    char spool[] = "/tmp/joule-bench-spool-XXXXXX";
    int fd = mkstemp(spool);
    if (fd >= 0)
        close(fd);
    struct config *cfg = make_config(uri, "bench_tick", spool, N_HOSTS);
    struct model *m = model_new(cfg);
    struct store *s = open_store(cfg);
    struct docs_power_prev *prev = xcalloc(N_HOSTS, sizeof *prev);
    size_t n_vms = (size_t)N_HOSTS * VMS_PER_HOST;
    bson_t **docs = xcalloc(n_vms, sizeof *docs);
    sample_all(m, T0 - 10 * S, 0);
    double best = 1e9, sum = 0;
    int rc = 0;
    for (int k = 1; k <= ticks && rc == 0; k++) {
        int64_t t = T0 + (int64_t)(k - 1) * 10 * S;
        sample_all(m, t, k);
        double t0 = now_s();
        for (int h = 0; h < N_HOSTS; h++)
            docs[h] = docs_host_sample("bench", m, h, t);
        rc |= insert(s, DOCS_HOST_SAMPLES, docs, N_HOSTS);
        for (int h = 0; h < N_HOSTS; h++)
            docs[h] = docs_power_sample("bench", m, h, t, &prev[h]);
        rc |= insert(s, DOCS_POWER_SAMPLES, docs, N_HOSTS);
        size_t n = 0;
        for (size_t v = 0; v < m->n_vms; v++) {
            bson_t *d = docs_vm_sample("bench", m, (int)v, t);
            if (d)
                docs[n++] = d;
        }
        rc |= insert(s, DOCS_VM_SAMPLES, docs, n);
        double dt = now_s() - t0;
        size_t total = 2 * N_HOSTS + n;
        printf("tick %d: %zu documents (%d host, %d power, %zu VM samples) in %.3f s = %.0f "
               "documents/s\n",
               k, total, N_HOSTS, N_HOSTS, n, dt, (double)total / dt);
        if (dt < best)
            best = dt;
        sum += dt;
    }
    if (rc == 0)
        printf("insert: %d ticks of 1,000 hosts / 20,000 VMs: mean %.3f s per tick, best %.3f s "
               "(%.0f documents/s); spool depth %zu\n",
               ticks, sum / ticks, best, (double)(2 * N_HOSTS + n_vms) / (sum / ticks),
               store_spool_depth(s));
    free(docs);
    free(prev);
    store_free(s);
    model_free(m);
    config_free(cfg);
    unlink(spool);
    return rc ? 1 : 0;
}

static int bench_seed30d(const char *uri)
{
    char spool[] = "/tmp/joule-bench-spool-XXXXXX";
    int fd = mkstemp(spool);
    if (fd >= 0)
        close(fd);
    struct config *cfg = make_config(uri, "bench_report", spool, 1);
    struct model *m = model_new(cfg);
    struct store *s = open_store(cfg);
    const int per_day = 8640, days = 30, batch = 8640;
    bson_t **docs = xcalloc((size_t)batch, sizeof *docs);
    struct docs_power_prev prev = { 0 };
    double t0 = now_s();
    int rc = 0;
    for (int i = 0; i < per_day * days && rc == 0; i += batch) {
        for (int k = 0; k < batch; k++) {
            int64_t t = T0 - (int64_t)days * 86400 * S + (int64_t)(i + k) * 10 * S;
            /* a day/night load curve between idle (100 W) and 250 W */
            m->hosts[0].watts = 100 + 150 * (double)(((i + k) % per_day) < per_day / 2);
            m->hosts[0].watts_from_model = true;
            docs[k] = docs_power_sample("bench", m, 0, t, &prev);
        }
        rc = insert(s, DOCS_POWER_SAMPLES, docs, (size_t)batch);
    }
    double dt = now_s() - t0;
    if (rc == 0)
        printf("seed: %d power samples (30 days at 10 s) in %.1f s = %.0f documents/s\n",
               per_day * days, dt, per_day * days / dt);
    free(docs);
    store_free(s);
    model_free(m);
    config_free(cfg);
    unlink(spool);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "tick") == 0)
        return bench_tick(argv[2], argc >= 4 ? atoi(argv[3]) : 3);
    if (argc == 3 && strcmp(argv[1], "seed30d") == 0)
        return bench_seed30d(argv[2]);
    fprintf(stderr, "usage: bench_store tick URI [ticks] | bench_store seed30d URI\n"
                    "(tools/bench/store-bench starts a FerretDB and runs both)\n");
    return 2;
}

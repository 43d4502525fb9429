/* bench_policy - time one full policy round (Th1 + Th2 + balance) on generated clusters.
 * Hosts of 16 and 32 cores, about 70% on; VMs of 1-8 vCPUs whose loads come from PlanetLab
 * traces; a few hosts overloaded and a few nearly empty so that every rule has work. Each size
 * runs in its own child process so that its peak memory (ru_maxrss) is its own.
 * Prints numbers; nothing here is a test. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy/policy.h"
#include "snapshot_json.h"
#include "util/xalloc.h"

#define TRACE_SAMPLES 288
#define ACTIVE_SHARE 0.70
#define OVERLOADED_SHARE 0.03
#define NEARLY_EMPTY_SHARE 0.05
#define OVERLOAD_SCALE 4.0
#define NS_PER_S 1000000000LL
#define PEAK_EXPECTED_SHARE 0.9

struct traces {
    unsigned char (*v)[TRACE_SAMPLES];
    size_t n;
};

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r) /* splitmix64 */
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double rng_unit(struct rng *r) { return (double)(rng_next(r) >> 11) / 9007199254740992.0; }
static size_t rng_below(struct rng *r, size_t n) { return (size_t)(rng_next(r) % n); }

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads every regular file of `dir` (sorted by name) as a PlanetLab trace: 288 integers 0..100. */
static int traces_load(const char *dir, struct traces *t)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "bench_policy: traces directory %s: %s (pass --traces DIR, e.g. "
                        "/work/shared/data/planetlab/20110303)\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "README.md"))
            continue;
        xgrow((void **)&names, &cap, n + 1, sizeof *names);
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    t->v = xcalloc(n + 1, sizeof *t->v);
    t->n = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = xasprintf("%s/%s", dir, names[i]);
        FILE *f = fopen(path, "r");
        if (!f) {
            fprintf(stderr, "bench_policy: %s: %s\n", path, strerror(errno));
            rc = -1;
        }
        char line[64];
        size_t k = 0;
        while (rc == 0 && fgets(line, sizeof line, f)) {
            char *end;
            errno = 0;
            long v = strtol(line, &end, 10);
            if (end == line || (*end != '\n' && *end != '\0') || errno || v < 0 || v > 100 ||
                k >= TRACE_SAMPLES) {
                fprintf(stderr, "bench_policy: %s:%zu: expected an integer 0..100 (and %d lines)\n",
                        path, k + 1, TRACE_SAMPLES);
                rc = -1;
                break;
            }
            t->v[t->n][k++] = (unsigned char)v;
        }
        if (f)
            fclose(f);
        if (rc == 0 && k != TRACE_SAMPLES) {
            fprintf(stderr, "bench_policy: %s: %zu lines, expected %d\n", path, k, TRACE_SAMPLES);
            rc = -1;
        }
        if (rc == 0)
            t->n++;
        free(path);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc == 0 && t->n == 0) {
        fprintf(stderr, "bench_policy: no trace files in %s\n", dir);
        rc = -1;
    }
    return rc;
}

enum host_class { HOST_NORMAL, HOST_OVERLOADED, HOST_NEARLY_EMPTY };

struct cluster {
    struct model_snapshot snap;
    char *names;
};

static void cluster_gen(struct cluster *c, const struct traces *t, size_t nh, size_t nv,
                        uint64_t seed)
{
    struct rng r = { seed };
    struct model_snapshot *s = &c->snap;
    memset(s, 0, sizeof *s);
    s->now_ns = 1000000 * NS_PER_S;
    s->n_hosts = nh;
    s->hosts = xcalloc(nh, sizeof *s->hosts);
    s->vms = xcalloc(nv, sizeof *s->vms);
    s->consolidation_allowed = true;
    s->min_active_hosts = 1;
    /* names: "h%06zu" and "vm-%08zu" */
    c->names = xcalloc(nh * 8 + nv * 12, 1);
    enum host_class *cls = xcalloc(nh, sizeof *cls);
    size_t *active = xcalloc(nh, sizeof *active), n_active = 0, n_normal = 0;
    for (size_t i = 0; i < nh; i++) {
        struct snap_host *h = &s->hosts[i];
        char *name = c->names + i * 8;
        snprintf(name, 8, "h%06zu", i % 1000000);
        h->name = name;
        h->cpus = i % 2 ? 32 : 16;
        h->mem_mib = h->cpus * 8192;
        h->idle_w = h->cpus == 32 ? 160 : 95;
        h->max_w = h->cpus == 32 ? 420 : 250;
        h->priority = (int)(i % 3);
        h->reachable = true;
        h->off_since_ns = SNAP_NEVER;
        h->excluded = i % 97 == 0;
        if (rng_unit(&r) < ACTIVE_SHARE) {
            h->state = POWER_STATE_ON;
            active[n_active++] = i;
            double u = rng_unit(&r);
            cls[i] = u < OVERLOADED_SHARE ? HOST_OVERLOADED
                   : u < OVERLOADED_SHARE + NEARLY_EMPTY_SHARE ? HOST_NEARLY_EMPTY
                                                               : HOST_NORMAL;
            n_normal += cls[i] != HOST_NEARLY_EMPTY;
        } else {
            h->state = POWER_STATE_OFF;
            h->off_since_ns = s->now_ns - (int64_t)(3600 + rng_below(&r, 86400)) * NS_PER_S;
        }
    }
    /* VM placement: nearly empty hosts get 1 VM; the rest are dealt over the other active
     * hosts at random. */
    double *cores = xcalloc(nh, sizeof *cores);
    for (size_t v = 0; v < nv; v++) {
        struct snap_vm *vm = &s->vms[v];
        char *name = c->names + nh * 8 + v * 12;
        snprintf(name, 12, "vm-%08zu", v % 100000000);
        vm->uuid = vm->name = name;
        size_t h;
        if (v < n_active && cls[active[v]] == HOST_NEARLY_EMPTY) {
            h = active[v];
        } else {
            do
                h = active[rng_below(&r, n_active)];
            while (cls[h] == HOST_NEARLY_EMPTY && n_normal > 0);
        }
        vm->host = (int)h;
        vm->vcpus = (double)(1 + rng_below(&r, 8));
        vm->mem_mib = 512 * vm->vcpus;
        const unsigned char *tr = t->v[rng_below(&r, t->n)];
        double util = tr[rng_below(&r, TRACE_SAMPLES)] / 100.0;
        if (cls[h] == HOST_OVERLOADED)
            util = fmin(1.0, util * OVERLOAD_SCALE + 0.3);
        vm->cpu_cores = util * vm->vcpus;
        vm->last_move_ns = rng_unit(&r) < 0.05 ? s->now_ns - 60 * NS_PER_S : SNAP_NEVER;
        vm->pinned = rng_unit(&r) < 0.02;
        cores[h] += vm->cpu_cores;
    }
    s->n_vms = nv;
    for (size_t i = 0; i < nh; i++)
        if (s->hosts[i].state == POWER_STATE_ON)
            s->hosts[i].load_pct = fmin(100.0, cores[i] / s->hosts[i].cpus * 100.0);
    free(cores);
    free(cls);
    free(active);
}

static void cluster_free(struct cluster *c)
{
    free(c->snap.hosts);
    free(c->snap.vms);
    free(c->names);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static long maxrss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Runs in the child: generate, time `reps` rounds, print one line. */
static int bench_one(const struct traces *t, size_t nh, size_t nv, int reps, unsigned moves,
                     bool peak, uint64_t seed)
{
    struct cluster c;
    cluster_gen(&c, t, nh, nv, seed);
    struct policy_cfg cfg;
    policy_cfg_defaults(&cfg);
    if (moves)
        cfg.max_moves_per_round = moves;
    size_t n_on = 0;
    double used = 0, cap = 0;
    for (size_t i = 0; i < nh; i++)
        if (c.snap.hosts[i].state == POWER_STATE_ON) {
            n_on++;
            used += c.snap.hosts[i].load_pct / 100 * c.snap.hosts[i].cpus;
            cap += c.snap.hosts[i].cpus;
        }
    if (peak) {
        /* Before a peak window: 90% of today's active capacity expected, no consolidation. */
        c.snap.expected_load_cores = cap * PEAK_EXPECTED_SHARE;
        c.snap.consolidation_allowed = false;
    }
    long rss_before = maxrss_kib();
    double *times = xcalloc((size_t)reps, sizeof *times);
    struct plan p;
    plan_init(&p);
    struct joule_err err = { 0 };
    for (int i = 0; i < reps; i++) {
        plan_clear(&p);
        double t0 = now_s();
        int rc = policy_run(&cfg, &c.snap, &p, &err);
        times[i] = now_s() - t0;
        if (rc < 0) {
            fprintf(stderr, "bench_policy: policy_run: %s\n", err.msg);
            return 1;
        }
    }
    long rss_after = maxrss_kib();
    qsort(times, (size_t)reps, sizeof *times, dbl_cmp);
    size_t by_reason[PLAN_REASON__COUNT] = { 0 };
    for (size_t i = 0; i < p.n; i++)
        by_reason[p.actions[i].reason]++;
    printf("%6zu hosts (%zu on, avg %.1f%%) %7zu VMs  %-5s moves<=%-5u  round: min %8.3f ms  "
           "median "
           "%8.3f ms  max %8.3f ms (%d runs)  peak RSS %ld KiB (+%ld KiB in policy_run)\n",
           nh, n_on, used / cap * 100, nv, peak ? "peak" : "", cfg.max_moves_per_round,
           times[0] * 1e3,
           times[reps / 2] * 1e3, times[reps - 1] * 1e3, reps, rss_after,
           rss_after - rss_before);
    printf("       plan: %zu actions:", p.n);
    for (int r = 0; r < PLAN_REASON__COUNT; r++)
        if (by_reason[r])
            printf(" %s %zu", plan_reason_name((enum plan_reason)r), by_reason[r]);
    printf("\n");
    fflush(stdout);
    plan_free(&p);
    free(times);
    cluster_free(&c);
    return 0;
}

/* Writes the cluster as a snapshot file (for joulectl plan --dry-run) and times the JSON. */
static int write_snapshot(const struct traces *t, size_t nh, size_t nv, uint64_t seed,
                          const char *path)
{
    struct cluster c;
    cluster_gen(&c, t, nh, nv, seed);
    struct policy_cfg cfg;
    policy_cfg_defaults(&cfg);
    double t0 = now_s();
    char *j = snapshot_json_write(&c.snap, &cfg);
    double t1 = now_s();
    size_t len = strlen(j);
    struct snapshot_doc *d = NULL;
    struct joule_err err = { 0 };
    int rc = snapshot_json_parse(j, len, path, &d, &err);
    double t2 = now_s();
    if (rc < 0) {
        fprintf(stderr, "bench_policy: re-reading the snapshot: %s\n", err.msg);
        free(j);
        cluster_free(&c);
        return 1;
    }
    snapshot_doc_free(d);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(j, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "bench_policy: %s: %s\n", path, strerror(errno));
        free(j);
        cluster_free(&c);
        return 1;
    }
    printf("snapshot %s: %zu bytes, JSON write %.1f ms, parse %.1f ms\n", path, len,
           (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    free(j);
    cluster_free(&c);
    return 0;
}

static int run_child(const struct traces *t, size_t nh, size_t nv, int reps, unsigned moves,
                     bool peak, uint64_t seed)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "bench_policy: fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0)
        _exit(bench_one(t, nh, nv, reps, moves, peak, seed));
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_policy: run %zu/%zu failed\n", nh, nv);
        return 1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_policy [--traces DIR] [--hosts N --vms M] [--reps N] [--moves N]\n"
               "                    [--seed S] [--peak] [--write-snapshot FILE]\n"
               "Without --hosts: 1,000 hosts / 20,000 VMs and 10,000 / 200,000, each off-peak\n"
               "with the default move cap (4), before a peak (--peak: 90%% of the active capacity\n"
               "expected, peak pre-wake) and off-peak with a cap of 1,000 moves.\n"
               "--write-snapshot FILE writes the generated cluster (default 1,000 / 20,000) as a\n"
               "snapshot for joulectl plan --dry-run, and times the JSON write and parse.\n"
               "Traces default to %s.\n"
               "example: bench_policy --traces /work/shared/data/planetlab/20110303\n",
            JOULE_PLANETLAB_SAMPLE);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno || v == 0 || v > 10000000ULL)
        return -1;
    *out = (size_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = JOULE_PLANETLAB_SAMPLE;
    size_t nh = 0, nv = 0, reps = 0, moves = 0, seed = 20110303;
    bool peak = false;
    const char *snapshot_out = NULL;
    for (int i = 1; i < argc; i++) {
        size_t *dst = NULL;
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--peak")) {
            peak = true;
            continue;
        } else if (!strcmp(argv[i], "--write-snapshot") && i + 1 < argc) {
            snapshot_out = argv[++i];
            continue;
        } else if (!strcmp(argv[i], "--traces") && i + 1 < argc) {
            dir = argv[++i];
            continue;
        } else if (!strcmp(argv[i], "--hosts")) {
            dst = &nh;
        } else if (!strcmp(argv[i], "--vms")) {
            dst = &nv;
        } else if (!strcmp(argv[i], "--reps")) {
            dst = &reps;
        } else if (!strcmp(argv[i], "--moves")) {
            dst = &moves;
        } else if (!strcmp(argv[i], "--seed")) {
            dst = &seed;
        }
        if (!dst || i + 1 >= argc || parse_size(argv[i + 1], dst) < 0) {
            usage(stderr);
            return 2;
        }
        i++;
    }
    if ((nh == 0) != (nv == 0)) {
        usage(stderr);
        return 2;
    }
    struct traces t = { 0 };
    if (traces_load(dir, &t) < 0)
        return 1;
    printf("bench_policy: %zu PlanetLab traces from %s, seed %zu\n", t.n, dir, seed);
    int rc = 0;
    if (snapshot_out) {
        rc = write_snapshot(&t, nh ? nh : 1000, nv ? nv : 20000, seed, snapshot_out);
    } else if (nh) {
        rc |= run_child(&t, nh, nv, reps ? (int)reps : 10, (unsigned)moves, peak, seed);
    } else {
        static const struct { size_t nh, nv; int reps; } sizes[] = {
            { 1000, 20000, 50 }, { 10000, 200000, 10 } };
        for (size_t i = 0; i < 2; i++) {
            int n = reps ? (int)reps : sizes[i].reps;
            rc |= run_child(&t, sizes[i].nh, sizes[i].nv, n, (unsigned)moves, false, seed);
            rc |= run_child(&t, sizes[i].nh, sizes[i].nv, n, (unsigned)moves, true, seed);
            if (!moves)
                rc |= run_child(&t, sizes[i].nh, sizes[i].nv, n, 1000, false, seed);
        }
    }
    free(t.v);
    return rc;
}

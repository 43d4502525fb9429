/* monitor.c - one sampling tick: every host's hypervisor (one sample call each), then the meter,
 * into the model; the samples also go to the store (host_samples, vm_samples, power_samples).
 * A host whose connection is gone is reconnected (the driver rate-limits the attempts with its
 * own backoff); while it cannot be sampled it is marked unreachable, logged once when that
 * starts and once when it ends.
 *
 * Concurrency (monitor-parallel): a hung hypervisor (a frozen libvirtd answers nothing until
 * libvirt's keepalive gives up, 12 s) must cost that host's data, not the whole control loop.
 * Each host's connect + sample runs as one job on its own short-lived worker thread, at most
 * one job per host in flight. A per-host thread rather than a fixed pool: a pool of N workers
 * is exhausted by N hung hosts, after which every other host waits behind them; a thread per
 * host can only ever hold up its own host, costs one pthread_create per host per tick (tens of
 * microseconds against a tick of seconds), and needs no queue. The loop waits for the jobs on a
 * condition variable until all are back or cfg->sample_timeout_ns has passed (wall time), then
 * applies the finished ones in host order, so the model sees the same order on every run.
 * A job still in flight ("lagging") leaves its host's data as it was, and it is logged once
 * when the lag starts and once when it ends. Its result, harvested at a later tick, is applied
 * only if no newer result of that host arrived in that tick and if it is fresh (its sample at
 * most tick_s old); otherwise it is dropped. A failure is applied as unreachable. A job in
 * flight for cfg->sample_unreachable_ns makes its host unreachable (policy plans nothing onto
 * it) until it answers.
 * Drivers that are not thread_safe (sim: one shared sim_cluster and simulated clock) and
 * monitor_set_inline(mon, true) run the jobs on the caller's thread, one after another.
 * Threads: a worker touches only its job (the handle of its host, its own hv_sample, rc, err)
 * and publishes the result by setting `done` under mon->mu; the loop reads the result only
 * after it saw `done` under mu. Only the loop thread touches the model, the log and the store. */
#include "monitor.h"

#include "docs.h"

#include <assert.h>
#include <bson/bson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/xalloc.h"

#define LOG_MODULE "monitor"
#define MONITOR_METER_BATCH 64

/* One host's connect + sample. */
struct mon_job {
    struct monitor *mon;
    struct hypervisor *hv;
    /* loop thread only */
    bool busy;                /* started, result not harvested yet */
    bool threaded;            /* runs on `thread` (joined at harvest) */
    pthread_t thread;
    int64_t started_mono_ns;  /* monitor clock */
    uint64_t tick;            /* the tick that started it */
    /* guarded by mon->mu */
    bool done;
    /* written by the worker before `done`, read by the loop after it */
    int rc;
    struct joule_err err;
    struct hv_sample sample;
    int64_t cost_ns;          /* wall time of connect + sample */
};

/* A result harvested at the start of a tick, held until the tick knows whether a newer one
 * arrived (loop thread only). */
struct mon_late {
    bool have;
    int rc;
    struct joule_err err;
    struct hv_sample sample;
};

struct monitor {
    struct monitor_deps d;
    struct log_complaint *unreachable; /* one per host */
    struct log_complaint *lagging;     /* one per host */
    struct log_complaint meter_fail;
    struct log_complaint store_fail;
    struct docs_power_prev *power_prev; /* one per host: energy between power samples */
    pthread_mutex_t mu;
    pthread_cond_t cv;                  /* CLOCK_MONOTONIC; a job is done */
    struct mon_job *jobs;               /* one per host */
    struct mon_late *late;              /* one per host */
    bool inline_samples;
    uint64_t tick;
    struct monitor_stats st;
};

static int64_t real_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * JOULE_NS_PER_S + ts.tv_nsec;
}

int monitor_new(const struct monitor_deps *deps, struct monitor **out, struct joule_err *err)
{
    if (!deps->cfg || !deps->model || !deps->clock || (!deps->hv && deps->cfg->n_hosts > 0))
        return joule_err_set(err, JOULE_EINVAL,
                             "monitor: config, model, clock and hypervisors are required");
    struct monitor *mon = xcalloc(1, sizeof *mon);
    size_t n = deps->cfg->n_hosts;
    mon->d = *deps;
    mon->unreachable = xcalloc(n + 1, sizeof *mon->unreachable);
    mon->lagging = xcalloc(n + 1, sizeof *mon->lagging);
    mon->power_prev = xcalloc(n + 1, sizeof *mon->power_prev);
    mon->jobs = xcalloc(n + 1, sizeof *mon->jobs);
    mon->late = xcalloc(n + 1, sizeof *mon->late);
    for (size_t h = 0; h < n; h++) {
        mon->jobs[h].mon = mon;
        mon->jobs[h].hv = deps->hv[h];
    }
    pthread_mutex_init(&mon->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&mon->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = mon;
    return 0;
}

void monitor_free(struct monitor *mon)
{
    if (!mon)
        return;
    size_t n = mon->d.cfg->n_hosts;
    for (size_t h = 0; h < n; h++) {
        struct mon_job *j = &mon->jobs[h];
        if (j->busy && j->threaded) /* bounded by the driver's own timeouts (keepalive) */
            pthread_join(j->thread, NULL);
        hv_sample_free(&j->sample);
        hv_sample_free(&mon->late[h].sample);
    }
    pthread_cond_destroy(&mon->cv);
    pthread_mutex_destroy(&mon->mu);
    free(mon->jobs);
    free(mon->late);
    free(mon->unreachable);
    free(mon->lagging);
    free(mon->power_prev);
    free(mon);
}

void monitor_stats(const struct monitor *mon, struct monitor_stats *out) { *out = mon->st; }

bool monitor_host_lagging(const struct monitor *mon, size_t host)
{
    return host < mon->d.model->n_hosts && mon->jobs[host].busy;
}

void monitor_set_inline(struct monitor *mon, bool inline_samples)
{
    mon->inline_samples = inline_samples;
}

void monitor_set_config(struct monitor *mon, const struct config *cfg)
{
    assert(cfg->n_hosts == mon->d.cfg->n_hosts);
    mon->d.cfg = cfg;
}

static void docs_free(bson_t **docs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bson_destroy(docs[i]);
    free(docs);
}

static int insert(struct monitor *mon, const char *coll, bson_t **docs, size_t n,
                  struct joule_err *e)
{
    int rc = n ? store_insert(mon->d.store, coll, (const bson_t *const *)docs, n, e) : 0;
    docs_free(docs, n);
    return rc < 0 ? rc : 0; /* store_insert returns a count */
}

/* One insert per collection (docs.h builders, the schemas/ shapes): host_samples and
 * power_samples for every host, vm_samples for the VMs seen in this tick's samples. */
static int store_tick(struct monitor *mon, int64_t t_ns, const bool *sampled)
{
    const struct model *m = mon->d.model;
    const char *cluster = mon->d.cfg->cluster;
    struct joule_err e = { 0 };
    bson_t **hd = xcalloc(m->n_hosts + 1, sizeof *hd);
    for (size_t h = 0; h < m->n_hosts; h++)
        hd[h] = docs_host_sample(cluster, m, (int)h, t_ns);
    int rc = insert(mon, DOCS_HOST_SAMPLES, hd, m->n_hosts, &e);
    if (rc == 0) {
        bson_t **pd = xcalloc(m->n_hosts + 1, sizeof *pd);
        for (size_t h = 0; h < m->n_hosts; h++)
            pd[h] = docs_power_sample(cluster, m, (int)h, t_ns, &mon->power_prev[h]);
        rc = insert(mon, DOCS_POWER_SAMPLES, pd, m->n_hosts, &e);
    }
    if (rc == 0) {
        bson_t **vd = xcalloc(m->n_vms + 1, sizeof *vd);
        size_t n = 0;
        for (size_t i = 0; i < m->n_vms; i++) {
            const struct model_vm *v = &m->vms[i];
            if (v->host >= 0 && sampled[v->host] && v->last_seen_ns == t_ns &&
                (vd[n] = docs_vm_sample(cluster, m, (int)i, t_ns)))
                n++;
        }
        rc = insert(mon, DOCS_VM_SAMPLES, vd, n, &e);
    }
    if (rc < 0) {
        if (log_complain(&mon->store_fail))
            JLOG_WARN("event=store_failed error=\"%s\"", e.msg);
    } else {
        unsigned long k = log_release(&mon->store_fail);
        if (k)
            JLOG_NOTICE("event=store_recovered failures=%lu", k);
    }
    return rc;
}

static void meter_tick(struct monitor *mon)
{
    struct meter_reading r[MONITOR_METER_BATCH];
    struct joule_err e = { 0 };
    int n = meter_poll(mon->d.meter, r, MONITOR_METER_BATCH, 0, &e);
    if (n < 0) {
        if (log_complain(&mon->meter_fail))
            JLOG_WARN("event=meter_failed error=\"%s\"", e.msg);
        return;
    }
    unsigned long k = log_release(&mon->meter_fail);
    if (k)
        JLOG_NOTICE("event=meter_recovered failures=%lu", k);
    for (int i = 0; i < n; i++) {
        if (r[i].host < 0 || (size_t)r[i].host >= mon->d.model->n_hosts || !r[i].has_watts)
            continue;
        model_apply_meter(mon->d.model, r[i].host, r[i].t_ns, r[i].watts,
                          r[i].has_energy ? r[i].energy_kwh : -1);
    }
}

/* ---------------------------------------------------------------- sample jobs */

/* The job itself: on a worker thread, or inline. Touches only the job. */
static void job_run(struct mon_job *j)
{
    int64_t t0 = real_mono_ns();
    struct joule_err e = { 0 };
    int rc = hypervisor_alive(j->hv) ? 0 : hypervisor_connect(j->hv, &e);
    if (rc == 0)
        rc = hypervisor_sample(j->hv, &j->sample, &e);
    j->rc = rc;
    j->err = e;
    j->cost_ns = real_mono_ns() - t0;
    struct monitor *mon = j->mon;
    pthread_mutex_lock(&mon->mu);
    j->done = true;
    pthread_cond_broadcast(&mon->cv);
    pthread_mutex_unlock(&mon->mu);
}

static void *job_thread(void *arg)
{
    job_run(arg);
    return NULL;
}

static void job_start(struct monitor *mon, size_t h, int64_t now_mono, bool threaded)
{
    struct mon_job *j = &mon->jobs[h];
    if (mon->d.model->hosts[h].state == POWER_STATE_WAKING)
        hypervisor_retry_soon(j->hv); /* being powered on: try every tick, no backoff */
    j->busy = true;
    j->threaded = false;
    j->started_mono_ns = now_mono;
    j->tick = mon->tick;
    pthread_mutex_lock(&mon->mu);
    j->done = false;
    pthread_mutex_unlock(&mon->mu);
    if (threaded) {
        int prc = pthread_create(&j->thread, NULL, job_thread, j);
        if (prc == 0) {
            j->threaded = true;
            return;
        }
        JLOG_WARN("event=sample_thread_failed host=%s errno=%d fallback=inline",
                  mon->d.model->hosts[h].name, prc);
    }
    job_run(j);
}

static bool job_done(struct monitor *mon, const struct mon_job *j)
{
    pthread_mutex_lock(&mon->mu);
    bool done = j->done;
    pthread_mutex_unlock(&mon->mu);
    return done;
}

/* A finished job: joins its thread; the result stays in the job until the next start. */
static void job_harvest(struct mon_job *j)
{
    if (j->threaded)
        pthread_join(j->thread, NULL);
    j->threaded = false;
    j->busy = false;
}

/* Waits until no job is in flight (only those started in this tick if this_tick_only) or the
 * deadline (wall time) passes; returns how many are still in flight. */
static size_t wait_jobs(struct monitor *mon, int64_t deadline_real_ns, bool this_tick_only)
{
    size_t n = mon->d.model->n_hosts, left;
    struct timespec ts = { .tv_sec = deadline_real_ns / JOULE_NS_PER_S,
                           .tv_nsec = deadline_real_ns % JOULE_NS_PER_S };
    pthread_mutex_lock(&mon->mu);
    for (;;) {
        left = 0;
        for (size_t h = 0; h < n; h++) {
            const struct mon_job *j = &mon->jobs[h];
            left += j->busy && !j->done && (!this_tick_only || j->tick == mon->tick);
        }
        if (left == 0 || real_mono_ns() >= deadline_real_ns)
            break;
        pthread_cond_timedwait(&mon->cv, &mon->mu, &ts);
    }
    pthread_mutex_unlock(&mon->mu);
    return left;
}

size_t monitor_drain(struct monitor *mon, int64_t timeout_ns)
{
    return wait_jobs(mon, real_mono_ns() + timeout_ns, false);
}

/* ---------------------------------------------------------------- applying results */

static void apply_failure(struct monitor *mon, size_t h, const struct joule_err *e,
                          struct monitor_tick_out *o)
{
    struct model *m = mon->d.model;
    bool was = m->hosts[h].reachable;
    model_host_set_unreachable(m, (int)h, o->t_ns);
    o->hosts_unreachable++;
    if (log_complain(&mon->unreachable[h]) || was)
        JLOG_WARN("event=host_unreachable host=%s error=\"%s\"", m->hosts[h].name, e->msg);
}

static void apply_sample(struct monitor *mon, size_t h, struct hv_sample *s, int64_t cost_ns,
                         struct monitor_tick_out *o, bool *sampled)
{
    struct model *m = mon->d.model;
    unsigned long k = log_release(&mon->unreachable[h]);
    if (k)
        JLOG_NOTICE("event=host_reachable host=%s failed_ticks=%lu", m->hosts[h].name, k);
    /* one time stamp per tick for every host (deltas still use the sample's mono_ns) */
    s->t_ns = o->t_ns;
    model_apply_sample(m, (int)h, s);
    /* a host whose hypervisor answers is on, unless the power state machine knows better */
    if (m->hosts[h].state == POWER_STATE_UNKNOWN)
        m->hosts[h].state = POWER_STATE_ON;
    sampled[h] = true;
    o->hosts_sampled++;
    JLOG_DEBUG("event=host_sampled host=%s vms=%zu load_pct=%.1f cost_ms=%.2f", m->hosts[h].name,
               s->n_vms, m->hosts[h].load_pct, (double)cost_ns / 1e6);
}

/* Is a result fresh enough to apply now: a success whose sample is at most one tick old.
 * Failures always count (the host did not answer). */
static bool result_fresh(const struct monitor *mon, int rc, const struct hv_sample *s,
                         int64_t now_mono)
{
    return rc < 0 || now_mono - s->mono_ns <= mon->d.cfg->tick_ns;
}

/* One host's result into the model: a failure makes it unreachable, a sample is applied. A late
 * result (from an earlier tick) counts as applied if fresh, else it is dropped. */
static void apply_result(struct monitor *mon, size_t h, int rc, const struct joule_err *e,
                         struct hv_sample *s, int64_t cost_ns, bool late, int64_t now_mono,
                         struct monitor_tick_out *o, bool *sampled)
{
    if (late && !result_fresh(mon, rc, s, now_mono)) {
        o->late_dropped++;
        return;
    }
    o->late_applied += late;
    if (rc < 0)
        apply_failure(mon, h, e, o);
    else
        apply_sample(mon, h, s, cost_ns, o, sampled);
}

static void swap_sample(struct hv_sample *a, struct hv_sample *b)
{
    struct hv_sample t = *a;
    *a = *b;
    *b = t;
}

static void cost_add(struct monitor_tick_out *o, int64_t cost)
{
    o->host_cost_ns_sum += cost;
    if (cost > o->host_cost_ns_max)
        o->host_cost_ns_max = cost;
}

int monitor_tick(struct monitor *mon, struct monitor_tick_out *out, struct joule_err *err)
{
    (void)err; /* per-host failures are states (unreachable, lagging), not errors of the tick */
    struct model *m = mon->d.model;
    const struct config *cfg = mon->d.cfg;
    const struct clock *ck = mon->d.clock;
    struct monitor_tick_out o = { 0 };
    int64_t tick0 = clock_mono_ns(ck);
    int64_t deadline = real_mono_ns() + cfg->sample_timeout_ns;
    o.t_ns = clock_now_ns(ck);
    mon->tick++;
    size_t n = m->n_hosts;
    bool *sampled = xcalloc(n + 1, sizeof *sampled);

    /* results that came back after their tick stopped waiting: held until we know whether a
     * newer one arrives in this tick */
    for (size_t h = 0; h < n; h++) {
        struct mon_job *j = &mon->jobs[h];
        if (!j->busy || !job_done(mon, j))
            continue;
        job_harvest(j);
        struct mon_late *l = &mon->late[h];
        l->have = true;
        l->rc = j->rc;
        l->err = j->err;
        swap_sample(&l->sample, &j->sample);
        cost_add(&o, j->cost_ns);
    }
    /* start a job for every host that has none in flight: workers first, then inline ones */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t h = 0; h < n; h++) {
            struct mon_job *j = &mon->jobs[h];
            if (!j->hv || j->busy)
                continue;
            bool threaded = !mon->inline_samples && hypervisor_thread_safe(j->hv);
            if (threaded == (pass == 0))
                job_start(mon, h, tick0, threaded);
        }
    }
    int64_t w0 = real_mono_ns();
    wait_jobs(mon, deadline, true);
    o.wait_ns = real_mono_ns() - w0;

    /* apply in host order */
    for (size_t h = 0; h < n; h++) {
        struct mon_job *j = &mon->jobs[h];
        struct mon_late *l = &mon->late[h];
        if (!j->hv) {
            struct joule_err e = { 0 };
            joule_err_set(&e, JOULE_EUNAVAIL, "%s: no hypervisor driver", m->hosts[h].name);
            apply_failure(mon, h, &e, &o);
            continue;
        }
        bool now_done = j->busy && job_done(mon, j);
        bool late_job = now_done && j->tick != mon->tick; /* an older job finished meanwhile */
        if (now_done) {
            job_harvest(j);
            cost_add(&o, j->cost_ns);
            if (l->have) { /* superseded by this newer result */
                l->have = false;
                o.late_dropped++;
            }
            apply_result(mon, h, j->rc, &j->err, &j->sample, j->cost_ns, late_job, tick0, &o,
                         sampled);
        } else if (l->have) {
            l->have = false;
            apply_result(mon, h, l->rc, &l->err, &l->sample, 0, true, tick0, &o, sampled);
        }
        if (j->busy) { /* still in flight: lagging, and after the limit unreachable */
            int64_t in_flight = tick0 - j->started_mono_ns;
            o.hosts_lagging++;
            if (log_complain(&mon->lagging[h]))
                JLOG_WARN("event=host_lagging host=%s in_flight_s=%.2f sample_timeout_s=%.3f",
                          m->hosts[h].name,
                          (double)(clock_mono_ns(ck) - j->started_mono_ns) / 1e9,
                          (double)cfg->sample_timeout_ns / 1e9);
            if (in_flight >= cfg->sample_unreachable_ns && !sampled[h] &&
                m->hosts[h].reachable) {
                struct joule_err e = { 0 };
                joule_err_set(&e, JOULE_ETIMEDOUT, "%s: sample in flight for %.1f s",
                              m->hosts[h].name, (double)in_flight / 1e9);
                apply_failure(mon, h, &e, &o);
                o.hosts_stuck++;
            } else if (in_flight >= cfg->sample_unreachable_ns && !sampled[h]) {
                o.hosts_unreachable++; /* already unreachable: counted, logged once before */
                log_complain(&mon->unreachable[h]);
                o.hosts_stuck++;
            }
        } else {
            unsigned long k = log_release(&mon->lagging[h]);
            if (k)
                JLOG_NOTICE("event=host_lag_cleared host=%s lagging_ticks=%lu", m->hosts[h].name,
                            k);
        }
    }
    if (mon->d.meter)
        meter_tick(mon);
    model_estimate_watts(m, o.t_ns, cfg->meter.stale_ns);
    if (mon->d.store)
        o.store_rc = store_tick(mon, o.t_ns, sampled);
    free(sampled);
    o.cost_ns = clock_mono_ns(ck) - tick0;
    mon->st.ticks++;
    mon->st.lagging += o.hosts_lagging;
    mon->st.stuck += o.hosts_stuck;
    mon->st.late_applied += o.late_applied;
    mon->st.late_dropped += o.late_dropped;
    mon->st.hosts_lagging = o.hosts_lagging;
    if (out)
        *out = o;
    return 0;
}

/* executor.c - runs a plan: its migrations with bounded concurrency, then its power actions.
 *
 * Migrations: at most cfg->migration.in_flight at once and per_source per source host, started
 * in plan order (a later one may start while an earlier one waits only for a busy source).
 * Each runs on its own worker thread (the driver's migrate call blocks; the driver aborts it at
 * the timeout, and the executor aborts it too if the driver overruns by EXECUTOR_ABORT_GRACE_NS).
 * The worker then checks where the VM runs by sampling both hosts, and posts the result back
 * (mutex + eventfd). The loop thread (executor_poll) applies results to the model: a VM verified
 * on its destination is moved there (model_vm_moved: cooldown starts); anything else fails the
 * plan, drops the migrations not yet started, and leaves the VM where it was found.
 * Every attempt gives a migration_record.
 *
 * Power actions run after every migration succeeded, as requests to the power state machine
 * (controller/power.h); without one (deps->power == NULL) they fail with JOULE_ENOTSUP. A host is
 * never asked to power off while the model still has a VM on it.
 *
 * Synchronous mode (replay, unit tests): executor_poll does everything in the caller's thread. */
#include "executor.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xalloc.h"

#define LOG_MODULE "executor"
#define EXECUTOR_ABORT_GRACE_NS (10LL * JOULE_NS_PER_S)
#define EXECUTOR_PROGRESS_NS (5LL * JOULE_NS_PER_S)


enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_SKIPPED };

enum where { WHERE_UNKNOWN, WHERE_SOURCE, WHERE_DEST, WHERE_BOTH, WHERE_NEITHER };

struct job {
    struct executor *ex;
    int from;
    int to;
    char uuid[JOULE_UUID_STRLEN];
    char name[RECORD_NAME_MAX];
    enum plan_reason reason;
    enum job_state state;
    int64_t start_mono_ns;
    int64_t start_ns;
    bool abort_sent;
    int64_t progress_mono_ns;   /* last progress log */
    pthread_t thread;
    bool has_thread;
    /* written by the worker, read by the loop after `finished` (under ex->mu) */
    bool finished;
    int rc;
    struct joule_err err;
    struct hv_migrate_result res;
    enum where where;
    char where_msg[RECORD_ERROR_MAX];
};

struct executor {
    struct executor_deps d;
    pthread_mutex_t mu;
    int efd;
    bool active;
    bool failed;
    char plan_id[64];
    struct job *jobs;
    size_t n_jobs;
    struct plan_action *power;  /* POWER_ON / POWER_OFF actions, in plan order */
    size_t n_power;
    unsigned running;
    unsigned *running_from;     /* per source host */
    struct migration_record *recs;
    size_t n_recs;
    size_t cap_recs;
    struct executor_outcome oc;
};

int executor_new(const struct executor_deps *deps, struct executor **out, struct joule_err *err)
{
    if (!deps->cfg || !deps->model || !deps->clock || (!deps->hv && deps->cfg->n_hosts > 0))
        return joule_err_set(err, JOULE_EINVAL,
                             "executor: config, model, clock and hypervisors are required");
    struct executor *ex = xcalloc(1, sizeof *ex);
    ex->d = *deps;
    ex->efd = -1;
    if (!deps->synchronous) {
        ex->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (ex->efd < 0) {
            int e = errno;
            free(ex);
            return joule_err_set(err, JOULE_EIO, "executor: eventfd: %s", strerror(e));
        }
    }
    pthread_mutex_init(&ex->mu, NULL);
    ex->running_from = xcalloc(deps->cfg->n_hosts + 1, sizeof *ex->running_from);
    ex->oc.finished = true;
    *out = ex;
    return 0;
}

void executor_free(struct executor *ex)
{
    if (!ex)
        return;
    if (ex->active)
        executor_abort(ex);
    if (ex->efd >= 0)
        close(ex->efd);
    pthread_mutex_destroy(&ex->mu);
    free(ex->jobs);
    free(ex->power);
    free(ex->running_from);
    free(ex->recs);
    free(ex);
}

bool executor_busy(const struct executor *ex) { return ex->active; }
int executor_fd(const struct executor *ex) { return ex->efd; }
void executor_outcome(const struct executor *ex, struct executor_outcome *out) { *out = ex->oc; }

bool executor_host_receiving(const struct executor *ex, int host)
{
    for (size_t i = 0; i < ex->n_jobs; i++)
        if (ex->jobs[i].state == JOB_RUNNING && ex->jobs[i].to == host)
            return true;
    return false;
}

static void set_error(struct executor *ex, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(struct executor *ex, const char *fmt, ...)
{
    ex->failed = true;
    ex->oc.failed = true;
    if (ex->oc.error[0])
        return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ex->oc.error, sizeof ex->oc.error, fmt, ap);
    va_end(ap);
}

static void run_power(struct executor *ex, enum plan_action_kind kind);

int executor_start(struct executor *ex, const struct plan *plan, const struct model_snapshot *snap,
                   const char *plan_id, struct joule_err *err)
{
    if (ex->active)
        return joule_err_set(err, JOULE_EBUSY, "executor: plan %s is still running", ex->plan_id);
    const struct config *cfg = ex->d.cfg;
    size_t n_mig = 0, n_pow = 0;
    /* validate everything before anything starts */
    for (size_t i = 0; i < plan->n; i++) {
        const struct plan_action *a = &plan->actions[i];
        switch (a->kind) {
        case PLAN_ACTION_MIGRATE: {
            if (a->vm < 0 || (size_t)a->vm >= snap->n_vms || a->from < 0 || a->to < 0 ||
                (size_t)a->from >= cfg->n_hosts || (size_t)a->to >= cfg->n_hosts ||
                a->from == a->to)
                return joule_err_set(err, JOULE_EINVAL,
                                     "plan %s: action %zu: bad migration indices", plan_id, i);
            const struct snap_vm *v = &snap->vms[a->vm];
            int mv = model_vm_find(ex->d.model, v->uuid);
            if (v->pinned || (mv >= 0 && ex->d.model->vms[mv].pinned))
                return joule_err_set(err, JOULE_EPERM, "plan %s: VM %s is pinned: never migrated",
                                     plan_id, v->name);
            if (!ex->d.hv[a->from] || !ex->d.hv[a->to])
                return joule_err_set(err, JOULE_EINVAL, "plan %s: no hypervisor for %s or %s",
                                     plan_id, cfg->hosts[a->from].name, cfg->hosts[a->to].name);
            if (cfg->hosts[a->to].excluded)
                return joule_err_set(err, JOULE_EPERM,
                                     "plan %s: host %s is excluded: never a target", plan_id,
                                     cfg->hosts[a->to].name);
            n_mig++;
            break;
        }
        case PLAN_ACTION_POWER_ON:
        case PLAN_ACTION_POWER_OFF:
            if (a->host < 0 || (size_t)a->host >= cfg->n_hosts)
                return joule_err_set(err, JOULE_EINVAL, "plan %s: action %zu: bad host index",
                                     plan_id, i);
            n_pow++;
            break;
        case PLAN_ACTION_ALERT:     /* the caller logs and stores alerts */
        case PLAN_ACTION__COUNT:
            break;
        }
    }
    free(ex->jobs);
    free(ex->power);
    memset(&ex->oc, 0, sizeof ex->oc);
    ex->jobs = xcalloc(n_mig + 1, sizeof *ex->jobs);
    ex->power = xcalloc(n_pow + 1, sizeof *ex->power);
    ex->n_jobs = ex->n_power = 0;
    for (size_t i = 0; i < plan->n; i++) {
        const struct plan_action *a = &plan->actions[i];
        if (a->kind == PLAN_ACTION_MIGRATE) {
            struct job *j = &ex->jobs[ex->n_jobs++];
            const struct snap_vm *v = &snap->vms[a->vm];
            j->ex = ex;
            j->from = a->from;
            j->to = a->to;
            snprintf(j->uuid, sizeof j->uuid, "%s", v->uuid);
            snprintf(j->name, sizeof j->name, "%s", v->name ? v->name : v->uuid);
            j->reason = a->reason;
            j->state = JOB_QUEUED;
            /* a host this plan wakes is not up yet: the move is left to a later round */
            for (size_t k = 0; k < plan->n; k++) {
                if (plan->actions[k].kind == PLAN_ACTION_POWER_ON &&
                    plan->actions[k].host == a->to) {
                    j->state = JOB_SKIPPED;
                    ex->oc.migrations_deferred++;
                }
            }
        } else if (a->kind == PLAN_ACTION_POWER_ON || a->kind == PLAN_ACTION_POWER_OFF) {
            ex->power[ex->n_power++] = *a;
        }
    }
    snprintf(ex->plan_id, sizeof ex->plan_id, "%s", plan_id ? plan_id : "");
    ex->failed = false;
    ex->active = true;
    /* hosts the plan empties: a VM appearing there cancels their power-off */
    for (size_t i = 0; i < ex->n_power && ex->d.power; i++) {
        struct joule_err e = { 0 };
        if (ex->power[i].kind == PLAN_ACTION_POWER_OFF &&
            power_ctl_mark_draining(ex->d.power, ex->power[i].host, &e) < 0)
            JLOG_WARN("event=mark_draining_failed plan=%s host=%s error=\"%s\"", ex->plan_id,
                      cfg->hosts[ex->power[i].host].name, e.msg);
    }
    JLOG_NOTICE("event=plan_started plan=%s migrations=%zu power_actions=%zu", ex->plan_id,
                ex->n_jobs, ex->n_power);
    /* wake-ups first: capacity on its way should not wait for the plan's migrations */
    run_power(ex, PLAN_ACTION_POWER_ON);
    return 0;
}

/* ---------------------------------------------------------------- worker side */

static bool sample_has(struct hypervisor *hv, const char *uuid, bool *has, char *msg, size_t n)
{
    struct hv_sample s = { 0 };
    struct joule_err e = { 0 };
    bool ok = hypervisor_sample(hv, &s, &e) == 0;
    *has = false;
    if (ok) {
        for (size_t i = 0; i < s.n_vms; i++)
            if (strcmp(s.vms[i].uuid, uuid) == 0 &&
                (s.vms[i].state == HV_VM_RUNNING || s.vms[i].state == HV_VM_PAUSED))
                *has = true;
    } else {
        snprintf(msg, n, "%s", e.msg);
    }
    hv_sample_free(&s);
    return ok;
}

/* Where does the VM run now? One sample of each host. */
static void verify(struct job *j)
{
    struct executor *ex = j->ex;
    bool on_src = false, on_dst = false;
    char m1[RECORD_ERROR_MAX] = "", m2[RECORD_ERROR_MAX] = "";
    bool ok_src = sample_has(ex->d.hv[j->from], j->uuid, &on_src, m1, sizeof m1);
    bool ok_dst = sample_has(ex->d.hv[j->to], j->uuid, &on_dst, m2, sizeof m2);
    if (!ok_src || !ok_dst) {
        j->where = WHERE_UNKNOWN;
        snprintf(j->where_msg, sizeof j->where_msg, "cannot verify: %.200s", ok_src ? m2 : m1);
    } else if (on_src && on_dst) {
        j->where = WHERE_BOTH;
    } else if (on_src) {
        j->where = WHERE_SOURCE;
    } else if (on_dst) {
        j->where = WHERE_DEST;
    } else {
        j->where = WHERE_NEITHER;
    }
}

static void run_job(struct job *j)
{
    struct executor *ex = j->ex;
    const struct config *cfg = ex->d.cfg;
    const struct config_host *dh = &cfg->hosts[j->to];
    struct hypervisor *src = ex->d.hv[j->from], *dst = ex->d.hv[j->to];
    struct hv_migrate_dest dest = {
        .name = dh->name,
        .uri = dh->uri,
        .migration_uri = dh->migration_uri,
        .state = dst->ops == src->ops ? dst->state : NULL,
    };
    struct hv_migrate_opts opts = {
        .flags = cfg->migration.flags,
        .timeout_ns = cfg->migration.timeout_ns,
        .bandwidth_mibps = cfg->migration.bandwidth_mibps,
    };
    j->rc = hypervisor_migrate(src, j->uuid, &dest, &opts, &j->res, &j->err);
    verify(j);
}

static void *worker_main(void *arg)
{
    struct job *j = arg;
    run_job(j);
    struct executor *ex = j->ex;
    pthread_mutex_lock(&ex->mu);
    j->finished = true;
    pthread_mutex_unlock(&ex->mu);
    uint64_t one = 1;
    ssize_t w = write(ex->efd, &one, sizeof one);
    (void)w; /* the counter cannot overflow here; poll() also scans every job */
    return NULL;
}

/* ---------------------------------------------------------------- loop side */

static struct migration_record *record_add(struct executor *ex)
{
    xgrow((void **)&ex->recs, &ex->cap_recs, ex->n_recs + 1, sizeof *ex->recs);
    struct migration_record *r = &ex->recs[ex->n_recs++];
    memset(r, 0, sizeof *r);
    return r;
}

static const char *where_name(enum where w)
{
    switch (w) {
    case WHERE_UNKNOWN: return "unknown";
    case WHERE_SOURCE: return "source";
    case WHERE_DEST: return "destination";
    case WHERE_BOTH: return "both hosts";
    case WHERE_NEITHER: return "neither host";
    }
    return "?";
}

static void job_begin(struct executor *ex, struct job *j)
{
    j->state = JOB_RUNNING;
    j->start_mono_ns = clock_mono_ns(ex->d.clock);
    j->start_ns = clock_now_ns(ex->d.clock);
    j->progress_mono_ns = j->start_mono_ns;
    ex->running++;
    ex->running_from[j->from]++;
    int mv = model_vm_find(ex->d.model, j->uuid);
    if (mv >= 0)
        ex->d.model->vms[mv].migrating = true;
    JLOG_INFO("event=migration_started plan=%s vm=%s from=%s to=%s", ex->plan_id, j->name,
              ex->d.cfg->hosts[j->from].name, ex->d.cfg->hosts[j->to].name);
}

/* Applies one finished migration to the model and the records. */
static void job_finish(struct executor *ex, struct job *j)
{
    const struct config *cfg = ex->d.cfg;
    struct model *m = ex->d.model;
    int64_t now = clock_now_ns(ex->d.clock);
    j->state = JOB_DONE;
    ex->running--;
    ex->running_from[j->from]--;
    struct migration_record *r = record_add(ex);
    snprintf(r->plan_id, sizeof r->plan_id, "%s", ex->plan_id);
    memcpy(r->vm_uuid, j->uuid, sizeof r->vm_uuid);
    snprintf(r->vm_name, sizeof r->vm_name, "%s", j->name);
    snprintf(r->from, sizeof r->from, "%s", cfg->hosts[j->from].name);
    snprintf(r->to, sizeof r->to, "%s", cfg->hosts[j->to].name);
    snprintf(r->reason, sizeof r->reason, "%s", plan_reason_name(j->reason));
    r->start_ns = j->res.start_ns ? j->res.start_ns : j->start_ns;
    r->end_ns = j->res.end_ns ? j->res.end_ns : now;
    r->bytes = j->res.bytes;
    r->downtime_ns = j->res.downtime_ns;
    r->aborted = j->res.aborted;

    int mv = model_vm_find(m, j->uuid);
    if (mv >= 0)
        m->vms[mv].migrating = false;
    if (j->rc == 0 && j->where == WHERE_DEST) {
        r->ok = true;
        if (mv >= 0)
            model_vm_moved(m, mv, j->to, now, clock_mono_ns(ex->d.clock)); /* cooldown starts */
        ex->oc.migrations_ok++;
        JLOG_NOTICE("event=migration_done plan=%s vm=%s from=%s to=%s duration_s=%.2f"
                    " bytes=%" PRIu64 " downtime_ms=%.0f",
                    ex->plan_id, j->name, r->from, r->to, (double)(r->end_ns - r->start_ns) / 1e9,
                    r->bytes, r->downtime_ns >= 0 ? (double)r->downtime_ns / 1e6 : -1.0);
        return;
    }
    /* failed, or the hosts do not agree with the driver's answer */
    if (j->rc == 0)
        snprintf(r->error, sizeof r->error,
                 "migration reported success but the VM is on %s%s%.180s",
                 where_name(j->where), j->where_msg[0] ? ": " : "", j->where_msg);
    else if (j->where == WHERE_SOURCE)
        snprintf(r->error, sizeof r->error, "%s", j->err.msg);
    else
        snprintf(r->error, sizeof r->error, "%.120s; afterwards the VM is on %s%s%.90s", j->err.msg,
                 where_name(j->where), j->where_msg[0] ? ": " : "", j->where_msg);
    if (j->where == WHERE_DEST && mv >= 0)
        model_vm_moved(m, mv, j->to, now, clock_mono_ns(ex->d.clock)); /* it did move */
    ex->oc.migrations_failed++;
    set_error(ex, "migrate %s from %s to %s: %s", j->name, r->from, r->to, r->error);
    JLOG_WARN("event=migration_failed plan=%s vm=%s from=%s to=%s aborted=%s where=%s error=\"%s\"",
              ex->plan_id, j->name, r->from, r->to, r->aborted ? "yes" : "no", where_name(j->where),
              r->error);
}

static void skip_queued(struct executor *ex)
{
    for (size_t i = 0; i < ex->n_jobs; i++) {
        if (ex->jobs[i].state == JOB_QUEUED) {
            ex->jobs[i].state = JOB_SKIPPED;
            ex->oc.migrations_skipped++;
        }
    }
}

static bool can_start(const struct executor *ex, const struct job *j)
{
    const struct config_migration *mc = &ex->d.cfg->migration;
    unsigned all = mc->in_flight ? mc->in_flight : 1, per = mc->per_source ? mc->per_source : 1;
    return ex->running < all && ex->running_from[j->from] < per;
}

/* The model must still have the VM on the plan's source, else the plan is stale. */
static bool still_valid(struct executor *ex, struct job *j)
{
    int mv = model_vm_find(ex->d.model, j->uuid);
    if (mv >= 0 && ex->d.model->vms[mv].host == j->from)
        return true;
    struct migration_record *r = record_add(ex);
    snprintf(r->plan_id, sizeof r->plan_id, "%s", ex->plan_id);
    memcpy(r->vm_uuid, j->uuid, sizeof r->vm_uuid);
    snprintf(r->vm_name, sizeof r->vm_name, "%s", j->name);
    snprintf(r->from, sizeof r->from, "%s", ex->d.cfg->hosts[j->from].name);
    snprintf(r->to, sizeof r->to, "%s", ex->d.cfg->hosts[j->to].name);
    snprintf(r->reason, sizeof r->reason, "%s", plan_reason_name(j->reason));
    r->start_ns = r->end_ns = clock_now_ns(ex->d.clock);
    r->downtime_ns = -1;
    snprintf(r->error, sizeof r->error, "stale plan: the VM is no longer on %s", r->from);
    j->state = JOB_DONE;
    ex->oc.migrations_failed++;
    set_error(ex, "migrate %s: %s", j->name, r->error);
    return false;
}

static void power_facts_of(struct executor *ex, int h, struct power_facts *f)
{
    const struct model_host *mh = &ex->d.model->hosts[h];
    memset(f, 0, sizeof *f);
    f->libvirt_reachable = mh->reachable;
    f->n_vms = mh->n_vms;
    f->receiving_vm = false; /* power actions start only after every migration ended */
    f->watts_fresh = !mh->watts_from_model;
    f->watts = mh->watts;
}

static void run_power(struct executor *ex, enum plan_action_kind kind)
{
    const struct model *m = ex->d.model;
    size_t active = 0;
    for (size_t h = 0; h < m->n_hosts; h++)
        active += m->hosts[h].state == POWER_STATE_ON || m->hosts[h].state == POWER_STATE_DRAINING;
    for (size_t i = 0; i < ex->n_power && !ex->failed; i++) {
        const struct plan_action *a = &ex->power[i];
        if (a->kind != kind)
            continue;
        const char *host = ex->d.cfg->hosts[a->host].name;
        const char *what = a->kind == PLAN_ACTION_POWER_ON ? "on" : "off";
        struct joule_err e = { 0 };
        int rc;
        if (!ex->d.power) {
            rc = joule_err_set(&e, JOULE_ENOTSUP, "no power control configured");
        } else if (a->kind == PLAN_ACTION_POWER_OFF) {
            struct power_facts f;
            power_facts_of(ex, a->host, &f);
            if (f.n_vms > 0)
                rc = joule_err_set(&e, JOULE_EPERM, "host still runs %zu VMs", f.n_vms);
            else
                rc = power_ctl_request_off(ex->d.power, a->host, &f, active, false, &e);
        } else {
            rc = power_ctl_request_on(ex->d.power, a->host, &e);
        }
        if (rc < 0) {
            ex->oc.power_failed++;
            set_error(ex, "power %s %s: %s", what, host, e.msg);
            JLOG_WARN("event=power_request_failed plan=%s host=%s action=%s error=\"%s\"",
                      ex->plan_id, host, what, e.msg);
        } else {
            ex->oc.power_requested++;
            JLOG_NOTICE("event=power_requested plan=%s host=%s action=%s", ex->plan_id, host, what);
        }
    }
}

/* A host the plan marked draining whose power-off did not start (the plan failed, or the off
 * was refused) goes back to on: left draining it would never be emptied or offered again. */
static void cancel_drains(struct executor *ex)
{
    for (size_t i = 0; i < ex->n_power && ex->d.power; i++) {
        const struct plan_action *a = &ex->power[i];
        if (a->kind != PLAN_ACTION_POWER_OFF ||
            power_ctl_state(ex->d.power, a->host) != POWER_STATE_DRAINING)
            continue;
        struct joule_err e = { 0 };
        if (power_ctl_request_on(ex->d.power, a->host, &e) < 0)
            JLOG_WARN("event=drain_cancel_failed plan=%s host=%s error=\"%s\"", ex->plan_id,
                      ex->d.cfg->hosts[a->host].name, e.msg);
        else
            JLOG_NOTICE("event=drain_cancelled plan=%s host=%s", ex->plan_id,
                        ex->d.cfg->hosts[a->host].name);
    }
}

static void finish_plan(struct executor *ex)
{
    if (!ex->failed)
        run_power(ex, PLAN_ACTION_POWER_OFF);
    cancel_drains(ex);
    ex->active = false;
    ex->oc.finished = true;
    JLOG_NOTICE("event=plan_finished plan=%s ok=%s migrations_ok=%zu failed=%zu skipped=%zu "
                "power_requested=%zu power_failed=%zu%s%s%s",
                ex->plan_id, ex->failed ? "no" : "yes", ex->oc.migrations_ok,
                ex->oc.migrations_failed, ex->oc.migrations_skipped, ex->oc.power_requested,
                ex->oc.power_failed, ex->oc.error[0] ? " error=\"" : "", ex->oc.error,
                ex->oc.error[0] ? "\"" : "");
}

static int pending(const struct executor *ex)
{
    int n = 0;
    for (size_t i = 0; i < ex->n_jobs; i++)
        n += ex->jobs[i].state == JOB_QUEUED || ex->jobs[i].state == JOB_RUNNING;
    return n;
}

static int poll_sync(struct executor *ex)
{
    for (size_t i = 0; i < ex->n_jobs && !ex->failed; i++) {
        struct job *j = &ex->jobs[i];
        if (j->state != JOB_QUEUED || !still_valid(ex, j))
            continue;
        job_begin(ex, j);
        run_job(j);
        job_finish(ex, j);
    }
    if (ex->failed)
        skip_queued(ex);
    finish_plan(ex);
    return 0;
}

int executor_poll(struct executor *ex)
{
    if (!ex->active)
        return 0;
    if (ex->d.synchronous)
        return poll_sync(ex);
    uint64_t v;
    while (read(ex->efd, &v, sizeof v) == (ssize_t)sizeof v) {
    }
    /* collect */
    for (size_t i = 0; i < ex->n_jobs; i++) {
        struct job *j = &ex->jobs[i];
        if (j->state != JOB_RUNNING)
            continue;
        pthread_mutex_lock(&ex->mu);
        bool fin = j->finished;
        pthread_mutex_unlock(&ex->mu);
        if (fin) {
            pthread_join(j->thread, NULL);
            j->has_thread = false;
            job_finish(ex, j);
        } else if (clock_mono_ns(ex->d.clock) - j->progress_mono_ns >= EXECUTOR_PROGRESS_NS) {
            /* progress of the job, from the source's job info (drivers without it: nothing) */
            struct hv_job_info ji;
            struct joule_err e = { 0 };
            j->progress_mono_ns = clock_mono_ns(ex->d.clock);
            if (hypervisor_job_info(ex->d.hv[j->from], j->uuid, &ji, &e) == 0 && ji.active)
                JLOG_INFO("event=migration_progress plan=%s vm=%s elapsed_s=%.1f"
                          " processed_mib=%.1f remaining_mib=%.1f total_mib=%.1f",
                          ex->plan_id, j->name, (double)ji.elapsed_ns / 1e9,
                          (double)ji.data_processed / 1048576.0,
                          (double)ji.data_remaining / 1048576.0,
                          (double)ji.data_total / 1048576.0);
        }
        if (!fin && !j->abort_sent && ex->d.cfg->migration.timeout_ns > 0 &&
            clock_mono_ns(ex->d.clock) - j->start_mono_ns >
                ex->d.cfg->migration.timeout_ns + EXECUTOR_ABORT_GRACE_NS) {
            /* the driver did not abort at the timeout itself: do it from here */
            struct joule_err e = { 0 };
            j->abort_sent = true;
            if (hypervisor_abort_migration(ex->d.hv[j->from], j->uuid, &e) < 0)
                JLOG_WARN("event=abort_failed plan=%s vm=%s error=\"%s\"", ex->plan_id, j->name,
                          e.msg);
        }
    }
    if (ex->failed)
        skip_queued(ex);
    /* start */
    for (size_t i = 0; i < ex->n_jobs && !ex->failed; i++) {
        struct job *j = &ex->jobs[i];
        if (j->state != JOB_QUEUED || !can_start(ex, j))
            continue;
        if (!still_valid(ex, j))
            break;
        job_begin(ex, j);
        if (pthread_create(&j->thread, NULL, worker_main, j) != 0) {
            j->rc = joule_err_set(&j->err, JOULE_EIO, "cannot start a migration thread");
            j->where = WHERE_SOURCE;
            job_finish(ex, j);
            break;
        }
        j->has_thread = true;
    }
    if (ex->failed)
        skip_queued(ex);
    int n = pending(ex);
    if (n == 0)
        finish_plan(ex);
    return n + (int)(ex->active ? ex->n_power : 0);
}

void executor_abort(struct executor *ex)
{
    if (!ex->active)
        return;
    skip_queued(ex);
    set_error(ex, "plan aborted");
    for (size_t i = 0; i < ex->n_jobs; i++) {
        struct job *j = &ex->jobs[i];
        if (j->state != JOB_RUNNING || !j->has_thread)
            continue;
        struct joule_err e = { 0 };
        if (hypervisor_abort_migration(ex->d.hv[j->from], j->uuid, &e) < 0)
            JLOG_WARN("event=abort_failed plan=%s vm=%s error=\"%s\"", ex->plan_id, j->name, e.msg);
    }
    for (size_t i = 0; i < ex->n_jobs; i++) {
        struct job *j = &ex->jobs[i];
        if (j->state != JOB_RUNNING || !j->has_thread)
            continue;
        pthread_join(j->thread, NULL); /* the aborted call returns; the VM stays on its source */
        j->has_thread = false;
        job_finish(ex, j);
    }
    finish_plan(ex);
}

size_t executor_take_records(struct executor *ex, struct migration_record *out, size_t max)
{
    size_t n = ex->n_recs < max ? ex->n_recs : max;
    if (n == 0)
        return 0; /* recs may still be NULL: memcpy(NULL, 0) is undefined */
    memcpy(out, ex->recs, n * sizeof *out);
    memmove(ex->recs, ex->recs + n, (ex->n_recs - n) * sizeof *ex->recs);
    ex->n_recs -= n;
    return n;
}

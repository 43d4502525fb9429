/* round.c - the working state of one policy round (policy_priv.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_priv.h"
#include "util/xalloc.h"

static bool finite_nonneg(double x) { return isfinite(x) && x >= 0; }

int pol_snapshot_validate(const struct model_snapshot *snap, struct joule_err *err)
{
    if (snap->n_hosts > 0 && !snap->hosts)
        return joule_err_set(err, JOULE_EINVAL, "snapshot: %zu hosts but no host array",
                             snap->n_hosts);
    if (snap->n_vms > 0 && !snap->vms)
        return joule_err_set(err, JOULE_EINVAL, "snapshot: %zu VMs but no VM array", snap->n_vms);
    if (snap->n_hosts > (size_t)INT32_MAX || snap->n_vms > (size_t)INT32_MAX)
        return joule_err_set(err, JOULE_EINVAL, "snapshot: too many hosts or VMs");
    if (!finite_nonneg(snap->expected_load_cores))
        return joule_err_set(err, JOULE_EINVAL, "snapshot: expected_load_cores %g is invalid",
                             snap->expected_load_cores);
    for (size_t i = 0; i < snap->n_hosts; i++) {
        const struct snap_host *h = &snap->hosts[i];
        const char *name = h->name ? h->name : "?";
        if (!finite_nonneg(h->cpus) || !finite_nonneg(h->mem_mib) || !finite_nonneg(h->load_pct) ||
            !finite_nonneg(h->idle_w) || !finite_nonneg(h->max_w))
            return joule_err_set(err, JOULE_EINVAL,
                                 "snapshot: host %zu (%s): cpus, mem_mib, load_pct and watts must "
                                 "be finite and >= 0",
                                 i, name);
        if ((unsigned)h->state >= POWER_STATE__COUNT)
            return joule_err_set(err, JOULE_EINVAL, "snapshot: host %zu (%s): bad power state %d",
                                 i, name, (int)h->state);
    }
    for (size_t i = 0; i < snap->n_vms; i++) {
        const struct snap_vm *v = &snap->vms[i];
        const char *name = v->name ? v->name : (v->uuid ? v->uuid : "?");
        if (v->host < -1 || (v->host >= 0 && (size_t)v->host >= snap->n_hosts))
            return joule_err_set(err, JOULE_EINVAL, "snapshot: VM %zu (%s): host index %d out of "
                                 "range (0..%zu or -1)", i, name, v->host, snap->n_hosts);
        if (!finite_nonneg(v->vcpus) || !finite_nonneg(v->mem_mib) || !finite_nonneg(v->cpu_cores))
            return joule_err_set(err, JOULE_EINVAL,
                                 "snapshot: VM %zu (%s): vcpus, mem_mib and cpu_cores must be "
                                 "finite and >= 0",
                                 i, name);
    }
    return 0;
}

static enum pol_host_role role_of(const struct snap_host *h)
{
    if (!(h->cpus > POLICY_CORES_EPS))
        return POL_HOST_OTHER;
    switch (h->state) {
    case POWER_STATE_ON: return POL_HOST_ACTIVE;
    case POWER_STATE_WAKING: return POL_HOST_WAKING;
    case POWER_STATE_OFF: return POL_HOST_OFF;
    case POWER_STATE_UNKNOWN:
    case POWER_STATE_DRAINING:
    case POWER_STATE_POWERING_OFF:
    case POWER_STATE__COUNT: break;
    }
    return POL_HOST_OTHER;
}

static void list_push(struct pol_round *r, int v, int h)
{
    r->prev[v] = -1;
    r->next[v] = r->first[h];
    if (r->first[h] >= 0)
        r->prev[r->first[h]] = v;
    r->first[h] = v;
    r->n_vms[h]++;
}

static void list_remove(struct pol_round *r, int v, int h)
{
    if (r->prev[v] >= 0)
        r->next[r->prev[v]] = r->next[v];
    else
        r->first[h] = r->next[v];
    if (r->next[v] >= 0)
        r->prev[r->next[v]] = r->prev[v];
    r->next[v] = r->prev[v] = -1;
    r->n_vms[h]--;
}

void pol_round_init(struct pol_round *r, const struct policy_cfg *cfg,
                    const struct model_snapshot *snap, struct plan *out)
{
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    r->snap = snap;
    r->out = out;
    r->nh = snap->n_hosts;
    r->nv = snap->n_vms;
    size_t nh = r->nh + 1, nv = r->nv + 1; /* +1: never a zero-sized allocation */
    r->load_pct = xcalloc(nh, sizeof *r->load_pct);
    r->mem_used_mib = xcalloc(nh, sizeof *r->mem_used_mib);
    r->role = xcalloc(nh, sizeof *r->role);
    r->first = xcalloc(nh, sizeof *r->first);
    r->n_vms = xcalloc(nh, sizeof *r->n_vms);
    r->vm_host = xcalloc(nv, sizeof *r->vm_host);
    r->next = xcalloc(nv, sizeof *r->next);
    r->prev = xcalloc(nv, sizeof *r->prev);
    r->moved = xcalloc(nv, sizeof *r->moved);
    for (size_t h = 0; h < r->nh; h++) {
        r->load_pct[h] = snap->hosts[h].load_pct;
        r->role[h] = role_of(&snap->hosts[h]);
        r->first[h] = -1;
    }
    /* Push in reverse so that each host's list runs in snapshot order (deterministic scans). */
    for (size_t i = r->nv; i-- > 0;) {
        int v = (int)i, h = snap->vms[i].host;
        r->vm_host[v] = h;
        r->next[v] = r->prev[v] = -1;
        if (h < 0)
            continue;
        list_push(r, v, h);
        r->mem_used_mib[h] += snap->vms[i].mem_mib;
    }
}

void pol_round_free(struct pol_round *r)
{
    free(r->load_pct);
    free(r->mem_used_mib);
    free(r->role);
    free(r->first);
    free(r->n_vms);
    free(r->vm_host);
    free(r->next);
    free(r->prev);
    free(r->moved);
    memset(r, 0, sizeof *r);
}

bool pol_host_managed(const struct pol_round *r, int h)
{
    const struct snap_host *sh = &r->snap->hosts[h];
    return r->role[h] == POL_HOST_ACTIVE && !sh->excluded && sh->reachable;
}

bool pol_host_wakeable(const struct pol_round *r, int h)
{
    return r->role[h] == POL_HOST_OFF && !r->snap->hosts[h].excluded;
}

uint64_t pol_elapsed_ns(int64_t now_ns, int64_t then_ns)
{
    if (then_ns >= now_ns)
        return 0;
    return (uint64_t)now_ns - (uint64_t)then_ns;
}

unsigned pol_moves_left(const struct pol_round *r)
{
    unsigned cap = r->cfg->max_moves_per_round;
    return r->moves >= cap ? 0 : cap - r->moves;
}

bool pol_vm_movable(const struct pol_round *r, int v)
{
    const struct snap_vm *vm = &r->snap->vms[v];
    if (r->vm_host[v] < 0 || vm->pinned || vm->migrating || r->moved[v])
        return false;
    if (pol_moves_left(r) == 0)
        return false;
    if (vm->last_move_ns != SNAP_NEVER &&
        pol_elapsed_ns(r->snap->now_ns, vm->last_move_ns) < (uint64_t)r->cfg->vm_cooldown_ns)
        return false;
    return true;
}

double pol_vm_pct_on(const struct pol_round *r, int v, int h)
{
    return r->snap->vms[v].cpu_cores / r->snap->hosts[h].cpus * 100.0;
}

bool pol_vm_mem_fits(const struct pol_round *r, int v, int h)
{
    return r->mem_used_mib[h] + r->snap->vms[v].mem_mib <=
           r->snap->hosts[h].mem_mib + POLICY_MEM_EPS_MIB;
}

double pol_host_watts(const struct pol_round *r, int h, double load_pct)
{
    const struct snap_host *sh = &r->snap->hosts[h];
    double u = load_pct / 100.0;
    if (u > 1)
        u = 1;
    return sh->idle_w + (sh->max_w - sh->idle_w) * u;
}

void pol_apply_move(struct pol_round *r, int v, int to)
{
    int from = r->vm_host[v];
    const struct snap_vm *vm = &r->snap->vms[v];
    list_remove(r, v, from);
    r->load_pct[from] -= pol_vm_pct_on(r, v, from);
    if (r->load_pct[from] < 0)
        r->load_pct[from] = 0; /* measured loads need not equal the sum of the VMs' */
    r->mem_used_mib[from] -= vm->mem_mib;
    list_push(r, v, to);
    r->load_pct[to] += pol_vm_pct_on(r, v, to);
    r->mem_used_mib[to] += vm->mem_mib;
    r->vm_host[v] = to;
}

static void set_detail(struct plan_action *a, const char *fmt, va_list ap)
{
    vsnprintf(a->detail, sizeof a->detail, fmt, ap);
}

struct plan_action *pol_plan_move(struct pol_round *r, int v, int to, enum plan_reason reason,
                                  const char *fmt, ...)
{
    int from = r->vm_host[v];
    double before = pol_host_watts(r, from, r->load_pct[from]) +
                    pol_host_watts(r, to, r->load_pct[to]);
    pol_apply_move(r, v, to);
    r->moved[v] = true;
    r->moves++;
    struct plan_action *a = plan_add(r->out, PLAN_ACTION_MIGRATE, reason);
    a->vm = v;
    a->from = from;
    a->to = to;
    a->from_load_pct = r->load_pct[from];
    a->to_load_pct = r->load_pct[to];
    a->expected_gain_w = before - pol_host_watts(r, from, r->load_pct[from]) -
                         pol_host_watts(r, to, r->load_pct[to]);
    if (fabs(a->expected_gain_w) < POLICY_WATTS_EPS)
        a->expected_gain_w = 0;
    va_list ap;
    va_start(ap, fmt);
    set_detail(a, fmt, ap);
    va_end(ap);
    return a;
}

struct plan_action *pol_plan_power_on(struct pol_round *r, int h, enum plan_reason reason,
                                      const char *fmt, ...)
{
    r->role[h] = POL_HOST_WAKING;
    r->woken++;
    struct plan_action *a = plan_add(r->out, PLAN_ACTION_POWER_ON, reason);
    a->host = h;
    a->expected_gain_w = -r->snap->hosts[h].idle_w;
    va_list ap;
    va_start(ap, fmt);
    set_detail(a, fmt, ap);
    va_end(ap);
    return a;
}

struct plan_action *pol_plan_power_off(struct pol_round *r, int h, enum plan_reason reason,
                                       const char *fmt, ...)
{
    struct plan_action *a = plan_add(r->out, PLAN_ACTION_POWER_OFF, reason);
    a->host = h;
    a->expected_gain_w = pol_host_watts(r, h, r->load_pct[h]);
    r->role[h] = POL_HOST_OFF_PLANNED;
    va_list ap;
    va_start(ap, fmt);
    set_detail(a, fmt, ap);
    va_end(ap);
    return a;
}

struct plan_action *pol_plan_alert(struct pol_round *r, int h, enum plan_reason reason,
                                   const char *fmt, ...)
{
    struct plan_action *a = plan_add(r->out, PLAN_ACTION_ALERT, reason);
    a->host = h;
    va_list ap;
    va_start(ap, fmt);
    set_detail(a, fmt, ap);
    va_end(ap);
    return a;
}

/* joule.c - joule's own consolidation policy (POLICY_ALGORITHM_JOULE).
 *
 * Each round, on a what-if copy of the cluster:
 *  1. size every VM by a high percentile of its recent demand (joule_percentile over the last
 *     joule_window decisions, never below its demand now), not by its last sample;
 *  2. relieve: a host whose sized load is above joule_high_pct (or that cannot give a VM its
 *     demand because of the per-core cap) sheds VMs until it is at or below joule_target_pct,
 *     choosing the fewest and smallest-memory moves;
 *  3. place every VM that must move on the active host where it costs the least extra power
 *     and stays at or below joule_target_pct (sized); only when none fits, switch on the
 *     off host with the best watts per unit of capacity (power-efficient hosts first);
 *  4. consolidate: try to empty active hosts whose sized load is below joule_low_pct, least
 *     efficient first (most idle watts per unit of load), but only if every VM fits elsewhere
 *     at or below (joule_target_pct - joule_headroom_pct), and only if the power the host stops
 *     drawing over joule_horizon_s pays for the migrations (joule_migration_w during each
 *     migration) plus joule_min_gain_wh.
 * VMs moved within vm_cooldown_ns are left alone except to relieve an overloaded host, and at
 * most max_moves_per_round VMs move to empty hosts in one round (relief is not capped).
 * Hysteresis: a host is relieved above joule_high_pct but filled only to joule_target_pct, and
 * emptied only below joule_low_pct, so loads between the bands cause no moves. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "reference.h"
#include "tentative.h"
#include "util/xalloc.h"

struct jctx {
    const struct policy_cfg *cfg;
    const struct model_snapshot *s;
    struct tentative t;      /* demand = sized demand */
    double *now;             /* demand now, per VM */
    bool *busy;              /* already moved this round */
    bool *drained;           /* host being emptied this round: no target */
    bool *woken;             /* host switched on this round */
};

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const struct policy_cfg *cfg, const struct snap_vm *v)
{
    size_t n = v->n_history;
    if (cfg->joule_window && n > cfg->joule_window)
        n = cfg->joule_window;
    if (!v->demand_history || n == 0)
        return v->cpu_cores;
    double buf[64];
    if (n > 64)
        n = 64;
    memcpy(buf, v->demand_history, n * sizeof *buf);
    qsort(buf, n, sizeof *buf, dbl_cmp);
    double rank = cfg->joule_percentile / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(rank), hi = (size_t)ceil(rank);
    double p = buf[lo] + (buf[hi] - buf[lo]) * (rank - (double)lo);
    return p > v->cpu_cores ? p : v->cpu_cores;
}

static bool cooling(const struct jctx *c, int v)
{
    const struct snap_vm *vm = &c->s->vms[v];
    return vm->last_move_ns != SNAP_NEVER && c->cfg->vm_cooldown_ns > 0 &&
           c->s->now_ns - vm->last_move_ns < c->cfg->vm_cooldown_ns;
}

static bool movable(const struct jctx *c, int v)
{
    const struct snap_vm *vm = &c->s->vms[v];
    return !vm->migrating && !vm->pinned && !c->busy[v];
}

static bool usable(const struct jctx *c, int h)
{
    const struct snap_host *sh = &c->s->hosts[h];
    return !sh->excluded && sh->reachable && (sh->state == POWER_STATE_ON || c->woken[h]);
}

/* Host h is over its band: sized load above high, or some VM's demand now above a core. */
static bool hot(const struct jctx *c, int h)
{
    const struct tent_host *th = &c->t.hosts[h];
    if (th->sum_req > th->total * c->cfg->joule_high_pct / 100.0)
        return true;
    for (size_t i = 0; i < th->n; i++)
        if (c->now[th->vms[i]] > th->pe)
            return true;
    return false;
}

/* Fits on h with the sized load at or below limit_pct, within a core, memory and VM count. */
static bool fits(const struct jctx *c, int h, int v, double limit_pct)
{
    const struct tent_host *th = &c->t.hosts[h];
    double sized = c->t.demand[v];
    if (sized > th->pe || c->now[v] > th->pe)
        return false;
    if (th->sum_req + sized > th->total * limit_pct / 100.0)
        return false;
    return tent_suitable(&c->t, h, v);
}

static double sized_w(const struct jctx *c, int h, double extra)
{
    const struct tent_host *th = &c->t.hosts[h];
    double u = (th->sum_req + extra) / th->total;
    return tent_power(&c->s->hosts[h], u > 1 ? 1 : u);
}

/* Best active host for v (least extra watts, then most efficient), or -1. */
static int best_active(const struct jctx *c, int v, int from, double limit_pct)
{
    int best = -1;
    double best_dw = DBL_MAX;
    for (size_t i = 0; i < c->t.n_hosts; i++) {
        int h = (int)i;
        if (h == from || c->drained[h] || !usable(c, h) || !fits(c, h, v, limit_pct))
            continue;
        double dw = sized_w(c, h, c->t.demand[v]) - sized_w(c, h, 0);
        if (dw < best_dw - 1e-9) {
            best_dw = dw;
            best = h;
        }
    }
    return best;
}

/* Off host to switch on for v: least watts per unit of capacity at the target load. */
static int best_off(const struct jctx *c, int v, double limit_pct)
{
    int best = -1;
    double best_eff = DBL_MAX;
    for (size_t i = 0; i < c->t.n_hosts; i++) {
        int h = (int)i;
        const struct snap_host *sh = &c->s->hosts[h];
        if (sh->excluded || sh->state != POWER_STATE_OFF || c->woken[h] || c->drained[h] ||
            !fits(c, h, v, limit_pct))
            continue;
        double cap = c->t.hosts[h].total * c->cfg->joule_target_pct / 100.0;
        double eff = tent_power(sh, c->cfg->joule_target_pct / 100.0) / cap;
        if (eff < best_eff - 1e-12) {
            best_eff = eff;
            best = h;
        }
    }
    return best;
}

static void add_move(struct jctx *c, struct plan *out, int v, int from, int to,
                     enum plan_reason why)
{
    if (from >= 0)
        tent_remove(&c->t, from, v);
    tent_add(&c->t, to, v);
    c->busy[v] = true;
    struct plan_action *a = plan_add(out, PLAN_ACTION_MIGRATE, why);
    a->vm = v;
    a->from = c->s->vms[v].host;
    a->to = to;
    const struct tent_host *th = &c->t.hosts[to];
    a->to_load_pct = 100.0 * th->sum_req / th->total;
    if (from >= 0)
        a->from_load_pct = 100.0 * c->t.hosts[from].sum_req / c->t.hosts[from].total;
    const char *fn = from >= 0 && c->s->hosts[from].name ? c->s->hosts[from].name : "-";
    const char *tn = c->s->hosts[to].name ? c->s->hosts[to].name : "?";
    snprintf(a->detail, sizeof a->detail, "%s %s -> %s (sized %.0f)",
             why == PLAN_REASON_OVERLOAD ? "relieve" :
             why == PLAN_REASON_UNDERLOAD ? "empty" : "place", fn, tn, c->t.demand[v]);
}

/* Places v (currently on `from`, or unplaced) at or below limit_pct; may switch a host on. */
static bool place(struct jctx *c, struct plan *out, int v, int from, double limit_pct,
                  enum plan_reason why)
{
    int to = best_active(c, v, from, limit_pct);
    if (to < 0) {
        to = best_off(c, v, limit_pct);
        if (to < 0)
            return false;
        c->woken[to] = true;
    }
    add_move(c, out, v, from, to, why);
    return true;
}

struct order {
    double key;
    int idx;
};

static int order_cmp(const void *a, const void *b)
{
    const struct order *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static void relieve(struct jctx *c, struct plan *out)
{
    const struct model_snapshot *s = c->s;
    for (size_t i = 0; i < c->t.n_hosts; i++) {
        int h = (int)i;
        if (s->hosts[h].state != POWER_STATE_ON || !s->hosts[h].reachable || !hot(c, h))
            continue;
        double target = c->t.hosts[h].total * c->cfg->joule_target_pct / 100.0;
        for (;;) {
            struct tent_host *th = &c->t.hosts[h];
            /* A VM the core cap starves must go; else the smallest VM that alone brings the
             * host under target, else the largest one. */
            int pick = -1;
            double excess = th->sum_req - target;
            for (size_t k = 0; k < th->n && pick < 0; k++)
                if (movable(c, th->vms[k]) && c->now[th->vms[k]] > th->pe)
                    pick = th->vms[k];
            if (pick < 0 && excess <= 0)
                break;
            if (pick < 0) {
                double best = DBL_MAX, largest = -1;
                int fit = -1, big = -1;
                for (size_t k = 0; k < th->n; k++) {
                    int v = th->vms[k];
                    if (!movable(c, v))
                        continue;
                    double d = c->t.demand[v];
                    /* smallest that suffices; equal demand: less memory (shorter move) */
                    double key = d + s->vms[v].mem_mib * 1e-9;
                    if (d >= excess && key < best) {
                        best = key;
                        fit = v;
                    }
                    if (d > largest) {
                        largest = d;
                        big = v;
                    }
                }
                pick = fit >= 0 ? fit : big;
            }
            if (pick < 0)
                break;
            if (!place(c, out, pick, h, c->cfg->joule_target_pct, PLAN_REASON_OVERLOAD)) {
                c->busy[pick] = true; /* nowhere to go: leave it, try the next */
                continue;
            }
        }
    }
}

static void consolidate(struct jctx *c, struct plan *out)
{
    const struct model_snapshot *s = c->s;
    const struct policy_cfg *cfg = c->cfg;
    size_t nh = c->t.n_hosts;
    struct order *ord = xcalloc(nh ? nh : 1, sizeof *ord);
    size_t n = 0;
    for (size_t i = 0; i < nh; i++) {
        const struct tent_host *th = &c->t.hosts[i];
        if (s->hosts[i].state != POWER_STATE_ON || s->hosts[i].excluded ||
            !s->hosts[i].reachable || c->woken[i] || th->n == 0)
            continue;
        double u = th->sum_req / th->total;
        if (u >= cfg->joule_low_pct / 100.0)
            continue;
        /* least efficient first: idle watts per unit of capacity, weighted by emptiness */
        double w_per_cap = s->hosts[i].has_power_curve ? s->hosts[i].power_curve_w[0]
                                                         : s->hosts[i].idle_w;
        ord[n++] = (struct order){ u - w_per_cap / th->total * 1e-3, (int)i };
    }
    qsort(ord, n, sizeof *ord, order_cmp);
    int *vms = xcalloc(s->n_vms ? s->n_vms : 1, sizeof *vms);
    size_t plan_mark, moved = 0;
    size_t cap = cfg->max_moves_per_round ? cfg->max_moves_per_round : SIZE_MAX;
    size_t active = 0; /* hosts on (or being switched on) that stay on */
    for (size_t i = 0; i < nh; i++)
        active += s->hosts[i].state == POWER_STATE_ON || s->hosts[i].state == POWER_STATE_WAKING ||
                  c->woken[i];
    for (size_t k = 0; k < n; k++) {
        int h = ord[k].idx;
        if (active <= s->min_active_hosts)
            break; /* never below the minimum of active hosts */
        struct tent_host *th = &c->t.hosts[h];
        if (th->n == 0 || c->drained[h])
            continue;
        bool ok = true;
        size_t nv = 0;
        for (size_t i = 0; i < th->n; i++) {
            int v = th->vms[i];
            if (!movable(c, v) || cooling(c, v))
                ok = false;
            vms[nv++] = v;
        }
        if (!ok || moved + nv > cap)
            continue;
        /* largest first */
        for (size_t i = 1; i < nv; i++) {
            int x = vms[i];
            size_t j = i;
            while (j > 0 && c->t.demand[vms[j - 1]] < c->t.demand[x]) {
                vms[j] = vms[j - 1];
                j--;
            }
            vms[j] = x;
        }
        double saved_w = tent_power(&s->hosts[h], th->sum_req / th->total);
        c->drained[h] = true;
        plan_mark = out->n;
        double added_w = 0, mig_wh = 0;
        for (size_t i = 0; i < nv && ok; i++) {
            int v = vms[i];
            int to = best_active(c, v, h, cfg->joule_target_pct - cfg->joule_headroom_pct);
            if (to < 0) {
                ok = false;
                break;
            }
            added_w += sized_w(c, to, c->t.demand[v]) - sized_w(c, to, 0);
            mig_wh += cfg->joule_migration_w * s->vms[v].mem_mib /
                      (cfg->migration_mib_s > 0 ? cfg->migration_mib_s : 62.5) / 3600.0;
            add_move(c, out, v, h, to, PLAN_REASON_UNDERLOAD);
        }
        double gain_wh = (saved_w - added_w) * cfg->joule_horizon_s / 3600.0 - mig_wh;
        if (ok && gain_wh >= cfg->joule_min_gain_wh) {
            moved += nv;
            active--;
            struct plan_action *a = plan_add(out, PLAN_ACTION_POWER_OFF, PLAN_REASON_UNDERLOAD);
            a->host = h;
            a->expected_gain_w = saved_w - added_w;
            snprintf(a->detail, sizeof a->detail, "%s emptied: saves %.0f W, pays %.2f Wh of "
                     "migration back in %.0f s", s->hosts[h].name ? s->hosts[h].name : "?",
                     saved_w - added_w, mig_wh,
                     saved_w > added_w ? mig_wh * 3600.0 / (saved_w - added_w) : 0.0);
            continue;
        }
        /* undo this host's moves */
        for (size_t a = out->n; a > plan_mark; a--) {
            const struct plan_action *pa = &out->actions[a - 1];
            tent_remove(&c->t, pa->to, pa->vm);
            tent_add(&c->t, h, pa->vm);
            c->busy[pa->vm] = false;
        }
        out->n = plan_mark;
        c->drained[h] = false;
    }
    free(vms);
    free(ord);
}

/* Hosts switched on come first (POWER_ON), then the migrations, then POWER_OFF of the hosts
 * emptied (the executor powers a host off only once it runs nothing). */
static void order_plan(const struct jctx *c, struct plan *out, size_t first)
{
    size_t n = out->n - first;
    struct plan_action *tmp = xcalloc(n + c->t.n_hosts + 1, sizeof *tmp);
    size_t k = 0;
    for (size_t i = 0; i < c->t.n_hosts; i++) {
        if (!c->woken[i])
            continue;
        struct plan_action *a = &tmp[k++];
        memset(a, 0, sizeof *a);
        a->kind = PLAN_ACTION_POWER_ON;
        a->reason = PLAN_REASON_OVERLOAD;
        a->vm = a->from = a->to = -1;
        a->host = (int)i;
        a->expected_gain_w = -tent_power(&c->s->hosts[i], 0);
        snprintf(a->detail, sizeof a->detail, "switch on %s: most efficient host with room",
                 c->s->hosts[i].name ? c->s->hosts[i].name : "?");
    }
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = first; i < out->n; i++)
            if ((out->actions[i].kind == PLAN_ACTION_POWER_OFF) == (pass == 1))
                tmp[k++] = out->actions[i];
    out->n = first;
    for (size_t i = 0; i < k; i++)
        *plan_add(out, tmp[i].kind, tmp[i].reason) = tmp[i];
    free(tmp);
}

int policy_run_joule(const struct policy_cfg *cfg, const struct model_snapshot *snap,
                     struct plan *out, struct joule_err *err)
{
    if (!(cfg->joule_target_pct > 0 && cfg->joule_target_pct <= cfg->joule_high_pct) ||
        !(cfg->joule_low_pct >= 0 && cfg->joule_low_pct <= cfg->joule_target_pct) ||
        !(cfg->joule_percentile >= 0 && cfg->joule_percentile <= 100) ||
        !(cfg->joule_headroom_pct >= 0 && cfg->joule_headroom_pct < cfg->joule_target_pct) ||
        cfg->joule_window == 0)
        return joule_err_set(err, JOULE_EINVAL,
                             "policy: joule needs 0 <= low %g <= target %g <= high %g, "
                             "0 <= headroom %g < target, percentile %g in 0..100, window %u >= 1",
                             cfg->joule_low_pct, cfg->joule_target_pct, cfg->joule_high_pct,
                             cfg->joule_headroom_pct, cfg->joule_percentile, cfg->joule_window);
    size_t nv = snap->n_vms, nh = snap->n_hosts;
    double *sized = xcalloc(nv ? nv : 1, sizeof *sized);
    struct jctx c = { .cfg = cfg, .s = snap };
    c.now = xcalloc(nv ? nv : 1, sizeof *c.now);
    for (size_t v = 0; v < nv; v++) {
        c.now[v] = snap->vms[v].cpu_cores;
        sized[v] = snap->vms[v].host < 0 ? snap->vms[v].cpu_cores : percentile(cfg, &snap->vms[v]);
    }
    tent_init(&c.t, snap, sized);
    c.t.limits_unplaced_only = cfg->limits_at_creation_only;
    c.busy = xcalloc(nv ? nv : 1, sizeof *c.busy);
    c.drained = xcalloc(nh ? nh : 1, sizeof *c.drained);
    c.woken = xcalloc(nh ? nh : 1, sizeof *c.woken);

    size_t first = out->n;
    bool unplaced = false;
    for (size_t v = 0; v < nv; v++) {
        if (snap->vms[v].host >= 0)
            continue;
        unplaced = true;
        if (!place(&c, out, (int)v, -1, cfg->joule_target_pct, PLAN_REASON_MIN_HOSTS) &&
            !place(&c, out, (int)v, -1, 100, PLAN_REASON_MIN_HOSTS)) {
            struct plan_action *a = plan_add(out, PLAN_ACTION_ALERT, PLAN_REASON_NO_CAPACITY);
            snprintf(a->detail, sizeof a->detail, "no host for VM %s",
                     snap->vms[v].name ? snap->vms[v].name : "?");
        }
    }
    if (!unplaced && snap->consolidation_allowed) {
        relieve(&c, out);
        consolidate(&c, out);
    } else if (!unplaced) {
        relieve(&c, out);
    }
    order_plan(&c, out, first);
    free(c.woken);
    free(c.drained);
    free(c.busy);
    free(c.now);
    free(sized);
    tent_free(&c.t);
    return 0;
}

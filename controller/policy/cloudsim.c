/* cloudsim.c - Beloglazov & Buyya's reference consolidation policies as CloudSim 3.0.3 codes
 * them (CCPE 24(13), 2012; data/planetlab/CLOUDSIM.md section 8):
 *   ThrMmt: static threshold overload detection, minimum-migration-time VM selection;
 *   LrMmt:  local-regression overload detection (OLS on the host's last 10 utilisation values,
 *           one step ahead x safety >= 1), MMT selection, THR fallback with short history.
 * Both place with power-aware best fit decreasing (PABFD) and try, every round, to empty every
 * active host from the least utilised up. Unplaced VMs (host < 0) get the initial placement
 * (PABFD in VM order, unsorted, as CloudSim's VM creation does).
 * Units: whatever the snapshot uses (MIPS in the CloudSim-compatible replay). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "reference.h"
#include "tentative.h"
#include "util/xalloc.h"

struct cs_ctx {
    const struct policy_cfg *cfg;
    struct tentative t;
    bool lr;
};

/* Overload test of host h, as if `extra` (a VM index, or -1) were appended to it. */
static bool over_threshold(const struct cs_ctx *c, int h, int extra, double thr)
{
    const struct tent_host *th = &c->t.hosts[h];
    double sum = th->sum_req;
    if (extra >= 0)
        sum += c->t.demand[extra];
    return sum / th->total > thr;
}

static bool overloaded(const struct cs_ctx *c, int h, int extra)
{
    if (!c->lr)
        return over_threshold(c, h, extra, c->cfg->thr_threshold);
    const struct tent_host *th = &c->t.hosts[h];
    const struct model_snapshot *s = c->t.snap;
    double y[TENT_HIST];
    memcpy(y, th->hist, sizeof y);
    size_t len = th->hist_len;
    double max_mem = th->max_mem;
    if (extra >= 0) {
        const struct snap_vm *v = &s->vms[extra];
        size_t nh = v->n_history < TENT_HIST ? v->n_history : TENT_HIST;
        for (size_t k = 0; k < nh; k++)
            y[k] += v->demand_history[k] / th->total;
        len = TENT_HIST;
        while (len > 0 && y[len - 1] == 0)
            len--;
        if (v->mem_mib > max_mem)
            max_mem = v->mem_mib;
    }
    size_t n = c->cfg->lr_history;
    if (n < 2 || n > TENT_HIST || len < n)
        return over_threshold(c, h, extra, c->cfg->lr_fallback_threshold);
    /* OLS of y on x = 1..n, oldest first. */
    double sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        sx += (double)(i + 1);
        sy += y[n - 1 - i];
    }
    double mx = sx / (double)n, my = sy / (double)n, sxy = 0, sxx = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = (double)(i + 1) - mx;
        sxy += dx * (y[n - 1 - i] - my);
        sxx += dx * dx;
    }
    double b = sxy / sxx, a = my - b * mx;
    double mig_s = max_mem / (c->cfg->migration_mib_s > 0 ? c->cfg->migration_mib_s : 62.5);
    double intervals = ceil(mig_s / (c->cfg->interval_s > 0 ? c->cfg->interval_s : 300));
    double predicted = (a + b * ((double)n + intervals)) * c->cfg->lr_safety;
    return predicted >= 1;
}

static bool movable(const struct model_snapshot *s, int v)
{
    return !s->vms[v].migrating && !s->vms[v].pinned;
}

/* PABFD's findHostForVm: least power increase among suitable, non-excluded hosts that the VM
 * does not overload (empty hosts are not tested for overload). -1 if none. */
static int find_host(const struct cs_ctx *c, int v, const bool *excluded)
{
    const struct model_snapshot *s = c->t.snap;
    double min_w = DBL_MAX;
    int best = -1;
    for (size_t i = 0; i < c->t.n_hosts; i++) {
        int h = (int)i;
        const struct tent_host *th = &c->t.hosts[h];
        if (excluded[h] || s->hosts[h].excluded ||
            (!s->hosts[h].reachable && s->hosts[h].state == POWER_STATE_ON))
            continue;
        if (s->hosts[h].state != POWER_STATE_ON && s->hosts[h].state != POWER_STATE_OFF)
            continue;
        if (!tent_suitable(&c->t, h, v))
            continue;
        if (th->used != 0 && overloaded(c, h, v))
            continue;
        double u_after = (th->used + c->t.demand[v]) / th->total;
        double dw = tent_power(&s->hosts[h], u_after) - th->base_w;
        if (dw < min_w) {
            min_w = dw;
            best = h;
        }
    }
    return best;
}

struct move {
    int vm;
    int to;
};

struct moves {
    struct move *m;
    size_t n, cap;
};

static void moves_add(struct moves *ms, int vm, int to)
{
    xgrow((void **)&ms->m, &ms->cap, ms->n + 1, sizeof *ms->m);
    ms->m[ms->n++] = (struct move){ vm, to };
}

/* Stable sort of VM indices by decreasing demand (PowerVmList.sortByCpuUtilization). */
static void sort_by_demand(const struct cs_ctx *c, int *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int x = v[i];
        size_t j = i;
        while (j > 0 && c->t.demand[v[j - 1]] < c->t.demand[x]) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static void emit(const struct cs_ctx *c, struct plan *out, const struct moves *ms, size_t from,
                 size_t to_n, enum plan_reason why)
{
    const struct model_snapshot *s = c->t.snap;
    for (size_t i = from; i < to_n; i++) {
        int v = ms->m[i].vm, to = ms->m[i].to;
        struct plan_action *a = plan_add(out, PLAN_ACTION_MIGRATE, why);
        a->vm = v;
        a->from = s->vms[v].host;
        a->to = to;
        const struct tent_host *th = &c->t.hosts[to];
        a->to_load_pct = 100.0 * th->used / th->total;
        if (a->from >= 0) {
            const struct tent_host *fh = &c->t.hosts[a->from];
            a->from_load_pct = 100.0 * fh->used / fh->total;
        }
        snprintf(a->detail, sizeof a->detail, "%s %s -> %s",
                 why == PLAN_REASON_OVERLOAD ? "overloaded" :
                 why == PLAN_REASON_UNDERLOAD ? "emptying" : "initial placement",
                 a->from >= 0 && s->hosts[a->from].name ? s->hosts[a->from].name : "-",
                 s->hosts[to].name ? s->hosts[to].name : "?");
    }
}

/* POWER_ON for every switched-off host the moves target (CloudSim has no boot: its hosts at
 * 0 % are simply off; on a real cluster the executor must switch them on first). */
static void emit_power_on(const struct cs_ctx *c, struct plan *out, const struct moves *ms)
{
    const struct model_snapshot *s = c->t.snap;
    bool *done = xcalloc(s->n_hosts ? s->n_hosts : 1, sizeof *done);
    for (size_t i = 0; i < ms->n; i++) {
        int to = ms->m[i].to;
        if (done[to] || s->hosts[to].state == POWER_STATE_ON)
            continue;
        done[to] = true;
        struct plan_action *a = plan_add(out, PLAN_ACTION_POWER_ON, PLAN_REASON_OVERLOAD);
        a->host = to;
        a->expected_gain_w = -tent_power(&s->hosts[to], 0);
        snprintf(a->detail, sizeof a->detail, "switch on %s for its least power increase",
                 s->hosts[to].name ? s->hosts[to].name : "?");
    }
    free(done);
}

/* Initial placement of unplaced VMs in index order. Returns the number placed. */
static size_t place_new(struct cs_ctx *c, struct plan *out)
{
    const struct model_snapshot *s = c->t.snap;
    bool *excl = xcalloc(s->n_hosts ? s->n_hosts : 1, sizeof *excl);
    struct moves ms = { 0 };
    for (size_t v = 0; v < s->n_vms; v++) {
        if (s->vms[v].host >= 0)
            continue;
        /* While being created a VM asks for its full size (Vm.isBeingInstantiated); once
         * created, the host keeps that reservation but the VM requests its demand now. */
        double full = s->vms[v].cpu_max > 0 ? s->vms[v].cpu_max : s->vms[v].cpu_cores;
        c->t.demand[v] = c->t.alloc[v] = full;
        int h = find_host(c, (int)v, excl);
        if (h < 0) {
            struct plan_action *a = plan_add(out, PLAN_ACTION_ALERT, PLAN_REASON_NO_CAPACITY);
            snprintf(a->detail, sizeof a->detail, "no host for VM %s",
                     s->vms[v].name ? s->vms[v].name : "?");
            continue;
        }
        c->t.demand[v] = s->vms[v].cpu_cores;
        tent_add(&c->t, h, (int)v);
        moves_add(&ms, (int)v, h);
    }
    emit_power_on(c, out, &ms);
    emit(c, out, &ms, 0, ms.n, PLAN_REASON_MIN_HOSTS);
    size_t n = ms.n;
    free(ms.m);
    free(excl);
    return n;
}

static int cloudsim_round(const struct policy_cfg *cfg, const struct model_snapshot *snap,
                          struct plan *out, bool lr)
{
    struct cs_ctx c = { .cfg = cfg, .lr = lr };
    tent_init(&c.t, snap, NULL);
    c.t.limits_unplaced_only = cfg->limits_at_creation_only;
    size_t nh = snap->n_hosts;
    bool unplaced = false;
    for (size_t v = 0; v < snap->n_vms; v++)
        unplaced |= snap->vms[v].host < 0;
    if (unplaced) {
        place_new(&c, out);
        tent_free(&c.t);
        return 0;
    }

    bool *over = xcalloc(nh ? nh : 1, sizeof *over);
    for (size_t h = 0; h < nh; h++)
        over[h] = !snap->hosts[h].excluded && snap->hosts[h].reachable &&
                  overloaded(&c, (int)h, -1);

    /* VM selection on overloaded hosts: MMT (least memory, first wins ties). */
    int *sel = xcalloc(snap->n_vms ? snap->n_vms : 1, sizeof *sel);
    size_t n_sel = 0;
    for (size_t h = 0; h < nh; h++) {
        if (!over[h])
            continue;
        for (;;) {
            struct tent_host *th = &c.t.hosts[h];
            int pick = -1;
            double min_mem = DBL_MAX;
            for (size_t i = 0; i < th->n; i++) {
                int v = th->vms[i];
                if (movable(snap, v) && snap->vms[v].mem_mib < min_mem) {
                    min_mem = snap->vms[v].mem_mib;
                    pick = v;
                }
            }
            if (pick < 0)
                break;
            sel[n_sel++] = pick;
            tent_remove(&c.t, (int)h, pick);
            if (!overloaded(&c, (int)h, -1))
                break;
        }
    }
    struct moves ms = { 0 };
    sort_by_demand(&c, sel, n_sel);
    for (size_t i = 0; i < n_sel; i++) {
        int to = find_host(&c, sel[i], over);
        if (to >= 0) {
            tent_add(&c.t, to, sel[i]);
            moves_add(&ms, sel[i], to);
        }
    }
    size_t n_over_moves = ms.n;
    int *emptied = xcalloc(nh ? nh : 1, sizeof *emptied);
    size_t n_emptied = 0;

    /* Underload: try to empty every active host, least utilised first. */
    bool *excl_cand = xcalloc(nh ? nh : 1, sizeof *excl_cand);
    bool *excl_place = xcalloc(nh ? nh : 1, sizeof *excl_place);
    size_t n_excl = 0;
    for (size_t h = 0; h < nh; h++) {
        bool x = over[h] || c.t.hosts[h].off || snap->hosts[h].excluded ||
                 !snap->hosts[h].reachable || snap->hosts[h].state != POWER_STATE_ON;
        excl_cand[h] = excl_place[h] = x;
        n_excl += x;
    }
    int *cand = xcalloc(snap->n_vms ? snap->n_vms : 1, sizeof *cand);
    while (n_excl < nh) {
        int u = -1;
        double min_u = 1;
        for (size_t h = 0; h < nh; h++) {
            const struct tent_host *th = &c.t.hosts[h];
            if (excl_cand[h] || th->n == 0)
                continue;
            bool any_movable = false;
            for (size_t i = 0; i < th->n; i++)
                any_movable |= !snap->vms[th->vms[i]].migrating;
            if (th->pre_util > 0 && th->pre_util < min_u && any_movable) {
                min_u = th->pre_util;
                u = (int)h;
            }
        }
        if (u < 0)
            break;
        excl_cand[u] = true;
        excl_place[u] = true;
        n_excl++;
        const struct tent_host *uh = &c.t.hosts[u];
        size_t nc = 0;
        bool pinned = false;
        for (size_t i = 0; i < uh->n; i++) {
            int v = uh->vms[i];
            if (snap->vms[v].pinned)
                pinned = true;
            else if (!snap->vms[v].migrating)
                cand[nc++] = v;
        }
        if (nc == 0 || pinned)
            continue;
        sort_by_demand(&c, cand, nc);
        size_t first = ms.n;
        bool ok = true;
        for (size_t i = 0; i < nc; i++) {
            int to = find_host(&c, cand[i], excl_place);
            if (to < 0) {
                ok = false;
                break;
            }
            tent_add(&c.t, to, cand[i]);
            moves_add(&ms, cand[i], to);
        }
        if (!ok) {
            for (size_t i = first; i < ms.n; i++)
                tent_remove(&c.t, ms.m[i].to, ms.m[i].vm);
            ms.n = first;
            continue;
        }
        for (size_t i = first; i < ms.n; i++) {
            if (!excl_cand[ms.m[i].to]) {
                excl_cand[ms.m[i].to] = true;
                n_excl++;
            }
        }
        emptied[n_emptied++] = u;
    }
    /* Plan order: hosts to switch on, overload moves, underload moves, hosts to switch off
     * (the executor powers a host off only once nothing runs on it). */
    emit_power_on(&c, out, &ms);
    emit(&c, out, &ms, 0, n_over_moves, PLAN_REASON_OVERLOAD);
    emit(&c, out, &ms, n_over_moves, ms.n, PLAN_REASON_UNDERLOAD);
    for (size_t i = 0; i < n_emptied; i++) {
        struct plan_action *a = plan_add(out, PLAN_ACTION_POWER_OFF, PLAN_REASON_UNDERLOAD);
        a->host = emptied[i];
        a->expected_gain_w = c.t.hosts[emptied[i]].base_w;
        snprintf(a->detail, sizeof a->detail, "%s emptied",
                 snap->hosts[emptied[i]].name ? snap->hosts[emptied[i]].name : "?");
    }
    free(emptied);

    free(cand);
    free(excl_cand);
    free(excl_place);
    free(ms.m);
    free(sel);
    free(over);
    tent_free(&c.t);
    return 0;
}

static int check(const struct policy_cfg *cfg, struct joule_err *err)
{
    if (!(cfg->thr_threshold > 0 && cfg->thr_threshold <= 1) ||
        !(cfg->lr_fallback_threshold > 0 && cfg->lr_fallback_threshold <= 1))
        return joule_err_set(err, JOULE_EINVAL,
                             "policy: thr_threshold %g and lr_fallback_threshold %g must be in "
                             "(0, 1]", cfg->thr_threshold, cfg->lr_fallback_threshold);
    if (!(cfg->lr_safety > 0) || cfg->lr_history < 2 || cfg->lr_history > TENT_HIST)
        return joule_err_set(err, JOULE_EINVAL,
                             "policy: lr_safety %g must be > 0 and lr_history %u in 2..%d",
                             cfg->lr_safety, cfg->lr_history, TENT_HIST);
    return 0;
}

int policy_run_thr_mmt(const struct policy_cfg *cfg, const struct model_snapshot *snap,
                       struct plan *out, struct joule_err *err)
{
    int rc = check(cfg, err);
    return rc < 0 ? rc : cloudsim_round(cfg, snap, out, false);
}

int policy_run_lr_mmt(const struct policy_cfg *cfg, const struct model_snapshot *snap,
                      struct plan *out, struct joule_err *err)
{
    int rc = check(cfg, err);
    return rc < 0 ? rc : cloudsim_round(cfg, snap, out, true);
}

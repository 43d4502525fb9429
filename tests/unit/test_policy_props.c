/* Property tests of the policy engine over thousands of random clusters (fixed seeds).
 * Every plan is replayed here, independently of the engine's own state, and checked against
 * the safety rules; balance never widens max - min; whenever a rule has something to do, the
 * plan does something (an empty plan cannot pass by doing nothing). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "support/test_support.h"

#define N_CLUSTERS 4000
#define EPS 1e-6
#define NS 1000000000LL

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
static int rng_int(struct rng *r, int lo, int hi)
{
    return lo + (int)(rng_next(r) % (uint64_t)(hi - lo + 1));
}
static bool rng_chance(struct rng *r, double p) { return rng_unit(r) < p; }

struct cluster {
    struct model_snapshot snap;
    struct policy_cfg cfg;
    char names[64][24];
    char uuids[512][40];
};

static void gen(struct rng *r, struct cluster *c, struct snap_host *hosts, struct snap_vm *vms)
{
    static const double cpu_choices[] = { 1, 2, 4, 8, 16, 32 };
    memset(&c->snap, 0, sizeof c->snap);
    policy_cfg_defaults(&c->cfg);
    struct model_snapshot *s = &c->snap;
    s->now_ns = 100000 * NS;
    s->hosts = hosts;
    s->vms = vms;
    s->n_hosts = (size_t)rng_int(r, 1, 12);
    bool homogeneous = rng_chance(r, 0.5);
    double hc = cpu_choices[rng_int(r, 0, 5)];
    for (size_t i = 0; i < s->n_hosts; i++) {
        struct snap_host *h = &hosts[i];
        memset(h, 0, sizeof *h);
        snprintf(c->names[i], sizeof c->names[i], "h%zu", i);
        h->name = c->names[i];
        h->cpus = homogeneous ? hc : cpu_choices[rng_int(r, 0, 5)];
        h->mem_mib = 1024.0 * rng_int(r, 2, 64);
        int st = rng_int(r, 0, 9);
        h->state = st < 6 ? POWER_STATE_ON
                 : st < 8 ? POWER_STATE_OFF
                 : st < 9 ? POWER_STATE_WAKING
                          : (enum power_state)rng_int(r, 0, POWER_STATE__COUNT - 1);
        h->off_since_ns = h->state == POWER_STATE_OFF ? s->now_ns - rng_int(r, 0, 7200) * NS
                                                      : SNAP_NEVER;
        h->idle_w = rng_int(r, 40, 120);
        h->max_w = h->idle_w + rng_int(r, 0, 200);
        h->priority = rng_int(r, 0, 2);
        h->excluded = rng_chance(r, 0.08);
        h->reachable = !rng_chance(r, 0.05);
        h->receiving = rng_chance(r, 0.05);
    }
    size_t nv = (size_t)rng_int(r, 0, 60);
    s->n_vms = 0;
    double vm_cores_sum[64] = { 0 }, mem_used[64] = { 0 };
    for (size_t i = 0; i < nv; i++) {
        int h = rng_int(r, 0, (int)s->n_hosts - 1);
        if (hosts[h].state != POWER_STATE_ON && !rng_chance(r, 0.1))
            continue;
        struct snap_vm *v = &vms[s->n_vms];
        memset(v, 0, sizeof *v);
        snprintf(c->uuids[s->n_vms], sizeof c->uuids[0], "vm-%04zu", s->n_vms);
        v->uuid = v->name = c->uuids[s->n_vms];
        v->host = h;
        v->vcpus = rng_int(r, 1, 8);
        v->mem_mib = 256.0 * rng_int(r, 1, 16);
        if (mem_used[h] + v->mem_mib > hosts[h].mem_mib)
            continue; /* start from a cluster whose memory fits */
        mem_used[h] += v->mem_mib;
        double busy = rng_chance(r, 0.2) ? rng_unit(r) * 0.05 : rng_unit(r);
        v->cpu_cores = fmin(v->vcpus, hosts[h].cpus) * busy;
        v->pinned = rng_chance(r, 0.05);
        v->migrating = rng_chance(r, 0.03);
        v->last_move_ns = rng_chance(r, 0.1) ? s->now_ns - rng_int(r, 0, 3600) * NS : SNAP_NEVER;
        vm_cores_sum[h] += v->cpu_cores;
        s->n_vms++;
    }
    for (size_t i = 0; i < s->n_hosts; i++) {
        struct snap_host *h = &hosts[i];
        if (h->state != POWER_STATE_ON)
            continue;
        double sum_pct = vm_cores_sum[i] / h->cpus * 100.0;
        /* Mostly the sum of the VMs; sometimes a measured value that differs from it. */
        h->load_pct = rng_chance(r, 0.7) ? fmin(sum_pct, 100.0) : rng_unit(r) * 100.0;
    }
    s->consolidation_allowed = rng_chance(r, 0.5);
    s->min_active_hosts = (unsigned)rng_int(r, 0, 3);
    s->expected_load_cores = rng_chance(r, 0.15) ? rng_unit(r) * 60.0 : 0;
    c->cfg.balance = (enum policy_balance)rng_int(r, 0, 2);
    c->cfg.max_moves_per_round = (unsigned)rng_int(r, 0, 8);
    c->cfg.th1_pct = rng_chance(r, 0.7) ? 80 : rng_int(r, 50, 95);
    c->cfg.placement_target_pct = c->cfg.th1_pct;
    c->cfg.balance_gap_pct = rng_chance(r, 0.7) ? 10 : rng_int(r, 2, 30);
    /* issue 10 item 3: Th2's dead band below Th1 and a woken host's minimum on-time */
    c->cfg.th2_dead_band_pct = rng_chance(r, 0.5) ? 20 : rng_int(r, 0, (int)c->cfg.th1_pct - 1);
    for (size_t i = 0; i < s->n_hosts; i++)
        hosts[i].on_since_ns = hosts[i].state == POWER_STATE_ON && rng_chance(r, 0.3)
                                   ? s->now_ns - rng_int(r, 0, 3600) * NS
                                   : SNAP_NEVER;
}

static bool on_too_briefly(const struct cluster *c, const struct snap_host *h)
{
    return h->on_since_ns != SNAP_NEVER && c->snap.now_ns - h->on_since_ns < c->cfg.host_min_on_ns;
}

static bool in_cooldown(const struct cluster *c, const struct snap_vm *v)
{
    return v->last_move_ns != SNAP_NEVER &&
           c->snap.now_ns - v->last_move_ns < c->cfg.vm_cooldown_ns;
}

static bool vm_may_move(const struct cluster *c, const struct snap_vm *v)
{
    return v->host >= 0 && !v->pinned && !v->migrating && !in_cooldown(c, v);
}

static bool managed(const struct snap_host *h)
{
    return h->state == POWER_STATE_ON && !h->excluded && h->reachable && h->cpus > 0;
}

/* The plan replayed on a copy of the cluster: every safety rule checked action by action. */
struct replay {
    int vm_host[512];
    double load[64];
    double mem[64];
    bool off[64];   /* powered off by the plan */
    bool woken[64]; /* powered on by the plan */
    bool moved[512];
    unsigned moves;
    size_t n_on, n_off_actions, n_on_actions;
};

static void replay_plan(const struct cluster *c, const struct plan *p, struct replay *rp)
{
    const struct model_snapshot *s = &c->snap;
    memset(rp, 0, sizeof *rp);
    for (size_t i = 0; i < s->n_hosts; i++) {
        rp->load[i] = s->hosts[i].load_pct;
        rp->n_on += s->hosts[i].state == POWER_STATE_ON;
    }
    for (size_t v = 0; v < s->n_vms; v++) {
        rp->vm_host[v] = s->vms[v].host;
        rp->mem[s->vms[v].host] += s->vms[v].mem_mib;
    }
    size_t floor_hosts = s->min_active_hosts > 1 ? s->min_active_hosts : 1;
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_action *a = &p->actions[i];
        switch (a->kind) {
        case PLAN_ACTION_MIGRATE: {
            assert_true(a->vm >= 0 && (size_t)a->vm < s->n_vms);
            const struct snap_vm *v = &s->vms[a->vm];
            assert_false(v->pinned);
            assert_false(v->migrating);
            assert_false(in_cooldown(c, v));
            assert_false(rp->moved[a->vm]);
            assert_int_equal(a->from, rp->vm_host[a->vm]);
            assert_true(a->to >= 0 && (size_t)a->to < s->n_hosts && a->to != a->from);
            assert_true(managed(&s->hosts[a->to]));
            assert_true(managed(&s->hosts[a->from]));
            assert_false(rp->off[a->to]);
            assert_false(rp->off[a->from]);
            rp->mem[a->from] -= v->mem_mib;
            rp->mem[a->to] += v->mem_mib;
            assert_true(rp->mem[a->to] <= s->hosts[a->to].mem_mib + EPS);
            rp->load[a->from] =
                fmax(0, rp->load[a->from] - v->cpu_cores / s->hosts[a->from].cpus * 100);
            rp->load[a->to] += v->cpu_cores / s->hosts[a->to].cpus * 100;
            if (a->reason == PLAN_REASON_TH2_CONSOLIDATE)
                assert_true(rp->load[a->to] <= c->cfg.placement_target_pct + EPS);
            assert_true(fabs(rp->load[a->to] - a->to_load_pct) < EPS);
            assert_true(fabs(rp->load[a->from] - a->from_load_pct) < EPS);
            rp->vm_host[a->vm] = a->to;
            rp->moved[a->vm] = true;
            rp->moves++;
            assert_true(rp->moves <= c->cfg.max_moves_per_round);
            break;
        }
        case PLAN_ACTION_POWER_OFF: {
            assert_true(s->consolidation_allowed);
            assert_true(a->host >= 0 && (size_t)a->host < s->n_hosts);
            assert_true(managed(&s->hosts[a->host]));
            assert_false(on_too_briefly(c, &s->hosts[a->host]));
            assert_false(s->hosts[a->host].receiving);
            assert_false(rp->off[a->host]);
            for (size_t v = 0; v < s->n_vms; v++)
                assert_int_not_equal(rp->vm_host[v], a->host); /* keeps no VM */
            rp->off[a->host] = true;
            rp->n_on--;
            assert_true(rp->n_on >= floor_hosts);
            rp->n_off_actions++;
            /* the hosts that stay on average at most th1 - dead band (as Th1 averages them) */
            double used = 0, cap = 0;
            for (size_t h = 0; h < s->n_hosts; h++)
                if (s->hosts[h].state == POWER_STATE_ON && s->hosts[h].cpus > 0 && !rp->off[h]) {
                    used += rp->load[h] / 100 * s->hosts[h].cpus;
                    cap += s->hosts[h].cpus;
                }
            assert_true(cap > 0);
            assert_true(used / cap * 100 <= c->cfg.th1_pct - c->cfg.th2_dead_band_pct + EPS);
            break;
        }
        case PLAN_ACTION_POWER_ON:
            assert_true(a->host >= 0 && (size_t)a->host < s->n_hosts);
            assert_int_equal(s->hosts[a->host].state, POWER_STATE_OFF);
            assert_false(s->hosts[a->host].excluded);
            assert_false(rp->woken[a->host]);
            rp->woken[a->host] = true;
            rp->n_on_actions++;
            break;
        case PLAN_ACTION_ALERT:
            assert_int_equal(a->reason, PLAN_REASON_NO_CAPACITY);
            break;
        case PLAN_ACTION__COUNT: fail();
        }
        assert_true(a->detail[0] != '\0');
    }
    /* Round semantics: Th2 only if nothing was woken. */
    if (rp->n_on_actions > 0)
        assert_int_equal(rp->n_off_actions, 0);
}

static void spread(const struct cluster *c, const double *load, double *mx, double *mn, int *imx,
                   int *imn)
{
    *mx = -1;
    *mn = 1e300;
    *imx = *imn = -1;
    for (size_t i = 0; i < c->snap.n_hosts; i++) {
        if (!managed(&c->snap.hosts[i]))
            continue;
        if (load[i] > *mx + 1e-9) { *mx = load[i]; *imx = (int)i; }
        if (load[i] < *mn - 1e-9) { *mn = load[i]; *imn = (int)i; }
    }
}

/* Does some VM qualify for the differencing balance between the most and least loaded hosts? */
static bool balance_has_work(const struct cluster *c)
{
    const struct model_snapshot *s = &c->snap;
    double load[64];
    for (size_t i = 0; i < s->n_hosts; i++)
        load[i] = s->hosts[i].load_pct;
    double mx, mn;
    int hmax, hmin;
    spread(c, load, &mx, &mn, &hmax, &hmin);
    if (hmax < 0 || hmax == hmin || mx - mn < c->cfg.balance_gap_pct)
        return false;
    double mem = 0, d = mx - mn;
    for (size_t v = 0; v < s->n_vms; v++)
        if (s->vms[v].host == hmin)
            mem += s->vms[v].mem_mib;
    for (size_t v = 0; v < s->n_vms; v++) {
        const struct snap_vm *vm = &s->vms[v];
        if (vm->host != hmax || !vm_may_move(c, vm))
            continue;
        double cs = vm->cpu_cores / s->hosts[hmax].cpus * 100;
        double cd = vm->cpu_cores / s->hosts[hmin].cpus * 100;
        if (cs > 1e-6 && cs <= d / 2 && cd <= d / 2 && mem + vm->mem_mib <= s->hosts[hmin].mem_mib)
            return true;
    }
    return false;
}

static bool th1_fires(const struct cluster *c, bool *wakeable)
{
    const struct model_snapshot *s = &c->snap;
    double used = 0, cap = 0;
    bool waking = false;
    *wakeable = false;
    for (size_t i = 0; i < s->n_hosts; i++) {
        const struct snap_host *h = &s->hosts[i];
        if (h->state == POWER_STATE_ON && h->cpus > 0) {
            used += h->load_pct / 100 * h->cpus;
            cap += h->cpus;
        }
        waking |= h->state == POWER_STATE_WAKING;
        *wakeable |= h->state == POWER_STATE_OFF && !h->excluded;
    }
    return cap > 0 && used / cap * 100 > c->cfg.th1_pct + 1e-6 && !waking;
}

/* Bands: the most loaded host is heavy or the least loaded light, and a VM of the former would
 * narrow the pair's gap (and fits in memory). */
static bool bands_has_work(const struct cluster *c)
{
    const struct model_snapshot *s = &c->snap;
    double load[64], sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < s->n_hosts; i++) {
        load[i] = s->hosts[i].load_pct;
        if (managed(&s->hosts[i])) {
            sum += load[i];
            n++;
        }
    }
    double mx, mn;
    int hmax, hmin;
    spread(c, load, &mx, &mn, &hmax, &hmin);
    if (hmax < 0 || hmax == hmin)
        return false;
    double t = sum / (double)n, w = fmax(fabs(t - (mx + mn) / 2), c->cfg.balance_gap_pct);
    if (!(mx > t + w + 1e-6 || mn < t - w - 1e-6))
        return false;
    double mem = 0;
    for (size_t v = 0; v < s->n_vms; v++)
        if (s->vms[v].host == hmin)
            mem += s->vms[v].mem_mib;
    for (size_t v = 0; v < s->n_vms; v++) {
        const struct snap_vm *vm = &s->vms[v];
        if (vm->host != hmax || !vm_may_move(c, vm))
            continue;
        double cs = vm->cpu_cores / s->hosts[hmax].cpus * 100;
        double cd = vm->cpu_cores / s->hosts[hmin].cpus * 100;
        if (cs > 1e-6 && fabs((mx - cs) - (mn + cd)) < mx - mn - 1e-6 &&
            mem + vm->mem_mib <= s->hosts[hmin].mem_mib)
            return true;
    }
    return false;
}

/* Th2 with an empty managed host: U < f x (C - its capacity), above the host floor, the other
 * active hosts at or below th1 - dead band on average, and the host on for long enough. */
static bool th2_has_empty_host(const struct cluster *c)
{
    const struct model_snapshot *s = &c->snap;
    double used = 0, cap = 0, act_used = 0, act_cap = 0;
    size_t n_on = 0, vms_on[64] = { 0 };
    for (size_t v = 0; v < s->n_vms; v++)
        vms_on[s->vms[v].host]++;
    for (size_t i = 0; i < s->n_hosts; i++) {
        if (s->hosts[i].state == POWER_STATE_ON && s->hosts[i].cpus > 0) {
            n_on++;
            act_used += s->hosts[i].load_pct / 100 * s->hosts[i].cpus;
            act_cap += s->hosts[i].cpus;
        }
        if (managed(&s->hosts[i])) {
            used += s->hosts[i].load_pct / 100 * s->hosts[i].cpus;
            cap += s->hosts[i].cpus;
        }
    }
    size_t floor_hosts = s->min_active_hosts > 1 ? s->min_active_hosts : 1;
    if (n_on <= floor_hosts)
        return false;
    for (size_t i = 0; i < s->n_hosts; i++)
        if (managed(&s->hosts[i]) && vms_on[i] == 0 && !s->hosts[i].receiving &&
            !on_too_briefly(c, &s->hosts[i]) &&
            used < c->cfg.th2_factor * (cap - s->hosts[i].cpus) - 1e-6 &&
            act_cap - s->hosts[i].cpus > 0 &&
            (act_used - s->hosts[i].load_pct / 100 * s->hosts[i].cpus) /
                    (act_cap - s->hosts[i].cpus) * 100 <=
                c->cfg.th1_pct - c->cfg.th2_dead_band_pct - 1e-6)
            return true;
    return false;
}

/* Peak: expected load does not fit under Th1 on active + waking capacity, and some host that
 * has been off long enough may be woken. */
static bool peak_has_work(const struct cluster *c)
{
    const struct model_snapshot *s = &c->snap;
    double cap = 0;
    bool cand = false;
    for (size_t i = 0; i < s->n_hosts; i++) {
        const struct snap_host *h = &s->hosts[i];
        if ((h->state == POWER_STATE_ON || h->state == POWER_STATE_WAKING) && h->cpus > 0)
            cap += h->cpus;
        cand |= h->state == POWER_STATE_OFF && !h->excluded && h->cpus > 0 &&
                (h->off_since_ns == SNAP_NEVER ||
                 s->now_ns - h->off_since_ns >= c->cfg.host_min_off_ns);
    }
    return s->expected_load_cores > 0 &&
           cap < s->expected_load_cores / (c->cfg.th1_pct / 100) - 1e-6 && cand;
}

static void run(const struct cluster *c, struct plan *p)
{
    struct joule_err err = { 0 };
    plan_init(p);
    int rc = policy_run(&c->cfg, &c->snap, p, &err);
    if (rc < 0)
        fail_msg("policy_run: %s", err.msg);
}

static void random_clusters_keep_every_rule(void **state)
{
    struct rng r = { 20261127 };
    static struct snap_host hosts[64];
    static struct snap_vm vms[512];
    struct cluster *c = calloc(1, sizeof *c);
    size_t n_moves = 0, n_off = 0, n_on = 0, n_balance_checked = 0, n_progress = 0;
    size_t n_peak = 0, n_th2 = 0, n_bands = 0;
    for (int k = 0; k < N_CLUSTERS; k++) {
        gen(&r, c, hosts, vms);
        struct plan p, q;
        run(c, &p);
        struct replay rp;
        replay_plan(c, &p, &rp);
        /* Deterministic: byte-identical on a second run. */
        run(c, &q);
        assert_int_equal(p.n, q.n);
        if (p.n)
            assert_memory_equal(p.actions, q.actions, p.n * sizeof *p.actions);
        n_moves += rp.moves;
        n_off += rp.n_off_actions;
        n_on += rp.n_on_actions;
        bool wakeable;
        bool th1 = th1_fires(c, &wakeable);
        if (th1 && wakeable)
            assert_true(plan_count(&p, PLAN_ACTION_POWER_ON) >= 1);
        if (th1 && !wakeable)
            assert_true(plan_count(&p, PLAN_ACTION_ALERT) >= 1);
        bool peak = peak_has_work(c);
        if (peak) {
            bool peak_wake = false;
            for (size_t i = 0; i < p.n; i++) /* Th1's wake may have covered it */
                peak_wake |= p.actions[i].reason == PLAN_REASON_PEAK_WAKE ||
                             p.actions[i].reason == PLAN_REASON_TH1_WAKE;
            assert_true(peak_wake);
            n_peak++;
        }
        if (c->snap.consolidation_allowed && plan_count(&p, PLAN_ACTION_POWER_ON) == 0 &&
            th2_has_empty_host(c)) {
            assert_true(plan_count(&p, PLAN_ACTION_POWER_OFF) >= 1);
            n_th2++;
        }
        plan_free(&p);
        plan_free(&q);

        /* Balance alone (no consolidation): never widens max - min; progress when a VM
         * qualifies. */
        if (c->cfg.balance == POLICY_BALANCE_DIFFERENCING) {
            bool allowed = c->snap.consolidation_allowed;
            c->snap.consolidation_allowed = false;
            run(c, &p);
            replay_plan(c, &p, &rp);
            double mx0, mn0, mx1, mn1;
            int a, b;
            double load0[64];
            for (size_t i = 0; i < c->snap.n_hosts; i++)
                load0[i] = c->snap.hosts[i].load_pct;
            spread(c, load0, &mx0, &mn0, &a, &b);
            spread(c, rp.load, &mx1, &mn1, &a, &b);
            if (a >= 0)
                assert_true(mx1 - mn1 <= mx0 - mn0 + EPS);
            if (balance_has_work(c) && c->cfg.max_moves_per_round > 0) {
                assert_true(plan_count(&p, PLAN_ACTION_MIGRATE) >= 1);
                n_progress++;
            }
            n_balance_checked++;
            plan_free(&p);
            c->snap.consolidation_allowed = allowed;
        }
        if (c->cfg.balance == POLICY_BALANCE_BANDS && c->cfg.max_moves_per_round > 0) {
            bool allowed = c->snap.consolidation_allowed;
            c->snap.consolidation_allowed = false;
            if (bands_has_work(c)) {
                run(c, &p);
                replay_plan(c, &p, &rp);
                assert_true(plan_count(&p, PLAN_ACTION_MIGRATE) >= 1);
                n_bands++;
                plan_free(&p);
            }
            c->snap.consolidation_allowed = allowed;
        }
    }
    free(c);
    printf("clusters %d: moves %zu, power-offs %zu, power-ons %zu, balance checked %zu "
           "(progress %zu), progress checked: peak %zu, th2 %zu, bands %zu\n", N_CLUSTERS,
           n_moves, n_off, n_on, n_balance_checked, n_progress, n_peak, n_th2, n_bands);
    /* The generator must exercise every rule, or the properties prove little. */
    assert_true(n_moves > 100 && n_off > 50 && n_on > 50 && n_progress > 50);
    assert_true(n_peak > 20 && n_th2 > 50 && n_bands > 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_clusters_keep_every_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

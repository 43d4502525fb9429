/* consolidate.c - Th2: with N active hosts, U = CPU in use on all of them and C' = capacity of
 * all but the host to empty; while U < th2_factor x C', empty the lowest-loaded host (largest
 * VM first, best fit, no destination above the placement target, memory always fits) and power
 * it off. A host whose VMs cannot all be placed (or may not move) is left alone and the next
 * lowest-loaded one is tried. Only hosts that are ON and not excluded take part.
 * No ping-pong with Th1 (issue 10 item 3): a host is emptied only if the active hosts that stay
 * on then average at most th1_pct - th2_dead_band_pct (the average Th1 looks at, so a Th1 wake
 * needs the load to grow by the dead band first), and a host that came on less than
 * host_min_on_ns ago is not emptied at all. */
#include <stdlib.h>

#include "policy_priv.h"
#include "util/xalloc.h"

/* A min-heap of (load, host) with lazy deletion: an entry whose load is no longer the host's
 * current load is stale and skipped. */
struct heap_ent {
    double load;
    int host;
};

struct heap {
    struct heap_ent *e;
    size_t n;
    size_t cap;
};

static bool ent_less(const struct heap_ent *a, const struct heap_ent *b)
{
    if (a->load < b->load - POLICY_LOAD_EPS_PCT)
        return true;
    if (a->load > b->load + POLICY_LOAD_EPS_PCT)
        return false;
    return a->host < b->host;
}

static void heap_push(struct heap *hp, double load, int host)
{
    xgrow((void **)&hp->e, &hp->cap, hp->n + 1, sizeof *hp->e);
    size_t i = hp->n++;
    hp->e[i] = (struct heap_ent){ load, host };
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ent_less(&hp->e[i], &hp->e[p]))
            break;
        struct heap_ent t = hp->e[p];
        hp->e[p] = hp->e[i];
        hp->e[i] = t;
        i = p;
    }
}

static bool heap_pop(struct heap *hp, struct heap_ent *out)
{
    if (hp->n == 0)
        return false;
    *out = hp->e[0];
    hp->e[0] = hp->e[--hp->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, rr = l + 1, m = i;
        if (l < hp->n && ent_less(&hp->e[l], &hp->e[m]))
            m = l;
        if (rr < hp->n && ent_less(&hp->e[rr], &hp->e[m]))
            m = rr;
        if (m == i)
            break;
        struct heap_ent t = hp->e[m];
        hp->e[m] = hp->e[i];
        hp->e[i] = t;
        i = m;
    }
    return true;
}

struct vm_key {
    double cores;
    int vm;
};

/* Largest VM first; ties by VM index (unique). */
static int vm_key_cmp(const void *a, const void *b)
{
    const struct vm_key *x = a, *y = b;
    if (x->cores > y->cores + POLICY_CORES_EPS)
        return -1;
    if (x->cores < y->cores - POLICY_CORES_EPS)
        return 1;
    return (x->vm > y->vm) - (x->vm < y->vm);
}

/* Best fit: the managed host (not `src`) with the least headroom left under the placement
 * target after taking VM v, whose memory fits. -1 if none. */
static int best_fit(const struct pol_round *r, int v, int src)
{
    const struct model_snapshot *s = r->snap;
    double target = r->cfg->placement_target_pct;
    int best = -1;
    double best_left = 0;
    for (size_t i = 0; i < r->nh; i++) {
        int h = (int)i;
        if (h == src || !pol_host_managed(r, h) || !pol_vm_mem_fits(r, v, h))
            continue;
        double after = r->load_pct[h] + pol_vm_pct_on(r, v, h);
        if (after > target + POLICY_LOAD_EPS_PCT)
            continue;
        double left = (target - after) / 100.0 * s->hosts[h].cpus;
        if (best < 0 || left < best_left - POLICY_CORES_EPS) {
            best = h;
            best_left = left;
        }
    }
    return best;
}

/* The last VM that fitted nowhere (tried first, on the unchanged state): any VM at least as
 * large in cores and memory fits nowhere either, except perhaps on that VM's own host. Valid
 * until the state changes (a host is emptied). Keeps repeated failures O(1). */
struct fail_memo {
    bool valid;
    double cores;
    double mem_mib;
    int src;
};

struct trial {
    struct fail_memo memo;
    struct vm_key *vms;
    int *dest;
    double *dest_load; /* destination load before the move */
    double *dest_mem;
    size_t n;
};

/* Tries to place every VM of host c; on success leaves dest[] filled. The round's state is
 * restored exactly either way. */
static bool try_empty(struct pol_round *r, int c, struct trial *t)
{
    size_t n = r->n_vms[c];
    if (n > pol_moves_left(r))
        return false;
    t->n = 0;
    for (int v = r->first[c]; v >= 0; v = r->next[v]) {
        if (!pol_vm_movable(r, v))
            return false;
        t->vms[t->n++] = (struct vm_key){ r->snap->vms[v].cpu_cores, v };
    }
    qsort(t->vms, t->n, sizeof *t->vms, vm_key_cmp);
    double c_load = r->load_pct[c], c_mem = r->mem_used_mib[c];
    const struct fail_memo *m = &t->memo;
    const struct snap_vm *first = t->n > 0 ? &r->snap->vms[t->vms[0].vm] : NULL;
    if (first && m->valid && m->src != c && first->cpu_cores >= m->cores - POLICY_CORES_EPS &&
        first->mem_mib >= m->mem_mib - POLICY_MEM_EPS_MIB) {
        bool src_fits = pol_host_managed(r, m->src) && pol_vm_mem_fits(r, t->vms[0].vm, m->src) &&
                        r->load_pct[m->src] + pol_vm_pct_on(r, t->vms[0].vm, m->src) <=
                            r->cfg->placement_target_pct + POLICY_LOAD_EPS_PCT;
        if (!src_fits)
            return false;
    }
    size_t placed = 0;
    bool ok = true;
    for (; placed < t->n; placed++) {
        int v = t->vms[placed].vm, d = best_fit(r, v, c);
        if (d < 0) {
            if (placed == 0)
                t->memo = (struct fail_memo){ true, r->snap->vms[v].cpu_cores,
                                              r->snap->vms[v].mem_mib, c };
            ok = false;
            break;
        }
        t->dest[placed] = d;
        t->dest_load[placed] = r->load_pct[d];
        t->dest_mem[placed] = r->mem_used_mib[d];
        pol_apply_move(r, v, d);
    }
    while (placed-- > 0) {
        int v = t->vms[placed].vm, d = t->dest[placed];
        pol_apply_move(r, v, c);
        r->load_pct[d] = t->dest_load[placed];
        r->mem_used_mib[d] = t->dest_mem[placed];
    }
    r->load_pct[c] = c_load;
    r->mem_used_mib[c] = c_mem;
    return ok;
}

size_t policy_consolidate(struct pol_round *r)
{
    const struct model_snapshot *s = r->snap;
    const struct policy_cfg *cfg = r->cfg;
    struct heap hp = { 0 };
    size_t n_active = 0, n_managed = 0, max_vms = 0, powered_off = 0;
    double used = 0, cap = 0;
    /* what Th1 averages: every active host, excluded or unreachable ones included */
    double act_used = 0, act_cap = 0;
    double band_pct = cfg->th1_pct - cfg->th2_dead_band_pct;
    for (size_t i = 0; i < r->nh; i++) {
        int h = (int)i;
        if (r->role[h] == POL_HOST_ACTIVE) {
            n_active++;
            act_used += r->load_pct[h] / 100.0 * s->hosts[h].cpus;
            act_cap += s->hosts[h].cpus;
        }
        if (!pol_host_managed(r, h))
            continue;
        n_managed++;
        used += r->load_pct[h] / 100.0 * s->hosts[h].cpus;
        cap += s->hosts[h].cpus;
        if (r->n_vms[h] > max_vms)
            max_vms = r->n_vms[h];
        heap_push(&hp, r->load_pct[h], h);
    }
    size_t floor_hosts = s->min_active_hosts > 1 ? s->min_active_hosts : 1;
    struct trial t = {
        .vms = xcalloc(max_vms + 1, sizeof *t.vms),
        .dest = xcalloc(max_vms + 1, sizeof *t.dest),
        .dest_load = xcalloc(max_vms + 1, sizeof *t.dest_load),
        .dest_mem = xcalloc(max_vms + 1, sizeof *t.dest_mem),
    };
    struct heap_ent e;
    while (n_active > floor_hosts && n_managed > 1 && heap_pop(&hp, &e)) {
        int c = e.host;
        if (!pol_host_managed(r, c) || e.load != r->load_pct[c])
            continue; /* stale entry */
        if (s->hosts[c].receiving)
            continue; /* never power off a host that is receiving a VM */
        if (s->hosts[c].on_since_ns != SNAP_NEVER &&
            pol_elapsed_ns(s->now_ns, s->hosts[c].on_since_ns) < (uint64_t)cfg->host_min_on_ns)
            continue; /* came on too recently: Th1 woke it for a reason */
        double c_cap = s->hosts[c].cpus, th2 = cfg->th2_factor * (cap - c_cap);
        if (!(used < th2 - POLICY_CORES_EPS))
            continue;
        double c_vm_cores = 0;
        for (int v = r->first[c]; v >= 0; v = r->next[v])
            c_vm_cores += s->vms[v].cpu_cores;
        double rest_cap = act_cap - c_cap;
        double rest_pct = rest_cap > POLICY_CORES_EPS
                              ? (act_used - r->load_pct[c] / 100.0 * c_cap + c_vm_cores) /
                                    rest_cap * 100.0
                              : 100.0;
        if (rest_pct > band_pct + POLICY_LOAD_EPS_PCT)
            continue; /* the others would end up inside the dead band below Th1 */
        if (!try_empty(r, c, &t))
            continue;
        double c_load = r->load_pct[c], moved_cores = 0;
        for (size_t i = 0; i < t.n; i++) {
            int v = t.vms[i].vm, d = t.dest[i];
            moved_cores += s->vms[v].cpu_cores;
            pol_plan_move(r, v, d, PLAN_REASON_TH2_CONSOLIDATE,
                          "th2: U %.2f < %.2f x C' %.2f cores: empty %s", used, cfg->th2_factor,
                          cap - c_cap, s->hosts[c].name ? s->hosts[c].name : "?");
            heap_push(&hp, r->load_pct[d], d);
        }
        pol_plan_power_off(r, c, PLAN_REASON_TH2_CONSOLIDATE,
                           "th2: U %.2f < %.2f x C' %.2f cores, host emptied (%.1f%% load), "
                           "rest at %.1f%% <= %.1f%%",
                           used, cfg->th2_factor, cap - c_cap, c_load, rest_pct, band_pct);
        t.memo.valid = false; /* the state changed */
        powered_off++;
        n_active--;
        n_managed--;
        /* Its VMs' cores moved to the others; the rest of its measured load goes with it. */
        used += moved_cores - c_load / 100.0 * c_cap;
        cap -= c_cap;
        act_used += moved_cores - c_load / 100.0 * c_cap;
        act_cap -= c_cap;
    }
    free(t.vms);
    free(t.dest);
    free(t.dest_load);
    free(t.dest_mem);
    free(hp.e);
    return powered_off;
}

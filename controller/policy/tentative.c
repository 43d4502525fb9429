#include "tentative.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

double tent_power(const struct snap_host *h, double u)
{
    if (u < 0)
        u = 0;
    if (u > 1)
        u = 1;
    if (!h->has_power_curve)
        return h->idle_w + (h->max_w - h->idle_w) * u;
    /* PowerModelSpecPower.getPower, operation for operation. */
    if (fmod(u, 0.1) == 0)
        return h->power_curve_w[(int)(u * 10)];
    int u1 = (int)floor(u * 10);
    int u2 = (int)ceil(u * 10);
    double p1 = h->power_curve_w[u1];
    double p2 = h->power_curve_w[u2];
    double delta = (p2 - p1) / 10;
    return p1 + delta * (u - (double)u1 / 10) * 100;
}

static double vm_demand(const struct tentative *t, int vm) { return t->demand[vm]; }

void tent_recompute(struct tentative *t, int hi)
{
    struct tent_host *h = &t->hosts[hi];
    const struct snap_vm *vms = t->snap->vms;
    h->sum_req = 0;
    h->sum_capped = 0;
    h->mem_used = 0;
    h->max_mem = 0;
    memset(h->hist, 0, sizeof h->hist);
    for (size_t i = 0; i < h->n; i++) {
        int v = h->vms[i];
        double req = vm_demand(t, v), res = t->alloc[v];
        h->sum_req += req;
        h->sum_capped += res > h->pe ? h->pe : res;
        h->mem_used += vms[v].mem_mib;
        if (vms[v].mem_mib > h->max_mem)
            h->max_mem = vms[v].mem_mib;
        size_t nh = vms[v].n_history < TENT_HIST ? vms[v].n_history : TENT_HIST;
        for (size_t k = 0; k < nh; k++)
            h->hist[k] += vms[v].demand_history[k] / h->total;
    }
    if (h->sum_capped <= h->total) {
        h->used = h->sum_capped;
    } else {
        double scale = h->total / h->sum_capped;
        h->used = 0;
        for (size_t i = 0; i < h->n; i++) {
            double res = t->alloc[h->vms[i]];
            double capped = res > h->pe ? h->pe : res;
            h->used += floor(capped * scale);
        }
    }
    h->hist_len = TENT_HIST;
    while (h->hist_len > 0 && h->hist[h->hist_len - 1] == 0)
        h->hist_len--;
}

void tent_add(struct tentative *t, int hi, int vm)
{
    struct tent_host *h = &t->hosts[hi];
    xgrow((void **)&h->vms, &h->cap, h->n + 1, sizeof *h->vms);
    h->vms[h->n++] = vm;
    tent_recompute(t, hi);
}

void tent_remove(struct tentative *t, int hi, int vm)
{
    struct tent_host *h = &t->hosts[hi];
    for (size_t i = 0; i < h->n; i++) {
        if (h->vms[i] == vm) {
            memmove(&h->vms[i], &h->vms[i + 1], (h->n - i - 1) * sizeof *h->vms);
            h->n--;
            tent_recompute(t, hi);
            return;
        }
    }
}

struct seq_key {
    int host;
    uint64_t seq;
    int vm;
};

static int seq_cmp(const void *a, const void *b)
{
    const struct seq_key *x = a, *y = b;
    if (x->host != y->host)
        return x->host < y->host ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (x->vm > y->vm) - (x->vm < y->vm);
}

void tent_init(struct tentative *t, const struct model_snapshot *snap, const double *demand)
{
    memset(t, 0, sizeof *t);
    t->snap = snap;
    t->n_hosts = snap->n_hosts;
    t->hosts = xcalloc(snap->n_hosts ? snap->n_hosts : 1, sizeof *t->hosts);
    t->demand = xcalloc(snap->n_vms ? snap->n_vms : 1, sizeof *t->demand);
    t->alloc = xcalloc(snap->n_vms ? snap->n_vms : 1, sizeof *t->alloc);
    for (size_t v = 0; v < snap->n_vms; v++)
        t->alloc[v] = t->demand[v] = demand ? demand[v] : snap->vms[v].cpu_cores;
    for (size_t i = 0; i < snap->n_hosts; i++) {
        const struct snap_host *sh = &snap->hosts[i];
        struct tent_host *h = &t->hosts[i];
        h->total = sh->cpus > 0 ? sh->cpus : 1;
        h->pe = sh->pe_cpus > 0 ? sh->pe_cpus : h->total;
        /* used_cpus if the snapshot has it (replay), else the measured load (jouled) */
        h->pre_util = sh->used_cpus > 0 ? sh->used_cpus / h->total : sh->load_pct / 100.0;
        if (h->pre_util > 1 && h->pre_util < 1.01)
            h->pre_util = 1;
        h->off = h->pre_util <= 0;
        h->base_w = tent_power(sh, h->pre_util);
    }
    struct seq_key *keys = xcalloc(snap->n_vms ? snap->n_vms : 1, sizeof *keys);
    size_t nk = 0;
    for (size_t v = 0; v < snap->n_vms; v++) {
        if (snap->vms[v].host < 0 || (size_t)snap->vms[v].host >= snap->n_hosts)
            continue;
        keys[nk++] = (struct seq_key){ snap->vms[v].host, snap->vms[v].host_seq, (int)v };
    }
    qsort(keys, nk, sizeof *keys, seq_cmp);
    for (size_t k = 0; k < nk; k++) {
        struct tent_host *h = &t->hosts[keys[k].host];
        xgrow((void **)&h->vms, &h->cap, h->n + 1, sizeof *h->vms);
        h->vms[h->n++] = keys[k].vm;
    }
    free(keys);
    for (size_t i = 0; i < snap->n_hosts; i++)
        tent_recompute(t, (int)i);
}

void tent_free(struct tentative *t)
{
    for (size_t i = 0; i < t->n_hosts; i++)
        free(t->hosts[i].vms);
    free(t->hosts);
    free(t->demand);
    free(t->alloc);
    memset(t, 0, sizeof *t);
}

bool tent_suitable(const struct tentative *t, int hi, int vm)
{
    const struct tent_host *h = &t->hosts[hi];
    const struct snap_host *sh = &t->snap->hosts[hi];
    double req = t->demand[vm];
    double avail = h->sum_capped <= h->total ? h->total - h->sum_capped : 0;
    if (h->pe < req || avail < req)
        return false;
    if (t->limits_unplaced_only && t->snap->vms[vm].host >= 0)
        return true;
    if (sh->mem_mib > 0 && h->mem_used + t->snap->vms[vm].mem_mib > sh->mem_mib)
        return false;
    if (sh->max_vms > 0 && h->n + 1 > sh->max_vms)
        return false;
    return true;
}

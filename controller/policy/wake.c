/* wake.c - Th1 wake-up, peak pre-wake and the minimum of active hosts.
 * A waking host counts as capacity on its way: no second Th1 wake while one is pending unless
 * the load still exceeds Th1 with the pending capacity counted. */
#include <stdlib.h>

#include "policy_priv.h"
#include "util/xalloc.h"

struct wake_cand {
    int priority;
    double idle_w;
    int host;
};

/* Config priority, then lowest idle watts, then host index (unique: total order). */
static int cand_cmp(const void *a, const void *b)
{
    const struct wake_cand *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    if (x->idle_w < y->idle_w - POLICY_LOAD_EPS_PCT)
        return -1;
    if (x->idle_w > y->idle_w + POLICY_LOAD_EPS_PCT)
        return 1;
    return (x->host > y->host) - (x->host < y->host);
}

struct wake_ctx {
    struct wake_cand *cand;
    size_t n;
    double used_cores;   /* load of the active hosts */
    double active_cores; /* capacity of the active hosts */
    double waking_cores; /* capacity on its way (WAKING, or woken in this round) */
    size_t n_active;
    size_t n_waking;
    size_t pos[2]; /* per mode: candidates before it are woken or not eligible in this round */
};

/* Next candidate in order that is still off; `respect_min_off` skips hosts powered off less
 * than host_min_off_ns ago (only Th1 may wake those). -1 if none. */
static int next_cand(struct pol_round *r, struct wake_ctx *w, bool respect_min_off)
{
    const struct model_snapshot *s = r->snap;
    size_t *pos = &w->pos[respect_min_off];
    for (; *pos < w->n; (*pos)++) {
        int h = w->cand[*pos].host;
        if (!pol_host_wakeable(r, h))
            continue;
        int64_t off = s->hosts[h].off_since_ns;
        if (respect_min_off && off != SNAP_NEVER &&
            pol_elapsed_ns(s->now_ns, off) < (uint64_t)r->cfg->host_min_off_ns)
            continue;
        return h;
    }
    return -1;
}

static bool any_wakeable(struct pol_round *r, struct wake_ctx *w)
{
    for (size_t i = 0; i < w->n; i++)
        if (pol_host_wakeable(r, w->cand[i].host))
            return true;
    return false;
}

static void woke(struct pol_round *r, struct wake_ctx *w, int h)
{
    w->waking_cores += r->snap->hosts[h].cpus;
    w->n_waking++;
}

static void th1(struct pol_round *r, struct wake_ctx *w)
{
    double th1 = r->cfg->th1_pct;
    if (!(w->active_cores > POLICY_CORES_EPS))
        return;
    double avg = w->used_cores / w->active_cores * 100.0;
    if (avg <= th1 + POLICY_LOAD_EPS_PCT)
        return;
    double with_pending = w->used_cores / (w->active_cores + w->waking_cores) * 100.0;
    if (w->n_waking > 0 && with_pending <= th1 + POLICY_LOAD_EPS_PCT)
        return; /* the pending wake is enough */
    int h = next_cand(r, w, false);
    if (h < 0) {
        pol_plan_alert(r, -1, PLAN_REASON_NO_CAPACITY,
                       "no capacity: avg load %.1f%% > th1 %.1f%% on %zu active hosts, no host "
                       "left to wake",
                       with_pending, th1, w->n_active);
        return;
    }
    pol_plan_power_on(r, h, PLAN_REASON_TH1_WAKE,
                      "avg load %.1f%% > th1 %.1f%% on %zu active hosts (%zu waking)", with_pending,
                      th1, w->n_active, w->n_waking);
    woke(r, w, h);
}

static void peak(struct pol_round *r, struct wake_ctx *w)
{
    double expected = r->snap->expected_load_cores;
    if (!(expected > POLICY_CORES_EPS))
        return;
    double need = expected / (r->cfg->th1_pct / 100.0);
    while (w->active_cores + w->waking_cores < need - POLICY_CORES_EPS) {
        int h = next_cand(r, w, true);
        if (h < 0) {
            if (!any_wakeable(r, w))
                pol_plan_alert(r, -1, PLAN_REASON_NO_CAPACITY,
                               "no capacity for peak: %.1f cores expected need %.1f, have %.1f",
                               expected, need, w->active_cores + w->waking_cores);
            return;
        }
        pol_plan_power_on(r, h, PLAN_REASON_PEAK_WAKE,
                          "peak: %.1f cores expected need %.1f under th1, have %.1f", expected,
                          need, w->active_cores + w->waking_cores);
        woke(r, w, h);
    }
}

static void min_hosts(struct pol_round *r, struct wake_ctx *w)
{
    size_t min = r->snap->min_active_hosts;
    while (w->n_active + w->n_waking < min) {
        int h = next_cand(r, w, true);
        if (h < 0) {
            if (!any_wakeable(r, w))
                pol_plan_alert(r, -1, PLAN_REASON_NO_CAPACITY,
                               "no capacity: %zu active + %zu waking hosts < minimum %zu",
                               w->n_active, w->n_waking, min);
            return;
        }
        pol_plan_power_on(r, h, PLAN_REASON_MIN_HOSTS,
                          "%zu active + %zu waking hosts < minimum %zu", w->n_active, w->n_waking,
                          min);
        woke(r, w, h);
    }
}

size_t policy_wake(struct pol_round *r)
{
    struct wake_ctx w = { .cand = xcalloc(r->nh + 1, sizeof *w.cand) };
    const struct model_snapshot *s = r->snap;
    for (size_t i = 0; i < r->nh; i++) {
        int h = (int)i;
        switch (r->role[h]) {
        case POL_HOST_ACTIVE:
            w.used_cores += r->load_pct[h] / 100.0 * s->hosts[h].cpus;
            w.active_cores += s->hosts[h].cpus;
            w.n_active++;
            break;
        case POL_HOST_WAKING:
            w.waking_cores += s->hosts[h].cpus;
            w.n_waking++;
            break;
        case POL_HOST_OFF:
            if (pol_host_wakeable(r, h))
                w.cand[w.n++] = (struct wake_cand){ s->hosts[h].priority, s->hosts[h].idle_w, h };
            break;
        case POL_HOST_OFF_PLANNED:
        case POL_HOST_OTHER:
        case POL_HOST_ROLE__COUNT: break;
        }
    }
    qsort(w.cand, w.n, sizeof *w.cand, cand_cmp);
    size_t before = r->woken;
    th1(r, &w);
    peak(r, &w);
    min_hosts(r, &w);
    free(w.cand);
    return r->woken - before;
}

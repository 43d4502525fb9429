/* balance.c - differencing balance (seed paper 003): d = hmax - hmin over the active hosts;
 * while d >= balance_gap_pct, move from hmax to hmin the VM whose load on hmax is the largest
 * not above d/2 (and not above d/2 on hmin either, so max - min never grows on heterogeneous
 * hosts); recompute and repeat; stop when d < gap, when no VM qualifies, or at the move cap. */
#include "policy_priv.h"

/* Managed hosts with the highest and lowest load (ties: lowest index). false if fewer than 2. */
bool pol_find_extremes(const struct pol_round *r, int *hmax, int *hmin)
{
    int mx = -1, mn = -1;
    for (size_t i = 0; i < r->nh; i++) {
        int h = (int)i;
        if (!pol_host_managed(r, h))
            continue;
        if (mx < 0 || r->load_pct[h] > r->load_pct[mx] + POLICY_LOAD_EPS_PCT)
            mx = h;
        if (mn < 0 || r->load_pct[h] < r->load_pct[mn] - POLICY_LOAD_EPS_PCT)
            mn = h;
    }
    if (mx < 0 || mn < 0 || mx == mn)
        return false;
    *hmax = mx;
    *hmin = mn;
    return true;
}

int pol_balance_pick(const struct pol_round *r, int hmax, int hmin)
{
    double d = r->load_pct[hmax] - r->load_pct[hmin], half = d / 2.0;
    int best = -1;
    double best_c = 0;
    for (int v = r->first[hmax]; v >= 0; v = r->next[v]) {
        if (!pol_vm_movable(r, v) || !pol_vm_mem_fits(r, v, hmin))
            continue;
        double c = pol_vm_pct_on(r, v, hmax), cd = pol_vm_pct_on(r, v, hmin);
        if (c <= POLICY_LOAD_EPS_PCT || c > half + POLICY_LOAD_EPS_PCT ||
            cd > half + POLICY_LOAD_EPS_PCT)
            continue;
        if (best < 0 || c > best_c + POLICY_LOAD_EPS_PCT ||
            (c >= best_c - POLICY_LOAD_EPS_PCT && v < best)) {
            best = v;
            best_c = c;
        }
    }
    return best;
}

size_t policy_balance(struct pol_round *r)
{
    size_t planned = 0;
    const struct model_snapshot *s = r->snap;
    int hmax, hmin;
    while (pol_moves_left(r) > 0 && pol_find_extremes(r, &hmax, &hmin)) {
        double d = r->load_pct[hmax] - r->load_pct[hmin];
        if (d < r->cfg->balance_gap_pct - POLICY_LOAD_EPS_PCT)
            break;
        int v = pol_balance_pick(r, hmax, hmin);
        if (v < 0)
            break;
        pol_plan_move(r, v, hmin, PLAN_REASON_BALANCE,
                      "d %.1f = %s %.1f%% - %s %.1f%% >= %.1f: VM %.1f%% <= d/2", d,
                      s->hosts[hmax].name ? s->hosts[hmax].name : "?", r->load_pct[hmax],
                      s->hosts[hmin].name ? s->hosts[hmin].name : "?", r->load_pct[hmin],
                      r->cfg->balance_gap_pct, pol_vm_pct_on(r, v, hmax));
        planned++;
    }
    return planned;
}

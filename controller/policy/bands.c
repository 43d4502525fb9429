/* bands.c - light/moderate/heavy band balance (seed paper 001). threshold T = average load of
 * the active hosts; the moderate band is T +- max(|T - (max + min) / 2|, balance_gap_pct); hosts
 * above it are heavy, below it light. Migration vector = T - the light host's load; move from the
 * heavy host the VM whose load is closest to the vector. Repeat (heaviest -> lightest) until all
 * hosts are moderate or no move helps (a move helps when it narrows the pair's gap). */
#include <math.h>

#include "policy_priv.h"

int pol_bands_pick(const struct pol_round *r, int heavy, int light, double vector_pct)
{
    double gap = r->load_pct[heavy] - r->load_pct[light];
    int best = -1;
    double best_dist = 0;
    for (int v = r->first[heavy]; v >= 0; v = r->next[v]) {
        if (!pol_vm_movable(r, v) || !pol_vm_mem_fits(r, v, light))
            continue;
        double c = pol_vm_pct_on(r, v, heavy), cd = pol_vm_pct_on(r, v, light);
        if (c <= POLICY_LOAD_EPS_PCT)
            continue;
        double after = (r->load_pct[heavy] - c) - (r->load_pct[light] + cd);
        if (!(fabs(after) < gap - POLICY_LOAD_EPS_PCT))
            continue; /* does not help */
        double dist = fabs(cd - vector_pct);
        if (best < 0 || dist < best_dist - POLICY_LOAD_EPS_PCT ||
            (dist <= best_dist + POLICY_LOAD_EPS_PCT && v < best)) {
            best = v;
            best_dist = dist;
        }
    }
    return best;
}

size_t policy_bands(struct pol_round *r)
{
    const struct model_snapshot *s = r->snap;
    size_t planned = 0;
    int hmax, hmin;
    while (pol_moves_left(r) > 0 && pol_find_extremes(r, &hmax, &hmin)) {
        double sum = 0;
        size_t n = 0;
        for (size_t i = 0; i < r->nh; i++)
            if (pol_host_managed(r, (int)i)) {
                sum += r->load_pct[i];
                n++;
            }
        double t = sum / (double)n, mid = (r->load_pct[hmax] + r->load_pct[hmin]) / 2.0;
        double w = fmax(fabs(t - mid), r->cfg->balance_gap_pct);
        bool heavy = r->load_pct[hmax] > t + w + POLICY_LOAD_EPS_PCT;
        bool light = r->load_pct[hmin] < t - w - POLICY_LOAD_EPS_PCT;
        if (!heavy && !light)
            break;
        double vector = t - r->load_pct[hmin];
        int v = pol_bands_pick(r, hmax, hmin, vector);
        if (v < 0)
            break;
        pol_plan_move(r, v, hmin, PLAN_REASON_BANDS,
                      "band %.1f..%.1f: %s %.1f%% %s, %s %.1f%% %s; vector %.1f, VM %.1f%%", t - w,
                      t + w, s->hosts[hmax].name ? s->hosts[hmax].name : "?", r->load_pct[hmax],
                      heavy ? "heavy" : "moderate", s->hosts[hmin].name ? s->hosts[hmin].name : "?",
                      r->load_pct[hmin], light ? "light" : "moderate", vector,
                      pol_vm_pct_on(r, v, hmin));
        planned++;
    }
    return planned;
}

/* meter/sim.c - meters derived from the sim_cluster's power model: one reading per host that
 * has a meter address in config, each poll. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "driver.h"
#include "sim_cluster.h"
#include "util/xalloc.h"

struct mt_sim {
    struct sim_cluster *sc;
    const struct clock *clock;
    size_t n;
    char **names;       /* config host names with a meter */
    int *cfg_index;
    uint64_t *ieee;
    int64_t last_ns;
    struct meter_stats stats;
};

static int mt_sim_create(const struct config *cfg, const struct drv_env *env, void **state,
                         struct joule_err *err)
{
    if (!env->sim)
        return joule_err_set(err, JOULE_EINVAL, "sim meter needs a sim cluster");
    struct mt_sim *s = xcalloc(1, sizeof *s);
    s->sc = env->sim;
    s->clock = env->clock;
    s->names = xcalloc(cfg->n_hosts + 1, sizeof *s->names);
    s->cfg_index = xcalloc(cfg->n_hosts + 1, sizeof *s->cfg_index);
    s->ieee = xcalloc(cfg->n_hosts + 1, sizeof *s->ieee);
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        if (!cfg->hosts[i].meter)
            continue;
        s->names[s->n] = xstrdup(cfg->hosts[i].name);
        s->cfg_index[s->n] = (int)i;
        s->ieee[s->n] = cfg->hosts[i].meter_ieee;
        s->n++;
    }
    s->last_ns = INT64_MIN;
    *state = s;
    return 0;
}

static int mt_sim_open(void *state, struct joule_err *err)
{
    (void)state;
    (void)err;
    return 0;
}

static int mt_sim_poll(void *state, struct meter_reading *out, size_t max, int timeout_ms,
                       struct joule_err *err)
{
    (void)timeout_ms;
    (void)err;
    struct mt_sim *s = state;
    int64_t now = clock_now_ns(s->clock);
    if (now == s->last_ns)
        return 0; /* one reading per meter per instant */
    s->last_ns = now;
    sim_cluster_update(s->sc);
    size_t k = 0;
    for (size_t i = 0; i < s->n && k < max; i++) {
        int h = sim_host_find(s->sc, s->names[i]);
        if (h < 0)
            continue;
        struct meter_reading *r = &out[k++];
        memset(r, 0, sizeof *r);
        r->ieee = s->ieee[i];
        r->host = s->cfg_index[i];
        r->t_ns = now;
        r->has_watts = true;
        r->watts = sim_host_watts(s->sc, h, now);
        r->has_energy = true;
        r->energy_kwh = s->sc->hosts[h].energy_j / 3.6e6;
        s->stats.frames_ok++;
    }
    return (int)k;
}

static void mt_sim_stats(void *state, struct meter_stats *out)
{
    *out = ((struct mt_sim *)state)->stats;
}

static void mt_sim_destroy(void *state)
{
    struct mt_sim *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->cfg_index);
    free(s->ieee);
    free(s);
}

const struct meter_ops meter_sim_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "sim",
    .create = mt_sim_create,
    .open = mt_sim_open,
    .poll = mt_sim_poll,
    .stats = mt_sim_stats,
    .destroy = mt_sim_destroy,
};

/* power/sim.c - power control of a sim_cluster host, with the host's boot/shutdown delays. */
#include <stdlib.h>

#include "driver.h"
#include "sim_cluster.h"
#include "util/xalloc.h"

struct pw_sim {
    struct sim_cluster *sc;
    char *name;
};

static int pw_sim_create(const struct config_host *host, const struct drv_env *env, void **state,
                         struct joule_err *err)
{
    if (!env->sim)
        return joule_err_set(err, JOULE_EINVAL, "host %s: sim power needs a sim cluster",
                             host->name);
    struct pw_sim *s = xcalloc(1, sizeof *s);
    s->sc = env->sim;
    s->name = xstrdup(host->name);
    *state = s;
    return 0;
}

static int find(struct pw_sim *s, struct joule_err *err)
{
    int h = sim_host_find(s->sc, s->name);
    return h < 0 ? joule_err_set(err, JOULE_ENOENT, "sim host %s does not exist", s->name) : h;
}

static int pw_sim_status(void *state, enum power_hw *out, struct joule_err *err)
{
    struct pw_sim *s = state;
    int h = find(s, err);
    if (h < 0)
        return h;
    sim_cluster_update(s->sc);
    switch (s->sc->hosts[h].power) {
    case SIM_POWER_ON:
    case SIM_POWER_SHUTTING_DOWN:
        *out = POWER_HW_ON; /* chassis power stays on until the OS has shut down */
        break;
    case SIM_POWER_BOOTING:
        *out = POWER_HW_ON;
        break;
    case SIM_POWER_OFF:
        *out = POWER_HW_OFF;
        break;
    }
    return 0;
}

static int pw_sim_on(void *state, struct joule_err *err)
{
    struct pw_sim *s = state;
    int h = find(s, err);
    return h < 0 ? h : sim_host_power_on(s->sc, h, err);
}

static int pw_sim_off(void *state, bool hard, struct joule_err *err)
{
    struct pw_sim *s = state;
    int h = find(s, err);
    return h < 0 ? h : sim_host_power_off(s->sc, h, hard, err);
}

static void pw_sim_destroy(void *state)
{
    struct pw_sim *s = state;
    if (!s)
        return;
    free(s->name);
    free(s);
}

const struct power_ops power_sim_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "sim",
    .create = pw_sim_create,
    .status = pw_sim_status,
    .on = pw_sim_on,
    .off = pw_sim_off,
    .destroy = pw_sim_destroy,
};

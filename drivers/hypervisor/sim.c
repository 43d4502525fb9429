/* hypervisor/sim.c - the hypervisor view of a sim_cluster host (tests, replay, demo). */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "driver.h"
#include "sim_cluster.h"
#include "util/xalloc.h"

struct hv_sim {
    struct sim_cluster *sc;
    const struct clock *clock;
    char *name;
    bool connected;
};

static int host_index(struct hv_sim *s, struct joule_err *err)
{
    int h = sim_host_find(s->sc, s->name);
    if (h < 0)
        return joule_err_set(err, JOULE_ENOENT, "sim host %s does not exist", s->name);
    return h;
}

static int hv_sim_create(const struct config_host *host, const struct drv_env *env, void **state,
                         struct joule_err *err)
{
    if (!env->sim)
        return joule_err_set(err, JOULE_EINVAL, "host %s: the sim hypervisor needs a sim cluster",
                             host->name);
    struct hv_sim *s = xcalloc(1, sizeof *s);
    s->sc = env->sim;
    s->clock = env->clock;
    s->name = xstrdup(host->name);
    *state = s;
    return 0;
}

static int hv_sim_connect(void *state, struct joule_err *err)
{
    struct hv_sim *s = state;
    int h = host_index(s, err);
    if (h < 0)
        return h;
    sim_cluster_update(s->sc);
    const struct sim_host *sh = &s->sc->hosts[h];
    if (!sh->reachable || sh->power != SIM_POWER_ON)
        return joule_err_set(err, JOULE_EUNAVAIL, "connect %s: host is not reachable", s->name);
    s->connected = true;
    return 0;
}

static bool hv_sim_alive(void *state)
{
    struct hv_sim *s = state;
    int h = sim_host_find(s->sc, s->name);
    if (h < 0 || !s->connected)
        return false;
    sim_cluster_update(s->sc);
    const struct sim_host *sh = &s->sc->hosts[h];
    if (!sh->reachable || sh->power != SIM_POWER_ON)
        s->connected = false; /* like a closed libvirt connection: needs a reconnect */
    return s->connected;
}

static int hv_sim_sample(void *state, struct hv_sample *out, struct joule_err *err)
{
    struct hv_sim *s = state;
    hv_sample_clear(out);
    if (!hv_sim_alive(s))
        return joule_err_set(err, JOULE_EUNAVAIL, "sample %s: not connected", s->name);
    int h = host_index(s, err);
    sim_cluster_update(s->sc);
    const struct sim_host *sh = &s->sc->hosts[h];
    out->t_ns = clock_now_ns(s->clock);
    out->mono_ns = clock_mono_ns(s->clock);
    out->cpus = sh->cpus;
    out->mhz = 2000;
    out->mem_kib = (uint64_t)sh->mem_mib * 1024;
    for (size_t i = 0; i < s->sc->n_vms; i++) {
        const struct sim_vm *v = &s->sc->vms[i];
        if (v->host != h)
            continue;
        struct hv_vm_sample *vs = hv_sample_add_vm(out);
        memcpy(vs->uuid, v->uuid, sizeof vs->uuid);
        vs->name = xstrdup(v->name);
        vs->state = HV_VM_RUNNING;
        vs->cpu_time_ns = (uint64_t)v->cpu_time_ns;
        vs->vcpus = v->vcpus;
        vs->mem_kib = (uint64_t)v->mem_mib * 1024;
    }
    return 0;
}

static int hv_sim_migrate(void *state, const char *vm_uuid, const struct hv_migrate_dest *dest,
                          const struct hv_migrate_opts *opts, struct hv_migrate_result *res,
                          struct joule_err *err)
{
    struct hv_sim *s = state;
    memset(res, 0, sizeof *res);
    res->downtime_ns = -1;
    res->start_ns = clock_now_ns(s->clock);
    int vm = sim_vm_find(s->sc, vm_uuid);
    int d = sim_host_find(s->sc, dest->name);
    int h = host_index(s, err);
    if (h < 0)
        return h;
    if (vm < 0 || s->sc->vms[vm].host != h)
        return joule_err_set(err, JOULE_ENOENT, "migrate %s: no such VM on %s", vm_uuid, s->name);
    if (d < 0)
        return joule_err_set(err, JOULE_ENOENT, "migrate %s: no sim host %s", vm_uuid, dest->name);
    const struct sim_host *dh = &s->sc->hosts[d];
    bool feasible = d != h && dh->power == SIM_POWER_ON && dh->reachable &&
                    !dh->refuse_migrations && s->sc->hosts[h].reachable &&
                    sim_host_mem_used_mib(s->sc, d) + s->sc->vms[vm].mem_mib <= dh->mem_mib;
    if (s->sc->migrate_blocks && feasible) { /* an infeasible one fails at once, below */
        /* copy the memory while the VM keeps running on its source, then switch over */
        int64_t dur = (int64_t)((double)s->sc->vms[vm].mem_mib / s->sc->migration_mibps * 1e9);
        bool too_long = opts && opts->timeout_ns > 0 && dur > opts->timeout_ns;
        int64_t wait = too_long ? opts->timeout_ns : dur;
        if (s->sc->migrate_wait)
            s->sc->migrate_wait(s->sc->migrate_wait_arg, clock_mono_ns(s->clock) + wait);
        else
            clock_sleep_until_ns(s->clock, clock_mono_ns(s->clock) + wait);
        if (too_long) {
            s->sc->migration_failures++;
            res->aborted = true;
            res->end_ns = clock_now_ns(s->clock);
            return joule_err_set(err, JOULE_ETIMEDOUT, "migrate %s to %s: aborted after %.0f s",
                                 vm_uuid, dest->name, (double)opts->timeout_ns / 1e9);
        }
        int rc = sim_vm_migrate(s->sc, vm, d, NULL, err);
        if (rc < 0)
            return rc;
        res->end_ns = clock_now_ns(s->clock);
        res->bytes = (uint64_t)s->sc->vms[vm].mem_mib * 1024 * 1024;
        return 0;
    }
    int64_t dur = 0;
    int rc = sim_vm_migrate(s->sc, vm, d, &dur, err);
    if (rc < 0)
        return rc;
    if (opts && opts->timeout_ns > 0 && dur > opts->timeout_ns) {
        /* would not converge in time: undo, as an aborted job leaves the VM on its source */
        s->sc->vms[vm].host = h;
        s->sc->migrations--;
        s->sc->migration_failures++;
        res->aborted = true;
        res->end_ns = res->start_ns + opts->timeout_ns;
        return joule_err_set(err, JOULE_ETIMEDOUT, "migrate %s to %s: aborted after %.0f s",
                             vm_uuid, dest->name, (double)opts->timeout_ns / 1e9);
    }
    res->end_ns = res->start_ns + dur;
    res->bytes = (uint64_t)s->sc->vms[vm].mem_mib * 1024 * 1024;
    return 0;
}

static void hv_sim_close(void *state) { ((struct hv_sim *)state)->connected = false; }

static void hv_sim_destroy(void *state)
{
    struct hv_sim *s = state;
    if (!s)
        return;
    free(s->name);
    free(s);
}

const struct hypervisor_ops hypervisor_sim_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "sim",
    .create = hv_sim_create,
    .connect = hv_sim_connect,
    .alive = hv_sim_alive,
    .sample = hv_sim_sample,
    .migrate = hv_sim_migrate,
    .close = hv_sim_close,
    .destroy = hv_sim_destroy,
    .thread_safe = false, /* all instances share one sim_cluster and the simulated clock */
};

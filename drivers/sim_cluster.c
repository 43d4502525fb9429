#include "sim_cluster.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "util/xalloc.h"

#define SIM_DEFAULT_MIGRATION_MIBPS 100.0
#define SIM_DEFAULT_BOOT_NS (120LL * 1000000000LL)
#define SIM_DEFAULT_SHUTDOWN_NS (30LL * 1000000000LL)
#define NS_PER_S 1e9

struct sim_cluster *sim_cluster_new(const struct clock *clock)
{
    struct sim_cluster *sc = xcalloc(1, sizeof *sc);
    sc->clock = clock;
    sc->migration_mibps = SIM_DEFAULT_MIGRATION_MIBPS;
    return sc;
}

void sim_cluster_free(struct sim_cluster *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->n_hosts; i++)
        free(sc->hosts[i].name);
    for (size_t i = 0; i < sc->n_vms; i++)
        free(sc->vms[i].name);
    free(sc->hosts);
    free(sc->vms);
    free(sc);
}

int sim_host_add(struct sim_cluster *sc, const char *name, double cpus, int64_t mem_mib,
                 double idle_w, double max_w)
{
    xgrow((void **)&sc->hosts, &sc->cap_hosts, sc->n_hosts + 1, sizeof *sc->hosts);
    struct sim_host *h = &sc->hosts[sc->n_hosts];
    memset(h, 0, sizeof *h);
    h->name = xstrdup(name);
    h->cpus = cpus;
    h->mem_mib = mem_mib;
    h->idle_w = idle_w;
    h->max_w = max_w;
    h->standby_w = 5;
    h->boot_ns = SIM_DEFAULT_BOOT_NS;
    h->shutdown_ns = SIM_DEFAULT_SHUTDOWN_NS;
    h->power = SIM_POWER_ON;
    h->reachable = true;
    h->energy_t_ns = clock_now_ns(sc->clock);
    return (int)sc->n_hosts++;
}

/* FNV-1a based, stable UUID text from a name (version-4 layout, not random). */
static void uuid_from_name(const char *name, char out[37])
{
    uint64_t h1 = 1469598103934665603ULL, h2 = 1099511628211ULL * 7;
    for (const char *p = name; *p; p++) {
        h1 = (h1 ^ (unsigned char)*p) * 1099511628211ULL;
        h2 = (h2 ^ (unsigned char)*p) * 1469598103934665603ULL;
    }
    snprintf(out, 37, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(h1 >> 32),
             (unsigned)(h1 >> 16) & 0xffff, (unsigned)h1 & 0xfff, (unsigned)(h2 >> 52) & 0xfff,
             (unsigned long long)(h2 & 0xffffffffffffULL));
}

int sim_vm_add(struct sim_cluster *sc, const char *name, const char *uuid, int host,
               unsigned vcpus, int64_t mem_mib, const struct sim_load *load)
{
    xgrow((void **)&sc->vms, &sc->cap_vms, sc->n_vms + 1, sizeof *sc->vms);
    struct sim_vm *v = &sc->vms[sc->n_vms];
    memset(v, 0, sizeof *v);
    v->name = xstrdup(name);
    if (uuid)
        snprintf(v->uuid, sizeof v->uuid, "%s", uuid);
    else
        uuid_from_name(name, v->uuid);
    v->host = host;
    v->vcpus = vcpus;
    v->mem_mib = mem_mib;
    v->load = *load;
    v->cpu_t_ns = clock_now_ns(sc->clock);
    return (int)sc->n_vms++;
}

int sim_host_find(const struct sim_cluster *sc, const char *name)
{
    for (size_t i = 0; i < sc->n_hosts; i++)
        if (strcmp(sc->hosts[i].name, name) == 0)
            return (int)i;
    return -1;
}

int sim_vm_find(const struct sim_cluster *sc, const char *uuid_or_name)
{
    for (size_t i = 0; i < sc->n_vms; i++)
        if (strcmp(sc->vms[i].uuid, uuid_or_name) == 0 || strcmp(sc->vms[i].name, uuid_or_name) == 0)
            return (int)i;
    return -1;
}

double sim_load_at(const struct sim_load *l, int64_t t_ns)
{
    double v = 0;
    switch (l->kind) {
    case SIM_LOAD_CONST:
        v = l->a;
        break;
    case SIM_LOAD_DAYNIGHT: {
        double period = l->period_ns > 0 ? (double)l->period_ns : 86400.0 * NS_PER_S;
        double x = (double)(t_ns - l->phase_ns) / period;
        v = l->a + l->b * (1.0 - cos(2.0 * M_PI * x)) / 2.0;
        break;
    }
    case SIM_LOAD_TRACE: {
        if (l->n_values == 0 || l->step_ns <= 0)
            break;
        double pos = (double)(t_ns - l->start_ns) / (double)l->step_ns;
        if (pos <= 0) {
            v = l->values[0];
        } else {
            size_t i = (size_t)pos;
            if (i + 1 >= l->n_values)
                v = l->values[l->n_values - 1];
            else
                v = l->values[i] + (l->values[i + 1] - l->values[i]) * (pos - (double)i);
        }
        break;
    }
    }
    if (v < 0)
        v = 0;
    if (v > 1)
        v = 1;
    return v;
}

static bool host_on(const struct sim_host *h) { return h->power == SIM_POWER_ON; }

static bool in_transition(const struct sim_host *h)
{
    return h->power == SIM_POWER_BOOTING || h->power == SIM_POWER_SHUTTING_DOWN;
}

static void finish_transition(struct sim_host *h)
{
    h->power = h->power == SIM_POWER_BOOTING ? SIM_POWER_ON : SIM_POWER_OFF;
}

double sim_vm_cores(const struct sim_cluster *sc, int vm, int64_t t_ns)
{
    const struct sim_vm *v = &sc->vms[vm];
    return sim_load_at(&v->load, t_ns) * v->vcpus;
}

static double demand_cores(const struct sim_cluster *sc, int host, int64_t t_ns)
{
    double sum = 0;
    for (size_t i = 0; i < sc->n_vms; i++)
        if (sc->vms[i].host == host)
            sum += sim_vm_cores(sc, (int)i, t_ns);
    return sum;
}

double sim_host_load_pct(const struct sim_cluster *sc, int host, int64_t t_ns)
{
    const struct sim_host *h = &sc->hosts[host];
    if (!host_on(h) || h->cpus <= 0)
        return 0;
    double pct = 100.0 * demand_cores(sc, host, t_ns) / h->cpus;
    return pct > 100 ? 100 : pct;
}

double sim_host_watts(const struct sim_cluster *sc, int host, int64_t t_ns)
{
    const struct sim_host *h = &sc->hosts[host];
    switch (h->power) {
    case SIM_POWER_OFF:
        return h->standby_w;
    case SIM_POWER_BOOTING:
    case SIM_POWER_SHUTTING_DOWN:
        return h->idle_w;
    case SIM_POWER_ON:
        break;
    }
    return h->idle_w + (h->max_w - h->idle_w) * sim_host_load_pct(sc, host, t_ns) / 100.0;
}

size_t sim_host_vm_count(const struct sim_cluster *sc, int host)
{
    size_t n = 0;
    for (size_t i = 0; i < sc->n_vms; i++)
        n += sc->vms[i].host == host;
    return n;
}

int64_t sim_host_mem_used_mib(const struct sim_cluster *sc, int host)
{
    int64_t m = 0;
    for (size_t i = 0; i < sc->n_vms; i++)
        if (sc->vms[i].host == host)
            m += sc->vms[i].mem_mib;
    return m;
}

/* Integrates energy (trapezoid over the step) and cpu time (demand at the midpoint) up to t. */
void sim_cluster_update(struct sim_cluster *sc)
{
    int64_t now = clock_now_ns(sc->clock);
    for (size_t i = 0; i < sc->n_hosts; i++) {
        struct sim_host *h = &sc->hosts[i];
        /* a transition that ends inside the step splits it in two */
        while (h->energy_t_ns < now) {
            bool ends = in_transition(h) && h->transition_end_ns < now;
            int64_t until = now;
            if (ends)
                until = h->transition_end_ns > h->energy_t_ns ? h->transition_end_ns : h->energy_t_ns;
            double w0 = sim_host_watts(sc, (int)i, h->energy_t_ns);
            double w1 = sim_host_watts(sc, (int)i, until);
            h->energy_j += (w0 + w1) / 2.0 * (double)(until - h->energy_t_ns) / NS_PER_S;
            h->energy_t_ns = until;
            if (!ends)
                break;
            finish_transition(h);
        }
        if (in_transition(h) && h->transition_end_ns <= now)
            finish_transition(h);
    }
    for (size_t i = 0; i < sc->n_vms; i++) {
        struct sim_vm *v = &sc->vms[i];
        if (now <= v->cpu_t_ns)
            continue;
        int64_t mid = v->cpu_t_ns + (now - v->cpu_t_ns) / 2;
        double cores = v->host >= 0 && host_on(&sc->hosts[v->host]) ? sim_vm_cores(sc, (int)i, mid) : 0;
        v->cpu_time_ns += cores * (double)(now - v->cpu_t_ns);
        v->cpu_t_ns = now;
    }
}

int sim_host_power_on(struct sim_cluster *sc, int host, struct joule_err *err)
{
    sim_cluster_update(sc);
    struct sim_host *h = &sc->hosts[host];
    if (h->power_fails)
        return 0; /* the request is lost: the caller must verify */
    if (h->power == SIM_POWER_ON || h->power == SIM_POWER_BOOTING)
        return 0;
    if (h->power == SIM_POWER_SHUTTING_DOWN)
        return joule_err_set(err, JOULE_EBUSY, "sim host %s is shutting down", h->name);
    h->power = h->boot_ns > 0 ? SIM_POWER_BOOTING : SIM_POWER_ON;
    h->transition_end_ns = clock_now_ns(sc->clock) + h->boot_ns;
    return 0;
}

int sim_host_power_off(struct sim_cluster *sc, int host, bool force, struct joule_err *err)
{
    sim_cluster_update(sc);
    struct sim_host *h = &sc->hosts[host];
    if (h->power_fails)
        return 0;
    if (h->power == SIM_POWER_OFF || h->power == SIM_POWER_SHUTTING_DOWN)
        return 0;
    if (sim_host_vm_count(sc, host) > 0) {
        if (!force)
            return joule_err_set(err, JOULE_EBUSY, "sim host %s still runs %zu VMs", h->name,
                                 sim_host_vm_count(sc, host));
        for (size_t i = 0; i < sc->n_vms; i++)
            if (sc->vms[i].host == host)
                sc->vms[i].host = -1; /* destroyed by the power cut */
    }
    h->power = h->shutdown_ns > 0 ? SIM_POWER_SHUTTING_DOWN : SIM_POWER_OFF;
    h->transition_end_ns = clock_now_ns(sc->clock) + h->shutdown_ns;
    return 0;
}

int sim_vm_migrate(struct sim_cluster *sc, int vm, int dest, int64_t *duration_ns,
                   struct joule_err *err)
{
    sim_cluster_update(sc);
    struct sim_vm *v = &sc->vms[vm];
    struct sim_host *d = &sc->hosts[dest];
    if (v->host < 0)
        return joule_err_set(err, JOULE_ENOENT, "sim vm %s is not running", v->name);
    struct sim_host *s = &sc->hosts[v->host];
    int rc = 0;
    if (v->host == dest)
        rc = joule_err_set(err, JOULE_EINVAL, "sim vm %s is already on %s", v->name, d->name);
    else if (!s->reachable)
        rc = joule_err_set(err, JOULE_EUNAVAIL, "sim host %s is unreachable", s->name);
    else if (!host_on(d) || !d->reachable)
        rc = joule_err_set(err, JOULE_EUNAVAIL, "migrate %s to %s: destination is not running",
                           v->name, d->name);
    else if (d->refuse_migrations)
        rc = joule_err_set(err, JOULE_EIO, "migrate %s to %s: destination refused the migration",
                           v->name, d->name);
    else if (sim_host_mem_used_mib(sc, dest) + v->mem_mib > d->mem_mib)
        rc = joule_err_set(err, JOULE_ENOSPC, "migrate %s to %s: not enough memory", v->name,
                           d->name);
    if (rc < 0) {
        sc->migration_failures++;
        return rc;
    }
    v->host = dest;
    v->cpu_time_ns = 0;
    sc->migrations++;
    if (duration_ns)
        *duration_ns = (int64_t)((double)v->mem_mib / sc->migration_mibps * NS_PER_S);
    return 0;
}

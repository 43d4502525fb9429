#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "util/xalloc.h"

const char *power_state_name(enum power_state s)
{
    switch (s) {
    case POWER_STATE_UNKNOWN: return "unknown";
    case POWER_STATE_ON: return "on";
    case POWER_STATE_DRAINING: return "draining";
    case POWER_STATE_POWERING_OFF: return "powering_off";
    case POWER_STATE_OFF: return "off";
    case POWER_STATE_WAKING: return "waking";
    case POWER_STATE__COUNT: break;
    }
    return "?";
}

void model_window_push(struct model_window *w, int64_t t_ns, double v)
{
    size_t idx = (w->head + w->n) % MODEL_WINDOW_MAX;
    if (w->n == MODEL_WINDOW_MAX) {
        w->head = (w->head + 1) % MODEL_WINDOW_MAX;
        idx = (w->head + w->n - 1) % MODEL_WINDOW_MAX;
    } else {
        w->n++;
    }
    w->v[idx] = v;
    w->t[idx] = t_ns;
}

double model_window_mean(const struct model_window *w, int64_t now_ns, int64_t window_ns,
                         double fallback)
{
    double sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++) {
        size_t idx = (w->head + i) % MODEL_WINDOW_MAX;
        if (w->t[idx] > now_ns - window_ns && w->t[idx] <= now_ns) {
            sum += w->v[idx];
            k++;
        }
    }
    return k ? sum / (double)k : fallback;
}

void model_window_reset(struct model_window *w) { w->head = w->n = 0; }

struct model *model_new(const struct config *cfg)
{
    struct model *m = xcalloc(1, sizeof *m);
    m->cfg = cfg;
    m->n_hosts = cfg->n_hosts;
    m->hosts = xcalloc(cfg->n_hosts + 1, sizeof *m->hosts);
    m->history_t_ns = SNAP_NEVER;
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        struct model_host *h = &m->hosts[i];
        h->name = xstrdup(cfg->hosts[i].name);
        h->cfg_index = (int)i;
        h->cpus = cfg->hosts[i].cpus;
        h->mem_mib = (double)cfg->hosts[i].memory_mib;
        h->state = POWER_STATE_UNKNOWN;
        h->off_since_ns = SNAP_NEVER;
        h->on_since_ns = SNAP_NEVER;
        h->meter_kwh = -1;
        h->meter_t_ns = SNAP_NEVER;
    }
    return m;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_hosts; i++)
        free(m->hosts[i].name);
    for (size_t i = 0; i < m->n_vms; i++)
        free(m->vms[i].name);
    free(m->hosts);
    free(m->vms);
    free(m);
}

void model_set_config(struct model *m, const struct config *cfg)
{
    m->cfg = cfg;
    for (size_t i = 0; i < m->n_hosts && i < cfg->n_hosts; i++) {
        if (cfg->hosts[i].cpus > 0)
            m->hosts[i].cpus = cfg->hosts[i].cpus;
        if (cfg->hosts[i].memory_mib > 0)
            m->hosts[i].mem_mib = (double)cfg->hosts[i].memory_mib;
    }
    for (size_t i = 0; i < m->n_vms; i++)
        m->vms[i].pinned = config_vm_pinned(cfg, m->vms[i].uuid) ||
                           (m->vms[i].name && config_vm_pinned(cfg, m->vms[i].name));
}

int model_host_find(const struct model *m, const char *name)
{
    for (size_t i = 0; i < m->n_hosts; i++)
        if (strcmp(m->hosts[i].name, name) == 0)
            return (int)i;
    return -1;
}

int model_vm_find(const struct model *m, const char *uuid)
{
    for (size_t i = 0; i < m->n_vms; i++)
        if (strcmp(m->vms[i].uuid, uuid) == 0)
            return (int)i;
    return -1;
}

static int vm_get(struct model *m, const struct hv_vm_sample *vs)
{
    int i = model_vm_find(m, vs->uuid);
    if (i >= 0)
        return i;
    xgrow((void **)&m->vms, &m->cap_vms, m->n_vms + 1, sizeof *m->vms);
    struct model_vm *v = &m->vms[m->n_vms];
    memset(v, 0, sizeof *v);
    memcpy(v->uuid, vs->uuid, sizeof v->uuid);
    v->name = xstrdup(vs->name ? vs->name : vs->uuid);
    v->host = -1;
    v->last_move_ns = SNAP_NEVER;
    v->pinned = config_vm_pinned(m->cfg, v->uuid) || config_vm_pinned(m->cfg, v->name);
    return (int)m->n_vms++;
}

static void host_recount(struct model *m, int h)
{
    struct model_host *mh = &m->hosts[h];
    mh->n_vms = 0;
    mh->mem_used_mib = 0;
    for (size_t i = 0; i < m->n_vms; i++) {
        if (m->vms[i].host == h) {
            mh->n_vms++;
            mh->mem_used_mib += m->vms[i].mem_mib;
        }
    }
}

/* Was the sample taken before the executor confirmed the VM's last move? */
static bool sampled_before_move(const struct model_vm *v, const struct hv_sample *s)
{
    return v->moved_mono_ns != 0 && s->mono_ns < v->moved_mono_ns;
}

void model_apply_sample(struct model *m, int h, const struct hv_sample *s)
{
    struct model_host *mh = &m->hosts[h];
    const struct config_host *ch = &m->cfg->hosts[mh->cfg_index];
    mh->cpus = ch->cpus > 0 ? ch->cpus : s->cpus;
    mh->mem_mib = ch->memory_mib > 0 ? (double)ch->memory_mib : (double)s->mem_kib / 1024.0;
    mh->reachable = true;
    mh->last_sample_ns = s->t_ns;

    /* VMs that were here and are missing from the sample have left (or stopped); not if the
     * sample was taken before the VM's confirmed arrival here */
    for (size_t i = 0; i < m->n_vms; i++) {
        if (m->vms[i].host != h || sampled_before_move(&m->vms[i], s))
            continue;
        bool present = false;
        for (size_t k = 0; k < s->n_vms && !present; k++)
            present = strcmp(s->vms[k].uuid, m->vms[i].uuid) == 0 && s->vms[k].state != HV_VM_SHUTOFF;
        if (!present)
            m->vms[i].host = -1;
    }

    double used = 0;
    bool any_delta = false, any_vm = false;
    for (size_t k = 0; k < s->n_vms; k++) {
        const struct hv_vm_sample *vs = &s->vms[k];
        if (vs->state == HV_VM_SHUTOFF)
            continue;
        int vi = vm_get(m, vs);
        struct model_vm *v = &m->vms[vi];
        if (v->host != h && sampled_before_move(v, s))
            continue; /* a sample from before its confirmed move away (a late or slow sample) */
        if (v->host != h) {
            /* arrived here (migration, or first sight): restart the cpu.time baseline */
            v->host = h;
            v->have_prev = false;
        }
        v->vcpus = vs->vcpus;
        v->mem_mib = (double)vs->mem_kib / 1024.0;
        v->migrating = vs->migrating;
        v->rx_bytes = vs->rx_bytes;
        v->tx_bytes = vs->tx_bytes;
        v->last_seen_ns = s->t_ns;
        any_vm = true;
        if (v->have_prev && vs->cpu_time_ns >= v->prev_cpu_time_ns && s->mono_ns > v->prev_mono_ns) {
            double cores = (double)(vs->cpu_time_ns - v->prev_cpu_time_ns) /
                           (double)(s->mono_ns - v->prev_mono_ns);
            if (cores > v->vcpus && v->vcpus > 0)
                cores = v->vcpus;
            v->cpu_cores = cores;
            model_window_push(&v->cpu, s->t_ns, cores);
            any_delta = true;
        }
        /* negative delta = counter reset (new qemu process): only re-baseline */
        v->prev_cpu_time_ns = vs->cpu_time_ns;
        v->prev_mono_ns = s->mono_ns;
        v->have_prev = true;
        used += v->cpu_cores;
    }
    mh->load_pct = mh->cpus > 0 ? 100.0 * used / mh->cpus : 0;
    if (mh->load_pct > 100)
        mh->load_pct = 100;
    /* a first sample gives no deltas: it says nothing about load, so it is not averaged in */
    if (any_delta || !any_vm)
        model_window_push(&mh->load, s->t_ns, mh->load_pct);
    host_recount(m, h);
}

void model_host_set_unreachable(struct model *m, int h, int64_t now_ns)
{
    (void)now_ns;
    m->hosts[h].reachable = false;
}

void model_apply_meter(struct model *m, int h, int64_t t_ns, double watts, double kwh)
{
    struct model_host *mh = &m->hosts[h];
    mh->watts = watts;
    mh->watts_t_ns = t_ns;
    mh->meter_t_ns = t_ns;
    mh->watts_from_model = false;
    if (kwh >= 0)
        mh->meter_kwh = kwh;
}

void model_estimate_watts(struct model *m, int64_t now_ns, int64_t stale_ns)
{
    for (size_t i = 0; i < m->n_hosts; i++) {
        struct model_host *mh = &m->hosts[i];
        if (mh->meter_t_ns != SNAP_NEVER && now_ns - mh->meter_t_ns <= stale_ns)
            continue;
        const struct config_host *ch = &m->cfg->hosts[mh->cfg_index];
        if (mh->state == POWER_STATE_OFF)
            mh->watts = ch->standby_w;
        else
            mh->watts = ch->idle_w + (ch->max_w - ch->idle_w) * mh->load_pct / 100.0;
        mh->watts_t_ns = now_ns;
        mh->watts_from_model = true;
    }
}

void model_vm_moved(struct model *m, int vm, int dest, int64_t now_ns, int64_t now_mono_ns)
{
    struct model_vm *v = &m->vms[vm];
    int src = v->host;
    v->host = dest;
    v->have_prev = false;
    v->last_move_ns = now_ns;
    v->moved_mono_ns = now_mono_ns;
    v->migrating = false;
    if (src >= 0)
        host_recount(m, src);
    if (dest >= 0)
        host_recount(m, dest);
}

double model_host_load_smoothed(const struct model *m, int h, int64_t now_ns)
{
    const struct model_host *mh = &m->hosts[h];
    return model_window_mean(&mh->load, now_ns, m->cfg->load_window_ns, mh->load_pct);
}

double model_vm_cores_smoothed(const struct model *m, int vm, int64_t now_ns)
{
    const struct model_vm *v = &m->vms[vm];
    return model_window_mean(&v->cpu, now_ns, m->cfg->load_window_ns, v->cpu_cores);
}

void model_snapshot_build(const struct model *m, int64_t now_ns, struct model_snapshot *out)
{
    memset(out, 0, sizeof *out);
    out->now_ns = now_ns;
    out->n_hosts = m->n_hosts;
    out->hosts = xcalloc(m->n_hosts + 1, sizeof *out->hosts);
    for (size_t i = 0; i < m->n_hosts; i++) {
        const struct model_host *mh = &m->hosts[i];
        const struct config_host *ch = &m->cfg->hosts[mh->cfg_index];
        struct snap_host *sh = &out->hosts[i];
        sh->name = mh->name;
        sh->cpus = mh->cpus;
        sh->mem_mib = mh->mem_mib;
        sh->state = mh->state;
        sh->load_pct = model_host_load_smoothed(m, (int)i, now_ns);
        sh->idle_w = ch->idle_w;
        sh->max_w = ch->max_w;
        sh->priority = ch->priority;
        sh->excluded = ch->excluded;
        sh->reachable = mh->reachable;
        sh->off_since_ns = mh->state == POWER_STATE_OFF ? mh->off_since_ns : SNAP_NEVER;
        sh->boot_ns = ch->boot_ns;
        sh->on_since_ns = mh->state == POWER_STATE_ON ? mh->on_since_ns : SNAP_NEVER;
    }
    out->vms = xcalloc(m->n_vms + 1, sizeof *out->vms);
    for (size_t i = 0; i < m->n_vms; i++) {
        const struct model_vm *v = &m->vms[i];
        if (v->host < 0)
            continue;
        struct snap_vm *sv = &out->vms[out->n_vms++];
        sv->uuid = v->uuid;
        sv->name = v->name;
        sv->host = v->host;
        sv->vcpus = v->vcpus;
        sv->mem_mib = v->mem_mib;
        sv->cpu_cores = model_vm_cores_smoothed(m, (int)i, now_ns);
        sv->pinned = v->pinned;
        sv->migrating = v->migrating;
        sv->last_move_ns = v->last_move_ns;
        sv->demand_history = v->n_history ? v->history : NULL;
        sv->n_history = v->n_history;
    }
    out->min_active_hosts = m->cfg->policy.min_active_hosts;
    out->consolidation_allowed = m->cfg->policy.consolidate == CONFIG_CONSOLIDATE_ALWAYS;
}

size_t model_record_history(struct model *m, int64_t now_ns)
{
    if (m->history_t_ns != SNAP_NEVER && now_ns == m->history_t_ns)
        return 0;
    m->history_t_ns = now_ns;
    size_t n = 0;
    for (size_t i = 0; i < m->n_vms; i++) {
        struct model_vm *v = &m->vms[i];
        if (v->host < 0)
            continue;
        size_t keep = v->n_history < MODEL_HISTORY_MAX ? v->n_history : MODEL_HISTORY_MAX - 1;
        memmove(&v->history[1], &v->history[0], keep * sizeof v->history[0]);
        v->history[0] = model_vm_cores_smoothed(m, (int)i, now_ns);
        v->n_history = keep + 1;
        n++;
    }
    return n;
}

void model_snapshot_set_receiving(struct model_snapshot *s, int host, bool receiving)
{
    if (host >= 0 && (size_t)host < s->n_hosts)
        s->hosts[host].receiving = receiving;
}

void model_snapshot_free(struct model_snapshot *s)
{
    free(s->hosts);
    free(s->vms);
    memset(s, 0, sizeof *s);
}

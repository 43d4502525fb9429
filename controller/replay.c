/* replay.c - the replay simulator (see replay.h). Event order, state histories and metrics follow
 * CloudSim 3.0.3's PowerDatacenter / HostDynamicWorkload / Helper.printResults step by step, so
 * that the reference policies reproduce the published figures. */
#include "replay.h"

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/model_snapshot.h"
#include "policy/plan.h"
#include "policy/tentative.h"
#include "util/xalloc.h"

#define HIST_LEN 30

const struct replay_host_model replay_model_g4 = {
    "HP ProLiant ML110 G4", 1860, 2, 4096, 10,
    { 86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117 },
};
const struct replay_host_model replay_model_g5 = {
    "HP ProLiant ML110 G5", 2660, 2, 4096, 10,
    { 93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135 },
};

#define CLOUDSIM_HOSTS 800
static const struct replay_host_model *cloudsim_hosts[CLOUDSIM_HOSTS];

const struct replay_host_model *const *replay_cloudsim_hosts(size_t *n)
{
    for (size_t i = 0; i < CLOUDSIM_HOSTS; i++)
        cloudsim_hosts[i] = i % 2 ? &replay_model_g5 : &replay_model_g4;
    *n = CLOUDSIM_HOSTS;
    return cloudsim_hosts;
}

void replay_opts_defaults(struct replay_opts *o)
{
    memset(o, 0, sizeof *o);
    policy_cfg_defaults(&o->policy);
    o->policy.algorithm = POLICY_ALGORITHM_JOULE;
    o->migrations = true;
    o->placement = REPLAY_PLACEMENT_POLICY;
    o->interval_s = 300;
    o->start_s = 0.1;
    o->duration_s = 86400;
    o->migration_mib_s = 62.5;
    o->migration_degradation = 0.1;
    o->remove_idle_vms = true;
    o->policy.limits_at_creation_only = true;
    /* CloudSim starts every migration a round plans; a cap would only measure how long
     * draining its t=0 spread takes (RAM binds at creation: 2 big VMs a host). */
    o->policy.max_moves_per_round = 1000000;
}

/* ---- workload ---------------------------------------------------------------------------- */

struct replay_workload *replay_workload_new(size_t n_vms, size_t n_samples, double sample_s)
{
    struct replay_workload *w = xcalloc(1, sizeof *w);
    w->n_vms = n_vms;
    w->n_samples = n_samples;
    w->sample_s = sample_s;
    w->vms = xcalloc(n_vms ? n_vms : 1, sizeof *w->vms);
    for (size_t i = 0; i < n_vms; i++) {
        w->vms[i].util = xcalloc(n_samples + 1, sizeof *w->vms[i].util);
        w->vms[i].initial_host = -1;
    }
    return w;
}

void replay_workload_free(struct replay_workload *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_vms; i++) {
        free(w->vms[i].name);
        free(w->vms[i].util);
    }
    free(w->vms);
    free(w);
}

void replay_cloudsim_vm_types(struct replay_workload *w)
{
    static const double mips[4] = { 2500, 2000, 1000, 500 };
    static const double ram[4] = { 870, 1740, 1740, 613 };
    size_t block = (w->n_vms + 3) / 4;
    for (size_t i = 0; i < w->n_vms; i++) {
        size_t type = block ? i / block : 0;
        w->vms[i].mips = mips[type];
        w->vms[i].ram_mib = ram[type];
    }
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_trace(const char *dir, const char *name, struct replay_vm *vm, size_t n_samples,
                      struct joule_err *err)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        joule_err_set(err, JOULE_EIO, "%s: %s", path, strerror(e));
        free(path);
        return JOULE_EIO;
    }
    char line[64];
    size_t i = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        char *end;
        errno = 0;
        long v = strtol(line, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n' || *end == '\t')
            end++;
        if (end == line || *end || errno || v < 0 || v > 100) {
            line[strcspn(line, "\r\n")] = 0;
            rc = joule_err_set(err, JOULE_EINVAL,
                               "%s:%zu: \"%s\" is not a CPU percentage (integer 0..100)", path,
                               i + 1, line);
            break;
        }
        if (i >= n_samples) {
            rc = joule_err_set(err, JOULE_EINVAL, "%s: more than %zu samples", path, n_samples);
            break;
        }
        vm->util[i++] = (double)v / 100.0;
    }
    fclose(f);
    if (!rc && i != n_samples)
        rc = joule_err_set(err, JOULE_EINVAL, "%s: %zu samples, expected %zu", path, i, n_samples);
    if (!rc)
        vm->util[n_samples] = vm->util[n_samples - 1];
    free(path);
    return rc;
}

/* One CSV field, optionally double-quoted ("" inside quotes is a quote). */
static char *csv_field(char **p)
{
    char *s = *p;
    if (!s)
        return NULL;
    if (*s == '"') {
        char *r = s + 1, *w = s;
        for (;;) {
            if (*r == 0 || *r == '\n' || *r == '\r')
                return NULL; /* unterminated */
            if (*r == '"' && r[1] == '"') {
                *w++ = '"';
                r += 2;
            } else if (*r == '"') {
                r++;
                break;
            } else {
                *w++ = *r++;
            }
        }
        *w = 0;
        if (*r == ',')
            *p = r + 1;
        else if (*r == 0 || *r == '\n' || *r == '\r')
            *p = NULL;
        else
            return NULL;
        return s;
    }
    char *c = strchr(s, ',');
    if (c) {
        *c = 0;
        *p = c + 1;
    } else {
        s[strcspn(s, "\r\n")] = 0;
        *p = NULL;
    }
    return s;
}

static int read_order(const char *csv, char ***names, double **mips, double **ram, size_t *n,
                      struct joule_err *err)
{
    FILE *f = fopen(csv, "r");
    if (!f) {
        int e = errno;
        return joule_err_set(err, JOULE_EIO, "%s: %s", csv, strerror(e));
    }
    char line[1024];
    size_t cap = 0, cnt = 0, lineno = 0;
    char **nm = NULL;
    double *mp = NULL, *rm = NULL;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1 && strncmp(line, "vm_id", 5) == 0)
            continue;
        if (line[0] == '\n' || line[0] == 0)
            continue;
        char *p = line;
        char *id = csv_field(&p), *type = csv_field(&p), *m = csv_field(&p), *r = csv_field(&p);
        char *file = csv_field(&p);
        char *e1, *e2, *e3;
        long idv = id ? strtol(id, &e1, 10) : -1;
        double mv = m ? strtod(m, &e2) : 0, rv = r ? strtod(r, &e3) : 0;
        if (!file || !type || !*file || *e1 || *e2 || *e3 || idv != (long)cnt || mv <= 0 ||
            rv <= 0) {
            rc = joule_err_set(err, JOULE_EINVAL,
                               "%s:%zu: expected vm_id,vm_type,vm_mips,vm_ram_mb,trace_file with "
                               "vm_id %zu",
                               csv, lineno, cnt);
            break;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 256;
            nm = xrealloc(nm, cap * sizeof *nm);
            mp = xrealloc(mp, cap * sizeof *mp);
            rm = xrealloc(rm, cap * sizeof *rm);
        }
        nm[cnt] = xstrdup(file);
        mp[cnt] = mv;
        rm[cnt] = rv;
        cnt++;
    }
    fclose(f);
    if (!rc && cnt == 0)
        rc = joule_err_set(err, JOULE_EINVAL, "%s: no VMs", csv);
    if (rc) {
        for (size_t i = 0; i < cnt; i++)
            free(nm[i]);
        free(nm);
        free(mp);
        free(rm);
        return rc;
    }
    *names = nm;
    *mips = mp;
    *ram = rm;
    *n = cnt;
    return 0;
}

int replay_load_planetlab(const char *dir, const char *order_csv, struct replay_workload **out,
                          struct joule_err *err)
{
    char **names = NULL;
    double *mips = NULL, *ram = NULL;
    size_t n = 0, cap = 0;
    int rc;
    if (order_csv) {
        if ((rc = read_order(order_csv, &names, &mips, &ram, &n, err)) < 0)
            return rc;
    } else {
        DIR *d = opendir(dir);
        if (!d) {
            int e = errno;
            return joule_err_set(err, JOULE_EIO, "%s: %s", dir, strerror(e));
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                names = xrealloc(names, cap * sizeof *names);
            }
            names[n++] = xstrdup(de->d_name);
        }
        closedir(d);
        if (n == 0) {
            free(names);
            return joule_err_set(err, JOULE_EINVAL, "%s: no trace files", dir);
        }
        qsort(names, n, sizeof *names, name_cmp);
    }
    struct replay_workload *w = replay_workload_new(n, 288, 300);
    rc = 0;
    for (size_t i = 0; i < n; i++) {
        w->vms[i].name = names[i];
        names[i] = NULL;
        if (!rc)
            rc = read_trace(dir, w->vms[i].name, &w->vms[i], w->n_samples, err);
    }
    free(names);
    replay_cloudsim_vm_types(w);
    if (mips) {
        for (size_t i = 0; i < n; i++) {
            w->vms[i].mips = mips[i];
            w->vms[i].ram_mib = ram[i];
        }
    }
    free(mips);
    free(ram);
    if (rc) {
        replay_workload_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* ---- simulation state -------------------------------------------------------------------- */

struct entry {               /* one state-history entry (CloudSim Host/VmStateHistoryEntry) */
    double t;
    double alloc;
    double req;
    bool flag;               /* host: active; VM: in migration (source side) */
    bool set;
};

struct vm_state {
    int host;                /* where it runs (the source while migrating) */
    int target;              /* -1 unless migrating */
    int ghost;               /* -1, or an earlier target of the same round: CloudSim keeps the
                              * VM migrating in there too until the migrations complete */
    double end_t;
    uint64_t seq;
    double hist[HIST_LEN];   /* requested MIPS at each decision, most recent first */
    size_t n_hist;
    int64_t last_move_ns;    /* SNAP_NEVER or when its last migration completed */
    bool gone;               /* removed for good (CloudSim: a VM requesting 0 MIPS) */
    struct entry fin, pend;
};

struct host_state {
    int *vms;                /* VMs on it, incl. migrating-in ones, in arrival order */
    size_t n, cap;
    double total, pe;
    double util_mips, req_mips;
    double u;                /* utilisation after the last update */
    double last_t;
    bool updated;
    unsigned touch;          /* order of the last update in a migration-start batch */
    struct entry fin, pend;
    bool was_active;         /* shutdown counting */
    bool powered;            /* switched on by a POWER_ON action and not off since */
};

struct sim {
    const struct replay_workload *w;
    const struct replay_opts *o;
    struct vm_state *vm;
    struct host_state *host;
    size_t nh, nv;
    double energy_j;
    double t_active, t_viol;
    double vm_req_int, vm_alloc_int, vm_mig_loss;
    uint64_t shutdowns;
    uint64_t seq;
    int *moving;             /* VMs migrating, in start order */
    size_t n_moving, cap_moving;
};

static double util_at(const struct replay_vm *v, const struct replay_workload *w, double t)
{
    double step = w->sample_s;
    if (fmod(t, step) == 0) {
        size_t i = (size_t)((long long)t / (long long)step);
        return v->util[i > w->n_samples ? w->n_samples : i];
    }
    double x1 = floor(t / step), x2 = ceil(t / step);
    size_t i1 = (size_t)x1, i2 = (size_t)x2;
    if (i1 > w->n_samples)
        i1 = w->n_samples;
    if (i2 > w->n_samples)
        i2 = w->n_samples;
    double u1 = v->util[i1], u2 = v->util[i2];
    double delta = (u2 - u1) / ((x2 - x1) * step);
    return u1 + delta * (t - x1 * step);
}


static void host_finalise(struct sim *s, struct host_state *h)
{
    if (!h->pend.set)
        return;
    if (h->fin.set) {
        double dt = h->pend.t - h->fin.t;
        if (h->fin.flag) {
            s->t_active += dt;
            if (h->fin.alloc < h->fin.req)
                s->t_viol += dt;
        }
    }
    /* Helper.getTimesBeforeHostShutdown: active -> inactive transitions. */
    if (h->was_active && !h->pend.flag)
        s->shutdowns++;
    h->was_active = h->pend.flag;
    h->fin = h->pend;
    h->pend.set = false;
}

static void host_entry(struct sim *s, struct host_state *h, struct entry e)
{
    if (h->pend.set && h->pend.t == e.t) {
        h->pend = e;
        return;
    }
    host_finalise(s, h);
    h->pend = e;
}

static void vm_finalise(struct sim *s, struct vm_state *v)
{
    if (!v->pend.set)
        return;
    if (v->fin.set) {
        double dt = v->pend.t - v->fin.t;
        s->vm_alloc_int += v->fin.alloc * dt;
        s->vm_req_int += v->fin.req * dt;
        if (v->fin.alloc < v->fin.req && v->fin.flag)
            s->vm_mig_loss += (v->fin.req - v->fin.alloc) * dt;
    }
    v->fin = v->pend;
    v->pend.set = false;
}

static void vm_entry(struct sim *s, struct vm_state *v, struct entry e)
{
    if (v->pend.set && v->pend.t == e.t) {
        v->pend = e;
        return;
    }
    vm_finalise(s, v);
    v->pend = e;
}

struct sim_ext {
    struct sim s;
    struct model_snapshot snap;
    char **names;
    int *snap_vm;            /* snapshot VM index -> simulated VM */
    bool decided;            /* a decision snapshot was built (hosts' states are known) */
};

static double host_power(const struct sim_ext *x, size_t h, double u)
{
    return tent_power(&x->snap.hosts[h], u);
}

/* HostDynamicWorkload.updateVmsProcessing + the datacentre's energy for the frame. */
static void host_update(struct sim_ext *x, size_t hi, double t)
{
    struct sim *s = &x->s;
    struct host_state *h = &s->host[hi];
    const struct replay_workload *w = s->w;
    double deg = s->o->migration_degradation;
    double need = 0;
    for (size_t i = 0; i < h->n; i++) {
        int v = h->vms[i];
        double req = util_at(&w->vms[v], w, t) * w->vms[v].mips;
        double capped = req > h->pe ? h->pe : req;
        bool in = s->vm[v].target == (int)hi || s->vm[v].ghost == (int)hi;
        need += in ? capped * deg : capped;
    }
    bool over = need > h->total;
    double scale = over ? h->total / need : 1;
    double util = 0, reqsum = 0;
    for (size_t i = 0; i < h->n; i++) {
        int v = h->vms[i];
        struct vm_state *vs = &s->vm[v];
        double req = util_at(&w->vms[v], w, t) * w->vms[v].mips;
        double capped = req > h->pe ? h->pe : req;
        bool migrating = vs->target >= 0;
        bool in = vs->target == (int)hi || vs->ghost == (int)hi;
        bool out = migrating && !in;
        double alloc;
        if (!over)
            alloc = capped * (out ? 1 - deg : in ? deg : 1);
        else if (out)
            alloc = floor(capped * scale * (1 - deg));
        else if (in)
            alloc = floor(capped * deg * scale);
        else
            alloc = floor(capped * scale);
        /* HostDynamicWorkload: a VM migrating in writes no history entry here and adds only
         * its reservation; any other VM in migration (i.e. out) is charged alloc / 0.9. */
        if (!in) {
            vm_entry(s, vs, (struct entry){ t, alloc, req, out, true });
            if (migrating && deg < 1)
                alloc /= 1 - deg;
        }
        util += alloc;
        reqsum += req;
    }
    double u = util / h->total;
    if (u > 1 && u < 1.01)
        u = 1;
    if (h->updated && t > h->last_t && h->u > 0) {
        double p0 = host_power(x, hi, h->u), p1 = host_power(x, hi, u);
        s->energy_j += (p0 + (p1 - p0) / 2) * (t - h->last_t);
    }
    h->updated = true;
    h->u = u;
    h->last_t = t;
    h->util_mips = util;
    h->req_mips = reqsum;
    host_entry(s, h, (struct entry){ t, util, reqsum, util > 0, true });
}

static void pass(struct sim_ext *x, double t)
{
    struct sim *s = &x->s;
    for (size_t h = 0; h < s->nh; h++)
        host_update(x, h, t);
    if (!s->o->remove_idle_vms)
        return;
    /* PowerDatacenter: "Remove completed VMs" = every VM not in migration whose requested MIPS
     * is 0 now is deallocated for good (Host.getCompletedVms). */
    for (size_t h = 0; h < s->nh; h++) {
        struct host_state *hs = &s->host[h];
        for (size_t i = 0; i < hs->n;) {
            int v = hs->vms[i];
            if (s->vm[v].target < 0 &&
                util_at(&s->w->vms[v], s->w, t) * s->w->vms[v].mips == 0) {
                memmove(&hs->vms[i], &hs->vms[i + 1], (hs->n - i - 1) * sizeof *hs->vms);
                hs->n--;
                s->vm[v].gone = true;
                s->vm[v].host = -1;
            } else {
                i++;
            }
        }
    }
}

static void list_append(struct host_state *h, int v)
{
    xgrow((void **)&h->vms, &h->cap, h->n + 1, sizeof *h->vms);
    h->vms[h->n++] = v;
}

static void list_remove(struct host_state *h, int v)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->vms[i] == v) {
            memmove(&h->vms[i], &h->vms[i + 1], (h->n - i - 1) * sizeof *h->vms);
            h->n--;
            return;
        }
    }
}

static void place(struct sim *s, int v, int h)
{
    list_append(&s->host[h], v);
    s->vm[v].host = h;
    s->vm[v].seq = ++s->seq;
}


struct touch_key {
    unsigned touch;
    int host;
};

static int touch_key_cmp(const void *a, const void *b)
{
    const struct touch_key *x = a, *y = b;
    return (x->touch > y->touch) - (x->touch < y->touch);
}

/* Starts the plan's migrations at time t (PowerDatacenter: addMigratingInVm per entry, which
 * updates the target and then the source host). Returns the number started. */
static unsigned start_migrations(struct sim_ext *x, const struct plan *p, double t)
{
    struct sim *s = &x->s;
    unsigned touch = 0, started = 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_action *a = &p->actions[i];
        if ((a->kind == PLAN_ACTION_POWER_ON || a->kind == PLAN_ACTION_POWER_OFF) &&
            a->host >= 0 && (size_t)a->host < s->nh) {
            /* CloudSim's model has no boot time and charges 0 W at 0 %: a host switched on
             * only counts as on (for the policy) until it gets VMs or is switched off. */
            s->host[a->host].powered = a->kind == PLAN_ACTION_POWER_ON;
            continue;
        }
        if (a->kind != PLAN_ACTION_MIGRATE || a->vm < 0 || (size_t)a->vm >= x->snap.n_vms ||
            a->to < 0 || (size_t)a->to >= s->nh)
            continue;
        int vm = x->snap_vm[a->vm];
        struct vm_state *vs = &s->vm[vm];
        if (vs->host < 0 || a->to == vs->host)
            continue;
        if (vs->target >= 0) {
            /* a second move in the same round (CloudSim: the VM left on a host chosen for it
             * and then emptied): both targets hold it as migrating in */
            if (vs->ghost >= 0)
                list_remove(&s->host[vs->ghost], vm);
            vs->ghost = vs->target;
        } else {
            xgrow((void **)&s->moving, &s->cap_moving, s->n_moving + 1, sizeof *s->moving);
            s->moving[s->n_moving++] = vm;
        }
        vs->target = a->to;
        list_append(&s->host[a->to], vm);
        vs->end_t = t + s->w->vms[vm].ram_mib / s->o->migration_mib_s;
        s->host[a->to].touch = ++touch;
        s->host[vs->host].touch = ++touch;
        started++;
    }
    if (!touch)
        return started;
    struct touch_key *keys = xcalloc(s->nh, sizeof *keys);
    size_t nk = 0;
    for (size_t h = 0; h < s->nh; h++) {
        if (s->host[h].touch) {
            keys[nk++] = (struct touch_key){ s->host[h].touch, (int)h };
            s->host[h].touch = 0;
        }
    }
    qsort(keys, nk, sizeof *keys, touch_key_cmp);
    for (size_t k = 0; k < nk; k++)
        host_update(x, (size_t)keys[k].host, t);
    free(keys);
    return started;
}


/* Completes migrations ending before `until` (and within the simulation), in time order. */
static void complete_migrations(struct sim_ext *x, double until)
{
    struct sim *s = &x->s;
    while (s->n_moving) {
        double tc = DBL_MAX;
        for (size_t i = 0; i < s->n_moving; i++)
            if (s->vm[s->moving[i]].end_t < tc)
                tc = s->vm[s->moving[i]].end_t;
        if (tc >= until || tc > s->o->duration_s)
            return;
        pass(x, tc);
        size_t keep = 0;
        for (size_t i = 0; i < s->n_moving; i++) {
            int v = s->moving[i];
            struct vm_state *vs = &s->vm[v];
            if (vs->end_t != tc) {
                s->moving[keep++] = v;
                continue;
            }
            list_remove(&s->host[vs->host], v);
            list_remove(&s->host[vs->target], v);
            if (vs->ghost >= 0)
                list_remove(&s->host[vs->ghost], v);
            int to = vs->target;
            vs->target = -1;
            vs->ghost = -1;
            vs->last_move_ns = (int64_t)(tc * 1e9);
            place(s, v, to);
        }
        s->n_moving = keep;
        pass(x, tc);
    }
}

static void build_snapshot(struct sim_ext *x, double t, bool initial)
{
    struct sim *s = &x->s;
    const struct replay_workload *w = s->w;
    int64_t prev_ns = x->snap.now_ns;
    x->snap.now_ns = (int64_t)(t * 1e9);
    for (size_t h = 0; h < s->nh; h++) {
        struct snap_host *sh = &x->snap.hosts[h];
        const struct replay_host_model *m = s->o->hosts[h];
        sh->used_cpus = initial ? 0 : s->host[h].util_mips;
        sh->load_pct = initial ? 0 : 100.0 * s->host[h].u;
        /* a host left without VMs counts as off (it draws 0 W in this model) */
        if (s->host[h].n == 0)
            s->host[h].powered = false;
        enum power_state prev = sh->state;
        sh->state = sh->used_cpus > 0 || s->host[h].powered ? POWER_STATE_ON : POWER_STATE_OFF;
        /* no boot time in this model: a host off at the last decision and on now came on when
         * that decision's plan was started */
        if (initial || sh->state != POWER_STATE_ON)
            sh->on_since_ns = SNAP_NEVER;
        else if (prev == POWER_STATE_OFF && x->decided)
            sh->on_since_ns = prev_ns;
        sh->mem_mib = m->ram_mib;
        sh->max_vms = m->max_vms;
    }
    size_t n = 0;
    for (size_t v = 0; v < s->nv; v++) {
        const struct vm_state *vs = &s->vm[v];
        if (vs->gone)
            continue;
        struct snap_vm *sv = &x->snap.vms[n];
        x->snap_vm[n++] = (int)v;
        sv->uuid = w->vms[v].name;
        sv->name = w->vms[v].name;
        sv->vcpus = 1;
        sv->mem_mib = w->vms[v].ram_mib;
        sv->cpu_max = w->vms[v].mips;
        sv->last_move_ns = vs->last_move_ns;
        sv->host = vs->host;
        sv->cpu_cores = util_at(&w->vms[v], w, t) * w->vms[v].mips;
        sv->migrating = vs->target >= 0;
        sv->demand_history = vs->hist;
        sv->n_history = vs->n_hist;
        sv->host_seq = vs->seq;
    }
    x->snap.n_vms = n;
    x->decided |= !initial;
}

static void first_fit(struct sim_ext *x)
{
    struct sim *s = &x->s;
    const struct replay_workload *w = s->w;
    double *capped = xcalloc(s->nh, sizeof *capped), *ram = xcalloc(s->nh, sizeof *ram);
    for (size_t v = 0; v < s->nv; v++) {
        double req = w->vms[v].mips;
        for (size_t h = 0; h < s->nh; h++) {
            const struct replay_host_model *m = s->o->hosts[h];
            struct host_state *hs = &s->host[h];
            double avail = capped[h] <= hs->total ? hs->total - capped[h] : 0;
            if (hs->pe < req || avail < req || ram[h] + w->vms[v].ram_mib > m->ram_mib ||
                (m->max_vms && hs->n + 1 > m->max_vms))
                continue;
            capped[h] += req > hs->pe ? hs->pe : req;
            ram[h] += w->vms[v].ram_mib;
            place(s, (int)v, (int)h);
            break;
        }
    }
    free(capped);
    free(ram);
}

static void sim_free(struct sim_ext *x)
{
    struct sim *s = &x->s;
    for (size_t h = 0; h < s->nh; h++) {
        free(s->host[h].vms);
        if (x->names)
            free(x->names[h]);
    }
    free(x->names);
    free(s->host);
    free(s->vm);
    free(s->moving);
    free(x->snap.hosts);
    free(x->snap.vms);
    free(x->snap_vm);
}

int replay_run(const struct replay_workload *w, const struct replay_opts *o,
               struct replay_result *out, struct joule_err *err)
{
    if (!o->n_hosts || !o->hosts)
        return joule_err_set(err, JOULE_EINVAL, "replay: no hosts");
    if (!w->n_vms || !w->n_samples || w->sample_s <= 0)
        return joule_err_set(err, JOULE_EINVAL, "replay: empty workload");
    if (o->interval_s <= 0 || o->duration_s <= 0 || o->migration_mib_s <= 0 ||
        o->migration_degradation < 0 || o->migration_degradation >= 1)
        return joule_err_set(err, JOULE_EINVAL,
                             "replay: interval, duration and migration throughput must be > 0 "
                             "and the migration degradation in [0, 1)");
    struct sim_ext x = { 0 };
    struct sim *s = &x.s;
    s->w = w;
    s->o = o;
    s->nh = o->n_hosts;
    s->nv = w->n_vms;
    s->host = xcalloc(s->nh, sizeof *s->host);
    s->vm = xcalloc(s->nv, sizeof *s->vm);
    x.snap.hosts = xcalloc(s->nh, sizeof *x.snap.hosts);
    x.snap.vms = xcalloc(s->nv, sizeof *x.snap.vms);
    x.snap_vm = xcalloc(s->nv, sizeof *x.snap_vm);
    x.snap.n_hosts = s->nh;
    x.snap.n_vms = s->nv;
    x.snap.consolidation_allowed = true;
    x.snap.min_active_hosts = 0;
    x.names = xcalloc(s->nh, sizeof *x.names);
    for (size_t h = 0; h < s->nh; h++) {
        const struct replay_host_model *m = o->hosts[h];
        struct host_state *hs = &s->host[h];
        hs->total = m->pe_mips * m->pes;
        hs->pe = m->pe_mips;
        hs->was_active = true; /* Helper: previousIsActive starts true, so a host never used
                                 * counts one shutdown at its first entry (Dvfs: 455) */
        struct snap_host *sh = &x.snap.hosts[h];
        x.names[h] = xasprintf("host-%zu", h);
        sh->name = x.names[h];
        sh->cpus = hs->total;
        sh->pe_cpus = m->pe_mips;
        sh->has_power_curve = true;
        memcpy(sh->power_curve_w, m->power_w, sizeof sh->power_curve_w);
        sh->idle_w = m->power_w[0];
        sh->max_w = m->power_w[10];
        sh->reachable = true;
        sh->off_since_ns = SNAP_NEVER;
        sh->on_since_ns = SNAP_NEVER;
    }
    for (size_t v = 0; v < s->nv; v++) {
        s->vm[v].host = -1;
        s->vm[v].target = -1;
        s->vm[v].ghost = -1;
        s->vm[v].last_move_ns = SNAP_NEVER;
    }
    struct policy_cfg cfg = o->policy;
    cfg.interval_s = o->interval_s;
    cfg.migration_mib_s = o->migration_mib_s;
    struct plan plan;
    plan_init(&plan);
    int rc = 0;
    memset(out, 0, sizeof *out);

    /* t = 0: initial placement. The papers' threshold policy places no new VMs: first fit. */
    if (o->placement == REPLAY_PLACEMENT_FIRST_FIT ||
        (o->placement == REPLAY_PLACEMENT_POLICY &&
         o->policy.algorithm == POLICY_ALGORITHM_THRESHOLD)) {
        first_fit(&x);
    } else if (o->placement == REPLAY_PLACEMENT_GIVEN) {
        for (size_t v = 0; v < s->nv; v++) {
            int h = w->vms[v].initial_host;
            if (h < 0 || (size_t)h >= s->nh) {
                rc = joule_err_set(err, JOULE_EINVAL, "replay: VM %s has no initial host",
                                   w->vms[v].name ? w->vms[v].name : "?");
                goto done;
            }
            place(s, (int)v, h);
        }
    } else {
        build_snapshot(&x, 0, true);
        if ((rc = policy_run(&cfg, &x.snap, &plan, err)) < 0)
            goto done;
        for (size_t i = 0; i < plan.n; i++) {
            const struct plan_action *a = &plan.actions[i];
            if (a->kind == PLAN_ACTION_MIGRATE && a->vm >= 0 && (size_t)a->vm < x.snap.n_vms &&
                a->to >= 0 && (size_t)a->to < s->nh && s->vm[x.snap_vm[a->vm]].host < 0)
                place(s, x.snap_vm[a->vm], a->to);
        }
        plan_clear(&plan);
    }
    for (size_t v = 0; v < s->nv; v++)
        out->unplaced_vms += s->vm[v].host < 0;
    if (out->unplaced_vms) {
        rc = joule_err_set(err, JOULE_EINVAL, "replay: %u of %zu VMs fit on no host at t=0",
                           out->unplaced_vms, s->nv);
        goto done;
    }

    size_t cap_series = 0;
    for (double t = o->start_s + o->interval_s; t <= o->duration_s; t += o->interval_s) {
        pass(&x, t);
        for (size_t v = 0; v < s->nv; v++) {
            struct vm_state *vs = &s->vm[v];
            memmove(&vs->hist[1], &vs->hist[0], (HIST_LEN - 1) * sizeof vs->hist[0]);
            vs->hist[0] = util_at(&w->vms[v], w, t) * w->vms[v].mips;
            if (vs->n_hist < HIST_LEN)
                vs->n_hist++;
        }
        unsigned started = 0;
        if (o->migrations) {
            build_snapshot(&x, t, false);
            if ((rc = policy_run(&cfg, &x.snap, &plan, err)) < 0)
                goto done;
            started = start_migrations(&x, &plan, t);
            out->migrations += started;
            plan_clear(&plan);
        }
        unsigned active = 0;
        double watts = 0;
        for (size_t h = 0; h < s->nh; h++) {
            if (s->host[h].u > 0) {
                active++;
                watts += host_power(&x, h, s->host[h].u);
            }
        }
        if (active > out->max_active_hosts)
            out->max_active_hosts = active;
        if (o->keep_series) {
            xgrow((void **)&out->series, &cap_series, out->n_series + 1, sizeof *out->series);
            out->series[out->n_series++] = (struct replay_point){ t, active, watts, started };
        }
        out->rounds++;
        complete_migrations(&x, t + o->interval_s);
    }
    complete_migrations(&x, DBL_MAX);
    for (size_t h = 0; h < s->nh; h++)
        host_finalise(s, &s->host[h]);
    for (size_t v = 0; v < s->nv; v++)
        vm_finalise(s, &s->vm[v]);
    out->energy_kwh = s->energy_j / 3.6e6;
    out->slatah = s->t_active > 0 ? s->t_viol / s->t_active : 0;
    out->pdm = s->vm_req_int > 0 ? s->vm_mig_loss / s->vm_req_int : 0;
    out->slav = out->slatah * out->pdm;
    out->esv = out->energy_kwh * out->slav;
    out->overall_sla = s->vm_req_int > 0 ? (s->vm_req_int - s->vm_alloc_int) / s->vm_req_int : 0;
    out->host_shutdowns = s->shutdowns;
done:
    plan_free(&plan);
    sim_free(&x);
    if (rc < 0)
        replay_result_free(out);
    return rc;
}

void replay_result_free(struct replay_result *r)
{
    free(r->series);
    r->series = NULL;
    r->n_series = 0;
}

/* ---- wiring to the jouled configuration -------------------------------------------------- */
#include "config.h"

int replay_hosts_from_config(const struct config *cfg, struct replay_host_model **out,
                             struct joule_err *err)
{
    struct replay_host_model *m = xcalloc(cfg->n_hosts ? cfg->n_hosts : 1, sizeof *m);
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        const struct config_host *h = &cfg->hosts[i];
        if (h->cpus <= 0 || h->max_w < h->idle_w || h->idle_w <= 0) {
            free(m);
            return joule_err_set(err, JOULE_ECONFIG,
                                 "%s:%d: host %s: replay needs cpus > 0 and 0 < idle_w <= max_w",
                                 cfg->path ? cfg->path : "<config>", h->line, h->name);
        }
        /* One "core" the size of the host: a VM of several vCPUs may use up to its vCPUs
         * (its size), so no per-core cap below the host's capacity. */
        m[i].name = h->name;
        m[i].pes = 1;
        m[i].pe_mips = h->cpus;
        m[i].ram_mib = (double)h->memory_mib;
        m[i].max_vms = 0;
        for (int k = 0; k <= 10; k++)
            m[i].power_w[k] = h->idle_w + (h->max_w - h->idle_w) * k / 10.0;
    }
    *out = m;
    return 0;
}

void replay_scale_vms_to_cores(struct replay_workload *w)
{
    for (size_t i = 0; i < w->n_vms; i++)
        w->vms[i].mips = 1;
}

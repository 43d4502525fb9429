/* snapshot_json.c - model snapshots and plans <-> JSON through libbson (see snapshot_json.h). */
#include "snapshot_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

#define SNAPSHOT_JSON_MAX_BYTES (256L * 1024 * 1024)

static const char *const state_names[POWER_STATE__COUNT] = {
    [POWER_STATE_UNKNOWN] = "unknown", [POWER_STATE_ON] = "on",
    [POWER_STATE_DRAINING] = "draining", [POWER_STATE_POWERING_OFF] = "powering_off",
    [POWER_STATE_OFF] = "off", [POWER_STATE_WAKING] = "waking",
};
/* Spelled as in the config file (policy.algorithm, policy.balance). */
static const char *const algorithm_names[POLICY_ALGORITHM__COUNT] = {
    [POLICY_ALGORITHM_THRESHOLD] = "threshold", [POLICY_ALGORITHM_JOULE] = "joule",
    [POLICY_ALGORITHM_THR_MMT] = "thr-mmt", [POLICY_ALGORITHM_LR_MMT] = "lr-mmt",
};
static const char *const balance_names[] = {
    [POLICY_BALANCE_DIFFERENCING] = "differencing", [POLICY_BALANCE_BANDS] = "bands",
    [POLICY_BALANCE_NONE] = "none",
};
#define N_BALANCE (sizeof balance_names / sizeof balance_names[0])

static int find_name(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

int snapshot_power_state_parse(const char *n)
{
    return find_name(state_names, POWER_STATE__COUNT, n);
}
int snapshot_algorithm_parse(const char *n)
{
    return find_name(algorithm_names, POLICY_ALGORITHM__COUNT, n);
}
int snapshot_balance_parse(const char *n) { return find_name(balance_names, N_BALANCE, n); }

const char *snapshot_power_state_name(enum power_state s)
{
    return (unsigned)s < POWER_STATE__COUNT ? state_names[s] : NULL;
}
const char *snapshot_algorithm_name(enum policy_algorithm a)
{
    return (unsigned)a < POLICY_ALGORITHM__COUNT ? algorithm_names[a] : NULL;
}
const char *snapshot_balance_name(enum policy_balance b)
{
    return (unsigned)b < N_BALANCE ? balance_names[b] : NULL;
}

/* ---- reading ---- */

struct host_key {
    const char *name;
    int idx;
};

struct rd {
    const char *origin;
    struct joule_err *err;
    char path[160];          /* "hosts[2]" etc. */
    struct host_key *by_name; /* hosts sorted by name, for VM -> host lookups */
    size_t n_hosts;
};

static int host_key_cmp(const void *a, const void *b)
{
    const struct host_key *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int host_lookup(const struct rd *rd, const char *name)
{
    size_t lo = 0, hi = rd->n_hosts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rd->by_name[mid].name, name);
        if (c == 0)
            return rd->by_name[mid].idx;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int bad(struct rd *rd, const char *key, const char *what)
{
    return joule_err_set(rd->err, JOULE_EINVAL, "%s: %s%s%s: %s", rd->origin, rd->path,
                         rd->path[0] ? "." : "", key, what);
}

static int get_double(struct rd *rd, const bson_iter_t *it, double min, double *out)
{
    const char *key = bson_iter_key(it);
    if (!BSON_ITER_HOLDS_NUMBER(it))
        return bad(rd, key, "expected a number");
    double v = bson_iter_as_double(it);
    if (!isfinite(v) || v < min) {
        char msg[64];
        snprintf(msg, sizeof msg, "%g is out of range (>= %g)", v, min);
        return bad(rd, key, msg);
    }
    *out = v;
    return 0;
}

static int get_int64(struct rd *rd, const bson_iter_t *it, int64_t min, int64_t max, int64_t *out)
{
    const char *key = bson_iter_key(it);
    int64_t v;
    if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it)) {
        v = bson_iter_as_int64(it);
    } else if (BSON_ITER_HOLDS_DOUBLE(it)) {
        double d = bson_iter_double(it);
        if (!(d == floor(d) && d >= -9.2e18 && d <= 9.2e18))
            return bad(rd, key, "expected an integer");
        v = (int64_t)d;
    } else {
        return bad(rd, key, "expected an integer");
    }
    if (v < min || v > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "%lld is out of range (%lld..%lld)", (long long)v,
                 (long long)min, (long long)max);
        return bad(rd, key, msg);
    }
    *out = v;
    return 0;
}

/* A *_ns time: an integer, or null for SNAP_NEVER. */
static int get_time(struct rd *rd, const bson_iter_t *it, int64_t *out)
{
    if (BSON_ITER_HOLDS_NULL(it)) {
        *out = SNAP_NEVER;
        return 0;
    }
    return get_int64(rd, it, INT64_MIN + 1, INT64_MAX, out);
}

static int get_bool(struct rd *rd, const bson_iter_t *it, bool *out)
{
    if (!BSON_ITER_HOLDS_BOOL(it))
        return bad(rd, bson_iter_key(it), "expected true or false");
    *out = bson_iter_bool(it);
    return 0;
}

static int get_str(struct rd *rd, const bson_iter_t *it, const char **out)
{
    if (!BSON_ITER_HOLDS_UTF8(it))
        return bad(rd, bson_iter_key(it), "expected a string");
    uint32_t len;
    const char *s = bson_iter_utf8(it, &len);
    if (len == 0 || strlen(s) != len)
        return bad(rd, bson_iter_key(it), "expected a non-empty string without NUL");
    *out = s;
    return 0;
}

static int get_enum(struct rd *rd, const bson_iter_t *it, int (*parse)(const char *),
                    const char *allowed, int *out)
{
    const char *s = NULL;
    int rc, v = 0;
    if ((rc = get_str(rd, it, &s)) < 0)
        return rc;
    if ((v = parse(s)) < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "\"%s\" is not one of %s", s, allowed);
        return bad(rd, bson_iter_key(it), msg);
    }
    *out = v;
    return 0;
}

static int parse_policy(struct rd *rd, bson_iter_t *parent, struct policy_cfg *cfg)
{
    bson_iter_t it;
    int rc = 0, v = 0;
    int64_t i64 = 0;
    if (!BSON_ITER_HOLDS_DOCUMENT(parent) || !bson_iter_recurse(parent, &it))
        return bad(rd, "policy", "expected an object");
    snprintf(rd->path, sizeof rd->path, "policy");
    while (rc == 0 && bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (!strcmp(k, "algorithm")) {
            if ((rc = get_enum(rd, &it, snapshot_algorithm_parse,
                               "threshold, joule, thr-mmt, lr-mmt", &v)) == 0)
                cfg->algorithm = (enum policy_algorithm)v;
        } else if (!strcmp(k, "balance")) {
            if ((rc = get_enum(rd, &it, snapshot_balance_parse, "differencing, bands, none",
                               &v)) == 0)
                cfg->balance = (enum policy_balance)v;
        } else if (!strcmp(k, "th1_pct")) {
            rc = get_double(rd, &it, 0, &cfg->th1_pct);
        } else if (!strcmp(k, "th2_factor")) {
            rc = get_double(rd, &it, 0, &cfg->th2_factor);
        } else if (!strcmp(k, "placement_target_pct")) {
            rc = get_double(rd, &it, 0, &cfg->placement_target_pct);
        } else if (!strcmp(k, "balance_gap_pct")) {
            rc = get_double(rd, &it, 0, &cfg->balance_gap_pct);
        } else if (!strcmp(k, "max_moves_per_round")) {
            if ((rc = get_int64(rd, &it, 0, UINT32_MAX, &i64)) == 0)
                cfg->max_moves_per_round = (unsigned)i64;
        } else if (!strcmp(k, "vm_cooldown_ns")) {
            rc = get_int64(rd, &it, 0, INT64_MAX, &cfg->vm_cooldown_ns);
        } else if (!strcmp(k, "host_min_off_ns")) {
            rc = get_int64(rd, &it, 0, INT64_MAX, &cfg->host_min_off_ns);
        } else if (!strcmp(k, "th2_dead_band_pct")) {
            rc = get_double(rd, &it, 0, &cfg->th2_dead_band_pct);
        } else if (!strcmp(k, "host_min_on_ns")) {
            rc = get_int64(rd, &it, 0, INT64_MAX, &cfg->host_min_on_ns);
        } else if (!strcmp(k, "seed")) {
            if ((rc = get_int64(rd, &it, 0, INT64_MAX, &i64)) == 0)
                cfg->seed = (uint64_t)i64;
        } else {
            rc = bad(rd, k, "unknown key");
        }
    }
    rd->path[0] = '\0';
    return rc;
}

static int parse_host(struct rd *rd, bson_iter_t *it, struct snap_host *h)
{
    bool seen_cpus = false, seen_mem = false, seen_state = false, seen_load = false;
    int rc = 0, v = 0;
    int64_t i64 = 0;
    const char *s = NULL;
    h->reachable = true;
    h->off_since_ns = SNAP_NEVER;
    h->on_since_ns = SNAP_NEVER;
    while (rc == 0 && bson_iter_next(it)) {
        const char *k = bson_iter_key(it);
        if (!strcmp(k, "name")) {
            if ((rc = get_str(rd, it, &s)) == 0) {
                free((char *)h->name);
                h->name = xstrdup(s);
            }
        } else if (!strcmp(k, "cpus")) {
            rc = get_double(rd, it, 0, &h->cpus);
            seen_cpus = true;
        } else if (!strcmp(k, "mem_mib")) {
            rc = get_double(rd, it, 0, &h->mem_mib);
            seen_mem = true;
        } else if (!strcmp(k, "state")) {
            if ((rc = get_enum(rd, it, snapshot_power_state_parse,
                               "on, off, waking, draining, powering_off, unknown", &v)) == 0)
                h->state = (enum power_state)v;
            seen_state = true;
        } else if (!strcmp(k, "load_pct")) {
            rc = get_double(rd, it, 0, &h->load_pct);
            seen_load = true;
        } else if (!strcmp(k, "idle_w")) {
            rc = get_double(rd, it, 0, &h->idle_w);
        } else if (!strcmp(k, "max_w")) {
            rc = get_double(rd, it, 0, &h->max_w);
        } else if (!strcmp(k, "priority")) {
            if ((rc = get_int64(rd, it, INT32_MIN, INT32_MAX, &i64)) == 0)
                h->priority = (int)i64;
        } else if (!strcmp(k, "excluded")) {
            rc = get_bool(rd, it, &h->excluded);
        } else if (!strcmp(k, "reachable")) {
            rc = get_bool(rd, it, &h->reachable);
        } else if (!strcmp(k, "off_since_ns")) {
            rc = get_time(rd, it, &h->off_since_ns);
        } else if (!strcmp(k, "on_since_ns")) {
            rc = get_time(rd, it, &h->on_since_ns);
        } else if (!strcmp(k, "boot_ns")) {
            rc = get_int64(rd, it, 0, INT64_MAX, &h->boot_ns);
        } else if (!strcmp(k, "receiving")) {
            rc = get_bool(rd, it, &h->receiving);
        } else {
            rc = bad(rd, k, "unknown key");
        }
    }
    if (rc < 0)
        return rc;
    if (!h->name)
        return bad(rd, "name", "missing");
    if (!seen_cpus)
        return bad(rd, "cpus", "missing");
    if (!seen_mem)
        return bad(rd, "mem_mib", "missing");
    if (!seen_state)
        return bad(rd, "state", "missing");
    if (!seen_load)
        return bad(rd, "load_pct", "missing");
    return 0;
}

static int parse_vm(struct rd *rd, bson_iter_t *it, struct snap_vm *vm)
{
    bool seen_host = false, seen_cores = false, seen_mem = false;
    int rc = 0;
    const char *s = NULL;
    vm->host = -1;
    vm->vcpus = 1;
    vm->last_move_ns = SNAP_NEVER;
    while (rc == 0 && bson_iter_next(it)) {
        const char *k = bson_iter_key(it);
        if (!strcmp(k, "uuid") || !strcmp(k, "name")) {
            if ((rc = get_str(rd, it, &s)) == 0) {
                const char **dst = k[0] == 'u' ? &vm->uuid : &vm->name;
                free((char *)*dst);
                *dst = xstrdup(s);
            }
        } else if (!strcmp(k, "host")) {
            seen_host = true;
            if (BSON_ITER_HOLDS_NULL(it))
                continue;
            if ((rc = get_str(rd, it, &s)) < 0)
                break;
            vm->host = host_lookup(rd, s);
            if (vm->host < 0) {
                char msg[160];
                snprintf(msg, sizeof msg, "no host named \"%s\"", s);
                rc = bad(rd, k, msg);
            }
        } else if (!strcmp(k, "vcpus")) {
            rc = get_double(rd, it, 0, &vm->vcpus);
        } else if (!strcmp(k, "mem_mib")) {
            rc = get_double(rd, it, 0, &vm->mem_mib);
            seen_mem = true;
        } else if (!strcmp(k, "cpu_cores")) {
            rc = get_double(rd, it, 0, &vm->cpu_cores);
            seen_cores = true;
        } else if (!strcmp(k, "pinned")) {
            rc = get_bool(rd, it, &vm->pinned);
        } else if (!strcmp(k, "migrating")) {
            rc = get_bool(rd, it, &vm->migrating);
        } else if (!strcmp(k, "last_move_ns")) {
            rc = get_time(rd, it, &vm->last_move_ns);
        } else {
            rc = bad(rd, k, "unknown key");
        }
    }
    if (rc < 0)
        return rc;
    if (!vm->uuid)
        return bad(rd, "uuid", "missing");
    if (!vm->name)
        vm->name = xstrdup(vm->uuid);
    if (!seen_host)
        return bad(rd, "host", "missing (a host name, or null)");
    if (!seen_cores)
        return bad(rd, "cpu_cores", "missing");
    if (!seen_mem)
        return bad(rd, "mem_mib", "missing");
    return 0;
}

/* Counts the elements of an array and checks each is an object. */
static int array_len(struct rd *rd, const bson_iter_t *arr, const char *key, size_t *n)
{
    bson_iter_t it;
    if (!BSON_ITER_HOLDS_ARRAY(arr) || !bson_iter_recurse(arr, &it))
        return bad(rd, key, "expected an array of objects");
    *n = 0;
    while (bson_iter_next(&it)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
            snprintf(rd->path, sizeof rd->path, "%s[%zu]", key, *n);
            int rc = joule_err_set(rd->err, JOULE_EINVAL, "%s: %s: expected an object",
                                   rd->origin, rd->path);
            rd->path[0] = '\0';
            return rc;
        }
        (*n)++;
    }
    return 0;
}

static int parse_doc(struct rd *rd, const bson_t *b, struct snapshot_doc *d)
{
    struct model_snapshot *snap = &d->snap;
    bson_iter_t it, hosts_it, vms_it;
    bool have_hosts = false, have_vms = false, have_now = false;
    int rc = 0;
    int64_t i64 = 0;
    if (!bson_iter_init(&it, b))
        return joule_err_set(rd->err, JOULE_EINVAL, "%s: not a JSON object", rd->origin);
    snap->min_active_hosts = 1;
    while (rc == 0 && bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (k[0] == '_') {
            continue; /* "_comment" and the like */
        } else if (!strcmp(k, "now_ns")) {
            rc = get_int64(rd, &it, INT64_MIN + 1, INT64_MAX, &snap->now_ns);
            have_now = true;
        } else if (!strcmp(k, "consolidation_allowed")) {
            rc = get_bool(rd, &it, &snap->consolidation_allowed);
        } else if (!strcmp(k, "peak")) {
            rc = get_bool(rd, &it, &snap->peak);
        } else if (!strcmp(k, "min_active_hosts")) {
            if ((rc = get_int64(rd, &it, 0, UINT32_MAX, &i64)) == 0)
                snap->min_active_hosts = (unsigned)i64;
        } else if (!strcmp(k, "expected_load_cores")) {
            rc = get_double(rd, &it, 0, &snap->expected_load_cores);
        } else if (!strcmp(k, "policy")) {
            rc = parse_policy(rd, &it, &d->cfg);
            d->has_policy = true;
        } else if (!strcmp(k, "hosts")) {
            hosts_it = it;
            have_hosts = true;
            rc = array_len(rd, &it, "hosts", &snap->n_hosts);
        } else if (!strcmp(k, "vms")) {
            vms_it = it;
            have_vms = true;
            rc = array_len(rd, &it, "vms", &snap->n_vms);
        } else {
            rc = bad(rd, k, "unknown key");
        }
    }
    if (rc < 0)
        return rc;
    if (!have_now)
        return bad(rd, "now_ns", "missing");
    if (!have_hosts)
        return bad(rd, "hosts", "missing");
    snap->hosts = xcalloc(snap->n_hosts + 1, sizeof *snap->hosts);
    size_t i = 0;
    bson_iter_t arr, el;
    bson_iter_recurse(&hosts_it, &arr);
    while (bson_iter_next(&arr)) {
        snprintf(rd->path, sizeof rd->path, "hosts[%zu]", i);
        bson_iter_recurse(&arr, &el);
        if ((rc = parse_host(rd, &el, &snap->hosts[i])) < 0)
            return rc;
        i++;
    }
    rd->by_name = xcalloc(snap->n_hosts + 1, sizeof *rd->by_name);
    rd->n_hosts = snap->n_hosts;
    for (i = 0; i < snap->n_hosts; i++)
        rd->by_name[i] = (struct host_key){ snap->hosts[i].name, (int)i };
    qsort(rd->by_name, snap->n_hosts, sizeof *rd->by_name, host_key_cmp);
    for (i = 1; i < snap->n_hosts; i++)
        if (!strcmp(rd->by_name[i - 1].name, rd->by_name[i].name)) {
            snprintf(rd->path, sizeof rd->path, "hosts[%d]", rd->by_name[i].idx);
            return bad(rd, "name", "duplicate host name");
        }
    snap->vms = xcalloc(snap->n_vms + 1, sizeof *snap->vms);
    if (have_vms) {
        i = 0;
        bson_iter_recurse(&vms_it, &arr);
        while (bson_iter_next(&arr)) {
            snprintf(rd->path, sizeof rd->path, "vms[%zu]", i);
            bson_iter_recurse(&arr, &el);
            if ((rc = parse_vm(rd, &el, &snap->vms[i])) < 0)
                return rc;
            i++;
        }
    }
    rd->path[0] = '\0';
    return 0;
}

void snapshot_doc_free(struct snapshot_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->snap.n_hosts && d->snap.hosts; i++)
        free((char *)d->snap.hosts[i].name);
    for (size_t i = 0; i < d->snap.n_vms && d->snap.vms; i++) {
        free((char *)d->snap.vms[i].uuid);
        free((char *)d->snap.vms[i].name);
    }
    free(d->snap.hosts);
    free(d->snap.vms);
    free(d);
}

int snapshot_json_parse(const char *json, size_t len, const char *origin,
                        struct snapshot_doc **out, struct joule_err *err)
{
    bson_error_t berr;
    if (len > (size_t)SNAPSHOT_JSON_MAX_BYTES)
        return joule_err_set(err, JOULE_EINVAL, "%s: larger than %ld bytes", origin,
                             SNAPSHOT_JSON_MAX_BYTES);
    bson_t *b = bson_new_from_json((const uint8_t *)json, (ssize_t)len, &berr);
    if (!b)
        return joule_err_set(err, JOULE_EINVAL, "%s: invalid JSON: %s", origin, berr.message);
    struct snapshot_doc *d = xcalloc(1, sizeof *d);
    policy_cfg_defaults(&d->cfg);
    struct rd rd = { .origin = origin, .err = err };
    int rc = parse_doc(&rd, b, d);
    free(rd.by_name);
    bson_destroy(b);
    if (rc < 0) {
        snapshot_doc_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int snapshot_json_load(const char *path, struct snapshot_doc **out, struct joule_err *err)
{
    bool use_stdin = !strcmp(path, "-");
    FILE *f = use_stdin ? stdin : fopen(path, "rb");
    if (use_stdin)
        path = "<stdin>";
    if (!f)
        return joule_err_set(err, errno == ENOENT ? JOULE_ENOENT : JOULE_EIO, "%s: %s", path,
                             strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        xgrow((void **)&buf, &cap, len + 65536, 1);
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
        if (len > (size_t)SNAPSHOT_JSON_MAX_BYTES) {
            rc = joule_err_set(err, JOULE_EINVAL, "%s: larger than %ld bytes", path,
                               SNAPSHOT_JSON_MAX_BYTES);
            break;
        }
    }
    if (rc == 0 && ferror(f))
        rc = joule_err_set(err, JOULE_EIO, "%s: read error", path);
    if (!use_stdin)
        fclose(f);
    if (rc == 0)
        rc = snapshot_json_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

/* ---- writing ---- */

static void append_time(bson_t *doc, const char *key, int64_t t)
{
    if (t == SNAP_NEVER)
        BSON_APPEND_NULL(doc, key);
    else
        BSON_APPEND_INT64(doc, key, t);
}

void snapshot_to_bson(const struct model_snapshot *s, const struct policy_cfg *cfg, bson_t *doc)
{
    BSON_APPEND_INT64(doc, "now_ns", s->now_ns);
    BSON_APPEND_BOOL(doc, "consolidation_allowed", s->consolidation_allowed);
    BSON_APPEND_BOOL(doc, "peak", s->peak);
    BSON_APPEND_INT64(doc, "min_active_hosts", s->min_active_hosts);
    BSON_APPEND_DOUBLE(doc, "expected_load_cores", s->expected_load_cores);
    if (cfg) {
        bson_t p;
        BSON_APPEND_DOCUMENT_BEGIN(doc, "policy", &p);
        const char *alg = snapshot_algorithm_name(cfg->algorithm);
        const char *bal = snapshot_balance_name(cfg->balance);
        BSON_APPEND_UTF8(&p, "algorithm", alg ? alg : "?");
        BSON_APPEND_DOUBLE(&p, "th1_pct", cfg->th1_pct);
        BSON_APPEND_DOUBLE(&p, "th2_factor", cfg->th2_factor);
        BSON_APPEND_DOUBLE(&p, "placement_target_pct", cfg->placement_target_pct);
        BSON_APPEND_DOUBLE(&p, "balance_gap_pct", cfg->balance_gap_pct);
        BSON_APPEND_UTF8(&p, "balance", bal ? bal : "?");
        BSON_APPEND_INT64(&p, "max_moves_per_round", cfg->max_moves_per_round);
        BSON_APPEND_INT64(&p, "vm_cooldown_ns", cfg->vm_cooldown_ns);
        BSON_APPEND_INT64(&p, "host_min_off_ns", cfg->host_min_off_ns);
        BSON_APPEND_INT64(&p, "seed", (int64_t)(cfg->seed & INT64_MAX));
        BSON_APPEND_DOUBLE(&p, "th2_dead_band_pct", cfg->th2_dead_band_pct);
        BSON_APPEND_INT64(&p, "host_min_on_ns", cfg->host_min_on_ns);
        bson_append_document_end(doc, &p);
    }
    bson_t arr, el;
    char idx[24];
    const char *key;
    BSON_APPEND_ARRAY_BEGIN(doc, "hosts", &arr);
    for (size_t i = 0; i < s->n_hosts; i++) {
        const struct snap_host *h = &s->hosts[i];
        bson_uint32_to_string((uint32_t)i, &key, idx, sizeof idx);
        bson_append_document_begin(&arr, key, -1, &el);
        BSON_APPEND_UTF8(&el, "name", h->name ? h->name : "");
        BSON_APPEND_DOUBLE(&el, "cpus", h->cpus);
        BSON_APPEND_DOUBLE(&el, "mem_mib", h->mem_mib);
        const char *st = snapshot_power_state_name(h->state);
        BSON_APPEND_UTF8(&el, "state", st ? st : "unknown");
        BSON_APPEND_DOUBLE(&el, "load_pct", h->load_pct);
        BSON_APPEND_DOUBLE(&el, "idle_w", h->idle_w);
        BSON_APPEND_DOUBLE(&el, "max_w", h->max_w);
        BSON_APPEND_INT32(&el, "priority", h->priority);
        BSON_APPEND_BOOL(&el, "excluded", h->excluded);
        BSON_APPEND_BOOL(&el, "reachable", h->reachable);
        append_time(&el, "off_since_ns", h->off_since_ns);
        append_time(&el, "on_since_ns", h->on_since_ns);
        BSON_APPEND_INT64(&el, "boot_ns", h->boot_ns);
        BSON_APPEND_BOOL(&el, "receiving", h->receiving);
        bson_append_document_end(&arr, &el);
    }
    bson_append_array_end(doc, &arr);
    BSON_APPEND_ARRAY_BEGIN(doc, "vms", &arr);
    for (size_t i = 0; i < s->n_vms; i++) {
        const struct snap_vm *v = &s->vms[i];
        bson_uint32_to_string((uint32_t)i, &key, idx, sizeof idx);
        bson_append_document_begin(&arr, key, -1, &el);
        BSON_APPEND_UTF8(&el, "uuid", v->uuid ? v->uuid : "");
        BSON_APPEND_UTF8(&el, "name", v->name ? v->name : (v->uuid ? v->uuid : ""));
        if (v->host >= 0 && (size_t)v->host < s->n_hosts && s->hosts[v->host].name)
            BSON_APPEND_UTF8(&el, "host", s->hosts[v->host].name);
        else
            BSON_APPEND_NULL(&el, "host");
        BSON_APPEND_DOUBLE(&el, "vcpus", v->vcpus);
        BSON_APPEND_DOUBLE(&el, "mem_mib", v->mem_mib);
        BSON_APPEND_DOUBLE(&el, "cpu_cores", v->cpu_cores);
        BSON_APPEND_BOOL(&el, "pinned", v->pinned);
        BSON_APPEND_BOOL(&el, "migrating", v->migrating);
        append_time(&el, "last_move_ns", v->last_move_ns);
        bson_append_document_end(&arr, &el);
    }
    bson_append_array_end(doc, &arr);
}

static char *to_json(const bson_t *b)
{
    size_t len;
    char *j = bson_as_relaxed_extended_json(b, &len);
    char *copy = xstrndup(j, len);
    bson_free(j);
    return copy;
}

char *snapshot_json_write(const struct model_snapshot *s, const struct policy_cfg *cfg)
{
    bson_t doc = BSON_INITIALIZER;
    snapshot_to_bson(s, cfg, &doc);
    char *j = to_json(&doc);
    bson_destroy(&doc);
    return j;
}

static void append_host(bson_t *doc, const char *key, const struct model_snapshot *s, int h)
{
    if (h >= 0 && (size_t)h < s->n_hosts && s->hosts[h].name)
        BSON_APPEND_UTF8(doc, key, s->hosts[h].name);
    else
        BSON_APPEND_NULL(doc, key);
}

void plan_to_bson(const struct plan *p, const struct model_snapshot *s, bson_t *doc)
{
    bson_t arr, el;
    char idx[24];
    const char *key;
    BSON_APPEND_ARRAY_BEGIN(doc, "actions", &arr);
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_action *a = &p->actions[i];
        bson_uint32_to_string((uint32_t)i, &key, idx, sizeof idx);
        bson_append_document_begin(&arr, key, -1, &el);
        BSON_APPEND_UTF8(&el, "kind", plan_action_kind_name(a->kind));
        BSON_APPEND_UTF8(&el, "reason", plan_reason_name(a->reason));
        if (a->vm >= 0 && (size_t)a->vm < s->n_vms) {
            const struct snap_vm *v = &s->vms[a->vm];
            BSON_APPEND_UTF8(&el, "vm", v->uuid ? v->uuid : "");
            BSON_APPEND_UTF8(&el, "vm_name", v->name ? v->name : (v->uuid ? v->uuid : ""));
        } else {
            BSON_APPEND_NULL(&el, "vm");
            BSON_APPEND_NULL(&el, "vm_name");
        }
        append_host(&el, "from", s, a->from);
        append_host(&el, "to", s, a->to);
        append_host(&el, "host", s, a->host);
        BSON_APPEND_UTF8(&el, "detail", a->detail);
        BSON_APPEND_DOUBLE(&el, "expected_gain_w", a->expected_gain_w);
        if (a->kind == PLAN_ACTION_MIGRATE) {
            BSON_APPEND_DOUBLE(&el, "from_load_pct", a->from_load_pct);
            BSON_APPEND_DOUBLE(&el, "to_load_pct", a->to_load_pct);
        }
        bson_append_document_end(&arr, &el);
    }
    bson_append_array_end(doc, &arr);
}

char *plan_json_write(const struct plan *p, const struct model_snapshot *s)
{
    bson_t doc = BSON_INITIALIZER;
    plan_to_bson(p, s, &doc);
    char *j = to_json(&doc);
    bson_destroy(&doc);
    return j;
}

/* config.c - libconfig file -> struct config. Every error is "file:line: key: what (allowed)". */
#include "config.h"
#include "policy/policy.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/cfgutil.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define MAX_HOSTS 4096
#define MAX_DURATION_S (366.0 * 24 * 3600)
#define SAMPLE_TIMEOUT_TICK_DIVISOR 4 /* default sample_timeout_s = tick_s / 4 */
#define SAMPLE_TIMEOUT_MIN_S 0.001

static const char *const mode_names[] = { "auto", "dry-run", NULL };
static const char *const algorithm_names[] = { "threshold", "joule", "thr-mmt", "lr-mmt", NULL };
static const char *const balance_names[] = { "differencing", "bands", "none", NULL };
static const char *const consolidate_names[] = { "off-peak", "always", "never", NULL };
static const char *const method_names[] = { "ipmi", "wol", "exec", "sim", NULL };
static const char *const hypervisor_names[] = { "libvirt", "sim", NULL };
static const char *const protocol_names[] = { "xbee1", "xbee2", "znp", "sim", "none", NULL };
static const char *const parity_names[] = { "none", "even", "odd", NULL };
static const char *const flow_names[] = { "none", "rtscts", "xonxoff", NULL };
static const char *const migrate_flag_names[] = { "live",     "peer2peer",     "persist_dest",
                                                  "undefine_source", "auto_converge",
                                                  "compressed",      NULL };

const char *config_mode_name(enum config_mode m) { return mode_names[m]; }
const char *config_algorithm_name(enum config_algorithm a) { return algorithm_names[a]; }
const char *config_balance_name(enum config_balance b) { return balance_names[b]; }
const char *config_power_method_name(enum config_power_method m) { return method_names[m]; }
const char *config_meter_protocol_name(enum config_meter_protocol p) { return protocol_names[p]; }

static const char *const top_keys[] = {
    "cluster", "mode", "log_level", "tick_s", "load_window_s", "periodic_s", "policy",
    "schedule", "migration", "meter", "store", "api", "secrets_file", "excluded_hosts",
    "pinned_vms", "excluded_vms", "hosts", "sim",
    "sample_timeout_s", "sample_unreachable_s", NULL
};
static const char *const policy_keys[] = {
    "algorithm", "th1_pct", "th2_factor", "overload_pct", "balance_gap_pct",
    "placement_target_pct", "balance", "consolidate", "min_active_hosts", "max_moves_per_round",
    "vm_cooldown_s", "host_min_off_s", "seed", "thr_threshold", "lr_safety",
    "lr_fallback_threshold", "lr_history", "joule_percentile", "joule_window",
    "joule_target_pct", "joule_high_pct", "joule_low_pct", "joule_headroom_pct",
    "joule_min_gain_wh", "joule_horizon_s", "joule_migration_w", "overload_cooldown_s",
    "th2_dead_band_pct", "host_min_on_s", NULL
};
static const char *const schedule_keys[] = { "timezone", "peak", "off_peak",
                                             "peak_min_active_hosts", "wake_lead_s",
                                             "peak_expected_load_pct", NULL };
static const char *const migration_keys[] = { "in_flight", "per_source", "timeout_s", "flags",
                                              "bandwidth_mibps", NULL };
static const char *const meter_keys[] = { "protocol", "port", "baud", "data_bits", "parity",
                                          "stop_bits", "flow", "stale_s", "read_timeout_ms",
                                          NULL };
static const char *const store_keys[] = { "uri", "database", "retention_days", "spool_path",
                                          "spool_max_mb", NULL };
static const char *const api_keys[] = { "listen", "token_file", NULL };
static const char *const host_keys[] = { "name", "uri", "migration_uri", "hypervisor", "cpus",
                                         "memory_mib", "meter", "idle_w", "max_w", "standby_w",
                                         "priority", "excluded", "power", "boot_s",
                                         "shutdown_s", NULL };
static const char *const power_keys[] = { "methods", "ipmi", "wol", "exec", NULL };
static const char *const ipmi_keys[] = { "host", "user", "cipher_suite", "timeout_s", "retries",
                                         "soft_off_grace_s", "workaround_opensesspriv",
                                         "watts_sensor", "watts_dcmi", NULL };
static const char *const wol_keys[] = { "mac", "broadcast", "port", "interface", NULL };
static const char *const exec_keys[] = { "on", "off", "status", "timeout_s", NULL };
static const char *const sim_keys[] = { "start", "time_factor", "duration_s", "migration_mibps",
                                        "vms", NULL };
static const char *const sim_vm_keys[] = { "name", "host", "vcpus", "memory_mib", "base",
                                           "amplitude", "trough_h", "period_h", NULL };
static const char *const secrets_host_keys[] = { "name", "ipmi_user", "ipmi_password",
                                                 "wol_secureon", NULL };

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->cluster = xstrdup("default");
    cfg->mode = CONFIG_MODE_AUTO;
    cfg->log_level = xstrdup("info");
    cfg->tick_ns = 10 * JOULE_NS_PER_S;
    cfg->load_window_ns = 60 * JOULE_NS_PER_S;
    cfg->periodic_ns = 600 * JOULE_NS_PER_S;

    struct config_policy *p = &cfg->policy;
    p->algorithm = CONFIG_ALGORITHM_THRESHOLD;
    p->th1_pct = 80;
    p->th2_factor = 0.8;
    p->overload_pct = 90;
    p->balance_gap_pct = 10;
    p->placement_target_pct = 80;
    p->balance = CONFIG_BALANCE_DIFFERENCING;
    p->consolidate = CONFIG_CONSOLIDATE_OFF_PEAK;
    p->min_active_hosts = 1;
    p->max_moves_per_round = 4;
    p->vm_cooldown_ns = 1800 * JOULE_NS_PER_S;
    p->host_min_off_ns = 1800 * JOULE_NS_PER_S;
    p->seed = 1;
    p->overload_cooldown_ns = 120 * JOULE_NS_PER_S;
    p->thr_threshold = 0.8;
    p->lr_safety = 1.2;
    p->lr_fallback_threshold = 0.7;
    p->lr_history = 10;
    p->joule_percentile = JOULE_DEFAULT_PERCENTILE;
    p->joule_window = JOULE_DEFAULT_WINDOW;
    p->joule_target_pct = JOULE_DEFAULT_TARGET_PCT;
    p->joule_high_pct = JOULE_DEFAULT_HIGH_PCT;
    p->joule_low_pct = JOULE_DEFAULT_LOW_PCT;
    p->joule_headroom_pct = JOULE_DEFAULT_HEADROOM_PCT;
    p->joule_min_gain_wh = JOULE_DEFAULT_MIN_GAIN_WH;
    p->joule_horizon_s = JOULE_DEFAULT_HORIZON_S;
    p->joule_migration_w = JOULE_DEFAULT_MIGRATION_W;
    p->th2_dead_band_pct = POLICY_DEFAULT_TH2_DEAD_BAND_PCT;
    p->host_min_on_ns = POLICY_DEFAULT_HOST_MIN_ON_S * JOULE_NS_PER_S;

    cfg->schedule.timezone = xstrdup("UTC");
    cfg->schedule.peak_min_active_hosts = 1;

    cfg->migration.in_flight = 2;
    cfg->migration.per_source = 1;
    cfg->migration.timeout_ns = 300 * JOULE_NS_PER_S;
    cfg->migration.flags = CONFIG_MIGRATE_LIVE | CONFIG_MIGRATE_PEER2PEER |
                           CONFIG_MIGRATE_PERSIST_DEST | CONFIG_MIGRATE_UNDEFINE_SOURCE;

    cfg->meter.protocol = CONFIG_METER_NONE;
    cfg->meter.baud = 9600;
    cfg->meter.data_bits = 8;
    cfg->meter.parity = CONFIG_PARITY_NONE;
    cfg->meter.stop_bits = 1;
    cfg->meter.flow = CONFIG_FLOW_NONE;
    cfg->meter.stale_ns = 60 * JOULE_NS_PER_S;
    cfg->meter.read_timeout_ns = 500 * JOULE_NS_PER_MS;

    cfg->store.uri = xstrdup("mongodb://127.0.0.1:27017/joule");
    cfg->store.database = xstrdup("joule");
    cfg->store.retention_days = 90;
    cfg->store.spool_path = xstrdup("/var/lib/joule/spool");
    cfg->store.spool_max_bytes = 256LL * 1024 * 1024;

    cfg->api.listen = xstrdup("127.0.0.1:8642");
    cfg->api.token_file = xstrdup("/etc/joule/api.token");

    cfg->excluded_hosts = xcalloc(1, sizeof(char *));
    cfg->pinned_vms = xcalloc(1, sizeof(char *));
    cfg->excluded_vms = xcalloc(1, sizeof(char *));

    cfg->sim.time_factor = 1;
    cfg->sim.migration_mibps = 1000;

    cfg->sample_timeout_ns = cfg->tick_ns / SAMPLE_TIMEOUT_TICK_DIVISOR;
    cfg->sample_unreachable_ns = cfg->tick_ns;
}

static void host_free(struct config_host *h)
{
    free(h->name);
    free(h->uri);
    free(h->migration_uri);
    free(h->meter);
    free(h->ipmi.host);
    free(h->ipmi.user);
    if (h->ipmi.password) {
        memset(h->ipmi.password, 0, strlen(h->ipmi.password));
        free(h->ipmi.password);
    }
    free(h->wol.mac);
    free(h->wol.broadcast);
    free(h->wol.interface);
    free(h->wol.secureon);
    cfg_strv_free(h->exec.on);
    cfg_strv_free(h->exec.off);
    cfg_strv_free(h->exec.status);
}

static void windows_free(struct config_window *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(w[i].text);
    free(w);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->warnings);
    free(cfg->cluster);
    free(cfg->log_level);
    free(cfg->schedule.timezone);
    windows_free(cfg->schedule.peak, cfg->schedule.n_peak);
    windows_free(cfg->schedule.off_peak, cfg->schedule.n_off_peak);
    free(cfg->meter.port);
    free(cfg->store.uri);
    free(cfg->store.database);
    free(cfg->store.spool_path);
    free(cfg->api.listen);
    free(cfg->api.token_file);
    if (cfg->api.token) {
        memset(cfg->api.token, 0, strlen(cfg->api.token));
        free(cfg->api.token);
    }
    free(cfg->secrets_file);
    cfg_strv_free(cfg->excluded_hosts);
    cfg_strv_free(cfg->pinned_vms);
    cfg_strv_free(cfg->excluded_vms);
    for (size_t i = 0; i < cfg->n_hosts; i++)
        host_free(&cfg->hosts[i]);
    free(cfg->hosts);
    for (size_t i = 0; i < cfg->sim.n_vms; i++) {
        free(cfg->sim.vms[i].name);
        free(cfg->sim.vms[i].host);
    }
    free(cfg->sim.vms);
    free(cfg);
}

/* ---- small typed helpers on top of cfgutil ---- */

static void get_duration(const config_setting_t *g, const char *key, double min_s, int64_t *out_ns,
                         struct cfg_errors *e)
{
    double v;
    if (cfg_get_double(g, key, min_s, MAX_DURATION_S, &v, e))
        *out_ns = (int64_t)llround(v * (double)JOULE_NS_PER_S);
}

static void get_unsigned(const config_setting_t *g, const char *key, long long min, long long max,
                         unsigned *out, struct cfg_errors *e)
{
    long long v;
    if (cfg_get_int(g, key, min, max, &v, e))
        *out = (unsigned)v;
}

static void get_int(const config_setting_t *g, const char *key, long long min, long long max,
                    int *out, struct cfg_errors *e)
{
    long long v;
    if (cfg_get_int(g, key, min, max, &v, e))
        *out = (int)v;
}

static const config_setting_t *get_group(const config_setting_t *parent, const char *key,
                                         const char *const *keys, struct cfg_errors *e)
{
    config_setting_t *g = config_setting_get_member(parent, key);
    if (!g)
        return NULL;
    if (!config_setting_is_group(g)) {
        cfg_errors_addf(e, g, "%s: expected a group { ... }", key);
        return NULL;
    }
    cfg_check_keys(g, keys, e);
    return g;
}

/* ---- weekly windows ---- */

static int day_index(const char *s, size_t n)
{
    static const char *const days[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
    for (int i = 0; i < 7; i++)
        if (n == 3 && strncasecmp(s, days[i], 3) == 0)
            return i;
    return -1;
}

static int parse_hhmm(const char *s, int *out)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return -1;
    *out = h * 60 + m;
    return 0;
}

int config_window_parse(const char *text, struct config_window *out, struct joule_err *err)
{
    const char *sp = strchr(text, ' ');
    if (!sp)
        return joule_err_set(err, JOULE_EINVAL,
                             "\"%s\" is not a window (e.g. \"mon-fri 08:00-18:00\")", text);
    uint8_t days = 0;
    const char *p = text;
    size_t dn = (size_t)(sp - text);
    if (dn == 5 && strncasecmp(text, "daily", 5) == 0) {
        days = 0x7f;
    } else {
        while (p < sp) {
            const char *comma = memchr(p, ',', (size_t)(sp - p));
            const char *end = comma ? comma : sp;
            const char *dash = memchr(p, '-', (size_t)(end - p));
            int a, b;
            if (dash) {
                a = day_index(p, (size_t)(dash - p));
                b = day_index(dash + 1, (size_t)(end - dash - 1));
            } else {
                a = b = day_index(p, (size_t)(end - p));
            }
            if (a < 0 || b < 0)
                return joule_err_set(err, JOULE_EINVAL,
                                     "\"%s\": bad day list (mon..sun, ranges like mon-fri, or daily)",
                                     text);
            for (int d = a;; d = (d + 1) % 7) {
                days |= (uint8_t)(1u << d);
                if (d == b)
                    break;
            }
            p = comma ? comma + 1 : sp;
        }
    }
    while (*sp == ' ')
        sp++;
    int start, end;
    if (strlen(sp) != 11 || sp[5] != '-' || parse_hhmm(sp, &start) < 0 ||
        parse_hhmm(sp + 6, &end) < 0 || start == 1440)
        return joule_err_set(err, JOULE_EINVAL, "\"%s\": bad time range (HH:MM-HH:MM)", text);
    if (end == start)
        return joule_err_set(err, JOULE_EINVAL, "\"%s\": the window is empty", text);
    out->days = days;
    out->start_min = start;
    out->end_min = end;
    out->text = xstrdup(text);
    return 0;
}

bool config_window_contains(const struct config_window *w, int weekday, int minute)
{
    if (w->end_min > w->start_min)
        return (w->days & (1u << weekday)) && minute >= w->start_min && minute < w->end_min;
    /* wraps midnight: started today, or started yesterday */
    int yesterday = (weekday + 6) % 7;
    return ((w->days & (1u << weekday)) && minute >= w->start_min) ||
           ((w->days & (1u << yesterday)) && minute < w->end_min);
}

static void get_windows(const config_setting_t *g, const char *key, struct config_window **out,
                        size_t *n, struct cfg_errors *e)
{
    char **v = NULL;
    size_t len = 0;
    if (!cfg_get_strv(g, key, &v, &len, e))
        return;
    config_setting_t *s = config_setting_get_member(g, key);
    struct config_window *w = xcalloc(len + 1, sizeof *w);
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        struct joule_err err;
        if (config_window_parse(v[i], &w[k], &err) < 0)
            cfg_errors_addf(e, s, "%s: %s", key, err.msg);
        else
            k++;
    }
    cfg_strv_free(v);
    windows_free(*out, *n);
    *out = w;
    *n = k;
}

/* ---- addresses ---- */

static int parse_hex_bytes(const char *s, uint8_t *out, size_t want)
{
    size_t k = 0;
    const char *p = s;
    while (*p && k < want) {
        if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]))
            return -1;
        char hex[3] = { p[0], p[1], 0 };
        out[k++] = (uint8_t)strtoul(hex, NULL, 16);
        p += 2;
        if (*p == ':' || *p == '-')
            p++;
    }
    return (k == want && *p == '\0') ? 0 : -1;
}

/* ---- one host ---- */

static void parse_power(const config_setting_t *pw, struct config_host *h, struct cfg_errors *e)
{
    char **methods = NULL;
    size_t nm = 0;
    if (cfg_get_strv(pw, "methods", &methods, &nm, e)) {
        config_setting_t *ms = config_setting_get_member(pw, "methods");
        for (size_t i = 0; i < nm; i++) {
            int idx = -1;
            for (int k = 0; method_names[k]; k++)
                if (strcmp(methods[i], method_names[k]) == 0)
                    idx = k;
            if (idx < 0) {
                cfg_errors_addf(e, ms, "methods: \"%s\" is not allowed (ipmi, wol, exec, sim)",
                                methods[i]);
                continue;
            }
            bool dup = false;
            for (size_t k = 0; k < h->n_methods; k++)
                dup |= h->methods[k] == (enum config_power_method)idx;
            if (dup)
                cfg_errors_addf(e, ms, "methods: \"%s\" is listed twice", methods[i]);
            else
                h->methods[h->n_methods++] = (enum config_power_method)idx;
        }
    }
    cfg_strv_free(methods);

    const config_setting_t *ipmi = get_group(pw, "ipmi", ipmi_keys, e);
    if (ipmi) {
        cfg_get_str(ipmi, "host", &h->ipmi.host, e);
        cfg_get_str(ipmi, "user", &h->ipmi.user, e);
        get_int(ipmi, "cipher_suite", 0, 17, &h->ipmi.cipher_suite, e);
        get_duration(ipmi, "timeout_s", 0.1, &h->ipmi.timeout_ns, e);
        get_int(ipmi, "retries", 0, 10, &h->ipmi.retries, e);
        get_duration(ipmi, "soft_off_grace_s", 0, &h->ipmi.soft_off_grace_ns, e);
        cfg_get_bool(ipmi, "workaround_opensesspriv", &h->ipmi.workaround_opensesspriv, e);
        get_int(ipmi, "watts_sensor", 0, 254, &h->ipmi.watts_sensor, e);
        cfg_get_bool(ipmi, "watts_dcmi", &h->ipmi.watts_dcmi, e);
    }
    const config_setting_t *wol = get_group(pw, "wol", wol_keys, e);
    if (wol) {
        if (cfg_get_str(wol, "mac", &h->wol.mac, e) &&
            parse_hex_bytes(h->wol.mac, h->wol.mac_bytes, 6) < 0)
            cfg_errors_addf(e, config_setting_get_member(wol, "mac"),
                            "mac: \"%s\" is not a MAC address (aa:bb:cc:dd:ee:ff)", h->wol.mac);
        cfg_get_str(wol, "broadcast", &h->wol.broadcast, e);
        get_int(wol, "port", 1, 65535, &h->wol.port, e);
        cfg_get_str(wol, "interface", &h->wol.interface, e);
    }
    const config_setting_t *ex = get_group(pw, "exec", exec_keys, e);
    if (ex) {
        const char *const argv_keys[] = { "on", "off", "status" };
        char ***dst[] = { &h->exec.on, &h->exec.off, &h->exec.status };
        for (size_t i = 0; i < 3; i++) {
            size_t n = 0;
            if (cfg_get_strv(ex, argv_keys[i], dst[i], &n, e) && n == 0)
                cfg_errors_addf(e, config_setting_get_member(ex, argv_keys[i]),
                                "%s: the command is empty (an argv such as [\"/usr/bin/ssh\", "
                                "\"{host}\", \"poweroff\"])",
                                argv_keys[i]);
            else if (n > 0 && (*dst[i])[0][0] != '/')
                cfg_errors_addf(e, config_setting_get_member(ex, argv_keys[i]),
                                "%s: \"%s\" must be an absolute path (no shell, no PATH lookup)",
                                argv_keys[i], (*dst[i])[0]);
        }
        get_duration(ex, "timeout_s", 0.1, &h->exec.timeout_ns, e);
    }

    for (size_t i = 0; i < h->n_methods; i++) {
        config_setting_t *ms = config_setting_get_member(pw, "methods");
        switch (h->methods[i]) {
        case CONFIG_POWER_IPMI:
            if (!h->ipmi.host)
                cfg_errors_addf(e, ms, "methods: ipmi needs power.ipmi.host");
            break;
        case CONFIG_POWER_WOL:
            if (!h->wol.mac)
                cfg_errors_addf(e, ms, "methods: wol needs power.wol.mac");
            break;
        case CONFIG_POWER_EXEC:
            if (!h->exec.on && !h->exec.off)
                cfg_errors_addf(e, ms, "methods: exec needs power.exec.on and/or power.exec.off");
            break;
        case CONFIG_POWER_SIM:
        case CONFIG_POWER__COUNT:
            break;
        }
    }
}

static void host_defaults(struct config_host *h)
{
    memset(h, 0, sizeof *h);
    h->hypervisor = CONFIG_HYPERVISOR_LIBVIRT;
    h->idle_w = 100;
    h->max_w = 250;
    h->standby_w = 15;
    h->ipmi.cipher_suite = 3;
    h->ipmi.timeout_ns = 5 * JOULE_NS_PER_S;
    h->ipmi.retries = 2;
    h->ipmi.soft_off_grace_ns = 120 * JOULE_NS_PER_S;
    h->ipmi.watts_sensor = -1;
    h->wol.broadcast = xstrdup("255.255.255.255");
    h->wol.port = 9;
    h->exec.timeout_ns = 60 * JOULE_NS_PER_S;
    h->boot_ns = 180 * JOULE_NS_PER_S;
    h->shutdown_ns = 60 * JOULE_NS_PER_S;
}

static void parse_host(const config_setting_t *hs, struct config_host *h, struct cfg_errors *e)
{
    host_defaults(h);
    h->line = (int)config_setting_source_line(hs);
    if (!config_setting_is_group(hs)) {
        cfg_errors_addf(e, hs, "hosts: each host is a group { name = ...; uri = ...; }");
        return;
    }
    cfg_check_keys(hs, host_keys, e);
    if (!cfg_get_str(hs, "name", &h->name, e))
        cfg_errors_addf(e, hs, "hosts: a host needs a name");
    int hv = 0;
    if (cfg_get_enum(hs, "hypervisor", hypervisor_names, &hv, e))
        h->hypervisor = (enum config_hypervisor)hv;
    if (!cfg_get_str(hs, "uri", &h->uri, e) && h->hypervisor == CONFIG_HYPERVISOR_LIBVIRT)
        cfg_errors_addf(e, hs, "uri: host \"%s\" needs a libvirt uri", h->name ? h->name : "?");
    cfg_get_str(hs, "migration_uri", &h->migration_uri, e);
    cfg_get_double(hs, "cpus", 0.01, 100000, &h->cpus, e);
    cfg_get_int(hs, "memory_mib", 1, 1LL << 32, (long long *)&h->memory_mib, e);
    if (cfg_get_str(hs, "meter", &h->meter, e)) {
        uint8_t b[8];
        if (parse_hex_bytes(h->meter, b, 8) < 0) {
            cfg_errors_addf(e, config_setting_get_member(hs, "meter"),
                            "meter: \"%s\" is not an IEEE address (00:13:a2:00:40:a1:b2:c3)",
                            h->meter);
        } else {
            for (int i = 0; i < 8; i++)
                h->meter_ieee = (h->meter_ieee << 8) | b[i];
        }
    }
    cfg_get_double(hs, "idle_w", 0, 100000, &h->idle_w, e);
    cfg_get_double(hs, "max_w", 0, 100000, &h->max_w, e);
    cfg_get_double(hs, "standby_w", 0, 100000, &h->standby_w, e);
    get_int(hs, "priority", -1000000, 1000000, &h->priority, e);
    cfg_get_bool(hs, "excluded", &h->excluded, e);
    get_duration(hs, "boot_s", 0, &h->boot_ns, e);
    get_duration(hs, "shutdown_s", 0, &h->shutdown_ns, e);
    if (h->max_w < h->idle_w)
        cfg_errors_addf(e, config_setting_get_member(hs, "max_w") ? config_setting_get_member(hs, "max_w")
                                                                   : hs,
                        "max_w: %g is below idle_w %g", h->max_w, h->idle_w);
    const config_setting_t *pw = get_group(hs, "power", power_keys, e);
    if (pw)
        parse_power(pw, h, e);
    if (!h->migration_uri && h->uri)
        h->migration_uri = xstrdup(h->uri);
}

/* ---- the simulated cluster ---- */

/* "2026-11-23T00:00:00Z" -> ns since the epoch (UTC only, to stay independent of TZ). */
static int parse_utc(const char *text, int64_t *out_ns)
{
    int y, mo, d, h, mi, sec;
    char z = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z) != 7 ||
        z != 'Z' || strlen(text) != 20 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || sec > 60 || y < 1970)
        return -1;
    /* days from civil (Howard Hinnant's algorithm) */
    int yy = y - (mo <= 2);
    int era = yy / 400;
    int yoe = yy - era * 400;
    int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    *out_ns = ((days * 86400) + h * 3600 + mi * 60 + sec) * JOULE_NS_PER_S;
    return 0;
}

static void parse_sim_vm(const config_setting_t *vs, const struct config *cfg,
                         struct config_sim_vm *v, struct cfg_errors *e)
{
    v->vcpus = 1;
    v->memory_mib = 1024;
    v->base = 0.1;
    v->trough_ns = 3 * 3600 * JOULE_NS_PER_S;
    v->period_ns = 24 * 3600 * JOULE_NS_PER_S;
    if (!config_setting_is_group(vs)) {
        cfg_errors_addf(e, vs, "sim.vms: each VM is a group { name = ...; host = ...; }");
        return;
    }
    cfg_check_keys(vs, sim_vm_keys, e);
    if (!cfg_get_str(vs, "name", &v->name, e))
        cfg_errors_addf(e, vs, "sim.vms: a VM needs a name");
    if (!cfg_get_str(vs, "host", &v->host, e))
        cfg_errors_addf(e, vs, "sim.vms: VM \"%s\" needs a host", v->name ? v->name : "?");
    else if (config_host_index(cfg, v->host) < 0)
        cfg_errors_addf(e, config_setting_get_member(vs, "host"),
                        "host: \"%s\" is not a configured host", v->host);
    else if (cfg->hosts[config_host_index(cfg, v->host)].hypervisor != CONFIG_HYPERVISOR_SIM)
        cfg_errors_addf(e, config_setting_get_member(vs, "host"),
                        "host: \"%s\" is not a sim host (hypervisor = \"sim\")", v->host);
    get_unsigned(vs, "vcpus", 1, 1024, &v->vcpus, e);
    long long mem;
    if (cfg_get_int(vs, "memory_mib", 1, 1LL << 24, &mem, e))
        v->memory_mib = mem;
    cfg_get_double(vs, "base", 0, 1, &v->base, e);
    cfg_get_double(vs, "amplitude", 0, 1, &v->amplitude, e);
    double hours;
    if (cfg_get_double(vs, "trough_h", 0, 24, &hours, e))
        v->trough_ns = (int64_t)llround(hours * 3600 * JOULE_NS_PER_S);
    if (cfg_get_double(vs, "period_h", 0.01, 24 * 366, &hours, e))
        v->period_ns = (int64_t)llround(hours * 3600 * JOULE_NS_PER_S);
    if (v->base + v->amplitude > 1 + 1e-9)
        cfg_errors_addf(e, vs, "amplitude: base %g + amplitude %g is above 1 (all vCPUs busy)",
                        v->base, v->amplitude);
}

static void parse_sim(const config_setting_t *root, struct config *cfg, struct cfg_errors *e)
{
    struct config_sim *sim = &cfg->sim;
    const config_setting_t *g = get_group(root, "sim", sim_keys, e);
    if (!g)
        return; /* jouled refuses sim hosts without it; replay and tests build their own */
    sim->enabled = true;
    char *start = NULL;
    if (cfg_get_str(g, "start", &start, e) && parse_utc(start, &sim->start_ns) < 0)
        cfg_errors_addf(e, config_setting_get_member(g, "start"),
                        "start: \"%s\" is not a UTC time (2026-11-23T00:00:00Z)", start);
    free(start);
    cfg_get_double(g, "time_factor", 0.001, 1e6, &sim->time_factor, e);
    get_duration(g, "duration_s", 0, &sim->duration_ns, e);
    cfg_get_double(g, "migration_mibps", 1, 1e6, &sim->migration_mibps, e);
    config_setting_t *vl = config_setting_get_member(g, "vms");
    if (vl && !config_setting_is_list(vl)) {
        cfg_errors_addf(e, vl, "vms: expected a list ( { ... }, { ... } )");
    } else if (vl) {
        int n = config_setting_length(vl);
        sim->vms = xcalloc((size_t)n + 1, sizeof *sim->vms);
        for (int i = 0; i < n; i++) {
            config_setting_t *vs = config_setting_get_elem(vl, (unsigned)i);
            struct config_sim_vm *v = &sim->vms[sim->n_vms++];
            parse_sim_vm(vs, cfg, v, e);
            for (size_t k = 0; k + 1 < sim->n_vms; k++)
                if (v->name && sim->vms[k].name && strcmp(v->name, sim->vms[k].name) == 0)
                    cfg_errors_addf(e, vs, "name: VM \"%s\" is listed twice", v->name);
        }
    }
    for (size_t i = 0; i < cfg->n_hosts; i++)
        if (cfg->hosts[i].hypervisor != CONFIG_HYPERVISOR_SIM)
            cfg_errors_add_at(e, cfg->path, cfg->hosts[i].line,
                              "hypervisor: host \"%s\" is not a sim host, but the config has a "
                              "sim group (a cluster is either simulated or real)",
                              cfg->hosts[i].name ? cfg->hosts[i].name : "?");
}

/* ---- secrets ---- */

int config_check_private_file(const char *path, struct joule_err *err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return joule_err_set(err, JOULE_ENOENT, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return joule_err_set(err, JOULE_EPERM, "%s: not a regular file", path);
    if (st.st_mode & 077)
        return joule_err_set(err, JOULE_EPERM,
                             "%s: mode %04o gives group/other access (use 0600 or 0400)", path,
                             (unsigned)(st.st_mode & 07777));
    return 0;
}

static void load_secrets(struct config *cfg, const config_setting_t *at, struct cfg_errors *e)
{
    struct joule_err err;
    if (config_check_private_file(cfg->secrets_file, &err) < 0) {
        cfg_errors_addf(e, at, "secrets_file: %s", err.msg);
        return;
    }
    config_t c;
    config_init(&c);
    if (config_read_file(&c, cfg->secrets_file) != CONFIG_TRUE) {
        cfg_errors_add_at(e, config_error_file(&c) ? config_error_file(&c) : cfg->secrets_file,
                          config_error_line(&c), "%s", config_error_text(&c));
        config_destroy(&c);
        return;
    }
    static const char *const secrets_keys[] = { "hosts", "default", NULL };
    cfg_check_keys(config_root_setting(&c), secrets_keys, e);
    char *def_user = NULL, *def_pass = NULL;
    const config_setting_t *def = get_group(config_root_setting(&c), "default", secrets_host_keys, e);
    if (def) {
        cfg_get_str(def, "ipmi_user", &def_user, e);
        cfg_get_str(def, "ipmi_password", &def_pass, e);
    }
    config_setting_t *hl = config_lookup(&c, "hosts");
    int n = hl ? config_setting_length(hl) : 0;
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        struct config_host *h = &cfg->hosts[i];
        for (int k = 0; k < n; k++) {
            config_setting_t *hs = config_setting_get_elem(hl, (unsigned)k);
            const char *name = NULL;
            if (!config_setting_is_group(hs) || !config_setting_lookup_string(hs, "name", &name) ||
                !h->name || strcmp(name, h->name) != 0)
                continue;
            cfg_check_keys(hs, secrets_host_keys, e);
            char *user = NULL;
            if (cfg_get_str(hs, "ipmi_user", &user, e)) {
                free(h->ipmi.user);
                h->ipmi.user = user;
            }
            cfg_get_str(hs, "ipmi_password", &h->ipmi.password, e);
            cfg_get_str(hs, "wol_secureon", &h->wol.secureon, e);
        }
        if (!h->ipmi.user && def_user)
            h->ipmi.user = xstrdup(def_user);
        if (!h->ipmi.password && def_pass)
            h->ipmi.password = xstrdup(def_pass);
    }
    free(def_user);
    if (def_pass) {
        memset(def_pass, 0, strlen(def_pass));
        free(def_pass);
    }
    config_destroy(&c);
}

static void load_token(struct config *cfg, const config_setting_t *at, struct cfg_errors *e)
{
    struct joule_err err;
    if (config_check_private_file(cfg->api.token_file, &err) < 0) {
        cfg_errors_addf(e, at, "token_file: %s", err.msg);
        return;
    }
    FILE *f = fopen(cfg->api.token_file, "r");
    if (!f) {
        cfg_errors_addf(e, at, "token_file: %s: %s", cfg->api.token_file, strerror(errno));
        return;
    }
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        buf[--n] = '\0';
    if (n < 16)
        cfg_errors_addf(e, at, "token_file: %s: the token is shorter than 16 characters",
                        cfg->api.token_file);
    else
        cfg->api.token = xstrdup(buf);
    memset(buf, 0, sizeof buf);
}

/* ---- the whole file ---- */

/* Th2 and Th1 meet (issue 10 item 3): consolidation leaves the hosts that stay on at most at
 * the lower of th2_factor x 100 and th1_pct - th2_dead_band_pct. If that ceiling is within
 * CONFIG_TH_MARGIN_PCT points of Th1, a little more load wakes a host that the next round may
 * empty again: consolidation and wake can alternate. Allowed (a warning, not an error): the
 * run-time minimum on-time still limits how often. */
#define CONFIG_TH_MARGIN_PCT 5.0
static void check_th2_band(const config_setting_t *g, const struct config_policy *p,
                           struct cfg_errors *w)
{
    double by_band = p->th1_pct - p->th2_dead_band_pct, by_th2 = p->th2_factor * 100.0;
    double ceiling = by_th2 < by_band ? by_th2 : by_band;
    if (p->th1_pct - ceiling >= CONFIG_TH_MARGIN_PCT - 1e-9)
        return;
    const char *keys[] = { "th2_dead_band_pct", "th2_factor", "th1_pct" };
    const config_setting_t *at = NULL;
    char others[160] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const config_setting_t *s = config_setting_get_member(g, keys[i]);
        if (!s)
            continue;
        if (!at) {
            at = s;
            continue;
        }
        int n = snprintf(others + used, sizeof others - used, "%s%s at line %u",
                         used ? ", " : " (", keys[i], config_setting_source_line(s));
        if (n > 0 && (size_t)n < sizeof others - used)
            used += (size_t)n;
    }
    if (used && used + 2 <= sizeof others)
        snprintf(others + used, sizeof others - used, ")");
    cfg_errors_addf(w, at ? at : g,
                    "warning: consolidation may fill the hosts that stay on up to %g%% "
                    "(th2_factor %g x 100, th1_pct %g - th2_dead_band_pct %g), less than %g "
                    "points below th1_pct%s: consolidation and wake can alternate; raise "
                    "th2_dead_band_pct or lower th2_factor",
                    ceiling, p->th2_factor, p->th1_pct, p->th2_dead_band_pct,
                    CONFIG_TH_MARGIN_PCT, others);
}

/* sample_timeout_s (0 < t <= tick_s) and sample_unreachable_s (>= sample_timeout_s); both
 * follow tick_s unless set. */
static void parse_sampling(const config_setting_t *root, struct config *cfg, struct cfg_errors *e)
{
    const config_setting_t *st = config_setting_get_member(root, "sample_timeout_s");
    const config_setting_t *su = config_setting_get_member(root, "sample_unreachable_s");
    cfg->sample_timeout_ns = cfg->tick_ns / SAMPLE_TIMEOUT_TICK_DIVISOR;
    cfg->sample_unreachable_ns = cfg->tick_ns;
    double tick_s = (double)cfg->tick_ns / JOULE_NS_PER_S;
    double v;
    if (st && cfg_get_double(root, "sample_timeout_s", SAMPLE_TIMEOUT_MIN_S, MAX_DURATION_S, &v, e)) {
        if (v > tick_s)
            cfg_errors_addf(e, st, "sample_timeout_s: %g s is longer than tick_s %g s (%g..tick_s)",
                            v, tick_s, SAMPLE_TIMEOUT_MIN_S);
        else
            cfg->sample_timeout_ns = (int64_t)llround(v * (double)JOULE_NS_PER_S);
    }
    if (su && cfg_get_double(root, "sample_unreachable_s", SAMPLE_TIMEOUT_MIN_S, MAX_DURATION_S, &v,
                             e)) {
        int64_t ns = (int64_t)llround(v * (double)JOULE_NS_PER_S);
        if (ns < cfg->sample_timeout_ns)
            cfg_errors_addf(e, su,
                            "sample_unreachable_s: %g s is shorter than sample_timeout_s %g s "
                            "(at least sample_timeout_s)",
                            v, (double)cfg->sample_timeout_ns / JOULE_NS_PER_S);
        else
            cfg->sample_unreachable_ns = ns;
    }
}

static void parse_root(config_t *c, struct config *cfg, struct cfg_errors *e,
                       struct cfg_errors *w)
{
    const config_setting_t *root = config_root_setting(c);
    cfg_check_keys(root, top_keys, e);

    cfg_get_str(root, "cluster", &cfg->cluster, e);
    int v;
    if (cfg_get_enum(root, "mode", mode_names, &v, e))
        cfg->mode = (enum config_mode)v;
    if (cfg_get_str(root, "log_level", &cfg->log_level, e)) {
        struct joule_err err;
        /* validate only: a throwaway parse that restores the current levels afterwards is not
         * possible, so check the syntax by hand */
        char *copy = xstrdup(cfg->log_level);
        for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
            char *lv = strchr(tok, '=');
            lv = lv ? lv + 1 : tok;
            if (strcmp(lv, "err") && strcmp(lv, "warn") && strcmp(lv, "notice") &&
                strcmp(lv, "info") && strcmp(lv, "debug")) {
                joule_err_set(&err, JOULE_EINVAL, "\"%s\" is not a level (err, warn, notice, info, debug)", lv);
                cfg_errors_addf(e, config_setting_get_member(root, "log_level"), "log_level: %s", err.msg);
                break;
            }
        }
        free(copy);
    }
    get_duration(root, "tick_s", 1, &cfg->tick_ns, e);
    get_duration(root, "load_window_s", 1, &cfg->load_window_ns, e);
    get_duration(root, "periodic_s", 10, &cfg->periodic_ns, e);
    if (cfg->load_window_ns < cfg->tick_ns)
        cfg_errors_addf(e, config_setting_get_member(root, "load_window_s")
                               ? config_setting_get_member(root, "load_window_s")
                               : config_setting_get_member(root, "tick_s"),
                        "load_window_s: %g s is shorter than tick_s %g s",
                        (double)cfg->load_window_ns / JOULE_NS_PER_S,
                        (double)cfg->tick_ns / JOULE_NS_PER_S);
    parse_sampling(root, cfg, e);

    const config_setting_t *g = get_group(root, "policy", policy_keys, e);
    if (g) {
        struct config_policy *p = &cfg->policy;
        if (cfg_get_enum(g, "algorithm", algorithm_names, &v, e))
            p->algorithm = (enum config_algorithm)v;
        bool th1_set = cfg_get_double(g, "th1_pct", 1, 100, &p->th1_pct, e);
        cfg_get_double(g, "th2_factor", 0.01, 1, &p->th2_factor, e);
        cfg_get_double(g, "overload_pct", 1, 100, &p->overload_pct, e);
        cfg_get_double(g, "balance_gap_pct", 0.1, 100, &p->balance_gap_pct, e);
        if (!cfg_get_double(g, "placement_target_pct", 1, 100, &p->placement_target_pct, e) &&
            th1_set)
            p->placement_target_pct = p->th1_pct;
        if (cfg_get_enum(g, "balance", balance_names, &v, e))
            p->balance = (enum config_balance)v;
        if (cfg_get_enum(g, "consolidate", consolidate_names, &v, e))
            p->consolidate = (enum config_consolidate)v;
        get_unsigned(g, "min_active_hosts", 0, MAX_HOSTS, &p->min_active_hosts, e);
        get_unsigned(g, "max_moves_per_round", 1, 100000, &p->max_moves_per_round, e);
        get_duration(g, "vm_cooldown_s", 0, &p->vm_cooldown_ns, e);
        get_duration(g, "host_min_off_s", 0, &p->host_min_off_ns, e);
        long long seed;
        if (cfg_get_int(g, "seed", 0, INT64_MAX, &seed, e))
            p->seed = (uint64_t)seed;
        get_duration(g, "overload_cooldown_s", 0, &p->overload_cooldown_ns, e);
        cfg_get_double(g, "thr_threshold", 0.01, 1, &p->thr_threshold, e);
        cfg_get_double(g, "lr_safety", 0.1, 10, &p->lr_safety, e);
        cfg_get_double(g, "lr_fallback_threshold", 0.01, 1, &p->lr_fallback_threshold, e);
        get_unsigned(g, "lr_history", 2, 30, &p->lr_history, e);
        cfg_get_double(g, "joule_percentile", 0, 100, &p->joule_percentile, e);
        get_unsigned(g, "joule_window", 1, 30, &p->joule_window, e);
        cfg_get_double(g, "joule_target_pct", 1, 100, &p->joule_target_pct, e);
        cfg_get_double(g, "joule_high_pct", 1, 100, &p->joule_high_pct, e);
        cfg_get_double(g, "joule_low_pct", 0, 100, &p->joule_low_pct, e);
        cfg_get_double(g, "joule_headroom_pct", 0, 99, &p->joule_headroom_pct, e);
        cfg_get_double(g, "joule_min_gain_wh", 0, 1e9, &p->joule_min_gain_wh, e);
        cfg_get_double(g, "joule_horizon_s", 0, 1e9, &p->joule_horizon_s, e);
        cfg_get_double(g, "joule_migration_w", 0, 1e6, &p->joule_migration_w, e);
        bool band_set = cfg_get_double(g, "th2_dead_band_pct", 0, 99, &p->th2_dead_band_pct, e);
        get_duration(g, "host_min_on_s", 0, &p->host_min_on_ns, e);
        if (p->th2_dead_band_pct >= p->th1_pct) {
            const config_setting_t *bs = config_setting_get_member(g, "th2_dead_band_pct");
            const config_setting_t *ts = config_setting_get_member(g, "th1_pct");
            char where[64] = "";
            if (band_set && ts)
                snprintf(where, sizeof where, " (line %u)", config_setting_source_line(ts));
            cfg_errors_addf(e, bs ? bs : ts ? ts : g,
                            "th2_dead_band_pct: %g is not below th1_pct %g%s: Th2 could never "
                            "consolidate (allowed 0..th1_pct; use consolidate = \"never\" to stop "
                            "consolidation)",
                            p->th2_dead_band_pct, p->th1_pct, where);
        } else {
            check_th2_band(g, p, w);
        }
        if (p->joule_target_pct > p->joule_high_pct &&
            config_setting_get_member(g, "joule_target_pct"))
            cfg_errors_addf(e, config_setting_get_member(g, "joule_target_pct"),
                            "joule_target_pct: %g is above joule_high_pct %g",
                            p->joule_target_pct, p->joule_high_pct);
        if (p->overload_pct < p->th1_pct && config_setting_get_member(g, "overload_pct"))
            cfg_errors_addf(e, config_setting_get_member(g, "overload_pct"),
                            "overload_pct: %g is below th1_pct %g", p->overload_pct, p->th1_pct);
    }

    g = get_group(root, "schedule", schedule_keys, e);
    if (g) {
        struct config_schedule *s = &cfg->schedule;
        if (cfg_get_str(g, "timezone", &s->timezone, e)) {
            char zpath[512];
            snprintf(zpath, sizeof zpath, "/usr/share/zoneinfo/%s", s->timezone);
            struct stat st;
            if (strcmp(s->timezone, "UTC") != 0 &&
                (strstr(s->timezone, "..") || stat(zpath, &st) < 0))
                cfg_errors_addf(e, config_setting_get_member(g, "timezone"),
                                "timezone: \"%s\" is not a known time zone (see /usr/share/zoneinfo)",
                                s->timezone);
        }
        get_windows(g, "peak", &s->peak, &s->n_peak, e);
        get_windows(g, "off_peak", &s->off_peak, &s->n_off_peak, e);
        get_unsigned(g, "peak_min_active_hosts", 0, MAX_HOSTS, &s->peak_min_active_hosts, e);
        get_duration(g, "wake_lead_s", 0, &s->wake_lead_ns, e);
        cfg_get_double(g, "peak_expected_load_pct", 0, 100, &s->peak_expected_load_pct, e);
    }

    g = get_group(root, "migration", migration_keys, e);
    if (g) {
        struct config_migration *m = &cfg->migration;
        get_unsigned(g, "in_flight", 1, 64, &m->in_flight, e);
        get_unsigned(g, "per_source", 1, 64, &m->per_source, e);
        get_duration(g, "timeout_s", 1, &m->timeout_ns, e);
        get_unsigned(g, "bandwidth_mibps", 0, 1000000, &m->bandwidth_mibps, e);
        char **flags = NULL;
        size_t nf = 0;
        if (cfg_get_strv(g, "flags", &flags, &nf, e)) {
            m->flags = 0;
            for (size_t i = 0; i < nf; i++) {
                int idx = -1;
                for (int k = 0; migrate_flag_names[k]; k++)
                    if (strcmp(flags[i], migrate_flag_names[k]) == 0)
                        idx = k;
                if (idx < 0)
                    cfg_errors_addf(e, config_setting_get_member(g, "flags"),
                                    "flags: \"%s\" is not allowed (live, peer2peer, persist_dest, "
                                    "undefine_source, auto_converge, compressed)",
                                    flags[i]);
                else
                    m->flags |= 1u << idx;
            }
        }
        cfg_strv_free(flags);
        if (m->per_source > m->in_flight && config_setting_get_member(g, "per_source"))
            cfg_errors_addf(e, config_setting_get_member(g, "per_source"),
                            "per_source: %u is above in_flight %u", m->per_source, m->in_flight);
    }

    g = get_group(root, "meter", meter_keys, e);
    if (g) {
        struct config_meter *m = &cfg->meter;
        if (cfg_get_enum(g, "protocol", protocol_names, &v, e))
            m->protocol = (enum config_meter_protocol)v;
        cfg_get_str(g, "port", &m->port, e);
        long long baud;
        if (cfg_get_int(g, "baud", 300, 4000000, &baud, e))
            m->baud = (int)baud;
        get_int(g, "data_bits", 5, 8, &m->data_bits, e);
        if (cfg_get_enum(g, "parity", parity_names, &v, e))
            m->parity = (enum config_parity)v;
        get_int(g, "stop_bits", 1, 2, &m->stop_bits, e);
        if (cfg_get_enum(g, "flow", flow_names, &v, e))
            m->flow = (enum config_flow)v;
        get_duration(g, "stale_s", 1, &m->stale_ns, e);
        double ms;
        if (cfg_get_double(g, "read_timeout_ms", 1, 60000, &ms, e))
            m->read_timeout_ns = (int64_t)(ms * JOULE_NS_PER_MS);
        if ((m->protocol == CONFIG_METER_XBEE1 || m->protocol == CONFIG_METER_XBEE2 ||
             m->protocol == CONFIG_METER_ZNP) && !m->port)
            cfg_errors_addf(e, g, "port: meter protocol %s needs a serial port",
                            protocol_names[m->protocol]);
    }

    g = get_group(root, "store", store_keys, e);
    if (g) {
        struct config_store *s = &cfg->store;
        if (cfg_get_str(g, "uri", &s->uri, e) && strncmp(s->uri, "mongodb://", 10) != 0 &&
            strncmp(s->uri, "mongodb+srv://", 14) != 0 && strcmp(s->uri, "memory:") != 0)
            cfg_errors_addf(e, config_setting_get_member(g, "uri"),
                            "uri: \"%s\" is not a MongoDB URI (mongodb://... or memory:)", s->uri);
        cfg_get_str(g, "database", &s->database, e);
        get_int(g, "retention_days", 1, 36500, &s->retention_days, e);
        cfg_get_str(g, "spool_path", &s->spool_path, e);
        long long mb;
        if (cfg_get_int(g, "spool_max_mb", 1, 1024 * 1024, &mb, e))
            s->spool_max_bytes = mb * 1024 * 1024;
    }

    g = get_group(root, "api", api_keys, e);
    if (g) {
        cfg_get_str(g, "listen", &cfg->api.listen, e);
        cfg_get_str(g, "token_file", &cfg->api.token_file, e);
    }

    cfg_get_str(root, "secrets_file", &cfg->secrets_file, e);
    cfg_get_strv(root, "excluded_hosts", &cfg->excluded_hosts, NULL, e);
    cfg_get_strv(root, "pinned_vms", &cfg->pinned_vms, NULL, e);
    cfg_get_strv(root, "excluded_vms", &cfg->excluded_vms, NULL, e);

    config_setting_t *hl = config_setting_get_member(root, "hosts");
    if (hl) {
        if (!config_setting_is_list(hl) && !config_setting_is_array(hl)) {
            cfg_errors_addf(e, hl, "hosts: expected a list ( { ... }, { ... } )");
        } else {
            int n = config_setting_length(hl);
            if (n > MAX_HOSTS) {
                cfg_errors_addf(e, hl, "hosts: %d hosts is more than %d", n, MAX_HOSTS);
                n = MAX_HOSTS;
            }
            cfg->hosts = xcalloc((size_t)n + 1, sizeof *cfg->hosts);
            for (int i = 0; i < n; i++) {
                config_setting_t *hs = config_setting_get_elem(hl, (unsigned)i);
                parse_host(hs, &cfg->hosts[cfg->n_hosts++], e);
                struct config_host *h = &cfg->hosts[cfg->n_hosts - 1];
                for (size_t k = 0; k + 1 < cfg->n_hosts; k++) {
                    const struct config_host *o = &cfg->hosts[k];
                    if (h->name && o->name && strcmp(h->name, o->name) == 0)
                        cfg_errors_addf(e, hs, "name: \"%s\" is already the name of the host at line %d",
                                        h->name, o->line);
                    if (h->meter && o->meter && h->meter_ieee == o->meter_ieee && h->meter_ieee)
                        cfg_errors_addf(e, hs, "meter: %s is already the meter of host \"%s\" (line %d)",
                                        h->meter, o->name ? o->name : "?", o->line);
                }
            }
        }
    }
    parse_sim(root, cfg, e);
    for (char **x = cfg->excluded_hosts; x && *x; x++) {
        int idx = config_host_index(cfg, *x);
        if (idx < 0)
            cfg_errors_addf(e, config_setting_get_member(root, "excluded_hosts"),
                            "excluded_hosts: \"%s\" is not a configured host", *x);
        else
            cfg->hosts[idx].excluded = true;
    }
    if (cfg->policy.min_active_hosts > cfg->n_hosts && cfg->n_hosts > 0) {
        config_setting_t *pol = config_setting_get_member(root, "policy");
        config_setting_t *at = pol ? config_setting_get_member(pol, "min_active_hosts") : NULL;
        cfg_errors_addf(e, at ? at : root, "min_active_hosts: %u is more than the %zu configured hosts",
                        cfg->policy.min_active_hosts, cfg->n_hosts);
    }

    bool need_secrets = false;
    for (size_t i = 0; i < cfg->n_hosts; i++)
        for (size_t k = 0; k < cfg->hosts[i].n_methods; k++)
            need_secrets |= cfg->hosts[i].methods[k] == CONFIG_POWER_IPMI;
    if (cfg->secrets_file)
        load_secrets(cfg, config_setting_get_member(root, "secrets_file"), e);
    else if (need_secrets)
        cfg_errors_addf(e, root, "secrets_file: IPMI power control needs a secrets file");
    for (size_t i = 0; cfg->secrets_file && i < cfg->n_hosts; i++) {
        struct config_host *h = &cfg->hosts[i];
        for (size_t k = 0; k < h->n_methods; k++)
            if (h->methods[k] == CONFIG_POWER_IPMI && (!h->ipmi.password || !h->ipmi.user))
                cfg_errors_add_at(e, cfg->path, h->line,
                                  "power: host \"%s\" uses ipmi but %s has no ipmi_%s for it",
                                  h->name ? h->name : "?", cfg->secrets_file,
                                  h->ipmi.user ? "password" : "user");
    }
    if (cfg->api.listen[0] && cfg->api.token_file[0]) {
        config_setting_t *api = config_setting_get_member(root, "api");
        config_setting_t *tf = api ? config_setting_get_member(api, "token_file") : NULL;
        /* a missing default token file only disables the state-changing endpoints */
        struct stat st;
        if (tf || stat(cfg->api.token_file, &st) == 0)
            load_token(cfg, tf ? tf : root, e);
    }
}

static int finish(config_t *c, struct config *cfg, struct cfg_errors *e, bool parsed,
                  struct config **out, char **errors)
{
    struct cfg_errors w = { 0 };
    if (parsed)
        parse_root(c, cfg, e, &w);
    config_destroy(c);
    if (w.n > 0 && e->n == 0) {
        struct strbuf wb = { 0 };
        for (size_t i = 0; i < w.n; i++)
            strbuf_addf(&wb, "%s\n", w.msgs[i]);
        cfg->warnings = strbuf_steal(&wb);
    }
    cfg_errors_free(&w);
    if (e->n == 0) {
        *out = cfg;
        if (errors)
            *errors = NULL;
        return 0;
    }
    struct strbuf sb = { 0 };
    for (size_t i = 0; i < e->n; i++)
        strbuf_addf(&sb, "%s\n", e->msgs[i]);
    cfg_errors_free(e);
    config_free(cfg);
    if (errors)
        *errors = strbuf_steal(&sb);
    else
        strbuf_free(&sb);
    return JOULE_ECONFIG;
}

int config_load(const char *path, struct config **out, char **errors)
{
    struct config *cfg = xmalloc(sizeof *cfg);
    config_defaults(cfg);
    cfg->path = xstrdup(path);
    struct cfg_errors e = { 0 };
    config_t c;
    config_init(&c);
    bool parsed = true;
    if (config_read_file(&c, path) != CONFIG_TRUE) {
        parsed = false;
        if (config_error_type(&c) == CONFIG_ERR_FILE_IO)
            cfg_errors_add_at(&e, path, 0, "cannot read the file: %s", strerror(errno));
        else
            cfg_errors_add_at(&e, config_error_file(&c) ? config_error_file(&c) : path,
                              config_error_line(&c), "%s", config_error_text(&c));
    }
    return finish(&c, cfg, &e, parsed, out, errors);
}

int config_load_string(const char *text, struct config **out, char **errors)
{
    struct config *cfg = xmalloc(sizeof *cfg);
    config_defaults(cfg);
    cfg->path = xstrdup("<string>");
    struct cfg_errors e = { 0 };
    config_t c;
    config_init(&c);
    bool parsed = true;
    if (config_read_string(&c, text) != CONFIG_TRUE) {
        parsed = false;
        cfg_errors_add_at(&e, "<string>", config_error_line(&c), "%s", config_error_text(&c));
    }
    return finish(&c, cfg, &e, parsed, out, errors);
}

const struct config_host *config_host_find(const struct config *cfg, const char *name)
{
    int i = config_host_index(cfg, name);
    return i < 0 ? NULL : &cfg->hosts[i];
}

int config_host_index(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_hosts; i++)
        if (cfg->hosts[i].name && strcmp(cfg->hosts[i].name, name) == 0)
            return (int)i;
    return -1;
}

bool config_vm_pinned(const struct config *cfg, const char *name_or_uuid)
{
    for (char **p = cfg->pinned_vms; p && *p; p++)
        if (strcmp(*p, name_or_uuid) == 0)
            return true;
    for (char **p = cfg->excluded_vms; p && *p; p++)
        if (strcmp(*p, name_or_uuid) == 0)
            return true;
    return false;
}

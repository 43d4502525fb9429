/* joulectl power HOST on|off|status: an operator's direct power control through the host's
 * configured methods (ipmi, wol, exec, in order, falling back on errors). `off` is refused when
 * it is unsafe: the host is excluded, runs VMs (or its hypervisor cannot be asked), or too few
 * other hosts would stay on (min_active_hosts); --force overrides that and is logged at WARN
 * (event=power_forced) with the reasons it overrode. */
#include <bson/bson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "joulectl.h"
#include "registry.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define LOG_MODULE "joulectl"

struct power_opts {
    const char *host;
    const char *verb;
    const char *config;
    bool force;
    bool hard;
    bool json;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: joulectl power HOST on|off|status --config FILE [--force] [--hard] [--json]\n"
            "Switches a host on or off (or reads its power state) with its configured methods,\n"
            "in order, falling back to the next one on an error.\n"
            "  off      soft (ACPI) power off; --hard for an immediate power cut (IPMI).\n"
            "           Refused when the host is excluded, runs VMs or cannot be asked, or\n"
            "           fewer than min_active_hosts others are on; --force overrides (logged).\n"
            "  --json   one JSON object on stdout.\n"
            "Exit: 0 ok, 1 failure or refused, 2 usage, 78 config error.\n"
            "example: joulectl power node2 status --config /etc/joule/jouled.conf\n");
}

static int parse(int argc, char **argv, struct power_opts *o)
{
    memset(o, 0, sizeof *o);
    o->config = "/etc/joule/jouled.conf";
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--force") == 0)
            o->force = true;
        else if (strcmp(a, "--hard") == 0)
            o->hard = true;
        else if (strcmp(a, "--json") == 0)
            o->json = true;
        else if (strcmp(a, "--config") == 0 && i + 1 < argc)
            o->config = argv[++i];
        else if (strncmp(a, "--config=", 9) == 0)
            o->config = a + 9;
        else if (a[0] == '-')
            return -1;
        else if (pos == 0 && ++pos)
            o->host = a;
        else if (pos == 1 && ++pos)
            o->verb = a;
        else
            return -1;
    }
    if (!o->host || !o->verb)
        return -1;
    if (strcmp(o->verb, "on") != 0 && strcmp(o->verb, "off") != 0 &&
        strcmp(o->verb, "status") != 0)
        return -1;
    return 0;
}

static const char *hypervisor_driver_name(enum config_hypervisor h)
{
    switch (h) {
    case CONFIG_HYPERVISOR_LIBVIRT: return "libvirt";
    case CONFIG_HYPERVISOR_SIM: return "sim";
    case CONFIG_HYPERVISOR__COUNT: break;
    }
    return "?";
}

/* Asks the host's hypervisor how many VMs run there. JOULE_E* when it cannot be asked. */
static int count_vms(const struct config_host *h, size_t *n, struct joule_err *err)
{
    const char *name = hypervisor_driver_name(h->hypervisor);
    const struct hypervisor_ops *ops = registry_find_hypervisor(name);
    if (!ops)
        return joule_err_set(err, JOULE_ENOTSUP, "no %s hypervisor driver is built in", name);
    struct drv_env env = { .clock = clock_real() };
    struct hypervisor *hv = NULL;
    int rc = hypervisor_new(ops, h, &env, &hv, err);
    if (rc < 0)
        return rc;
    struct hv_sample s = { 0 };
    if ((rc = hypervisor_connect(hv, err)) == 0 && (rc = hypervisor_sample(hv, &s, err)) == 0)
        *n = s.n_vms;
    hv_sample_free(&s);
    hypervisor_free(hv);
    return rc;
}

struct host_power {
    struct power *drv[CONFIG_POWER__COUNT];
    size_t n;
};

static int open_methods(const struct config_host *h, struct host_power *hp, struct joule_err *err)
{
    memset(hp, 0, sizeof *hp);
    struct drv_env env = { .clock = clock_real() };
    for (size_t m = 0; m < h->n_methods; m++) {
        const char *name = config_power_method_name(h->methods[m]);
        const struct power_ops *ops = registry_find_power(name);
        int rc = ops ? power_new(ops, h, &env, &hp->drv[m], err)
                     : joule_err_set(err, JOULE_ENOTSUP, "power method %s is not built in", name);
        if (rc < 0)
            return rc;
        hp->n = m + 1;
    }
    return 0;
}

static void close_methods(struct host_power *hp)
{
    for (size_t m = 0; m < hp->n; m++)
        power_free(hp->drv[m]);
}

/* First method that can tell; *method is its name. */
static int read_state(const struct config_host *h, struct host_power *hp, enum power_hw *out,
                      const char **method, struct joule_err *err)
{
    int rc = joule_err_set(err, JOULE_ENOTSUP, "no configured method can read the power state");
    for (size_t m = 0; m < hp->n; m++) {
        if (!hp->drv[m]->ops->status ||
            (h->methods[m] == CONFIG_POWER_EXEC && !h->exec.status))
            continue;
        if ((rc = power_status(hp->drv[m], out, err)) == 0) {
            *method = config_power_method_name(h->methods[m]);
            return 0;
        }
    }
    return rc;
}

static bool host_excluded(const struct config *cfg, const struct config_host *h)
{
    if (h->excluded)
        return true;
    for (size_t k = 0; cfg->excluded_hosts && cfg->excluded_hosts[k]; k++)
        if (strcmp(cfg->excluded_hosts[k], h->name) == 0)
            return true;
    return false;
}

/* Other hosts that are on: their hypervisor answers, or a method reads "on". */
static size_t other_active(const struct config *cfg, const struct config_host *self)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        const struct config_host *h = &cfg->hosts[i];
        if (h == self)
            continue;
        size_t vms = 0;
        struct joule_err err = { 0 };
        if (count_vms(h, &vms, &err) == 0) {
            n++;
            continue;
        }
        struct host_power hp;
        enum power_hw hw = POWER_HW_UNKNOWN;
        const char *m = NULL;
        if (open_methods(h, &hp, &err) == 0 && read_state(h, &hp, &hw, &m, &err) == 0 &&
            hw == POWER_HW_ON)
            n++;
        close_methods(&hp);
    }
    return n;
}

static void print_result(const struct power_opts *o, const char *state, const char *method,
                         const char *detail)
{
    if (o->json) {
        bson_t *doc = bson_new();
        BSON_APPEND_UTF8(doc, "host", o->host);
        BSON_APPEND_UTF8(doc, "action", o->verb);
        BSON_APPEND_UTF8(doc, "state", state);
        if (method)
            BSON_APPEND_UTF8(doc, "method", method);
        if (detail && *detail)
            BSON_APPEND_UTF8(doc, "detail", detail);
        BSON_APPEND_BOOL(doc, "forced", o->force);
        char *json = bson_as_relaxed_extended_json(doc, NULL);
        printf("%s\n", json);
        bson_free(json);
        bson_destroy(doc);
        return;
    }
    printf("%s: %s%s%s%s%s\n", o->host, state, method ? " (" : "", method ? method : "",
           method ? ")" : "", detail && *detail ? detail : "");
}

static int do_status(const struct power_opts *o, const struct config_host *h,
                     struct host_power *hp)
{
    enum power_hw hw = POWER_HW_UNKNOWN;
    const char *method = NULL;
    struct joule_err err = { 0 };
    int rc = read_state(h, hp, &hw, &method, &err);
    if (rc == JOULE_ENOTSUP) {
        print_result(o, "unknown", NULL, " - no configured method can read the power state");
        return JOULECTL_EXIT_OK;
    }
    if (rc < 0) {
        fprintf(stderr, "joulectl: power %s status: %s\n", o->host, err.msg);
        return JOULECTL_EXIT_FAIL;
    }
    print_result(o, hw == POWER_HW_ON ? "on" : "off", method, NULL);
    return JOULECTL_EXIT_OK;
}

static int do_switch(const struct power_opts *o, const struct config_host *h,
                     struct host_power *hp, bool on)
{
    struct joule_err err = { 0 };
    int rc = JOULE_ENOTSUP;
    for (size_t m = 0; m < hp->n; m++) {
        const char *name = config_power_method_name(h->methods[m]);
        if (!on && !hp->drv[m]->ops->off)
            continue;
        rc = on ? power_on(hp->drv[m], &err) : power_off(hp->drv[m], o->hard, &err);
        if (rc == 0) {
            const char *what = "power on sent";
            if (!on)
                what = o->hard ? "hard power off sent" : "soft power off sent";
            JLOG_NOTICE("event=power_%s host=%s method=%s forced=%s by=joulectl",
                        on ? "on" : "off", h->name, name, o->force ? "yes" : "no");
            print_result(o, what, name, NULL);
            return JOULECTL_EXIT_OK;
        }
        fprintf(stderr, "joulectl: power %s %s via %s failed: %s%s\n", o->host, on ? "on" : "off",
                name, err.msg, m + 1 < hp->n ? " (trying the next method)" : "");
    }
    if (rc == JOULE_ENOTSUP)
        fprintf(stderr, "joulectl: power %s %s: no configured method can do that\n", o->host,
                on ? "on" : "off");
    return JOULECTL_EXIT_FAIL;
}

static int do_off(const struct power_opts *o, const struct config *cfg,
                  const struct config_host *h, struct host_power *hp)
{
    struct strbuf why = { 0 };
    if (host_excluded(cfg, h))
        strbuf_addf(&why, "%sthe host is excluded", why.len ? "; " : "");
    size_t vms = 0;
    struct joule_err err = { 0 };
    if (count_vms(h, &vms, &err) < 0)
        strbuf_addf(&why, "%scannot tell whether it runs VMs (%s)", why.len ? "; " : "",
                       err.msg);
    else if (vms > 0)
        strbuf_addf(&why, "%sit runs %zu VM%s", why.len ? "; " : "", vms, vms == 1 ? "" : "s");
    size_t others = other_active(cfg, h);
    if (others < cfg->policy.min_active_hosts)
        strbuf_addf(&why, "%sonly %zu other host%s on, min_active_hosts is %u",
                       why.len ? "; " : "", others, others == 1 ? "" : "s",
                       cfg->policy.min_active_hosts);
    if (why.len && !o->force) {
        fprintf(stderr, "joulectl: power off %s refused: %s (use --force to override)\n",
                o->host, strbuf_str(&why));
        strbuf_free(&why);
        return JOULECTL_EXIT_FAIL;
    }
    if (why.len)
        JLOG_WARN("event=power_forced host=%s action=off overridden=\"%s\"", h->name,
                  strbuf_str(&why));
    strbuf_free(&why);
    return do_switch(o, h, hp, false);
}

int cmd_power(int argc, char **argv)
{
    struct power_opts o;
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return JOULECTL_EXIT_OK;
    }
    if (parse(argc, argv, &o) < 0) {
        usage(stderr);
        return JOULECTL_EXIT_USAGE;
    }
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load(o.config, &cfg, &errors) < 0) {
        fputs(errors, stderr);
        free(errors);
        return JOULECTL_EXIT_CONFIG;
    }
    const struct config_host *h = config_host_find(cfg, o.host);
    int rc;
    if (!h) {
        fprintf(stderr, "joulectl: power: no host \"%s\" in %s\n", o.host, o.config);
        config_free(cfg);
        return JOULECTL_EXIT_FAIL;
    }
    struct host_power hp;
    struct joule_err err = { 0 };
    if (open_methods(h, &hp, &err) < 0) {
        fprintf(stderr, "joulectl: power %s: %s\n", o.host, err.msg);
        close_methods(&hp);
        config_free(cfg);
        return JOULECTL_EXIT_FAIL;
    }
    if (strcmp(o.verb, "status") == 0)
        rc = do_status(&o, h, &hp);
    else if (strcmp(o.verb, "on") == 0)
        rc = do_switch(&o, h, &hp, true);
    else
        rc = do_off(&o, cfg, h, &hp);
    close_methods(&hp);
    config_free(cfg);
    return rc;
}

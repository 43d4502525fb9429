/* cmd_status.c - joulectl status: the running jouled's /status as an aligned table or JSON. */
#include <bson/bson.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_client.h"
#include "joulectl.h"
#include "util/httpc.h"

#define TIMEOUT_MS 5000

static void usage(FILE *f)
{
    fprintf(f, "usage: joulectl status [--config FILE] [--addr HOST:PORT] [--json]\n"
               "Shows each host (power state, load, watts, VMs), the schedule and the last plan.\n"
               "  --config FILE   read api.listen from FILE (default /etc/joule/jouled.conf)\n"
               "  --addr A:P      jouled's API address (default from the config, 127.0.0.1:8642)\n"
               "  --json          print /status as JSON\n"
               "example: joulectl status --addr 127.0.0.1:8642\n");
}

static const char *str_at(const bson_t *doc, const char *path, const char *dflt)
{
    bson_iter_t it, d;
    if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &d) &&
        BSON_ITER_HOLDS_UTF8(&d))
        return bson_iter_utf8(&d, NULL);
    return dflt;
}

static double num_at(const bson_t *doc, const char *path)
{
    bson_iter_t it, d;
    if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &d))
        return 0;
    if (BSON_ITER_HOLDS_DOUBLE(&d))
        return bson_iter_double(&d);
    if (BSON_ITER_HOLDS_INT32(&d))
        return bson_iter_int32(&d);
    if (BSON_ITER_HOLDS_INT64(&d))
        return (double)bson_iter_int64(&d);
    return 0;
}

static bool flag_at(const bson_t *doc, const char *path)
{
    bson_iter_t it, d;
    return bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &d) &&
           BSON_ITER_HOLDS_BOOL(&d) && bson_iter_bool(&d);
}

static void local_time(const bson_t *doc, char *buf, size_t n)
{
    bson_iter_t it;
    snprintf(buf, n, "?");
    if (!bson_iter_init_find(&it, doc, "time") || !BSON_ITER_HOLDS_DATE_TIME(&it))
        return;
    time_t t = (time_t)(bson_iter_date_time(&it) / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

/* Calls fn for each sub-document of the array `key`. */
static size_t each(const bson_t *doc, const char *key, void (*fn)(const bson_t *, void *),
                   void *arg)
{
    bson_iter_t it, child;
    size_t n = 0;
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &child))
        return 0;
    while (bson_iter_next(&child)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&child))
            continue;
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&child, &len, &data);
        bson_t sub;
        if (bson_init_static(&sub, data, len)) {
            fn(&sub, arg);
            n++;
        }
    }
    return n;
}

static void width_of(const bson_t *h, void *arg)
{
    int *w = arg;
    int n = (int)strlen(str_at(h, "name", ""));
    if (n > *w)
        *w = n;
}

static void host_row(const bson_t *h, void *arg)
{
    int w = *(int *)arg;
    /* an unreachable host shows its last data: say so (off hosts are unreachable by nature) */
    bool off = strcmp(str_at(h, "state", ""), "off") == 0;
    printf("%-*s  %-12s  %6.1f  %7.1f  %-6s  %4d  %5.1f%s%s%s\n", w, str_at(h, "name", "?"),
           str_at(h, "state", "?"), num_at(h, "load_pct"), num_at(h, "watts"),
           str_at(h, "watts_source", "?"), (int)num_at(h, "vms"), num_at(h, "cpus"),
           flag_at(h, "excluded") ? "  excluded" : "",
           !off && !flag_at(h, "reachable") ? "  unreachable" : "",
           flag_at(h, "lagging") ? "  lagging" : "");
}

static void print_table(const bson_t *doc)
{
    char when[64];
    local_time(doc, when, sizeof when);
    const char *sched = flag_at(doc, "peak") ? "peak" : "outside peak";
    if (!flag_at(doc, "peak") && flag_at(doc, "off_peak"))
        sched = "off-peak";
    printf("cluster %s  state %s  mode %s  time %s%s\n", str_at(doc, "cluster", "?"),
           str_at(doc, "state", "?"), str_at(doc, "mode", "?"), when,
           flag_at(doc, "simulated") ? " (simulated)" : "");
    printf("schedule: %s%s; consolidation %s; at least %d active hosts\n\n", sched,
           flag_at(doc, "prewake") ? ", peak ahead (waking hosts)" : "",
           flag_at(doc, "consolidation_allowed") ? "allowed" : "not allowed",
           (int)num_at(doc, "min_active_hosts"));
    int w = 4;
    each(doc, "hosts", width_of, &w);
    printf("%-*s  %-12s  %6s  %7s  %-6s  %4s  %5s\n", w, "HOST", "STATE", "LOAD %", "W",
           "SOURCE", "VMS", "CPUS");
    each(doc, "hosts", host_row, &w);
    printf("\ncounters: plans %d, migrations %d ok / %d failed, power on %d, off %d, failed %d, "
           "last loop %.3f s\n",
           (int)num_at(doc, "counters.plans"), (int)num_at(doc, "counters.migrations_ok"),
           (int)num_at(doc, "counters.migrations_failed"), (int)num_at(doc, "counters.power_on_ok"),
           (int)num_at(doc, "counters.power_off_ok"), (int)num_at(doc, "counters.power_failed"),
           num_at(doc, "counters.loop_last_s"));
    const char *plan = str_at(doc, "last_plan._id", NULL);
    if (plan) {
        bson_iter_t it, d;
        int actions = 0;
        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, "last_plan.actions", &d) &&
            BSON_ITER_HOLDS_ARRAY(&d)) {
            bson_iter_t c;
            bson_iter_recurse(&d, &c);
            while (bson_iter_next(&c))
                actions++;
        }
        printf("last plan: %s  trigger %s  outcome %s  actions %d\n", plan,
               str_at(doc, "last_plan.trigger", "?"), str_at(doc, "last_plan.outcome", "?"),
               actions);
    }
}

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "addr", required_argument, NULL, 'a' },
        { "json", no_argument, NULL, 'j' },         { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *addr = NULL;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:a:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'a':
            addr = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return JOULECTL_EXIT_OK;
        default:
            usage(stderr);
            return JOULECTL_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return JOULECTL_EXIT_USAGE;
    }
    struct joulectl_target t;
    int rc = joulectl_api_target(config, addr, NULL, false, &t);
    if (rc != JOULECTL_EXIT_OK)
        return rc;
    struct httpc_reply r;
    struct joule_err err = { 0 };
    if (httpc_request(t.addr, "GET", "/status", NULL, TIMEOUT_MS, &r, &err) < 0) {
        fprintf(stderr, "joulectl: jouled at %s: %s\n", t.addr, err.msg);
        joulectl_target_free(&t);
        return JOULECTL_EXIT_FAIL;
    }
    joulectl_target_free(&t);
    if (r.status != 200) {
        fprintf(stderr, "joulectl: /status answered %d: %s", r.status, r.body);
        httpc_reply_free(&r);
        return JOULECTL_EXIT_FAIL;
    }
    if (json) {
        fputs(r.body, stdout);
        httpc_reply_free(&r);
        return JOULECTL_EXIT_OK;
    }
    bson_error_t be;
    bson_t *doc = bson_new_from_json((const uint8_t *)r.body, (ssize_t)r.len, &be);
    httpc_reply_free(&r);
    if (!doc) {
        fprintf(stderr, "joulectl: /status is not JSON: %s\n", be.message);
        return JOULECTL_EXIT_FAIL;
    }
    print_table(doc);
    bson_destroy(doc);
    return JOULECTL_EXIT_OK;
}

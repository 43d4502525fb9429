/* joulectl replay - run a policy over a workload trace on a simulated cluster. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "joulectl.h"
#include "policy_glue.h"
#include "replay.h"
#include "replay_exec.h"
#include "replay_mongo.h"
#include "util/log.h"

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include "util/xalloc.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: joulectl replay [OPTIONS] TRACE_DIR\n"
            "       joulectl replay [OPTIONS] --mongo URI --from T --to T\n"
            "Replays a workload through a policy on a simulated cluster and prints energy,\n"
            "migrations and CloudSim's SLA metrics.\n\n"
            "Engines:\n"
            "  --engine cloudsim    CloudSim 3.0.3's model, event for event (default with\n"
            "                       --cloudsim or without --config): every migration a round\n"
            "                       plans starts at once, as CloudSim does, so its figures can\n"
            "                       be compared with CloudSim's published ones\n"
            "  --engine executor    joule's own code (default with --config hosts and --mongo):\n"
            "                       the monitor, model, policy, executor and power state\n"
            "                       machine on sim drivers and a simulated clock. The executor\n"
            "                       runs a plan's migrations one after another (each blocks for\n"
            "                       memory / throughput, the VM on its source until it switches\n"
            "                       over), then the power actions; hosts boot and shut down in\n"
            "                       their configured boot_s / shutdown_s at idle watts. That is\n"
            "                       not CloudSim's all-at-once round, so its figures are not\n"
            "                       CloudSim's. SLATAH is sampled every tick (--tick), PDM\n"
            "                       counts --degradation of a VM's CPU during its migration.\n"
            "  --tick S             executor engine: monitor tick (default: the config's tick_s)\n"
            "  --log-level SPEC     executor engine: controller log levels (default \"err\")\n\n"
            "Workload:\n"
            "  TRACE_DIR            a PlanetLab day: one file per VM, one CPU %% per line, 300 s\n"
            "  --vm-order CSV       VM ids, types and traces from a vm_order CSV (CloudSim's\n"
            "                       listFiles() order, README table a); default: sorted names\n"
            "  --mongo URI          vm_samples from MongoDB instead (with --from/--to, ISO-8601\n"
            "                       UTC, and --cluster, --database; the VMs start on their\n"
            "                       recorded hosts and the hosts come from --config)\n"
            "Policy:\n"
            "  --policy NAME        joule (default), thr-mmt, lr-mmt, dvfs (no migrations)\n"
            "  --config FILE        a jouled.conf: its policy group sets the policy and every\n"
            "                       threshold; its hosts (cpus, idle_w, max_w) are the cluster\n"
            "                       unless --cloudsim\n"
            "  --set KEY=VALUE      one policy setting, as in the config (repeatable), e.g.\n"
            "                       --set thr_threshold=0.8 --set joule_target_pct=75\n"
            "                       (without --config, max_moves_per_round is unlimited, as\n"
            "                       in CloudSim; a config's value is kept)\n"
            "Cluster and models:\n"
            "  --cloudsim           CloudSim's set-up (default for a trace dir): 800 hosts,\n"
            "                       G4/G5 alternating, CloudSim VM types\n"
            "  --hosts N            number of hosts (default 800)\n"
            "  --host-models LIST   comma-separated cycle of g4, g5 (default g4,g5)\n"
            "  --interval S         decision interval (default 300)\n"
            "  --migration-mib-s X  migration throughput, MiB/s (default 62.5)\n"
            "  --degradation F      share of a migrating VM's CPU lost (default 0.1)\n"
            "Output:\n"
            "  --json               one JSON object (energy_kwh, migrations, slatah, pdm, slav,\n"
            "                       esv, host_shutdowns, ... ; SLA figures as fractions)\n"
            "  --svg FILE           active hosts and power over the day\n\n"
            "example: joulectl replay --policy thr-mmt --json ../shared/data/planetlab/20110303\n"
            "         joulectl replay --config /etc/joule/jouled.conf --json TRACE_DIR\n");
}

struct setting {
    const char *key;
    size_t off;
    char kind; /* d = double, u = unsigned, p = percent-of-1 double, s = seconds->ns */
};

#define D(k) { #k, offsetof(struct policy_cfg, k), 'd' }
#define U(k) { #k, offsetof(struct policy_cfg, k), 'u' }
static const struct setting settings[] = {
    D(th1_pct), D(th2_factor), D(placement_target_pct), D(balance_gap_pct),
    U(max_moves_per_round), { "vm_cooldown_s", offsetof(struct policy_cfg, vm_cooldown_ns), 's' },
    { "host_min_off_s", offsetof(struct policy_cfg, host_min_off_ns), 's' },
    D(thr_threshold), D(lr_safety), D(lr_fallback_threshold), U(lr_history),
    D(joule_percentile), U(joule_window), D(joule_target_pct), D(joule_high_pct),
    D(joule_low_pct), D(joule_headroom_pct), D(joule_min_gain_wh), D(joule_horizon_s),
    D(joule_migration_w), D(th2_dead_band_pct),
    { "host_min_on_s", offsetof(struct policy_cfg, host_min_on_ns), 's' },
};

static int apply_set(struct policy_cfg *p, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq) {
        fprintf(stderr, "joulectl replay: --set %s: expected KEY=VALUE\n", kv);
        return -1;
    }
    size_t klen = (size_t)(eq - kv);
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (strlen(settings[i].key) != klen || strncmp(settings[i].key, kv, klen) != 0)
            continue;
        char *end;
        errno = 0;
        double v = strtod(eq + 1, &end);
        if (end == eq + 1 || *end || errno || !isfinite(v) || v < 0) {
            fprintf(stderr, "joulectl replay: --set %s: \"%s\" is not a number >= 0\n",
                    settings[i].key, eq + 1);
            return -1;
        }
        char *base = (char *)p + settings[i].off;
        if (settings[i].kind == 'd') {
            memcpy(base, &v, sizeof v);
        } else if (settings[i].kind == 'u') {
            if (v != floor(v) || v > 1e9) {
                fprintf(stderr, "joulectl replay: --set %s: \"%s\" is not a whole number\n",
                        settings[i].key, eq + 1);
                return -1;
            }
            unsigned u = (unsigned)v;
            memcpy(base, &u, sizeof u);
        } else {
            int64_t ns = (int64_t)(v * 1e9);
            memcpy(base, &ns, sizeof ns);
        }
        return 0;
    }
    fprintf(stderr, "joulectl replay: --set: unknown setting \"%.*s\"; known:", (int)klen, kv);
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        fprintf(stderr, " %s", settings[i].key);
    fprintf(stderr, "\n");
    return -1;
}

static int parse_policy(const char *s, enum policy_algorithm *a, bool *dvfs)
{
    *dvfs = false;
    if (strcmp(s, "joule") == 0)
        *a = POLICY_ALGORITHM_JOULE;
    else if (strcmp(s, "thr-mmt") == 0 || strcmp(s, "thrmmt") == 0)
        *a = POLICY_ALGORITHM_THR_MMT;
    else if (strcmp(s, "lr-mmt") == 0 || strcmp(s, "lrmmt") == 0)
        *a = POLICY_ALGORITHM_LR_MMT;
    else if (strcmp(s, "threshold") == 0)
        *a = POLICY_ALGORITHM_THRESHOLD;
    else if (strcmp(s, "dvfs") == 0)
        *dvfs = true;
    else
        return -1;
    return 0;
}

static const char *policy_label(const struct replay_opts *o)
{
    if (!o->migrations)
        return "dvfs";
    switch (o->policy.algorithm) {
    case POLICY_ALGORITHM_JOULE: return "joule";
    case POLICY_ALGORITHM_THR_MMT: return "thr-mmt";
    case POLICY_ALGORITHM_LR_MMT: return "lr-mmt";
    case POLICY_ALGORITHM_THRESHOLD: return "threshold";
    case POLICY_ALGORITHM__COUNT: break;
    }
    return "?";
}


static int write_svg(const char *path, const struct replay_result *r, const char *title)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "joulectl replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    const double W = 900, H = 420, L = 60, R = 60, T = 40, B = 50;
    double tmax = 1, hmax = 1, pmax = 1;
    for (size_t i = 0; i < r->n_series; i++) {
        if (r->series[i].t_s > tmax)
            tmax = r->series[i].t_s;
        if (r->series[i].active_hosts > hmax)
            hmax = r->series[i].active_hosts;
        if (r->series[i].power_w > pmax)
            pmax = r->series[i].power_w;
    }
    hmax *= 1.1;
    pmax *= 1.1;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"14\">%s: %.2f kWh, %llu migrations, "
               "SLAV %.5f%%</text>\n", L, title, r->energy_kwh,
            (unsigned long long)r->migrations, r->slav * 100);
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
               "stroke=\"#888\"/>\n", L, T, W - L - R, H - T - B);
    for (int h = 0; h <= 24; h += 3) {
        double x = L + (W - L - R) * (h * 3600.0) / (tmax > 86400 ? tmax : 86400);
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%02d:00</text>\n", x,
                H - B + 16, h);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">time (h)</text>\n",
            (W) / 2, H - 10);
    fprintf(f, "<text x=\"12\" y=\"%.0f\" fill=\"#1f77b4\" transform=\"rotate(-90 12 %.0f)\" "
               "text-anchor=\"middle\">active hosts (max %.0f)</text>\n", H / 2, H / 2, hmax / 1.1);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#d62728\" transform=\"rotate(90 %.0f %.0f)\" "
               "text-anchor=\"middle\">power W (max %.0f)</text>\n", W - 14, H / 2, W - 14, H / 2,
            pmax / 1.1);
    const char *colour[2] = { "#1f77b4", "#d62728" };
    for (int s = 0; s < 2; s++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                colour[s]);
        for (size_t i = 0; i < r->n_series; i++) {
            double x = L + (W - L - R) * r->series[i].t_s / (tmax > 86400 ? tmax : 86400);
            double v = s == 0 ? r->series[i].active_hosts / hmax : r->series[i].power_w / pmax;
            fprintf(f, "%.1f,%.1f ", x, H - B - (H - T - B) * v);
        }
        fprintf(f, "\"/>\n");
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "joulectl replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "json", no_argument, NULL, 'j' },
        { "svg", required_argument, NULL, 'S' },
        { "vm-order", required_argument, NULL, 'o' },
        { "policy", required_argument, NULL, 'p' },
        { "config", required_argument, NULL, 'c' },
        { "set", required_argument, NULL, 's' },
        { "cloudsim", no_argument, NULL, 'C' },
        { "hosts", required_argument, NULL, 'n' },
        { "host-models", required_argument, NULL, 'm' },
        { "interval", required_argument, NULL, 'i' },
        { "migration-mib-s", required_argument, NULL, 'b' },
        { "degradation", required_argument, NULL, 'd' },
        { "mongo", required_argument, NULL, 'M' },
        { "from", required_argument, NULL, 'F' },
        { "to", required_argument, NULL, 'T' },
        { "cluster", required_argument, NULL, 'K' },
        { "database", required_argument, NULL, 'D' },
        { "engine", required_argument, NULL, 'E' },
        { "tick", required_argument, NULL, 't' },
        { "log-level", required_argument, NULL, 'L' },
        { NULL, 0, NULL, 0 },
    };
    struct replay_opts o;
    replay_opts_defaults(&o);
    bool json = false, cloudsim = false;
    const char *svg = NULL, *order = NULL, *config_path = NULL, *policy_name = NULL;
    const char *models = "g4,g5", *mongo = NULL, *from = NULL, *to = NULL;
    const char *cluster = NULL, *database = NULL, *engine = NULL, *log_spec = "err";
    double tick_s = 0;
    long n_hosts = -1;
    char **sets = xcalloc((size_t)argc + 1, sizeof *sets);
    size_t n_sets = 0;
    int c, rc = JOULECTL_EXIT_FAIL;
    struct config *cfg = NULL;
    struct replay_workload *w = NULL;
    const struct replay_host_model **hosts = NULL;
    struct replay_host_model *models_owned = NULL;
    struct replay_result res = { 0 };
    optind = 1;
    static const char *const shortopts = "hjS:o:p:c:s:Cn:m:i:b:d:M:F:T:K:D:E:t:L:";
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'h': usage(stdout); free(sets); return JOULECTL_EXIT_OK;
        case 'j': json = true; break;
        case 'S': svg = optarg; break;
        case 'o': order = optarg; break;
        case 'p': policy_name = optarg; break;
        case 'c': config_path = optarg; break;
        case 's': sets[n_sets++] = optarg; break;
        case 'C': cloudsim = true; break;
        case 'n':
            n_hosts = strtol(optarg, &end, 10);
            if (*end || n_hosts < 1 || n_hosts > 100000) {
                fprintf(stderr, "joulectl replay: --hosts %s: expected 1..100000\n", optarg);
                goto usage_err;
            }
            break;
        case 'm': models = optarg; break;
        case 'i':
        case 'b':
        case 'd': {
            double v = strtod(optarg, &end);
            if (*end || !isfinite(v) || v <= 0 || (c == 'd' && v >= 1)) {
                fprintf(stderr, "joulectl replay: %s: \"%s\" is out of range\n",
                        c == 'i' ? "--interval" : c == 'b' ? "--migration-mib-s" : "--degradation",
                        optarg);
                goto usage_err;
            }
            if (c == 'i')
                o.interval_s = v;
            else if (c == 'b')
                o.migration_mib_s = v;
            else
                o.migration_degradation = v;
            break;
        }
        case 'M': mongo = optarg; break;
        case 'F': from = optarg; break;
        case 'T': to = optarg; break;
        case 'K': cluster = optarg; break;
        case 'D': database = optarg; break;
        case 'E':
            if (strcmp(optarg, "executor") != 0 && strcmp(optarg, "cloudsim") != 0) {
                fprintf(stderr, "joulectl replay: --engine %s: expected executor or cloudsim\n",
                        optarg);
                goto usage_err;
            }
            engine = optarg;
            break;
        case 't':
            tick_s = strtod(optarg, &end);
            if (*end || !isfinite(tick_s) || tick_s <= 0) {
                fprintf(stderr, "joulectl replay: --tick \"%s\": expected seconds > 0\n", optarg);
                goto usage_err;
            }
            break;
        case 'L': log_spec = optarg; break;
        default: goto usage_err;
        }
    }
    if ((mongo == NULL) == (optind >= argc) || optind + 1 < argc) {
        fprintf(stderr, "joulectl replay: give one TRACE_DIR or --mongo URI\n");
        goto usage_err;
    }
    if (mongo && cloudsim) {
        fprintf(stderr, "joulectl replay: --mongo replays onto the configured hosts; "
                        "--cloudsim is for trace directories\n");
        goto usage_err;
    }
    if (mongo && (!from || !to)) {
        fprintf(stderr, "joulectl replay: --mongo needs --from and --to\n");
        goto usage_err;
    }

    if (config_path) {
        char *errors = NULL;
        if (config_load(config_path, &cfg, &errors) < 0) {
            fprintf(stderr, "%s", errors ? errors : "config error\n");
            free(errors);
            free(sets);
            return JOULECTL_EXIT_CONFIG;
        }
        policy_cfg_from_config(cfg, &o.policy);
    }
    if (policy_name) {
        bool dvfs;
        if (parse_policy(policy_name, &o.policy.algorithm, &dvfs) < 0) {
            fprintf(stderr, "joulectl replay: --policy %s: expected joule, thr-mmt, lr-mmt, "
                            "threshold or dvfs\n", policy_name);
            goto usage_err;
        }
        if (dvfs) {
            o.migrations = false;
            o.placement = REPLAY_PLACEMENT_FIRST_FIT;
        }
    }
    for (size_t i = 0; i < n_sets; i++)
        if (apply_set(&o.policy, sets[i]) < 0)
            goto usage_err;

    struct joule_err err = { 0 };
    if (mongo) {
        struct replay_mongo_query q = { .uri = mongo, .database = database, .cluster = cluster };
        if (replay_parse_time(from, &q.from_s) < 0 || replay_parse_time(to, &q.to_s) < 0 ||
            q.to_s <= q.from_s) {
            fprintf(stderr, "joulectl replay: --from/--to: expected ISO-8601 UTC times "
                            "(2026-03-01T00:00:00Z), from before to\n");
            goto usage_err;
        }
        if (!cfg || cfg->n_hosts == 0) {
            fprintf(stderr, "joulectl replay: --mongo needs --config with the cluster's hosts\n");
            goto usage_err;
        }
        q.interval_s = o.interval_s;
        int mrc = replay_load_mongo(&q, cfg, &w, &err);
        mongoc_cleanup();
        if (mrc < 0) {
            fprintf(stderr, "joulectl replay: %s\n", err.msg);
            goto out;
        }
        o.placement = REPLAY_PLACEMENT_GIVEN;
        o.start_s = 0;
        o.duration_s = (double)w->n_samples * w->sample_s;
    } else {
        if (replay_load_planetlab(argv[optind], order, &w, &err) < 0) {
            fprintf(stderr, "joulectl replay: %s\n", err.msg);
            goto out;
        }
        if (!cfg || cfg->n_hosts == 0)
            cloudsim = true;
    }

    bool on_config = cfg && cfg->n_hosts && !cloudsim;
    bool use_exec = engine ? strcmp(engine, "executor") == 0 : on_config;
    if (use_exec && !on_config) {
        fprintf(stderr, "joulectl replay: --engine executor replays onto a config's hosts: "
                        "give --config with hosts (and not --cloudsim)\n");
        goto usage_err;
    }
    if (use_exec && !o.migrations) {
        fprintf(stderr, "joulectl replay: --policy dvfs: only with --engine cloudsim\n");
        goto usage_err;
    }
    if (!use_exec && tick_s > 0) {
        fprintf(stderr, "joulectl replay: --tick: only with --engine executor\n");
        goto usage_err;
    }
    if (use_exec && log_set_levels(log_spec, &err) < 0) {
        fprintf(stderr, "joulectl replay: --log-level %s: %s\n", log_spec, err.msg);
        goto usage_err;
    }
    size_t nh;
    struct timespec t0, t1;
    if (use_exec) {
        nh = cfg->n_hosts;
        if (!mongo)
            replay_scale_vms_to_cores(w);
        struct replay_exec_opts xo;
        replay_exec_opts_defaults(&xo, cfg);
        xo.policy = o.policy;
        xo.interval_s = o.interval_s;
        xo.tick_s = tick_s;
        xo.migration_mib_s = o.migration_mib_s;
        xo.migration_degradation = o.migration_degradation;
        xo.keep_series = svg != NULL;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (replay_exec_run(w, &xo, &res, &err) < 0) {
            fprintf(stderr, "joulectl replay: %s\n", err.msg);
            goto out;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        goto report;
    }
    if (on_config) {
        nh = cfg->n_hosts;
        hosts = xcalloc(nh, sizeof *hosts);
        if (replay_hosts_from_config(cfg, &models_owned, &err) < 0) {
            fprintf(stderr, "joulectl replay: %s\n", err.msg);
            goto out;
        }
        for (size_t i = 0; i < nh; i++)
            hosts[i] = &models_owned[i];
        if (!mongo)
            replay_scale_vms_to_cores(w);
    } else {
        nh = n_hosts > 0 ? (size_t)n_hosts : 800;
        hosts = xcalloc(nh, sizeof *hosts);
        char *list = xstrdup(models);
        const struct replay_host_model *cyc[64];
        size_t nc = 0;
        for (char *tok = strtok(list, ","); tok && nc < 64; tok = strtok(NULL, ",")) {
            if (strcmp(tok, "g4") == 0)
                cyc[nc++] = &replay_model_g4;
            else if (strcmp(tok, "g5") == 0)
                cyc[nc++] = &replay_model_g5;
            else {
                fprintf(stderr, "joulectl replay: --host-models: unknown model \"%s\" (g4, g5)\n",
                        tok);
                free(list);
                goto usage_err;
            }
        }
        free(list);
        if (!nc) {
            fprintf(stderr, "joulectl replay: --host-models: empty\n");
            goto usage_err;
        }
        for (size_t i = 0; i < nh; i++)
            hosts[i] = cyc[i % nc];
    }
    o.hosts = hosts;
    o.n_hosts = nh;
    o.keep_series = svg != NULL;
    /* CloudSim's resource model only in the CloudSim-compatible set-up; a configured cluster
     * keeps idle VMs and checks memory at every move. */
    o.remove_idle_vms = cloudsim;
    o.policy.limits_at_creation_only = cloudsim;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (replay_run(w, &o, &res, &err) < 0) {
        fprintf(stderr, "joulectl replay: %s\n", err.msg);
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
report:;
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (json) {
        /* DESIGN: --json goes through libbson */
        bson_t *doc = BCON_NEW("policy", BCON_UTF8(policy_label(&o)),
                               "engine", BCON_UTF8(use_exec ? "executor" : "cloudsim"),
                               "vms", BCON_INT64((int64_t)w->n_vms),
                               "hosts", BCON_INT64((int64_t)nh),
                               "rounds", BCON_INT64((int64_t)res.rounds),
                               "energy_kwh", BCON_DOUBLE(res.energy_kwh),
                               "migrations", BCON_INT64((int64_t)res.migrations),
                               "slatah", BCON_DOUBLE(res.slatah),
                               "pdm", BCON_DOUBLE(res.pdm),
                               "slav", BCON_DOUBLE(res.slav),
                               "esv", BCON_DOUBLE(res.esv),
                               "overall_sla", BCON_DOUBLE(res.overall_sla),
                               "host_shutdowns", BCON_INT64((int64_t)res.host_shutdowns),
                               "max_active_hosts", BCON_INT64((int64_t)res.max_active_hosts),
                               "migrations_failed", BCON_INT64((int64_t)res.migrations_failed),
                               "host_wakes", BCON_INT64((int64_t)res.host_wakes),
                               "wall_s", BCON_DOUBLE(wall));
        char *text = bson_as_relaxed_extended_json(doc, NULL);
        printf("%s\n", text);
        bson_free(text);
        bson_destroy(doc);
    } else {
        printf("policy          %s\n", policy_label(&o));
        printf("engine          %s\n", use_exec ? "executor" : "cloudsim");
        printf("VMs / hosts     %zu / %zu\n", w->n_vms, nh);
        printf("energy          %.2f kWh\n", res.energy_kwh);
        printf("migrations      %llu\n", (unsigned long long)res.migrations);
        printf("SLATAH          %.4f %%\n", res.slatah * 100);
        printf("PDM             %.4f %%\n", res.pdm * 100);
        printf("SLAV            %.5f %%\n", res.slav * 100);
        printf("ESV             %.3f x 10^-3 kWh\n", res.esv * 1000);
        printf("host shutdowns  %llu\n", (unsigned long long)res.host_shutdowns);
        printf("max active      %u hosts\n", res.max_active_hosts);
        if (use_exec)
            printf("failed / wakes  %llu migrations / %llu hosts\n",
                   (unsigned long long)res.migrations_failed, (unsigned long long)res.host_wakes);
        printf("wall time       %.3f s\n", wall);
    }
    if (svg && write_svg(svg, &res, policy_label(&o)) < 0)
        goto out;
    rc = JOULECTL_EXIT_OK;
    goto out;
usage_err:
    rc = JOULECTL_EXIT_USAGE;
out:
    replay_result_free(&res);
    free(hosts);
    free(models_owned);
    replay_workload_free(w);
    config_free(cfg);
    free(sets);
    return rc;
}

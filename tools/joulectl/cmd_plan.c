/* joulectl plan --dry-run SNAPSHOT.json: runs the policy engine on a saved snapshot and prints
 * the plan (an aligned table with each action's reason, or JSON with --json). Executes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "joulectl.h"
#include "policy_glue.h"
#include "snapshot_json.h"
#include "util/xalloc.h"

#define PLAN_COLS 10

static const char *const plan_headers[PLAN_COLS] = {
    "#", "ACTION", "VM", "FROM", "TO", "HOST", "FROM %", "TO %", "GAIN W", "REASON",
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: joulectl plan --dry-run [--json] [--config FILE] [--balance NAME]\n"
            "                     SNAPSHOT.json\n"
            "(SNAPSHOT.json may be - for standard input)\n"
            "Runs the policy on a cluster snapshot (JSON, see controller/snapshot_json.h) and\n"
            "prints the plan with each action's reason. Nothing is executed.\n"
            "  --config FILE    take the policy settings from a jouled config file (otherwise\n"
            "                   the snapshot's \"policy\" object, otherwise the defaults)\n"
            "  --balance NAME   differencing | bands | none (overrides the above)\n"
            "  --json           print {\"actions\": [...]} instead of a table\n"
            "example: joulectl plan --dry-run tests/scenarios/seed003_balance.json\n");
}

static const char *host_name(const struct model_snapshot *s, int h)
{
    return h >= 0 && (size_t)h < s->n_hosts && s->hosts[h].name ? s->hosts[h].name : "-";
}

static void print_table(const struct plan *p, const struct model_snapshot *s)
{
    char ***cells = xcalloc(p->n + 1, sizeof *cells);
    size_t width[PLAN_COLS];
    for (int c = 0; c < PLAN_COLS; c++)
        width[c] = strlen(plan_headers[c]);
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_action *a = &p->actions[i];
        bool mig = a->kind == PLAN_ACTION_MIGRATE;
        const char *vm = "-";
        if (a->vm >= 0 && (size_t)a->vm < s->n_vms)
            vm = s->vms[a->vm].name ? s->vms[a->vm].name : s->vms[a->vm].uuid;
        cells[i] = xcalloc(PLAN_COLS, sizeof **cells);
        cells[i][0] = xasprintf("%zu", i + 1);
        cells[i][1] = xstrdup(plan_action_kind_name(a->kind));
        cells[i][2] = xstrdup(vm);
        cells[i][3] = xstrdup(host_name(s, a->from));
        cells[i][4] = xstrdup(host_name(s, a->to));
        cells[i][5] = xstrdup(host_name(s, a->host));
        cells[i][6] = mig ? xasprintf("%.1f", a->from_load_pct) : xstrdup("-");
        cells[i][7] = mig ? xasprintf("%.1f", a->to_load_pct) : xstrdup("-");
        cells[i][8] = xasprintf("%.1f", a->expected_gain_w);
        cells[i][9] = xstrdup(plan_reason_name(a->reason));
        for (int c = 0; c < PLAN_COLS; c++) {
            size_t l = strlen(cells[i][c]);
            if (l > width[c])
                width[c] = l;
        }
    }
    for (int c = 0; c < PLAN_COLS; c++)
        printf("%-*s  ", (int)width[c], plan_headers[c]);
    printf("DETAIL\n");
    for (size_t i = 0; i < p->n; i++) {
        for (int c = 0; c < PLAN_COLS; c++) {
            /* numbers right-aligned, text left-aligned */
            bool num = c == 0 || (c >= 6 && c <= 8);
            printf(num ? "%*s  " : "%-*s  ", (int)width[c], cells[i][c]);
            free(cells[i][c]);
        }
        printf("%s\n", p->actions[i].detail);
        free(cells[i]);
    }
    free(cells);
}

int cmd_plan(int argc, char **argv)
{
    bool dry_run = false, json = false;
    const char *config_path = NULL, *balance = NULL, *snap_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return JOULECTL_EXIT_OK;
        } else if (!strcmp(argv[i], "--dry-run")) {
            dry_run = true;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config_path = argv[++i];
        } else if (!strcmp(argv[i], "--balance") && i + 1 < argc) {
            balance = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') { /* "-" alone is stdin */
            fprintf(stderr, "joulectl plan: unknown option \"%s\"\n", argv[i]);
            usage(stderr);
            return JOULECTL_EXIT_USAGE;
        } else if (!snap_path) {
            snap_path = argv[i];
        } else {
            fprintf(stderr, "joulectl plan: one snapshot file only\n");
            usage(stderr);
            return JOULECTL_EXIT_USAGE;
        }
    }
    if (!dry_run || !snap_path) {
        fprintf(stderr, "joulectl plan: %s\n",
                !dry_run ? "only --dry-run is supported (jouled executes plans)"
                         : "missing SNAPSHOT.json");
        usage(stderr);
        return JOULECTL_EXIT_USAGE;
    }
    int bal = -1;
    if (balance && (bal = snapshot_balance_parse(balance)) < 0) {
        fprintf(stderr, "joulectl plan: --balance \"%s\" is not one of differencing, bands, none\n",
                balance);
        return JOULECTL_EXIT_USAGE;
    }
    struct joule_err err = { 0 };
    struct snapshot_doc *d = NULL;
    if (snapshot_json_load(snap_path, &d, &err) < 0) {
        fprintf(stderr, "joulectl plan: %s\n", err.msg);
        return JOULECTL_EXIT_FAIL;
    }
    struct policy_cfg cfg = d->cfg;
    if (config_path) {
        struct config *c = NULL;
        char *errors = NULL;
        if (config_load(config_path, &c, &errors) < 0) {
            fputs(errors, stderr);
            free(errors);
            snapshot_doc_free(d);
            return JOULECTL_EXIT_CONFIG;
        }
        policy_cfg_from_config(c, &cfg);
        config_free(c);
    }
    if (bal >= 0)
        cfg.balance = (enum policy_balance)bal;
    struct plan p;
    plan_init(&p);
    int rc = policy_run(&cfg, &d->snap, &p, &err);
    if (rc < 0) {
        fprintf(stderr, "joulectl plan: %s: %s\n", snap_path, err.msg);
        plan_free(&p);
        snapshot_doc_free(d);
        return JOULECTL_EXIT_FAIL;
    }
    if (json) {
        char *j = plan_json_write(&p, &d->snap);
        printf("%s\n", j);
        free(j);
    } else {
        size_t active = 0;
        for (size_t i = 0; i < d->snap.n_hosts; i++)
            active += d->snap.hosts[i].state == POWER_STATE_ON;
        printf("dry run: %s: %zu hosts (%zu on), %zu VMs; policy %s, balance %s, th1 %.0f%%\n",
               strcmp(snap_path, "-") ? snap_path : "<stdin>", d->snap.n_hosts, active,
               d->snap.n_vms,
               snapshot_algorithm_name(cfg.algorithm), snapshot_balance_name(cfg.balance),
               cfg.th1_pct);
        if (p.n == 0)
            printf("no actions\n");
        else
            print_table(&p, &d->snap);
    }
    plan_free(&p);
    snapshot_doc_free(d);
    return JOULECTL_EXIT_OK;
}

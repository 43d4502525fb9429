/* snapshot_json.h - model snapshots and plans as JSON (through libbson), for joulectl plan
 * --dry-run, the scenario tests, replay and anything else that saves or loads a cluster picture.
 *
 * Snapshot document (unknown keys are errors; [] = optional, with its default):
 * { "now_ns": 0, ["consolidation_allowed": false], ["peak": false], ["min_active_hosts": 1],
 *   ["expected_load_cores": 0],
 *   ["policy": { ["algorithm": "threshold"|"joule"|"thr_mmt"|"lr_mmt"], ["th1_pct": 80],
 *                ["th2_factor": 0.8], ["placement_target_pct": 80], ["balance_gap_pct": 10],
 *                ["balance": "differencing"|"bands"|"none"], ["max_moves_per_round": 4],
 *                ["vm_cooldown_ns": 1.8e12], ["host_min_off_ns": 1.8e12], ["seed": 1],
 *                ["th2_dead_band_pct": 20], ["host_min_on_ns": 1.8e12] }],
 *   "hosts": [ { "name": "h1", "cpus": 4, "mem_mib": 8192, "state": "on"|"off"|"waking"|
 *                "draining"|"powering_off"|"unknown", "load_pct": 80, ["idle_w": 0],
 *                ["max_w": 0], ["priority": 0], ["excluded": false], ["reachable": true],
 *                ["off_since_ns": null], ["boot_ns": 0], ["receiving": false],
 *                ["on_since_ns": null] } ],
 *   "vms": [ { "uuid": "...", ["name": uuid], "host": "h1" (name) or null, "cpu_cores": 1.6,
 *              "mem_mib": 1024, ["vcpus": 1], ["pinned": false], ["migrating": false],
 *              ["last_move_ns": null] } ] }
 * null in a *_ns field means never (SNAP_NEVER). Top-level keys starting with '_' are comments. */
#ifndef JOULE_SNAPSHOT_JSON_H
#define JOULE_SNAPSHOT_JSON_H

#include <bson/bson.h>
#include <stdbool.h>

#include "policy/model_snapshot.h"
#include "policy/plan.h"
#include "policy/policy.h"
#include "util/err.h"

/* A snapshot that owns its arrays and strings. */
struct snapshot_doc {
    struct model_snapshot snap;
    struct policy_cfg cfg; /* policy_cfg_defaults(), overridden by the "policy" object */
    bool has_policy;       /* the document had a "policy" object */
};

/* Parses a snapshot document. `origin` names it in errors ("file.json: hosts[2].cpus: ..."). */
int snapshot_json_parse(const char *json, size_t len, const char *origin,
                        struct snapshot_doc **out, struct joule_err *err);
/* Reads and parses a file ("-" = standard input, named "<stdin>" in errors). */
int snapshot_json_load(const char *path, struct snapshot_doc **out, struct joule_err *err);
void snapshot_doc_free(struct snapshot_doc *d);

/* Appends the snapshot's fields to `doc` (and "policy" when cfg is non-NULL). */
void snapshot_to_bson(const struct model_snapshot *s, const struct policy_cfg *cfg, bson_t *doc);
/* The snapshot as relaxed extended JSON, parseable by snapshot_json_parse. Caller frees (free). */
char *snapshot_json_write(const struct model_snapshot *s, const struct policy_cfg *cfg);

/* Appends "actions": [...] to `doc`: kind, reason, vm (uuid) and vm_name, from, to, host (names),
 * detail, expected_gain_w, from_load_pct, to_load_pct. */
void plan_to_bson(const struct plan *p, const struct model_snapshot *s, bson_t *doc);
/* { "actions": [...] } as relaxed extended JSON. Caller frees (free). */
char *plan_json_write(const struct plan *p, const struct model_snapshot *s);

/* Names <-> enums used in the documents; -1 / NULL if unknown. */
int snapshot_power_state_parse(const char *name);
const char *snapshot_power_state_name(enum power_state s);
int snapshot_algorithm_parse(const char *name);
const char *snapshot_algorithm_name(enum policy_algorithm a);
int snapshot_balance_parse(const char *name);
const char *snapshot_balance_name(enum policy_balance b);

#endif

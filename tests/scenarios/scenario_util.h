/* scenario_util.h - loading the papers' snapshots and looking things up in plans.
 * Header-only (static inline) so each scenario test stays one file. */
#ifndef JOULE_SCENARIO_UTIL_H
#define JOULE_SCENARIO_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_json.h"
#include "support/test_support.h"

static inline struct snapshot_doc *scenario_load(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/scenarios/%s", name);
    char *path = joule_test_source_path(rel);
    struct snapshot_doc *d = NULL;
    struct joule_err err = { 0 };
    int rc = snapshot_json_load(path, &d, &err);
    if (rc < 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    free(path);
    return d;
}

static inline int scenario_host(const struct snapshot_doc *d, const char *name)
{
    for (size_t i = 0; i < d->snap.n_hosts; i++)
        if (!strcmp(d->snap.hosts[i].name, name))
            return (int)i;
    fail_msg("no host %s", name);
    return -1;
}

static inline int scenario_vm(const struct snapshot_doc *d, const char *uuid_or_name)
{
    for (size_t i = 0; i < d->snap.n_vms; i++)
        if (!strcmp(d->snap.vms[i].uuid, uuid_or_name) ||
            !strcmp(d->snap.vms[i].name, uuid_or_name))
            return (int)i;
    fail_msg("no VM %s", uuid_or_name);
    return -1;
}

static inline void scenario_run(const struct snapshot_doc *d, const struct policy_cfg *cfg,
                                struct plan *p)
{
    struct joule_err err = { 0 };
    plan_init(p);
    int rc = policy_run(cfg, &d->snap, p, &err);
    if (rc < 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
}

static inline void assert_migrate(const struct snapshot_doc *d, const struct plan_action *a,
                                  const char *vm, const char *from, const char *to,
                                  enum plan_reason reason)
{
    assert_int_equal(a->kind, PLAN_ACTION_MIGRATE);
    assert_int_equal(a->reason, reason);
    assert_int_equal(a->vm, scenario_vm(d, vm));
    assert_int_equal(a->from, scenario_host(d, from));
    assert_int_equal(a->to, scenario_host(d, to));
    assert_true(a->detail[0] != '\0');
}

#endif

#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

void plan_init(struct plan *p) { memset(p, 0, sizeof *p); }

void plan_free(struct plan *p)
{
    free(p->actions);
    memset(p, 0, sizeof *p);
}

void plan_clear(struct plan *p) { p->n = 0; }

struct plan_action *plan_add(struct plan *p, enum plan_action_kind kind, enum plan_reason reason)
{
    xgrow((void **)&p->actions, &p->cap, p->n + 1, sizeof *p->actions);
    struct plan_action *a = &p->actions[p->n++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->reason = reason;
    a->vm = a->from = a->to = a->host = -1;
    return a;
}

const char *plan_action_kind_name(enum plan_action_kind k)
{
    switch (k) {
    case PLAN_ACTION_MIGRATE: return "migrate";
    case PLAN_ACTION_POWER_ON: return "power_on";
    case PLAN_ACTION_POWER_OFF: return "power_off";
    case PLAN_ACTION_ALERT: return "alert";
    case PLAN_ACTION__COUNT: break;
    }
    return "?";
}

const char *plan_reason_name(enum plan_reason r)
{
    switch (r) {
    case PLAN_REASON_TH1_WAKE: return "th1_wake";
    case PLAN_REASON_PEAK_WAKE: return "peak_wake";
    case PLAN_REASON_MIN_HOSTS: return "min_hosts";
    case PLAN_REASON_NO_CAPACITY: return "no_capacity";
    case PLAN_REASON_TH2_CONSOLIDATE: return "th2_consolidate";
    case PLAN_REASON_BALANCE: return "balance";
    case PLAN_REASON_BANDS: return "bands";
    case PLAN_REASON_OVERLOAD: return "overload";
    case PLAN_REASON_UNDERLOAD: return "underload";
    case PLAN_REASON__COUNT: break;
    }
    return "?";
}

size_t plan_count(const struct plan *p, enum plan_action_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += p->actions[i].kind == k;
    return n;
}

/* plan.h - a plan is an ordered list of actions, each with its reason and expected effect. */
#ifndef JOULE_POLICY_PLAN_H
#define JOULE_POLICY_PLAN_H

#include <stddef.h>

enum plan_action_kind {
    PLAN_ACTION_MIGRATE,
    PLAN_ACTION_POWER_ON,
    PLAN_ACTION_POWER_OFF,
    PLAN_ACTION_ALERT,
    PLAN_ACTION__COUNT
};

enum plan_reason {
    PLAN_REASON_TH1_WAKE,        /* average load above Th1 */
    PLAN_REASON_PEAK_WAKE,       /* capacity for a coming peak window */
    PLAN_REASON_MIN_HOSTS,       /* below the minimum of active hosts */
    PLAN_REASON_NO_CAPACITY,     /* Th1 exceeded and no host left to wake */
    PLAN_REASON_TH2_CONSOLIDATE, /* U < Th2: empty the lowest-loaded host */
    PLAN_REASON_BALANCE,         /* differencing balance (seed 003) */
    PLAN_REASON_BANDS,           /* band balance (seed 001) */
    PLAN_REASON_OVERLOAD,        /* reference policies: host overloaded */
    PLAN_REASON_UNDERLOAD,       /* reference policies: host underloaded, emptied */
    PLAN_REASON__COUNT
};

#define PLAN_DETAIL_MAX 128

struct plan_action {
    enum plan_action_kind kind;
    enum plan_reason reason;
    int vm;                      /* MIGRATE: index into the snapshot's vms, else -1 */
    int from;                    /* MIGRATE: source host index, else -1 */
    int to;                      /* MIGRATE: destination host index, else -1 */
    int host;                    /* POWER_*: host index; ALERT: -1 or the host concerned */
    char detail[PLAN_DETAIL_MAX];
    double expected_gain_w;      /* watts saved (+) or spent (-) once done */
    double from_load_pct;        /* expected loads after the action (MIGRATE) */
    double to_load_pct;
};

struct plan {
    struct plan_action *actions;
    size_t n;
    size_t cap;
};

void plan_init(struct plan *p);
void plan_free(struct plan *p);   /* frees the actions, not p */
void plan_clear(struct plan *p);
/* Appends a zeroed action (vm/from/to/host = -1) of `kind` and returns it (valid until the next add). */
struct plan_action *plan_add(struct plan *p, enum plan_action_kind kind, enum plan_reason reason);
const char *plan_action_kind_name(enum plan_action_kind k);
const char *plan_reason_name(enum plan_reason r);
size_t plan_count(const struct plan *p, enum plan_action_kind k);

#endif

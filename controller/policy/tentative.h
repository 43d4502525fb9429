/* tentative.h - internal to the policy library: a what-if copy of the cluster on which the
 * consolidation policies (cloudsim.c, joule.c) try moves before they commit them to a plan.
 * Mirrors CloudSim's host bookkeeping (VmSchedulerTimeSharedOverSubscription): per-core cap,
 * proportional scaling when over-subscribed, VM order on each host. Pure: memory only. */
#ifndef JOULE_POLICY_TENTATIVE_H
#define JOULE_POLICY_TENTATIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "model_snapshot.h"

#define TENT_HIST 30

struct tent_host {
    int *vms;             /* snapshot VM indices, in host order */
    size_t n;
    size_t cap;
    double total;         /* capacity (snap cpus) */
    double pe;            /* per-core cap (snap pe_cpus or total) */
    double sum_req;       /* sum of requested demand (uncapped) */
    double sum_capped;    /* sum of requests capped at one core */
    double used;          /* allocated: sum_capped, or scaled down when over-subscribed */
    double mem_used;
    double max_mem;       /* largest VM memory on the host */
    double hist[TENT_HIST]; /* sum of the VMs' demand history / total, most recent first */
    size_t hist_len;      /* after trimming trailing zeros */
    double pre_util;      /* utilisation before the round (used_cpus / cpus) */
    double base_w;        /* power at pre_util */
    bool off;             /* pre_util == 0: switched off (CloudSim) */
};

struct tentative {
    const struct model_snapshot *snap;
    struct tent_host *hosts;
    size_t n_hosts;
    double *demand;       /* per VM: demand used for decisions (default snap cpu_cores) */
    double *alloc;        /* per VM: what the host reserves for it (default = demand; CloudSim's
                           * initial placement reserves the full size, cpu_max) */
    bool limits_unplaced_only; /* memory / VM-count limits only for unplaced VMs (CloudSim) */
};

/* Builds the what-if state from the snapshot (VMs on their hosts in host_seq order; VMs with
 * host < 0 are left unplaced). demand may be NULL (then cpu_cores is used); it is copied. */
void tent_init(struct tentative *t, const struct model_snapshot *snap, const double *demand);
void tent_free(struct tentative *t);
void tent_add(struct tentative *t, int h, int vm);    /* append vm to host h */
void tent_remove(struct tentative *t, int h, int vm); /* remove vm from host h (if there) */
void tent_recompute(struct tentative *t, int h);

/* CloudSim Host.isSuitableForVm: core cap, free capacity, memory and VM-count limits. */
bool tent_suitable(const struct tentative *t, int h, int vm);
/* Host power model at utilisation u (0..1), CloudSim's PowerModelSpecPower interpolation. */
double tent_power(const struct snap_host *h, double u);

#endif

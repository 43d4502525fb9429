/* records.h - what the controller records for the store: plain structs filled by the monitor,
 * executor and power state machine, turned into BSON documents by docs.c (store issue) and
 * written by the daemon loop. Keeping them plain keeps those modules free of the store. */
#ifndef JOULE_RECORDS_H
#define JOULE_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "driver.h"

#define RECORD_NAME_MAX 128
#define RECORD_ERROR_MAX 256

struct migration_record {
    char plan_id[64];
    char vm_uuid[JOULE_UUID_STRLEN];
    char vm_name[RECORD_NAME_MAX];
    char from[RECORD_NAME_MAX];
    char to[RECORD_NAME_MAX];
    int64_t start_ns;              /* wall clock, UTC */
    int64_t end_ns;
    bool ok;
    bool aborted;                  /* timed out and aborted; VM stayed on its source */
    uint64_t bytes;
    int64_t downtime_ns;           /* -1 unknown */
    char error[RECORD_ERROR_MAX];  /* "" when ok */
    char reason[32];               /* plan reason name */
};

enum record_power_action { RECORD_POWER_ON, RECORD_POWER_OFF };

struct power_action_record {
    char host[RECORD_NAME_MAX];
    enum record_power_action action;
    char method[16];               /* "ipmi", "wol", "exec", "sim" (the one that worked last) */
    int64_t start_ns;
    int64_t end_ns;                /* when verified or given up */
    bool ok;
    char verified_by[64];          /* "ipmi_status", "libvirt_reachable", "libvirt_down+meter"... */
    char error[RECORD_ERROR_MAX];
    bool forced;                   /* an operator's --force */
    bool hard;                     /* soft off did not finish within the grace: hard off sent */
};

struct event_record {
    char kind[32];                 /* overload, periodic, wake_needed, no_capacity, alert, ... */
    int64_t t_ns;
    char host[RECORD_NAME_MAX];    /* "" when not about one host */
    char detail[RECORD_ERROR_MAX];
};

#endif

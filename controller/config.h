/* config.h - the whole jouled configuration, parsed from a libconfig file.
 * Every error names file:line and the setting; all errors of a file are reported at once. */
#ifndef JOULE_CONFIG_H
#define JOULE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define JOULE_NS_PER_S 1000000000LL
#define JOULE_NS_PER_MS 1000000LL

enum config_mode { CONFIG_MODE_AUTO, CONFIG_MODE_DRY_RUN, CONFIG_MODE__COUNT };

/* Which policy decides. THRESHOLD = the papers' Th1 / Th2 / balance rules. */
enum config_algorithm {
    CONFIG_ALGORITHM_THRESHOLD,
    CONFIG_ALGORITHM_JOULE,
    CONFIG_ALGORITHM_THR_MMT,
    CONFIG_ALGORITHM_LR_MMT,
    CONFIG_ALGORITHM__COUNT
};

enum config_balance {
    CONFIG_BALANCE_DIFFERENCING, /* seed paper 003 */
    CONFIG_BALANCE_BANDS,        /* seed paper 001 */
    CONFIG_BALANCE_NONE,
    CONFIG_BALANCE__COUNT
};

enum config_consolidate { CONFIG_CONSOLIDATE_OFF_PEAK, CONFIG_CONSOLIDATE_ALWAYS,
                          CONFIG_CONSOLIDATE_NEVER, CONFIG_CONSOLIDATE__COUNT };

enum config_power_method {
    CONFIG_POWER_IPMI,
    CONFIG_POWER_WOL,
    CONFIG_POWER_EXEC,
    CONFIG_POWER_SIM,
    CONFIG_POWER__COUNT
};

enum config_hypervisor { CONFIG_HYPERVISOR_LIBVIRT, CONFIG_HYPERVISOR_SIM, CONFIG_HYPERVISOR__COUNT };

enum config_meter_protocol {
    CONFIG_METER_XBEE1, /* XBee API mode AP=1 */
    CONFIG_METER_XBEE2, /* XBee API mode AP=2 (escaped) */
    CONFIG_METER_ZNP,   /* TI Z-Stack MT over UART */
    CONFIG_METER_SIM,   /* watts from the sim cluster's power model */
    CONFIG_METER_NONE,  /* no meters: watts from each host's power model */
    CONFIG_METER__COUNT
};

enum config_parity { CONFIG_PARITY_NONE, CONFIG_PARITY_EVEN, CONFIG_PARITY_ODD, CONFIG_PARITY__COUNT };
enum config_flow { CONFIG_FLOW_NONE, CONFIG_FLOW_RTSCTS, CONFIG_FLOW_XONXOFF, CONFIG_FLOW__COUNT };

/* Migration flags (libvirt's VIR_MIGRATE_* are mapped by the libvirt driver). */
enum {
    CONFIG_MIGRATE_LIVE = 1u << 0,
    CONFIG_MIGRATE_PEER2PEER = 1u << 1,
    CONFIG_MIGRATE_PERSIST_DEST = 1u << 2,
    CONFIG_MIGRATE_UNDEFINE_SOURCE = 1u << 3,
    CONFIG_MIGRATE_AUTO_CONVERGE = 1u << 4,
    CONFIG_MIGRATE_COMPRESSED = 1u << 5,
};

/* A weekly window such as "mon-fri 08:00-18:00" (end may be before start: wraps midnight). */
struct config_window {
    uint8_t days;      /* bit 0 = Monday ... bit 6 = Sunday: days on which the window starts */
    int start_min;     /* minutes after local midnight, 0..1439 */
    int end_min;       /* 1..1440; <= start_min means it ends the next day */
    char *text;        /* as written */
};

struct config_ipmi {
    char *host;        /* "host" or "host:port" */
    char *user;
    char *password;    /* from the secrets file only */
    int cipher_suite;  /* default 3 */
    int64_t timeout_ns;
    int retries;
    int64_t soft_off_grace_ns; /* soft (ACPI) off, then hard off after this */
    bool workaround_opensesspriv; /* FreeIPMI workaround needed by ipmi_sim */
    int watts_sensor;  /* sensor number read as a second watts source; -1 = none */
    bool watts_dcmi;   /* read watts with DCMI "get power reading" instead */
};

struct config_wol {
    char *mac;         /* "aa:bb:cc:dd:ee:ff" */
    uint8_t mac_bytes[6];
    char *broadcast;   /* default "255.255.255.255" */
    int port;          /* 9 */
    char *interface;   /* optional SO_BINDTODEVICE */
    char *secureon;    /* optional SecureOn password (from secrets), 4 or 6 bytes as hex pairs */
};

struct config_exec {
    char **on;         /* argv, NULL-terminated; "{host}" and "{mac}" are replaced */
    char **off;
    char **status;     /* exit 0 = on, 1 = off, else unknown */
    int64_t timeout_ns;
};

struct config_host {
    char *name;
    char *uri;                 /* libvirt control URI */
    char *migration_uri;       /* what the source daemon dials for p2p; default = uri */
    enum config_hypervisor hypervisor;
    double cpus;               /* capacity override in cores; 0 = from virNodeGetInfo */
    int64_t memory_mib;        /* capacity override; 0 = from the hypervisor */
    char *meter;               /* meter IEEE address "00:13:a2:00:40:a1:b2:c3", optional */
    uint64_t meter_ieee;
    double idle_w;             /* power model: watts at 0% and 100% load, and when off */
    double max_w;
    double standby_w;
    int priority;              /* lower wakes first */
    bool excluded;             /* never powered off, never a migration target */
    enum config_power_method methods[CONFIG_POWER__COUNT];
    size_t n_methods;          /* order in which methods are tried; empty = no power control */
    struct config_ipmi ipmi;
    struct config_wol wol;
    struct config_exec exec;
    int64_t boot_ns;           /* expected boot-to-verified time (sim uses it as the delay) */
    int64_t shutdown_ns;
    int line;                  /* where the host block starts, for later errors */
};

struct config_policy {
    enum config_algorithm algorithm;
    double th1_pct;            /* average load of active hosts that wakes a host */
    double th2_factor;         /* of the capacity of the N-1 other hosts */
    double overload_pct;       /* one host's smoothed load that fires an overload event */
    double balance_gap_pct;    /* stop balancing below this max-min gap */
    double placement_target_pct; /* no consolidation target above this; default = th1_pct */
    enum config_balance balance;
    enum config_consolidate consolidate;
    unsigned min_active_hosts;
    unsigned max_moves_per_round;
    int64_t vm_cooldown_ns;
    int64_t host_min_off_ns;
    uint64_t seed;
    int64_t overload_cooldown_ns; /* no second overload event for a host within this */
    /* Reference policies (thr-mmt, lr-mmt) and joule's own policy (issue 9). */
    double thr_threshold;        /* ThrMmt overload threshold, fraction of capacity */
    double lr_safety;            /* LrMmt safety parameter */
    double lr_fallback_threshold;/* LrMmt threshold while history is short */
    unsigned lr_history;         /* LrMmt regression length (decisions) */
    double joule_percentile;     /* VM sized by this percentile of recent demand */
    unsigned joule_window;       /* ... over this many decisions */
    double joule_target_pct;     /* fill hosts up to this sized load */
    double joule_high_pct;       /* relieve a host above this sized load */
    double joule_low_pct;        /* try to empty hosts below this sized load */
    double joule_headroom_pct;   /* emptying: targets stay target - headroom */
    double joule_min_gain_wh;    /* emptying must save at least this (after migration cost) */
    double joule_horizon_s;      /* ... over this horizon */
    double joule_migration_w;    /* extra watts while a migration runs */
    /* Added by issue 10 item 3 (threshold algorithm): no ping-pong between Th2 and Th1. */
    double th2_dead_band_pct;    /* Th2 leaves the hosts that stay on at <= th1_pct - this */
    int64_t host_min_on_ns;      /* a host on for less than this is not emptied by Th2 */
};

struct config_schedule {
    char *timezone;            /* e.g. "Europe/Paris"; default "UTC" */
    struct config_window *peak;
    size_t n_peak;
    struct config_window *off_peak; /* if empty: every time outside peak is off-peak */
    size_t n_off_peak;
    unsigned peak_min_active_hosts;
    int64_t wake_lead_ns;      /* 0 = use each host's measured boot time */
    double peak_expected_load_pct; /* expected peak load, % of all hosts' capacity; 0 = learn */
};

struct config_migration {
    unsigned in_flight;        /* in all */
    unsigned per_source;
    int64_t timeout_ns;
    unsigned flags;            /* CONFIG_MIGRATE_* */
    unsigned bandwidth_mibps;  /* 0 = unlimited */
};

struct config_meter {
    enum config_meter_protocol protocol;
    char *port;                /* device path or a /dev/serial/by-id link or a pty */
    int baud;
    int data_bits;
    enum config_parity parity;
    int stop_bits;
    enum config_flow flow;
    int64_t stale_ns;          /* after this without a reading, the power model is used */
    int64_t read_timeout_ns;
};

struct config_store {
    char *uri;                 /* mongodb://...; JOULE_MONGODB_URI overrides; "memory:" = none */
    char *database;
    int retention_days;
    char *spool_path;
    int64_t spool_max_bytes;
};

struct config_api {
    char *listen;              /* "127.0.0.1:8642"; "" disables */
    char *token_file;
    char *token;               /* read from token_file (mode 0600/0400 only) */
};

/* A VM of the simulated cluster (sim group): CPU demand follows a day-night curve,
 * base + amplitude * (1 - cos(2 pi (t - trough) / period)) / 2, as a fraction of its vCPUs. */
struct config_sim_vm {
    char *name;
    char *host;                /* the config host it starts on */
    unsigned vcpus;
    int64_t memory_mib;
    double base;               /* 0..1 */
    double amplitude;          /* 0..1, base + amplitude <= 1 */
    int64_t trough_ns;         /* time of day (UTC) of the lowest demand */
    int64_t period_ns;         /* 24 h */
};

/* The simulated cluster jouled builds in-process when the config has a sim group (demo, tests):
 * hosts with hypervisor "sim" take cpus, memory_mib, the power model and boot/shutdown times
 * from their host block; the simulated clock starts at `start` and runs `time_factor` times
 * faster than the wall clock. */
struct config_sim {
    bool enabled;              /* the sim group is present */
    int64_t start_ns;          /* wall time the simulated clock starts at; 0 = now */
    double time_factor;        /* simulated seconds per wall second; 1 = real time */
    int64_t duration_ns;       /* jouled exits (0) after this much simulated time; 0 = never */
    double migration_mibps;    /* simulated migration bandwidth */
    struct config_sim_vm *vms;
    size_t n_vms;
};

struct config {
    char *path;
    char *cluster;
    enum config_mode mode;
    char *log_level;
    int64_t tick_ns;
    int64_t load_window_ns;
    int64_t periodic_ns;
    struct config_policy policy;
    struct config_schedule schedule;
    struct config_migration migration;
    struct config_meter meter;
    struct config_store store;
    struct config_api api;
    char *secrets_file;
    char **excluded_hosts;     /* NULL-terminated (also settable per host) */
    char **pinned_vms;         /* names or UUIDs, NULL-terminated */
    char **excluded_vms;       /* never moved, never counted for consolidation decisions */
    struct config_host *hosts;
    size_t n_hosts;
    struct config_sim sim;
    /* Added (issue 10 item 3): what config_load accepted but an operator should hear about,
     * one "file:line: warning: key: what" per line; NULL if nothing. jouled logs it (WARN) at
     * start and reload, --check-config and joulectl check-config print it. */
    char *warnings;
    /* Added (monitor-parallel): host sampling runs one worker per host; a tick waits at most
     * sample_timeout_ns for them (default tick_s / 4), and a host whose sample is still in
     * flight after sample_unreachable_ns (default tick_s) is marked unreachable. */
    int64_t sample_timeout_ns;
    int64_t sample_unreachable_ns;
};

/* Fills a config with every default (no hosts). */
void config_defaults(struct config *cfg);

/* Loads and validates `path`. On failure returns JOULE_ECONFIG and *errors holds every error
 * (one "file:line: key: what" per line, caller frees), and *out is not written. */
int config_load(const char *path, struct config **out, char **errors);
/* Same from a string (file name "<string>" in messages); secrets_text may be NULL. */
int config_load_string(const char *text, struct config **out, char **errors);
void config_free(struct config *cfg);

/* Lookups; NULL / -1 if unknown. A VM is pinned when pinned_vms or excluded_vms names it. */
const struct config_host *config_host_find(const struct config *cfg, const char *name);
int config_host_index(const struct config *cfg, const char *name);
bool config_vm_pinned(const struct config *cfg, const char *name_or_uuid);

/* Parses a window such as "mon-fri 08:00-18:00", "sat,sun 00:00-24:00", "daily 22:00-06:00". */
int config_window_parse(const char *text, struct config_window *out, struct joule_err *err);
/* Is local time (weekday 0=Monday, minute of day) inside the window? */
bool config_window_contains(const struct config_window *w, int weekday, int minute);

const char *config_mode_name(enum config_mode m);
const char *config_algorithm_name(enum config_algorithm a);
const char *config_balance_name(enum config_balance b);
const char *config_power_method_name(enum config_power_method m);
const char *config_meter_protocol_name(enum config_meter_protocol p);

/* Checks that a secrets/token file is private (no group/other bits). */
int config_check_private_file(const char *path, struct joule_err *err);

#endif

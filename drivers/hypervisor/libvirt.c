/* hypervisor/libvirt.c - the real hypervisor driver: one libvirt connection per host.
 *
 * - Connection: virConnectOpen(host->uri), keepalive (LV_KEEPALIVE_*), a close callback that
 *   marks the connection dead (daemon gone: EOF, error, keepalive timeout). alive() is false
 *   from then on; connect() opens a new connection, at most once per backoff period (1 s
 *   doubling up to 60 s after each failed attempt), so a host that is down costs nothing per
 *   tick and is picked up again when its daemon returns. retry_soon() drops the backoff: the
 *   monitor calls it every tick while the host is being powered on. The open runs on a detached thread
 *   and connect() waits for it at most LV_CONNECT_WAIT_NS: opening a hung daemon's socket
 *   blocks without limit, and the caller is the controller's loop.
 * - Keepalive and the close callback need libvirt's event loop: one process-wide thread runs
 *   virEventRunDefaultImpl() while at least one driver instance exists (refcounted; the only
 *   file-static state, because libvirt's event implementation is itself process-global).
 * - sample(): one virConnectGetAllDomainStats call per host per tick, running domains only
 *   (state, cpu.time, vcpu count, balloon, interface rx/tx). Node capacity from virNodeGetInfo,
 *   read at connect (config overrides it in the model).
 * - migrate(): live migration, peer-to-peer to dest->migration_uri when CONFIG_MIGRATE_PEER2PEER
 *   is set (the source daemon dials it), else managed over the destination's own connection.
 *   A watcher thread reads the job's progress every LV_PROGRESS_MS and, when opts->timeout_ns
 *   passes, calls virDomainAbortJob: the migrate call then fails and the VM stays on its source.
 *
 * Thread safety: connect() and sample() run on the monitor's per-host worker threads (one call
 * per instance at a time) while migrate(), job_info() and sample() run on executor workers;
 * libvirt connections are thread-safe, libvirt's last error is per thread (vir_fail reads it on
 * the calling thread), and `conn` is swapped under `mu` and used through a reference
 * (virConnectRef) so a reconnect never frees a connection in use. The instances share only the
 * event loop (refcounted under loop_mu). Hence .thread_safe = true. */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "driver.h"
#include "util/xalloc.h"

/* a hung daemon is detected after interval x (count + 1) = 12 s (a call blocks that long) */
#define LV_KEEPALIVE_INTERVAL_S 3
#define LV_KEEPALIVE_COUNT 3
#define LV_CONNECT_WAIT_NS (2LL * 1000000000LL)
#define LV_BACKOFF_MIN_NS (1LL * 1000000000LL)
#define LV_BACKOFF_MAX_NS (60LL * 1000000000LL)
#define LV_PROGRESS_MS 500

struct lv {
    char *name;
    char *uri;
    const struct clock *clock;
    pthread_mutex_t mu;
    virConnectPtr conn;          /* guarded by mu */
    atomic_bool dead;            /* set by the close callback (event loop thread) */
    int64_t retry_at_mono_ns;    /* next connect attempt allowed; guarded by mu */
    int64_t backoff_ns;
    virNodeInfo node;            /* from the last connect */
    bool have_node;
    struct hv_job_info progress; /* last migration progress seen by a watcher; guarded by mu */
    struct lv_open *open;        /* a connection attempt in progress; guarded by mu */
    char (*outgoing)[VIR_UUID_STRING_BUFLEN]; /* VMs this driver is migrating away; guarded by mu */
    size_t n_outgoing;
    size_t cap_outgoing;
};

/* ------------------------------------------------------------------ process-wide event loop */

static pthread_once_t loop_once = PTHREAD_ONCE_INIT;
static int loop_register_rc;
static pthread_mutex_t loop_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned loop_users;
static pthread_t loop_thread;
static atomic_bool loop_quit;

static void silent_error(void *arg, virErrorPtr e)
{
    (void)arg;
    (void)e; /* errors are read with virGetLastError at each call site, never printed */
}

static void loop_register(void)
{
    virSetErrorFunc(NULL, silent_error);
    loop_register_rc = virInitialize() < 0 ? -1 : virEventRegisterDefaultImpl();
}

static void *loop_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&loop_quit))
        virEventRunDefaultImpl();
    return NULL;
}

static void wake_cb(int timer, void *opaque)
{
    (void)opaque;
    virEventRemoveTimeout(timer);
}

static int loop_acquire(struct joule_err *err)
{
    pthread_once(&loop_once, loop_register);
    if (loop_register_rc < 0)
        return joule_err_set(err, JOULE_EIO, "libvirt: cannot register the event loop");
    pthread_mutex_lock(&loop_mu);
    int rc = 0;
    if (loop_users == 0) {
        atomic_store(&loop_quit, false);
        if (pthread_create(&loop_thread, NULL, loop_main, NULL) != 0)
            rc = joule_err_set(err, JOULE_EIO, "libvirt: cannot start the event loop thread");
    }
    if (rc == 0)
        loop_users++;
    pthread_mutex_unlock(&loop_mu);
    return rc;
}

static void loop_release(void)
{
    pthread_mutex_lock(&loop_mu);
    if (--loop_users == 0) {
        atomic_store(&loop_quit, true);
        virEventAddTimeout(0, wake_cb, NULL, NULL); /* wakes virEventRunDefaultImpl */
        pthread_join(loop_thread, NULL);
    }
    pthread_mutex_unlock(&loop_mu);
}

/* ------------------------------------------------------------------ errors and connection */

static int map_vir_error(const virError *e)
{
    if (!e)
        return JOULE_EIO;
    switch (e->code) {
    case VIR_ERR_NO_DOMAIN: return JOULE_ENOENT;
    case VIR_ERR_OPERATION_ABORTED: return JOULE_ETIMEDOUT;
    case VIR_ERR_OPERATION_TIMEOUT: return JOULE_ETIMEDOUT;
    case VIR_ERR_NO_SUPPORT: return JOULE_ENOTSUP;
    case VIR_ERR_OPERATION_INVALID: return JOULE_ESTATE;
    case VIR_ERR_NO_CONNECT: return JOULE_EUNAVAIL;
    case VIR_ERR_SYSTEM_ERROR: return JOULE_EUNAVAIL;
    default: break;
    }
    if (e->domain == VIR_FROM_RPC || e->domain == VIR_FROM_REMOTE)
        return JOULE_EUNAVAIL;
    return JOULE_EIO;
}

/* Translates libvirt's last error of this thread into err ("what: libvirt message") and resets
 * it. `what` names the operation and the object. */
static int vir_fail(struct joule_err *err, const char *what)
{
    virErrorPtr e = virGetLastError();
    int code = map_vir_error(e);
    const char *msg = e && e->message ? e->message : "unknown libvirt error";
    joule_err_set(err, code, "%s: %s", what, msg);
    virResetLastError();
    return code;
}

static const char *what_of(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *what_of(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return buf;
}

static void close_cb(virConnectPtr conn, int reason, void *opaque)
{
    (void)conn;
    (void)reason; /* VIR_CONNECT_CLOSE_REASON_{ERROR,EOF,KEEPALIVE,CLIENT}: all mean "gone" */
    struct lv *s = opaque;
    atomic_store(&s->dead, true);
}

/* Called with mu held: drops the current connection. */
static void drop_conn_locked(struct lv *s)
{
    if (!s->conn)
        return;
    virConnectUnregisterCloseCallback(s->conn, close_cb);
    virConnectClose(s->conn);
    virResetLastError();
    s->conn = NULL;
}

/* A referenced connection (virConnectClose it when done), or NULL when not connected. */
static virConnectPtr conn_get(struct lv *s)
{
    pthread_mutex_lock(&s->mu);
    virConnectPtr c = NULL;
    if (s->conn && !atomic_load(&s->dead)) {
        c = s->conn;
        virConnectRef(c);
    }
    pthread_mutex_unlock(&s->mu);
    return c;
}

static void outgoing_add(struct lv *s, const char *uuid)
{
    pthread_mutex_lock(&s->mu);
    xgrow((void **)&s->outgoing, &s->cap_outgoing, s->n_outgoing + 1, sizeof *s->outgoing);
    snprintf(s->outgoing[s->n_outgoing++], VIR_UUID_STRING_BUFLEN, "%s", uuid);
    pthread_mutex_unlock(&s->mu);
}

static void outgoing_del(struct lv *s, const char *uuid)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_outgoing; i++) {
        if (strcmp(s->outgoing[i], uuid) == 0) {
            memmove(&s->outgoing[i], &s->outgoing[i + 1],
                    (s->n_outgoing - i - 1) * sizeof *s->outgoing);
            s->n_outgoing--;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* s->mu held */
static bool outgoing_has(const struct lv *s, const char *uuid)
{
    for (size_t i = 0; i < s->n_outgoing; i++)
        if (strcmp(s->outgoing[i], uuid) == 0)
            return true;
    return false;
}

/* After a failed call: a connection-level failure marks the connection dead. */
static void note_failure(struct lv *s, virConnectPtr c)
{
    if (virConnectIsAlive(c) != 1)
        atomic_store(&s->dead, true);
    virResetLastError();
}

static int lv_create(const struct config_host *host, const struct drv_env *env, void **state,
                     struct joule_err *err)
{
    if (!host->uri || !*host->uri)
        return joule_err_set(err, JOULE_EINVAL, "host %s: the libvirt driver needs a uri",
                             host->name);
    if (!env || !env->clock)
        return joule_err_set(err, JOULE_EINVAL, "host %s: the libvirt driver needs a clock",
                             host->name);
    int rc = loop_acquire(err);
    if (rc < 0)
        return rc;
    struct lv *s = xcalloc(1, sizeof *s);
    s->name = xstrdup(host->name);
    s->uri = xstrdup(host->uri);
    s->clock = env->clock;
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->dead, false);
    *state = s;
    return 0;
}

static bool lv_alive(void *state)
{
    struct lv *s = state;
    pthread_mutex_lock(&s->mu);
    bool ok = s->conn && !atomic_load(&s->dead);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

/* One connection attempt, run on its own detached thread: virConnectOpen to a daemon that
 * accepts the socket but never answers (SIGSTOP, a hung host) blocks with no timeout, and the
 * controller's loop must not block with it. Shared by the driver and the thread (refs); whoever
 * drops the last reference closes a connection nobody adopted. */
struct lv_open {
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* CLOCK_MONOTONIC */
    unsigned refs;
    char *uri;
    int64_t started_ns;        /* CLOCK_MONOTONIC */
    bool done;
    virConnectPtr conn;
    virNodeInfo node;
    int rc;
    char msg[JOULE_ERR_MSG_MAX];
};

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void open_unref(struct lv_open *o)
{
    pthread_mutex_lock(&o->mu);
    bool last = --o->refs == 0;
    pthread_mutex_unlock(&o->mu);
    if (!last)
        return;
    if (o->conn)
        virConnectClose(o->conn);
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
    free(o->uri);
    free(o);
}

static void *open_main(void *arg)
{
    struct lv_open *o = arg;
    virNodeInfo node;
    memset(&node, 0, sizeof node);
    char msg[JOULE_ERR_MSG_MAX] = "";
    int rc = 0;
    virConnectPtr c = virConnectOpen(o->uri);
    bool ok = c != NULL;
    /* keepalive exists only on remote connections (every qemu+... URI); a local driver (such
     * as test:///) answers NO_SUPPORT, which is fine */
    if (ok && virConnectSetKeepAlive(c, LV_KEEPALIVE_INTERVAL_S, LV_KEEPALIVE_COUNT) < 0)
        ok = virGetLastErrorCode() == VIR_ERR_NO_SUPPORT;
    virResetLastError();
    if (ok)
        ok = virNodeGetInfo(c, &node) == 0;
    if (!ok) {
        virErrorPtr e = virGetLastError();
        rc = map_vir_error(e);
        snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "unknown libvirt error");
        if (c)
            virConnectClose(c);
        c = NULL;
    }
    virResetLastError();
    pthread_mutex_lock(&o->mu);
    o->conn = c;
    o->node = node;
    o->rc = rc;
    memcpy(o->msg, msg, sizeof msg);
    o->done = true;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    open_unref(o);
    return NULL;
}

/* Starts an attempt (s->mu held). */
static int open_start(struct lv *s, struct joule_err *err)
{
    struct lv_open *o = xcalloc(1, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->cv, &ca);
    pthread_condattr_destroy(&ca);
    o->refs = 2;
    o->uri = xstrdup(s->uri);
    o->started_ns = mono_now();
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int prc = pthread_create(&th, &at, open_main, o);
    pthread_attr_destroy(&at);
    if (prc != 0) {
        o->refs = 1;
        open_unref(o);
        return joule_err_set(err, JOULE_EIO, "connect %s: cannot start a thread", s->uri);
    }
    s->open = o;
    return 0;
}

static void backoff_locked(struct lv *s, int64_t now)
{
    s->backoff_ns = s->backoff_ns ? s->backoff_ns * 2 : LV_BACKOFF_MIN_NS;
    if (s->backoff_ns > LV_BACKOFF_MAX_NS)
        s->backoff_ns = LV_BACKOFF_MAX_NS;
    s->retry_at_mono_ns = now + s->backoff_ns;
}

/* A host being powered on comes back within seconds: forget the backoff (which may have grown
 * to LV_BACKOFF_MAX_NS while it was off), so the wake is verified on the next tick. An attempt
 * already running is left alone. */
static void lv_retry_soon(void *state)
{
    struct lv *s = state;
    pthread_mutex_lock(&s->mu);
    s->backoff_ns = 0;
    s->retry_at_mono_ns = 0;
    pthread_mutex_unlock(&s->mu);
}

/* Connects, or goes on connecting: waits at most LV_CONNECT_WAIT_NS from the start of an
 * attempt, then answers JOULE_EUNAVAIL while the attempt keeps running in the background; a
 * later call adopts its result. After a failed attempt, the next one waits for the backoff. */
static int lv_connect(void *state, struct joule_err *err)
{
    struct lv *s = state;
    int64_t now = clock_mono_ns(s->clock);
    pthread_mutex_lock(&s->mu);
    if (s->conn && !atomic_load(&s->dead)) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    if (!s->open) {
        drop_conn_locked(s);
        if (now < s->retry_at_mono_ns) {
            double wait_s = (double)(s->retry_at_mono_ns - now) / 1e9;
            pthread_mutex_unlock(&s->mu);
            return joule_err_set(err, JOULE_EUNAVAIL,
                                 "connect %s: unreachable, next attempt in %.1f s", s->uri, wait_s);
        }
        int rc = open_start(s, err);
        if (rc < 0) {
            pthread_mutex_unlock(&s->mu);
            return rc;
        }
    }
    struct lv_open *o = s->open;
    pthread_mutex_unlock(&s->mu);

    pthread_mutex_lock(&o->mu);
    int64_t deadline = o->started_ns + LV_CONNECT_WAIT_NS;
    struct timespec ts = { .tv_sec = deadline / 1000000000LL, .tv_nsec = deadline % 1000000000LL };
    while (!o->done && mono_now() < deadline)
        pthread_cond_timedwait(&o->cv, &o->mu, &ts);
    bool done = o->done;
    virConnectPtr c = o->conn;
    o->conn = NULL;
    virNodeInfo node = o->node;
    char msg[JOULE_ERR_MSG_MAX];
    memcpy(msg, o->msg, sizeof msg);
    double waited = (double)(mono_now() - o->started_ns) / 1e9;
    pthread_mutex_unlock(&o->mu);
    if (!done)
        return joule_err_set(err, JOULE_EUNAVAIL, "connect %s: no answer for %.1f s (still trying)",
                             s->uri, waited);

    pthread_mutex_lock(&s->mu);
    if (s->open == o) {
        s->open = NULL;
        open_unref(o);
    }
    int rc = 0;
    if (!c) {
        /* whatever the cause (o->rc), the host cannot be used now */
        rc = joule_err_set(err, JOULE_EUNAVAIL, "connect %s: %s", s->uri, msg);
        backoff_locked(s, now);
    } else if (virConnectRegisterCloseCallback(c, close_cb, s, NULL) < 0 &&
               virGetLastErrorCode() != VIR_ERR_NO_SUPPORT) {
        char w[160];
        rc = vir_fail(err, what_of(w, sizeof w, "connect %s: close callback", s->uri));
        virConnectClose(c);
        backoff_locked(s, now);
    } else {
        virResetLastError();
        atomic_store(&s->dead, false);
        s->conn = c;
        s->node = node;
        s->have_node = true;
        s->backoff_ns = 0;
        s->retry_at_mono_ns = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ------------------------------------------------------------------ sampling */

static enum hv_vm_state map_state(int st)
{
    switch (st) {
    case VIR_DOMAIN_RUNNING: return HV_VM_RUNNING;
    case VIR_DOMAIN_PAUSED: return HV_VM_PAUSED;
    case VIR_DOMAIN_SHUTOFF:
    case VIR_DOMAIN_SHUTDOWN: return HV_VM_SHUTOFF;
    default: return HV_VM_OTHER;
    }
}

static void fill_vm(struct hv_vm_sample *vs, virDomainStatsRecordPtr r)
{
    virTypedParameterPtr p = r->params;
    int n = r->nparams;
    unsigned long long ull;
    unsigned int ui;
    int st = VIR_DOMAIN_NOSTATE;
    virDomainGetUUIDString(r->dom, vs->uuid);
    const char *name = virDomainGetName(r->dom);
    vs->name = xstrdup(name ? name : vs->uuid);
    if (virTypedParamsGetInt(p, n, "state.state", &st) == 1)
        vs->state = map_state(st);
    else
        vs->state = HV_VM_OTHER;
    if (virTypedParamsGetULLong(p, n, "cpu.time", &ull) == 1)
        vs->cpu_time_ns = ull;
    if (virTypedParamsGetUInt(p, n, "vcpu.current", &ui) == 1)
        vs->vcpus = ui;
    if (virTypedParamsGetULLong(p, n, "balloon.current", &ull) == 1)
        vs->mem_kib = ull;
    else if (virTypedParamsGetULLong(p, n, "balloon.maximum", &ull) == 1)
        vs->mem_kib = ull;
    if (virTypedParamsGetUInt(p, n, "net.count", &ui) == 1) {
        for (unsigned i = 0; i < ui; i++) {
            char key[48];
            snprintf(key, sizeof key, "net.%u.rx.bytes", i);
            if (virTypedParamsGetULLong(p, n, key, &ull) == 1)
                vs->rx_bytes += ull;
            snprintf(key, sizeof key, "net.%u.tx.bytes", i);
            if (virTypedParamsGetULLong(p, n, key, &ull) == 1)
                vs->tx_bytes += ull;
        }
    }
}

/* A domain paused for a migration is in transit: the incoming copy on the destination (not
 * running here yet) or the source during switch-over. Neither is "running here", so it is left
 * out; the next tick shows where it ended up. */
static bool in_transit(virDomainStatsRecordPtr r)
{
    int st = 0, reason = 0;
    return virTypedParamsGetInt(r->params, r->nparams, "state.state", &st) == 1 &&
           virTypedParamsGetInt(r->params, r->nparams, "state.reason", &reason) == 1 &&
           st == VIR_DOMAIN_PAUSED &&
           (reason == VIR_DOMAIN_PAUSED_MIGRATION || reason == VIR_DOMAIN_PAUSED_POSTCOPY ||
            reason == VIR_DOMAIN_PAUSED_STARTING_UP);
}

static int lv_sample(void *state, struct hv_sample *out, struct joule_err *err)
{
    struct lv *s = state;
    hv_sample_clear(out);
    virConnectPtr c = conn_get(s);
    if (!c)
        return joule_err_set(err, JOULE_EUNAVAIL, "sample %s: not connected", s->name);
    virDomainStatsRecordPtr *recs = NULL;
    unsigned stats = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_VCPU |
                     VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_INTERFACE;
    int64_t m0 = clock_mono_ns(s->clock);
    int n = virConnectGetAllDomainStats(c, stats, &recs, VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);
    int64_t m1 = clock_mono_ns(s->clock);
    if (n < 0) {
        char w[160];
        int rc = vir_fail(err, what_of(w, sizeof w, "sample %s", s->name));
        note_failure(s, c);
        virConnectClose(c);
        return rc;
    }
    out->t_ns = clock_now_ns(s->clock);
    out->mono_ns = m0 + (m1 - m0) / 2; /* the counters were read in between */
    pthread_mutex_lock(&s->mu);
    out->cpus = s->node.cpus;
    out->mhz = s->node.mhz;
    out->mem_kib = s->node.memory;
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n; i++) {
        if (in_transit(recs[i]))
            continue;
        struct hv_vm_sample *vs = hv_sample_add_vm(out);
        fill_vm(vs, recs[i]);
        pthread_mutex_lock(&s->mu);
        vs->migrating = outgoing_has(s, vs->uuid);
        pthread_mutex_unlock(&s->mu);
    }
    virDomainStatsRecordListFree(recs);
    virConnectClose(c);
    return 0;
}

/* ------------------------------------------------------------------ migration */

struct watch {
    struct lv *s;
    virDomainPtr dom;
    int64_t timeout_ns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    bool aborted;
};

static void read_progress(struct lv *s, virDomainPtr dom)
{
    virDomainJobInfo ji;
    if (virDomainGetJobInfo(dom, &ji) < 0) {
        virResetLastError();
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->progress.active = ji.type == VIR_DOMAIN_JOB_UNBOUNDED || ji.type == VIR_DOMAIN_JOB_BOUNDED;
    s->progress.elapsed_ns = (int64_t)ji.timeElapsed * 1000000LL;
    s->progress.data_total = ji.dataTotal;
    s->progress.data_processed = ji.dataProcessed;
    s->progress.data_remaining = ji.dataRemaining;
    pthread_mutex_unlock(&s->mu);
}

static void *watch_main(void *arg)
{
    struct watch *w = arg;
    int64_t start = mono_now();
    int64_t deadline = w->timeout_ns > 0 ? start + w->timeout_ns : INT64_MAX;
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        int64_t now = mono_now();
        int64_t next = now + LV_PROGRESS_MS * 1000000LL;
        if (!w->aborted && deadline < next)
            next = deadline;
        struct timespec ts = { .tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL };
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->done)
            break;
        bool fire = !w->aborted && mono_now() >= deadline;
        pthread_mutex_unlock(&w->mu);
        if (fire) {
            /* the migrate call fails with "operation aborted"; the VM keeps running here. If the
             * job is already past the point of no return the abort fails and it completes. */
            virDomainAbortJob(w->dom);
            virResetLastError();
            pthread_mutex_lock(&w->mu);
            w->aborted = true; /* tried once; the migrate call's result tells what happened */
            continue;
        }
        read_progress(w->s, w->dom);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static unsigned map_flags(unsigned f)
{
    unsigned v = 0;
    if (f & CONFIG_MIGRATE_LIVE)
        v |= VIR_MIGRATE_LIVE;
    if (f & CONFIG_MIGRATE_PEER2PEER)
        v |= VIR_MIGRATE_PEER2PEER;
    if (f & CONFIG_MIGRATE_PERSIST_DEST)
        v |= VIR_MIGRATE_PERSIST_DEST;
    if (f & CONFIG_MIGRATE_UNDEFINE_SOURCE)
        v |= VIR_MIGRATE_UNDEFINE_SOURCE;
    if (f & CONFIG_MIGRATE_AUTO_CONVERGE)
        v |= VIR_MIGRATE_AUTO_CONVERGE;
    if (f & CONFIG_MIGRATE_COMPRESSED)
        v |= VIR_MIGRATE_COMPRESSED;
    return v;
}

/* Downtime and bytes of the finished job, read on the destination (best effort). */
static void completed_stats(virConnectPtr dc, const char *uuid, struct hv_migrate_result *res)
{
    virDomainPtr d = virDomainLookupByUUIDString(dc, uuid);
    if (!d) {
        virResetLastError();
        return;
    }
    int type = 0, n = 0;
    virTypedParameterPtr p = NULL;
    if (virDomainGetJobStats(d, &type, &p, &n, VIR_DOMAIN_JOB_STATS_COMPLETED) == 0) {
        unsigned long long v;
        if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DOWNTIME, &v) == 1)
            res->downtime_ns = (int64_t)v * 1000000LL;
        if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DATA_PROCESSED, &v) == 1)
            res->bytes = v;
        virTypedParamsFree(p, n);
    }
    virResetLastError();
    virDomainFree(d);
}

static int lv_migrate(void *state, const char *vm_uuid, const struct hv_migrate_dest *dest,
                      const struct hv_migrate_opts *opts, struct hv_migrate_result *res,
                      struct joule_err *err)
{
    struct lv *s = state;
    struct lv *ds = dest->state;
    memset(res, 0, sizeof *res);
    res->downtime_ns = -1;
    res->start_ns = clock_now_ns(s->clock);
    unsigned flags = map_flags(opts ? opts->flags : CONFIG_MIGRATE_LIVE | CONFIG_MIGRATE_PEER2PEER);
    bool p2p = (flags & VIR_MIGRATE_PEER2PEER) != 0;
    const char *duri = dest->uri;
    if (dest->migration_uri && *dest->migration_uri)
        duri = dest->migration_uri;
    if (p2p && (!duri || !*duri))
        return joule_err_set(err, JOULE_EINVAL, "migrate %s to %s: no migration uri", vm_uuid,
                             dest->name);

    virConnectPtr c = conn_get(s);
    if (!c)
        return joule_err_set(err, JOULE_EUNAVAIL, "migrate %s: %s is not connected", vm_uuid,
                             s->name);
    virConnectPtr dc = ds ? conn_get(ds) : NULL;
    char w[200];
    int rc = 0;
    virDomainPtr dom = NULL;
    virTypedParameterPtr params = NULL;
    int np = 0, maxp = 0;
    if (!p2p && !dc) {
        rc = joule_err_set(err, JOULE_EUNAVAIL, "migrate %s: destination %s is not connected",
                           vm_uuid, dest->name);
        goto out;
    }
    if (!(dom = virDomainLookupByUUIDString(c, vm_uuid))) {
        rc = vir_fail(err, what_of(w, sizeof w, "migrate %s: lookup on %s", vm_uuid, s->name));
        goto out;
    }
    if (opts && opts->bandwidth_mibps > 0 &&
        virTypedParamsAddULLong(&params, &np, &maxp, VIR_MIGRATE_PARAM_BANDWIDTH,
                                opts->bandwidth_mibps) < 0) {
        rc = vir_fail(err, what_of(w, sizeof w, "migrate %s: parameters", vm_uuid));
        goto out;
    }
    pthread_mutex_lock(&s->mu);
    memset(&s->progress, 0, sizeof s->progress);
    pthread_mutex_unlock(&s->mu);

    struct watch wa = { .s = s, .dom = dom, .timeout_ns = opts ? opts->timeout_ns : 0 };
    pthread_mutex_init(&wa.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wa.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t wt;
    bool watching = pthread_create(&wt, NULL, watch_main, &wa) == 0;
    outgoing_add(s, vm_uuid);

    int mrc;
    if (p2p) {
        mrc = virDomainMigrateToURI3(dom, duri, params, (unsigned)np, flags);
    } else {
        virDomainPtr nd = virDomainMigrate3(dom, dc, params, (unsigned)np, flags);
        mrc = nd ? 0 : -1;
        if (nd)
            virDomainFree(nd);
    }
    if (mrc < 0)
        rc = vir_fail(err, what_of(w, sizeof w, "migrate %s to %s", vm_uuid, dest->name));

    pthread_mutex_lock(&wa.mu);
    wa.done = true;
    pthread_cond_signal(&wa.cv);
    pthread_mutex_unlock(&wa.mu);
    outgoing_del(s, vm_uuid);
    if (watching)
        pthread_join(wt, NULL);
    pthread_cond_destroy(&wa.cv);
    pthread_mutex_destroy(&wa.mu);
    res->end_ns = clock_now_ns(s->clock);
    if (rc < 0 && wa.aborted) {
        res->aborted = true;
        rc = JOULE_ETIMEDOUT;
        if (err) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            joule_err_set(err, rc, "%s (aborted after the %.0f s timeout)", msg,
                          (double)opts->timeout_ns / 1e9);
        }
    }
    if (rc < 0)
        note_failure(s, c);
    else if (dc)
        completed_stats(dc, vm_uuid, res);
 out:
    virTypedParamsFree(params, np);
    if (dom)
        virDomainFree(dom);
    if (dc)
        virConnectClose(dc);
    virConnectClose(c);
    return rc;
}

static int lv_abort_migration(void *state, const char *vm_uuid, struct joule_err *err)
{
    struct lv *s = state;
    virConnectPtr c = conn_get(s);
    if (!c)
        return joule_err_set(err, JOULE_EUNAVAIL, "abort %s: %s is not connected", vm_uuid,
                             s->name);
    char w[200];
    int rc = 0;
    virDomainPtr d = virDomainLookupByUUIDString(c, vm_uuid);
    if (!d)
        rc = vir_fail(err, what_of(w, sizeof w, "abort %s on %s", vm_uuid, s->name));
    else if (virDomainAbortJob(d) < 0)
        rc = vir_fail(err, what_of(w, sizeof w, "abort %s on %s", vm_uuid, s->name));
    if (d)
        virDomainFree(d);
    virConnectClose(c);
    return rc;
}

static int lv_job_info(void *state, const char *vm_uuid, struct hv_job_info *out,
                       struct joule_err *err)
{
    struct lv *s = state;
    virConnectPtr c = conn_get(s);
    if (!c)
        return joule_err_set(err, JOULE_EUNAVAIL, "job info %s: %s is not connected", vm_uuid,
                             s->name);
    char w[200];
    int rc = 0;
    virDomainPtr d = virDomainLookupByUUIDString(c, vm_uuid);
    if (!d) {
        rc = vir_fail(err, what_of(w, sizeof w, "job info %s on %s", vm_uuid, s->name));
    } else {
        read_progress(s, d);
        pthread_mutex_lock(&s->mu);
        *out = s->progress;
        pthread_mutex_unlock(&s->mu);
        virDomainFree(d);
    }
    virConnectClose(c);
    return rc;
}

static void lv_close(void *state)
{
    struct lv *s = state;
    pthread_mutex_lock(&s->mu);
    drop_conn_locked(s);
    if (s->open) { /* abandoned: the attempt's thread closes what it gets */
        open_unref(s->open);
        s->open = NULL;
    }
    pthread_mutex_unlock(&s->mu);
}

static void lv_destroy(void *state)
{
    struct lv *s = state;
    if (!s)
        return;
    lv_close(s);
    pthread_mutex_destroy(&s->mu);
    free(s->outgoing);
    free(s->name);
    free(s->uri);
    free(s);
    loop_release();
}

const struct hypervisor_ops hypervisor_libvirt_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "libvirt",
    .create = lv_create,
    .connect = lv_connect,
    .alive = lv_alive,
    .sample = lv_sample,
    .migrate = lv_migrate,
    .abort_migration = lv_abort_migration,
    .job_info = lv_job_info,
    .close = lv_close,
    .destroy = lv_destroy,
    .retry_soon = lv_retry_soon,
    .thread_safe = true, /* per-instance state under mu; libvirt's errors are per thread */
};

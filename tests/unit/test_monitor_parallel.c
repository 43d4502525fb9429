/* monitor.c's concurrent sampling with a scripted, thread-safe fake hypervisor driver whose
 * sample (or connect) for one host blocks until the test releases it. The test releases a
 * blocked host only AFTER monitor_tick has returned: if the tick waited for it, the test would
 * hang (the fake gives up after FAKE_SAFETY_S and the assertions fail; ctest's TIMEOUT is the
 * last resort). Time: the model and the monitor run on clock_sim; the only wall-clock waits are
 * the per-tick wait under test (sample_timeout_s, tiny here) and waiting for the fake to report
 * a real event (a worker entered or left a call). */
#include "support/test_support.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "model.h"
#include "monitor.h"
#include "registry.h"
#include "util/log.h"
#include "util/xalloc.h"

#define S JOULE_NS_PER_S
#define NH 3
#define FAKE_SAFETY_S 30 /* a blocked call gives up after this (wall): a stalled tick fails */

/* ---------------------------------------------------------------- the fake driver */

struct fake_ctl {
    pthread_mutex_t mu;
    pthread_cond_t cv;              /* any change below */
    const struct clock *clock;      /* the test's clock_sim, read only while the test waits */
    bool block_sample[NH];          /* the next sample of host i blocks until cleared */
    bool block_connect[NH];
    bool waiting[NH];               /* a call of host i is blocked now */
    bool gave_up[NH];               /* a blocked call hit FAKE_SAFETY_S */
    bool alive[NH];
    unsigned samples_started[NH];
    unsigned samples_done[NH];
    unsigned connects[NH];
    unsigned in_flight[NH];
    unsigned max_in_flight[NH];
    pthread_t sample_thread[NH];    /* thread of the last sample */
    pthread_t connect_thread[NH];
    int order[NH * 4];              /* hosts in the order their samples finished */
    size_t n_order;
    double cores[NH];               /* each host's one VM uses this many cores */
    uint64_t cpu_ns[NH];
    int64_t last_mono[NH];
};

struct fake_hv {
    struct fake_ctl *ctl;
    int i;
};

/* Blocks while *flag is set (ctl->mu held); false if it gave up. */
static bool fake_block(struct fake_ctl *c, int i, bool *flag)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += FAKE_SAFETY_S;
    c->waiting[i] = true;
    pthread_cond_broadcast(&c->cv);
    while (*flag) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) != 0 && *flag) {
            c->gave_up[i] = true;
            break;
        }
    }
    c->waiting[i] = false;
    return !c->gave_up[i];
}

static int fake_connect(void *st, struct joule_err *err)
{
    struct fake_hv *f = st;
    struct fake_ctl *c = f->ctl;
    pthread_mutex_lock(&c->mu);
    c->connects[f->i]++;
    c->connect_thread[f->i] = pthread_self();
    bool ok = fake_block(c, f->i, &c->block_connect[f->i]);
    c->alive[f->i] = ok;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return ok ? 0 : joule_err_set(err, JOULE_ETIMEDOUT, "fake connect h%d gave up", f->i);
}

static bool fake_alive(void *st)
{
    struct fake_hv *f = st;
    pthread_mutex_lock(&f->ctl->mu);
    bool a = f->ctl->alive[f->i];
    pthread_mutex_unlock(&f->ctl->mu);
    return a;
}

/* One VM per host whose cpu.time grows by cores x the (simulated) time since the last sample. */
static int fake_sample(void *st, struct hv_sample *out, struct joule_err *err)
{
    struct fake_hv *f = st;
    struct fake_ctl *c = f->ctl;
    int i = f->i;
    hv_sample_clear(out);
    pthread_mutex_lock(&c->mu);
    c->samples_started[i]++;
    c->sample_thread[i] = pthread_self();
    if (++c->in_flight[i] > c->max_in_flight[i])
        c->max_in_flight[i] = c->in_flight[i];
    bool ok = fake_block(c, i, &c->block_sample[i]);
    int64_t mono = clock_mono_ns(c->clock);
    if (c->last_mono[i] && mono > c->last_mono[i])
        c->cpu_ns[i] += (uint64_t)(c->cores[i] * (double)(mono - c->last_mono[i]));
    c->last_mono[i] = mono;
    out->t_ns = clock_now_ns(c->clock);
    out->mono_ns = mono;
    out->cpus = 4;
    out->mhz = 2000;
    out->mem_kib = 8 << 20;
    struct hv_vm_sample *vs = hv_sample_add_vm(out);
    snprintf(vs->uuid, sizeof vs->uuid, "00000000-0000-4000-8000-00000000000%d", i);
    vs->name = xasprintf("vm%d", i);
    vs->state = HV_VM_RUNNING;
    vs->cpu_time_ns = c->cpu_ns[i];
    vs->vcpus = 2;
    vs->mem_kib = 1 << 20;
    c->in_flight[i]--;
    c->samples_done[i]++;
    c->order[c->n_order++ % (NH * 4)] = i;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return ok ? 0 : joule_err_set(err, JOULE_ETIMEDOUT, "fake sample h%d gave up", i);
}

static int fake_migrate(void *st, const char *vm_uuid, const struct hv_migrate_dest *dest,
                        const struct hv_migrate_opts *opts, struct hv_migrate_result *res,
                        struct joule_err *err)
{
    (void)st, (void)vm_uuid, (void)dest, (void)opts, (void)res;
    return joule_err_set(err, JOULE_ENOTSUP, "fake: no migration");
}

static void fake_destroy(void *st) { free(st); }

static const struct hypervisor_ops fake_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "fake",
    .connect = fake_connect,
    .alive = fake_alive,
    .sample = fake_sample,
    .migrate = fake_migrate,
    .destroy = fake_destroy,
    .thread_safe = true,
};

/* ---------------------------------------------------------------- fixture */

struct fx {
    struct clock_sim *cs;
    struct config *cfg;
    struct model *model;
    struct fake_ctl ctl;
    struct hypervisor *hv[NH];
    struct monitor *mon;
    char log[8192];
    size_t log_len;
};

static void sink(void *arg, enum log_level level, const char *mod, const char *line)
{
    (void)level, (void)mod;
    struct fx *f = arg;
    int n = snprintf(f->log + f->log_len, sizeof f->log - f->log_len, "%s\n", line);
    if (n > 0 && (size_t)n < sizeof f->log - f->log_len)
        f->log_len += (size_t)n;
}

static size_t log_count(const struct fx *f, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(f->log, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static int setup_timeout(void **state, const char *sampling)
{
    struct fx *f = xcalloc(1, sizeof *f);
    f->cs = clock_sim_new(1700000000LL * S);
    char *text = xasprintf(
        "api = { listen = \"\"; };\ntick_s = 10;\nload_window_s = 60;\n%s\n"
        "hosts = ( { name = \"h0\"; hypervisor = \"sim\"; },\n"
        "          { name = \"h1\"; hypervisor = \"sim\"; },\n"
        "          { name = \"h2\"; hypervisor = \"sim\"; } );",
        sampling);
    char *errors = NULL;
    int rc = config_load_string(text, &f->cfg, &errors);
    free(text);
    if (rc < 0)
        fail_msg("%s", errors);
    pthread_mutex_init(&f->ctl.mu, NULL);
    pthread_cond_init(&f->ctl.cv, NULL);
    f->ctl.clock = clock_sim_clock(f->cs);
    for (int i = 0; i < NH; i++) {
        f->ctl.alive[i] = true;
        f->ctl.cores[i] = 0.5 * (i + 1); /* 12.5, 25, 37.5 % of 4 cores */
        struct fake_hv *st = xcalloc(1, sizeof *st);
        st->ctl = &f->ctl;
        st->i = i;
        struct hypervisor *h = xcalloc(1, sizeof *h);
        h->ops = &fake_ops;
        h->state = st;
        h->id = xstrdup(f->cfg->hosts[i].name);
        f->hv[i] = h;
    }
    f->model = model_new(f->cfg);
    struct monitor_deps d = { .cfg = f->cfg, .model = f->model, .hv = f->hv,
                              .clock = clock_sim_clock(f->cs) };
    struct joule_err err = { 0 };
    assert_int_equal(monitor_new(&d, &f->mon, &err), 0);
    log_set_sink(sink, f);
    *state = f;
    return 0;
}

/* tick 10 s (simulated); a tick waits 0.5 s (wall) at most: short, yet long enough for the
 * hosts that are not blocked to answer under valgrind on a loaded machine; in flight for 20 s
 * (simulated) -> unreachable */
static int setup(void **state)
{
    return setup_timeout(state, "sample_timeout_s = 0.5;\nsample_unreachable_s = 20;");
}

/* a wait long enough for a helper thread to finish the samples within it */
static int setup_long_wait(void **state)
{
    return setup_timeout(state, "sample_timeout_s = 10;");
}

/* Releases everything (so monitor_free's join returns) and frees. */
static int teardown(void **state)
{
    struct fx *f = *state;
    log_set_sink(NULL, NULL);
    pthread_mutex_lock(&f->ctl.mu);
    for (int i = 0; i < NH; i++)
        f->ctl.block_sample[i] = f->ctl.block_connect[i] = false;
    pthread_cond_broadcast(&f->ctl.cv);
    pthread_mutex_unlock(&f->ctl.mu);
    monitor_free(f->mon);
    for (int i = 0; i < NH; i++)
        hypervisor_free(f->hv[i]);
    model_free(f->model);
    config_free(f->cfg);
    clock_sim_free(f->cs);
    pthread_cond_destroy(&f->ctl.cv);
    pthread_mutex_destroy(&f->ctl.mu);
    free(f);
    return 0;
}

static void tick(struct fx *f, struct monitor_tick_out *o)
{
    struct joule_err err = { 0 };
    clock_sim_advance(f->cs, 10 * S);
    assert_int_equal(monitor_tick(f->mon, o, &err), 0);
}

static void set_block(struct fx *f, int i, bool sample, bool on)
{
    pthread_mutex_lock(&f->ctl.mu);
    if (sample)
        f->ctl.block_sample[i] = on;
    else
        f->ctl.block_connect[i] = on;
    pthread_cond_broadcast(&f->ctl.cv);
    pthread_mutex_unlock(&f->ctl.mu);
}

/* Waits (a real event, with a deadline) until host i has finished `n` samples and the monitor
 * has seen its job end. */
static void wait_samples_done(struct fx *f, int i, unsigned n)
{
    assert_int_equal(monitor_drain(f->mon, FAKE_SAFETY_S * S), 0);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += FAKE_SAFETY_S;
    pthread_mutex_lock(&f->ctl.mu);
    while (f->ctl.samples_done[i] < n)
        if (pthread_cond_timedwait(&f->ctl.cv, &f->ctl.mu, &dl) != 0)
            break;
    unsigned done = f->ctl.samples_done[i];
    pthread_mutex_unlock(&f->ctl.mu);
    assert_int_equal(done, n);
}

static unsigned started(struct fx *f, int i)
{
    pthread_mutex_lock(&f->ctl.mu);
    unsigned n = f->ctl.samples_started[i];
    pthread_mutex_unlock(&f->ctl.mu);
    return n;
}

static bool waiting(struct fx *f, int i)
{
    pthread_mutex_lock(&f->ctl.mu);
    bool w = f->ctl.waiting[i];
    pthread_mutex_unlock(&f->ctl.mu);
    return w;
}

/* ---------------------------------------------------------------- tests */

/* A hung host: the tick returns with the other hosts applied and the hung one lagging; no
 * second sample for it while one is in flight; its late result is applied next tick when
 * fresh, dropped when stale; stuck past sample_unreachable_s it is unreachable; then recovers. */
static void test_hung_host(void **state)
{
    struct fx *f = *state;
    struct model *m = f->model;
    struct monitor_tick_out o;
    struct monitor_stats st;

    tick(f, &o); /* baseline: everyone answers (the first sample gives no CPU delta) */
    tick(f, &o);
    assert_int_equal(o.hosts_sampled, NH);
    assert_int_equal(o.hosts_lagging, 0);
    assert_int_equal(m->n_vms, NH);

    /* h1 hangs */
    set_block(f, 1, true, true);
    tick(f, &o);
    int64_t t2 = o.t_ns;
    int64_t h1_seen = m->hosts[1].last_sample_ns;
    assert_true(waiting(f, 1)); /* its sample is still blocked, after monitor_tick returned */
    assert_int_equal(o.hosts_sampled, NH - 1);
    assert_int_equal(o.hosts_lagging, 1);
    assert_int_equal(o.hosts_unreachable, 0);
    assert_int_equal(m->hosts[0].last_sample_ns, t2);
    assert_int_equal(m->hosts[2].last_sample_ns, t2);
    assert_true(h1_seen < t2);
    assert_true(m->hosts[1].reachable); /* keeps its last data */
    assert_true(monitor_host_lagging(f->mon, 1));
    assert_false(monitor_host_lagging(f->mon, 0) || monitor_host_lagging(f->mon, 2));
    assert_float_equal(m->hosts[0].load_pct, 12.5, 0.01);
    assert_float_equal(m->hosts[2].load_pct, 37.5, 0.01);
    assert_float_equal(m->hosts[1].load_pct, 25, 0.01);
    assert_int_equal(log_count(f, "event=host_lagging host=h1"), 1);
    monitor_stats(f->mon, &st);
    assert_int_equal(st.hosts_lagging, 1);
    assert_int_equal(st.lagging, 1);

    /* still hung: no second sample, still lagging, logged once */
    tick(f, &o);
    assert_int_equal(started(f, 1), 3);
    assert_int_equal(o.hosts_lagging, 1);
    assert_int_equal(o.hosts_sampled, NH - 1);
    assert_int_equal(o.hosts_stuck, 0); /* in flight 10 s < 20 s */
    assert_true(m->hosts[1].reachable);
    assert_int_equal(log_count(f, "event=host_lagging host=h1"), 1);

    /* the answer comes (after the tick returned); the next sample hangs again: the next tick applies
     * the late result (fresh: taken 10 s ago) and h1 lags on its new sample */
    set_block(f, 1, true, false);
    wait_samples_done(f, 1, 3);
    set_block(f, 1, true, true);
    tick(f, &o);
    assert_int_equal(o.late_applied, 1);
    assert_int_equal(o.late_dropped, 0);
    assert_int_equal(o.hosts_sampled, NH);
    assert_int_equal(o.hosts_lagging, 1);
    assert_int_equal(m->hosts[1].last_sample_ns, o.t_ns);
    assert_float_equal(m->hosts[1].load_pct, 25, 0.01);
    assert_int_equal(started(f, 1), 4);

    /* the answer comes, but 20 s pass before the next tick: stale, dropped */
    set_block(f, 1, true, false);
    wait_samples_done(f, 1, 4);
    set_block(f, 1, true, true);
    clock_sim_advance(f->cs, 10 * S);
    tick(f, &o);
    int64_t t5 = o.t_ns;
    assert_int_equal(o.late_applied, 0);
    assert_int_equal(o.late_dropped, 1);
    assert_int_equal(o.hosts_sampled, NH - 1);
    assert_int_equal(o.hosts_lagging, 1);
    assert_true(m->hosts[1].last_sample_ns < t5);

    /* stuck: its sample in flight for 20 s -> unreachable, nothing planned on it */
    tick(f, &o); /* 10 s */
    assert_true(m->hosts[1].reachable);
    tick(f, &o); /* 20 s */
    assert_int_equal(o.hosts_stuck, 1);
    assert_int_equal(o.hosts_unreachable, 1);
    assert_int_equal(o.hosts_lagging, 1);
    assert_false(m->hosts[1].reachable);
    assert_int_equal(log_count(f, "event=host_unreachable host=h1"), 1);
    struct model_snapshot snap;
    model_snapshot_build(m, o.t_ns, &snap);
    assert_false(snap.hosts[1].reachable);
    assert_true(snap.hosts[0].reachable && snap.hosts[2].reachable);
    model_snapshot_free(&snap);
    tick(f, &o); /* still stuck: counted, not logged again */
    assert_int_equal(o.hosts_unreachable, 1);
    assert_int_equal(log_count(f, "event=host_unreachable host=h1"), 1);
    assert_int_equal(started(f, 1), 5);

    /* it answers: next tick its late result is superseded by the sample answered in time */
    set_block(f, 1, true, false);
    wait_samples_done(f, 1, 5);
    tick(f, &o);
    assert_int_equal(o.hosts_sampled, NH);
    assert_int_equal(o.hosts_lagging, 0);
    assert_int_equal(o.hosts_unreachable, 0);
    assert_int_equal(o.late_dropped, 1);
    assert_true(m->hosts[1].reachable);
    assert_int_equal(m->hosts[1].last_sample_ns, o.t_ns);
    assert_int_equal(log_count(f, "event=host_lag_cleared host=h1"), 1);
    assert_int_equal(log_count(f, "event=host_reachable host=h1"), 1);
    assert_false(monitor_host_lagging(f->mon, 1));

    pthread_mutex_lock(&f->ctl.mu);
    for (int i = 0; i < NH; i++) {
        assert_int_equal(f->ctl.max_in_flight[i], 1);
        assert_false(f->ctl.gave_up[i]);
    }
    pthread_mutex_unlock(&f->ctl.mu);
    monitor_stats(f->mon, &st);
    assert_int_equal(st.ticks, 10);
    assert_int_equal(st.late_applied, 1);
    assert_int_equal(st.late_dropped, 2);
    assert_int_equal(st.stuck, 2);
    assert_int_equal(st.hosts_lagging, 0);
    assert_int_equal(st.lagging, 7); /* ticks 3..9 */
}

/* A late result arriving while the host's next sample is answered in time: the newer wins. */
static void test_late_superseded(void **state)
{
    struct fx *f = *state;
    struct monitor_tick_out o;
    tick(f, &o);
    set_block(f, 2, true, true);
    tick(f, &o);
    assert_int_equal(o.hosts_lagging, 1);
    set_block(f, 2, true, false);
    wait_samples_done(f, 2, 2);
    tick(f, &o);
    assert_int_equal(o.hosts_sampled, NH);
    assert_int_equal(o.late_applied, 0);
    assert_int_equal(o.late_dropped, 1);
    assert_int_equal(started(f, 2), 3);
    assert_int_equal(f->model->hosts[2].last_sample_ns, o.t_ns);
}

/* Reconnects run on the worker: a hung connect does not hold the tick either. */
static void test_reconnect_in_worker(void **state)
{
    struct fx *f = *state;
    struct monitor_tick_out o;
    pthread_mutex_lock(&f->ctl.mu);
    f->ctl.alive[0] = false;
    pthread_mutex_unlock(&f->ctl.mu);
    set_block(f, 0, false, true);
    tick(f, &o);
    assert_true(waiting(f, 0));
    assert_int_equal(o.hosts_lagging, 1);
    assert_int_equal(o.hosts_sampled, NH - 1);
    assert_int_equal(started(f, 0), 0);
    pthread_mutex_lock(&f->ctl.mu);
    assert_int_equal(f->ctl.connects[0], 1);
    assert_false(pthread_equal(f->ctl.connect_thread[0], pthread_self()));
    assert_false(pthread_equal(f->ctl.sample_thread[1], pthread_self()));
    pthread_mutex_unlock(&f->ctl.mu);
    set_block(f, 0, false, false);
    wait_samples_done(f, 0, 1);
    tick(f, &o); /* late result fresh: applied */
    assert_int_equal(o.hosts_sampled, NH);
    assert_true(f->model->hosts[0].reachable);
}

/* monitor_set_inline: every call on the caller's thread, in host order. */
static void test_inline(void **state)
{
    struct fx *f = *state;
    struct monitor_tick_out o;
    monitor_set_inline(f->mon, true);
    tick(f, &o);
    assert_int_equal(o.hosts_sampled, NH);
    pthread_mutex_lock(&f->ctl.mu);
    for (int i = 0; i < NH; i++) {
        assert_true(pthread_equal(f->ctl.sample_thread[i], pthread_self()));
        assert_int_equal(f->ctl.order[i], i);
    }
    pthread_mutex_unlock(&f->ctl.mu);
}

/* Results finishing in reverse order are applied in host order: the model's VM table (filled
 * in application order) is the same as with inline sampling. A helper thread releases h2,
 * then h1, then h0 while monitor_tick waits. */
struct releaser {
    struct fx *f;
};

static void *release_reverse(void *arg)
{
    struct fx *f = ((struct releaser *)arg)->f;
    for (int i = NH - 1; i >= 0; i--) {
        pthread_mutex_lock(&f->ctl.mu);
        while (!f->ctl.waiting[i] && !f->ctl.gave_up[i])
            pthread_cond_wait(&f->ctl.cv, &f->ctl.mu);
        f->ctl.block_sample[i] = false;
        pthread_cond_broadcast(&f->ctl.cv);
        while (f->ctl.samples_done[i] < 1)
            pthread_cond_wait(&f->ctl.cv, &f->ctl.mu);
        pthread_mutex_unlock(&f->ctl.mu);
    }
    return NULL;
}

static void test_host_order(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < NH; i++)
        set_block(f, i, true, true);
    struct releaser r = { .f = f };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, release_reverse, &r), 0);
    struct monitor_tick_out o;
    tick(f, &o); /* returns once all three are back (well within its 10 s wait) */
    pthread_join(th, NULL);
    assert_int_equal(o.hosts_sampled, NH);
    assert_int_equal(o.hosts_lagging, 0);
    pthread_mutex_lock(&f->ctl.mu);
    assert_int_equal(f->ctl.order[0], 2);
    assert_int_equal(f->ctl.order[2], 0);
    pthread_mutex_unlock(&f->ctl.mu);
    assert_int_equal(f->model->n_vms, NH);
    for (int i = 0; i < NH; i++)
        assert_int_equal(f->model->vms[i].host, i);
}

/* The settings: defaults follow tick_s; out-of-range values are file:line errors. */
static void test_config(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    char *errors = NULL;
    assert_int_equal(config_load_string("tick_s = 4;", &cfg, &errors), 0);
    assert_int_equal(cfg->sample_timeout_ns, S);
    assert_int_equal(cfg->sample_unreachable_ns, 4 * S);
    config_free(cfg);
    struct config *def = xcalloc(1, sizeof *def);
    config_defaults(def);
    assert_int_equal(def->sample_timeout_ns, def->tick_ns / 4);
    assert_int_equal(def->sample_unreachable_ns, def->tick_ns);
    config_free(def);

    assert_int_equal(config_load_string("tick_s = 5;\nsample_timeout_s = 6;", &cfg, &errors),
                     JOULE_ECONFIG);
    assert_non_null(strstr(errors, "<string>:2: sample_timeout_s: 6 s is longer than tick_s 5 s"));
    free(errors);
    errors = NULL;
    assert_int_equal(config_load_string("sample_timeout_s = 0;", &cfg, &errors), JOULE_ECONFIG);
    assert_non_null(strstr(errors, ":1: sample_timeout_s"));
    free(errors);
    errors = NULL;
    assert_int_equal(config_load_string("sample_timeout_s = 2;\n\nsample_unreachable_s = 1;",
                                        &cfg, &errors),
                     JOULE_ECONFIG);
    assert_non_null(strstr(errors, ":3: sample_unreachable_s: 1 s is shorter than "
                                   "sample_timeout_s 2 s"));
    free(errors);
    errors = NULL;
    assert_int_equal(config_load_string("tick_s = 2;\nsample_timeout_s = 0.5;\n"
                                        "sample_unreachable_s = 30;",
                                        &cfg, &errors),
                     0);
    assert_int_equal(cfg->sample_timeout_ns, S / 2);
    assert_int_equal(cfg->sample_unreachable_ns, 30 * S);
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hung_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_superseded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_in_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_order, setup_long_wait, teardown),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Outage: the store writes a tick of samples every tick_s while FerretDB is stopped for
 * JOULE_TEST_OUTAGE_S seconds (default 60, >= 6 ticks), then restarted on the same port and data
 * dir. Every sample must arrive exactly once, no insert call may take a tick or longer, and the
 * spool must end empty. The writer is paced by its own tick (like jouled's loop); the test
 * waits for the replay by polling the spool depth with a deadline. */
#include "support/test_support.h"

#include <time.h>
#include <unistd.h>

#include "registry.h"
#include "store/mongo.h"
#include "store_fixture.h"
#include "store_support.h"

#define TICK_S 5
#define PER_TICK 8 /* 2 host samples, 2 power samples, 3 VM samples, 1 event */

static struct ferret g_ferret;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * FX_S + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
    int64_t d = t - mono_ns();
    if (d <= 0)
        return;
    struct timespec ts = { (time_t)(d / FX_S), (long)(d % FX_S) };
    nanosleep(&ts, NULL);
}

struct writer {
    struct store *s;
    struct model *m;
    struct docs_power_prev prev[2];
    int64_t max_call_ns;
    size_t errors;
};

static void insert(struct writer *w, const char *coll, bson_t **docs, size_t n)
{
    struct joule_err e = { 0 };
    int64_t t0 = mono_ns();
    int rc = store_insert(w->s, coll, (const bson_t *const *)docs, n, &e);
    int64_t dt = mono_ns() - t0;
    if (dt > w->max_call_ns)
        w->max_call_ns = dt;
    if (rc != (int)n) {
        fprintf(stderr, "insert %s: %s\n", coll, e.msg);
        w->errors++;
    }
    for (size_t i = 0; i < n; i++)
        bson_destroy(docs[i]);
}

/* The lease, renewed each tick as jouled does; returns whether it is held. */
static bool lease_tick(struct writer *w, int k, int *rc)
{
    struct joule_err e = { 0 };
    bool held = false;
    int64_t t0 = mono_ns();
    *rc = store_lease(w->s, "c1", "jouled@test", FX_T0 + (int64_t)k * TICK_S * FX_S,
                      30 * FX_S, &held, &e);
    int64_t dt = mono_ns() - t0;
    if (dt > w->max_call_ns)
        w->max_call_ns = dt;
    return held;
}

/* One tick k of jouled's writes: one insert call per collection. */
static void write_tick(struct writer *w, int k)
{
    int64_t t = FX_T0 + (int64_t)k * TICK_S * FX_S;
    bson_t *hs[2], *ps[2], *vs[3], *ev[1];
    for (int h = 0; h < 2; h++) {
        hs[h] = docs_host_sample("c1", w->m, h, t);
        ps[h] = docs_power_sample("c1", w->m, h, t, &w->prev[h]);
    }
    for (int v = 0; v < 3; v++)
        vs[v] = docs_vm_sample("c1", w->m, v, t);
    struct event_record er = { .kind = "periodic", .t_ns = t };
    ev[0] = docs_event("c1", &er);
    insert(w, DOCS_HOST_SAMPLES, hs, 2);
    insert(w, DOCS_POWER_SAMPLES, ps, 2);
    insert(w, DOCS_VM_SAMPLES, vs, 3);
    insert(w, DOCS_EVENTS, ev, 1);
}

static void test_outage_every_sample_once(void **state)
{
    (void)state;
    const char *env = getenv("JOULE_TEST_OUTAGE_S");
    int outage_s = env ? atoi(env) : 60;
    if (outage_s < 6 * TICK_S)
        outage_s = 6 * TICK_S;
    char *dir = joule_test_tmpdir("outage");
    char *spool = xasprintf("%s/spool", dir);
    struct config *cfg = fx_config(g_ferret.uri, "outage", spool, TICK_S);
    struct writer w = { 0 };
    w.m = fx_model(cfg, FX_T0);
    struct joule_err e = { 0 };
    if (store_new(registry_find_store("mongo"), cfg, NULL, &w.s, &e) < 0 ||
        store_open(w.s, &e) < 0)
        fail_msg("store: %s", e.msg);

    int k = 0;
    int64_t start = mono_ns();
    int lrc = 0;
    for (; k < 2; k++) { /* server up */
        sleep_until(start + (int64_t)k * TICK_S * FX_S);
        assert_true(lease_tick(&w, k, &lrc));
        write_tick(&w, k);
    }
    ferret_stop(&g_ferret);
    int64_t down_at = mono_ns();
    int down_ticks = 0;
    for (; mono_ns() < down_at + (int64_t)outage_s * FX_S; k++, down_ticks++) {
        sleep_until(start + (int64_t)k * TICK_S * FX_S);
        /* no database, no lease: jouled stops acting when the last one expires */
        assert_false(lease_tick(&w, k, &lrc));
        assert_int_equal(lrc, JOULE_EUNAVAIL);
        write_tick(&w, k);
    }
    assert_true(down_ticks >= 6);
    assert_true(store_spool_depth(w.s) >= (size_t)(down_ticks - 1) * PER_TICK);
    struct store_mongo_stats st;
    store_mongo_stats(w.s->state, &st);
    assert_false(st.connected);
    fprintf(stderr, "outage: %d ticks written while down, %zu documents spooled\n", down_ticks,
            st.spool_docs);

    assert_int_equal(ferret_restart(&g_ferret), 0);
    /* jouled keeps ticking; the spool drains in order before new writes go in */
    int64_t deadline = mono_ns() + 120 * FX_S;
    int after = 0;
    bool held = false;
    while ((store_spool_depth(w.s) > 0 || after < 2 || !held) && mono_ns() < deadline) {
        sleep_until(start + (int64_t)k * TICK_S * FX_S);
        held = lease_tick(&w, k, &lrc);
        write_tick(&w, k++);
        after++;
    }
    assert_true(held); /* the same controller takes its (expired) lease again */
    assert_int_equal(store_spool_depth(w.s), 0);
    assert_int_equal(w.errors, 0);
    /* a replay of the first ticks changes nothing */
    struct docs_power_prev keep[2] = { w.prev[0], w.prev[1] };
    write_tick(&w, 0);
    write_tick(&w, 1);
    w.prev[0] = keep[0];
    w.prev[1] = keep[1];

    int ticks = k;
    assert_int_equal(ferret_count(&g_ferret, "outage", DOCS_HOST_SAMPLES, NULL), 2 * ticks);
    assert_int_equal(ferret_count(&g_ferret, "outage", DOCS_POWER_SAMPLES, NULL), 2 * ticks);
    assert_int_equal(ferret_count(&g_ferret, "outage", DOCS_VM_SAMPLES, NULL), 3 * ticks);
    assert_int_equal(ferret_count(&g_ferret, "outage", DOCS_EVENTS, NULL), ticks);
    /* and one of each tick: every host's sample at every tick time is there */
    for (int i = 0; i < ticks; i++) {
        bson_t *f = BCON_NEW("t", BCON_DATE_TIME((FX_T0 + (int64_t)i * TICK_S * FX_S) / 1000000));
        assert_int_equal(ferret_count(&g_ferret, "outage", DOCS_POWER_SAMPLES, f), 2);
        bson_destroy(f);
    }
    store_mongo_stats(w.s->state, &st);
    assert_true(st.connected);
    assert_int_equal(st.replayed, st.spooled);
    assert_int_equal(st.dropped, 0);
    struct stat sb;
    assert_int_equal(stat(spool, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    fprintf(stderr, "outage: %d ticks in all, %llu documents spooled and replayed, longest insert "
                    "call %.3f s (tick %d s)\n",
            ticks, (unsigned long long)st.replayed, (double)w.max_call_ns / FX_S, TICK_S);
    /* the loop was never held up for a tick */
    assert_true(w.max_call_ns < (int64_t)TICK_S * FX_S);

    store_free(w.s);
    model_free(w.m);
    config_free(cfg);
    joule_test_rmtree(dir);
    free(dir);
    free(spool);
}

int main(void)
{
    if (!ferret_binary())
        return joule_test_skip("FerretDB is not installed (tools/setup builds it)");
    if (ferret_start(&g_ferret, "outageferret") < 0) {
        ferret_destroy(&g_ferret);
        fprintf(stderr, "FerretDB did not start\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outage_every_sample_once),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ferret_destroy(&g_ferret);
    return rc;
}

/* Documents: deterministic _ids, power-sample energy (hand-checked), every builder's output valid
 * against schemas/ (independent python checker), and mutated documents (a required field
 * missing, a wrong type, an unknown field) rejected by the same checker. No server needed. */
#include "support/test_support.h"

#include <math.h>
#include <unistd.h>

#include "registry.h"
#include "store/memory.h"
#include "store_fixture.h"
#include "store_support.h"

struct t {
    char *dir;
    struct config *cfg;
    struct model *m;
};

static int setup(void **state)
{
    struct t *t = xcalloc(1, sizeof *t);
    t->dir = joule_test_tmpdir("docs");
    t->cfg = fx_config("memory:", "joule", "/nonexistent/spool", 10);
    t->m = fx_model(t->cfg, FX_T0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    model_free(t->m);
    config_free(t->cfg);
    joule_test_rmtree(t->dir);
    free(t->dir);
    free(t);
    return 0;
}

static const char *str_field(const bson_t *b, const char *key)
{
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, b, key));
    assert_true(BSON_ITER_HOLDS_UTF8(&it));
    return bson_iter_utf8(&it, NULL);
}

static double dbl_field(const bson_t *b, const char *key)
{
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, b, key));
    assert_true(BSON_ITER_HOLDS_DOUBLE(&it));
    return bson_iter_double(&it);
}

static int64_t date_field(const bson_t *b, const char *key)
{
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, b, key));
    assert_true(BSON_ITER_HOLDS_DATE_TIME(&it));
    return bson_iter_date_time(&it);
}

static void test_ids_are_deterministic(void **state)
{
    struct t *t = *state;
    struct fx_docs a, b;
    fx_all_docs("c1", t->m, FX_T0, &a);
    fx_all_docs("c1", t->m, FX_T0, &b);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_string_equal(str_field(a.doc[i], "_id"), str_field(b.doc[i], "_id"));
        assert_string_equal(str_field(a.doc[i], "cluster"), "c1");
        for (size_t k = 0; k < i; k++) /* distinct documents never share an _id */
            if (strcmp(a.coll[k], a.coll[i]) == 0)
                assert_string_not_equal(str_field(a.doc[k], "_id"), str_field(a.doc[i], "_id"));
    }
    assert_string_equal(str_field(a.doc[1], "_id"), "c1/h1/1795766400000");
    fx_docs_free(&a);
    fx_docs_free(&b);
}

static void test_power_sample_energy(void **state)
{
    struct t *t = *state;
    struct docs_power_prev prev = { 0 };
    /* h2 has no meter: model watts = 60 + 100 * load */
    t->m->hosts[1].watts = 100;
    bson_t *d = docs_power_sample("c1", t->m, 1, FX_T0 + 1800 * FX_S + 5 * FX_S, &prev);
    assert_true(dbl_field(d, "joules") == 0); /* first sample: nothing to integrate */
    assert_string_equal(str_field(d, "source"), "model");
    assert_string_equal(str_field(d, "meter"), "");
    /* hour and day truncate t = 08:30:05Z */
    assert_int_equal(date_field(d, "hour"), 1795766400000LL);
    assert_int_equal(date_field(d, "day"), 1795737600000LL);
    bson_destroy(d);
    t->m->hosts[1].watts = 140;
    d = docs_power_sample("c1", t->m, 1, FX_T0 + 1810 * FX_S, &prev);
    /* trapezoid: (100 + 140) / 2 W * 5 s = 600 J */
    assert_true(fabs(dbl_field(d, "joules") - 600.0) < 1e-9);
    assert_true(fabs(dbl_field(d, "interval_s") - 5.0) < 1e-9);
    assert_string_equal(str_field(d, "energy_from"), "watts");
    bson_destroy(d);
    /* an hour-long gap counts as 600 s at most */
    d = docs_power_sample("c1", t->m, 1, FX_T0 + 5410 * FX_S, &prev);
    assert_true(fabs(dbl_field(d, "joules") - 140.0 * 600) < 1e-6);
    bson_destroy(d);

    /* h1 has a meter with a kWh counter: the counter difference wins over the watts */
    struct docs_power_prev p1 = { 0 };
    model_apply_meter(t->m, 0, FX_T0, 100, 12.0);
    bson_destroy(docs_power_sample("c1", t->m, 0, FX_T0, &p1));
    model_apply_meter(t->m, 0, FX_T0 + 10 * FX_S, 100, 12.001);
    d = docs_power_sample("c1", t->m, 0, FX_T0 + 10 * FX_S, &p1);
    assert_true(fabs(dbl_field(d, "joules") - 3600.0) < 1e-6); /* 0.001 kWh */
    assert_string_equal(str_field(d, "energy_from"), "counter");
    assert_string_equal(str_field(d, "source"), "meter");
    assert_string_equal(str_field(d, "meter"), "00:13:a2:00:40:a1:b2:c3");
    assert_true(fabs(dbl_field(d, "meter_kwh") - 12.001) < 1e-9);
    bson_destroy(d);
    /* a counter that went backwards (meter reset) falls back to the watts */
    model_apply_meter(t->m, 0, FX_T0 + 20 * FX_S, 100, 0.5);
    d = docs_power_sample("c1", t->m, 0, FX_T0 + 20 * FX_S, &p1);
    assert_true(fabs(dbl_field(d, "joules") - 1000.0) < 1e-6);
    assert_string_equal(str_field(d, "energy_from"), "watts");
    bson_destroy(d);
}

static void test_every_doc_validates(void **state)
{
    struct t *t = *state;
    struct fx_docs d;
    fx_all_docs("c1", t->m, FX_T0, &d);
    char *path = xasprintf("%s/valid.jsonl", t->dir);
    for (size_t i = 0; i < d.n; i++)
        dump_doc(path, d.coll[i], d.doc[i]);
    bson_t *lease = BCON_NEW("_id", BCON_UTF8("c1/00000000000000000001"), "cluster",
                             BCON_UTF8("c1"), "epoch", BCON_INT64(1), "holder",
                             BCON_UTF8("a"), "expiry", BCON_DATE_TIME(1), "renewed",
                             BCON_DATE_TIME(0));
    dump_doc(path, DOCS_LEASES, lease);
    bson_destroy(lease);
    assert_int_equal(schema_check(path, false), 0);
    free(path);
    fx_docs_free(&d);
}

/* Copy of doc without `drop`, with `retype` changed to a value of another type, and with an
 * extra field when `extra`. */
static bson_t *mutate(const bson_t *doc, const char *drop, const char *retype, bool extra)
{
    bson_t *out = bson_new();
    bson_iter_t it;
    bson_iter_init(&it, doc);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (drop && strcmp(k, drop) == 0)
            continue;
        if (retype && strcmp(k, retype) == 0) {
            if (BSON_ITER_HOLDS_UTF8(&it))
                BSON_APPEND_INT32(out, k, 7);
            else
                BSON_APPEND_UTF8(out, k, "7");
            continue;
        }
        bson_append_iter(out, NULL, 0, &it);
    }
    if (extra)
        BSON_APPEND_UTF8(out, "bogus", "x");
    return out;
}

static void test_broken_docs_fail(void **state)
{
    struct t *t = *state;
    struct fx_docs d;
    fx_all_docs("c1", t->m, FX_T0, &d);
    char *path = xasprintf("%s/invalid.jsonl", t->dir);
    size_t n = 0;
    for (size_t i = 0; i < d.n; i++) {
        bson_iter_t it;
        bson_iter_init(&it, d.doc[i]);
        /* every field in turn: missing, then of the wrong type */
        while (bson_iter_next(&it)) {
            const char *k = bson_iter_key(&it);
            bson_t *m1 = mutate(d.doc[i], k, NULL, false);
            dump_doc(path, d.coll[i], m1);
            bson_destroy(m1);
            bson_t *m2 = mutate(d.doc[i], NULL, k, false);
            dump_doc(path, d.coll[i], m2);
            bson_destroy(m2);
            n += 2;
        }
        bson_t *m3 = mutate(d.doc[i], NULL, NULL, true);
        dump_doc(path, d.coll[i], m3);
        bson_destroy(m3);
        n++;
    }
    /* and a plan whose action lacks its kind */
    bson_t *bad = bson_new_from_json(
        (const uint8_t *)"{\"_id\":\"p\",\"cluster\":\"c1\",\"t\":{\"$date\":0},\"trigger\":\"x\","
                         "\"policy\":\"x\",\"mode\":\"auto\",\"outcome\":\"planned\",\"n_actions\":"
                         "{\"$numberInt\":\"1\"},\"actions\":[{\"reason\":\"x\",\"detail\":\"\","
                         "\"expected_gain_w\":1.5,\"vm\":null,\"vm_name\":null,\"from\":null,"
                         "\"to\":null,\"host\":null,\"from_load_pct\":null,\"to_load_pct\":null}]}",
        -1, NULL);
    assert_non_null(bad);
    dump_doc(path, DOCS_PLANS, bad);
    bson_destroy(bad);
    assert_true(n > 100);
    assert_int_equal(schema_check(path, true), 0);
    /* the checker is not a yes-man: the originals in the same run pass */
    char *good = xasprintf("%s/good.jsonl", t->dir);
    for (size_t i = 0; i < d.n; i++)
        dump_doc(good, d.coll[i], d.doc[i]);
    assert_int_equal(schema_check(good, false), 0);
    /* and a file mixing one bad among good ones fails the normal check */
    dump_doc(good, DOCS_EVENTS, d.doc[0]); /* a hosts document filed under events */
    assert_int_not_equal(schema_check(good, false), 0);
    free(good);
    free(path);
    fx_docs_free(&d);
}

static void test_memory_store_expire(void **state)
{
    struct t *t = *state;
    extern const struct store_ops store_memory_ops;
    void *st = NULL;
    assert_int_equal(store_memory_ops.create(t->cfg, NULL, &st, NULL), 0);
    struct docs_power_prev prev = { 0 };
    for (int i = 0; i < 5; i++) {
        bson_t *d = docs_power_sample("c1", t->m, 1, FX_T0 + i * 10 * FX_S, &prev);
        const bson_t *one[1] = { d };
        assert_int_equal(store_memory_ops.insert(st, DOCS_POWER_SAMPLES, one, 1, NULL), 1);
        assert_int_equal(store_memory_ops.insert(st, DOCS_POWER_SAMPLES, one, 1, NULL), 1);
        bson_destroy(d);
    }
    assert_int_equal(store_memory_count(st, DOCS_POWER_SAMPLES), 5);
    assert_int_equal(store_memory_ops.expire(st, DOCS_POWER_SAMPLES, "t", FX_T0 + 25 * FX_S, 2,
                                             NULL), 2);
    assert_int_equal(store_memory_ops.expire(st, DOCS_POWER_SAMPLES, "t", FX_T0 + 25 * FX_S, 10,
                                             NULL), 1);
    assert_int_equal(store_memory_count(st, DOCS_POWER_SAMPLES), 2);
    store_memory_ops.destroy(st);
}

static void test_retention_helper(void **state)
{
    struct t *t = *state;
    struct store *s = NULL;
    struct joule_err e = { 0 };
    assert_int_equal(store_new(registry_find_store("memory"), t->cfg, NULL, &s, &e), 0);
    struct docs_power_prev prev = { 0 };
    /* one sample a day for 10 days, of each kind */
    for (int d = 0; d < 10; d++) {
        int64_t ts = FX_T0 - (int64_t)d * 86400 * FX_S;
        bson_t *docs[3] = { docs_power_sample("c1", t->m, 0, ts, &prev),
                            docs_host_sample("c1", t->m, 0, ts), docs_vm_sample("c1", t->m, 0, ts) };
        const char *colls[3] = { DOCS_POWER_SAMPLES, DOCS_HOST_SAMPLES, DOCS_VM_SAMPLES };
        for (int k = 0; k < 3; k++) {
            const bson_t *one[1] = { docs[k] };
            assert_int_equal(store_insert(s, colls[k], one, 1, &e), 1);
            bson_destroy(docs[k]);
        }
    }
    /* keep 7 days: the samples 8 and 9 days old go (2 of each kind); the one exactly 7 days
     * old stays (older than, not as old as); at most max_docs per collection per call */
    assert_int_equal(docs_retention(s, FX_T0, 7, 1, &e), 3);
    assert_int_equal(docs_retention(s, FX_T0, 7, 100, &e), 3);
    assert_int_equal(docs_retention(s, FX_T0, 7, 100, &e), 0);
    assert_int_equal(store_memory_count(s->state, DOCS_POWER_SAMPLES), 8);
    store_free(s);
}

int main(void)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        return joule_test_skip("python3 (with python3-jsonschema) is not installed");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ids_are_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_sample_energy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_doc_validates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_docs_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_store_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_helper, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The MongoDB store against a real FerretDB: round trip of every collection (read back equal,
 * duplicates ignored, every stored document valid against schemas/, every index led by
 * `cluster`), the lease raced by two stores, retention in batches, the spool when the server is
 * unreachable (size cap with an alert, replay by a new store process after a restart). */
#include "support/test_support.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry.h"
#include "store/mongo.h"
#include "store_fixture.h"
#include "store_support.h"

static struct ferret g_ferret;

struct t {
    char *dir;
    char *db;
    struct config *cfg;
    struct model *m;
    struct store *s;
};

static struct store *open_store(struct config *cfg)
{
    struct store *s = NULL;
    struct joule_err e = { 0 };
    const struct store_ops *ops = registry_find_store("mongo");
    assert_non_null(ops);
    if (store_new(ops, cfg, NULL, &s, &e) < 0 || store_open(s, &e) < 0)
        fail_msg("store: %s", e.msg);
    return s;
}

static int setup(void **state)
{
    static int n;
    struct t *t = xcalloc(1, sizeof *t);
    t->dir = joule_test_tmpdir("storedb");
    t->db = xasprintf("t%d_%d", (int)getpid(), n++);
    char *spool = xasprintf("%s/spool", t->dir);
    t->cfg = fx_config(g_ferret.uri, t->db, spool, 10);
    free(spool);
    t->m = fx_model(t->cfg, FX_T0);
    t->s = open_store(t->cfg);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    store_free(t->s);
    model_free(t->m);
    config_free(t->cfg);
    joule_test_rmtree(t->dir);
    free(t->dir);
    free(t->db);
    free(t);
    return 0;
}

static bson_t *find_one(const char *db, const char *coll, const char *id)
{
    mongoc_client_t *c = ferret_client(&g_ferret);
    mongoc_collection_t *col = mongoc_client_get_collection(c, db, coll);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(col, filter, NULL, NULL);
    const bson_t *doc;
    bson_t *out = NULL;
    if (mongoc_cursor_next(cur, &doc))
        out = bson_copy(doc);
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(col);
    mongoc_client_destroy(c);
    return out;
}

static const char *id_of(const bson_t *b)
{
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, b, "_id") && BSON_ITER_HOLDS_UTF8(&it));
    return bson_iter_utf8(&it, NULL);
}

/* Every document of every collection of db into path; returns how many. */
static size_t dump_db(const char *db, const char *path)
{
    static const char *const colls[] = { "hosts", "host_samples", "vm_samples", "power_samples",
                                         "events", "plans", "migrations", "power_actions",
                                         "leases" };
    mongoc_client_t *c = ferret_client(&g_ferret);
    size_t n = 0;
    for (size_t i = 0; i < sizeof colls / sizeof colls[0]; i++) {
        mongoc_collection_t *col = mongoc_client_get_collection(c, db, colls[i]);
        bson_t empty = BSON_INITIALIZER;
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(col, &empty, NULL, NULL);
        const bson_t *doc;
        while (mongoc_cursor_next(cur, &doc)) {
            dump_doc(path, colls[i], doc);
            n++;
        }
        mongoc_cursor_destroy(cur);
        mongoc_collection_destroy(col);
    }
    mongoc_client_destroy(c);
    return n;
}

static void test_round_trip_every_collection(void **state)
{
    struct t *t = *state;
    struct joule_err e = { 0 };
    struct fx_docs d;
    fx_all_docs("c1", t->m, FX_T0, &d);
    for (size_t i = 0; i < d.n; i++) {
        const bson_t *one[1] = { d.doc[i] };
        if (strcmp(d.coll[i], DOCS_HOSTS) == 0) {
            bson_t *sel = BCON_NEW("_id", BCON_UTF8(id_of(d.doc[i])));
            assert_int_equal(store_upsert(t->s, DOCS_HOSTS, sel, d.doc[i], &e), 0);
            bson_destroy(sel);
        } else if (store_insert(t->s, d.coll[i], one, 1, &e) != 1) {
            fail_msg("insert %s: %s", d.coll[i], e.msg);
        }
    }
    bool held = false;
    assert_int_equal(store_lease(t->s, "c1", "jouled@a", FX_T0, 30 * FX_S, &held, &e), 0);
    assert_true(held);
    struct store_mongo_stats st;
    store_mongo_stats(t->s->state, &st);
    assert_int_equal(st.collections, 9);
    assert_true(st.connected);
    assert_int_equal(st.spool_docs, 0);

    /* read back: the same document, field for field and type for type */
    for (size_t i = 0; i < d.n; i++) {
        bson_t *got = find_one(t->db, d.coll[i], id_of(d.doc[i]));
        assert_non_null(got);
        char *a = bson_as_canonical_extended_json(d.doc[i], NULL);
        char *b = bson_as_canonical_extended_json(got, NULL);
        if (strcmp(a, b) != 0)
            fail_msg("%s differs:\n wrote %s\n read  %s", d.coll[i], a, b);
        bson_free(a);
        bson_free(b);
        bson_destroy(got);
    }
    /* writing the same documents again (a replay) changes nothing and is no error */
    int64_t before = ferret_count(&g_ferret, t->db, DOCS_VM_SAMPLES, NULL);
    for (size_t i = 0; i < d.n; i++) {
        const bson_t *one[1] = { d.doc[i] };
        if (strcmp(d.coll[i], DOCS_HOSTS) != 0 && store_insert(t->s, d.coll[i], one, 1, &e) != 1)
            fail_msg("second insert %s: %s", d.coll[i], e.msg);
    }
    assert_int_equal(ferret_count(&g_ferret, t->db, DOCS_VM_SAMPLES, NULL), before);
    store_mongo_stats(t->s->state, &st);
    assert_int_equal(st.duplicates, d.n - 2);
    /* a batch mixing old and new documents stores the new ones */
    struct fx_docs d2;
    fx_all_docs("c1", t->m, FX_T0 + 10 * FX_S, &d2);
    const bson_t *batch[2] = { d.doc[1], d2.doc[1] };
    assert_int_equal(store_insert(t->s, DOCS_HOST_SAMPLES, batch, 2, &e), 2);
    assert_int_equal(ferret_count(&g_ferret, t->db, DOCS_HOST_SAMPLES, NULL), 3);
    fx_docs_free(&d2);

    /* the upsert replaced, not added */
    t->m->hosts[1].state = POWER_STATE_OFF;
    bson_t *h2 = docs_host("c1", t->m, 1, FX_T0 + 60 * FX_S);
    bson_t *sel = BCON_NEW("_id", BCON_UTF8("c1/h2"));
    assert_int_equal(store_upsert(t->s, DOCS_HOSTS, sel, h2, &e), 0);
    assert_int_equal(ferret_count(&g_ferret, t->db, DOCS_HOSTS, NULL), 2);
    bson_t *got = find_one(t->db, DOCS_HOSTS, "c1/h2");
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, got, "state"));
    assert_string_equal(bson_iter_utf8(&it, NULL), "off");
    bson_destroy(got);
    bson_destroy(sel);
    bson_destroy(h2);

    /* every document in the database is valid against its schema */
    char *path = xasprintf("%s/stored.jsonl", t->dir);
    assert_true(dump_db(t->db, path) >= d.n + 1);
    assert_int_equal(schema_check(path, false), 0);
    free(path);
    fx_docs_free(&d);
}

static void test_indexes_lead_with_cluster(void **state)
{
    struct t *t = *state;
    mongoc_client_t *c = ferret_client(&g_ferret);
    mongoc_database_t *db = mongoc_client_get_database(c, t->db);
    char **names = mongoc_database_get_collection_names_with_opts(db, NULL, NULL);
    assert_non_null(names);
    size_t n_coll = 0, n_idx = 0;
    for (size_t i = 0; names[i]; i++, n_coll++) {
        mongoc_collection_t *col = mongoc_database_get_collection(db, names[i]);
        mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts(col, NULL);
        const bson_t *idx;
        while (mongoc_cursor_next(cur, &idx)) {
            bson_iter_t it, key;
            assert_true(bson_iter_init_find(&it, idx, "key") && bson_iter_recurse(&it, &key));
            assert_true(bson_iter_next(&key));
            if (strcmp(bson_iter_key(&key), "_id") == 0)
                continue;
            if (strcmp(bson_iter_key(&key), "cluster") != 0)
                fail_msg("index of %s does not start with cluster", names[i]);
            n_idx++;
        }
        mongoc_cursor_destroy(cur);
        mongoc_collection_destroy(col);
    }
    bson_strfreev(names);
    mongoc_database_destroy(db);
    mongoc_client_destroy(c);
    assert_int_equal(n_coll, 9);
    assert_true(n_idx >= 9);
}

struct racer {
    struct store *s;
    const char *holder;
    const char *cluster;
    int64_t now;
    pthread_barrier_t *go;
    bool held;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct joule_err e = { 0 };
    pthread_barrier_wait(r->go);
    r->rc = store_lease(r->s, r->cluster, r->holder, r->now, 30 * FX_S, &r->held, &e);
    if (r->rc < 0)
        fprintf(stderr, "lease: %s\n", e.msg);
    return NULL;
}

static void test_lease_race(void **state)
{
    struct t *t = *state;
    struct store *other = open_store(t->cfg);
    struct joule_err e = { 0 };
    pthread_barrier_t go;
    for (int round = 0; round < 20; round++) {
        char cluster[32];
        snprintf(cluster, sizeof cluster, "race-%d", round);
        int64_t now = FX_T0 + round * FX_S;
        pthread_barrier_init(&go, NULL, 2);
        struct racer a = { t->s, "jouled@a", cluster, now, &go, false, 0 };
        struct racer b = { other, "jouled@b", cluster, now, &go, false, 0 };
        pthread_t ta, tb;
        pthread_create(&ta, NULL, race, &a);
        pthread_create(&tb, NULL, race, &b);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&go);
        assert_int_equal(a.rc, 0);
        assert_int_equal(b.rc, 0);
        if (a.held == b.held)
            fail_msg("round %d: a %s, b %s: exactly one must win", round, a.held ? "won" : "lost",
                     b.held ? "won" : "lost");
        struct racer *win = a.held ? &a : &b, *lose = a.held ? &b : &a;
        bool held = true;
        /* the loser stays standby while the lease is valid; the winner renews */
        assert_int_equal(store_lease(lose->s, cluster, lose->holder, now + 10 * FX_S, 30 * FX_S,
                                     &held, &e), 0);
        assert_false(held);
        assert_int_equal(store_lease(win->s, cluster, win->holder, now + 20 * FX_S, 30 * FX_S,
                                     &held, &e), 0);
        assert_true(held);
        /* renewed until now+50 s: still standby at now+45 s */
        assert_int_equal(store_lease(lose->s, cluster, lose->holder, now + 45 * FX_S, 30 * FX_S,
                                     &held, &e), 0);
        assert_false(held);
        /* the winner stopped renewing: after expiry the other takes over */
        assert_int_equal(store_lease(lose->s, cluster, lose->holder, now + 51 * FX_S, 30 * FX_S,
                                     &held, &e), 0);
        assert_true(held);
        assert_int_equal(store_lease(win->s, cluster, win->holder, now + 52 * FX_S, 30 * FX_S,
                                     &held, &e), 0);
        assert_false(held);
        /* an expired lease taken over by two at once: still exactly one */
        pthread_barrier_init(&go, NULL, 2);
        struct racer c = { t->s, "jouled@c", cluster, now + 200 * FX_S, &go, false, 0 };
        struct racer d = { other, "jouled@d", cluster, now + 200 * FX_S, &go, false, 0 };
        pthread_create(&ta, NULL, race, &c);
        pthread_create(&tb, NULL, race, &d);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&go);
        assert_int_equal(c.rc, 0);
        assert_int_equal(d.rc, 0);
        if (c.held == d.held)
            fail_msg("round %d, takeover: c %s, d %s: exactly one must win", round,
                     c.held ? "won" : "lost", d.held ? "won" : "lost");
    }
    /* race-3's lease history: epochs 1 (won), 2 (renewed), 3 (taken over), 4 (taken over by
     * c or d); the loser of each race wrote nothing */
    bson_t *f = BCON_NEW("cluster", BCON_UTF8("race-3"));
    assert_int_equal(ferret_count(&g_ferret, t->db, DOCS_LEASES, f), 4);
    bson_destroy(f);
    /* a day later the old epochs are pruned when the lease is next taken */
    bool held = false;
    assert_int_equal(store_lease(t->s, "race-3", "jouled@a", FX_T0 + 86400 * FX_S, 30 * FX_S,
                                 &held, &e), 0);
    assert_true(held);
    f = BCON_NEW("cluster", BCON_UTF8("race-3"));
    assert_int_equal(ferret_count(&g_ferret, t->db, DOCS_LEASES, f), 1);
    bson_destroy(f);
    store_free(other);
}

static void test_retention_in_batches(void **state)
{
    struct t *t = *state;
    struct joule_err e = { 0 };
    struct docs_power_prev p1 = { 0 }, p2 = { 0 };
    /* 25 samples of c1 at 1 h steps, and 25 of another cluster at the same times */
    for (int i = 0; i < 25; i++) {
        int64_t ts = FX_T0 - (int64_t)(24 - i) * 3600 * FX_S;
        bson_t *a = docs_power_sample("c1", t->m, 0, ts, &p1);
        bson_t *b = docs_power_sample("c2", t->m, 0, ts, &p2);
        const bson_t *two[2] = { a, b };
        assert_int_equal(store_insert(t->s, DOCS_POWER_SAMPLES, two, 2, &e), 2);
        bson_destroy(a);
        bson_destroy(b);
    }
    int64_t cut = FX_T0 - 10 * 3600 * FX_S; /* samples 0..13 are older */
    assert_int_equal(store_expire(t->s, DOCS_POWER_SAMPLES, "t", cut, 5, &e), 5);
    assert_int_equal(store_expire(t->s, DOCS_POWER_SAMPLES, "t", cut, 100, &e), 9);
    assert_int_equal(store_expire(t->s, DOCS_POWER_SAMPLES, "t", cut, 100, &e), 0);
    bson_t *c1 = BCON_NEW("cluster", BCON_UTF8("c1"));
    bson_t *c2 = BCON_NEW("cluster", BCON_UTF8("c2"));
    assert_int_equal(ferret_count(&g_ferret, t->db, DOCS_POWER_SAMPLES, c1), 11);
    assert_int_equal(ferret_count(&g_ferret, t->db, DOCS_POWER_SAMPLES, c2), 25);
    bson_destroy(c1);
    bson_destroy(c2);
}

/* No server at all: the store still opens, spools, caps the spool with an error that says so;
 * a later store (a restarted jouled) on a reachable server replays the spool exactly once. */
static void test_spool_cap_and_replay_after_restart(void **state)
{
    struct t *t = *state;
    struct joule_err e = { 0 };
    char *spool = xasprintf("%s/spool2", t->dir);
    /* nothing listens on port 1 of loopback */
    struct config *down = fx_config("mongodb://127.0.0.1:1/", t->db, spool, 1);
    down->store.spool_max_bytes = 64 * 1024;
    struct store *s = open_store(down);
    /* an upsert while down is spooled too, with its selector, and replayed in its place */
    t->m->hosts[1].state = POWER_STATE_OFF;
    bson_t *h2 = docs_host("c1", t->m, 1, FX_T0);
    bson_t *sel = BCON_NEW("_id", BCON_UTF8("c1/h2"));
    assert_int_equal(store_upsert(s, DOCS_HOSTS, sel, h2, &e), 0);
    bson_destroy(sel);
    bson_destroy(h2);
    size_t accepted = 0;
    int rc = 0, tick;
    struct docs_power_prev prev[2] = { { 0 }, { 0 } };
    for (tick = 0; tick < 1000 && rc >= 0; tick++) {
        bson_t *docs[2];
        for (int h = 0; h < 2; h++)
            docs[h] = docs_power_sample("c1", t->m, h, FX_T0 + tick * 10 * FX_S, &prev[h]);
        rc = store_insert(s, DOCS_POWER_SAMPLES, (const bson_t *const *)docs, 2, &e);
        if (rc >= 0)
            accepted += 2;
        for (int h = 0; h < 2; h++)
            bson_destroy(docs[h]);
    }
    assert_int_equal(rc, JOULE_ENOSPC);
    assert_non_null(strstr(e.msg, "full"));
    assert_int_equal(store_spool_depth(s), accepted + 1);
    struct store_mongo_stats st;
    store_mongo_stats(s->state, &st);
    assert_int_equal(st.dropped, 2);
    assert_false(st.connected);
    assert_true(st.spool_bytes <= 64 * 1024);
    store_free(s);
    config_free(down);

    /* jouled restarts, the database is there: the spool goes in, in order, once */
    struct config *up = fx_config(g_ferret.uri, t->db, spool, 1);
    s = open_store(up);
    assert_int_equal(store_spool_depth(s), accepted + 1);
    /* each flush is bounded in time; a few calls drain it */
    for (int i = 0; i < 50 && store_spool_depth(s) > 0; i++)
        store_flush(s, &e);
    assert_int_equal(store_spool_depth(s), 0);
    assert_int_equal(ferret_count(&g_ferret, t->db, DOCS_POWER_SAMPLES, NULL), (int64_t)accepted);
    bson_t *got = find_one(t->db, DOCS_HOSTS, "c1/h2");
    assert_non_null(got);
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, got, "state"));
    assert_string_equal(bson_iter_utf8(&it, NULL), "off");
    bson_destroy(got);
    /* and the spool file is empty again */
    struct stat sb;
    assert_int_equal(stat(spool, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    store_free(s);
    config_free(up);
    free(spool);
}

/* A document the server can never take (over 16 MiB) is refused with a clear error and kept in
 * <spool>.rejected; the rest of its batch is stored; nothing goes to the spool to be retried
 * forever. */
static void test_refused_document_kept(void **state)
{
    struct t *t = *state;
    struct joule_err e = { 0 };
    struct docs_power_prev prev = { 0 };
    bson_t *good = docs_power_sample("c1", t->m, 0, FX_T0, &prev);
    bson_t *huge = docs_power_sample("c1", t->m, 1, FX_T0, &prev);
    size_t big = 17u * 1024 * 1024;
    char *blob = xmalloc(big + 1);
    memset(blob, 'x', big);
    blob[big] = '\0';
    BSON_APPEND_UTF8(huge, "pad", blob);
    free(blob);
    const bson_t *two[2] = { huge, good };
    int rc = store_insert(t->s, DOCS_POWER_SAMPLES, two, 2, &e);
    assert_int_equal(rc, JOULE_EINVAL);
    assert_non_null(strstr(e.msg, "16 MiB"));
    assert_non_null(strstr(e.msg, ".rejected"));
    assert_int_equal(ferret_count(&g_ferret, t->db, DOCS_POWER_SAMPLES, NULL), 1);
    assert_int_equal(store_spool_depth(t->s), 0);
    struct store_mongo_stats st;
    store_mongo_stats(t->s->state, &st);
    assert_int_equal(st.rejected, 1);
    assert_true(st.connected);
    char *rej = xasprintf("%s/spool.rejected", t->dir);
    struct stat sb;
    assert_int_equal(stat(rej, &sb), 0);
    assert_true((size_t)sb.st_size > big);
    free(rej);
    bson_destroy(good);
    bson_destroy(huge);
}

int main(void)
{
    if (!ferret_binary())
        return joule_test_skip("FerretDB is not installed (tools/setup builds it)");
    if (ferret_start(&g_ferret, "storeferret") < 0) {
        ferret_destroy(&g_ferret);
        fprintf(stderr, "FerretDB did not start\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_every_collection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indexes_lead_with_cluster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_in_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_cap_and_replay_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_document_kept, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ferret_destroy(&g_ferret);
    return rc;
}

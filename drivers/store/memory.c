/* store/memory.c - a store that keeps documents in memory: for replay, unit tests and a jouled
 * run without a database ("memory:"). Same semantics as the MongoDB store: _id deduplication,
 * upsert by selector equality on its top-level fields, one lease per cluster. */
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "store/memory.h"
#include "util/xalloc.h"

struct mem_coll {
    char *name;
    bson_t **docs;
    size_t n;
    size_t cap;
};

struct mem_lease {
    char *cluster;
    char *holder;
    int64_t expiry_ns;
};

struct store_mem {
    char *cluster;
    struct mem_coll *colls;
    size_t n;
    size_t cap;
    struct mem_lease *leases;
    size_t n_leases;
    size_t cap_leases;
};

static struct mem_coll *coll_get(struct store_mem *s, const char *name, bool create)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->colls[i].name, name) == 0)
            return &s->colls[i];
    if (!create)
        return NULL;
    xgrow((void **)&s->colls, &s->cap, s->n + 1, sizeof *s->colls);
    struct mem_coll *c = &s->colls[s->n++];
    memset(c, 0, sizeof *c);
    c->name = xstrdup(name);
    return c;
}

static bool same_value(const bson_iter_t *a, const bson_iter_t *b)
{
    const bson_value_t *va = bson_iter_value((bson_iter_t *)a);
    const bson_value_t *vb = bson_iter_value((bson_iter_t *)b);
    if (va->value_type != vb->value_type)
        return false;
    /* if-chain rather than a switch: -Wswitch-enum would want every BSON type listed */
    bson_type_t t = va->value_type;
    if (t == BSON_TYPE_UTF8)
        return va->value.v_utf8.len == vb->value.v_utf8.len &&
               memcmp(va->value.v_utf8.str, vb->value.v_utf8.str, va->value.v_utf8.len) == 0;
    if (t == BSON_TYPE_INT32)
        return va->value.v_int32 == vb->value.v_int32;
    if (t == BSON_TYPE_INT64)
        return va->value.v_int64 == vb->value.v_int64;
    if (t == BSON_TYPE_DOUBLE)
        return va->value.v_double == vb->value.v_double;
    if (t == BSON_TYPE_BOOL)
        return va->value.v_bool == vb->value.v_bool;
    if (t == BSON_TYPE_DATE_TIME)
        return va->value.v_datetime == vb->value.v_datetime;
    return false;
}

/* Does doc match every top-level field of sel (plain equality)? */
static bool matches(const bson_t *doc, const bson_t *sel)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, sel))
        return false;
    while (bson_iter_next(&it)) {
        bson_iter_t d;
        if (!bson_iter_init_find(&d, doc, bson_iter_key(&it)) || !same_value(&it, &d))
            return false;
    }
    return true;
}

static bson_t *find_match(struct mem_coll *c, const bson_t *sel)
{
    for (size_t i = 0; i < c->n; i++)
        if (matches(c->docs[i], sel))
            return c->docs[i];
    return NULL;
}

static void coll_append(struct mem_coll *c, const bson_t *doc)
{
    xgrow((void **)&c->docs, &c->cap, c->n + 1, sizeof *c->docs);
    c->docs[c->n++] = bson_copy(doc);
}

static int mem_create(const struct config *cfg, const struct drv_env *env, void **state,
                      struct joule_err *err)
{
    (void)env;
    (void)err;
    struct store_mem *s = xcalloc(1, sizeof *s);
    s->cluster = xstrdup(cfg && cfg->cluster ? cfg->cluster : "default");
    *state = s;
    return 0;
}

static int mem_open(void *state, struct joule_err *err)
{
    (void)state;
    (void)err;
    return 0;
}

static int mem_insert(void *state, const char *collection, const bson_t *const *docs, size_t n,
                      struct joule_err *err)
{
    (void)err;
    struct mem_coll *c = coll_get(state, collection, true);
    for (size_t i = 0; i < n; i++) {
        bson_iter_t id;
        if (bson_iter_init_find(&id, docs[i], "_id")) {
            bson_t sel = BSON_INITIALIZER;
            bson_append_value(&sel, "_id", 3, bson_iter_value(&id));
            bool dup = find_match(c, &sel) != NULL;
            bson_destroy(&sel);
            if (dup)
                continue;
        }
        coll_append(c, docs[i]);
    }
    return (int)n;
}

static int mem_upsert(void *state, const char *collection, const bson_t *selector,
                      const bson_t *doc, struct joule_err *err)
{
    (void)err;
    struct mem_coll *c = coll_get(state, collection, true);
    for (size_t i = 0; i < c->n; i++) {
        if (matches(c->docs[i], selector)) {
            bson_destroy(c->docs[i]);
            c->docs[i] = bson_copy(doc);
            return 0;
        }
    }
    coll_append(c, doc);
    return 0;
}

static int mem_lease(void *state, const char *cluster, const char *holder, int64_t now_ns,
                     int64_t ttl_ns, bool *held, struct joule_err *err)
{
    (void)err;
    struct store_mem *s = state;
    struct mem_lease *l = NULL;
    for (size_t i = 0; i < s->n_leases; i++)
        if (strcmp(s->leases[i].cluster, cluster) == 0)
            l = &s->leases[i];
    if (!l) {
        xgrow((void **)&s->leases, &s->cap_leases, s->n_leases + 1, sizeof *s->leases);
        l = &s->leases[s->n_leases++];
        l->cluster = xstrdup(cluster);
        l->holder = xstrdup(holder);
        l->expiry_ns = now_ns + ttl_ns;
        *held = true;
        return 0;
    }
    if (strcmp(l->holder, holder) == 0 || l->expiry_ns <= now_ns) {
        free(l->holder);
        l->holder = xstrdup(holder);
        l->expiry_ns = now_ns + ttl_ns;
        *held = true;
    } else {
        *held = false;
    }
    return 0;
}

static size_t mem_spool_depth(void *state)
{
    (void)state;
    return 0;
}

static void mem_destroy(void *state)
{
    struct store_mem *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        for (size_t k = 0; k < s->colls[i].n; k++)
            bson_destroy(s->colls[i].docs[k]);
        free(s->colls[i].docs);
        free(s->colls[i].name);
    }
    for (size_t i = 0; i < s->n_leases; i++) {
        free(s->leases[i].cluster);
        free(s->leases[i].holder);
    }
    free(s->leases);
    free(s->colls);
    free(s->cluster);
    free(s);
}

/* Same semantics as the MongoDB store's retention: this cluster's documents whose date `field`
 * is before before_ns, at most max_docs per call. */
static int mem_expire(void *state, const char *collection, const char *field, int64_t before_ns,
                      size_t max_docs, struct joule_err *err)
{
    (void)err;
    struct store_mem *s = state;
    struct mem_coll *c = coll_get(s, collection, false);
    if (!c)
        return 0;
    size_t kept = 0, gone = 0;
    int64_t before_ms = before_ns / 1000000;
    for (size_t i = 0; i < c->n; i++) {
        bson_iter_t it, cl;
        bool old = gone < max_docs && bson_iter_init_find(&it, c->docs[i], field) &&
                   BSON_ITER_HOLDS_DATE_TIME(&it) && bson_iter_date_time(&it) < before_ms &&
                   bson_iter_init_find(&cl, c->docs[i], "cluster") && BSON_ITER_HOLDS_UTF8(&cl) &&
                   strcmp(bson_iter_utf8(&cl, NULL), s->cluster) == 0;
        if (old) {
            bson_destroy(c->docs[i]);
            gone++;
        } else {
            c->docs[kept++] = c->docs[i];
        }
    }
    c->n = kept;
    return (int)gone;
}

size_t store_memory_count(void *state, const char *collection)
{
    struct mem_coll *c = coll_get(state, collection, false);
    return c ? c->n : 0;
}

const bson_t *store_memory_doc(void *state, const char *collection, size_t i)
{
    struct mem_coll *c = coll_get(state, collection, false);
    return c && i < c->n ? c->docs[i] : NULL;
}

const struct store_ops store_memory_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "memory",
    .create = mem_create,
    .open = mem_open,
    .insert = mem_insert,
    .upsert = mem_upsert,
    .lease = mem_lease,
    .spool_depth = mem_spool_depth,
    .destroy = mem_destroy,
    .expire = mem_expire,
};

/* joulectl report - energy, savings, hosts off, migrations, power actions and events from
 * MongoDB.
 *
 * Sums are done by the server ($match / $group / $sum, one accumulator per $group: FerretDB 1.24
 * returns 0 for every accumulator after the first). Percentiles, ratios and tables are computed
 * here. A document that does not have the fields and types the report needs (schemas/) is
 * skipped and counted, never trusted and never a crash. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include "config.h"
#include "docs.h"
#include "hosts_off.h"
#include "joulectl.h"
#include "store/mongo.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define J_PER_KWH 3.6e6
#define MS_PER_HOUR 3600000LL
#define MS_PER_DAY (24 * MS_PER_HOUR)
#define DEFAULT_SPAN_MS MS_PER_DAY

enum rep_format { REP_TABLE, REP_CSV, REP_JSON };

struct rep_opts {
    const char *uri;
    const char *database;
    const char *cluster;      /* NULL: every cluster */
    int64_t since_ms;
    int64_t until_ms;
    bool by_day;
    enum rep_format format;
    const char *svg;
};

struct rep_host {
    char *name;
    double idle_w;            /* < 0 unknown */
    double kwh;
    double savings_kwh;
    unsigned mig_out, mig_in, mig_failed;
    unsigned pa_on, pa_off, pa_failed;
};

struct rep_cell {
    int64_t bucket_ms;
    int host;
    double kwh;
};

struct rep_mark {
    int64_t t_ms;
    bool on;
    bool ok;
    int host;
};

struct rep_count {
    char *key;
    int64_t n;
};

/* One stored power state (host_samples), its host an index into report.off_hosts. */
struct rep_state {
    size_t host;
    int64_t t_ms;
    enum hosts_off_state state;
};

struct report {
    struct rep_host *hosts;
    size_t n_hosts, cap_hosts;
    struct rep_cell *cells;
    size_t n_cells, cap_cells;
    int64_t *buckets;
    size_t n_buckets, cap_buckets;
    double total_kwh;
    double savings_kwh;
    unsigned mig_count, mig_ok, mig_failed, mig_aborted;
    double *mig_dur;
    size_t n_mig_dur, cap_mig_dur;
    unsigned pa_count, pa_on, pa_off, pa_failed;
    double *pa_dur;
    size_t n_pa_dur, cap_pa_dur;
    struct rep_mark *marks;
    size_t n_marks, cap_marks;
    struct rep_count *events;
    size_t n_events, cap_events;
    int64_t skipped_power, skipped_hosts, skipped_migrations, skipped_actions, skipped_events;
    /* hosts off: the hosts counted (host names; "cluster/host" under --all-clusters, where
     * names may repeat across clusters), their stored states, the figures (hosts_off.h) */
    char **off_hosts;
    size_t n_off_hosts, cap_off_hosts;
    struct rep_state *states;
    size_t n_states, cap_states;
    struct hosts_off off;
    int64_t skipped_host_samples;
};

static void report_free(struct report *r)
{
    for (size_t i = 0; i < r->n_hosts; i++)
        free(r->hosts[i].name);
    for (size_t i = 0; i < r->n_events; i++)
        free(r->events[i].key);
    free(r->hosts);
    free(r->cells);
    free(r->buckets);
    free(r->mig_dur);
    free(r->pa_dur);
    free(r->marks);
    free(r->events);
    for (size_t i = 0; i < r->n_off_hosts; i++)
        free(r->off_hosts[i]);
    free(r->off_hosts);
    free(r->states);
    hosts_off_free(&r->off);
}

static int host_index(struct report *r, const char *name)
{
    for (size_t i = 0; i < r->n_hosts; i++)
        if (strcmp(r->hosts[i].name, name) == 0)
            return (int)i;
    xgrow((void **)&r->hosts, &r->cap_hosts, r->n_hosts + 1, sizeof *r->hosts);
    struct rep_host *h = &r->hosts[r->n_hosts];
    memset(h, 0, sizeof *h);
    h->name = xstrdup(name);
    h->idle_w = -1;
    return (int)r->n_hosts++;
}

static void push_double(double **v, size_t *n, size_t *cap, double x)
{
    xgrow((void **)v, cap, *n + 1, sizeof **v);
    (*v)[(*n)++] = x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* qsort with n == 0 and a NULL array is undefined: skip it */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v: the value at rank ceil(p/100 * n). NAN when empty. */
static double percentile(const double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    return v[rank - 1];
}

/* ---------------------------------------------------------------- time */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* "2026-11-27", "2026-11-27T08:00[:00][Z]", "now", "-24h", "-7d", "-30m" (relative to now). */
static int parse_time(const char *s, int64_t now_ms, int64_t *out)
{
    if (strcmp(s, "now") == 0) {
        *out = now_ms;
        return 0;
    }
    if (s[0] == '-') {
        char *end;
        errno = 0;
        long long v = strtoll(s + 1, &end, 10);
        if (errno || end == s + 1 || v < 0 || end[1] != '\0')
            return -1;
        int64_t unit;
        switch (*end) {
        case 'm': unit = 60000; break;
        case 'h': unit = MS_PER_HOUR; break;
        case 'd': unit = MS_PER_DAY; break;
        default: return -1;
        }
        *out = now_ms - (int64_t)v * unit;
        return 0;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
        return -1;
    const char *rest = s + n;
    if (*rest == 'T' || *rest == ' ') {
        int m2 = 0;
        if (sscanf(rest + 1, "%2d:%2d%n", &h, &mi, &m2) != 2)
            return -1;
        rest += 1 + m2;
        if (*rest == ':') {
            int m3 = 0;
            if (sscanf(rest + 1, "%2d%n", &sec, &m3) != 1)
                return -1;
            rest += 1 + m3;
        }
    }
    if (*rest == 'Z')
        rest++;
    if (*rest || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    *out = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60000LL +
           sec * 1000LL;
    return 0;
}

static void fmt_iso(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Tables are in local time with the zone (DESIGN.md, operator conventions). */
static void fmt_local(int64_t ms, bool by_day, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, by_day ? "%Y-%m-%d %Z" : "%Y-%m-%d %H:%M %Z", &tm);
}

/* ---------------------------------------------------------------- queries */

struct rep_ctx {
    mongoc_client_t *client;
    const struct rep_opts *o;
    char err[1024];
};

static mongoc_collection_t *coll(struct rep_ctx *c, const char *name)
{
    return mongoc_client_get_collection(c->client, c->o->database, name);
}

/* {cluster?, field: {$gte: since, $lt: until}} plus what more adds. */
static bson_t *range_filter(const struct rep_opts *o, const char *field)
{
    bson_t *f = bson_new();
    if (o->cluster)
        BSON_APPEND_UTF8(f, "cluster", o->cluster);
    bson_t r;
    BSON_APPEND_DOCUMENT_BEGIN(f, field, &r);
    BSON_APPEND_DATE_TIME(&r, "$gte", o->since_ms);
    BSON_APPEND_DATE_TIME(&r, "$lt", o->until_ms);
    bson_append_document_end(f, &r);
    return f;
}

static void add_type(bson_t *f, const char *field, const char *type)
{
    bson_t t;
    BSON_APPEND_DOCUMENT_BEGIN(f, field, &t);
    BSON_APPEND_UTF8(&t, "$type", type);
    bson_append_document_end(f, &t);
}

static int count(struct rep_ctx *c, const char *name, const bson_t *filter, int64_t *out)
{
    mongoc_collection_t *col = coll(c, name);
    bson_error_t be;
    int64_t n = mongoc_collection_count_documents(col, filter, NULL, NULL, NULL, &be);
    mongoc_collection_destroy(col);
    if (n < 0) {
        snprintf(c->err, sizeof c->err, "count %s: %s", name, be.message);
        return -1;
    }
    *out = n;
    return 0;
}

static void add_not_type(bson_t *f, const char *field, const char *type)
{
    bson_t n, ty;
    BSON_APPEND_DOCUMENT_BEGIN(f, field, &n);
    BSON_APPEND_DOCUMENT_BEGIN(&n, "$not", &ty);
    BSON_APPEND_UTF8(&ty, "$type", type);
    bson_append_document_end(&n, &ty);
    bson_append_document_end(f, &n);
}

/* One count of the malformed documents: those whose time field is not a date at all (never in
 * any range, still malformed), and those in the range failing one of `bad` (documents, each a
 * condition that makes a document unusable). One pass over the collection: FerretDB scans. */
static int count_malformed(struct rep_ctx *c, const char *name, const char *field,
                           bson_t *const *bad, size_t n_bad, int64_t *out)
{
    bson_t *f = bson_new();
    if (c->o->cluster)
        BSON_APPEND_UTF8(f, "cluster", c->o->cluster);
    if (n_bad == 0) {
        add_not_type(f, field, "date");
        int rc = count(c, name, f, out);
        bson_destroy(f);
        return rc;
    }
    bson_t or, alt, and, inner, rng, any;
    BSON_APPEND_ARRAY_BEGIN(f, "$or", &or);
    BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &alt);
    add_not_type(&alt, field, "date");
    bson_append_document_end(&or, &alt);
    BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &alt);
    BSON_APPEND_ARRAY_BEGIN(&alt, "$and", &and);
    BSON_APPEND_DOCUMENT_BEGIN(&and, "0", &inner);
    BSON_APPEND_DOCUMENT_BEGIN(&inner, field, &rng);
    BSON_APPEND_DATE_TIME(&rng, "$gte", c->o->since_ms);
    BSON_APPEND_DATE_TIME(&rng, "$lt", c->o->until_ms);
    bson_append_document_end(&inner, &rng);
    bson_append_document_end(&and, &inner);
    BSON_APPEND_DOCUMENT_BEGIN(&and, "1", &inner);
    BSON_APPEND_ARRAY_BEGIN(&inner, "$or", &any);
    for (size_t i = 0; i < n_bad; i++) {
        char k[24];
        const char *key;
        bson_uint32_to_string((uint32_t)i, &key, k, sizeof k);
        BSON_APPEND_DOCUMENT(&any, key, bad[i]);
    }
    bson_append_array_end(&inner, &any);
    bson_append_document_end(&and, &inner);
    bson_append_array_end(&alt, &and);
    bson_append_document_end(&or, &alt);
    bson_append_array_end(f, &or);
    int rc = count(c, name, f, out);
    bson_destroy(f);
    return rc;
}

static bson_t *not_type(const char *field, const char *type)
{
    bson_t *b = bson_new();
    add_not_type(b, field, type);
    return b;
}

typedef int (*row_fn)(struct rep_ctx *c, const bson_t *row, void *arg);

/* Runs [ {$match: match}, {$group: {_id: id, v: {$sum: sum}}}, {$sort: {_id: 1}} ]; `id` and
 * `sum` are appended by the callers' builders below. */
/* The end of one find over collection NAME: the cursor's error becomes "NAME: message" in
 * c->err, the cursor, filter, options (may be NULL) and collection are freed; then, if
 * time_field is given and all went well, the cluster's documents without a date in time_field
 * (which the range filter cannot see) are added to *skipped. */
static int find_done(struct rep_ctx *c, const char *name, mongoc_cursor_t *cur, bson_t *f,
                     bson_t *opts, mongoc_collection_t *col, const char *time_field,
                     int64_t *skipped)
{
    bson_error_t be;
    int rc = 0;
    if (mongoc_cursor_error(cur, &be)) {
        snprintf(c->err, sizeof c->err, "%s: %s", name, be.message);
        rc = -1;
    }
    mongoc_cursor_destroy(cur);
    if (opts)
        bson_destroy(opts);
    bson_destroy(f);
    mongoc_collection_destroy(col);
    int64_t undated = 0;
    if (rc == 0 && time_field &&
        (rc = count_malformed(c, name, time_field, NULL, 0, &undated)) == 0)
        *skipped += undated;
    return rc;
}

static int aggregate(struct rep_ctx *c, const char *name, bson_t *pipeline, row_fn fn, void *arg)
{
    mongoc_collection_t *col = coll(c, name);
    mongoc_cursor_t *cur = mongoc_collection_aggregate(col, MONGOC_QUERY_NONE, pipeline, NULL, NULL);
    const bson_t *row;
    int rc = 0;
    while (rc == 0 && mongoc_cursor_next(cur, &row))
        rc = fn(c, row, arg);
    bson_error_t be;
    if (rc == 0 && mongoc_cursor_error(cur, &be)) {
        snprintf(c->err, sizeof c->err, "aggregate %s: %s", name, be.message);
        rc = -1;
    }
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(col);
    return rc;
}

static bson_t *group_pipeline(const bson_t *match, const bson_t *id_doc, const char *id_field,
                              const char *sum_field)
{
    bson_t *p = bson_new();
    bson_t arr, st, g, acc, sort, sk;
    BSON_APPEND_ARRAY_BEGIN(p, "pipeline", &arr);
    BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &st);
    BSON_APPEND_DOCUMENT(&st, "$match", match);
    bson_append_document_end(&arr, &st);
    BSON_APPEND_DOCUMENT_BEGIN(&arr, "1", &st);
    BSON_APPEND_DOCUMENT_BEGIN(&st, "$group", &g);
    if (id_doc)
        BSON_APPEND_DOCUMENT(&g, "_id", id_doc);
    else if (id_field)
        BSON_APPEND_UTF8(&g, "_id", id_field);
    else
        BSON_APPEND_NULL(&g, "_id");
    BSON_APPEND_DOCUMENT_BEGIN(&g, "v", &acc);
    if (sum_field)
        BSON_APPEND_UTF8(&acc, "$sum", sum_field);
    else
        BSON_APPEND_INT32(&acc, "$sum", 1);
    bson_append_document_end(&g, &acc);
    bson_append_document_end(&st, &g);
    bson_append_document_end(&arr, &st);
    BSON_APPEND_DOCUMENT_BEGIN(&arr, "2", &sort);
    BSON_APPEND_DOCUMENT_BEGIN(&sort, "$sort", &sk);
    BSON_APPEND_INT32(&sk, "_id", 1);
    bson_append_document_end(&sort, &sk);
    bson_append_document_end(&arr, &sort);
    bson_append_array_end(p, &arr);
    return p;
}

static bool get_num(const bson_t *b, const char *key, double *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, b, key) || !BSON_ITER_HOLDS_NUMBER(&it))
        return false;
    *out = bson_iter_as_double(&it);
    return true;
}

static bool get_double(const bson_t *b, const char *key, double *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, b, key) || !BSON_ITER_HOLDS_DOUBLE(&it))
        return false;
    *out = bson_iter_double(&it);
    return isfinite(*out);
}

static const char *get_str(const bson_t *b, const char *key)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, b, key) || !BSON_ITER_HOLDS_UTF8(&it))
        return NULL;
    return bson_iter_utf8(&it, NULL);
}

static bool get_date(const bson_t *b, const char *key, int64_t *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, b, key) || !BSON_ITER_HOLDS_DATE_TIME(&it))
        return false;
    *out = bson_iter_date_time(&it);
    return true;
}

static bool get_bool(const bson_t *b, const char *key, bool *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, b, key) || !BSON_ITER_HOLDS_BOOL(&it))
        return false;
    *out = bson_iter_bool(&it);
    return true;
}

/* --- energy */

static bson_t *energy_match(const struct rep_opts *o)
{
    bson_t *m = range_filter(o, "t");
    add_type(m, "host", "string");
    add_type(m, o->by_day ? "day" : "hour", "date");
    bson_t j;
    BSON_APPEND_DOCUMENT_BEGIN(m, "joules", &j);
    BSON_APPEND_UTF8(&j, "$type", "double");
    BSON_APPEND_DOUBLE(&j, "$gte", 0);
    bson_append_document_end(m, &j);
    return m;
}

static int energy_row(struct rep_ctx *c, const bson_t *row, void *arg)
{
    (void)c;
    struct report *r = arg;
    bson_iter_t it, id;
    double j;
    if (!bson_iter_init_find(&it, row, "_id") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
        !bson_iter_recurse(&it, &id) || !get_num(row, "v", &j))
        return 0;
    const char *host = NULL;
    int64_t b = 0;
    bool have_b = false;
    while (bson_iter_next(&id)) {
        if (strcmp(bson_iter_key(&id), "host") == 0 && BSON_ITER_HOLDS_UTF8(&id))
            host = bson_iter_utf8(&id, NULL);
        else if (strcmp(bson_iter_key(&id), "b") == 0 && BSON_ITER_HOLDS_DATE_TIME(&id)) {
            b = bson_iter_date_time(&id);
            have_b = true;
        }
    }
    if (!host || !have_b)
        return 0;
    int h = host_index(r, host);
    xgrow((void **)&r->cells, &r->cap_cells, r->n_cells + 1, sizeof *r->cells);
    r->cells[r->n_cells++] = (struct rep_cell){ b, h, j / J_PER_KWH };
    r->hosts[h].kwh += j / J_PER_KWH;
    r->total_kwh += j / J_PER_KWH;
    bool seen = false;
    for (size_t i = 0; i < r->n_buckets && !seen; i++)
        seen = r->buckets[i] == b;
    if (!seen) {
        xgrow((void **)&r->buckets, &r->cap_buckets, r->n_buckets + 1, sizeof *r->buckets);
        r->buckets[r->n_buckets++] = b;
    }
    return 0;
}

static int query_energy(struct rep_ctx *c, struct report *r)
{
    bson_t *m = energy_match(c->o);
    bson_t id = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&id, "host", "$host");
    BSON_APPEND_UTF8(&id, "b", c->o->by_day ? "$day" : "$hour");
    bson_t *p = group_pipeline(m, &id, NULL, "$joules");
    int rc = aggregate(c, "power_samples", p, energy_row, r);
    bson_destroy(p);
    bson_destroy(&id);
    bson_t *bad[5] = { not_type("host", "string"), not_type(c->o->by_day ? "day" : "hour", "date"),
                       not_type("joules", "double"), BCON_NEW("joules", "{", "$lt", BCON_DOUBLE(0), "}"),
                       NULL };
    if (rc == 0)
        rc = count_malformed(c, "power_samples", "t", bad, 4, &r->skipped_power);
    for (size_t i = 0; bad[i]; i++)
        bson_destroy(bad[i]);
    bson_destroy(m);
    sort(r->buckets, r->n_buckets, sizeof *r->buckets, cmp_i64);
    return rc;
}

/* --- hosts (idle watts of the power model) and savings */

static int query_hosts(struct rep_ctx *c, struct report *r)
{
    mongoc_collection_t *col = coll(c, "hosts");
    bson_t *f = bson_new();
    if (c->o->cluster)
        BSON_APPEND_UTF8(f, "cluster", c->o->cluster);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(col, f, NULL, NULL);
    const bson_t *d;
    while (mongoc_cursor_next(cur, &d)) {
        const char *name = get_str(d, "host");
        double idle;
        if (!name || !get_double(d, "idle_w", &idle) || idle < 0) {
            r->skipped_hosts++;
            continue;
        }
        r->hosts[host_index(r, name)].idle_w = idle;
    }
    return find_done(c, "hosts", cur, f, NULL, col, NULL, NULL);
}

struct savings_acc {
    struct report *r;
    double *v;   /* per host */
    size_t n;
};

static int savings_row(struct rep_ctx *c, const bson_t *row, void *arg)
{
    (void)c;
    struct savings_acc *a = arg;
    const char *host = get_str(row, "_id");
    double v;
    if (!host || !get_num(row, "v", &v))
        return 0;
    for (size_t h = 0; h < a->n; h++)
        if (strcmp(a->r->hosts[h].name, host) == 0)
            a->v[h] += v;
    return 0;
}

static int query_savings(struct rep_ctx *c, struct report *r)
{
    bson_t *m = energy_match(c->o);
    add_type(m, "interval_s", "double");
    bson_t or, alt, w;
    size_t n = 0;
    BSON_APPEND_ARRAY_BEGIN(m, "$or", &or);
    for (size_t h = 0; h < r->n_hosts; h++) {
        if (r->hosts[h].idle_w <= 0)
            continue;
        char k[24];
        const char *key;
        bson_uint32_to_string((uint32_t)n++, &key, k, sizeof k);
        BSON_APPEND_DOCUMENT_BEGIN(&or, key, &alt);
        BSON_APPEND_UTF8(&alt, "host", r->hosts[h].name);
        BSON_APPEND_DOCUMENT_BEGIN(&alt, "watts", &w);
        BSON_APPEND_UTF8(&w, "$type", "double");
        BSON_APPEND_DOUBLE(&w, "$lt", r->hosts[h].idle_w);
        bson_append_document_end(&alt, &w);
        bson_append_document_end(&or, &alt);
    }
    bson_append_array_end(m, &or);
    if (n == 0) {
        bson_destroy(m);
        return 0;
    }
    /* the sums by host, one accumulator per query (see the top of this file) */
    size_t n_hosts = r->n_hosts;
    double *secs = xcalloc(n_hosts, sizeof *secs), *joules = xcalloc(n_hosts, sizeof *joules);
    struct savings_acc as = { r, secs, n_hosts }, aj = { r, joules, n_hosts };
    bson_t *p1 = group_pipeline(m, NULL, "$host", "$interval_s");
    bson_t *p2 = group_pipeline(m, NULL, "$host", "$joules");
    int rc = aggregate(c, "power_samples", p1, savings_row, &as);
    if (rc == 0)
        rc = aggregate(c, "power_samples", p2, savings_row, &aj);
    bson_destroy(p1);
    bson_destroy(p2);
    bson_destroy(m);
    for (size_t h = 0; rc == 0 && h < n_hosts; h++) {
        struct rep_host *rh = &r->hosts[h];
        double saved = (rh->idle_w * secs[h] - joules[h]) / J_PER_KWH;
        rh->savings_kwh = rh->idle_w > 0 && saved > 0 ? saved : 0;
        r->savings_kwh += rh->savings_kwh;
    }
    free(secs);
    free(joules);
    return rc;
}

/* --- migrations and power actions */

static int query_migrations(struct rep_ctx *c, struct report *r)
{
    mongoc_collection_t *col = coll(c, "migrations");
    bson_t *f = range_filter(c->o, "start");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(col, f, NULL, NULL);
    const bson_t *d;
    while (mongoc_cursor_next(cur, &d)) {
        const char *from = get_str(d, "from"), *to = get_str(d, "to"), *res = get_str(d, "result");
        const char *vm = get_str(d, "vm");
        double dur;
        bool ok;
        int64_t start;
        if (!from || !to || !res || !vm || !get_double(d, "duration_s", &dur) || dur < 0 ||
            !get_bool(d, "ok", &ok) || !get_date(d, "start", &start) ||
            (strcmp(res, "ok") != 0 && strcmp(res, "failed") != 0 && strcmp(res, "aborted") != 0) ||
            ok != (strcmp(res, "ok") == 0)) {
            r->skipped_migrations++;
            continue;
        }
        r->mig_count++;
        int hf = host_index(r, from), ht = host_index(r, to);
        r->hosts[hf].mig_out++;
        if (ok) {
            r->mig_ok++;
            r->hosts[ht].mig_in++;
            push_double(&r->mig_dur, &r->n_mig_dur, &r->cap_mig_dur, dur);
        } else {
            r->hosts[hf].mig_failed++;
            if (strcmp(res, "aborted") == 0)
                r->mig_aborted++;
            else
                r->mig_failed++;
        }
    }
    int rc = find_done(c, "migrations", cur, f, NULL, col, "start", &r->skipped_migrations);
    sort(r->mig_dur, r->n_mig_dur, sizeof *r->mig_dur, cmp_double);
    return rc;
}

static int query_power_actions(struct rep_ctx *c, struct report *r)
{
    mongoc_collection_t *col = coll(c, "power_actions");
    bson_t *f = range_filter(c->o, "start");
    bson_t *opts = BCON_NEW("sort", "{", "start", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(col, f, opts, NULL);
    const bson_t *d;
    while (mongoc_cursor_next(cur, &d)) {
        const char *host = get_str(d, "host"), *action = get_str(d, "action");
        double dur;
        bool ok;
        int64_t start;
        if (!host || !action || (strcmp(action, "on") != 0 && strcmp(action, "off") != 0) ||
            !get_double(d, "duration_s", &dur) || dur < 0 || !get_bool(d, "ok", &ok) ||
            !get_date(d, "start", &start)) {
            r->skipped_actions++;
            continue;
        }
        bool on = strcmp(action, "on") == 0;
        int h = host_index(r, host);
        r->pa_count++;
        if (on) {
            r->pa_on++;
            r->hosts[h].pa_on++;
        } else {
            r->pa_off++;
            r->hosts[h].pa_off++;
        }
        if (ok)
            push_double(&r->pa_dur, &r->n_pa_dur, &r->cap_pa_dur, dur);
        else {
            r->pa_failed++;
            r->hosts[h].pa_failed++;
        }
        xgrow((void **)&r->marks, &r->cap_marks, r->n_marks + 1, sizeof *r->marks);
        r->marks[r->n_marks++] = (struct rep_mark){ start, on, ok, h };
    }
    int rc = find_done(c, "power_actions", cur, f, opts, col, "start", &r->skipped_actions);
    sort(r->pa_dur, r->n_pa_dur, sizeof *r->pa_dur, cmp_double);
    return rc;
}

/* --- hosts off (hosts_off.h): from host_samples.state, the power state the controller's
 * state machine had at each tick, stored for every host every tick. Not from power_actions
 * (they give the start and end of an action, not whether a host stayed off, and nothing at
 * all while the controller was down) and not from watts (a threshold guesses; the state is
 * what the controller verified). The fetch starts HOSTS_OFF_CAP_MS before --since so the
 * state at --since is known; documents in that margin are not counted as skipped. */

#define HOSTS_OFF_CAP_MS (DOCS_MAX_GAP_NS / 1000000)

static size_t off_host_index(struct report *r, const char *name)
{
    /* the samples come sorted by host: the last one found is nearly always the one */
    if (r->n_off_hosts && strcmp(r->off_hosts[r->n_off_hosts - 1], name) == 0)
        return r->n_off_hosts - 1;
    for (size_t i = 0; i < r->n_off_hosts; i++)
        if (strcmp(r->off_hosts[i], name) == 0)
            return i;
    xgrow((void **)&r->off_hosts, &r->cap_off_hosts, r->n_off_hosts + 1, sizeof *r->off_hosts);
    r->off_hosts[r->n_off_hosts] = xstrdup(name);
    return r->n_off_hosts++;
}

static int query_host_states(struct rep_ctx *c, struct report *r)
{
    mongoc_collection_t *col = coll(c, "host_samples");
    struct rep_opts wider = *c->o;
    wider.since_ms -= HOSTS_OFF_CAP_MS;
    bson_t *f = range_filter(&wider, "t");
    /* sorted as the cluster_host_t index (schemas/host_samples.json) */
    bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(0), "cluster", BCON_INT32(1),
                            "host", BCON_INT32(1), "t", BCON_INT32(1), "state", BCON_INT32(1),
                            "}", "sort", "{", "cluster", BCON_INT32(1), "host", BCON_INT32(1),
                            "t", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(col, f, opts, NULL);
    const bson_t *d;
    while (mongoc_cursor_next(cur, &d)) {
        const char *host = get_str(d, "host"), *cluster = get_str(d, "cluster");
        int64_t t;
        enum hosts_off_state st;
        if (!get_date(d, "t", &t))
            continue; /* cannot happen (the filter is on t), counted below if it does */
        if (!host || !cluster || hosts_off_state_parse(get_str(d, "state"), &st) < 0) {
            if (t >= c->o->since_ms)
                r->skipped_host_samples++;
            continue;
        }
        size_t h;
        if (c->o->cluster) {
            h = off_host_index(r, host);
        } else {
            char *key = xasprintf("%s/%s", cluster, host);
            h = off_host_index(r, key);
            free(key);
        }
        xgrow((void **)&r->states, &r->cap_states, r->n_states + 1, sizeof *r->states);
        r->states[r->n_states++] = (struct rep_state){ h, t, st };
    }
    return find_done(c, "host_samples", cur, f, opts, col, "t", &r->skipped_host_samples);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* After every query: with --cluster, each host the report knows counts (one without a sample
 * is unknown throughout); hosts in name order; then the figures per bucket. */
/* After a sort of names (each its own allocation): map[old index] = new index, matched by
 * pointer. `after` may have been filled from any array of records carrying the names. */
static void sorted_map(char *const *before, char *const *after, size_t n, size_t *map)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (after[j] == before[i])
                map[i] = j;
}

static int compute_hosts_off(struct rep_ctx *c, struct report *r)
{
    if (c->o->cluster)
        for (size_t h = 0; h < r->n_hosts; h++)
            off_host_index(r, r->hosts[h].name);
    size_t n = r->n_off_hosts;
    char **old = xcalloc(n ? n : 1, sizeof *old);
    size_t *map = xcalloc(n ? n : 1, sizeof *map);
    for (size_t i = 0; i < n; i++)
        old[i] = r->off_hosts[i];
    sort(r->off_hosts, n, sizeof *r->off_hosts, cmp_str_ptr);
    sorted_map(old, r->off_hosts, n, map);
    struct hosts_off_sample *s = xcalloc(r->n_states ? r->n_states : 1, sizeof *s);
    for (size_t i = 0; i < r->n_states; i++)
        s[i] = (struct hosts_off_sample){ map[r->states[i].host], r->states[i].t_ms,
                                          r->states[i].state };
    struct joule_err e = { 0 };
    int rc = hosts_off_compute(s, r->n_states, n, c->o->since_ms, c->o->until_ms,
                               c->o->by_day ? MS_PER_DAY : MS_PER_HOUR, HOSTS_OFF_CAP_MS, &r->off,
                               &e);
    if (rc < 0)
        snprintf(c->err, sizeof c->err, "%s", e.msg);
    free(s);
    free(map);
    free(old);
    return rc < 0 ? -1 : 0;
}

/* --- events */

static int event_row(struct rep_ctx *c, const bson_t *row, void *arg)
{
    (void)c;
    struct report *r = arg;
    const char *kind = get_str(row, "_id");
    double n;
    if (!kind || !get_num(row, "v", &n))
        return 0;
    xgrow((void **)&r->events, &r->cap_events, r->n_events + 1, sizeof *r->events);
    r->events[r->n_events++] = (struct rep_count){ xstrdup(kind), (int64_t)n };
    return 0;
}

static int query_events(struct rep_ctx *c, struct report *r)
{
    bson_t *m = range_filter(c->o, "t");
    add_type(m, "kind", "string");
    bson_t *p = group_pipeline(m, NULL, "$kind", NULL);
    int rc = aggregate(c, "events", p, event_row, r);
    bson_destroy(p);
    bson_t *bad[1] = { not_type("kind", "string") };
    if (rc == 0)
        rc = count_malformed(c, "events", "t", bad, 1, &r->skipped_events);
    bson_destroy(bad[0]);
    bson_destroy(m);
    return rc;
}

/* ---------------------------------------------------------------- output */

static double cell(const struct report *r, int64_t b, size_t h)
{
    for (size_t i = 0; i < r->n_cells; i++)
        if (r->cells[i].bucket_ms == b && r->cells[i].host == (int)h)
            return r->cells[i].kwh;
    return 0;
}

static double bucket_total(const struct report *r, int64_t b)
{
    double t = 0;
    for (size_t i = 0; i < r->n_cells; i++)
        if (r->cells[i].bucket_ms == b)
            t += r->cells[i].kwh;
    return t;
}

static int cmp_host_name(const void *a, const void *b)
{
    return strcmp(((const struct rep_host *)a)->name, ((const struct rep_host *)b)->name);
}

static double savings_pct(const struct report *r)
{
    double base = r->total_kwh + r->savings_kwh;
    return base > 0 ? 100.0 * r->savings_kwh / base : 0;
}

static void put_pct(FILE *f, const char *label, double v)
{
    if (isnan(v))
        fprintf(f, "  %s -", label);
    else
        fprintf(f, "  %s %.1f", label, v);
}

/* "Hosts off per hour": bucket, mean number of hosts off, hosts off all of it, mean number
 * unknown (no sample, or the controller did not know). */
static void print_hosts_off_table(FILE *f, const struct rep_opts *o, const struct report *r)
{
    const char *per = o->by_day ? "day" : "hour";
    const struct hosts_off *x = &r->off;
    fprintf(f, "\nHosts off per %s  [stored power state: host_samples.state off or powering_off; "
               "no sample: unknown]\n", per);
    if (x->n_hosts == 0) {
        fprintf(f, "  (no hosts)\n");
        return;
    }
    char whole[32], a[64];
    snprintf(whole, sizeof whole, "off whole %s", per);
    fprintf(f, "%-22s %8s %14s %8s\n", per, "mean off", whole, "unknown");
    for (size_t i = 0; i < x->n_buckets; i++) {
        const struct hosts_off_bucket *b = &x->buckets[i];
        fmt_local(b->start_ms, o->by_day, a, sizeof a);
        fprintf(f, "%-22s %8.2f %14zu %8.2f\n", a, b->mean_off, b->off_whole, b->mean_unknown);
    }
    fprintf(f, "(%zu hosts; a sample stands for its host's state until the next one, at most "
               "%.0f s",
            x->n_hosts, (double)x->hold_ms / 1000);
    if (x->interval_ms > 0)
        fprintf(f, "; tick %.0f s", (double)x->interval_ms / 1000);
    fprintf(f, ")\n");
}

static void print_table(FILE *f, const struct rep_opts *o, const struct report *r)
{
    char a[64], b[64];
    fmt_local(o->since_ms, false, a, sizeof a);
    fmt_local(o->until_ms, false, b, sizeof b);
    fprintf(f, "joule report  cluster %s  %s .. %s  (per %s)\n\n", o->cluster ? o->cluster : "(all)",
            a, b, o->by_day ? "day" : "hour");
    /* columns as wide as the longest host name, at least 10 */
    int w = 10;
    for (size_t h = 0; h < r->n_hosts; h++)
        if ((int)strlen(r->hosts[h].name) > w)
            w = (int)strlen(r->hosts[h].name);
    fprintf(f, "Energy (kWh)\n%-22s", o->by_day ? "day" : "hour");
    for (size_t h = 0; h < r->n_hosts; h++)
        fprintf(f, " %*s", w, r->hosts[h].name);
    fprintf(f, " %*s\n", w, "total");
    for (size_t i = 0; i < r->n_buckets; i++) {
        fmt_local(r->buckets[i], o->by_day, a, sizeof a);
        fprintf(f, "%-22s", a);
        for (size_t h = 0; h < r->n_hosts; h++)
            fprintf(f, " %*.3f", w, cell(r, r->buckets[i], h));
        fprintf(f, " %*.3f\n", w, bucket_total(r, r->buckets[i]));
    }
    fprintf(f, "%-22s", "total");
    for (size_t h = 0; h < r->n_hosts; h++)
        fprintf(f, " %*.3f", w, r->hosts[h].kwh);
    fprintf(f, " %*.3f\n\n", w, r->total_kwh);
    fprintf(f, "Savings versus all hosts on: %.3f kWh (%.1f%% of %.3f kWh)  "
               "[idle watts of the power model, hosts.idle_w]\n",
            r->savings_kwh, savings_pct(r), r->total_kwh + r->savings_kwh);
    for (size_t h = 0; h < r->n_hosts; h++)
        if (r->hosts[h].savings_kwh > 0)
            fprintf(f, "  %-20s %10.3f kWh\n", r->hosts[h].name, r->hosts[h].savings_kwh);
    print_hosts_off_table(f, o, r);
    fprintf(f, "\nMigrations: %u (%u ok, %u failed, %u aborted)  duration s:", r->mig_count,
            r->mig_ok, r->mig_failed, r->mig_aborted);
    put_pct(f, "p50", percentile(r->mig_dur, r->n_mig_dur, 50));
    put_pct(f, "p95", percentile(r->mig_dur, r->n_mig_dur, 95));
    put_pct(f, "max", r->n_mig_dur ? r->mig_dur[r->n_mig_dur - 1] : NAN);
    fprintf(f, "\nPower actions: %u (%u on, %u off, %u failed)  time to verified state s:",
            r->pa_count, r->pa_on, r->pa_off, r->pa_failed);
    put_pct(f, "p50", percentile(r->pa_dur, r->n_pa_dur, 50));
    put_pct(f, "p95", percentile(r->pa_dur, r->n_pa_dur, 95));
    put_pct(f, "max", r->n_pa_dur ? r->pa_dur[r->n_pa_dur - 1] : NAN);
    int hw = w > 20 ? w : 20;
    fprintf(f, "\n\n%-*s %8s %8s %10s %8s %8s %10s\n", hw, "host", "mig_out", "mig_in",
            "mig_failed", "pwr_on", "pwr_off", "pwr_failed");
    for (size_t h = 0; h < r->n_hosts; h++) {
        const struct rep_host *x = &r->hosts[h];
        fprintf(f, "%-*s %8u %8u %10u %8u %8u %10u\n", hw, x->name, x->mig_out, x->mig_in,
                x->mig_failed, x->pa_on, x->pa_off, x->pa_failed);
    }
    fprintf(f, "\nEvents\n");
    for (size_t i = 0; i < r->n_events; i++)
        fprintf(f, "  %-20s %8lld\n", r->events[i].key, (long long)r->events[i].n);
    if (r->n_events == 0)
        fprintf(f, "  (none)\n");
    fprintf(f, "\nSkipped malformed documents: power_samples %lld, hosts %lld, migrations %lld, "
               "power_actions %lld, events %lld, host_samples %lld\n",
            (long long)r->skipped_power, (long long)r->skipped_hosts,
            (long long)r->skipped_migrations, (long long)r->skipped_actions,
            (long long)r->skipped_events, (long long)r->skipped_host_samples);
}

static void csv_num(FILE *f, const char *section, const char *bucket, const char *host,
                    const char *key, double v)
{
    if (isnan(v))
        fprintf(f, "%s,%s,%s,%s,\n", section, bucket, host, key);
    else
        fprintf(f, "%s,%s,%s,%s,%.6f\n", section, bucket, host, key, v);
}

/* Long form, one value per row: section,bucket,host,key,value. Host names are plain
 * identifiers in joule (config rules), so no quoting is needed; commas are refused below. */
static void print_csv(FILE *f, const struct report *r)
{
    char b[64];
    fprintf(f, "section,bucket,host,key,value\n");
    for (size_t i = 0; i < r->n_buckets; i++) {
        fmt_iso(r->buckets[i], b, sizeof b);
        for (size_t h = 0; h < r->n_hosts; h++)
            csv_num(f, "energy", b, r->hosts[h].name, "kwh", cell(r, r->buckets[i], h));
        csv_num(f, "energy", b, "", "total_kwh", bucket_total(r, r->buckets[i]));
    }
    for (size_t h = 0; h < r->n_hosts; h++) {
        csv_num(f, "energy", "", r->hosts[h].name, "kwh", r->hosts[h].kwh);
        csv_num(f, "savings", "", r->hosts[h].name, "kwh", r->hosts[h].savings_kwh);
    }
    csv_num(f, "energy", "", "", "total_kwh", r->total_kwh);
    csv_num(f, "savings", "", "", "kwh", r->savings_kwh);
    csv_num(f, "savings", "", "", "pct", savings_pct(r));
    const struct hosts_off *ho = &r->off;
    for (size_t i = 0; i < ho->n_buckets; i++) {
        const struct hosts_off_bucket *hb = &ho->buckets[i];
        fmt_iso(hb->start_ms, b, sizeof b);
        csv_num(f, "hosts_off", b, "", "mean_off", hb->mean_off);
        csv_num(f, "hosts_off", b, "", "off_whole", (double)hb->off_whole);
        csv_num(f, "hosts_off", b, "", "mean_unknown", hb->mean_unknown);
        csv_num(f, "hosts_off", b, "", "seconds", (double)(hb->to_ms - hb->from_ms) / 1000);
        for (size_t h = 0; h < ho->n_hosts; h++)
            csv_num(f, "hosts_off", b, r->off_hosts[h], "off_s",
                    (double)ho->off_ms[i * ho->n_hosts + h] / 1000);
    }
    csv_num(f, "hosts_off", "", "", "hosts", (double)ho->n_hosts);
    csv_num(f, "hosts_off", "", "", "interval_s",
            ho->interval_ms > 0 ? (double)ho->interval_ms / 1000 : NAN);
    csv_num(f, "hosts_off", "", "", "hold_s", (double)ho->hold_ms / 1000);
    csv_num(f, "migrations", "", "", "count", r->mig_count);
    csv_num(f, "migrations", "", "", "ok", r->mig_ok);
    csv_num(f, "migrations", "", "", "failed", r->mig_failed);
    csv_num(f, "migrations", "", "", "aborted", r->mig_aborted);
    csv_num(f, "migrations", "", "", "p50_s", percentile(r->mig_dur, r->n_mig_dur, 50));
    csv_num(f, "migrations", "", "", "p95_s", percentile(r->mig_dur, r->n_mig_dur, 95));
    csv_num(f, "migrations", "", "", "max_s", r->n_mig_dur ? r->mig_dur[r->n_mig_dur - 1] : NAN);
    csv_num(f, "power_actions", "", "", "count", r->pa_count);
    csv_num(f, "power_actions", "", "", "on", r->pa_on);
    csv_num(f, "power_actions", "", "", "off", r->pa_off);
    csv_num(f, "power_actions", "", "", "failed", r->pa_failed);
    csv_num(f, "power_actions", "", "", "p50_s", percentile(r->pa_dur, r->n_pa_dur, 50));
    csv_num(f, "power_actions", "", "", "p95_s", percentile(r->pa_dur, r->n_pa_dur, 95));
    csv_num(f, "power_actions", "", "", "max_s", r->n_pa_dur ? r->pa_dur[r->n_pa_dur - 1] : NAN);
    for (size_t h = 0; h < r->n_hosts; h++) {
        const struct rep_host *x = &r->hosts[h];
        csv_num(f, "hosts", "", x->name, "mig_out", x->mig_out);
        csv_num(f, "hosts", "", x->name, "mig_in", x->mig_in);
        csv_num(f, "hosts", "", x->name, "mig_failed", x->mig_failed);
        csv_num(f, "hosts", "", x->name, "pwr_on", x->pa_on);
        csv_num(f, "hosts", "", x->name, "pwr_off", x->pa_off);
        csv_num(f, "hosts", "", x->name, "pwr_failed", x->pa_failed);
    }
    for (size_t i = 0; i < r->n_events; i++)
        csv_num(f, "events", "", "", r->events[i].key, (double)r->events[i].n);
    csv_num(f, "skipped", "", "", "power_samples", (double)r->skipped_power);
    csv_num(f, "skipped", "", "", "hosts", (double)r->skipped_hosts);
    csv_num(f, "skipped", "", "", "migrations", (double)r->skipped_migrations);
    csv_num(f, "skipped", "", "", "power_actions", (double)r->skipped_actions);
    csv_num(f, "skipped", "", "", "events", (double)r->skipped_events);
    csv_num(f, "skipped", "", "", "host_samples", (double)r->skipped_host_samples);
}

static void json_num(bson_t *b, const char *key, double v)
{
    if (isnan(v))
        BSON_APPEND_NULL(b, key);
    else
        BSON_APPEND_DOUBLE(b, key, v);
}

/* "hosts_off": {source, off_states, hosts, interval_s (null: no two samples of a host),
 * hold_s, buckets: [{t, seconds, mean_off, off_whole, mean_unknown, hosts_off_s: {host: s}}]} */
static void json_hosts_off(bson_t *b, const struct report *r)
{
    const struct hosts_off *x = &r->off;
    bson_t e, arr, row, hosts;
    char t[64];
    BSON_APPEND_DOCUMENT_BEGIN(b, "hosts_off", &e);
    BSON_APPEND_UTF8(&e, "source", "host_samples.state");
    BSON_APPEND_ARRAY_BEGIN(&e, "off_states", &arr);
    BSON_APPEND_UTF8(&arr, "0", "off");
    BSON_APPEND_UTF8(&arr, "1", "powering_off");
    bson_append_array_end(&e, &arr);
    BSON_APPEND_INT32(&e, "hosts", (int32_t)x->n_hosts);
    json_num(&e, "interval_s", x->interval_ms > 0 ? (double)x->interval_ms / 1000 : NAN);
    BSON_APPEND_DOUBLE(&e, "hold_s", (double)x->hold_ms / 1000);
    BSON_APPEND_ARRAY_BEGIN(&e, "buckets", &arr);
    for (size_t i = 0; i < x->n_buckets; i++) {
        const struct hosts_off_bucket *hb = &x->buckets[i];
        char k[24];
        const char *key;
        bson_uint32_to_string((uint32_t)i, &key, k, sizeof k);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &row);
        fmt_iso(hb->start_ms, t, sizeof t);
        BSON_APPEND_UTF8(&row, "t", t);
        BSON_APPEND_DOUBLE(&row, "seconds", (double)(hb->to_ms - hb->from_ms) / 1000);
        BSON_APPEND_DOUBLE(&row, "mean_off", hb->mean_off);
        BSON_APPEND_INT32(&row, "off_whole", (int32_t)hb->off_whole);
        BSON_APPEND_DOUBLE(&row, "mean_unknown", hb->mean_unknown);
        BSON_APPEND_DOCUMENT_BEGIN(&row, "hosts_off_s", &hosts);
        for (size_t h = 0; h < x->n_hosts; h++)
            BSON_APPEND_DOUBLE(&hosts, r->off_hosts[h], (double)x->off_ms[i * x->n_hosts + h] / 1000);
        bson_append_document_end(&row, &hosts);
        bson_append_document_end(&arr, &row);
    }
    bson_append_array_end(&e, &arr);
    bson_append_document_end(b, &e);
}

static void print_json(FILE *f, const struct rep_opts *o, const struct report *r)
{
    bson_t *b = bson_new();
    char t[64];
    if (o->cluster)
        BSON_APPEND_UTF8(b, "cluster", o->cluster);
    else
        BSON_APPEND_NULL(b, "cluster");
    fmt_iso(o->since_ms, t, sizeof t);
    BSON_APPEND_UTF8(b, "since", t);
    fmt_iso(o->until_ms, t, sizeof t);
    BSON_APPEND_UTF8(b, "until", t);
    BSON_APPEND_UTF8(b, "per", o->by_day ? "day" : "hour");
    bson_t e, arr, row, hosts;
    BSON_APPEND_DOCUMENT_BEGIN(b, "energy", &e);
    BSON_APPEND_ARRAY_BEGIN(&e, "buckets", &arr);
    for (size_t i = 0; i < r->n_buckets; i++) {
        char k[24];
        const char *key;
        bson_uint32_to_string((uint32_t)i, &key, k, sizeof k);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &row);
        fmt_iso(r->buckets[i], t, sizeof t);
        BSON_APPEND_UTF8(&row, "t", t);
        BSON_APPEND_DOCUMENT_BEGIN(&row, "hosts_kwh", &hosts);
        for (size_t h = 0; h < r->n_hosts; h++)
            BSON_APPEND_DOUBLE(&hosts, r->hosts[h].name, cell(r, r->buckets[i], h));
        bson_append_document_end(&row, &hosts);
        BSON_APPEND_DOUBLE(&row, "total_kwh", bucket_total(r, r->buckets[i]));
        bson_append_document_end(&arr, &row);
    }
    bson_append_array_end(&e, &arr);
    BSON_APPEND_DOCUMENT_BEGIN(&e, "hosts_kwh", &hosts);
    for (size_t h = 0; h < r->n_hosts; h++)
        BSON_APPEND_DOUBLE(&hosts, r->hosts[h].name, r->hosts[h].kwh);
    bson_append_document_end(&e, &hosts);
    BSON_APPEND_DOUBLE(&e, "total_kwh", r->total_kwh);
    bson_append_document_end(b, &e);

    BSON_APPEND_DOCUMENT_BEGIN(b, "savings", &e);
    BSON_APPEND_DOUBLE(&e, "kwh", r->savings_kwh);
    BSON_APPEND_DOUBLE(&e, "pct", savings_pct(r));
    BSON_APPEND_DOUBLE(&e, "all_on_kwh", r->total_kwh + r->savings_kwh);
    BSON_APPEND_UTF8(&e, "idle_watts_from", "power model (hosts.idle_w)");
    BSON_APPEND_DOCUMENT_BEGIN(&e, "hosts_kwh", &hosts);
    for (size_t h = 0; h < r->n_hosts; h++)
        BSON_APPEND_DOUBLE(&hosts, r->hosts[h].name, r->hosts[h].savings_kwh);
    bson_append_document_end(&e, &hosts);
    bson_append_document_end(b, &e);

    json_hosts_off(b, r);

    BSON_APPEND_DOCUMENT_BEGIN(b, "migrations", &e);
    BSON_APPEND_INT32(&e, "count", (int32_t)r->mig_count);
    BSON_APPEND_INT32(&e, "ok", (int32_t)r->mig_ok);
    BSON_APPEND_INT32(&e, "failed", (int32_t)r->mig_failed);
    BSON_APPEND_INT32(&e, "aborted", (int32_t)r->mig_aborted);
    json_num(&e, "p50_s", percentile(r->mig_dur, r->n_mig_dur, 50));
    json_num(&e, "p95_s", percentile(r->mig_dur, r->n_mig_dur, 95));
    json_num(&e, "max_s", r->n_mig_dur ? r->mig_dur[r->n_mig_dur - 1] : NAN);
    bson_append_document_end(b, &e);

    BSON_APPEND_DOCUMENT_BEGIN(b, "power_actions", &e);
    BSON_APPEND_INT32(&e, "count", (int32_t)r->pa_count);
    BSON_APPEND_INT32(&e, "on", (int32_t)r->pa_on);
    BSON_APPEND_INT32(&e, "off", (int32_t)r->pa_off);
    BSON_APPEND_INT32(&e, "failed", (int32_t)r->pa_failed);
    json_num(&e, "p50_s", percentile(r->pa_dur, r->n_pa_dur, 50));
    json_num(&e, "p95_s", percentile(r->pa_dur, r->n_pa_dur, 95));
    json_num(&e, "max_s", r->n_pa_dur ? r->pa_dur[r->n_pa_dur - 1] : NAN);
    bson_append_document_end(b, &e);

    BSON_APPEND_DOCUMENT_BEGIN(b, "hosts", &e);
    for (size_t h = 0; h < r->n_hosts; h++) {
        const struct rep_host *x = &r->hosts[h];
        BSON_APPEND_DOCUMENT_BEGIN(&e, x->name, &row);
        BSON_APPEND_INT32(&row, "mig_out", (int32_t)x->mig_out);
        BSON_APPEND_INT32(&row, "mig_in", (int32_t)x->mig_in);
        BSON_APPEND_INT32(&row, "mig_failed", (int32_t)x->mig_failed);
        BSON_APPEND_INT32(&row, "pwr_on", (int32_t)x->pa_on);
        BSON_APPEND_INT32(&row, "pwr_off", (int32_t)x->pa_off);
        BSON_APPEND_INT32(&row, "pwr_failed", (int32_t)x->pa_failed);
        bson_append_document_end(&e, &row);
    }
    bson_append_document_end(b, &e);

    BSON_APPEND_DOCUMENT_BEGIN(b, "events", &e);
    for (size_t i = 0; i < r->n_events; i++)
        BSON_APPEND_INT64(&e, r->events[i].key, r->events[i].n);
    bson_append_document_end(b, &e);

    BSON_APPEND_DOCUMENT_BEGIN(b, "skipped", &e);
    BSON_APPEND_INT64(&e, "power_samples", r->skipped_power);
    BSON_APPEND_INT64(&e, "hosts", r->skipped_hosts);
    BSON_APPEND_INT64(&e, "migrations", r->skipped_migrations);
    BSON_APPEND_INT64(&e, "power_actions", r->skipped_actions);
    BSON_APPEND_INT64(&e, "events", r->skipped_events);
    BSON_APPEND_INT64(&e, "host_samples", r->skipped_host_samples);
    bson_append_document_end(b, &e);

    char *j = bson_as_relaxed_extended_json(b, NULL);
    fprintf(f, "%s\n", j);
    bson_free(j);
    bson_destroy(b);
}

/* Step line of a hosts-off series over [from, to) of each bucket; y(v) within the panel. */
static void svg_steps(FILE *f, const struct rep_opts *o, const struct hosts_off *x, bool unknown,
                      double L, double plot_w, double top, double bottom, double vmax)
{
    double span = (double)(o->until_ms - o->since_ms);
    fprintf(f, "<path class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%d\"%s d=\"",
            unknown ? "hosts-unknown" : "hosts-off", unknown ? "#7f7f7f" : "#d62728",
            unknown ? 1 : 2, unknown ? " stroke-dasharray=\"3 2\"" : "");
    for (size_t i = 0; i < x->n_buckets; i++) {
        const struct hosts_off_bucket *b = &x->buckets[i];
        double v = unknown ? b->mean_unknown : b->mean_off;
        double y = bottom - (bottom - top) * v / vmax;
        double x0 = L + plot_w * (double)(b->from_ms - o->since_ms) / span;
        double x1 = L + plot_w * (double)(b->to_ms - o->since_ms) / span;
        fprintf(f, "%s%.1f,%.1f H%.1f", i ? " L" : "M", x0, y, x1);
    }
    fprintf(f, "\"/>\n");
}

/* Below the energy: the hosts-off panel, mean hosts off per bucket (red steps) and, if any
 * time is unknown, the mean hosts unknown (grey dashes); y from 0 to the number of hosts. */
static void svg_hosts_off(FILE *f, const struct rep_opts *o, const struct report *r, double L,
                          double plot_w, double top, double bottom)
{
    const struct hosts_off *x = &r->off;
    double vmax = x->n_hosts ? (double)x->n_hosts : 1;
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">Hosts off (mean per %s) of %zu</text>\n", L,
            top - 8, o->by_day ? "day" : "hour", x->n_hosts);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L,
            bottom, L + plot_w, bottom);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L, top,
            L, bottom);
    for (int k = 0; k <= 2; k++)
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", L - 5,
                bottom - (bottom - top) * k / 2.0 + 4, vmax * k / 2.0);
    bool any_unknown = false;
    for (size_t i = 0; i < x->n_buckets; i++)
        any_unknown = any_unknown || x->buckets[i].mean_unknown > 0;
    svg_steps(f, o, x, false, L, plot_w, top, bottom, vmax);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#d62728\">hosts off</text>\n", L + plot_w + 10,
            top + 12);
    if (any_unknown) {
        svg_steps(f, o, x, true, L, plot_w, top, bottom, vmax);
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#7f7f7f\">unknown</text>\n", L + plot_w + 10,
                top + 28);
    }
}

/* Energy per bucket (one line per host and the total) with power-off (red) and power-on
 * (green) marks at the time each action started; below it the hosts-off panel. */
#define SVG_MARK_LABEL_W 60.0 /* px: about "node01 off" at font-size 10 */

/* s as XML character data (host and cluster names are the operator's: "rack&1" must not
 * break the SVG); truncated to fit buf */
static const char *xml_text(const char *s, char *buf, size_t n)
{
    size_t k = 0;
    for (; *s; s++) {
        const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
                      : *s == '"' ? "&quot;" : NULL;
        size_t len = e ? strlen(e) : 1;
        if (k + len + 1 > n)
            break;
        memcpy(buf + k, e ? e : s, len);
        k += len;
    }
    buf[k] = '\0';
    return buf;
}

static int write_svg(const char *path, const struct rep_opts *o, const struct report *r)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    /* energy panel T..H-B, hosts-off panel PT..PB, time labels under both */
    const double W = 900, H = 600, L = 70, R = 150, T = 40, B = 230, PT = 430, PB = 560;
    double span = (double)(o->until_ms - o->since_ms);
    double ymax = 0;
    for (size_t i = 0; i < r->n_buckets; i++)
        ymax = fmax(ymax, bucket_total(r, r->buckets[i]));
    if (ymax <= 0)
        ymax = 1;
    static const char *const colours[] = { "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                                           "#17becf", "#bcbd22", "#7f7f7f" };
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    char esc[256];
    fprintf(f, "<title>joule energy per %s (kWh), cluster %s</title>\n", o->by_day ? "day" : "hour",
            o->cluster ? xml_text(o->cluster, esc, sizeof esc) : "(all)");
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"20\">Energy per %s (kWh)</text>\n", L,
            o->by_day ? "day" : "hour");
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L,
            H - B, W - R, H - B);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L, T,
            L, H - B);
    for (int k = 0; k <= 4; k++) {
        double y = H - B - (H - T - B) * k / 4.0;
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.3f</text>\n", L - 5, y + 4,
                ymax * k / 4.0);
    }
    char a[64];
    for (int k = 0; k < 2; k++) {
        double y = (k ? PB : H - B) + 18;
        fmt_iso(o->since_ms, a, sizeof a);
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n", L, y, a);
        fmt_iso(o->until_ms, a, sizeof a);
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n", W - R, y, a);
    }
#define X(ms) (L + (W - L - R) * (double)((ms) - o->since_ms) / span)
#define Y(v) (H - B - (H - T - B) * (v) / ymax)
    for (size_t h = 0; h <= r->n_hosts; h++) {
        bool total = h == r->n_hosts;
        const char *colour = total ? "black" : colours[h % (sizeof colours / sizeof colours[0])];
        fprintf(f, "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%d\" "
                   "points=\"",
                total ? "total" : "host", colour, total ? 2 : 1);
        for (size_t i = 0; i < r->n_buckets; i++) {
            double v = total ? bucket_total(r, r->buckets[i]) : cell(r, r->buckets[i], h);
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", X(r->buckets[i]), Y(v));
        }
        fprintf(f, "\"/>\n");
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%s</text>\n", W - R + 10,
                T + 16.0 * (double)h, colour,
                total ? "total" : xml_text(r->hosts[h].name, esc, sizeof esc));
    }
    for (size_t i = 0; i < r->n_marks; i++) {
        const struct rep_mark *m = &r->marks[i];
        /* through both panels, not across the time labels between them; the tooltip names it */
        fmt_iso(m->t_ms, a, sizeof a);
        fprintf(f, "<path class=\"power-%s\" d=\"M%.1f,%.0f V%.0f M%.1f,%.0f V%.0f\" "
                   "stroke=\"%s\" stroke-dasharray=\"4 3\"%s><title>%s %s%s %s</title></path>\n",
                m->on ? "on" : "off", X(m->t_ms), T, H - B, X(m->t_ms), PT, PB,
                m->on ? "green" : "red", m->ok ? "" : " opacity=\"0.4\"",
                xml_text(r->hosts[m->host].name, esc, sizeof esc),
                m->on ? "on" : "off", m->ok ? "" : " (failed)", a);
    }
    /* one label per run of same-kind marks closer than a label is wide (several hosts switched
     * within minutes would print over each other), staggered over three rows */
    for (size_t i = 0, row = 0; i < r->n_marks; row++) {
        const struct rep_mark *m = &r->marks[i];
        size_t j = i + 1;
        while (j < r->n_marks && r->marks[j].on == m->on &&
               X(r->marks[j].t_ms) - X(m->t_ms) < SVG_MARK_LABEL_W)
            j++;
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" fill=\"%s\" font-size=\"10\">", X(m->t_ms) + 2,
                T + 10 + 12.0 * (double)(row % 3), m->on ? "green" : "red");
        if (j - i == 1)
            fprintf(f, "%s %s</text>\n", xml_text(r->hosts[m->host].name, esc, sizeof esc),
                    m->on ? "on" : "off");
        else
            fprintf(f, "%zu hosts %s</text>\n", j - i, m->on ? "on" : "off");
        i = j;
    }
#undef X
#undef Y
    svg_hosts_off(f, o, r, L, W - L - R, PT, PB);
    fprintf(f, "</svg>\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- command */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: joulectl report [--config FILE] [--uri URI] [--database DB]\n"
            "                       [--cluster NAME | --all-clusters] [--since T] [--until T]\n"
            "                       [--per hour|day] [--csv | --json] [--svg FILE]\n"
            "Energy (kWh) per host and in total per hour or day, savings versus keeping every\n"
            "host on, hosts off per hour or day, migrations (count, p50/p95/max duration,\n"
            "failures), power actions (count, time to verified state), events, from MongoDB.\n"
            "T is 2026-11-27, 2026-11-27T08:00Z, now, or -24h / -7d / -30m; default: the last\n"
            "24 hours. The URI comes from --uri, JOULE_MONGODB_URI, the config's store.uri, in\n"
            "that order. Documents lacking fields the report needs are skipped and counted.\n"
            "Hosts off come from the power state stored each tick (host_samples.state; off and\n"
            "powering_off count as off): per hour/day the time-weighted mean number of hosts\n"
            "off, the number off all of it, and the mean number unknown (no sample within two\n"
            "ticks, at most 600 s, or state unknown; never counted as off). --json: \"hosts_off\"\n"
            "{hosts, interval_s, hold_s, buckets: [{t, seconds, mean_off, off_whole,\n"
            "mean_unknown, hosts_off_s: {host: seconds off}}]}.\n"
            "example: joulectl report --config /etc/joule/jouled.conf --since -7d --per day\n");
}

int cmd_report(int argc, char **argv)
{
    struct rep_opts o = { 0 };
    const char *config_path = NULL, *since = NULL, *until = NULL;
    bool all_clusters = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dest = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return JOULECTL_EXIT_OK;
        } else if (strcmp(a, "--csv") == 0) {
            o.format = REP_CSV;
        } else if (strcmp(a, "--json") == 0) {
            o.format = REP_JSON;
        } else if (strcmp(a, "--all-clusters") == 0) {
            all_clusters = true;
        } else if (strcmp(a, "--config") == 0) {
            dest = &config_path;
        } else if (strcmp(a, "--uri") == 0) {
            dest = &o.uri;
        } else if (strcmp(a, "--database") == 0) {
            dest = &o.database;
        } else if (strcmp(a, "--cluster") == 0) {
            dest = &o.cluster;
        } else if (strcmp(a, "--since") == 0) {
            dest = &since;
        } else if (strcmp(a, "--until") == 0) {
            dest = &until;
        } else if (strcmp(a, "--svg") == 0) {
            dest = &o.svg;
        } else if (strcmp(a, "--per") == 0) {
            if (i + 1 >= argc || (strcmp(argv[i + 1], "hour") != 0 && strcmp(argv[i + 1], "day") != 0)) {
                fprintf(stderr, "joulectl report: --per takes hour or day\n");
                return JOULECTL_EXIT_USAGE;
            }
            o.by_day = strcmp(argv[++i], "day") == 0;
        } else {
            fprintf(stderr, "joulectl report: unknown argument \"%s\"\n", a);
            usage(stderr);
            return JOULECTL_EXIT_USAGE;
        }
        if (dest) {
            if (i + 1 >= argc) {
                fprintf(stderr, "joulectl report: %s needs a value\n", a);
                return JOULECTL_EXIT_USAGE;
            }
            *dest = argv[++i];
        }
    }
    struct config *cfg = NULL;
    if (config_path) {
        char *errors = NULL;
        if (config_load(config_path, &cfg, &errors) < 0) {
            fputs(errors, stderr);
            free(errors);
            return JOULECTL_EXIT_CONFIG;
        }
    }
    if (!o.uri)
        o.uri = store_mongo_uri(cfg ? cfg->store.uri : NULL);
    if (!o.uri)
        o.uri = "mongodb://127.0.0.1:27017/";
    if (!o.database)
        o.database = cfg ? cfg->store.database : "joule";
    if (!o.cluster && !all_clusters && cfg)
        o.cluster = cfg->cluster;
    if (all_clusters)
        o.cluster = NULL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    o.until_ms = now_ms;
    int rc = JOULECTL_EXIT_OK;
    if (until && parse_time(until, now_ms, &o.until_ms) < 0) {
        fprintf(stderr, "joulectl report: --until \"%s\" is not a time (2026-11-27, "
                        "2026-11-27T08:00Z, now, -24h)\n", until);
        rc = JOULECTL_EXIT_USAGE;
        goto out_cfg;
    }
    o.since_ms = o.until_ms - DEFAULT_SPAN_MS;
    if (since && parse_time(since, now_ms, &o.since_ms) < 0) {
        fprintf(stderr, "joulectl report: --since \"%s\" is not a time (2026-11-27, "
                        "2026-11-27T08:00Z, now, -24h)\n", since);
        rc = JOULECTL_EXIT_USAGE;
        goto out_cfg;
    }
    if (o.since_ms >= o.until_ms) {
        fprintf(stderr, "joulectl report: --since must be before --until\n");
        rc = JOULECTL_EXIT_USAGE;
        goto out_cfg;
    }
    int64_t bucket_ms = o.by_day ? MS_PER_DAY : MS_PER_HOUR;
    if ((o.until_ms - o.since_ms) / bucket_ms >= HOSTS_OFF_MAX_BUCKETS - 1) {
        fprintf(stderr, "joulectl report: --since .. --until spans more than %d %ss (the hosts "
                        "off section has one row each); shorten it or use --per day\n",
                HOSTS_OFF_MAX_BUCKETS - 2, o.by_day ? "day" : "hour");
        rc = JOULECTL_EXIT_USAGE;
        goto out_cfg;
    }

    mongoc_init();
    bson_error_t be;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(o.uri, &be);
    if (!uri) {
        fprintf(stderr, "joulectl report: uri: %s\n", be.message);
        rc = JOULECTL_EXIT_USAGE;
        goto out_init;
    }
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
    mongoc_uri_set_appname(uri, "joulectl");
    struct rep_ctx c = { .o = &o };
    c.client = mongoc_client_new_from_uri(uri);
    mongoc_uri_destroy(uri);
    if (!c.client) {
        fprintf(stderr, "joulectl report: cannot create a client for %s\n", o.uri);
        rc = JOULECTL_EXIT_FAIL;
        goto out_init;
    }
    mongoc_client_set_error_api(c.client, MONGOC_ERROR_API_VERSION_2);
    struct report r = { 0 };
    static const struct {
        const char *what;
        int (*fn)(struct rep_ctx *, struct report *);
    } steps[] = { { "energy", query_energy },           { "hosts", query_hosts },
                  { "savings", query_savings },         { "migrations", query_migrations },
                  { "power actions", query_power_actions }, { "events", query_events },
                  { "hosts off", query_host_states } };
    bool progress = isatty(STDERR_FILENO);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (progress)
            fprintf(stderr, "\rreport: %s...", steps[i].what);
        if (steps[i].fn(&c, &r) < 0) {
            fprintf(stderr, "%sjoulectl report: %s\n", progress ? "\n" : "", c.err);
            rc = JOULECTL_EXIT_FAIL;
            goto out_report;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (progress)
            fprintf(stderr, " %.1f s\n", (double)(t1.tv_sec - t0.tv_sec) +
                                             (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    }
    /* hosts in name order in every format; marks and cells follow their host */
    size_t *map = xcalloc(r.n_hosts ? r.n_hosts : 1, sizeof *map);
    char **names = xcalloc(r.n_hosts ? r.n_hosts : 1, sizeof *names);
    char **sorted = xcalloc(r.n_hosts ? r.n_hosts : 1, sizeof *sorted);
    for (size_t h = 0; h < r.n_hosts; h++)
        names[h] = r.hosts[h].name;
    sort(r.hosts, r.n_hosts, sizeof *r.hosts, cmp_host_name);
    for (size_t h = 0; h < r.n_hosts; h++)
        sorted[h] = r.hosts[h].name;
    sorted_map(names, sorted, r.n_hosts, map);
    for (size_t i = 0; i < r.n_cells; i++)
        r.cells[i].host = (int)map[r.cells[i].host];
    for (size_t i = 0; i < r.n_marks; i++)
        r.marks[i].host = (int)map[r.marks[i].host];
    free(map);
    free(names);
    free(sorted);
    if (compute_hosts_off(&c, &r) < 0) {
        fprintf(stderr, "joulectl report: %s\n", c.err);
        rc = JOULECTL_EXIT_FAIL;
        goto out_report;
    }
    for (size_t h = 0; h < r.n_hosts + r.n_off_hosts; h++) {
        const char *name = h < r.n_hosts ? r.hosts[h].name : r.off_hosts[h - r.n_hosts];
        if (strchr(name, ',') && o.format == REP_CSV) {
            fprintf(stderr, "joulectl report: host name \"%s\" has a comma; use --json\n", name);
            rc = JOULECTL_EXIT_FAIL;
            goto out_report;
        }
    }
    if (o.format == REP_CSV)
        print_csv(stdout, &r);
    else if (o.format == REP_JSON)
        print_json(stdout, &o, &r);
    else
        print_table(stdout, &o, &r);
    if (o.svg && write_svg(o.svg, &o, &r) < 0) {
        fprintf(stderr, "joulectl report: %s: %s\n", o.svg, strerror(errno));
        rc = JOULECTL_EXIT_FAIL;
    }
 out_report:
    report_free(&r);
    mongoc_client_destroy(c.client);
 out_init:
    mongoc_cleanup();
 out_cfg:
    config_free(cfg);
    return rc;
}

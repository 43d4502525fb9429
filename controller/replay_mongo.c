#include "replay_mongo.h"

#include <bson/bson.h>
#include <math.h>
#include <mongoc/mongoc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "util/xalloc.h"

int replay_parse_time(const char *text, double *out_s)
{
    struct tm tm = { 0 };
    char *end = NULL;
    double v = strtod(text, &end);
    if (end && end != text && *end == 0) {
        *out_s = v;
        return 0;
    }
    end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || (*end && strcmp(end, "Z") != 0))
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out_s = (double)t;
    return 0;
}

struct mvm {
    char *key;
    char *name;
    int host;
    double vcpus;
    double mem;
    double *sum;  /* per bucket: sum and count of CPU samples (cores) */
    unsigned *cnt;
};

static const char *doc_str(const bson_t *d, const char *k)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, d, k) && BSON_ITER_HOLDS_UTF8(&it))
        return bson_iter_utf8(&it, NULL);
    return NULL;
}

static bool doc_num(const bson_t *d, const char *k, double *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, d, k) || !BSON_ITER_HOLDS_NUMBER(&it))
        return false;
    *out = bson_iter_as_double(&it);
    return true;
}

int replay_load_mongo(const struct replay_mongo_query *q, const struct config *cfg,
                      struct replay_workload **out, struct joule_err *err)
{
    if (q->interval_s <= 0 || q->to_s <= q->from_s)
        return joule_err_set(err, JOULE_EINVAL, "mongo replay: empty time range");
    size_t nb = (size_t)ceil((q->to_s - q->from_s) / q->interval_s);
    const char *db = q->database ? q->database
                     : cfg->store.database ? cfg->store.database : "joule";
    const char *cluster = q->cluster ? q->cluster : cfg->cluster;
    mongoc_init(); /* once per process (pthread_once); the process owns mongoc_cleanup */
    bson_error_t berr;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(q->uri, &berr);
    if (!uri) {
        return joule_err_set(err, JOULE_EINVAL, "mongo replay: %s: %s", q->uri, berr.message);
    }
    mongoc_client_t *client = mongoc_client_new_from_uri(uri);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, db, "vm_samples");
    bson_t *filter = BCON_NEW("cluster", BCON_UTF8(cluster), "t", "{",
                              "$gte", BCON_DATE_TIME((int64_t)(q->from_s * 1000)),
                              "$lt", BCON_DATE_TIME((int64_t)(q->to_s * 1000)), "}");
    bson_t *opts = BCON_NEW("sort", "{", "t", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    struct mvm *vms = NULL;
    size_t n = 0, cap = 0;
    const bson_t *d;
    int rc = 0;
    size_t docs = 0;
    while (!rc && mongoc_cursor_next(cur, &d)) {
        docs++;
        const char *key = doc_str(d, "vm");
        const char *name = doc_str(d, "name");
        const char *host = doc_str(d, "host");
        double cpu, vcpus = 0, mem = 0;
        bson_iter_t it;
        if (!key)
            key = name;
        /* schemas/vm_samples.json: cpu_instant_cores (what the tick saw), cpu_cores (smoothed);
         * "cpu" is accepted for older documents. */
        bool has_cpu = doc_num(d, "cpu_instant_cores", &cpu) || doc_num(d, "cpu_cores", &cpu) ||
                       doc_num(d, "cpu", &cpu);
        if (!key || !host || !has_cpu || !doc_num(d, "vcpus", &vcpus) ||
            !bson_iter_init_find(&it, d, "t") || !BSON_ITER_HOLDS_DATE_TIME(&it) || vcpus <= 0 ||
            !(cpu >= 0)) {
            rc = joule_err_set(err, JOULE_EINVAL,
                               "mongo replay: %s.vm_samples document %zu lacks vm/name, host, t "
                               "(date), cpu_instant_cores/cpu_cores >= 0 or vcpus > 0", db, docs);
            break;
        }
        if (!doc_num(d, "mem_mib", &mem))
            doc_num(d, "mem", &mem);
        double t = (double)bson_iter_date_time(&it) / 1000.0;
        size_t b = (size_t)floor((t - q->from_s) / q->interval_s);
        if (b >= nb)
            b = nb - 1;
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(vms[i].key, key) == 0)
                break;
        if (i == n) {
            int h = config_host_index(cfg, host);
            if (h < 0) {
                rc = joule_err_set(err, JOULE_EINVAL,
                                   "mongo replay: VM %s is on host \"%s\", which is not in the "
                                   "configuration", key, host);
                break;
            }
            xgrow((void **)&vms, &cap, n + 1, sizeof *vms);
            vms[n] = (struct mvm){ xstrdup(key), xstrdup(name ? name : key), h, vcpus, mem,
                                   xcalloc(nb, sizeof(double)), xcalloc(nb, sizeof(unsigned)) };
            n++;
        }
        vms[i].sum[b] += cpu;
        vms[i].cnt[b]++;
        if (vcpus > vms[i].vcpus)
            vms[i].vcpus = vcpus;
        if (mem > vms[i].mem)
            vms[i].mem = mem;
    }
    if (!rc && mongoc_cursor_error(cur, &berr))
        rc = joule_err_set(err, JOULE_EIO, "mongo replay: %s: %s", q->uri, berr.message);
    if (!rc && n == 0)
        rc = joule_err_set(err, JOULE_EINVAL, "mongo replay: no vm_samples for cluster \"%s\" "
                           "in the time range", cluster);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(client);
    mongoc_uri_destroy(uri);
    if (!rc) {
        struct replay_workload *w = replay_workload_new(n, nb, q->interval_s);
        for (size_t i = 0; i < n; i++) {
            struct replay_vm *v = &w->vms[i];
            v->name = vms[i].name;
            vms[i].name = NULL;
            v->mips = vms[i].vcpus;
            v->ram_mib = vms[i].mem;
            v->initial_host = vms[i].host;
            double prev = 0;
            for (size_t k = 0; k < nb; k++) {
                if (vms[i].cnt[k])
                    prev = vms[i].sum[k] / vms[i].cnt[k];
                double u = prev / vms[i].vcpus;
                v->util[k] = u < 0 ? 0 : u > 1 ? 1 : u;
            }
            v->util[nb] = v->util[nb - 1];
        }
        *out = w;
    }
    for (size_t i = 0; i < n; i++) {
        free(vms[i].key);
        free(vms[i].name);
        free(vms[i].sum);
        free(vms[i].cnt);
    }
    free(vms);
    return rc;
}

/* store/mongo.c - the MongoDB store (libmongoc client pool).
 *
 * - At open: creates every collection of schemas/ with its $jsonSchema validator where the server
 *   takes one (collMod when it exists; without a validator when the server refuses it) and its
 *   indexes. Done again after an outage if the server was down at open.
 * - insert: one unordered bulk insert per call (the controller makes one call per collection per
 *   tick). Documents carry deterministic _ids: a duplicate key is not an error.
 * - Outage: short server-selection/connect/socket timeouts derived from the tick; a transient
 *   failure marks the server down and every write goes to the spool, an append-only fsync'd file
 *   of BSON records { c: collection, d: document [, s: selector] } capped at spool_max_bytes.
 *   While down, the server is retried with exponential back-off (1 s .. 8 s); when it answers
 *   the spool is replayed in file order, in bounded slices per call (half a tick), before any
 *   new write goes to the server, so order is kept and the loop is never held up for long.
 * - Documents the server rejects (not duplicates, not transient: e.g. a validator failure) are
 *   kept in <spool_path>.rejected and reported as an error, never retried forever.
 * - lease: epochs. The latest lease document of a cluster says who holds it until when; taking
 *   it over (when expired) or renewing it inserts the next epoch, and the unique _id lets
 *   exactly one contender in. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include "driver.h"
#include "store/mongo.h"
#include "store/schemas.h"
#include "util/log.h"
#include "util/xalloc.h"

#define LOG_MODULE "store"

#define MS_PER_S 1000
#define SELECT_TIMEOUT_MIN_MS 200
#define SELECT_TIMEOUT_MAX_MS 2000
#define SOCKET_TIMEOUT_MIN_MS 1000
#define BACKOFF_MIN_NS (1LL * JOULE_NS_PER_S)
#define BACKOFF_MAX_NS (8LL * JOULE_NS_PER_S)
#define REPLAY_BATCH_DOCS 1000
#define EXPIRE_BATCH_DOCS 1000
#define SPOOL_RECORD_MAX (16 * 1024 * 1024 + 4096) /* a 16 MiB document and its wrapper */
#define MONGO_DUPLICATE_KEY 11000
#define MONGO_NAMESPACE_EXISTS 48
#define MONGO_MAX_DOC_BYTES (16u * 1024 * 1024)

struct store_mongo {
    char *uri_text;
    char *database;
    char *cluster;
    mongoc_uri_t *uri;
    mongoc_client_pool_t *pool;
    int64_t tick_ns;
    bool setup_done;

    bool down;
    int64_t retry_at_ns;       /* monotonic */
    int64_t backoff_ns;
    struct log_complaint outage;
    struct log_complaint full;
    struct log_complaint reject; /* a spool record that cannot be read */

    char *spool_path;
    char *rejected_path;
    int spool_fd;
    int64_t spool_max_bytes;
    int64_t spool_bytes;       /* file size */
    int64_t replay_off;        /* records before this offset were replayed */
    size_t spool_docs;         /* records at or after replay_off */

    struct store_mongo_stats st;
};

static pthread_once_t mongoc_once = PTHREAD_ONCE_INIT;

/* libmongoc's own messages into our log: its errors as warnings (the store reports what they
 * mean), the rest at debug (e.g. FerretDB's missing endSessions at every client's end). */
static void store_mongoc_log(mongoc_log_level_t level, const char *domain, const char *message,
                       void *arg)
{
    (void)arg;
    enum log_level l = LOG_LEVEL_DEBUG;
    if (level == MONGOC_LOG_LEVEL_ERROR || level == MONGOC_LOG_LEVEL_CRITICAL)
        l = LOG_LEVEL_WARN;
    else if (level == MONGOC_LOG_LEVEL_TRACE)
        return;
    if (log_enabled(l, "mongoc"))
        log_write(l, "mongoc", __FILE__, __LINE__, "event=mongoc domain=%s msg=\"%s\"", domain,
                  message);
}

static void mongoc_init_once(void)
{
    mongoc_log_set_handler(store_mongoc_log, NULL);
    mongoc_init();
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * JOULE_NS_PER_S + ts.tv_nsec;
}

const char *store_mongo_uri(const char *configured)
{
    const char *env = getenv("JOULE_MONGODB_URI");
    return env && *env ? env : configured;
}

/* An outage worth spooling for: no server, a broken or timed-out connection, authentication
 * (the data waits until the credentials are fixed), a write concern not met, or a server that
 * is shutting down or stepping down. Anything else is about the request itself and retrying
 * it would fail the same way. */
static bool is_transient(const bson_error_t *e)
{
    if (e->domain == MONGOC_ERROR_STREAM || e->domain == MONGOC_ERROR_SERVER_SELECTION ||
        e->domain == MONGOC_ERROR_CLIENT || e->domain == MONGOC_ERROR_WRITE_CONCERN ||
        e->domain == MONGOC_ERROR_PROTOCOL)
        return true;
    if (e->domain != MONGOC_ERROR_SERVER)
        return false;
    switch (e->code) {
    case 6:     /* HostUnreachable */
    case 7:     /* HostNotFound */
    case 89:    /* NetworkTimeout */
    case 91:    /* ShutdownInProgress */
    case 189:   /* PrimarySteppedDown */
    case 10107: /* NotWritablePrimary */
    case 11600: /* InterruptedAtShutdown */
    case 11602: /* InterruptedDueToReplStateChange */
    case 13435: /* NotPrimaryNoSecondaryOk */
        return true;
    default:
        return false;
    }
}

/* The server is unreachable: writes go to the spool until the next retry (after a back-off).
 * `err` says why (logged once per outage). */
static void mark_down_err(struct store_mongo *s, const struct joule_err *err)
{
    s->down = true;
    s->st.connected = false;
    if (log_complain(&s->outage))
        JLOG_WARN("event=store_outage database=%s error=\"%s\" spool=%s", s->database,
                  err ? err->msg : "unreachable", s->spool_path);
    s->retry_at_ns = mono_ns() + s->backoff_ns;
    s->backoff_ns = s->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : s->backoff_ns * 2;
}

static void mark_up(struct store_mongo *s)
{
    s->down = false;
    s->st.connected = true;
    s->backoff_ns = BACKOFF_MIN_NS;
    unsigned long n = log_release(&s->outage);
    if (n)
        JLOG_NOTICE("event=store_back database=%s failures=%lu spool_docs=%zu", s->database, n,
                    s->spool_docs);
}

/* ---------------------------------------------------------------- create / destroy */

static int32_t clamp32(int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return (int32_t)v;
}

static int mongo_create(const struct config *cfg, const struct drv_env *env, void **state,
                        struct joule_err *err)
{
    (void)env;
    pthread_once(&mongoc_once, mongoc_init_once);
    const char *text = store_mongo_uri(cfg->store.uri);
    if (!text || strncmp(text, "mongodb", 7) != 0)
        return joule_err_set(err, JOULE_ECONFIG, "uri \"%s\" is not a mongodb:// URI",
                             text ? text : "");
    if (!cfg->store.spool_path || !*cfg->store.spool_path)
        return joule_err_set(err, JOULE_ECONFIG, "store.spool_path is empty");
    bson_error_t be;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(text, &be);
    if (!uri)
        return joule_err_set(err, JOULE_ECONFIG, "uri: %s", be.message);
    int64_t tick_ms = cfg->tick_ns / JOULE_NS_PER_MS;
    int32_t select_ms = clamp32(tick_ms / 5, SELECT_TIMEOUT_MIN_MS, SELECT_TIMEOUT_MAX_MS);
    int32_t socket_ms = clamp32(tick_ms / 2, SOCKET_TIMEOUT_MIN_MS, INT32_MAX);
    /* what the URI says wins; otherwise never wait longer than a fraction of a tick */
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, select_ms);
    if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, select_ms);
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, socket_ms);
    if (!mongoc_uri_has_option(uri, MONGOC_URI_APPNAME))
        mongoc_uri_set_appname(uri, "jouled");
    mongoc_client_pool_t *pool = mongoc_client_pool_new_with_error(uri, &be);
    if (!pool) {
        mongoc_uri_destroy(uri);
        return joule_err_set(err, JOULE_ECONFIG, "uri: %s", be.message);
    }
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);

    struct store_mongo *s = xcalloc(1, sizeof *s);
    s->uri_text = xstrdup(text);
    s->uri = uri;
    s->pool = pool;
    s->database = xstrdup(cfg->store.database ? cfg->store.database : "joule");
    s->cluster = xstrdup(cfg->cluster ? cfg->cluster : "default");
    s->tick_ns = cfg->tick_ns > 0 ? cfg->tick_ns : 10 * JOULE_NS_PER_S;
    s->backoff_ns = BACKOFF_MIN_NS;
    s->spool_path = xstrdup(cfg->store.spool_path);
    s->rejected_path = xasprintf("%s.rejected", cfg->store.spool_path);
    s->spool_max_bytes = cfg->store.spool_max_bytes;
    s->spool_fd = -1;
    *state = s;
    return 0;
}

static void mongo_close(void *state)
{
    struct store_mongo *s = state;
    if (s->spool_fd >= 0)
        close(s->spool_fd);
    s->spool_fd = -1;
}

static void mongo_destroy(void *state)
{
    struct store_mongo *s = state;
    if (!s)
        return;
    mongo_close(s);
    mongoc_client_pool_destroy(s->pool);
    mongoc_uri_destroy(s->uri);
    free(s->uri_text);
    free(s->database);
    free(s->cluster);
    free(s->spool_path);
    free(s->rejected_path);
    free(s);
}

void store_mongo_stats(void *state, struct store_mongo_stats *out)
{
    struct store_mongo *s = state;
    *out = s->st;
    out->spool_docs = s->spool_docs;
    out->spool_bytes = s->spool_bytes;
}

/* ---------------------------------------------------------------- spool file */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_full(int fd, int64_t off, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (int)(got == n);
}

/* Reads the record at off: 1 and *rec (caller destroys) / *len, 0 at a clean end, -1 on a torn
 * or corrupt record, -2 on an I/O error. */
static int spool_read(struct store_mongo *s, int64_t off, bson_t **rec, uint32_t *len)
{
    uint8_t hdr[4];
    int r = read_full(s->spool_fd, off, hdr, sizeof hdr);
    if (r < 0)
        return -2;
    if (r == 0)
        return off == s->spool_bytes ? 0 : -1;
    uint32_t n = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
                 (uint32_t)hdr[3] << 24;
    if (n < 5 || n > SPOOL_RECORD_MAX || off + n > s->spool_bytes)
        return -1;
    uint8_t *buf = xmalloc(n);
    r = read_full(s->spool_fd, off, buf, n);
    if (r <= 0) {
        free(buf);
        return r < 0 ? -2 : -1;
    }
    bson_t *b = bson_new_from_data(buf, n);
    free(buf);
    bson_iter_t it;
    if (!b || !bson_iter_init_find(&it, b, "c") || !BSON_ITER_HOLDS_UTF8(&it) ||
        !bson_iter_init_find(&it, b, "d") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
        if (b)
            bson_destroy(b);
        return -1;
    }
    *rec = b;
    *len = n;
    return 1;
}

static int spool_open(struct store_mongo *s, struct joule_err *err)
{
    if (s->spool_fd >= 0)
        return 0;
    int fd = open(s->spool_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return joule_err_set(err, JOULE_EIO, "spool %s: %s", s->spool_path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        int e = errno;
        close(fd);
        return joule_err_set(err, JOULE_EIO, "spool %s: %s", s->spool_path, strerror(e));
    }
    s->spool_fd = fd;
    s->spool_bytes = sb.st_size;
    s->replay_off = 0;
    s->spool_docs = 0;
    int64_t off = 0;
    for (;;) {
        bson_t *rec = NULL;
        uint32_t len = 0;
        int r = spool_read(s, off, &rec, &len);
        if (r == 0)
            break;
        if (r == -2)
            return joule_err_set(err, JOULE_EIO, "spool %s: read: %s", s->spool_path,
                                 strerror(errno));
        if (r < 0) {
            /* a record whose write never finished (crash): it was never acknowledged */
            JLOG_WARN("event=spool_torn_tail spool=%s offset=%lld bytes_dropped=%lld", s->spool_path,
                      (long long)off, (long long)(s->spool_bytes - off));
            if (ftruncate(fd, (off_t)off) < 0)
                return joule_err_set(err, JOULE_EIO, "spool %s: truncate: %s", s->spool_path,
                                     strerror(errno));
            s->spool_bytes = off;
            break;
        }
        bson_destroy(rec);
        off += len;
        s->spool_docs++;
    }
    if (s->spool_docs)
        JLOG_NOTICE("event=spool_found spool=%s docs=%zu bytes=%lld", s->spool_path, s->spool_docs,
                    (long long)s->spool_bytes);
    return 0;
}

static void record_build(bson_t *rec, const char *coll, const bson_t *doc, const bson_t *sel)
{
    BSON_APPEND_UTF8(rec, "c", coll);
    if (sel)
        BSON_APPEND_DOCUMENT(rec, "s", sel);
    BSON_APPEND_DOCUMENT(rec, "d", doc);
}

/* Appends records to fd (one write of all of them, then fsync); checks the cap when max > 0. */
static int append_records(int fd, const char *path, int64_t *size, int64_t max, const char *coll,
                          const bson_t *const *docs, size_t n, const bson_t *sel, struct joule_err *err)
{
    bson_t **recs = xcalloc(n, sizeof *recs);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        recs[i] = bson_new();
        record_build(recs[i], coll, docs[i], sel);
        total += recs[i]->len;
    }
    int rc = 0;
    if (max > 0 && *size + (int64_t)total > max) {
        rc = joule_err_set(err, JOULE_ENOSPC,
                           "spool %s is full (%lld of %lld bytes): %zu document(s) of %s dropped",
                           path, (long long)*size, (long long)max, n, coll);
        goto out;
    }
    uint8_t *buf = xmalloc(total ? total : 1);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + at, bson_get_data(recs[i]), recs[i]->len);
        at += recs[i]->len;
    }
    if (write_all(fd, buf, total) < 0 || fsync(fd) < 0) {
        int e = errno;
        if (ftruncate(fd, (off_t)*size) < 0)
            e = errno;
        rc = joule_err_set(err, JOULE_EIO, "spool %s: write: %s", path, strerror(e));
    } else {
        *size += (int64_t)total;
    }
    free(buf);
 out:
    for (size_t i = 0; i < n; i++)
        bson_destroy(recs[i]);
    free(recs);
    return rc;
}

static int spool_append(struct store_mongo *s, const char *coll, const bson_t *const *docs, size_t n,
                        const bson_t *sel, struct joule_err *err)
{
    int rc = spool_open(s, err);
    if (rc < 0)
        return rc;
    rc = append_records(s->spool_fd, s->spool_path, &s->spool_bytes, s->spool_max_bytes, coll,
                        docs, n, sel, err);
    if (rc == JOULE_ENOSPC) {
        s->st.dropped += n;
        if (log_complain(&s->full))
            JLOG_ERR("event=spool_full spool=%s bytes=%lld max_bytes=%lld dropped=%llu "
                     "action=\"measurements are being lost: restore MongoDB or raise "
                     "store.spool_max_mb\"",
                     s->spool_path, (long long)s->spool_bytes, (long long)s->spool_max_bytes,
                     (unsigned long long)s->st.dropped);
        return rc;
    }
    if (rc < 0)
        return rc;
    s->spool_docs += n;
    s->st.spooled += n;
    return 0;
}

static void keep_rejected(struct store_mongo *s, const char *coll, const bson_t *doc)
{
    int fd = open(s->rejected_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        if (fd >= 0)
            close(fd);
        JLOG_ERR("event=rejected_lost path=%s collection=%s error=\"%s\"", s->rejected_path, coll,
                 strerror(errno));
        return;
    }
    int64_t size = sb.st_size;
    struct joule_err e = { 0 };
    const bson_t *one[1] = { doc };
    if (append_records(fd, s->rejected_path, &size, 0, coll, one, 1, NULL, &e) < 0)
        JLOG_ERR("event=rejected_lost path=%s collection=%s error=\"%s\"", s->rejected_path, coll,
                 e.msg);
    close(fd);
}

/* ---------------------------------------------------------------- server operations */

/* One unordered bulk insert. 0 when every document is stored (or was already); *transient
 * tells an outage (spool and retry) from a rejection (documents kept in .rejected). */
static int server_insert(struct store_mongo *s, const char *coll, const bson_t *const *docs,
                         size_t n, bool *transient, struct joule_err *err)
{
    *transient = false;
    mongoc_client_t *client = mongoc_client_pool_pop(s->pool);
    mongoc_collection_t *c = mongoc_client_get_collection(client, s->database, coll);
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "ordered", false);
    mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(c, &opts);
    bson_destroy(&opts);
    bson_error_t be;
    int rc = 0;
    /* map[k] = index in docs of the k-th document in the bulk (refused ones are left out) */
    size_t *map = xcalloc(n, sizeof *map);
    size_t queued = 0, refused = 0;
    char first[600] = "";
    for (size_t i = 0; i < n; i++) {
        if (docs[i]->len > MONGO_MAX_DOC_BYTES ||
            !mongoc_bulk_operation_insert_with_opts(bulk, docs[i], NULL, &be)) {
            if (!first[0])
                snprintf(first, sizeof first, "document %zu: %s", i,
                         docs[i]->len > MONGO_MAX_DOC_BYTES ? "larger than 16 MiB" : be.message);
            keep_rejected(s, coll, docs[i]);
            s->st.rejected++;
            refused++;
            continue;
        }
        map[queued++] = i;
    }
    if (queued == 0) {
        rc = joule_err_set(err, JOULE_EINVAL, "insert into %s: %zu document(s) refused, kept in "
                           "%s: %s", coll, refused, s->rejected_path, first);
        goto out;
    }
    bson_t reply;
    uint32_t ok = mongoc_bulk_operation_execute(bulk, &reply, &be);
    if (ok) {
        s->st.inserted += queued;
        bson_destroy(&reply);
        if (refused)
            rc = joule_err_set(err, JOULE_EINVAL, "insert into %s: %zu of %zu document(s) "
                               "refused, kept in %s: %s", coll, refused, n, s->rejected_path,
                               first);
        goto out;
    }
    bson_iter_t it, arr;
    size_t dups = 0, bad = refused;
    if (bson_iter_init_find(&it, &reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &arr)) {
        while (bson_iter_next(&arr)) {
            bson_iter_t e, f;
            if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &e))
                continue;
            int32_t code = 0, index = -1;
            const char *msg = "";
            while (bson_iter_next(&e)) {
                const char *k = bson_iter_key(&e);
                if (strcmp(k, "code") == 0 && BSON_ITER_HOLDS_NUMBER(&e))
                    code = (int32_t)bson_iter_as_int64(&e);
                else if (strcmp(k, "index") == 0 && BSON_ITER_HOLDS_NUMBER(&e))
                    index = (int32_t)bson_iter_as_int64(&e);
                else if (strcmp(k, "errmsg") == 0 && BSON_ITER_HOLDS_UTF8(&e))
                    msg = bson_iter_utf8(&e, NULL);
            }
            (void)f;
            if (code == MONGO_DUPLICATE_KEY) {
                dups++;
                continue;
            }
            bad++;
            if (!first[0])
                snprintf(first, sizeof first, "%s (code %d)", msg, code);
            if (index >= 0 && (size_t)index < queued) {
                keep_rejected(s, coll, docs[map[index]]);
                s->st.rejected++;
            }
        }
    }
    bool has_wc = bson_iter_init_find(&it, &reply, "writeConcernErrors") &&
                  BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr) &&
                  bson_iter_next(&arr);
    bson_destroy(&reply);
    if (dups + bad - refused == 0 || has_wc) {
        /* no per-document verdict: the request as a whole failed */
        *transient = is_transient(&be) || has_wc;
        if (!*transient) {
            /* refused as a whole: keep every document of the request, never retry it */
            for (size_t k = 0; k < queued; k++)
                keep_rejected(s, coll, docs[map[k]]);
            s->st.rejected += queued;
        }
        rc = joule_err_set(err, *transient ? JOULE_EUNAVAIL : JOULE_EIO,
                           "insert into %s: %s%s", coll, be.message,
                           *transient ? "" : " (documents kept in the .rejected file)");
        goto out;
    }
    s->st.duplicates += dups;
    s->st.inserted += n - bad;
    if (bad)
        rc = joule_err_set(err, JOULE_EINVAL,
                           "insert into %s: the server rejected %zu of %zu document(s), kept in "
                           "%s: %s",
                           coll, bad, n, s->rejected_path, first);
 out:
    free(map);
    mongoc_bulk_operation_destroy(bulk);
    mongoc_collection_destroy(c);
    mongoc_client_pool_push(s->pool, client);
    return rc;
}

static int server_upsert(struct store_mongo *s, const char *coll, const bson_t *sel,
                         const bson_t *doc, bool *transient, struct joule_err *err)
{
    *transient = false;
    mongoc_client_t *client = mongoc_client_pool_pop(s->pool);
    mongoc_collection_t *c = mongoc_client_get_collection(client, s->database, coll);
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "upsert", true);
    bson_error_t be;
    int rc = 0;
    if (!mongoc_collection_replace_one(c, sel, doc, &opts, NULL, &be)) {
        *transient = is_transient(&be);
        if (!*transient) {
            keep_rejected(s, coll, doc);
            s->st.rejected++;
        }
        rc = joule_err_set(err, *transient ? JOULE_EUNAVAIL : JOULE_EINVAL, "upsert into %s: %s",
                           coll, be.message);
    }
    bson_destroy(&opts);
    mongoc_collection_destroy(c);
    mongoc_client_pool_push(s->pool, client);
    return rc;
}

static int command(mongoc_database_t *db, const bson_t *cmd, bson_error_t *be)
{
    bson_t reply;
    bool ok = mongoc_database_command_simple(db, cmd, NULL, &reply, be);
    bson_destroy(&reply);
    return ok ? 0 : -1;
}

/* Collection with its validator (when the server takes it) and its indexes. */
static int setup_collection(struct store_mongo *s, mongoc_database_t *db, const char *name,
                            const char *json, bool *transient, struct joule_err *err)
{
    bson_error_t be;
    bson_t *spec = bson_new_from_json((const uint8_t *)json, -1, &be);
    if (!spec)
        return joule_err_set(err, JOULE_EINVAL, "schema %s: %s", name, be.message);
    int rc = 0;
    bson_t validator, indexes;
    bson_iter_t it;
    bool has_validator = bson_iter_init_find(&it, spec, "validator") &&
                         BSON_ITER_HOLDS_DOCUMENT(&it);
    if (has_validator) {
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&it, &len, &data);
        bson_init_static(&validator, data, len);
    }
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&cmd, "create", name);
    if (has_validator)
        BSON_APPEND_DOCUMENT(&cmd, "validator", &validator);
    bool created = command(db, &cmd, &be) == 0;
    bson_destroy(&cmd);
    bool exists = !created && be.domain == MONGOC_ERROR_SERVER && be.code == MONGO_NAMESPACE_EXISTS;
    if (created && has_validator) {
        s->st.validators++;
    } else if (exists && has_validator) {
        bson_init(&cmd);
        BSON_APPEND_UTF8(&cmd, "collMod", name);
        BSON_APPEND_DOCUMENT(&cmd, "validator", &validator);
        if (command(db, &cmd, &be) == 0)
            s->st.validators++;
        else
            JLOG_DEBUG("event=validator_not_applied collection=%s reason=\"%s\"", name, be.message);
        bson_destroy(&cmd);
    } else if (!created) {
        if (is_transient(&be)) {
            *transient = true;
            rc = joule_err_set(err, JOULE_EUNAVAIL, "create %s: %s", name, be.message);
            goto out;
        }
        JLOG_DEBUG("event=validator_not_applied collection=%s reason=\"%s\"", name, be.message);
        bson_init(&cmd);
        BSON_APPEND_UTF8(&cmd, "create", name);
        bool ok = command(db, &cmd, &be) == 0;
        bson_destroy(&cmd);
        if (!ok && !(be.domain == MONGOC_ERROR_SERVER && be.code == MONGO_NAMESPACE_EXISTS)) {
            *transient = is_transient(&be);
            rc = joule_err_set(err, *transient ? JOULE_EUNAVAIL : JOULE_EPROTO, "create %s: %s",
                               name, be.message);
            goto out;
        }
    }
    /* one createIndexes per index: FerretDB 1.24 drops the connection (a server-side panic)
     * when one command lists several indexes of which some exist already */
    bson_iter_t idx;
    if (bson_iter_init_find(&it, spec, "indexes") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &idx)) {
        while (bson_iter_next(&idx)) {
            if (!BSON_ITER_HOLDS_DOCUMENT(&idx))
                continue;
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&idx, &len, &data);
            bson_t one;
            bson_init_static(&one, data, len);
            bson_init(&cmd);
            BSON_APPEND_UTF8(&cmd, "createIndexes", name);
            bson_init(&indexes);
            BSON_APPEND_DOCUMENT(&indexes, "0", &one);
            BSON_APPEND_ARRAY(&cmd, "indexes", &indexes);
            bson_destroy(&indexes);
            bool ok = command(db, &cmd, &be) == 0;
            bson_destroy(&cmd);
            if (!ok) {
                *transient = is_transient(&be);
                rc = joule_err_set(err, *transient ? JOULE_EUNAVAIL : JOULE_EPROTO,
                                   "indexes of %s: %s", name, be.message);
                goto out;
            }
        }
    }
    s->st.collections++;
 out:
    bson_destroy(spec);
    return rc;
}

static int setup(struct store_mongo *s, bool *transient, struct joule_err *err)
{
    *transient = false;
    mongoc_client_t *client = mongoc_client_pool_pop(s->pool);
    mongoc_database_t *db = mongoc_client_get_database(client, s->database);
    int rc = 0;
    s->st.validators = 0;
    s->st.collections = 0;
    for (size_t i = 0; i < store_n_schemas && rc == 0; i++)
        rc = setup_collection(s, db, store_schemas[i].collection, store_schemas[i].json,
                              transient, err);
    mongoc_database_destroy(db);
    mongoc_client_pool_push(s->pool, client);
    if (rc == 0) {
        s->setup_done = true;
        JLOG_INFO("event=store_ready database=%s collections=%zu validators=%zu/%zu",
                  s->database, s->st.collections, s->st.validators, store_n_schemas);
    }
    return rc;
}

/* ---------------------------------------------------------------- replay */

static void destroy_batch(bson_t **docs, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        bson_destroy(docs[i]);
    *n = 0;
}

/* Sends the pending insert batch; on success moves replay_off to `upto`. */
static int replay_batch(struct store_mongo *s, const char *coll, bson_t **docs, size_t *n,
                        int64_t upto, struct joule_err *err)
{
    if (*n == 0) {
        s->replay_off = upto;
        return 0;
    }
    bool transient = false;
    int rc = server_insert(s, coll, (const bson_t *const *)docs, *n, &transient, err);
    if (rc < 0 && transient)
        return rc;
    /* rejected documents are in .rejected: they must not block the spool forever */
    s->replay_off = upto;
    s->spool_docs -= *n;
    s->st.replayed += *n;
    destroy_batch(docs, n);
    return 0;
}

/* Replays the spool in file order until it is empty (then truncated), the server fails, or the
 * monotonic deadline passes. Returns 0 when empty, JOULE_EUNAVAIL/EBUSY when not. */
static int spool_replay(struct store_mongo *s, int64_t deadline_ns, struct joule_err *err)
{
    if (s->spool_docs == 0)
        return 0;
    bson_t **docs = xcalloc(REPLAY_BATCH_DOCS, sizeof *docs);
    size_t n = 0;
    char *coll = NULL;
    int64_t off = s->replay_off, batch_end = off;
    int rc = 0;
    for (;;) {
        bson_t *rec = NULL;
        uint32_t len = 0;
        int r = spool_read(s, off, &rec, &len);
        if (r < 0) {
            rc = joule_err_set(err, JOULE_EIO, "spool %s: unreadable record at offset %lld",
                               s->spool_path, (long long)off);
            break;
        }
        const char *rc_coll = NULL;
        bson_iter_t it;
        bool upsert = false;
        if (r == 1) {
            bson_iter_init_find(&it, rec, "c");
            rc_coll = bson_iter_utf8(&it, NULL);
            upsert = bson_iter_init_find(&it, rec, "s");
        }
        bool flush = n > 0 && (r == 0 || upsert || n == REPLAY_BATCH_DOCS ||
                               strcmp(rc_coll, coll) != 0);
        if (flush && (rc = replay_batch(s, coll, docs, &n, batch_end, err)) < 0) {
            if (rec)
                bson_destroy(rec);
            break;
        }
        if (r == 0) {
            s->replay_off = off;
            break;
        }
        if (mono_ns() > deadline_ns && n == 0) {
            bson_destroy(rec);
            rc = joule_err_set(err, JOULE_EBUSY, "spool %s: %zu document(s) left to replay",
                               s->spool_path, s->spool_docs);
            break;
        }
        bson_iter_t d;
        bson_iter_init_find(&d, rec, "d");
        uint32_t dlen;
        const uint8_t *ddata;
        bson_iter_document(&d, &dlen, &ddata);
        bson_t *doc = bson_new_from_data(ddata, dlen);
        if (upsert) {
            bson_iter_t si;
            bson_iter_init_find(&si, rec, "s");
            uint32_t slen;
            const uint8_t *sdata;
            bson_iter_document(&si, &slen, &sdata);
            bson_t sel;
            bson_init_static(&sel, sdata, slen);
            bool transient = false;
            rc = server_upsert(s, rc_coll, &sel, doc, &transient, err);
            bson_destroy(doc);
            bson_destroy(rec);
            if (rc < 0 && transient)
                break;
            rc = 0;
            off += len;
            batch_end = off;
            s->replay_off = off;
            s->spool_docs--;
            s->st.replayed++;
            continue;
        }
        if (n == 0) {
            free(coll);
            coll = xstrdup(rc_coll);
        }
        docs[n++] = doc;
        bson_destroy(rec);
        off += len;
        batch_end = off;
    }
    destroy_batch(docs, &n);
    free(docs);
    free(coll);
    if (rc == 0 && s->replay_off >= s->spool_bytes) {
        /* everything is in the database: start the file afresh */
        if (ftruncate(s->spool_fd, 0) < 0 || fsync(s->spool_fd) < 0)
            return joule_err_set(err, JOULE_EIO, "spool %s: truncate: %s", s->spool_path,
                                 strerror(errno));
        s->spool_bytes = 0;
        s->replay_off = 0;
        s->spool_docs = 0;
        if (log_release(&s->full))
            JLOG_NOTICE("event=spool_drained spool=%s dropped_total=%llu", s->spool_path,
                        (unsigned long long)s->st.dropped);
    }
    return rc;
}

/* ---------------------------------------------------------------- the ops */

static int mongo_open(void *state, struct joule_err *err)
{
    struct store_mongo *s = state;
    int rc = spool_open(s, err);
    if (rc < 0)
        return rc;
    bool transient = false;
    rc = setup(s, &transient, err);
    if (rc < 0 && !transient)
        return rc;
    if (rc < 0) {
        /* a database that is down at start is an outage like any other: spool meanwhile */
        mark_down_err(s, err);
        return 0;
    }
    mark_up(s);
    return 0;
}

/* Whether to talk to the server now: it is up, or down and due for a retry. Runs the setup
 * that an outage at open left undone, and replays the spool within the budget. */
static bool server_ready(struct store_mongo *s, int64_t deadline_ns)
{
    if (s->down && mono_ns() < s->retry_at_ns)
        return false;
    struct joule_err e = { 0 };
    bool transient = false;
    if (!s->setup_done && setup(s, &transient, &e) < 0) {
        if (transient) {
            mark_down_err(s, &e);
            return false;
        }
        JLOG_ERR("event=store_setup_failed error=\"%s\"", e.msg);
        s->setup_done = true; /* do not retry a refusal every tick; writes still go through */
    }
    if (s->spool_docs > 0) {
        int rc = spool_replay(s, deadline_ns, &e);
        if (rc == JOULE_EUNAVAIL) {
            mark_down_err(s, &e);
            return false;
        }
        if (rc < 0) {
            if (rc != JOULE_EBUSY && log_complain(&s->reject))
                JLOG_ERR("event=spool_replay_failed error=\"%s\" action=\"new documents queue "
                         "behind it in the spool; move %s aside to resume\"",
                         e.msg, s->spool_path);
            mark_up(s);
            return false; /* keep order: new writes queue behind what is left */
        }
    }
    mark_up(s);
    return true;
}

static int64_t replay_deadline(const struct store_mongo *s) { return mono_ns() + s->tick_ns / 2; }

static int mongo_insert(void *state, const char *collection, const bson_t *const *docs, size_t n,
                        struct joule_err *err)
{
    struct store_mongo *s = state;
    if (n == 0)
        return 0;
    if (server_ready(s, replay_deadline(s))) {
        bool transient = false;
        int rc = server_insert(s, collection, docs, n, &transient, err);
        if (rc == 0)
            return (int)n;
        if (!transient)
            return rc;
        mark_down_err(s, err);
    }
    int rc = spool_append(s, collection, docs, n, NULL, err);
    return rc < 0 ? rc : (int)n;
}

static int mongo_upsert(void *state, const char *collection, const bson_t *selector,
                        const bson_t *doc, struct joule_err *err)
{
    struct store_mongo *s = state;
    if (server_ready(s, replay_deadline(s))) {
        bool transient = false;
        int rc = server_upsert(s, collection, selector, doc, &transient, err);
        if (rc == 0 || !transient)
            return rc;
        mark_down_err(s, err);
    }
    const bson_t *one[1] = { doc };
    return spool_append(s, collection, one, 1, selector, err);
}

/* The latest epoch of the cluster's lease: *found false when there is none. */
static int lease_latest(mongoc_collection_t *c, const char *cluster, bool *found, int64_t *epoch,
                        char *holder, size_t holder_n, int64_t *expiry_ms, struct joule_err *err)
{
    bson_t *filter = BCON_NEW("cluster", BCON_UTF8(cluster));
    bson_t *opts = BCON_NEW("sort", "{", "epoch", BCON_INT32(-1), "}", "limit", BCON_INT64(1));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *d;
    int rc = 0;
    *found = false;
    if (mongoc_cursor_next(cur, &d)) {
        bson_iter_t e, h, x;
        if (!bson_iter_init_find(&e, d, "epoch") || !BSON_ITER_HOLDS_INT64(&e) ||
            !bson_iter_init_find(&h, d, "holder") || !BSON_ITER_HOLDS_UTF8(&h) ||
            !bson_iter_init_find(&x, d, "expiry") || !BSON_ITER_HOLDS_DATE_TIME(&x)) {
            rc = joule_err_set(err, JOULE_EPROTO, "lease %s: the latest lease document is "
                               "malformed (epoch, holder, expiry)", cluster);
        } else {
            *found = true;
            *epoch = bson_iter_int64(&e);
            snprintf(holder, holder_n, "%s", bson_iter_utf8(&h, NULL));
            *expiry_ms = bson_iter_date_time(&x);
        }
    }
    bson_error_t be;
    if (rc == 0 && mongoc_cursor_error(cur, &be))
        rc = joule_err_set(err, is_transient(&be) ? JOULE_EUNAVAIL : JOULE_EIO, "lease %s: %s",
                           cluster, be.message);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    return rc;
}

/* Leases are epochs: taking over or renewing inserts epoch+1, and the unique _id lets exactly
 * one of two racers in (a conditional update does not: FerretDB 1.24 lets both through). Each
 * call of the holder renews (one small insert per tick), as the memory store does. Epochs that
 * expired long ago (10 TTLs, at least an hour) are deleted: nobody can still be racing for them,
 * since a contender inserts right after reading the latest epoch. */
#define LEASE_KEEP_MIN_MS (3600LL * 1000)

static int mongo_lease(void *state, const char *cluster, const char *holder, int64_t now_ns,
                       int64_t ttl_ns, bool *held, struct joule_err *err)
{
    struct store_mongo *s = state;
    *held = false;
    /* while the server is known to be down, do not wait for it every tick: the lease is not
     * held (the caller stops acting once its last lease expires) until the next retry */
    if (s->down && mono_ns() < s->retry_at_ns)
        return joule_err_set(err, JOULE_EUNAVAIL, "lease %s: the database is unreachable",
                             cluster);
    mongoc_client_t *client = mongoc_client_pool_pop(s->pool);
    mongoc_collection_t *c = mongoc_client_get_collection(client, s->database, "leases");
    int64_t now_ms = now_ns / JOULE_NS_PER_MS, ttl_ms = ttl_ns / JOULE_NS_PER_MS;
    bool found = false;
    int64_t epoch = 0, expiry_ms = 0;
    char current[256] = "";
    int rc = lease_latest(c, cluster, &found, &epoch, current, sizeof current, &expiry_ms, err);
    if (rc < 0)
        goto out;
    bool mine = found && strcmp(current, holder) == 0 && expiry_ms > now_ms;
    if (found && !mine && expiry_ms > now_ms)
        goto out; /* somebody else holds it: standby */
    /* free, expired, or ours to renew: the next epoch, if nobody else gets it first */
    int64_t next = found ? epoch + 1 : 1;
    char id[320];
    snprintf(id, sizeof id, "%s/%020lld", cluster, (long long)next);
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "cluster", BCON_UTF8(cluster), "epoch",
                           BCON_INT64(next), "holder", BCON_UTF8(holder), "expiry",
                           BCON_DATE_TIME(now_ms + ttl_ms), "renewed", BCON_DATE_TIME(now_ms));
    bson_error_t be;
    if (mongoc_collection_insert_one(c, doc, NULL, NULL, &be)) {
        *held = true;
        int64_t keep_ms = 10 * ttl_ms > LEASE_KEEP_MIN_MS ? 10 * ttl_ms : LEASE_KEEP_MIN_MS;
        bson_t *old = BCON_NEW("cluster", BCON_UTF8(cluster), "epoch", "{", "$lt",
                               BCON_INT64(next), "}", "expiry", "{", "$lt",
                               BCON_DATE_TIME(now_ms - keep_ms), "}");
        mongoc_collection_delete_many(c, old, NULL, NULL, NULL); /* best effort */
        bson_destroy(old);
    } else if (!(be.domain == MONGOC_ERROR_SERVER && be.code == MONGO_DUPLICATE_KEY)) {
        rc = joule_err_set(err, is_transient(&be) ? JOULE_EUNAVAIL : JOULE_EIO, "lease %s: %s",
                           cluster, be.message);
    }
    bson_destroy(doc);
 out:
    mongoc_collection_destroy(c);
    mongoc_client_pool_push(s->pool, client);
    if (rc == JOULE_EUNAVAIL) {
        mark_down_err(s, err);
    } else if (rc == 0 && s->down) {
        mark_up(s); /* the next write replays the spool before anything new */
    }
    return rc;
}

static int mongo_flush(void *state, struct joule_err *err)
{
    struct store_mongo *s = state;
    if (s->spool_docs == 0)
        return 0;
    s->retry_at_ns = 0; /* an explicit flush retries now */
    if (!server_ready(s, mono_ns() + 4 * s->tick_ns) || s->spool_docs > 0)
        return joule_err_set(err, JOULE_EUNAVAIL, "%zu document(s) still in the spool %s",
                             s->spool_docs, s->spool_path);
    return 0;
}

static size_t mongo_spool_depth(void *state)
{
    struct store_mongo *s = state;
    return s->spool_docs;
}

static int mongo_expire(void *state, const char *collection, const char *field, int64_t before_ns,
                        size_t max_docs, struct joule_err *err)
{
    struct store_mongo *s = state;
    if (s->down)
        return 0; /* retention waits for the server; nothing is lost by waiting */
    mongoc_client_t *client = mongoc_client_pool_pop(s->pool);
    mongoc_collection_t *c = mongoc_client_get_collection(client, s->database, collection);
    bson_t *filter = BCON_NEW("cluster", BCON_UTF8(s->cluster), field, "{", "$lt",
                              BCON_DATE_TIME(before_ns / JOULE_NS_PER_MS), "}");
    int64_t deadline = replay_deadline(s);
    size_t total = 0;
    int rc = 0;
    while (total < max_docs && mono_ns() < deadline) {
        size_t want = max_docs - total < EXPIRE_BATCH_DOCS ? max_docs - total : EXPIRE_BATCH_DOCS;
        bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "limit",
                                BCON_INT64((int64_t)want));
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
        bson_t in = BSON_INITIALIZER, ids;
        BSON_APPEND_DOCUMENT_BEGIN(&in, "_id", &ids);
        bson_t arr;
        BSON_APPEND_ARRAY_BEGIN(&ids, "$in", &arr);
        const bson_t *doc;
        size_t found = 0;
        while (mongoc_cursor_next(cur, &doc)) {
            bson_iter_t it;
            if (bson_iter_init_find(&it, doc, "_id")) {
                char key[16];
                const char *k;
                bson_uint32_to_string((uint32_t)found, &k, key, sizeof key);
                bson_append_value(&arr, k, -1, bson_iter_value(&it));
                found++;
            }
        }
        bson_append_array_end(&ids, &arr);
        bson_append_document_end(&in, &ids);
        bson_error_t be;
        bool cur_err = mongoc_cursor_error(cur, &be);
        mongoc_cursor_destroy(cur);
        bson_destroy(opts);
        if (cur_err) {
            rc = joule_err_set(err, is_transient(&be) ? JOULE_EUNAVAIL : JOULE_EIO,
                               "retention of %s: %s", collection, be.message);
            bson_destroy(&in);
            break;
        }
        if (found == 0) {
            bson_destroy(&in);
            break;
        }
        bson_t reply;
        bool ok = mongoc_collection_delete_many(c, &in, NULL, &reply, &be);
        bson_destroy(&in);
        if (!ok) {
            bson_destroy(&reply);
            rc = joule_err_set(err, is_transient(&be) ? JOULE_EUNAVAIL : JOULE_EIO,
                               "retention of %s: %s", collection, be.message);
            break;
        }
        bson_iter_t it;
        if (bson_iter_init_find(&it, &reply, "deletedCount") && BSON_ITER_HOLDS_NUMBER(&it))
            total += (size_t)bson_iter_as_int64(&it);
        bson_destroy(&reply);
        if (found < want)
            break;
    }
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    mongoc_client_pool_push(s->pool, client);
    return rc < 0 ? rc : (int)total;
}

const struct store_ops store_mongo_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "mongo",
    .create = mongo_create,
    .open = mongo_open,
    .insert = mongo_insert,
    .upsert = mongo_upsert,
    .lease = mongo_lease,
    .flush = mongo_flush,
    .spool_depth = mongo_spool_depth,
    .close = mongo_close,
    .destroy = mongo_destroy,
    .expire = mongo_expire,
};

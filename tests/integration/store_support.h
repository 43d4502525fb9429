/* store_support.h - what the store tests share: a FerretDB they start and stop themselves (fresh
 * data dir, free loopback port, telemetry off three ways), a command runner, document dumps for
 * the schema checker, and a small seeded cluster model. */
#ifndef JOULE_TEST_STORE_SUPPORT_H
#define JOULE_TEST_STORE_SUPPORT_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <sys/types.h>

struct ferret {
    char *dir;       /* data dir, state dir, log */
    int port;
    pid_t pid;       /* 0 when stopped */
    char *uri;       /* mongodb://127.0.0.1:PORT/ */
};

/* Path of the ferretdb binary ($JOULE_FERRETDB or /usr/local/bin/ferretdb); NULL if missing. */
const char *ferret_binary(void);
/* Starts FerretDB in a fresh dir under tag on a free port and waits (deadline 60 s) until it
 * answers a ping and its log says telemetry is disabled. 0 or -1 (message on stderr). */
int ferret_start(struct ferret *f, const char *tag);
/* Starts it again on the same port and data dir. */
int ferret_restart(struct ferret *f);
/* Stops it (SIGTERM, SIGKILL after 10 s) and waits for the PID; data stays. */
void ferret_stop(struct ferret *f);
/* Stops it if running and removes the dir. */
void ferret_destroy(struct ferret *f);

/* A client on f (caller destroys); server selection 5 s. */
mongoc_client_t *ferret_client(const struct ferret *f);
int64_t ferret_count(const struct ferret *f, const char *db, const char *coll, const bson_t *filter);

/* Runs argv, waits (deadline timeout_s, then SIGKILL), stdout into *out (caller frees; may be
 * NULL to discard). Returns the exit status, or -1. */
int run_cmd(char *const argv[], char **out, int timeout_s);

/* Appends "collection\t<canonical extended JSON>\n" for doc to the file. */
void dump_doc(const char *path, const char *collection, const bson_t *doc);
/* Runs tests/integration/schema_check.py on path; returns its exit status. */
int schema_check(const char *path, bool expect_invalid);

#endif

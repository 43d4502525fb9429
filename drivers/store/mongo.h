/* store/mongo.h - the MongoDB store's inspection API (tests, bench, joulectl). */
#ifndef JOULE_DRIVERS_STORE_MONGO_H
#define JOULE_DRIVERS_STORE_MONGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_mongo_stats {
    bool connected;            /* the last server operation worked */
    size_t validators;         /* collections whose $jsonSchema validator the server took */
    size_t collections;        /* collections set up (created or found) with their indexes */
    uint64_t inserted;         /* documents acknowledged (including duplicates ignored) */
    uint64_t duplicates;       /* duplicate _ids ignored */
    uint64_t spooled;          /* documents appended to the spool */
    uint64_t replayed;         /* documents replayed from the spool */
    uint64_t dropped;          /* documents lost because the spool was full */
    uint64_t rejected;         /* documents the server refused (written to <spool>.rejected) */
    size_t spool_docs;         /* documents waiting in the spool */
    int64_t spool_bytes;
};

void store_mongo_stats(void *state, struct store_mongo_stats *out);

/* The URI the store uses: JOULE_MONGODB_URI if set, else the configured one (borrowed). */
const char *store_mongo_uri(const char *configured);

#endif

/* store/memory.h - the in-memory store's inspection API, for tests, replay and the demo. */
#ifndef JOULE_DRIVERS_STORE_MEMORY_H
#define JOULE_DRIVERS_STORE_MEMORY_H

#include <bson/bson.h>
#include <stddef.h>

size_t store_memory_count(void *state, const char *collection);
/* Borrowed; valid until the store is destroyed. NULL past the end. */
const bson_t *store_memory_doc(void *state, const char *collection, size_t i);

#endif

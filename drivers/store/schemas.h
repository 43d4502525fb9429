/* store/schemas.h - the collections' $jsonSchema and index files (schemas/<collection>.json),
 * embedded at build time by cmake/EmbedSchemas.cmake. */
#ifndef JOULE_DRIVERS_STORE_SCHEMAS_H
#define JOULE_DRIVERS_STORE_SCHEMAS_H

#include <stddef.h>

struct store_schema {
    const char *collection;
    const char *json;   /* the file's text: { collection, validator, indexes, ... } */
};

extern const struct store_schema store_schemas[];
extern const size_t store_n_schemas;

/* The schema text of `collection`, NULL if none. */
const char *store_schema_find(const char *collection);

#endif

/* store/schemas.c - lookup in the embedded schemas (store_schemas.c is generated). */
#include <string.h>

#include "store/schemas.h"

const char *store_schema_find(const char *collection)
{
    for (size_t i = 0; i < store_n_schemas; i++)
        if (strcmp(store_schemas[i].collection, collection) == 0)
            return store_schemas[i].json;
    return NULL;
}

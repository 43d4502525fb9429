/* libFuzzer target: one ZCL payload. Bytes 0-1 are the cluster id (LE), the rest the payload. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "meter/zigbee.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static struct zcl_frame z;
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    int rc = zcl_decode(p, n, (uint16_t)(data[0] | data[1] << 8), &z);
    if (rc < 0)
        return 0;
    if (z.n_attrs > ZCL_MAX_ATTRS || z.n_records > ZCL_MAX_RECORDS)
        abort();
    for (size_t i = 0; i < z.n_attrs; i++)
        if (z.attrs[i].has_value && (size_t)z.attrs[i].value_off + z.attrs[i].value_len > n)
            abort(); /* a value must lie inside the payload */
    bson_t doc = BSON_INITIALIZER;
    zcl_frame_to_bson(&z, p, &doc);
    if (!bson_validate(&doc, BSON_VALIDATE_UTF8, NULL))
        abort();
    bson_destroy(&doc);
    return 0;
}

/* libFuzzer target: Z-Stack MT streams, whole and in reads of 1..8 bytes (from the length). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_stream_check(ZB_PROTO_ZNP, data, size, size % 8 + 1);
    return 0;
}

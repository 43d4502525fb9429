/* libFuzzer target: XBee API streams. Byte 0 picks AP=1 (odd) or AP=2 (even) and the read size
 * for the chunked pass (bits 1..7, +1); the rest is the byte stream. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum zb_proto proto = (data[0] & 1) ? ZB_PROTO_XBEE1 : ZB_PROTO_XBEE2;
    fuzz_stream_check(proto, data + 1, size - 1, (size_t)(data[0] >> 1) + 1);
    return 0;
}

/* wol_priv.h - the pure parts of the Wake-on-LAN driver, exposed for tests. */
#ifndef JOULE_POWER_WOL_PRIV_H
#define JOULE_POWER_WOL_PRIV_H

#include <stddef.h>
#include <stdint.h>

#define WOL_SYNC_BYTES 6
#define WOL_MAC_REPEAT 16
#define WOL_PACKET_LEN (WOL_SYNC_BYTES + WOL_MAC_REPEAT * 6) /* 102 */
#define WOL_PACKET_MAX (WOL_PACKET_LEN + 6)                  /* + SecureOn */

/* Writes the magic packet; returns its length (102, 106 or 108). */
size_t wol_build_packet(const uint8_t mac[6], const uint8_t *secureon, size_t secureon_len,
                        uint8_t out[WOL_PACKET_MAX]);
/* "01:02:03:04" or "010203040506" (':' or '-' separators) -> 4 or 6 bytes; JOULE_EINVAL else. */
int wol_parse_secureon(const char *text, uint8_t out[6], size_t *n);

#endif

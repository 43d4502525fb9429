/* power/wol.c - Wake-on-LAN: a UDP magic packet (6 x 0xFF, then the MAC 16 times: 102 bytes,
 * plus an optional 4 or 6 byte SecureOn password) to a broadcast address and port, optionally
 * bound to one interface (SO_BINDTODEVICE, needed for 255.255.255.255 without a route).
 * The bytes equal those of Debian's `wakeonlan` for the same MAC (tests/integration compares
 * them on the wire). Only `on` exists: WoL can neither switch a host off nor tell its state.
 * One sendto() per call; the power state machine repeats it on its own schedule. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "driver.h"
#include "util/xalloc.h"
#include "wol_priv.h"

struct pw_wol {
    uint8_t packet[WOL_PACKET_MAX];
    size_t len;
    struct sockaddr_in dest;
    char *broadcast;
    char *interface;
};

int wol_parse_secureon(const char *text, uint8_t out[6], size_t *n)
{
    size_t k = 0;
    const char *p = text;
    while (*p) {
        if (k == 6)
            return JOULE_EINVAL;
        char hex[3] = { p[0], p[0] ? p[1] : 0, 0 };
        char *end = NULL;
        if (!hex[0] || !hex[1] || !strchr("0123456789abcdefABCDEF", hex[0]) ||
            !strchr("0123456789abcdefABCDEF", hex[1]))
            return JOULE_EINVAL;
        out[k++] = (uint8_t)strtoul(hex, &end, 16);
        p += 2;
        if (*p == ':' || *p == '-') {
            p++;
            if (!*p)
                return JOULE_EINVAL;
        }
    }
    if (k != 4 && k != 6)
        return JOULE_EINVAL;
    *n = k;
    return 0;
}

size_t wol_build_packet(const uint8_t mac[6], const uint8_t *secureon, size_t secureon_len,
                        uint8_t out[WOL_PACKET_MAX])
{
    memset(out, 0xFF, WOL_SYNC_BYTES);
    for (size_t i = 0; i < WOL_MAC_REPEAT; i++)
        memcpy(out + WOL_SYNC_BYTES + i * 6, mac, 6);
    size_t len = WOL_PACKET_LEN;
    if (secureon && secureon_len) {
        memcpy(out + len, secureon, secureon_len);
        len += secureon_len;
    }
    return len;
}

static int pw_wol_create(const struct config_host *host, const struct drv_env *env, void **state,
                         struct joule_err *err)
{
    (void)env;
    const struct config_wol *c = &host->wol;
    if (!c->mac)
        return joule_err_set(err, JOULE_EINVAL, "wol: power.wol.mac is not set");
    const char *bcast = c->broadcast ? c->broadcast : "255.255.255.255";
    struct sockaddr_in dest = { .sin_family = AF_INET };
    if (inet_pton(AF_INET, bcast, &dest.sin_addr) != 1)
        return joule_err_set(err, JOULE_EINVAL,
                             "wol: broadcast \"%s\" is not an IPv4 address (e.g. 192.0.2.255)",
                             bcast);
    if (c->port < 1 || c->port > 65535)
        return joule_err_set(err, JOULE_EINVAL, "wol: port %d is out of range (1..65535)", c->port);
    dest.sin_port = htons((uint16_t)c->port);
    if (c->interface && strlen(c->interface) >= IF_NAMESIZE)
        return joule_err_set(err, JOULE_EINVAL, "wol: interface name \"%s\" is too long",
                             c->interface);
    uint8_t pw[6];
    size_t pw_len = 0;
    if (c->secureon && wol_parse_secureon(c->secureon, pw, &pw_len) < 0)
        return joule_err_set(err, JOULE_EINVAL,
                             "wol: the SecureOn password must be 4 or 6 bytes as hex pairs "
                             "(e.g. 01:02:03:04:05:06)");
    struct pw_wol *s = xcalloc(1, sizeof *s);
    s->len = wol_build_packet(c->mac_bytes, pw_len ? pw : NULL, pw_len, s->packet);
    s->dest = dest;
    s->broadcast = xstrdup(bcast);
    s->interface = c->interface ? xstrdup(c->interface) : NULL;
    *state = s;
    return 0;
}

static int pw_wol_on(void *state, struct joule_err *err)
{
    struct pw_wol *s = state;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return joule_err_set(err, JOULE_EIO, "wol: socket: %s", strerror(errno));
    int one = 1, rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) {
        rc = joule_err_set(err, JOULE_EIO, "wol: SO_BROADCAST: %s", strerror(errno));
        goto out;
    }
    if (s->interface &&
        setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, s->interface,
                   (socklen_t)strlen(s->interface) + 1) < 0) {
        rc = joule_err_set(err, JOULE_EIO, "wol: bind to interface %s: %s", s->interface,
                           strerror(errno));
        goto out;
    }
    ssize_t n = sendto(fd, s->packet, s->len, 0, (const struct sockaddr *)&s->dest, sizeof s->dest);
    if (n < 0)
        rc = joule_err_set(err, JOULE_EIO, "wol: send to %s:%u%s%s: %s", s->broadcast,
                           ntohs(s->dest.sin_port), s->interface ? " via " : "",
                           s->interface ? s->interface : "", strerror(errno));
    else if ((size_t)n != s->len)
        rc = joule_err_set(err, JOULE_EIO, "wol: short send (%zd of %zu bytes)", n, s->len);
 out:
    close(fd);
    return rc;
}

static void pw_wol_destroy(void *state)
{
    struct pw_wol *s = state;
    if (!s)
        return;
    free(s->broadcast);
    free(s->interface);
    memset(s->packet, 0, sizeof s->packet); /* may hold the SecureOn password */
    free(s);
}

const struct power_ops power_wol_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "wol",
    .create = pw_wol_create,
    .on = pw_wol_on,
    .destroy = pw_wol_destroy,
};

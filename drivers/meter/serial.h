/* serial.h - the coordinator's serial port, internal to the meter drivers. A device path (or a
 * /dev/serial/by-id link, resolved with realpath) is opened with libserialport when it is a real
 * UART, and with plain POSIX termios when it is a pty (libserialport 0.1.1 cannot open one) or
 * when libserialport fails. Reads use poll() with a timeout of at least 1 ms and report a
 * hang-up (POLLHUP, read() = 0, EIO) as JOULE_EIO: the caller closes and reopens. */
#ifndef JOULE_DRIVERS_METER_SERIAL_H
#define JOULE_DRIVERS_METER_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util/err.h"

struct serial_opts {
    int baud;
    int data_bits;
    enum config_parity parity;
    int stop_bits;
    enum config_flow flow;
};

struct serial_port;

/* Opens, configures and flushes pending input. JOULE_ENOENT when the path does not exist (yet),
 * JOULE_EINVAL for a setting the port refuses, JOULE_EIO otherwise. */
int serial_open(const char *path, const struct serial_opts *o, struct serial_port **out,
                struct joule_err *err);
/* Waits up to timeout_ms (values < 1 are raised to 1: never "forever") for input, then reads up
 * to n bytes. Returns the count, 0 on timeout, JOULE_EIO on hang-up or error. */
int serial_read(struct serial_port *p, uint8_t *buf, size_t n, int timeout_ms,
                struct joule_err *err);
/* Writes all n bytes within timeout_ms; JOULE_ETIMEDOUT or JOULE_EIO otherwise. */
int serial_write(struct serial_port *p, const uint8_t *buf, size_t n, int timeout_ms,
                 struct joule_err *err);
int serial_fd(const struct serial_port *p);
const char *serial_backend(const struct serial_port *p); /* "termios" or "libserialport" */
const char *serial_device(const struct serial_port *p);  /* the resolved path */
void serial_close(struct serial_port *p);                 /* NULL-safe */

#endif

/* drivers/meter/serial.c on ptys: links resolved (as /dev/serial/by-id ones are), input pending
 * before open flushed, reads time out with 0, a vanished master is a hang-up (JOULE_EIO), a
 * missing path is JOULE_ENOENT, and a character device that is no terminal is refused. */
#include "support/test_support.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meter/serial.h"
#include "util/xalloc.h"

static const struct serial_opts opts = { .baud = 9600, .data_bits = 8,
                                         .parity = CONFIG_PARITY_NONE, .stop_bits = 1,
                                         .flow = CONFIG_FLOW_NONE };

static int new_master(void)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(m >= 0);
    assert_int_equal(grantpt(m), 0);
    assert_int_equal(unlockpt(m), 0);
    return m;
}

static void test_link_flush_read_hangup(void **state)
{
    (void)state;
    int m = new_master();
    char *dir = joule_test_tmpdir("serial");
    char *link = xasprintf("%s/usb-Digi_XBee-if00-port0", dir);
    assert_int_equal(symlink(ptsname(m), link), 0);
    /* a slave must have been opened once for the master's writes to be kept */
    int keep = open(ptsname(m), O_RDWR | O_NOCTTY);
    assert_true(keep >= 0);
    assert_int_equal(write(m, "stale", 5), 5);
    struct serial_port *p = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(serial_open(link, &opts, &p, &err), 0);
    char real[PATH_MAX];
    assert_non_null(realpath(ptsname(m), real));
    assert_string_equal(serial_device(p), real);
    assert_string_equal(serial_backend(p), "termios");
    uint8_t buf[64];
    assert_int_equal(serial_read(p, buf, sizeof buf, 1, &err), 0); /* "stale" was flushed */
    assert_int_equal(serial_read(p, buf, sizeof buf, 0, &err), 0); /* 0 means 1 ms, not forever */
    assert_int_equal(write(m, "\x7e\x00\x02", 3), 3);
    assert_int_equal(serial_read(p, buf, sizeof buf, 1000, &err), 3);
    assert_memory_equal(buf, "\x7e\x00\x02", 3);
    assert_int_equal(serial_write(p, (const uint8_t *)"ok", 2, 100, &err), 0);
    char back[2];
    assert_int_equal(read(m, back, 2), 2);
    close(keep);
    close(m); /* unplug */
    assert_int_equal(serial_read(p, buf, sizeof buf, 1000, &err), JOULE_EIO);
    serial_close(p);
    joule_test_rmtree(dir);
    free(link);
    free(dir);
}

static void test_missing_and_not_a_tty(void **state)
{
    (void)state;
    struct serial_port *p = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(serial_open("/nonexistent/serial/by-id/usb-gone", &opts, &p, &err),
                     JOULE_ENOENT);
    assert_null(p);
    /* /dev/null: a character device, not a pty; libserialport refuses it, so does termios */
    assert_true(serial_open("/dev/null", &opts, &p, &err) < 0);
    assert_null(p);
    assert_non_null(strstr(err.msg, "/dev/null"));
    /* a regular file is not a port at all */
    char *dir = joule_test_tmpdir("serial");
    char *file = joule_test_write_file(dir, "plain", "x", 0600);
    assert_int_equal(serial_open(file, &opts, &p, &err), JOULE_EINVAL);
    joule_test_rmtree(dir);
    free(file);
    free(dir);
}

static void test_bad_baud(void **state)
{
    (void)state;
    int m = new_master();
    struct serial_opts o = opts;
    o.baud = 12345;
    struct serial_port *p = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(serial_open(ptsname(m), &o, &p, &err), JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "12345"));
    close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_flush_read_hangup),
        cmocka_unit_test(test_missing_and_not_a_tty),
        cmocka_unit_test(test_bad_baud),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* serial.c - see serial.h. */
#include "serial.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "util/xalloc.h"

#define PTY_SLAVE_MAJOR_FIRST 136 /* Unix98 pty slaves: majors 136..143 (devices.txt) */
#define PTY_SLAVE_MAJOR_LAST 143

struct serial_port {
    int fd;
    struct sp_port *sp;  /* NULL when opened with termios */
    char *device;
};

static const struct {
    int baud;
    speed_t speed;
} speeds[] = {
    { 300, B300 },         { 1200, B1200 },       { 2400, B2400 },       { 4800, B4800 },
    { 9600, B9600 },       { 19200, B19200 },     { 38400, B38400 },     { 57600, B57600 },
    { 115200, B115200 },   { 230400, B230400 },   { 460800, B460800 },   { 500000, B500000 },
    { 576000, B576000 },   { 921600, B921600 },   { 1000000, B1000000 }, { 1152000, B1152000 },
    { 1500000, B1500000 }, { 2000000, B2000000 }, { 2500000, B2500000 }, { 3000000, B3000000 },
    { 3500000, B3500000 }, { 4000000, B4000000 },
};

static bool is_pty(const char *real, const struct stat *st)
{
    if (strncmp(real, "/dev/pts/", 9) == 0)
        return true;
    unsigned maj = major(st->st_rdev);
    return S_ISCHR(st->st_mode) && maj >= PTY_SLAVE_MAJOR_FIRST && maj <= PTY_SLAVE_MAJOR_LAST;
}

static int open_termios(struct serial_port *p, const struct serial_opts *o, struct joule_err *err)
{
    speed_t speed = 0;
    bool found = false;
    for (size_t i = 0; i < sizeof speeds / sizeof speeds[0]; i++)
        if (speeds[i].baud == o->baud) {
            speed = speeds[i].speed;
            found = true;
        }
    if (!found)
        return joule_err_set(err, JOULE_EINVAL, "%s: baud %d is not a standard rate", p->device,
                             o->baud);
    int fd = open(p->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return joule_err_set(err, errno == ENOENT ? JOULE_ENOENT : JOULE_EIO, "open %s: %s",
                             p->device, strerror(errno));
    struct termios t;
    if (tcgetattr(fd, &t) < 0) {
        int e = errno;
        close(fd);
        return joule_err_set(err, JOULE_EIO, "%s is not a terminal: %s", p->device, strerror(e));
    }
    cfmakeraw(&t);
    cfsetispeed(&t, speed);
    cfsetospeed(&t, speed);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
    t.c_cflag |= CLOCAL | CREAD;
    switch (o->data_bits) {
    case 5:
        t.c_cflag |= CS5;
        break;
    case 6:
        t.c_cflag |= CS6;
        break;
    case 7:
        t.c_cflag |= CS7;
        break;
    default:
        t.c_cflag |= CS8;
        break;
    }
    switch (o->parity) {
    case CONFIG_PARITY_EVEN:
        t.c_cflag |= PARENB;
        break;
    case CONFIG_PARITY_ODD:
        t.c_cflag |= PARENB | PARODD;
        break;
    case CONFIG_PARITY_NONE:
    case CONFIG_PARITY__COUNT:
        break;
    }
    if (o->stop_bits == 2)
        t.c_cflag |= CSTOPB;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    switch (o->flow) {
    case CONFIG_FLOW_RTSCTS:
        t.c_cflag |= CRTSCTS;
        break;
    case CONFIG_FLOW_XONXOFF:
        t.c_iflag |= IXON | IXOFF;
        break;
    case CONFIG_FLOW_NONE:
    case CONFIG_FLOW__COUNT:
        break;
    }
    t.c_cc[VMIN] = 0; /* reads never block: poll() does the waiting, with a timeout */
    t.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &t) < 0) {
        int e = errno;
        close(fd);
        return joule_err_set(err, JOULE_EINVAL, "configure %s: %s", p->device, strerror(e));
    }
    p->fd = fd;
    return 0;
}

static int sp_fail(struct serial_port *p, const char *what, struct joule_err *err)
{
    char *msg = sp_last_error_message();
    joule_err_set(err, JOULE_EIO, "%s %s: %s", what, p->device, msg ? msg : "error");
    sp_free_error_message(msg);
    if (p->sp) {
        sp_close(p->sp);
        sp_free_port(p->sp);
        p->sp = NULL;
    }
    return JOULE_EIO;
}

static int open_libserialport(struct serial_port *p, const struct serial_opts *o,
                              struct joule_err *err)
{
    if (sp_get_port_by_name(p->device, &p->sp) != SP_OK) {
        p->sp = NULL;
        return sp_fail(p, "find", err);
    }
    if (sp_open(p->sp, SP_MODE_READ_WRITE) != SP_OK)
        return sp_fail(p, "open", err);
    enum sp_parity par = SP_PARITY_NONE;
    if (o->parity == CONFIG_PARITY_EVEN)
        par = SP_PARITY_EVEN;
    else if (o->parity == CONFIG_PARITY_ODD)
        par = SP_PARITY_ODD;
    enum sp_flowcontrol fl = SP_FLOWCONTROL_NONE;
    if (o->flow == CONFIG_FLOW_RTSCTS)
        fl = SP_FLOWCONTROL_RTSCTS;
    else if (o->flow == CONFIG_FLOW_XONXOFF)
        fl = SP_FLOWCONTROL_XONXOFF;
    if (sp_set_baudrate(p->sp, o->baud) != SP_OK || sp_set_bits(p->sp, o->data_bits) != SP_OK ||
        sp_set_parity(p->sp, par) != SP_OK || sp_set_stopbits(p->sp, o->stop_bits) != SP_OK ||
        sp_set_flowcontrol(p->sp, fl) != SP_OK)
        return sp_fail(p, "configure", err);
    int fd = -1;
    if (sp_get_port_handle(p->sp, &fd) != SP_OK || fd < 0)
        return sp_fail(p, "handle of", err);
    /* libserialport's blocking reads spin on a hang-up; we poll the descriptor ourselves. */
    int fl_now = fcntl(fd, F_GETFL);
    if (fl_now >= 0)
        fcntl(fd, F_SETFL, fl_now | O_NONBLOCK);
    p->fd = fd;
    return 0;
}

int serial_open(const char *path, const struct serial_opts *o, struct serial_port **out,
                struct joule_err *err)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return joule_err_set(err, errno == ENOENT ? JOULE_ENOENT : JOULE_EIO, "port %s: %s",
                             path, strerror(errno));
    struct stat st;
    if (stat(real, &st) < 0)
        return joule_err_set(err, errno == ENOENT ? JOULE_ENOENT : JOULE_EIO, "port %s: %s",
                             real, strerror(errno));
    if (!S_ISCHR(st.st_mode))
        return joule_err_set(err, JOULE_EINVAL, "port %s (%s) is not a character device", path,
                             real);
    struct serial_port *p = xcalloc(1, sizeof *p);
    p->fd = -1;
    p->device = xstrdup(real);
    int rc;
    if (is_pty(real, &st)) {
        rc = open_termios(p, o, err);
    } else {
        rc = open_libserialport(p, o, err);
        if (rc < 0) /* a UART driver libserialport does not know: termios still works */
            rc = open_termios(p, o, err);
    }
    if (rc < 0) {
        free(p->device);
        free(p);
        return rc;
    }
    tcflush(p->fd, TCIFLUSH); /* stale bytes from before we opened are not a reading */
    *out = p;
    return 0;
}

int serial_read(struct serial_port *p, uint8_t *buf, size_t n, int timeout_ms,
                struct joule_err *err)
{
    if (timeout_ms < 1)
        timeout_ms = 1;
    struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
    int r = poll(&pfd, 1, timeout_ms);
    if (r < 0) {
        if (errno == EINTR)
            return 0;
        return joule_err_set(err, JOULE_EIO, "poll %s: %s", p->device, strerror(errno));
    }
    if (r == 0)
        return 0;
    if (!(pfd.revents & POLLIN))
        return joule_err_set(err, JOULE_EIO, "%s: hang-up", p->device);
    ssize_t got = read(p->fd, buf, n);
    if (got > 0)
        return (int)got;
    if (got == 0)
        return joule_err_set(err, JOULE_EIO, "%s: end of file (hang-up)", p->device);
    if (errno == EAGAIN || errno == EINTR)
        return 0;
    return joule_err_set(err, JOULE_EIO, "read %s: %s", p->device, strerror(errno));
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int serial_write(struct serial_port *p, const uint8_t *buf, size_t n, int timeout_ms,
                 struct joule_err *err)
{
    if (timeout_ms < 1)
        timeout_ms = 1;
    int64_t deadline = mono_ms() + timeout_ms;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(p->fd, buf + done, n - done);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return joule_err_set(err, JOULE_EIO, "write %s: %s", p->device, strerror(errno));
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return joule_err_set(err, JOULE_ETIMEDOUT, "write %s: timed out", p->device);
        struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };
        int r = poll(&pfd, 1, (int)left);
        if (r > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
            return joule_err_set(err, JOULE_EIO, "%s: hang-up", p->device);
    }
    return 0;
}

int serial_fd(const struct serial_port *p) { return p->fd; }

const char *serial_backend(const struct serial_port *p)
{
    return p->sp ? "libserialport" : "termios";
}

const char *serial_device(const struct serial_port *p) { return p->device; }

void serial_close(struct serial_port *p)
{
    if (!p)
        return;
    if (p->sp) {
        sp_close(p->sp);
        sp_free_port(p->sp);
    } else if (p->fd >= 0) {
        close(p->fd);
    }
    free(p->device);
    free(p);
}

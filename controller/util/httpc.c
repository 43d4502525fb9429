/* httpc.c - minimal HTTP/1.0 client (see httpc.h). */
#include "util/httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/strbuf.h"
#include "util/xalloc.h"

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_addr(const char *addr, struct sockaddr_in *sin, struct joule_err *err)
{
    const char *colon = strrchr(addr, ':');
    char host[64];
    if (!colon || (size_t)(colon - addr) >= sizeof host || colon == addr)
        return joule_err_set(err, JOULE_EINVAL, "\"%s\" is not address:port", addr);
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    if (!end || *end || port <= 0 || port > 65535 || inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return joule_err_set(err, JOULE_EINVAL, "\"%s\" is not an IPv4 address:port", addr);
    sin->sin_port = htons((uint16_t)port);
    return 0;
}

/* Waits for fd to be ready for `events` until deadline; 0 ready, JOULE_ETIMEDOUT, JOULE_EIO. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - mono_ms();
        if (left <= 0)
            return JOULE_ETIMEDOUT;
        struct pollfd p = { .fd = fd, .events = events };
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return JOULE_EIO;
    }
}

static int parse_reply(const char *addr, struct strbuf *raw, struct httpc_reply *out,
                       struct joule_err *err)
{
    const char *s = strbuf_str(raw);
    const char *eoh = strstr(s, "\r\n\r\n");
    int status = 0;
    if (!eoh || sscanf(s, "HTTP/%*d.%*d %d", &status) != 1)
        return joule_err_set(err, JOULE_EPROTO, "%s: not an HTTP answer", addr);
    out->status = status;
    out->content_type = xstrdup("");
    for (const char *line = strstr(s, "\r\n") + 2; line < eoh;) {
        const char *nl = strstr(line, "\r\n");
        if (strncasecmp(line, "Content-Type:", 13) == 0) {
            const char *v = line + 13;
            while (*v == ' ')
                v++;
            free(out->content_type);
            out->content_type = xstrndup(v, (size_t)(nl - v));
        }
        line = nl + 2;
    }
    size_t off = (size_t)(eoh + 4 - s);
    out->len = raw->len - off;
    out->body = xstrndup(s + off, out->len);
    return 0;
}

int httpc_request(const char *addr, const char *method, const char *path, const char *bearer,
                  int timeout_ms, struct httpc_reply *out, struct joule_err *err)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in sin;
    int rc = parse_addr(addr, &sin, err);
    if (rc < 0)
        return rc;
    long long deadline = mono_ms() + timeout_ms;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return joule_err_set(err, JOULE_EIO, "socket: %s", strerror(errno));
    struct strbuf req = { 0 }, raw = { 0 };
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0 && errno != EINPROGRESS) {
        rc = joule_err_set(err, JOULE_EUNAVAIL, "connect %s: %s", addr, strerror(errno));
        goto out;
    }
    if ((rc = wait_fd(fd, POLLOUT, deadline)) < 0) {
        rc = joule_err_set(err, rc, "connect %s: timed out", addr);
        goto out;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) {
        rc = joule_err_set(err, JOULE_EUNAVAIL, "connect %s: %s", addr, strerror(soerr));
        goto out;
    }
    strbuf_addf(&req, "%s %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n", method, path, addr);
    if (bearer)
        strbuf_addf(&req, "Authorization: Bearer %s\r\n", bearer);
    strbuf_addf(&req, "Content-Length: 0\r\n\r\n");
    for (size_t sent = 0; sent < req.len;) {
        if ((rc = wait_fd(fd, POLLOUT, deadline)) < 0) {
            rc = joule_err_set(err, rc, "send to %s: timed out", addr);
            goto out;
        }
        ssize_t w = send(fd, req.s + sent, req.len - sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            rc = joule_err_set(err, JOULE_EIO, "send to %s: %s", addr, strerror(errno));
            goto out;
        }
        if (w > 0)
            sent += (size_t)w;
    }
    char buf[8192];
    for (;;) {
        if ((rc = wait_fd(fd, POLLIN, deadline)) < 0) {
            rc = joule_err_set(err, rc, "read from %s: timed out", addr);
            goto out;
        }
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            rc = joule_err_set(err, JOULE_EIO, "read from %s: %s", addr, strerror(errno));
            goto out;
        }
        strbuf_add(&raw, buf, (size_t)r);
        if (raw.len > HTTPC_MAX_BODY) {
            rc = joule_err_set(err, JOULE_EPROTO, "%s: answer larger than %u bytes", addr,
                               HTTPC_MAX_BODY);
            goto out;
        }
    }
    rc = parse_reply(addr, &raw, out, err);
 out:
    close(fd);
    strbuf_free(&req);
    strbuf_free(&raw);
    return rc;
}

void httpc_reply_free(struct httpc_reply *r)
{
    free(r->body);
    free(r->content_type);
    memset(r, 0, sizeof *r);
}

/* httpc.h - a minimal HTTP/1.0 client for loopback use (joulectl talking to jouled's API, and
 * tests): one request per connection, the whole answer read up to a limit, with a deadline. */
#ifndef JOULE_UTIL_HTTPC_H
#define JOULE_UTIL_HTTPC_H

#include <stddef.h>

#include "util/err.h"

#define HTTPC_MAX_BODY (16u * 1024 * 1024)

struct httpc_reply {
    int status;         /* 200, 401, ... */
    char *body;         /* NUL-terminated, caller frees (httpc_reply_free) */
    size_t len;
    char *content_type; /* "" if none */
};

/* addr is "127.0.0.1:8642" (IPv4 literal or localhost). bearer may be NULL. */
int httpc_request(const char *addr, const char *method, const char *path, const char *bearer,
                  int timeout_ms, struct httpc_reply *out, struct joule_err *err);
void httpc_reply_free(struct httpc_reply *r);

#endif

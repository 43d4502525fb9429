#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int joule_err_set(struct joule_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int joule_err_prefix(struct joule_err *err, int code, const char *fmt, ...)
{
    if (err) {
        char head[JOULE_ERR_MSG_MAX];
        char tail[JOULE_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(head, sizeof head, fmt, ap);
        va_end(ap);
        memcpy(tail, err->msg, sizeof tail);
        size_t hn = strnlen(head, sizeof head - 1);
        size_t tn = strnlen(tail, sizeof tail - 1);
        if (hn + tn > sizeof err->msg - 1)
            tn = sizeof err->msg - 1 - hn;
        memcpy(err->msg, head, hn);
        memcpy(err->msg + hn, tail, tn);
        err->msg[hn + tn] = '\0';
        err->code = code;
    }
    return code;
}

void joule_err_clear(struct joule_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *joule_strerror(int code)
{
    switch (code) {
    case JOULE_OK: return "ok";
    case JOULE_EINVAL: return "invalid argument";
    case JOULE_ENOENT: return "not found";
    case JOULE_EIO: return "I/O error";
    case JOULE_ETIMEDOUT: return "timed out";
    case JOULE_ENOTSUP: return "not supported";
    case JOULE_EPROTO: return "protocol error";
    case JOULE_EBUSY: return "busy";
    case JOULE_ESTATE: return "invalid state";
    case JOULE_ECONFIG: return "configuration error";
    case JOULE_EUNAVAIL: return "unavailable";
    case JOULE_ENOSPC: return "no space";
    case JOULE_EPERM: return "not permitted";
    default: return "unknown error";
    }
}

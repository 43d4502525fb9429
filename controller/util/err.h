/* err.h - the one error idiom: return 0 / count or a negative JOULE_E*, fill struct joule_err. */
#ifndef JOULE_UTIL_ERR_H
#define JOULE_UTIL_ERR_H

enum {
    JOULE_OK = 0,
    JOULE_EINVAL = -1,
    JOULE_ENOENT = -2,
    JOULE_EIO = -3,
    JOULE_ETIMEDOUT = -4,
    JOULE_ENOTSUP = -5,
    JOULE_EPROTO = -6,
    JOULE_EBUSY = -7,
    JOULE_ESTATE = -8,
    JOULE_ECONFIG = -9,
    JOULE_EUNAVAIL = -10,
    JOULE_ENOSPC = -11,
    JOULE_EPERM = -12,
};

#define JOULE_ERR_MSG_MAX 256

struct joule_err {
    int code;
    char msg[JOULE_ERR_MSG_MAX];
};

/* Sets err (if non-NULL) and returns code, so a call site is one line. */
int joule_err_set(struct joule_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends context to err->msg ("meter m1: " + msg), sets code, returns code. */
int joule_err_prefix(struct joule_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void joule_err_clear(struct joule_err *err);
const char *joule_strerror(int code);

#endif

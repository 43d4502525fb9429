/* strbuf.h - a growable string. */
#ifndef JOULE_UTIL_STRBUF_H
#define JOULE_UTIL_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *s;     /* always NUL-terminated once anything was added */
    size_t len;
    size_t cap;
};

void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_add(struct strbuf *sb, const char *s, size_t n);
void strbuf_reset(struct strbuf *sb);
/* Returns the string (caller's) and empties sb. Never NULL. */
char *strbuf_steal(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);
/* Borrowed; "" when empty. */
const char *strbuf_str(const struct strbuf *sb);

#endif

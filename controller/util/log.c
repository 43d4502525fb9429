#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MAX_OVERRIDES 16
#define LOG_MOD_MAX 24

/* The log sink is the one piece of process-wide state outside main.c (STYLE.md §5). */
static struct {
    log_sink_fn *sink;
    void *sink_arg;
    enum log_level level;
    size_t n_over;
    struct {
        char mod[LOG_MOD_MAX];
        enum log_level level;
    } over[LOG_MAX_OVERRIDES];
} g_log = { .level = LOG_LEVEL_INFO };

const char *log_level_name(enum log_level level)
{
    switch (level) {
    case LOG_LEVEL_ERR: return "err";
    case LOG_LEVEL_WARN: return "warn";
    case LOG_LEVEL_NOTICE: return "notice";
    case LOG_LEVEL_INFO: return "info";
    case LOG_LEVEL_DEBUG: return "debug";
    }
    return "?";
}

static int parse_level(const char *s, size_t n, enum log_level *out)
{
    static const enum log_level all[] = { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_NOTICE,
                                          LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *name = log_level_name(all[i]);
        if (strlen(name) == n && strncmp(name, s, n) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return JOULE_EINVAL;
}

int log_set_levels(const char *spec, struct joule_err *err)
{
    enum log_level def = LOG_LEVEL_INFO;
    size_t n_over = 0;
    char mods[LOG_MAX_OVERRIDES][LOG_MOD_MAX];
    enum log_level lv[LOG_MAX_OVERRIDES];
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        enum log_level l;
        if (eq) {
            size_t mlen = (size_t)(eq - p);
            if (mlen == 0 || mlen >= LOG_MOD_MAX || n_over == LOG_MAX_OVERRIDES)
                return joule_err_set(err, JOULE_EINVAL, "bad module in log level '%.*s'", (int)n, p);
            if (parse_level(eq + 1, n - mlen - 1, &l) < 0)
                return joule_err_set(err, JOULE_EINVAL,
                                     "bad level in '%.*s' (err, warn, notice, info, debug)", (int)n, p);
            memcpy(mods[n_over], p, mlen);
            mods[n_over][mlen] = '\0';
            lv[n_over++] = l;
        } else if (n > 0) {
            if (parse_level(p, n, &l) < 0)
                return joule_err_set(err, JOULE_EINVAL,
                                     "bad log level '%.*s' (err, warn, notice, info, debug)", (int)n, p);
            def = l;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    g_log.level = def;
    g_log.n_over = n_over;
    for (size_t i = 0; i < n_over; i++) {
        memcpy(g_log.over[i].mod, mods[i], LOG_MOD_MAX);
        g_log.over[i].level = lv[i];
    }
    return 0;
}

bool log_enabled(enum log_level level, const char *mod)
{
    for (size_t i = 0; i < g_log.n_over; i++)
        if (strcmp(g_log.over[i].mod, mod) == 0)
            return level <= g_log.over[i].level;
    return level <= g_log.level;
}

void log_set_sink(log_sink_fn *fn, void *arg)
{
    g_log.sink = fn;
    g_log.sink_arg = arg;
}

void log_write(enum log_level level, const char *mod, const char *file, int line,
               const char *fmt, ...)
{
    char msg[1024];
    char full[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    if (level == LOG_LEVEL_DEBUG)
        snprintf(full, sizeof full, "%s.%03ldZ level=%s mod=%s %s src=%s:%d", stamp,
                 ts.tv_nsec / 1000000L, log_level_name(level), mod, msg, file, line);
    else
        snprintf(full, sizeof full, "%s.%03ldZ level=%s mod=%s %s", stamp, ts.tv_nsec / 1000000L,
                 log_level_name(level), mod, msg);
    if (g_log.sink) {
        g_log.sink(g_log.sink_arg, level, mod, full);
        return;
    }
    if (getenv("JOURNAL_STREAM"))
        fprintf(stderr, "<%d>%s\n", (int)level, full);
    else
        fprintf(stderr, "%s\n", full);
}

bool log_complain(struct log_complaint *c)
{
    c->count++;
    if (c->active)
        return false;
    c->active = true;
    return true;
}

unsigned long log_release(struct log_complaint *c)
{
    if (!c->active)
        return 0;
    unsigned long n = c->count;
    c->active = false;
    c->count = 0;
    return n;
}

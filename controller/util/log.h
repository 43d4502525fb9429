/* log.h - leveled, per-module, key=value logging with an injectable sink.
 * Macros are JLOG_* (not LOG_*) because <syslog.h>, pulled in by some library headers,
 * already defines LOG_ERR, LOG_INFO... */
#ifndef JOULE_UTIL_LOG_H
#define JOULE_UTIL_LOG_H

#include <stdbool.h>

#include "util/err.h"

enum log_level {
    LOG_LEVEL_ERR = 3,
    LOG_LEVEL_WARN = 4,
    LOG_LEVEL_NOTICE = 5,
    LOG_LEVEL_INFO = 6,
    LOG_LEVEL_DEBUG = 7,
};

/* A sink gets one formatted line (no trailing newline). */
typedef void log_sink_fn(void *arg, enum log_level level, const char *mod, const char *line);

/* Default sink: stderr, "<N>" priority prefix when JOURNAL_STREAM is set (journald). */
void log_set_sink(log_sink_fn *fn, void *arg);
/* "info,meter=debug,store=warn": default level then per-module overrides. */
int log_set_levels(const char *spec, struct joule_err *err);
bool log_enabled(enum log_level level, const char *mod);
void log_write(enum log_level level, const char *mod, const char *file, int line,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *log_level_name(enum log_level level);

#define JLOG_(lvl, ...)                                                                            \
    do {                                                                                           \
        if (log_enabled(lvl, LOG_MODULE))                                                          \
            log_write(lvl, LOG_MODULE, __FILE__, __LINE__, __VA_ARGS__);                           \
    } while (0)
#define JLOG_ERR(...) JLOG_(LOG_LEVEL_ERR, __VA_ARGS__)
#define JLOG_WARN(...) JLOG_(LOG_LEVEL_WARN, __VA_ARGS__)
#define JLOG_NOTICE(...) JLOG_(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define JLOG_INFO(...) JLOG_(LOG_LEVEL_INFO, __VA_ARGS__)
#define JLOG_DEBUG(...) JLOG_(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Complaint throttling (collectd's c_complain): log once when a failure starts, once when it
 * clears, with the number of repeats. */
struct log_complaint {
    bool active;
    unsigned long count;
};
/* Returns true when this failure should be logged now (the first of a run). */
bool log_complain(struct log_complaint *c);
/* Returns the number of failures in the run that just ended (0 if none was active). */
unsigned long log_release(struct log_complaint *c);

#endif

/* cfgutil.h - typed libconfig getters with range checks and file:line errors (collectd's
 * cf_util_get_*). Every error is collected, so a whole file is reported at once. */
#ifndef JOULE_UTIL_CFGUTIL_H
#define JOULE_UTIL_CFGUTIL_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg_errors {
    char **msgs;   /* each "file:line: key: what (allowed)" */
    size_t n;
    size_t cap;
};

void cfg_errors_addf(struct cfg_errors *e, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds an error at a file and line given directly (parse errors, files without settings). */
void cfg_errors_add_at(struct cfg_errors *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cfg_errors_free(struct cfg_errors *e);
/* "file:line" of a setting; file "<string>" when parsed from memory. */
void cfg_where(const config_setting_t *s, char *buf, size_t n);

/* Each getter: missing key -> *out untouched, returns false. Present key of a wrong type or out of
 * range -> error collected, *out untouched, returns false. Otherwise *out set, returns true. */
bool cfg_get_int(const config_setting_t *grp, const char *key, long long min, long long max,
                 long long *out, struct cfg_errors *e);
bool cfg_get_double(const config_setting_t *grp, const char *key, double min, double max,
                    double *out, struct cfg_errors *e);
bool cfg_get_bool(const config_setting_t *grp, const char *key, bool *out, struct cfg_errors *e);
/* *out is a new string (caller frees the old value first if any: this function frees *out before
 * replacing it). */
bool cfg_get_str(const config_setting_t *grp, const char *key, char **out, struct cfg_errors *e);
/* One of `choices` (NULL-terminated); *out is the index. */
bool cfg_get_enum(const config_setting_t *grp, const char *key, const char *const *choices,
                  int *out, struct cfg_errors *e);
/* An array or list of strings; *out is a NULL-terminated vector (freed with cfg_strv_free). */
bool cfg_get_strv(const config_setting_t *grp, const char *key, char ***out, size_t *n,
                  struct cfg_errors *e);
void cfg_strv_free(char **v);
/* Any member of grp (a group) not in `keys` (NULL-terminated) is an error. */
void cfg_check_keys(const config_setting_t *grp, const char *const *keys, struct cfg_errors *e);

#endif

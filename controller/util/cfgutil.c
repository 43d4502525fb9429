#include "util/cfgutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

void cfg_where(const config_setting_t *s, char *buf, size_t n)
{
    const char *file = s ? config_setting_source_file(s) : NULL;
    unsigned line = s ? config_setting_source_line(s) : 0;
    snprintf(buf, n, "%s:%u", file ? file : "<string>", line);
}

static void add_msg(struct cfg_errors *e, char *msg)
{
    xgrow((void **)&e->msgs, &e->cap, e->n + 1, sizeof *e->msgs);
    e->msgs[e->n++] = msg;
}

void cfg_errors_addf(struct cfg_errors *e, const config_setting_t *at, const char *fmt, ...)
{
    char where[512], body[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    cfg_where(at, where, sizeof where);
    add_msg(e, xasprintf("%s: %s", where, body));
}

void cfg_errors_add_at(struct cfg_errors *e, const char *file, int line, const char *fmt, ...)
{
    char body[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    add_msg(e, xasprintf("%s:%d: %s", file ? file : "<string>", line, body));
}

void cfg_errors_free(struct cfg_errors *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->msgs[i]);
    free(e->msgs);
    memset(e, 0, sizeof *e);
}

static const char *type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "true or false";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    case CONFIG_TYPE_GROUP: return "a group";
    default: return "a value";
    }
}

bool cfg_get_int(const config_setting_t *grp, const char *key, long long min, long long max,
                 long long *out, struct cfg_errors *e)
{
    config_setting_t *s = grp ? config_setting_get_member(grp, key) : NULL;
    if (!s)
        return false;
    int t = config_setting_type(s);
    long long v;
    if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
        v = config_setting_get_int64(s);
    } else if (t == CONFIG_TYPE_FLOAT) {
        double d = config_setting_get_float(s);
        if (d != floor(d) || fabs(d) > 9e15) {
            cfg_errors_addf(e, s, "%s: %g is not a whole number", key, d);
            return false;
        }
        v = (long long)d;
    } else {
        cfg_errors_addf(e, s, "%s: expected an integer, found %s", key, type_name(t));
        return false;
    }
    if (v < min || v > max) {
        cfg_errors_addf(e, s, "%s: %lld is out of range (%lld..%lld)", key, v, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool cfg_get_double(const config_setting_t *grp, const char *key, double min, double max,
                    double *out, struct cfg_errors *e)
{
    config_setting_t *s = grp ? config_setting_get_member(grp, key) : NULL;
    if (!s)
        return false;
    int t = config_setting_type(s);
    double v;
    if (t == CONFIG_TYPE_FLOAT)
        v = config_setting_get_float(s);
    else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
        v = (double)config_setting_get_int64(s);
    else {
        cfg_errors_addf(e, s, "%s: expected a number, found %s", key, type_name(t));
        return false;
    }
    if (!(v >= min && v <= max)) {
        cfg_errors_addf(e, s, "%s: %g is out of range (%g..%g)", key, v, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool cfg_get_bool(const config_setting_t *grp, const char *key, bool *out, struct cfg_errors *e)
{
    config_setting_t *s = grp ? config_setting_get_member(grp, key) : NULL;
    if (!s)
        return false;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        cfg_errors_addf(e, s, "%s: expected true or false, found %s", key,
                        type_name(config_setting_type(s)));
        return false;
    }
    *out = config_setting_get_bool(s) != 0;
    return true;
}

bool cfg_get_str(const config_setting_t *grp, const char *key, char **out, struct cfg_errors *e)
{
    config_setting_t *s = grp ? config_setting_get_member(grp, key) : NULL;
    if (!s)
        return false;
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        cfg_errors_addf(e, s, "%s: expected a string, found %s", key,
                        type_name(config_setting_type(s)));
        return false;
    }
    free(*out);
    *out = xstrdup(config_setting_get_string(s));
    return true;
}

bool cfg_get_enum(const config_setting_t *grp, const char *key, const char *const *choices,
                  int *out, struct cfg_errors *e)
{
    config_setting_t *s = grp ? config_setting_get_member(grp, key) : NULL;
    if (!s)
        return false;
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        cfg_errors_addf(e, s, "%s: expected a string, found %s", key,
                        type_name(config_setting_type(s)));
        return false;
    }
    const char *v = config_setting_get_string(s);
    char allowed[256] = "";
    size_t used = 0;
    for (int i = 0; choices[i]; i++) {
        if (strcmp(v, choices[i]) == 0) {
            *out = i;
            return true;
        }
        int n = snprintf(allowed + used, sizeof allowed - used, "%s%s", i ? ", " : "", choices[i]);
        if (n > 0 && (size_t)n < sizeof allowed - used)
            used += (size_t)n;
    }
    cfg_errors_addf(e, s, "%s: \"%s\" is not allowed (%s)", key, v, allowed);
    return false;
}

void cfg_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

bool cfg_get_strv(const config_setting_t *grp, const char *key, char ***out, size_t *n,
                  struct cfg_errors *e)
{
    config_setting_t *s = grp ? config_setting_get_member(grp, key) : NULL;
    if (!s)
        return false;
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
        cfg_errors_addf(e, s, "%s: expected an array of strings, found %s", key, type_name(t));
        return false;
    }
    int len = config_setting_length(s);
    char **v = xcalloc((size_t)len + 1, sizeof *v);
    for (int i = 0; i < len; i++) {
        config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
        if (config_setting_type(el) != CONFIG_TYPE_STRING) {
            cfg_errors_addf(e, s, "%s: element %d is not a string", key, i + 1);
            cfg_strv_free(v);
            return false;
        }
        v[i] = xstrdup(config_setting_get_string(el));
    }
    cfg_strv_free(*out);
    *out = v;
    if (n)
        *n = (size_t)len;
    return true;
}

void cfg_check_keys(const config_setting_t *grp, const char *const *keys, struct cfg_errors *e)
{
    if (!grp || !config_setting_is_group(grp))
        return;
    int len = config_setting_length(grp);
    for (int i = 0; i < len; i++) {
        config_setting_t *m = config_setting_get_elem(grp, (unsigned)i);
        const char *name = config_setting_name(m);
        bool known = false;
        for (const char *const *k = keys; *k && !known; k++)
            known = strcmp(*k, name) == 0;
        if (!known) {
            const char *parent = config_setting_name(grp);
            cfg_errors_addf(e, m, "%s: unknown setting%s%s", name, parent ? " in " : "",
                            parent ? parent : "");
        }
    }
}

/* api_client.c - how joulectl reaches jouled's API: the address and token from the config
 * (api.listen, api.token_file), overridable with --addr / --token-file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "api_client.h"
#include "joulectl.h"
#include "util/xalloc.h"

#define DEFAULT_CONFIG "/etc/joule/jouled.conf"
#define DEFAULT_ADDR "127.0.0.1:8642"
#define TOKEN_MAX 512

static int read_token(const char *path, char **out)
{
    struct joule_err err;
    if (config_check_private_file(path, &err) < 0) {
        fprintf(stderr, "joulectl: token file %s\n", err.msg);
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "joulectl: cannot read token file %s\n", path);
        return -1;
    }
    char buf[TOKEN_MAX] = "";
    char *ok = fgets(buf, sizeof buf, f);
    fclose(f);
    size_t n = ok ? strlen(buf) : 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (n == 0) {
        fprintf(stderr, "joulectl: token file %s is empty\n", path);
        return -1;
    }
    *out = xstrdup(buf);
    memset(buf, 0, sizeof buf);
    return 0;
}

int joulectl_api_target(const char *config_path, const char *addr, const char *token_file,
                        bool need_token, struct joulectl_target *out)
{
    memset(out, 0, sizeof *out);
    struct config *cfg = NULL;
    bool explicit_cfg = config_path != NULL;
    if (!config_path)
        config_path = DEFAULT_CONFIG;
    if (!addr || (need_token && !token_file)) {
        char *errors = NULL;
        FILE *probe = fopen(config_path, "r");
        if (probe) {
            fclose(probe);
            if (config_load(config_path, &cfg, &errors) < 0) {
                fputs(errors, stderr);
                free(errors);
                return JOULECTL_EXIT_CONFIG;
            }
        } else if (explicit_cfg) {
            fprintf(stderr, "joulectl: cannot read %s\n", config_path);
            return JOULECTL_EXIT_CONFIG;
        }
    }
    if (addr)
        out->addr = xstrdup(addr);
    else if (cfg && cfg->api.listen[0])
        out->addr = xstrdup(cfg->api.listen);
    else if (cfg) {
        fprintf(stderr, "joulectl: %s: api.listen is empty (the API is off)\n", config_path);
        config_free(cfg);
        return JOULECTL_EXIT_FAIL;
    } else
        out->addr = xstrdup(DEFAULT_ADDR);
    if (need_token) {
        if (token_file) {
            if (read_token(token_file, &out->token) < 0) {
                config_free(cfg);
                joulectl_target_free(out);
                return JOULECTL_EXIT_FAIL;
            }
        } else if (cfg && cfg->api.token) {
            out->token = xstrdup(cfg->api.token);
        } else {
            fprintf(stderr, "joulectl: no API token: give --token-file or a config whose "
                            "api.token_file exists\n");
            config_free(cfg);
            joulectl_target_free(out);
            return JOULECTL_EXIT_FAIL;
        }
    }
    config_free(cfg);
    return JOULECTL_EXIT_OK;
}

void joulectl_target_free(struct joulectl_target *t)
{
    free(t->addr);
    if (t->token) {
        memset(t->token, 0, strlen(t->token));
        free(t->token);
    }
    memset(t, 0, sizeof *t);
}

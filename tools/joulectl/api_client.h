/* api_client.h - how joulectl commands reach jouled's API (api_client.c). */
#ifndef JOULECTL_API_CLIENT_H
#define JOULECTL_API_CLIENT_H

#include <stdbool.h>
/* Where jouled's API is (api_client.c). */
#include <stdbool.h>
struct joulectl_target {
    char *addr;   /* "127.0.0.1:8642" */
    char *token;  /* NULL unless asked for */
};
/* config_path NULL = the default config (if it exists); addr / token_file override it.
 * Returns a JOULECTL_EXIT_* code (OK on success). */
int joulectl_api_target(const char *config_path, const char *addr, const char *token_file,
                        bool need_token, struct joulectl_target *out);
void joulectl_target_free(struct joulectl_target *t);

#endif

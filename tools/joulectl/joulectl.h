/* joulectl.h - the operator CLI: one file per command (cmd_<name>.c), one table in main.c.
 * Exit codes (DESIGN.md): 0 ok, 1 failure, 2 usage, 78 config error. */
#ifndef JOULECTL_H
#define JOULECTL_H

#define JOULECTL_EXIT_OK 0
#define JOULECTL_EXIT_FAIL 1
#define JOULECTL_EXIT_USAGE 2
#define JOULECTL_EXIT_CONFIG 78

struct joulectl_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

int cmd_check_config(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_run(int argc, char **argv);

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
int cmd_plan(int argc, char **argv);
int cmd_meter(int argc, char **argv);

#endif

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

int cmd_plan(int argc, char **argv);
int cmd_meter(int argc, char **argv);
int cmd_power(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_replay(int argc, char **argv);

#endif

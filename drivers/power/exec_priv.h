/* exec_priv.h - the command runner of the exec power driver, exposed for tests. */
#ifndef JOULE_POWER_EXEC_PRIV_H
#define JOULE_POWER_EXEC_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* A copy of argv with "{host}" and "{mac}" replaced inside each argument (nothing else is
 * interpreted). NULL-terminated; free each string and the array. */
char **exec_expand_argv(char *const *argv, const char *host, const char *mac);
/* Runs argv (argv[0] absolute) with posix_spawn, no shell, stdin /dev/null, output captured;
 * kills its process group after timeout_ns (JOULE_ETIMEDOUT). On 0, *exit_status is the exit
 * code and output (if given) holds the last bytes of stdout+stderr. */
int exec_run(char *const *argv, int64_t timeout_ns, int *exit_status, char *output,
             size_t output_size, struct joule_err *err);

#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "joulectl.h"

int cmd_check_config(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc == 2 ? stdout : stderr,
                "usage: joulectl check-config FILE\n"
                "Prints every error as file:line: key: what; exit 0 valid, 78 invalid.\n"
                "Warnings (file:line: warning: ...) go to stderr and leave the exit code 0.\n"
                "example: joulectl check-config /etc/joule/jouled.conf\n");
        return argc == 2 ? JOULECTL_EXIT_OK : JOULECTL_EXIT_USAGE;
    }
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load(argv[1], &cfg, &errors) < 0) {
        fputs(errors, stderr);
        free(errors);
        return JOULECTL_EXIT_CONFIG;
    }
    if (cfg->warnings)
        fputs(cfg->warnings, stderr);
    printf("%s: ok (%zu hosts)\n", argv[1], cfg->n_hosts);
    config_free(cfg);
    return JOULECTL_EXIT_OK;
}

/* main.c - jouled: arguments, signals, wiring, event loop. The only place that exits. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "registry.h"

#define EXIT_USAGE 2
#define EXIT_CONFIG 78 /* EX_CONFIG */
#define DEFAULT_CONFIG "/etc/joule/jouled.conf"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: jouled [--config FILE] [--foreground]\n"
            "       jouled --check-config FILE\n"
            "       jouled --version\n"
            "\n"
            "  -c, --config FILE        configuration (default " DEFAULT_CONFIG ")\n"
            "  -t, --check-config FILE  validate FILE, print every error as file:line, exit\n"
            "                           (0 valid, 78 invalid)\n"
            "  -V, --version            version and the drivers built in\n"
            "\n"
            "example: jouled --check-config /etc/joule/jouled.conf\n");
}

static int check_config(const char *path)
{
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load(path, &cfg, &errors) < 0) {
        fputs(errors, stderr);
        free(errors);
        return EXIT_CONFIG;
    }
    printf("%s: ok (%zu hosts, mode %s, policy %s, balance %s)\n", path, cfg->n_hosts,
           config_mode_name(cfg->mode), config_algorithm_name(cfg->policy.algorithm),
           config_balance_name(cfg->policy.balance));
    config_free(cfg);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", required_argument, NULL, 't' },
        { "foreground", no_argument, NULL, 'f' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = DEFAULT_CONFIG;
    int c;
    while ((c = getopt_long(argc, argv, "c:t:fVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 't':
            return check_config(optarg);
        case 'f':
            break;
        case 'V': {
            char drivers[512];
            registry_describe(drivers, sizeof drivers);
            printf("jouled %s\n%s\n", JOULE_VERSION, drivers);
            return 0;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load(config_path, &cfg, &errors) < 0) {
        fputs(errors, stderr);
        free(errors);
        return EXIT_CONFIG;
    }
    fprintf(stderr, "jouled: the control loop is not built yet (issue 10); use --check-config\n");
    config_free(cfg);
    return 1;
}

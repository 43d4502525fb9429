/* cmd_run.c - joulectl run consolidate --now | run round --now: ask jouled for a policy round
 * at once (consolidate: Th2 consolidation allowed for that round even outside off-peak). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "api_client.h"
#include "joulectl.h"
#include "util/httpc.h"

#define TIMEOUT_MS 5000

static void usage(FILE *f)
{
    fprintf(f, "usage: joulectl run consolidate|round --now [--config FILE] [--addr HOST:PORT]\n"
               "                    [--token-file FILE]\n"
               "Starts a policy round now. consolidate: an off-peak power-saving run (empty\n"
               "hosts, power them off) even outside the off-peak window; round: the usual round.\n"
               "Needs the API token (api.token_file of the config, or --token-file).\n"
               "example: joulectl run consolidate --now\n");
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "addr", required_argument, NULL, 'a' },
        { "token-file", required_argument, NULL, 'k' },
        { "now", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *addr = NULL, *token_file = NULL;
    bool now = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:a:k:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'a':
            addr = optarg;
            break;
        case 'k':
            token_file = optarg;
            break;
        case 'n':
            now = true;
            break;
        case 'h':
            usage(stdout);
            return JOULECTL_EXIT_OK;
        default:
            usage(stderr);
            return JOULECTL_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !now ||
        (strcmp(argv[optind], "consolidate") != 0 && strcmp(argv[optind], "round") != 0)) {
        usage(stderr);
        return JOULECTL_EXIT_USAGE;
    }
    const char *what = argv[optind];
    struct joulectl_target t;
    int rc = joulectl_api_target(config, addr, token_file, true, &t);
    if (rc != JOULECTL_EXIT_OK)
        return rc;
    char path[64];
    snprintf(path, sizeof path, "/run?action=%s", what);
    struct httpc_reply r;
    struct joule_err err = { 0 };
    rc = httpc_request(t.addr, "POST", path, t.token, TIMEOUT_MS, &r, &err);
    joulectl_target_free(&t);
    if (rc < 0) {
        fprintf(stderr, "joulectl: jouled: %s\n", err.msg);
        return JOULECTL_EXIT_FAIL;
    }
    if (r.status != 200) {
        fprintf(stderr, "joulectl: run %s refused (%d): %s", what, r.status, r.body);
        httpc_reply_free(&r);
        return JOULECTL_EXIT_FAIL;
    }
    printf("run %s requested: jouled plans it at its next tick (see joulectl status)\n", what);
    httpc_reply_free(&r);
    return JOULECTL_EXIT_OK;
}

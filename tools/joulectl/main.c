/* joulectl - status, plans, reports, replay and power for operators. */
#include <stdio.h>
#include <string.h>

#include "joulectl.h"

static const struct joulectl_cmd commands[] = {
    { "check-config", "validate a jouled configuration file", cmd_check_config },
    { "status", "hosts, VMs, state and last plan of the running jouled", cmd_status },
    { "run", "start a policy round now (run consolidate --now)", cmd_run },
    { "plan", "show the plan for a cluster snapshot (--dry-run)", cmd_plan },
    { "meter", "decode bytes captured from a ZigBee coordinator", cmd_meter },
    { "power", "switch a host on/off or read its power state", cmd_power },
    { "report", "energy, savings, migrations, power actions and events from MongoDB", cmd_report },
    { "replay", "replay a workload trace through a policy on a simulated cluster", cmd_replay },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: joulectl COMMAND [ARGS...]   (joulectl COMMAND --help for details)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexample: joulectl check-config /etc/joule/jouled.conf\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return JOULECTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return JOULECTL_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "joulectl: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return JOULECTL_EXIT_USAGE;
}

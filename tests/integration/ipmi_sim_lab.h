/* ipmi_sim_lab.h - start and stop OpenIPMI's ipmi_sim on 127.0.0.1 for tests: one instance per
 * fake host, a free UDP port each, a fresh state directory, and a chassis_control script that
 * keeps the host's power in a file (DIR/power: 0 or 1). DIR/soft = "ignore" makes the fake OS
 * ignore soft (ACPI) shutdowns; every script call is appended to DIR/calls. */
#ifndef JOULE_TEST_IPMI_SIM_LAB_H
#define JOULE_TEST_IPMI_SIM_LAB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define IPMI_LAB_USER "joule"
#define IPMI_LAB_PASSWORD "s3cret-pw"
#define IPMI_LAB_OPERATOR "oper" /* same password, operator privilege only */
/* A watts sensor (4 W steps) reading DIR/watts, with its SDR compiled by sdrcomp. */
#define IPMI_LAB_WATTS_SENSOR 2
#define IPMI_LAB_WATTS_SENSOR_STR "2"

struct ipmi_sim_inst {
    char *dir;        /* owned: the instance's directory */
    unsigned port;
    pid_t pid;        /* started by us; -1 when not running */
    bool stopped;     /* SIGSTOPped */
};

/* 0 ok, 77 (or 1 under JOULE_CI) when ipmi_sim is missing, -1 on failure (message printed). */
int ipmi_lab_start(struct ipmi_sim_inst *s, const char *parent_dir, const char *name,
                   int initial_power);
void ipmi_lab_stop(struct ipmi_sim_inst *s);
/* Waits until the BMC answers a chassis status (FreeIPMI), up to timeout_ms. */
int ipmi_lab_wait_ready(struct ipmi_sim_inst *s, int timeout_ms);
int ipmi_lab_power(const struct ipmi_sim_inst *s);                 /* -1 if unreadable */
void ipmi_lab_set_power(const struct ipmi_sim_inst *s, int on);
void ipmi_lab_set_watts(const struct ipmi_sim_inst *s, int watts);
void ipmi_lab_set_soft(const struct ipmi_sim_inst *s, bool ignore);
bool ipmi_lab_calls_contain(const struct ipmi_sim_inst *s, const char *line);
void ipmi_lab_freeze(struct ipmi_sim_inst *s, bool frozen);        /* SIGSTOP / SIGCONT */
unsigned ipmi_lab_free_udp_port(void);
int64_t ipmi_lab_mono_ns(void);

#endif

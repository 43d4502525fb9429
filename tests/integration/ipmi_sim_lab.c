/* ipmi_sim_lab.c - see ipmi_sim_lab.h. */
#define _GNU_SOURCE
#include "ipmi_sim_lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <freeipmi/freeipmi.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/test_support.h"
#include "util/xalloc.h"

#define IPMI_SIM_BIN "/usr/bin/ipmi_sim"
#define SDRCOMP_BIN "/usr/bin/sdrcomp"

/* One full sensor record: system power in watts, 4 W per raw step (0..1020 W). */
static const char watts_sdrs[] =
    "sdr type 1\n"
    "  sensor_owner_id 0x20\n  sensor_owner_lun 0\n  channel_number 0\n"
    "  sensor_number " IPMI_LAB_WATTS_SENSOR_STR "\n"
    "  entity_id system_board\n  entity_instance 1\n  sensor_type Current\n"
    "  init_scanning true\n  init_sensor_type true\n  default_sensor_scan_on true\n"
    "  event_reading_type_code 1\n  analog_data_format unsigned\n  rate_unit none\n"
    "  modifier_unit none\n  percentage false\n  base_unit Watts\n"
    "  modifier_unit_code unspecified\n  linearization linear\n  m 4\n  tolerance 0\n"
    "  b 0\n  accuracy 1\n  accuracy_exp 0\n  sensor_direction input\n  r_exp 0\n"
    "  b_exp 0\n  sensor_maximum 255\n  sensor_minimum 0\n  id_string \"SysPower\"\n"
    "endsdr\n";

extern char **environ;

int64_t ipmi_lab_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

unsigned ipmi_lab_free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void write_text(const char *dir, const char *name, const char *text, mode_t mode)
{
    char *p = joule_test_write_file(dir, name, text, mode);
    free(p);
}

int ipmi_lab_start(struct ipmi_sim_inst *s, const char *parent_dir, const char *name,
                   int initial_power)
{
    memset(s, 0, sizeof *s);
    s->pid = -1;
    if (access(IPMI_SIM_BIN, X_OK) != 0)
        return joule_test_skip("ipmi_sim (package openipmi) is not installed; run tools/setup");
    s->dir = xasprintf("%s/%s", parent_dir, name);
    char *state = xasprintf("%s/state", s->dir);
    char *sim_dir = xasprintf("%s/ipmi_sim", state);
    char *inst_dir = xasprintf("%s/joule_%s", sim_dir, name);
    bool made = mkdir(s->dir, 0700) == 0 && mkdir(state, 0700) == 0 && mkdir(sim_dir, 0700) == 0 &&
                mkdir(inst_dir, 0700) == 0;
    free(sim_dir);
    if (!made) {
        free(inst_dir);
        fprintf(stderr, "ipmi lab: mkdir %s: %s\n", s->dir, strerror(errno));
        free(state);
        return -1;
    }
    s->port = ipmi_lab_free_udp_port();
    if (!s->port) {
        free(state);
        return -1;
    }
    write_text(s->dir, "power", initial_power ? "1\n" : "0\n", 0600);
    write_text(s->dir, "soft", "ok\n", 0600);
    write_text(s->dir, "calls", "", 0600);
    write_text(s->dir, "watts", "180\n", 0600);
    write_text(s->dir, "watts.sdrs", watts_sdrs, 0600);
    /* the SDR repository: compiled with sdrcomp into the state directory */
    char *sdr_src = xasprintf("%s/watts.sdrs", s->dir);
    char *sdr_out = xasprintf("%s/sdr.20.main", inst_dir);
    char *cargv[] = { "sdrcomp", "-o", sdr_out, sdr_src, NULL };
    pid_t cpid;
    int cst = -1;
    if (posix_spawn(&cpid, SDRCOMP_BIN, NULL, NULL, cargv, environ) == 0)
        waitpid(cpid, &cst, 0);
    free(sdr_src);
    free(sdr_out);
    free(inst_dir);
    if (cst != 0) {
        fprintf(stderr, "ipmi lab: sdrcomp failed (status %d)\n", cst);
        free(state);
        return -1;
    }
    char *script = xasprintf(
        "#!/bin/sh\n"
        "# chassis_control for ipmi_sim: the fake host's power lives in %s/power\n"
        "d='%s'\n"
        "echo \"$*\" >> \"$d/calls\"\n"
        "case \"$1 $2\" in\n"
        "  'get power') printf 'power:%%s\\n' \"$(cat \"$d/power\")\" ;;\n"
        "  'set power') echo \"$3\" > \"$d/power.new\" && mv \"$d/power.new\" \"$d/power\" ;;\n"
        "  'set shutdown') if [ \"$(cat \"$d/soft\")\" != ignore ]; then echo 0 > \"$d/power.new\" "
        "&& mv \"$d/power.new\" \"$d/power\"; fi ;;\n"
        "esac\n"
        "exit 0\n",
        s->dir, s->dir);
    write_text(s->dir, "chassis.sh", script, 0700);
    free(script);
    char *lan = xasprintf(
        "name \"joule_%s\"\n"
        "set_working_mc 0x20\n"
        "  startlan 1\n"
        "    addr 127.0.0.1 %u\n"
        "    priv_limit admin\n"
        "    allowed_auths_callback none md2 md5 straight\n"
        "    allowed_auths_user none md2 md5 straight\n"
        "    allowed_auths_operator none md2 md5 straight\n"
        "    allowed_auths_admin none md2 md5 straight\n"
        "    guid a123456789abcdefa123456789abcdef\n"
        "  endlan\n"
        "  chassis_control \"%s/chassis.sh\"\n"
        "  user 2 true \"%s\" \"%s\" admin 10 none md2 md5 straight\n"
        "  user 3 true \"%s\" \"%s\" operator 10 none md2 md5 straight\n",
        name, s->port, s->dir, IPMI_LAB_USER, IPMI_LAB_PASSWORD, IPMI_LAB_OPERATOR,
        IPMI_LAB_PASSWORD);
    write_text(s->dir, "lan.conf", lan, 0600);
    free(lan);
    char *emu = xasprintf("mc_setbmc 0x20\n"
                          "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
                          "sel_enable 0x20 1000 0x0a\n"
                          "sensor_add 0x20 0 %d 0x03 0x01 poll 200 file \"%s/watts\" div=4\n"
                          "mc_enable 0x20\n",
                          IPMI_LAB_WATTS_SENSOR, s->dir);
    write_text(s->dir, "bmc.emu", emu, 0600);
    free(emu);

    char *lanp = xasprintf("%s/lan.conf", s->dir);
    char *emup = xasprintf("%s/bmc.emu", s->dir);
    char *logp = xasprintf("%s/ipmi_sim.log", s->dir);
    char *argv[] = { "ipmi_sim", "-c", lanp, "-f", emup, "-s", state, "-n", NULL };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(&s->pid, IPMI_SIM_BIN, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    free(lanp);
    free(emup);
    free(logp);
    free(state);
    if (rc != 0) {
        fprintf(stderr, "ipmi lab: spawn ipmi_sim: %s\n", strerror(rc));
        s->pid = -1;
        return -1;
    }
    return 0;
}

void ipmi_lab_freeze(struct ipmi_sim_inst *s, bool frozen)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, frozen ? SIGSTOP : SIGCONT);
    s->stopped = frozen;
}

void ipmi_lab_stop(struct ipmi_sim_inst *s)
{
    if (s->pid > 0) {
        if (s->stopped)
            kill(s->pid, SIGCONT);
        kill(s->pid, SIGTERM);
        int64_t deadline = ipmi_lab_mono_ns() + 3000000000LL;
        int st;
        pid_t w;
        while ((w = waitpid(s->pid, &st, WNOHANG)) == 0 && ipmi_lab_mono_ns() < deadline)
            nap_ms(10);
        if (w == 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
        }
        s->pid = -1;
    }
    free(s->dir);
    s->dir = NULL;
}

int ipmi_lab_wait_ready(struct ipmi_sim_inst *s, int timeout_ms)
{
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%u", s->port);
    int64_t deadline = ipmi_lab_mono_ns() + (int64_t)timeout_ms * 1000000LL;
    while (ipmi_lab_mono_ns() < deadline) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            fprintf(stderr, "ipmi lab: ipmi_sim exited early (see %s/ipmi_sim.log)\n", s->dir);
            s->pid = -1;
            return -1;
        }
        ipmi_ctx_t ctx = ipmi_ctx_create();
        if (ipmi_ctx_open_outofband_2_0(ctx, host, IPMI_LAB_USER, IPMI_LAB_PASSWORD, NULL, 0,
                                        IPMI_PRIVILEGE_LEVEL_ADMIN, 3, 300, 100,
                                        IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE,
                                        IPMI_FLAGS_DEFAULT) == 0) {
            ipmi_ctx_close(ctx);
            ipmi_ctx_destroy(ctx);
            return 0;
        }
        ipmi_ctx_destroy(ctx);
        nap_ms(50);
    }
    fprintf(stderr, "ipmi lab: ipmi_sim on port %u did not answer within %d ms\n", s->port,
            timeout_ms);
    return -1;
}

static char *read_file(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    free(p);
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

int ipmi_lab_power(const struct ipmi_sim_inst *s)
{
    char *t = read_file(s->dir, "power");
    int v = t && (t[0] == '0' || t[0] == '1') ? t[0] - '0' : -1;
    free(t);
    return v;
}

void ipmi_lab_set_power(const struct ipmi_sim_inst *s, int on)
{
    write_text(s->dir, "power", on ? "1\n" : "0\n", 0600);
}

void ipmi_lab_set_watts(const struct ipmi_sim_inst *s, int watts)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%d\n", watts);
    write_text(s->dir, "watts", buf, 0600);
}

void ipmi_lab_set_soft(const struct ipmi_sim_inst *s, bool ignore)
{
    write_text(s->dir, "soft", ignore ? "ignore\n" : "ok\n", 0600);
}

bool ipmi_lab_calls_contain(const struct ipmi_sim_inst *s, const char *line)
{
    char *t = read_file(s->dir, "calls");
    bool found = t && strstr(t, line);
    free(t);
    return found;
}

/* main.c - jouled: arguments, signals, wiring, event loop. The only place that exits.
 * One epoll loop: a timerfd for the tick, a signalfd for SIGTERM/SIGINT/SIGHUP, the API's
 * epoll fd and the executor's eventfd. The process time zone is set here, once per config
 * (setenv TZ + tzset), because localtime_r reads process-wide state; no other thread reads it. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "registry.h"

#define LOG_MODULE "main"
#include "util/log.h"

#define EXIT_USAGE 2
#define EXIT_CONFIG 78 /* EX_CONFIG */
#define DEFAULT_CONFIG "/etc/joule/jouled.conf"
#define MAX_EVENTS 8
#define MAX_CATCH_UP_TICKS 16

enum { TAG_TIMER = 1, TAG_SIGNAL, TAG_API, TAG_EXECUTOR };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: jouled [--config FILE] [--dry-run] [--foreground]\n"
            "       jouled --check-config FILE\n"
            "       jouled --version\n"
            "\n"
            "  -c, --config FILE        configuration (default " DEFAULT_CONFIG ")\n"
            "  -n, --dry-run            store and show plans, never act (overrides mode)\n"
            "  -f, --foreground         accepted for compatibility: jouled never forks (systemd\n"
            "                           Type=simple); logs go to stderr / the journal\n"
            "  -t, --check-config FILE  validate FILE, print every error as file:line, exit\n"
            "                           (0 valid, 78 invalid)\n"
            "  -V, --version            version and the drivers built in\n"
            "\n"
            "signals: SIGHUP reloads the config (an invalid one is rejected, the old one stays);\n"
            "         SIGTERM aborts a running migration, flushes the store and exits 0.\n"
            "\n"
            "example: jouled --config /etc/joule/jouled.conf --dry-run\n");
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
    if (cfg->warnings)
        fputs(cfg->warnings, stderr);
    printf("%s: ok (%zu hosts, mode %s, policy %s, balance %s)\n", path, cfg->n_hosts,
           config_mode_name(cfg->mode), config_algorithm_name(cfg->policy.algorithm),
           config_balance_name(cfg->policy.balance));
    config_free(cfg);
    return 0;
}

static void set_timezone(const char *tz)
{
    /* the process-wide zone localtime_r uses (trigger.c evaluates windows with it) */
    setenv("TZ", tz, 1);
    tzset();
}

/* config_load's warnings (accepted, but worth an operator's attention), one line each. */
static void log_config_warnings(const struct config *cfg)
{
    if (!cfg->warnings)
        return;
    char *copy = strdup(cfg->warnings);
    if (!copy)
        return;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        JLOG_WARN("event=config_warning detail=\"%s\"", line);
    free(copy);
}

static int arm_timer(int tfd, int64_t interval_ns, bool now)
{
    struct itimerspec its = { 0 };
    its.it_interval.tv_sec = interval_ns / 1000000000LL;
    its.it_interval.tv_nsec = interval_ns % 1000000000LL;
    its.it_value = now ? (struct timespec){ 0, 1 } : its.it_interval;
    return timerfd_settime(tfd, 0, &its, NULL);
}

static void epoll_add(int ep, int fd, uint64_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
    if (fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        JLOG_ERR("event=epoll_add_failed fd=%d error=\"%s\"", fd, strerror(errno));
}

static void apply_overrides(struct config *cfg, bool dry_run)
{
    if (dry_run)
        cfg->mode = CONFIG_MODE_DRY_RUN;
}

/* SIGHUP: a config that does not load is rejected line by line, and the old one stays. */
static void reload(struct daemon *d, const char *path, bool dry_run, int tfd)
{
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load(path, &cfg, &errors) < 0) {
        for (char *line = strtok(errors, "\n"); line; line = strtok(NULL, "\n"))
            JLOG_ERR("event=reload_rejected error=\"%s\"", line);
        JLOG_ERR("event=reload_rejected path=%s keeping=old_config", path);
        free(errors);
        return;
    }
    apply_overrides(cfg, dry_run);
    struct joule_err err = { 0 };
    struct joule_err lerr = { 0 };
    if (log_set_levels(cfg->log_level, &lerr) < 0) {
        JLOG_ERR("event=reload_rejected error=\"%s\" keeping=old_config", lerr.msg);
        config_free(cfg);
        return;
    }
    log_config_warnings(cfg);
    char *tz = strdup(cfg->schedule.timezone);
    int64_t old_interval = daemon_tick_interval_ns(d);
    if (daemon_reload(d, cfg, &err) < 0) {
        JLOG_ERR("event=reload_rejected error=\"%s\" keeping=old_config", err.msg);
        log_set_levels(daemon_config(d)->log_level, &lerr);
        config_free(cfg);
        free(tz);
        return;
    }
    if (tz)
        set_timezone(tz);
    free(tz);
    if (daemon_tick_interval_ns(d) != old_interval)
        arm_timer(tfd, daemon_tick_interval_ns(d), false);
}

static int run(const char *path, bool dry_run)
{
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load(path, &cfg, &errors) < 0) {
        fputs(errors, stderr);
        free(errors);
        return EXIT_CONFIG;
    }
    apply_overrides(cfg, dry_run);
    struct joule_err err = { 0 };
    if (log_set_levels(cfg->log_level, &err) < 0) {
        fprintf(stderr, "%s: log_level: %s\n", path, err.msg);
        config_free(cfg);
        return EXIT_CONFIG;
    }
    log_config_warnings(cfg);
    set_timezone(cfg->schedule.timezone);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct daemon *d = NULL;
    if (daemon_new(cfg, NULL, &d, &err) < 0) {
        JLOG_ERR("event=start_failed error=\"%s\"", err.msg);
        return err.code == JOULE_ECONFIG ? EXIT_CONFIG : 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (ep < 0 || sfd < 0 || tfd < 0 || arm_timer(tfd, daemon_tick_interval_ns(d), true) < 0) {
        JLOG_ERR("event=start_failed error=\"epoll/signalfd/timerfd: %s\"", strerror(errno));
        daemon_free(d);
        return 1;
    }
    epoll_add(ep, tfd, TAG_TIMER);
    epoll_add(ep, sfd, TAG_SIGNAL);
    if (daemon_api(d))
        epoll_add(ep, api_fd(daemon_api(d)), TAG_API);
    epoll_add(ep, daemon_executor_fd(d), TAG_EXECUTOR);

    int rc = 0;
    bool stop = false;
    while (!stop) {
        struct epoll_event evs[MAX_EVENTS];
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            JLOG_ERR("event=epoll_failed error=\"%s\"", strerror(errno));
            rc = 1;
            break;
        }
        for (int i = 0; i < n && !stop; i++) {
            switch (evs[i].data.u64) {
            case TAG_TIMER: {
                uint64_t expirations;
                if (read(tfd, &expirations, sizeof expirations) != sizeof expirations)
                    break;
                /* a simulated run catches up on ticks a slow one made it miss, so simulated
                 * time keeps pace with time_factor; a real run just takes the next tick */
                uint64_t ticks = daemon_config(d)->sim.enabled ? expirations : 1;
                if (ticks > MAX_CATCH_UP_TICKS)
                    ticks = MAX_CATCH_UP_TICKS;
                for (uint64_t k = 0; k < ticks && !stop; k++) {
                    if (daemon_tick(d) == 1) {
                        JLOG_NOTICE("event=sim_finished");
                        stop = true;
                    }
                }
                break;
            }
            case TAG_SIGNAL: {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGHUP) {
                        JLOG_NOTICE("event=reload_requested path=%s", path);
                        reload(d, path, dry_run, tfd);
                    } else {
                        JLOG_NOTICE("event=stop_requested signal=%s",
                                    si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                        stop = true;
                    }
                }
                break;
            }
            case TAG_API:
                api_process(daemon_api(d));
                break;
            case TAG_EXECUTOR:
                daemon_poll_executor(d);
                break;
            default:
                break;
            }
        }
    }
    daemon_shutdown(d);
    daemon_free(d);
    close(tfd);
    close(sfd);
    close(ep);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", required_argument, NULL, 't' },
        { "dry-run", no_argument, NULL, 'n' },
        { "foreground", no_argument, NULL, 'f' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = DEFAULT_CONFIG;
    bool dry_run = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:t:nfVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 't':
            return check_config(optarg);
        case 'n':
            dry_run = true;
            break;
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
    return run(config_path, dry_run);
}

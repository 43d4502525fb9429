/* power/exec.c - host power by running a configured command: an argv run with posix_spawn, no
 * shell, no PATH lookup (argv[0] must be absolute, config.c checks it). The only substitution is
 * of the placeholders "{host}" (the host's name) and "{mac}" (power.wol.mac) inside arguments.
 * stdin is /dev/null; stdout and stderr are captured (the last bytes go into error messages);
 * the child gets its own process group, and after exec.timeout_s the whole group is killed.
 * on/off: exit 0 = done. status: exit 0 = on, 1 = off, anything else = an error.
 * Blocking for up to timeout_s; controller/power.c calls it from a worker thread. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np (glibc >= 2.34) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "exec_priv.h"
#include "util/xalloc.h"

extern char **environ;

#define EXEC_OUTPUT_KEEP 160 /* bytes of the child's output kept for error messages */
#define EXEC_REAP_MS 2000    /* after SIGKILL, wait this long for the child to be reaped */
#define EXEC_POLL_SLICE_MS 50 /* output is read, and the exit checked, at least this often */
#define EXEC_WAIT_SLICE_MS 5  /* after EOF, the exit is checked this often */

struct pw_exec {
    char *host;
    char *mac;
    char **on;
    char **off;
    char **status;
    int64_t timeout_ns;
};

static char **strv_dup(char *const *v)
{
    if (!v)
        return NULL;
    size_t n = 0;
    while (v[n])
        n++;
    char **out = xcalloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(v[i]);
    return out;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* Replaces every "{host}" and "{mac}" in arg; other braces stay as they are. */
static char *expand_arg(const char *arg, const char *host, const char *mac)
{
    size_t cap = strlen(arg) + 1, len = 0;
    char *out = xmalloc(cap);
    for (const char *p = arg; *p;) {
        const char *val = NULL;
        size_t skip = 0;
        if (strncmp(p, "{host}", 6) == 0) {
            val = host;
            skip = 6;
        } else if (strncmp(p, "{mac}", 5) == 0) {
            val = mac;
            skip = 5;
        }
        size_t add = val ? strlen(val) : 1;
        if (len + add + 1 > cap) {
            cap = (len + add + 1) * 2;
            out = xrealloc(out, cap);
        }
        if (val) {
            memcpy(out + len, val, add);
            p += skip;
        } else {
            out[len] = *p++;
        }
        len += add;
    }
    out[len] = '\0';
    return out;
}

char **exec_expand_argv(char *const *argv, const char *host, const char *mac)
{
    size_t n = 0;
    while (argv[n])
        n++;
    char **out = xcalloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = expand_arg(argv[i], host, mac ? mac : "");
    return out;
}

static bool argv_uses_mac(char *const *argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        if (strstr(argv[i], "{mac}"))
            return true;
    return false;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * JOULE_NS_PER_S + ts.tv_nsec;
}

/* Keeps the last EXEC_OUTPUT_KEEP bytes of output, printable only. */
static void keep_output(char *buf, size_t *len, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = data[i];
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
        else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
            c = '?';
        if (*len == EXEC_OUTPUT_KEEP) {
            memmove(buf, buf + 1, EXEC_OUTPUT_KEEP - 1);
            (*len)--;
        }
        buf[(*len)++] = c;
    }
    buf[*len] = '\0';
}

/* Reads what is there (fd is non-blocking); returns true at end of file or on an error. */
static bool drain_output(int fd, char *kept, size_t *kept_len)
{
    char buf[512];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            keep_output(kept, kept_len, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n == 0 || errno != EAGAIN;
    }
}

int exec_run(char *const *argv, int64_t timeout_ns, int *exit_status, char *output,
             size_t output_size, struct joule_err *err)
{
    /* posix_spawn reports a failed exec only on some paths (not under valgrind, for one): ask
     * first, so a wrong path is a clear error rather than an exit status 127 */
    if (access(argv[0], X_OK) < 0)
        return joule_err_set(err, errno == ENOENT ? JOULE_ENOENT : JOULE_EIO,
                             "exec %s: cannot run it: %s", argv[0], strerror(errno));
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return joule_err_set(err, JOULE_EIO, "exec %s: pipe: %s", argv[0], strerror(errno));
    fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK); /* our end only */
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /* own process group (so a timeout kills what it started too), default signals */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int src = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(pfd[1]);
    if (src != 0) {
        close(pfd[0]);
        return joule_err_set(err, src == ENOENT ? JOULE_ENOENT : JOULE_EIO, "exec %s: %s",
                             argv[0], strerror(src));
    }

    char kept[EXEC_OUTPUT_KEEP + 1] = "";
    size_t kept_len = 0;
    int64_t deadline = mono_ns() + timeout_ns;
    bool timed_out = false, eof = false;
    int status = 0;
    pid_t w = 0;
    /* Read output until the child exits (a daemon it leaves behind may hold the pipe open:
     * that must not count as a timeout) or the deadline passes. */
    for (;;) {
        w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            break;
        int64_t left_ms = (deadline - mono_ns()) / JOULE_NS_PER_MS;
        if (left_ms <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        /* after EOF only the exit is awaited: short naps between checks */
        int slice = eof ? EXEC_WAIT_SLICE_MS : EXEC_POLL_SLICE_MS;
        int pr = poll(eof ? NULL : &p, eof ? 0 : 1, left_ms > slice ? slice : (int)left_ms);
        if (pr > 0 && !eof)
            eof = drain_output(pfd[0], kept, &kept_len);
    }
    if (!timed_out && !eof) {
        /* the child is gone: take what it wrote without waiting for others holding the pipe */
        drain_output(pfd[0], kept, &kept_len);
    }
    close(pfd[0]);
    if (timed_out) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        int64_t reap_deadline = mono_ns() + EXEC_REAP_MS * JOULE_NS_PER_MS;
        while (waitpid(pid, &status, WNOHANG) == 0 && mono_ns() < reap_deadline) {
            struct timespec ts = { 0, 5 * JOULE_NS_PER_MS };
            nanosleep(&ts, NULL);
        }
        return joule_err_set(err, JOULE_ETIMEDOUT, "exec %s: no exit within %.1f s (killed)%s%s",
                             argv[0], (double)timeout_ns / JOULE_NS_PER_S,
                             kept_len ? "; output: " : "", kept);
    }
    if (w != pid)
        return joule_err_set(err, JOULE_EIO, "exec %s: waitpid: %s", argv[0], strerror(errno));
    if (output && output_size) {
        snprintf(output, output_size, "%s", kept);
    }
    if (WIFSIGNALED(status))
        return joule_err_set(err, JOULE_EIO, "exec %s: killed by signal %d%s%s", argv[0],
                             WTERMSIG(status), kept_len ? "; output: " : "", kept);
    *exit_status = WEXITSTATUS(status);
    return 0;
}

static int pw_exec_create(const struct config_host *host, const struct drv_env *env, void **state,
                          struct joule_err *err)
{
    (void)env;
    const struct config_exec *c = &host->exec;
    if (!c->on && !c->off && !c->status)
        return joule_err_set(err, JOULE_EINVAL, "exec: no on, off or status command configured");
    char **all[] = { c->on, c->off, c->status };
    for (size_t i = 0; i < 3; i++) {
        if (all[i] && (!all[i][0] || all[i][0][0] != '/'))
            return joule_err_set(err, JOULE_EINVAL,
                                 "exec: commands need an absolute argv[0] (no shell, no PATH)");
        if (argv_uses_mac(all[i]) && !host->wol.mac)
            return joule_err_set(err, JOULE_EINVAL,
                                 "exec: a command uses {mac} but power.wol.mac is not set");
    }
    if (c->timeout_ns <= 0)
        return joule_err_set(err, JOULE_EINVAL, "exec: timeout must be positive");
    struct pw_exec *s = xcalloc(1, sizeof *s);
    s->host = xstrdup(host->name);
    s->mac = host->wol.mac ? xstrdup(host->wol.mac) : NULL;
    s->on = strv_dup(c->on);
    s->off = strv_dup(c->off);
    s->status = strv_dup(c->status);
    s->timeout_ns = c->timeout_ns;
    *state = s;
    return 0;
}

/* Runs one configured command; *code is its exit status. */
static int run_cmd(struct pw_exec *s, char **tmpl, const char *what, int *code,
                   struct joule_err *err)
{
    if (!tmpl)
        return joule_err_set(err, JOULE_ENOTSUP, "exec: no %s command configured", what);
    char **argv = exec_expand_argv(tmpl, s->host, s->mac);
    int rc = exec_run(argv, s->timeout_ns, code, NULL, 0, err);
    strv_free(argv);
    return rc < 0 ? joule_err_prefix(err, rc, "%s: ", what) : 0;
}

static int run_action(struct pw_exec *s, char **tmpl, const char *what, struct joule_err *err)
{
    int code = 0;
    char out[EXEC_OUTPUT_KEEP + 1] = "";
    if (!tmpl)
        return joule_err_set(err, JOULE_ENOTSUP, "exec: no %s command configured", what);
    char **argv = exec_expand_argv(tmpl, s->host, s->mac);
    int rc = exec_run(argv, s->timeout_ns, &code, out, sizeof out, err);
    if (rc == 0 && code != 0)
        rc = joule_err_set(err, JOULE_EIO, "exec %s: exit status %d%s%s", argv[0], code,
                           out[0] ? "; output: " : "", out);
    strv_free(argv);
    return rc < 0 ? joule_err_prefix(err, rc, "%s: ", what) : 0;
}

static int pw_exec_status(void *state, enum power_hw *out, struct joule_err *err)
{
    struct pw_exec *s = state;
    int code = 0;
    int rc = run_cmd(s, s->status, "status", &code, err);
    if (rc < 0)
        return rc;
    if (code == 0)
        *out = POWER_HW_ON;
    else if (code == 1)
        *out = POWER_HW_OFF;
    else
        return joule_err_set(err, JOULE_EPROTO,
                             "status: %s exited %d (0 = on, 1 = off, nothing else)", s->status[0],
                             code);
    return 0;
}

static int pw_exec_on(void *state, struct joule_err *err)
{
    struct pw_exec *s = state;
    return run_action(s, s->on, "on", err);
}

static int pw_exec_off(void *state, bool hard, struct joule_err *err)
{
    (void)hard; /* one off command: whatever it does */
    struct pw_exec *s = state;
    return run_action(s, s->off, "off", err);
}

static void pw_exec_destroy(void *state)
{
    struct pw_exec *s = state;
    if (!s)
        return;
    free(s->host);
    free(s->mac);
    strv_free(s->on);
    strv_free(s->off);
    strv_free(s->status);
    free(s);
}

const struct power_ops power_exec_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "exec",
    .create = pw_exec_create,
    .status = pw_exec_status,
    .on = pw_exec_on,
    .off = pw_exec_off,
    .destroy = pw_exec_destroy,
};

/* promtool.h - passes a Prometheus exposition through `promtool check metrics` (Debian package
 * prometheus), as Prometheus itself would read it. Header-only: static functions for tests. */
#ifndef JOULE_TEST_PROMTOOL_H
#define JOULE_TEST_PROMTOOL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROMTOOL_MISSING 127

/* 0 when promtool accepts `text`; PROMTOOL_MISSING when promtool is not installed; else its
 * exit status, with its output in out. */
static inline int promtool_check(const char *text, char *out, size_t n)
{
    static const char *const paths[] = { "/usr/bin/promtool", "/usr/local/bin/promtool", NULL };
    const char *bin = NULL;
    for (size_t i = 0; paths[i]; i++)
        if (access(paths[i], X_OK) == 0)
            bin = paths[i];
    if (!bin)
        return PROMTOOL_MISSING;
    char in_path[] = "/tmp/joule-promtool-in-XXXXXX";
    char out_path[] = "/tmp/joule-promtool-out-XXXXXX";
    int in = mkstemp(in_path), o = mkstemp(out_path);
    if (in < 0 || o < 0)
        return 1;
    size_t len = strlen(text);
    if (write(in, text, len) != (ssize_t)len)
        return 1;
    lseek(in, 0, SEEK_SET);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in, 0);
        dup2(o, 1);
        dup2(o, 2);
        execl(bin, "promtool", "check", "metrics", (char *)NULL);
        _exit(PROMTOOL_MISSING);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    lseek(o, 0, SEEK_SET);
    ssize_t r = read(o, out, n - 1);
    out[r > 0 ? r : 0] = '\0';
    close(in);
    close(o);
    unlink(in_path);
    unlink(out_path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

#endif

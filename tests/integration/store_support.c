#include "store_support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/test_support.h"
#include "util/xalloc.h"

extern char **environ;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

const char *ferret_binary(void)
{
    const char *p = getenv("JOULE_FERRETDB");
    if (!p || !*p)
        p = "/usr/local/bin/ferretdb";
    return access(p, X_OK) == 0 ? p : NULL;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static bool log_has(const struct ferret *f, const char *needle)
{
    char *p = xasprintf("%s/ferretdb.log", f->dir);
    FILE *fp = fopen(p, "r");
    free(p);
    if (!fp)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, fp))
        found = strstr(line, needle) != NULL;
    fclose(fp);
    return found;
}

static bool ping(const struct ferret *f)
{
    mongoc_client_t *c = ferret_client(f);
    bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t be;
    bool ok = mongoc_client_command_simple(c, "admin", cmd, NULL, NULL, &be);
    bson_destroy(cmd);
    mongoc_client_destroy(c);
    return ok;
}

static int spawn_ferret(struct ferret *f)
{
    const char *bin = ferret_binary();
    char *sqlite = xasprintf("--sqlite-url=file:%s/data/", f->dir);
    char *state = xasprintf("--state-dir=%s", f->dir);
    char *listen = xasprintf("--listen-addr=127.0.0.1:%d", f->port);
    char *logp = xasprintf("%s/ferretdb.log", f->dir);
    char *argv[] = { (char *)bin, "--handler=sqlite", sqlite, state, listen, "--debug-addr=-",
                     "--telemetry=disable", "--log-level=info", NULL };
    /* telemetry off three ways: flag, FERRETDB_TELEMETRY, DO_NOT_TRACK */
    char *envp[] = { "FERRETDB_TELEMETRY=disable", "DO_NOT_TRACK=1", "PATH=/usr/bin:/bin", NULL };
    int logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_t parent = getpid();
    pid_t pid = logfd < 0 ? -1 : fork();
    if (pid == 0) {
        /* dies with the test, even when ctest kills the test on a timeout */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(127);
        execve(bin, argv, envp);
        _exit(127);
    }
    if (logfd >= 0)
        close(logfd);
    free(sqlite);
    free(state);
    free(listen);
    free(logp);
    if (pid < 0) {
        fprintf(stderr, "start %s: %s\n", bin, strerror(errno));
        f->pid = 0;
        return -1;
    }
    f->pid = pid;
    int64_t deadline = now_ms() + 60000;
    while (now_ms() < deadline) {
        int st;
        if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
            fprintf(stderr, "ferretdb exited at start; log in %s/ferretdb.log\n", f->dir);
            f->pid = 0;
            return -1;
        }
        if (ping(f))
            return 0;
        nap_ms(100);
    }
    fprintf(stderr, "ferretdb did not answer within 60 s\n");
    ferret_stop(f);
    return -1;
}

int ferret_start(struct ferret *f, const char *tag)
{
    memset(f, 0, sizeof *f);
    if (!ferret_binary())
        return -1;
    f->dir = joule_test_tmpdir(tag);
    char *data = xasprintf("%s/data", f->dir);
    mkdir(data, 0700);
    free(data);
    for (int attempt = 0; attempt < 5; attempt++) {
        f->port = free_port();
        free(f->uri);
        f->uri = xasprintf("mongodb://127.0.0.1:%d/", f->port);
        if (spawn_ferret(f) == 0)
            break;
    }
    if (!f->pid)
        return -1;
    if (!log_has(f, "Telemetry is disabled")) {
        fprintf(stderr, "ferretdb log does not say telemetry is disabled (%s/ferretdb.log)\n",
                f->dir);
        ferret_stop(f);
        return -1;
    }
    return 0;
}

int ferret_restart(struct ferret *f)
{
    if (f->pid)
        return 0;
    return spawn_ferret(f);
}

void ferret_stop(struct ferret *f)
{
    if (!f->pid)
        return;
    kill(f->pid, SIGTERM);
    int64_t deadline = now_ms() + 10000;
    int st;
    while (waitpid(f->pid, &st, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(f->pid, SIGKILL);
            waitpid(f->pid, &st, 0);
            break;
        }
        nap_ms(50);
    }
    f->pid = 0;
}

void ferret_destroy(struct ferret *f)
{
    ferret_stop(f);
    if (f->dir)
        joule_test_rmtree(f->dir);
    free(f->dir);
    free(f->uri);
    memset(f, 0, sizeof *f);
}

mongoc_client_t *ferret_client(const struct ferret *f)
{
    char *u = xasprintf("%s?serverSelectionTimeoutMS=5000&serverSelectionTryOnce=false", f->uri);
    mongoc_client_t *c = mongoc_client_new(u);
    free(u);
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    return c;
}

int64_t ferret_count(const struct ferret *f, const char *db, const char *coll, const bson_t *filter)
{
    mongoc_client_t *c = ferret_client(f);
    mongoc_collection_t *col = mongoc_client_get_collection(c, db, coll);
    bson_t empty = BSON_INITIALIZER;
    bson_error_t be;
    int64_t n = mongoc_collection_count_documents(col, filter ? filter : &empty, NULL, NULL, NULL,
                                                  &be);
    if (n < 0)
        fprintf(stderr, "count %s: %s\n", coll, be.message);
    mongoc_collection_destroy(col);
    mongoc_client_destroy(c);
    return n;
}

int run_cmd(char *const argv[], char **out, int timeout_s)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        fprintf(stderr, "spawn %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    for (;;) {
        struct pollfd p = { pfd[0], POLLIN, 0 };
        int left = (int)(deadline - now_ms());
        if (left <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        if (poll(&p, 1, left) <= 0)
            continue;
        xgrow((void **)&buf, &cap, len + 4097, 1);
        ssize_t r = read(pfd[0], buf + len, 4096);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(pfd[0]);
    xgrow((void **)&buf, &cap, len + 1, 1);
    buf[len] = '\0';
    int st = 0;
    waitpid(pid, &st, 0);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void dump_doc(const char *path, const char *collection, const bson_t *doc)
{
    FILE *f = fopen(path, "a");
    if (!f)
        abort();
    char *j = bson_as_canonical_extended_json(doc, NULL);
    fprintf(f, "%s\t%s\n", collection, j);
    bson_free(j);
    fclose(f);
}

int schema_check(const char *path, bool expect_invalid)
{
    char *script = joule_test_source_path("tests/integration/schema_check.py");
    char *schemas = joule_test_source_path("schemas");
    char *argv[] = { "/usr/bin/python3", script, schemas, (char *)path,
                     expect_invalid ? "--expect-invalid" : NULL, NULL };
    char *out = NULL;
    int rc = run_cmd(argv, &out, 60);
    fputs(out ? out : "", stderr);
    free(out);
    free(script);
    free(schemas);
    return rc;
}

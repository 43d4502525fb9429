/* test_replay_mongo.c - `joulectl replay` source (b): the controller's vm_samples, read back
 * from a real MongoDB wire-protocol server (FerretDB, SQLite backend, on loopback, started and
 * stopped by this test), replayed onto the recorded hosts. */
#include <arpa/inet.h>
#include <bson/bson.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mongoc/mongoc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "policy_glue.h"
#include "replay.h"
#include "replay_mongo.h"
#include "support/test_support.h"
#include "util/xalloc.h"

static const char *ferretdb(void)
{
    const char *p = getenv("JOULE_FERRETDB"); /* as tools/setup */
    return p && *p ? p : "/usr/local/bin/ferretdb";
}

struct fx {
    char *dir;
    pid_t pid;
    char uri[64];
};

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

static bool ping(const char *uri)
{
    mongoc_client_t *c = mongoc_client_new(uri);
    if (!c)
        return false;
    bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t e;
    bool ok = mongoc_client_command_simple(c, "admin", cmd, NULL, NULL, &e);
    bson_destroy(cmd);
    mongoc_client_destroy(c);
    return ok;
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    f->pid = -1;
    f->dir = joule_test_tmpdir("replay-mongo");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
    }
    joule_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Starts FerretDB and waits (deadline 30 s) until it answers a ping. */
static bool start_ferretdb(struct fx *f)
{
    int port = free_port(), dport = free_port();
    if (port < 0 || dport < 0)
        return false;
    snprintf(f->uri, sizeof f->uri,
             "mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=500", port);
    char listen[64], debug[64], sqlite[1024], state[1024], log[1024];
    snprintf(listen, sizeof listen, "--listen-addr=127.0.0.1:%d", port);
    snprintf(debug, sizeof debug, "--debug-addr=127.0.0.1:%d", dport);
    snprintf(sqlite, sizeof sqlite, "--sqlite-url=file:%s/", f->dir);
    snprintf(state, sizeof state, "--state-dir=%s", f->dir);
    snprintf(log, sizeof log, "%s/ferretdb.log", f->dir);
    f->pid = fork();
    if (f->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setenv("FERRETDB_TELEMETRY", "disable", 1);
        setenv("DO_NOT_TRACK", "1", 1);
        execl(ferretdb(), ferretdb(), "--handler=sqlite", sqlite, listen, debug, state,
              "--telemetry=disable", "--log-level=warn", (char *)NULL);
        _exit(127);
    }
    if (f->pid < 0)
        return false;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if (ping(f->uri))
            return true;
        int st;
        if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
            f->pid = -1;
            return false;
        }
        struct timespec nap = { 0, 100 * 1000 * 1000 };
        nanosleep(&nap, NULL); /* polling interval while waiting for a real event */
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec < 30);
    return false;
}

/* A document as the store writes it (schemas/vm_samples.json). */
static void insert(mongoc_collection_t *c, const char *cluster, const char *vm, const char *host,
                   double t_s, double cpu, int vcpus, double mem)
{
    char id[128];
    snprintf(id, sizeof id, "%s/%s/%lld", cluster, vm, (long long)(t_s * 1000));
    bson_t *d = BCON_NEW("_id", BCON_UTF8(id), "cluster", BCON_UTF8(cluster), "vm", BCON_UTF8(vm),
                         "name", BCON_UTF8(vm), "host", BCON_UTF8(host), "t",
                         BCON_DATE_TIME((int64_t)(t_s * 1000)), "cpu_cores", BCON_DOUBLE(cpu),
                         "cpu_instant_cores", BCON_DOUBLE(cpu), "vcpus", BCON_INT32(vcpus),
                         "mem_mib", BCON_DOUBLE(mem));
    bson_error_t e;
    assert_true(mongoc_collection_insert_one(c, d, NULL, NULL, &e));
    bson_destroy(d);
}

static const char *CONF =
    "cluster = \"lab\";\n"
    "store = { uri = \"mongodb://127.0.0.1:1/x\"; database = \"joule\"; };\n"
    "hosts = (\n"
    "  { name = \"h1\"; uri = \"qemu:///system\"; cpus = 2; memory_mib = 4096;\n"
    "    idle_w = 50; max_w = 150; },\n"
    "  { name = \"h2\"; uri = \"qemu:///system\"; cpus = 2; memory_mib = 4096;\n"
    "    idle_w = 50; max_w = 150; }\n"
    ");\n";

static void test_replay_from_vm_samples(void **state)
{
    struct fx *f = *state;
    assert_true(start_ferretdb(f));

    const double t0 = 1772323200; /* 2026-03-01T00:00:00Z */
    mongoc_client_t *cl = mongoc_client_new(f->uri);
    mongoc_collection_t *c = mongoc_client_get_collection(cl, "joule", "vm_samples");
    for (int k = 0; k < 6; k++) {
        /* two samples a bucket for vm1: their mean (1.0 core of 2) counts */
        insert(c, "lab", "vm1", "h1", t0 + k * 300, 1.6, 2, 1024);
        insert(c, "lab", "vm1", "h1", t0 + k * 300 + 10, 0.4, 2, 1024);
        if (k != 3) /* a missing bucket repeats the previous value */
            insert(c, "lab", "vm2", "h2", t0 + k * 300 + 5, 0.2, 1, 512);
        insert(c, "other", "vm9", "h9", t0 + k * 300, 0.5, 1, 512); /* another cluster */
    }
    insert(c, "lab", "vm1", "h1", t0 + 1800, 2.0, 2, 1024); /* after the range */
    mongoc_collection_destroy(c);
    mongoc_client_destroy(cl);

    char *path = joule_test_write_file(f->dir, "jouled.conf", CONF, 0644);
    struct config *cfg = NULL;
    char *errors = NULL;
    assert_int_equal(config_load(path, &cfg, &errors), 0);
    free(path);

    struct replay_mongo_query q = { .uri = f->uri, .from_s = t0, .to_s = t0 + 1800,
                                    .interval_s = 300 };
    struct replay_workload *w = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(replay_load_mongo(&q, cfg, &w, &err), 0);
    assert_int_equal(w->n_vms, 2);
    assert_int_equal(w->n_samples, 6);
    assert_string_equal(w->vms[0].name, "vm1");
    assert_int_equal(w->vms[0].initial_host, 0);
    assert_int_equal(w->vms[1].initial_host, 1);
    for (int k = 0; k <= 6; k++) {
        assert_true(fabs(w->vms[0].util[k] - 0.5) < 1e-12);
        assert_true(fabs(w->vms[1].util[k] - 0.2) < 1e-12);
    }

    /* No migrations: hosts of 2 cores, 50..150 W linear. h1 at 1/2 = 50 % -> 100 W, h2 at
     * 0.2/2 = 10 % -> 60 W; updates at 300..1800: 5 frames of 300 s -> 160 W * 1500 s. */
    struct replay_host_model *models = NULL;
    assert_int_equal(replay_hosts_from_config(cfg, &models, &err), 0);
    const struct replay_host_model *hosts[2] = { &models[0], &models[1] };
    struct replay_opts o;
    replay_opts_defaults(&o);
    o.hosts = hosts;
    o.n_hosts = 2;
    o.placement = REPLAY_PLACEMENT_GIVEN;
    o.start_s = 0;
    o.duration_s = 1800;
    o.migrations = false;
    struct replay_result r;
    assert_int_equal(replay_run(w, &o, &r, &err), 0);
    assert_true(fabs(r.energy_kwh - 160.0 * 1500 / 3.6e6) < 1e-9);
    replay_result_free(&r);

    /* joule's policy empties the 10 % host onto the other one. */
    o.migrations = true;
    policy_cfg_from_config(cfg, &o.policy);
    o.policy.algorithm = POLICY_ALGORITHM_JOULE;
    assert_int_equal(replay_run(w, &o, &r, &err), 0);
    assert_int_equal(r.migrations, 1);
    assert_true(r.energy_kwh < 160.0 * 1500 / 3.6e6);
    replay_result_free(&r);

    /* bad input: a range with no samples is an error that says so */
    q.from_s = t0 - 7200;
    q.to_s = t0 - 3600;
    replay_workload_free(w);
    w = NULL;
    err = (struct joule_err){ 0 };
    assert_true(replay_load_mongo(&q, cfg, &w, &err) < 0);
    assert_non_null(strstr(err.msg, "no vm_samples"));
    free(models);
    config_free(cfg);
}

int main(void)
{
    if (access(ferretdb(), X_OK) != 0)
        return joule_test_skip("FerretDB is not installed (tools/setup installs it; "
                               "JOULE_FERRETDB names another binary)");
    mongoc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replay_from_vm_samples, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mongoc_cleanup();
    return rc;
}

/* Wake-on-LAN on the wire: two network namespaces made by this test (unique names), joined by a
 * veth pair on 192.0.2.0/24 (TEST-NET-1, only inside them). A receiver bound to UDP port 9 in
 * the second namespace must see, from the first, Debian's `wakeonlan` packet and the wol
 * driver's packet byte for byte equal (102 bytes), with a subnet broadcast address and with
 * 255.255.255.255 bound to the veth interface; plus the SecureOn variant and a clear error when
 * 255.255.255.255 has no route. Sockets are created inside a namespace with setns() and used
 * from the test's own namespace; everything is torn down at the end. */
#define _GNU_SOURCE
#include "support/test_support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "power/wol_priv.h"
#include "registry.h"
#include "util/xalloc.h"

#define IP_BIN "/usr/sbin/ip"
#define WAKEONLAN_BIN "/usr/bin/wakeonlan"
#define MAC_TEXT "52:54:00:12:34:01"

extern char **environ;

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x01 };

struct netlab {
    char ns_a[32], ns_b[32], veth_a[16], veth_b[16];
    bool made;
    int rx;       /* UDP :9 inside ns_b */
};

static int run(char *const argv[])
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "spawn %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "%s %s %s ... failed (status %d)\n", argv[0], argv[1],
                argv[2] ? argv[2] : "", st);
        return -1;
    }
    return 0;
}

/* Runs fn(arg) with the calling thread inside namespace `ns`, then comes back. */
static int in_netns(const char *ns, void (*fn)(void *), void *arg)
{
    char path[96];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(path, O_RDONLY | O_CLOEXEC);
    int rc = -1;
    if (self >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0) {
        fn(arg);
        rc = setns(self, CLONE_NEWNET);
    }
    if (self >= 0)
        close(self);
    if (target >= 0)
        close(target);
    return rc;
}

static void open_rx(void *arg)
{
    struct netlab *n = arg;
    n->rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
    if (n->rx >= 0 && bind(n->rx, (struct sockaddr *)&a, sizeof a) < 0) {
        close(n->rx);
        n->rx = -1;
    }
}

static void netlab_down(struct netlab *n)
{
    if (n->rx >= 0)
        close(n->rx);
    n->rx = -1;
    if (!n->made)
        return;
    char *da[] = { IP_BIN, "netns", "del", n->ns_a, NULL };
    char *db[] = { IP_BIN, "netns", "del", n->ns_b, NULL };
    run(da); /* deleting a namespace deletes its veth end, and so the pair */
    run(db);
    n->made = false;
}

static int group_setup(void **state)
{
    if (geteuid() != 0)
        exit(joule_test_skip("WoL namespace test needs root (network namespaces, port 9)"));
    if (access(IP_BIN, X_OK) != 0 || access(WAKEONLAN_BIN, X_OK) != 0)
        exit(joule_test_skip("ip (iproute2) or wakeonlan is missing; run tools/setup"));
    struct netlab *n = xcalloc(1, sizeof *n);
    n->rx = -1;
    long id = (long)getpid();
    snprintf(n->ns_a, sizeof n->ns_a, "joule-wol-%ld-a", id);
    snprintf(n->ns_b, sizeof n->ns_b, "joule-wol-%ld-b", id);
    snprintf(n->veth_a, sizeof n->veth_a, "jwa%ld", id);
    snprintf(n->veth_b, sizeof n->veth_b, "jwb%ld", id);
    *state = n;
    char *cmds[][12] = {
        { IP_BIN, "netns", "add", n->ns_a, NULL },
        { IP_BIN, "netns", "add", n->ns_b, NULL },
        { IP_BIN, "link", "add", n->veth_a, "netns", n->ns_a, "type", "veth", "peer", "name",
          n->veth_b, NULL },
        { IP_BIN, "-n", n->ns_b, "link", "set", n->veth_b, "netns", n->ns_b, NULL },
        { IP_BIN, "-n", n->ns_a, "addr", "add", "192.0.2.1/24", "brd", "+", "dev", n->veth_a,
          NULL },
        { IP_BIN, "-n", n->ns_b, "addr", "add", "192.0.2.2/24", "brd", "+", "dev", n->veth_b,
          NULL },
        { IP_BIN, "-n", n->ns_a, "link", "set", n->veth_a, "up", NULL },
        { IP_BIN, "-n", n->ns_b, "link", "set", n->veth_b, "up", NULL },
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (i == 2)
            n->made = true;
        if (i == 3) {
            /* `peer name X netns Y` is not understood by every iproute2; the peer starts in the
             * root namespace and moves */
            char *mv[] = { IP_BIN, "link", "set", n->veth_b, "netns", n->ns_b, NULL };
            if (run(mv) < 0)
                goto fail;
            continue;
        }
        if (run(cmds[i]) < 0)
            goto fail;
    }
    n->made = true;
    if (in_netns(n->ns_b, open_rx, n) < 0 || n->rx < 0) {
        fprintf(stderr, "cannot bind UDP port 9 in %s\n", n->ns_b);
        goto fail;
    }
    return 0;
 fail:
    netlab_down(n);
    return -1;
}

static int group_teardown(void **state)
{
    struct netlab *n = *state;
    netlab_down(n);
    free(n);
    return 0;
}

/* Receives one datagram within 5 s; returns its length (-1 on timeout). */
static ssize_t receive(struct netlab *n, uint8_t *buf, size_t cap)
{
    struct pollfd p = { .fd = n->rx, .events = POLLIN };
    if (poll(&p, 1, 5000) != 1)
        return -1;
    return recv(n->rx, buf, cap, 0);
}

static void drain(struct netlab *n)
{
    uint8_t buf[512];
    while (recv(n->rx, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

struct send_ctx {
    const char *broadcast;
    const char *interface;
    const char *secureon;
    int rc;
    struct joule_err err;
};

static void send_wol(void *arg)
{
    struct send_ctx *c = arg;
    char *text = xasprintf("api = { listen = \"\"; };\n"
                           "hosts = ( { name = \"n1\"; hypervisor = \"sim\"; power = { methods = "
                           "[\"wol\"]; wol = { mac = \"" MAC_TEXT "\"; broadcast = \"%s\"; "
                           "port = 9; %s%s%s }; }; } );",
                           c->broadcast, c->interface ? "interface = \"" : "",
                           c->interface ? c->interface : "", c->interface ? "\";" : "");
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load_string(text, &cfg, &errors) < 0)
        fail_msg("config: %s", errors);
    free(text);
    if (c->secureon)
        cfg->hosts[0].wol.secureon = xstrdup(c->secureon);
    struct drv_env env = { .clock = clock_real() };
    struct power *p = NULL;
    c->rc = power_new(registry_find_power("wol"), &cfg->hosts[0], &env, &p, &c->err);
    if (c->rc == 0)
        c->rc = power_on(p, &c->err);
    power_free(p);
    config_free(cfg);
}

static void test_same_bytes_as_wakeonlan(void **state)
{
    struct netlab *n = *state;
    drain(n);
    uint8_t want[WOL_PACKET_MAX];
    assert_int_equal(wol_build_packet(mac, NULL, 0, want), 102);

    char *wol[] = { IP_BIN, "netns", "exec", n->ns_a, WAKEONLAN_BIN, "-i", "192.0.2.255",
                    "-p", "9", MAC_TEXT, NULL };
    assert_int_equal(run(wol), 0);
    uint8_t theirs[512];
    ssize_t nt = receive(n, theirs, sizeof theirs);
    assert_int_equal(nt, 102);

    struct send_ctx c = { .broadcast = "192.0.2.255" };
    assert_int_equal(in_netns(n->ns_a, send_wol, &c), 0);
    assert_int_equal(c.rc, 0);
    uint8_t ours[512];
    ssize_t no = receive(n, ours, sizeof ours);
    assert_int_equal(no, 102);
    assert_memory_equal(ours, theirs, 102);
    assert_memory_equal(ours, want, 102);
}

static void test_limited_broadcast_bound_to_interface(void **state)
{
    struct netlab *n = *state;
    drain(n);
    /* 255.255.255.255 without a device: no route in ns_a -> a clear error */
    struct send_ctx c = { .broadcast = "255.255.255.255" };
    assert_int_equal(in_netns(n->ns_a, send_wol, &c), 0);
    assert_int_equal(c.rc, JOULE_EIO);
    assert_non_null(strstr(c.err.msg, "255.255.255.255:9"));
    /* bound to the veth: it goes out there */
    struct send_ctx b = { .broadcast = "255.255.255.255", .interface = n->veth_a };
    assert_int_equal(in_netns(n->ns_a, send_wol, &b), 0);
    assert_int_equal(b.rc, 0);
    uint8_t got[512], want[WOL_PACKET_MAX];
    wol_build_packet(mac, NULL, 0, want);
    assert_int_equal(receive(n, got, sizeof got), 102);
    assert_memory_equal(got, want, 102);
}

static void test_secureon(void **state)
{
    struct netlab *n = *state;
    drain(n);
    struct send_ctx c = { .broadcast = "192.0.2.255", .secureon = "de:ad:be:ef:00:01" };
    assert_int_equal(in_netns(n->ns_a, send_wol, &c), 0);
    assert_int_equal(c.rc, 0);
    uint8_t got[512], want[WOL_PACKET_MAX];
    const uint8_t pw[6] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01 };
    wol_build_packet(mac, pw, 6, want);
    assert_int_equal(receive(n, got, sizeof got), 108);
    assert_memory_equal(got, want, 108);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_as_wakeonlan),
        cmocka_unit_test(test_limited_broadcast_bound_to_interface),
        cmocka_unit_test(test_secureon),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

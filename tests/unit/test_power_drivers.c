/* The WoL, exec and IPMI power drivers without a BMC: the magic packet bytes (and on the wire
 * over loopback), SecureOn parsing, argv expansion with only {host}/{mac}, no shell, exit codes
 * for on/off/status, and the drivers' configuration errors. Timeouts (which take wall time)
 * are in tests/integration/test_power_ipmi.c. */
#include "support/test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "power/exec_priv.h"
#include "power/wol_priv.h"
#include "registry.h"
#include "util/xalloc.h"

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x01 };

static void test_magic_packet(void **state)
{
    (void)state;
    uint8_t p[WOL_PACKET_MAX];
    assert_int_equal(wol_build_packet(mac, NULL, 0, p), 102);
    for (int i = 0; i < 6; i++)
        assert_int_equal(p[i], 0xFF);
    for (int r = 0; r < 16; r++)
        assert_memory_equal(p + 6 + r * 6, mac, 6);
    const uint8_t pw[6] = { 1, 2, 3, 4, 5, 6 };
    assert_int_equal(wol_build_packet(mac, pw, 6, p), 108);
    assert_memory_equal(p + 102, pw, 6);
    assert_int_equal(wol_build_packet(mac, pw, 4, p), 106);
}

static void test_secureon_parse(void **state)
{
    (void)state;
    uint8_t b[6];
    size_t n = 0;
    assert_int_equal(wol_parse_secureon("01:02:03:04:05:0a", b, &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(b[5], 0x0a);
    assert_int_equal(wol_parse_secureon("c0a80001", b, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(b[0], 0xc0);
    assert_int_equal(wol_parse_secureon("01-02-03-04", b, &n), 0);
    assert_int_equal(wol_parse_secureon("01:02:03", b, &n), JOULE_EINVAL);
    assert_int_equal(wol_parse_secureon("01:02:03:04:05:06:07", b, &n), JOULE_EINVAL);
    assert_int_equal(wol_parse_secureon("01:02:03:0g", b, &n), JOULE_EINVAL);
    assert_int_equal(wol_parse_secureon("01:02:03:04:", b, &n), JOULE_EINVAL);
    assert_int_equal(wol_parse_secureon("0102030", b, &n), JOULE_EINVAL);
}

static struct config *load(const char *text)
{
    struct config *cfg = NULL;
    char *errors = NULL;
    if (config_load_string(text, &cfg, &errors) < 0)
        fail_msg("config: %s", errors);
    return cfg;
}

static int udp_listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_wol_on_loopback(void **state)
{
    (void)state;
    uint16_t port = 0;
    int fd = udp_listener(&port);
    char *nosec = xasprintf("api = { listen = \"\"; };\n"
                            "hosts = ( { name = \"n1\"; hypervisor = \"sim\"; power = { methods = "
                            "[\"wol\"]; wol = { mac = \"52:54:00:12:34:01\"; broadcast = "
                            "\"127.0.0.1\"; port = %u; }; }; } );",
                            port);
    struct config *cfg = load(nosec);
    free(nosec);
    struct drv_env env = { .clock = clock_real() };
    struct power *p = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(power_new(registry_find_power("wol"), &cfg->hosts[0], &env, &p, &err), 0);
    assert_int_equal(power_on(p, &err), 0);
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    uint8_t buf[256];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    assert_int_equal(n, 102);
    uint8_t want[WOL_PACKET_MAX];
    wol_build_packet(mac, NULL, 0, want);
    assert_memory_equal(buf, want, 102);
    /* WoL can neither switch off nor tell the state */
    enum power_hw hw;
    assert_int_equal(power_off(p, false, &err), JOULE_ENOTSUP);
    assert_int_equal(power_status(p, &hw, &err), JOULE_ENOTSUP);
    power_free(p);
    config_free(cfg);
    close(fd);
}

static void test_wol_config_errors(void **state)
{
    (void)state;
    struct config *cfg = load("api = { listen = \"\"; };\n"
                              "hosts = ( { name = \"n1\"; hypervisor = \"sim\"; power = { "
                              "methods = "
                              "[\"wol\"]; wol = { mac = \"52:54:00:12:34:01\"; broadcast = "
                              "\"myhost.example\"; interface = \"averyveryverylongifname0\"; }; "
                              "}; } );");
    struct drv_env env = { .clock = clock_real() };
    struct power *p = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(power_new(registry_find_power("wol"), &cfg->hosts[0], &env, &p, &err),
                     JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "not an IPv4 address"));
    free(cfg->hosts[0].wol.broadcast);
    cfg->hosts[0].wol.broadcast = xstrdup("192.0.2.255");
    assert_int_equal(power_new(registry_find_power("wol"), &cfg->hosts[0], &env, &p, &err),
                     JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "too long"));
    free(cfg->hosts[0].wol.interface);
    cfg->hosts[0].wol.interface = NULL;
    cfg->hosts[0].wol.secureon = xstrdup("12:34");
    assert_int_equal(power_new(registry_find_power("wol"), &cfg->hosts[0], &env, &p, &err),
                     JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "SecureOn"));
    assert_null(p);
    config_free(cfg);
}

static void test_exec_expand(void **state)
{
    (void)state;
    char *argv[] = { "/usr/bin/ssh", "root@{host}", "wake {mac} {host}{host}", "{hostname}",
                     "$(reboot) `x` ; {mac", NULL };
    char **out = exec_expand_argv(argv, "node1", "52:54:00:12:34:01");
    assert_string_equal(out[0], "/usr/bin/ssh");
    assert_string_equal(out[1], "root@node1");
    assert_string_equal(out[2], "wake 52:54:00:12:34:01 node1node1");
    assert_string_equal(out[3], "{hostname}");
    assert_string_equal(out[4], "$(reboot) `x` ; {mac");
    assert_null(out[5]);
    for (int i = 0; out[i]; i++)
        free(out[i]);
    free(out);
}

static void test_exec_run_no_shell(void **state)
{
    (void)state;
    char *argv[] = { "/bin/echo", "node1;$(id) > x", NULL };
    int code = -1;
    char out[256];
    struct joule_err err = { 0 };
    assert_int_equal(exec_run(argv, 5 * JOULE_NS_PER_S, &code, out, sizeof out, &err), 0);
    assert_int_equal(code, 0);
    assert_string_equal(out, "node1;$(id) > x "); /* the newline shows as a space */
    char *missing[] = { "/nonexistent/joule-power", NULL };
    assert_int_equal(exec_run(missing, JOULE_NS_PER_S, &code, NULL, 0, &err), JOULE_ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/joule-power"));
}

static struct power *exec_driver(struct config **cfg, const char *on, const char *off,
                                 const char *status)
{
    char *text = xasprintf("api = { listen = \"\"; };\n"
                           "hosts = ( { name = \"node1\"; hypervisor = \"sim\"; power = { "
                           "methods = "
                           "[\"exec\"]; wol = { mac = \"52:54:00:12:34:01\"; }; exec = { on = %s; "
                           "off = %s; status = %s; timeout_s = 5; }; }; } );",
                           on, off, status);
    *cfg = load(text);
    free(text);
    struct drv_env env = { .clock = clock_real() };
    struct power *p = NULL;
    struct joule_err err = { 0 };
    if (power_new(registry_find_power("exec"), &(*cfg)->hosts[0], &env, &p, &err) < 0)
        fail_msg("exec driver: %s", err.msg);
    return p;
}

static void test_exec_driver(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    /* on checks that the placeholders arrived as whole arguments */
    struct power *p = exec_driver(
        &cfg,
        "[\"/bin/sh\", \"-c\", "
        "\"test \\\"$0\\\" = node1 && test \\\"$1\\\" = 52:54:00:12:34:01\", "
        "\"{host}\", \"{mac}\"]",
        "[\"/bin/sh\", \"-c\", \"echo refused by $0 >&2; exit 4\", \"{host}\"]",
        "[\"/bin/sh\", \"-c\", \"exit 1\"]");
    struct joule_err err = { 0 };
    assert_int_equal(power_on(p, &err), 0);
    assert_int_equal(power_off(p, false, &err), JOULE_EIO);
    assert_non_null(strstr(err.msg, "exit status 4"));
    assert_non_null(strstr(err.msg, "refused by node1"));
    enum power_hw hw = POWER_HW_UNKNOWN;
    assert_int_equal(power_status(p, &hw, &err), 0);
    assert_int_equal(hw, POWER_HW_OFF);
    power_free(p);
    config_free(cfg);

    p = exec_driver(&cfg, "[\"/bin/false\"]", "[\"/bin/true\"]", "[\"/bin/true\"]");
    assert_int_equal(power_on(p, &err), JOULE_EIO);
    assert_non_null(strstr(err.msg, "exit status 1"));
    assert_int_equal(power_off(p, true, &err), 0);
    assert_int_equal(power_status(p, &hw, &err), 0);
    assert_int_equal(hw, POWER_HW_ON);
    power_free(p);
    config_free(cfg);

    p = exec_driver(&cfg, "[\"/bin/true\"]", "[\"/bin/true\"]",
                    "[\"/bin/sh\", \"-c\", \"exit 2\"]");
    assert_int_equal(power_status(p, &hw, &err), JOULE_EPROTO);
    assert_non_null(strstr(err.msg, "exited 2"));
    power_free(p);
    config_free(cfg);
}

static void test_exec_mac_needed(void **state)
{
    (void)state;
    struct config *cfg = load("api = { listen = \"\"; };\n"
                              "hosts = ( { name = \"node1\"; hypervisor = \"sim\"; power = { "
                              "methods = [\"exec\"]; exec = { on = [\"/usr/bin/wake\", \"{mac}\"]; "
                              "}; }; } );");
    struct drv_env env = { .clock = clock_real() };
    struct power *p = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(power_new(registry_find_power("exec"), &cfg->hosts[0], &env, &p, &err),
                     JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "{mac}"));
    config_free(cfg);
}

static void test_ipmi_config(void **state)
{
    (void)state;
    char *dir = joule_test_tmpdir("ipmicfg");
    char *sec = joule_test_write_file(
        dir, "secrets.conf",
        "hosts = ( { name = \"n1\"; ipmi_user = \"admin\"; ipmi_password = \"pw\"; } );", 0600);
    char *text = xasprintf("api = { listen = \"\"; }; secrets_file = \"%s\";\n"
                           "hosts = ( { name = \"n1\"; hypervisor = \"sim\"; power = { methods = "
                           "[\"ipmi\"]; ipmi = { host = \"127.0.0.1:9\"; watts_sensor = 12; "
                           "workaround_opensesspriv = true; }; }; } );",
                           sec);
    struct config *cfg = load(text);
    free(text);
    assert_int_equal(cfg->hosts[0].ipmi.watts_sensor, 12);
    assert_true(cfg->hosts[0].ipmi.workaround_opensesspriv);
    assert_string_equal(cfg->hosts[0].ipmi.password, "pw");
    struct drv_env env = { .clock = clock_real() };
    struct power *p = NULL;
    struct joule_err err = { 0 };
    assert_int_equal(power_new(registry_find_power("ipmi"), &cfg->hosts[0], &env, &p, &err), 0);
    power_free(p);
    free(cfg->hosts[0].ipmi.password);
    cfg->hosts[0].ipmi.password = NULL;
    assert_int_equal(power_new(registry_find_power("ipmi"), &cfg->hosts[0], &env, &p, &err),
                     JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "secrets file"));
    config_free(cfg);
    /* default: no watts sensor */
    struct config *d = load("api = { listen = \"\"; };\n"
                            "hosts = ( { name = \"n\"; hypervisor = \"sim\"; } );");
    assert_int_equal(d->hosts[0].ipmi.watts_sensor, -1);
    assert_false(d->hosts[0].ipmi.watts_dcmi);
    config_free(d);
    joule_test_rmtree(dir);
    free(dir);
    free(sec);
}

static void test_registry_has_power_drivers(void **state)
{
    (void)state;
    struct joule_err err = { 0 };
    assert_int_equal(registry_validate(&err), 0);
    assert_non_null(registry_find_power("ipmi"));
    assert_non_null(registry_find_power("wol"));
    assert_non_null(registry_find_power("exec"));
    assert_null(registry_find_power("wol")->off);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_magic_packet),
        cmocka_unit_test(test_secureon_parse),
        cmocka_unit_test(test_wol_on_loopback),
        cmocka_unit_test(test_wol_config_errors),
        cmocka_unit_test(test_exec_expand),
        cmocka_unit_test(test_exec_run_no_shell),
        cmocka_unit_test(test_exec_driver),
        cmocka_unit_test(test_exec_mac_needed),
        cmocka_unit_test(test_ipmi_config),
        cmocka_unit_test(test_registry_has_power_drivers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

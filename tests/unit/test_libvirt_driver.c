/* The libvirt hypervisor driver against libvirt's own in-process test driver (test:///default:
 * one running domain "test", 16 node CPUs) and against a socket nobody listens on: connect,
 * sample, errors, backoff on the simulated clock, close and reconnect. The real daemons are
 * covered by the lab tests (tests/integration/lab_libvirt.c). */
#include "support/test_support.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "registry.h"
#include "util/xalloc.h"

#define S JOULE_NS_PER_S

struct fx {
    struct clock_sim *cs;
    struct config *cfg;
    struct drv_env env;
    struct hypervisor *hv[2];
};

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    f->cs = clock_sim_new(1700000000LL * S);
    f->env.clock = clock_sim_clock(f->cs);
    char *errors = NULL;
    if (config_load_string(
            "api = { listen = \"\"; };\n"
            "hosts = ( { name = \"t\"; uri = \"test:///default\"; },\n"
            "          { name = \"gone\";\n"
            "            uri = \"qemu+unix:///system?socket=/nonexistent/joule/libvirt-sock\"; } );",
            &f->cfg, &errors) < 0)
        fail_msg("%s", errors);
    const struct hypervisor_ops *ops = registry_find_hypervisor("libvirt");
    assert_non_null(ops);
    struct joule_err err = { 0 };
    for (int h = 0; h < 2; h++)
        assert_int_equal(hypervisor_new(ops, &f->cfg->hosts[h], &f->env, &f->hv[h], &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (int h = 0; h < 2; h++)
        hypervisor_free(f->hv[h]);
    config_free(f->cfg);
    clock_sim_free(f->cs);
    free(f);
    return 0;
}

static void test_connect_and_sample(void **state)
{
    struct fx *f = *state;
    struct joule_err err = { 0 };
    assert_false(hypervisor_alive(f->hv[0]));
    assert_int_equal(hypervisor_connect(f->hv[0], &err), 0);
    assert_true(hypervisor_alive(f->hv[0]));
    struct hv_sample s = { 0 };
    assert_int_equal(hypervisor_sample(f->hv[0], &s, &err), 0);
    assert_float_equal(s.cpus, 16, 1e-9);
    assert_true(s.mem_kib > 0);
    assert_int_equal(s.t_ns, clock_now_ns(f->env.clock));
    assert_int_equal(s.n_vms, 1);
    assert_string_equal(s.vms[0].name, "test");
    assert_int_equal(s.vms[0].state, HV_VM_RUNNING);
    assert_int_equal(strlen(s.vms[0].uuid), 36);
    assert_false(s.vms[0].migrating);
    /* the sample is cleared and reused */
    assert_int_equal(hypervisor_sample(f->hv[0], &s, &err), 0);
    assert_int_equal(s.n_vms, 1);
    hv_sample_free(&s);
}

static void test_errors_name_the_object(void **state)
{
    struct fx *f = *state;
    struct joule_err err = { 0 };
    struct hv_sample s = { 0 };
    /* not connected yet */
    assert_int_equal(hypervisor_sample(f->hv[0], &s, &err), JOULE_EUNAVAIL);
    assert_non_null(strstr(err.msg, "not connected"));
    assert_int_equal(hypervisor_connect(f->hv[0], &err), 0);
    /* an unknown VM */
    struct hv_migrate_dest d = { .name = "gone", .uri = f->cfg->hosts[1].uri,
                                 .migration_uri = f->cfg->hosts[1].migration_uri };
    struct hv_migrate_opts o = { .flags = CONFIG_MIGRATE_LIVE | CONFIG_MIGRATE_PEER2PEER };
    struct hv_migrate_result r;
    const char *nouuid = "11111111-2222-4333-8444-555555555555";
    assert_int_equal(hypervisor_migrate(f->hv[0], nouuid, &d, &o, &r, &err), JOULE_ENOENT);
    assert_non_null(strstr(err.msg, nouuid));
    assert_non_null(strstr(err.msg, "t: migrate")); /* the handle's prefix, then the driver's */
    assert_int_equal(hypervisor_abort_migration(f->hv[0], nouuid, &err), JOULE_ENOENT);
    struct hv_job_info ji;
    assert_int_equal(hypervisor_job_info(f->hv[0], nouuid, &ji, &err), JOULE_ENOENT);
    /* managed (non-p2p) migration needs the destination's connection */
    o.flags = CONFIG_MIGRATE_LIVE;
    hv_sample_free(&s);
    assert_int_equal(hypervisor_sample(f->hv[0], &s, &err), 0);
    assert_int_equal(hypervisor_migrate(f->hv[0], s.vms[0].uuid, &d, &o, &r, &err), JOULE_EUNAVAIL);
    assert_non_null(strstr(err.msg, "destination gone is not connected"));
    hv_sample_free(&s);
}

static void test_unreachable_backoff(void **state)
{
    struct fx *f = *state;
    struct joule_err err = { 0 };
    struct hypervisor *h = f->hv[1];
    assert_int_equal(hypervisor_connect(h, &err), JOULE_EUNAVAIL);
    assert_non_null(strstr(err.msg, "/nonexistent/joule/libvirt-sock"));
    assert_false(hypervisor_alive(h));
    /* no new attempt before the backoff: 1 s, then 2 s, then 4 s */
    assert_int_equal(hypervisor_connect(h, &err), JOULE_EUNAVAIL);
    assert_non_null(strstr(err.msg, "next attempt in 1.0 s"));
    clock_sim_advance(f->cs, 1 * S);
    assert_int_equal(hypervisor_connect(h, &err), JOULE_EUNAVAIL); /* tried, failed */
    assert_null(strstr(err.msg, "next attempt"));
    assert_int_equal(hypervisor_connect(h, &err), JOULE_EUNAVAIL);
    assert_non_null(strstr(err.msg, "next attempt in 2.0 s"));
    clock_sim_advance(f->cs, 2 * S);
    assert_int_equal(hypervisor_connect(h, &err), JOULE_EUNAVAIL);
    assert_int_equal(hypervisor_connect(h, &err), JOULE_EUNAVAIL);
    assert_non_null(strstr(err.msg, "next attempt in 4.0 s"));
    /* the host is being powered on: the next call tries at once, and a failure starts the
     * backoff again from 1 s */
    hypervisor_retry_soon(h);
    assert_int_equal(hypervisor_connect(h, &err), JOULE_EUNAVAIL);
    assert_null(strstr(err.msg, "next attempt"));
    assert_non_null(strstr(err.msg, "/nonexistent/joule/libvirt-sock"));
    assert_int_equal(hypervisor_connect(h, &err), JOULE_EUNAVAIL);
    assert_non_null(strstr(err.msg, "next attempt in 1.0 s"));
}

static void test_close_and_reconnect(void **state)
{
    struct fx *f = *state;
    struct joule_err err = { 0 };
    assert_int_equal(hypervisor_connect(f->hv[0], &err), 0);
    f->hv[0]->ops->close(f->hv[0]->state);
    f->hv[0]->ops->close(f->hv[0]->state); /* idempotent */
    assert_false(hypervisor_alive(f->hv[0]));
    assert_int_equal(hypervisor_connect(f->hv[0], &err), 0);
    assert_true(hypervisor_alive(f->hv[0]));
    struct hv_sample s = { 0 };
    assert_int_equal(hypervisor_sample(f->hv[0], &s, &err), 0);
    assert_int_equal(s.n_vms, 1);
    hv_sample_free(&s);
}

static void test_create_needs_uri_and_clock(void **state)
{
    struct fx *f = *state;
    const struct hypervisor_ops *ops = registry_find_hypervisor("libvirt");
    struct config_host h = f->cfg->hosts[0];
    struct hypervisor *out = NULL;
    struct joule_err err = { 0 };
    h.uri = NULL;
    assert_int_equal(hypervisor_new(ops, &h, &f->env, &out, &err), JOULE_EINVAL);
    assert_non_null(strstr(err.msg, "needs a uri"));
    struct drv_env noclock = { 0 };
    assert_int_equal(hypervisor_new(ops, &f->cfg->hosts[0], &noclock, &out, &err), JOULE_EINVAL);
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_and_sample, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_name_the_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_and_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_needs_uri_and_clock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

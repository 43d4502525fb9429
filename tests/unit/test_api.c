/* API: real libmicrohttpd on a free loopback port, driven like the daemon drives it (its epoll fd
 * polled, api_process on input) from a server thread; requests through the joulectl HTTP client.
 * /metrics passes promtool's linter, /status is JSON, POSTs need the bearer token. */
#include "support/test_support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"
#include "support/promtool.h"
#include "util/httpc.h"
#include "util/xalloc.h"

#define TOKEN "0123456789abcdef0123456789abcdef"

struct fx {
    struct api *api;
    pthread_t thr;
    atomic_bool stop;
    char addr[64];
    int actions[API_ACTION__COUNT];
    bool refuse;
};

static void metrics(void *arg, struct strbuf *sb)
{
    (void)arg;
    char l[256] = "";
    api_metric_family(sb, "joule_host_load_percent", "gauge", "Smoothed CPU load of a host.");
    api_metric(sb, "joule_host_load_percent", api_label(l, sizeof l, "host", "node\"1\\x"), 42.5);
    l[0] = '\0';
    api_label(l, sizeof l, "host", "node2");
    api_metric(sb, "joule_host_load_percent", api_label(l, sizeof l, "state", "on"), 7);
    api_metric_family(sb, "joule_migrations_total", "counter", "Live migrations finished.");
    api_metric(sb, "joule_migrations_total", "", 3);
}

static void status(void *arg, bson_t *out)
{
    (void)arg;
    BSON_APPEND_UTF8(out, "state", "active");
    BSON_APPEND_INT32(out, "hosts", 2);
}

static void plans(void *arg, bson_t *out)
{
    (void)arg;
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(out, "plans", &arr);
    bson_append_array_end(out, &arr);
}

static int action(void *arg, enum api_action a, struct joule_err *err)
{
    struct fx *f = arg;
    if (f->refuse)
        return joule_err_set(err, JOULE_ESTATE, "standby: another jouled holds the lease");
    f->actions[a]++;
    return 0;
}

static void *serve(void *arg)
{
    struct fx *f = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    epoll_ctl(ep, EPOLL_CTL_ADD, api_fd(f->api), &ev);
    while (!atomic_load(&f->stop)) {
        struct epoll_event got;
        if (epoll_wait(ep, &got, 1, 20) > 0)
            api_process(f->api);
    }
    close(ep);
    return NULL;
}

static int start(struct fx *f, const char *token)
{
    struct api_handlers h = { .arg = f, .metrics = metrics, .status = status, .plans = plans,
                              .action = action };
    struct joule_err err;
    if (api_new("127.0.0.1:0", token, &h, &f->api, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(api_port(f->api) > 0);
    snprintf(f->addr, sizeof f->addr, "127.0.0.1:%u", api_port(f->api));
    atomic_store(&f->stop, false);
    pthread_create(&f->thr, NULL, serve, f);
    return 0;
}

static void stop(struct fx *f)
{
    if (!f->api)
        return;
    atomic_store(&f->stop, true);
    pthread_join(f->thr, NULL);
    api_free(f->api);
    f->api = NULL;
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    start(f, TOKEN);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    stop(f);
    free(f);
    return 0;
}

static struct httpc_reply req(struct fx *f, const char *method, const char *path, const char *tok)
{
    struct httpc_reply r;
    struct joule_err err;
    if (httpc_request(f->addr, method, path, tok, 5000, &r, &err) < 0)
        fail_msg("%s %s: %s", method, path, err.msg);
    return r;
}

static void test_metrics_pass_promtool(void **state)
{
    struct fx *f = *state;
    struct httpc_reply r = req(f, "GET", "/metrics", NULL);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.content_type, "text/plain; version=0.0.4", 25) == 0);
    assert_non_null(strstr(r.body, "joule_host_load_percent{host=\"node\\\"1\\\\x\"} 42.5\n"));
    assert_non_null(strstr(r.body, "joule_host_load_percent{host=\"node2\",state=\"on\"} 7\n"));
    char out[4096];
    int rc = promtool_check(r.body, out, sizeof out);
    if (rc == PROMTOOL_MISSING) {
        httpc_reply_free(&r);
        exit(joule_test_skip("promtool not installed (Debian package prometheus; tools/setup)"));
    }
    if (rc != 0)
        fail_msg("promtool check metrics: %s\n%s", out, r.body);
    httpc_reply_free(&r);

    /* promtool is a real check: a broken exposition fails it */
    rc = promtool_check("# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n# TYPE x gauge\n", out,
                        sizeof out);
    assert_true(rc != 0);
}

static void test_status_and_plans_are_json(void **state)
{
    struct fx *f = *state;
    struct httpc_reply r = req(f, "GET", "/status", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    bson_error_t be;
    bson_t *doc = bson_new_from_json((const uint8_t *)r.body, (ssize_t)r.len, &be);
    assert_non_null(doc);
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, doc, "state"));
    assert_string_equal(bson_iter_utf8(&it, NULL), "active");
    bson_destroy(doc);
    httpc_reply_free(&r);
    r = req(f, "GET", "/plans", NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"plans\""));
    httpc_reply_free(&r);
    r = req(f, "GET", "/nothing", NULL);
    assert_int_equal(r.status, 404);
    httpc_reply_free(&r);
    r = req(f, "GET", "/pause", NULL);
    assert_int_equal(r.status, 405);
    httpc_reply_free(&r);
    assert_true(api_requests(f->api) >= 4);
}

static void test_post_needs_token(void **state)
{
    struct fx *f = *state;
    struct httpc_reply r = req(f, "POST", "/pause", NULL);
    assert_int_equal(r.status, 401);
    httpc_reply_free(&r);
    r = req(f, "POST", "/pause", "0123456789abcdef0123456789abcdeX");
    assert_int_equal(r.status, 401);
    httpc_reply_free(&r);
    r = req(f, "POST", "/pause", "0123456789abcdef");
    assert_int_equal(r.status, 401);
    httpc_reply_free(&r);
    assert_int_equal(f->actions[API_ACTION_PAUSE], 0);

    r = req(f, "POST", "/pause", TOKEN);
    assert_int_equal(r.status, 200);
    httpc_reply_free(&r);
    r = req(f, "POST", "/resume", TOKEN);
    assert_int_equal(r.status, 200);
    httpc_reply_free(&r);
    r = req(f, "POST", "/run?action=consolidate", TOKEN);
    assert_int_equal(r.status, 200);
    httpc_reply_free(&r);
    r = req(f, "POST", "/run", TOKEN);
    assert_int_equal(r.status, 200);
    httpc_reply_free(&r);
    r = req(f, "POST", "/run?action=explode", TOKEN);
    assert_int_equal(r.status, 400);
    httpc_reply_free(&r);
    assert_int_equal(f->actions[API_ACTION_PAUSE], 1);
    assert_int_equal(f->actions[API_ACTION_RESUME], 1);
    assert_int_equal(f->actions[API_ACTION_RUN_CONSOLIDATE], 1);
    assert_int_equal(f->actions[API_ACTION_RUN_ROUND], 1);

    f->refuse = true; /* e.g. standby */
    r = req(f, "POST", "/run?action=consolidate", TOKEN);
    assert_int_equal(r.status, 409);
    assert_non_null(strstr(r.body, "standby"));
    httpc_reply_free(&r);
}

static void test_no_token_file_refuses_changes(void **state)
{
    struct fx *f = *state;
    stop(f);
    start(f, NULL);
    struct httpc_reply r = req(f, "POST", "/pause", TOKEN);
    assert_int_equal(r.status, 403);
    httpc_reply_free(&r);
    r = req(f, "GET", "/status", NULL); /* reading still works */
    assert_int_equal(r.status, 200);
    httpc_reply_free(&r);
    assert_int_equal(f->actions[API_ACTION_PAUSE], 0);
    /* a reload brings a token */
    api_set_token(f->api, TOKEN);
    r = req(f, "POST", "/pause", TOKEN);
    assert_int_equal(r.status, 200);
    httpc_reply_free(&r);
}

static void test_token_compare_and_listen_errors(void **state)
{
    (void)state;
    assert_true(api_token_equal("secret-token-123", "secret-token-123"));
    assert_false(api_token_equal("secret-token-12", "secret-token-123"));
    assert_false(api_token_equal("secret-token-1234", "secret-token-123"));
    assert_false(api_token_equal("", "secret-token-123"));
    assert_false(api_token_equal("", ""));
    struct api *a = NULL;
    struct api_handlers h = { 0 };
    struct joule_err err;
    assert_int_equal(api_new("127.0.0.1", NULL, &h, &a, &err), JOULE_EINVAL);
    assert_int_equal(api_new("nowhere:80", NULL, &h, &a, &err), JOULE_EINVAL);
    assert_int_equal(api_new("127.0.0.1:99999", NULL, &h, &a, &err), JOULE_EINVAL);
    assert_null(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_pass_promtool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_and_plans_are_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_needs_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_token_file_refuses_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_compare_and_listen_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

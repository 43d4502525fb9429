/* api.h - jouled's HTTP API on loopback (libmicrohttpd), served from the loop thread:
 * libmicrohttpd runs without threads of its own, its epoll fd joins the loop's epoll set and
 * api_process() is called when it is readable, so handlers read the model without locks.
 *   GET  /metrics   Prometheus text exposition (0.0.4)
 *   GET  /status    JSON: hosts, VMs, state, last plan
 *   GET  /plans     JSON: recent plans (newest first)
 *   POST /pause, /resume, /run?action=consolidate|round
 *        need "Authorization: Bearer <token>" (compared in constant time); without a token
 *        file the state-changing endpoints answer 403.
 * Content comes from the owner through handlers, so the API knows nothing of the daemon. */
#ifndef JOULE_API_H
#define JOULE_API_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"
#include "util/strbuf.h"

enum api_action { API_ACTION_PAUSE, API_ACTION_RESUME, API_ACTION_RUN_ROUND,
                  API_ACTION_RUN_CONSOLIDATE, API_ACTION__COUNT };

struct api_handlers {
    void *arg;
    void (*metrics)(void *arg, struct strbuf *out);
    void (*status)(void *arg, bson_t *out);
    void (*plans)(void *arg, bson_t *out);
    /* A state change; 0 or JOULE_E* with err (the answer is 409 with err's message). */
    int (*action)(void *arg, enum api_action action, struct joule_err *err);
};

struct api;

/* Listens on `listen` ("127.0.0.1:8642"; port 0 = any free port). `token` may be NULL (no token
 * file: POSTs are refused). Handlers are copied. */
int api_new(const char *listen, const char *token, const struct api_handlers *h, struct api **out,
            struct joule_err *err);
void api_free(struct api *api);
/* The fd to watch for input (an epoll fd); call api_process() when it is readable. */
int api_fd(const struct api *api);
void api_process(struct api *api);
uint16_t api_port(const struct api *api);
/* After a config reload. */
void api_set_token(struct api *api, const char *token);
/* Counters for /metrics. */
uint64_t api_requests(const struct api *api);

/* Prometheus text helpers: a family header, then samples. labels is "" or `a="x",b="y"` made
 * with api_label(). */
void api_metric_family(struct strbuf *sb, const char *name, const char *type, const char *help);
void api_metric(struct strbuf *sb, const char *name, const char *labels, double value);
/* Appends key="value" (escaped) to buf, comma-separated; returns buf. */
char *api_label(char *buf, size_t n, const char *key, const char *value);

/* Constant-time comparison of a presented token with the expected one. */
bool api_token_equal(const char *presented, const char *expected);

#endif

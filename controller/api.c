/* api.c - the HTTP API (libmicrohttpd, driven from the loop's epoll). See api.h. */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/xalloc.h"

#define LOG_MODULE "api"
#include "util/log.h"

#define API_CONN_LIMIT 64
#define API_CONN_TIMEOUT_S 10
#define API_MAX_BODY 4096

struct api {
    struct MHD_Daemon *mhd;
    struct api_handlers h;
    char *token;
    uint16_t port;
    uint64_t requests;
};

/* per-request state: POST bodies are read and ignored, up to a limit */
struct req {
    size_t body;
};

bool api_token_equal(const char *presented, const char *expected)
{
    size_t lp = strlen(presented), le = strlen(expected);
    unsigned char diff = (unsigned char)(lp != le);
    /* walk the expected token's whole length whatever was presented: time depends on it only */
    for (size_t i = 0; i < le; i++)
        diff |= (unsigned char)(presented[lp ? i % lp : 0] ^ expected[i]);
    return le > 0 && diff == 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_bson(struct MHD_Connection *c, unsigned status, const bson_t *doc)
{
    size_t len = 0;
    char *json = bson_as_relaxed_extended_json(doc, &len);
    if (!json)
        return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "bad document\n", 13);
    char *body = xasprintf("%s\n", json);
    bson_free(json);
    enum MHD_Result ret = reply(c, status, "application/json", body, strlen(body));
    free(body);
    return ret;
}

static enum MHD_Result reply_msg(struct MHD_Connection *c, unsigned status, const char *key,
                                 const char *msg)
{
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, key, msg);
    enum MHD_Result ret = reply_bson(c, status, &doc);
    bson_destroy(&doc);
    return ret;
}

static bool authorized(struct api *api, struct MHD_Connection *c)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    static const char bearer[] = "Bearer ";
    if (!api->token || !auth || strncmp(auth, bearer, sizeof bearer - 1) != 0)
        return false;
    return api_token_equal(auth + sizeof bearer - 1, api->token);
}

static enum MHD_Result do_post(struct api *api, struct MHD_Connection *c, const char *url)
{
    enum api_action action;
    if (strcmp(url, "/pause") == 0) {
        action = API_ACTION_PAUSE;
    } else if (strcmp(url, "/resume") == 0) {
        action = API_ACTION_RESUME;
    } else if (strcmp(url, "/run") == 0) {
        const char *what = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "action");
        if (!what || strcmp(what, "round") == 0)
            action = API_ACTION_RUN_ROUND;
        else if (strcmp(what, "consolidate") == 0)
            action = API_ACTION_RUN_CONSOLIDATE;
        else
            return reply_msg(c, MHD_HTTP_BAD_REQUEST, "error",
                             "action must be round or consolidate");
    } else {
        return reply_msg(c, MHD_HTTP_NOT_FOUND, "error", "no such endpoint");
    }
    if (!api->token)
        return reply_msg(c, MHD_HTTP_FORBIDDEN, "error",
                         "no API token file is configured: state changes are disabled");
    if (!authorized(api, c)) {
        JLOG_NOTICE("event=api_unauthorized url=%s", url);
        struct MHD_Response *r = MHD_create_response_from_buffer(
            strlen("{ \"error\" : \"bearer token required\" }\n"),
            (void *)"{ \"error\" : \"bearer token required\" }\n", MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"jouled\"");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
        MHD_destroy_response(r);
        return ret;
    }
    struct joule_err err = { 0 };
    if (!api->h.action || api->h.action(api->h.arg, action, &err) < 0)
        return reply_msg(c, MHD_HTTP_CONFLICT, "error", err.msg[0] ? err.msg : "refused");
    return reply_msg(c, MHD_HTTP_OK, "ok", url + 1);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    struct api *api = cls;
    struct req *rq = *con_cls;
    if (!rq) { /* first call: headers only */
        rq = xcalloc(1, sizeof *rq);
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        rq->body += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    api->requests++;
    if (rq->body > API_MAX_BODY)
        return reply_msg(c, MHD_HTTP_CONTENT_TOO_LARGE, "error", "request body too large");
    if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
        return do_post(api, c, url);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_msg(c, MHD_HTTP_METHOD_NOT_ALLOWED, "error", "GET or POST only");
    if (strcmp(url, "/metrics") == 0) {
        struct strbuf sb = { 0 };
        if (api->h.metrics)
            api->h.metrics(api->h.arg, &sb);
        enum MHD_Result ret = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                                    sb.s ? sb.s : "", sb.len);
        strbuf_free(&sb);
        return ret;
    }
    if (strcmp(url, "/status") == 0 || strcmp(url, "/plans") == 0) {
        bson_t doc = BSON_INITIALIZER;
        void (*fn)(void *, bson_t *) = url[1] == 's' ? api->h.status : api->h.plans;
        if (fn)
            fn(api->h.arg, &doc);
        enum MHD_Result ret = reply_bson(c, MHD_HTTP_OK, &doc);
        bson_destroy(&doc);
        return ret;
    }
    if (strcmp(url, "/pause") == 0 || strcmp(url, "/resume") == 0 || strcmp(url, "/run") == 0)
        return reply_msg(c, MHD_HTTP_METHOD_NOT_ALLOWED, "error", "use POST");
    return reply_msg(c, MHD_HTTP_NOT_FOUND, "error", "no such endpoint (/metrics, /status, /plans)");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[256];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    JLOG_DEBUG("event=mhd msg=\"%s\"", buf);
}

static int parse_listen(const char *listen, struct sockaddr_in *sin, struct joule_err *err)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return joule_err_set(err, JOULE_EINVAL, "api.listen \"%s\": expected address:port", listen);
    char host[64];
    size_t hn = (size_t)(colon - listen);
    if (hn == 0 || hn >= sizeof host)
        return joule_err_set(err, JOULE_EINVAL, "api.listen \"%s\": bad address", listen);
    memcpy(host, listen, hn);
    host[hn] = '\0';
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || !end || *end || end == colon + 1 || port < 0 || port > 65535)
        return joule_err_set(err, JOULE_EINVAL, "api.listen \"%s\": bad port (0..65535)", listen);
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return joule_err_set(err, JOULE_EINVAL, "api.listen \"%s\": \"%s\" is not an IPv4 address",
                             listen, host);
    return 0;
}

int api_new(const char *listen, const char *token, const struct api_handlers *h, struct api **out,
            struct joule_err *err)
{
    struct sockaddr_in sin;
    int rc = parse_listen(listen, &sin, err);
    if (rc < 0)
        return rc;
    struct api *api = xcalloc(1, sizeof *api);
    api->h = *h;
    api->token = token ? xstrdup(token) : NULL;
    api->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, api,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONN_LIMIT,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONN_TIMEOUT_S,
                                MHD_OPTION_NOTIFY_COMPLETED, completed, api,
                                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, api, MHD_OPTION_END);
    if (!api->mhd) {
        int e = errno;
        api_free(api);
        return joule_err_set(err, JOULE_EIO, "api: cannot listen on %s: %s", listen,
                             e ? strerror(e) : "libmicrohttpd refused the options");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_BIND_PORT);
    api->port = info ? info->port : ntohs(sin.sin_port);
    *out = api;
    return 0;
}

void api_free(struct api *api)
{
    if (!api)
        return;
    if (api->mhd)
        MHD_stop_daemon(api->mhd);
    if (api->token) {
        memset(api->token, 0, strlen(api->token));
        free(api->token);
    }
    free(api);
}

int api_fd(const struct api *api)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

void api_process(struct api *api) { MHD_run(api->mhd); }

uint16_t api_port(const struct api *api) { return api->port; }

uint64_t api_requests(const struct api *api) { return api->requests; }

void api_set_token(struct api *api, const char *token)
{
    if (api->token) {
        memset(api->token, 0, strlen(api->token));
        free(api->token);
    }
    api->token = token ? xstrdup(token) : NULL;
}

void api_metric_family(struct strbuf *sb, const char *name, const char *type, const char *help)
{
    strbuf_addf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void api_metric(struct strbuf *sb, const char *name, const char *labels, double value)
{
    char num[64];
    if (isnan(value))
        snprintf(num, sizeof num, "NaN");
    else if (isinf(value))
        snprintf(num, sizeof num, value > 0 ? "+Inf" : "-Inf");
    else
        snprintf(num, sizeof num, "%.17g", value);
    if (labels && labels[0])
        strbuf_addf(sb, "%s{%s} %s\n", name, labels, num);
    else
        strbuf_addf(sb, "%s %s\n", name, num);
}

char *api_label(char *buf, size_t n, const char *key, const char *value)
{
    size_t len = strlen(buf);
    if (len && len + 1 < n)
        buf[len++] = ',';
    int w = snprintf(buf + len, n - len, "%s=\"", key);
    if (w < 0 || (size_t)w >= n - len) {
        buf[len] = '\0';
        return buf;
    }
    len += (size_t)w;
    for (const char *p = value; *p && len + 3 < n; p++) {
        if (*p == '\\' || *p == '"') {
            buf[len++] = '\\';
            buf[len++] = *p;
        } else if (*p == '\n') {
            buf[len++] = '\\';
            buf[len++] = 'n';
        } else {
            buf[len++] = *p;
        }
    }
    if (len + 1 < n)
        buf[len++] = '"';
    buf[len] = '\0';
    return buf;
}

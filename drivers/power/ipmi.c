/* power/ipmi.c - host power through the BMC over IPMI 2.0 (lanplus) with libfreeipmi.
 *
 * One session per operation: open (RMCP+ with the configured cipher suite), one command, close.
 * A session left open between ticks would time out at the BMC anyway, and a fresh one makes each
 * call self-contained. Every call is bounded: the session timeout is ipmi.timeout_s, the
 * retransmission timeout a quarter of it (FreeIPMI needs it below the session timeout), and a
 * call that timed out is tried again up to ipmi.retries times. Authentication failures are not
 * retried. Worst case per call: (retries + 1) * timeout_s; controller/power.c runs these calls
 * on a worker thread so the loop never waits on a BMC.
 *
 * off(hard=false) asks for a soft (ACPI) shutdown, off(hard=true) for a power down; the grace
 * period between the two is the power state machine's business (config ipmi.soft_off_grace_s).
 * read_watts: DCMI "get power reading" when ipmi.watts_dcmi is set (it wins over a sensor), or
 * one threshold sensor (ipmi.watts_sensor = its number) decoded with its SDR record, which is
 * fetched once (reservation + 16-byte reads) and kept. */
#include <freeipmi/freeipmi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "util/xalloc.h"

#define IPMI_SDR_WALK_MAX 1024 /* records walked at most, looking for the watts sensor */
#define IPMI_SDR_HEADER_LEN 5   /* record id (2), version, type, length of the rest */
#define IPMI_SDR_CHUNK 16       /* bytes per Get SDR: small enough for any BMC */

struct pw_ipmi {
    char *hostname; /* "host" or "host:port", as FreeIPMI takes it */
    char *user;
    char *password;
    uint8_t cipher_suite;
    uint8_t privilege;  /* admin, or operator once the BMC refused admin for this user */
    unsigned session_timeout_ms;
    unsigned retransmission_timeout_ms;
    int retries;
    unsigned workaround_flags;
    int watts_sensor;   /* -1: none */
    bool watts_dcmi;
    /* SDR decoding of the watts sensor, fetched once */
    bool sdr_ok;
    uint8_t sdr[IPMI_SDR_MAX_RECORD_LENGTH];
    int sdr_len;
};

/* Maps a FreeIPMI context error to a JOULE_E* code and a sentence. */
static int ipmi_fail(struct pw_ipmi *s, ipmi_ctx_t ctx, const char *what, struct joule_err *err)
{
    int en = ipmi_ctx_errnum(ctx);
    const char *msg = ipmi_ctx_errormsg(ctx);
    switch (en) {
    case IPMI_ERR_USERNAME_INVALID:
    case IPMI_ERR_PASSWORD_INVALID:
    case IPMI_ERR_PASSWORD_VERIFICATION_TIMEOUT:
    case IPMI_ERR_K_G_INVALID:
        /* ipmi_sim (and many BMCs) do not answer a RAKP message with a wrong key, so a wrong
         * password shows up as "password verification timeout". */
        return joule_err_set(err, JOULE_EPERM,
                             "%s on %s: authentication failed for user \"%s\" (wrong user or "
                             "password?): %s",
                             what, s->hostname, s->user, msg);
    case IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
    case IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED:
        return joule_err_set(err, JOULE_EPERM,
                             "%s on %s: user \"%s\" lacks the privilege (operator or admin "
                             "needed): %s",
                             what, s->hostname, s->user, msg);
    case IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE:
        return joule_err_set(err, JOULE_ENOTSUP, "%s on %s: cipher suite %u is not offered: %s",
                             what, s->hostname, s->cipher_suite, msg);
    case IPMI_ERR_CONNECTION_TIMEOUT:
    case IPMI_ERR_SESSION_TIMEOUT:
    case IPMI_ERR_MESSAGE_TIMEOUT:
        return joule_err_set(err, JOULE_ETIMEDOUT, "%s on %s: no answer within %u ms: %s", what,
                             s->hostname, s->session_timeout_ms, msg);
    case IPMI_ERR_HOSTNAME_INVALID:
        return joule_err_set(err, JOULE_EINVAL, "%s: \"%s\" is not a valid BMC address: %s", what,
                             s->hostname, msg);
    case IPMI_ERR_COMMAND_INVALID_OR_UNSUPPORTED:
        return joule_err_set(err, JOULE_ENOTSUP, "%s on %s: not supported by the BMC: %s", what,
                             s->hostname, msg);
    case IPMI_ERR_BMC_BUSY:
        return joule_err_set(err, JOULE_EBUSY, "%s on %s: BMC busy: %s", what, s->hostname, msg);
    default:
        return joule_err_set(err, JOULE_EIO, "%s on %s: %s", what, s->hostname, msg);
    }
}

/* Opens a lanplus session; retries only timeouts. On success *out is an open context. */
static int ipmi_session_open(struct pw_ipmi *s, ipmi_ctx_t *out, struct joule_err *err)
{
    int rc = JOULE_EIO;
    for (int attempt = 0; attempt <= s->retries; attempt++) {
        ipmi_ctx_t ctx = ipmi_ctx_create();
        if (!ctx)
            return joule_err_set(err, JOULE_EIO, "ipmi %s: cannot create a FreeIPMI context",
                                 s->hostname);
        if (ipmi_ctx_open_outofband_2_0(ctx, s->hostname, s->user, s->password, NULL, 0,
                                        s->privilege, s->cipher_suite, s->session_timeout_ms,
                                        s->retransmission_timeout_ms, s->workaround_flags,
                                        IPMI_FLAGS_DEFAULT) == 0) {
            *out = ctx;
            return 0;
        }
        int en = ipmi_ctx_errnum(ctx);
        rc = ipmi_fail(s, ctx, "open session", err);
        ipmi_ctx_destroy(ctx);
        /* Chassis control needs only operator: a user limited to it gets a session at that
         * level (remembered for the next calls). */
        if ((en == IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED ||
             en == IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT) &&
            s->privilege == IPMI_PRIVILEGE_LEVEL_ADMIN) {
            s->privilege = IPMI_PRIVILEGE_LEVEL_OPERATOR;
            attempt--;
            continue;
        }
        if (rc != JOULE_ETIMEDOUT && rc != JOULE_EBUSY)
            return rc;
    }
    return s->retries > 0 ? joule_err_prefix(err, rc, "after %d attempts: ", s->retries + 1) : rc;
}

static void ipmi_session_close(ipmi_ctx_t ctx)
{
    ipmi_ctx_close(ctx);
    ipmi_ctx_destroy(ctx);
}

static int pw_ipmi_create(const struct config_host *host, const struct drv_env *env, void **state,
                          struct joule_err *err)
{
    (void)env;
    const struct config_ipmi *c = &host->ipmi;
    if (!c->host || !*c->host)
        return joule_err_set(err, JOULE_EINVAL, "ipmi: power.ipmi.host is not set");
    if (!c->user || !c->password)
        return joule_err_set(err, JOULE_EINVAL,
                             "ipmi %s: no user/password (they come from the secrets file)",
                             c->host);
    if (c->cipher_suite < 0 || c->cipher_suite > 17)
        return joule_err_set(err, JOULE_EINVAL, "ipmi %s: cipher suite %d is out of range (0..17)",
                             c->host, c->cipher_suite);
    struct pw_ipmi *s = xcalloc(1, sizeof *s);
    s->hostname = xstrdup(c->host);
    s->user = xstrdup(c->user);
    s->password = xstrdup(c->password);
    s->cipher_suite = (uint8_t)c->cipher_suite;
    s->privilege = IPMI_PRIVILEGE_LEVEL_ADMIN;
    int64_t ms = c->timeout_ns / JOULE_NS_PER_MS;
    s->session_timeout_ms = ms < 100 ? 100 : (unsigned)ms;
    s->retransmission_timeout_ms = s->session_timeout_ms / 4;
    if (s->retransmission_timeout_ms < 50)
        s->retransmission_timeout_ms = 50;
    s->retries = c->retries < 0 ? 0 : c->retries;
    s->workaround_flags =
        c->workaround_opensesspriv ? IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE : 0;
    s->watts_sensor = c->watts_sensor;
    s->watts_dcmi = c->watts_dcmi;
    *state = s;
    return 0;
}

static int pw_ipmi_status(void *state, enum power_hw *out, struct joule_err *err)
{
    struct pw_ipmi *s = state;
    ipmi_ctx_t ctx = NULL;
    int rc = ipmi_session_open(s, &ctx, err);
    if (rc < 0)
        return rc;
    fiid_obj_t rs = fiid_obj_create(tmpl_cmd_get_chassis_status_rs);
    uint64_t on = 0;
    if (!rs)
        rc = joule_err_set(err, JOULE_EIO, "ipmi %s: out of memory", s->hostname);
    else if (ipmi_cmd_get_chassis_status(ctx, rs) < 0)
        rc = ipmi_fail(s, ctx, "get chassis status", err);
    else if (FIID_OBJ_GET(rs, "current_power_state.power_is_on", &on) < 0)
        rc = joule_err_set(err, JOULE_EPROTO, "ipmi %s: chassis status without a power state",
                           s->hostname);
    else
        *out = on ? POWER_HW_ON : POWER_HW_OFF;
    fiid_obj_destroy(rs);
    ipmi_session_close(ctx);
    return rc;
}

static int chassis_control(struct pw_ipmi *s, uint8_t control, const char *what,
                           struct joule_err *err)
{
    ipmi_ctx_t ctx = NULL;
    int rc = ipmi_session_open(s, &ctx, err);
    if (rc < 0)
        return rc;
    fiid_obj_t rs = fiid_obj_create(tmpl_cmd_chassis_control_rs);
    if (!rs)
        rc = joule_err_set(err, JOULE_EIO, "ipmi %s: out of memory", s->hostname);
    else if (ipmi_cmd_chassis_control(ctx, control, rs) < 0)
        rc = ipmi_fail(s, ctx, what, err);
    fiid_obj_destroy(rs);
    ipmi_session_close(ctx);
    return rc;
}

static int pw_ipmi_on(void *state, struct joule_err *err)
{
    return chassis_control(state, IPMI_CHASSIS_CONTROL_POWER_UP, "chassis power up", err);
}

static int pw_ipmi_off(void *state, bool hard, struct joule_err *err)
{
    return hard ? chassis_control(state, IPMI_CHASSIS_CONTROL_POWER_DOWN, "chassis power down",
                                  err)
                : chassis_control(state, IPMI_CHASSIS_CONTROL_INITIATE_SOFT_SHUTDOWN,
                                  "chassis soft shutdown", err);
}

/* ---- watts ---- */

static int dcmi_watts(struct pw_ipmi *s, ipmi_ctx_t ctx, double *watts, struct joule_err *err)
{
    fiid_obj_t rs = fiid_obj_create(tmpl_cmd_dcmi_get_power_reading_rs);
    uint64_t cur = 0, active = 0;
    int rc = 0;
    if (!rs)
        return joule_err_set(err, JOULE_EIO, "ipmi %s: out of memory", s->hostname);
    if (ipmi_cmd_dcmi_get_power_reading(ctx, IPMI_DCMI_POWER_READING_MODE_SYSTEM_POWER_STATISTICS,
                                        0, rs) < 0)
        rc = ipmi_fail(s, ctx, "DCMI get power reading", err);
    else if (FIID_OBJ_GET(rs, "current_power", &cur) < 0 ||
             FIID_OBJ_GET(rs, "power_reading_state.power_measurement", &active) < 0)
        rc = joule_err_set(err, JOULE_EPROTO, "ipmi %s: DCMI power reading is malformed",
                           s->hostname);
    else if (!active)
        rc = joule_err_set(err, JOULE_EUNAVAIL, "ipmi %s: DCMI power measurement is not active",
                           s->hostname);
    else
        *watts = (double)cur;
    fiid_obj_destroy(rs);
    return rc;
}

/* One piece of an SDR record (offset, up to n bytes) into buf; *next gets the next record id. */
static int sdr_read(struct pw_ipmi *s, ipmi_ctx_t ctx, fiid_obj_t rs, uint16_t res_id,
                    uint16_t record_id, uint8_t offset, uint8_t n, uint8_t *buf, uint16_t *next,
                    struct joule_err *err)
{
    fiid_obj_clear(rs);
    if (ipmi_cmd_get_sdr(ctx, res_id, record_id, offset, n, rs) < 0)
        return ipmi_fail(s, ctx, "get SDR", err);
    uint64_t nx = 0;
    int len = fiid_obj_get_data(rs, "record_data", buf, n);
    if (len != n || FIID_OBJ_GET(rs, "next_record_id", &nx) < 0)
        return joule_err_set(err, JOULE_EPROTO, "ipmi %s: short SDR record %u (%d of %u bytes)",
                             s->hostname, record_id, len, n);
    *next = (uint16_t)nx;
    return 0;
}

/* Walks the SDR repository for the full sensor record of s->watts_sensor: reserve, then per
 * record the 5-byte header and the body in small pieces (what every BMC accepts). */
static int fetch_sensor_sdr(struct pw_ipmi *s, ipmi_ctx_t ctx, struct joule_err *err)
{
    fiid_obj_t res = fiid_obj_create(tmpl_cmd_reserve_sdr_repository_rs);
    fiid_obj_t rs = fiid_obj_create(tmpl_cmd_get_sdr_rs);
    ipmi_sdr_ctx_t sdr = ipmi_sdr_ctx_create();
    int rc = 0;
    uint64_t res_id = 0;
    if (!res || !rs || !sdr)
        rc = joule_err_set(err, JOULE_EIO, "ipmi %s: out of memory", s->hostname);
    else if (ipmi_cmd_reserve_sdr_repository(ctx, res) < 0)
        rc = ipmi_fail(s, ctx, "reserve SDR repository", err);
    else if (FIID_OBJ_GET(res, "reservation_id", &res_id) < 0)
        rc = joule_err_set(err, JOULE_EPROTO, "ipmi %s: reservation without an id", s->hostname);
    uint16_t record_id = 0;
    for (int n = 0; rc == 0 && n < IPMI_SDR_WALK_MAX; n++) {
        uint8_t buf[IPMI_SDR_MAX_RECORD_LENGTH];
        uint16_t next = 0, ignored = 0;
        if ((rc = sdr_read(s, ctx, rs, (uint16_t)res_id, record_id, 0, IPMI_SDR_HEADER_LEN, buf,
                           &next, err)) < 0)
            break;
        unsigned total = IPMI_SDR_HEADER_LEN + buf[IPMI_SDR_HEADER_LEN - 1];
        for (unsigned off = IPMI_SDR_HEADER_LEN; rc == 0 && off < total; off += IPMI_SDR_CHUNK) {
            unsigned want = total - off < IPMI_SDR_CHUNK ? total - off : IPMI_SDR_CHUNK;
            rc = sdr_read(s, ctx, rs, (uint16_t)res_id, record_id, (uint8_t)off, (uint8_t)want,
                          buf + off, &ignored, err);
        }
        if (rc < 0)
            break;
        uint8_t type = 0, num = 0;
        if (ipmi_sdr_parse_record_id_and_type(sdr, buf, total, NULL, &type) == 0 &&
            type == IPMI_SDR_FORMAT_FULL_SENSOR_RECORD &&
            ipmi_sdr_parse_sensor_number(sdr, buf, total, &num) == 0 && num == s->watts_sensor) {
            memcpy(s->sdr, buf, total);
            s->sdr_len = (int)total;
            s->sdr_ok = true;
            break;
        }
        if (next == 0xFFFF) {
            rc = joule_err_set(err, JOULE_ENOENT, "ipmi %s: no full SDR record for sensor %d",
                               s->hostname, s->watts_sensor);
            break;
        }
        record_id = next;
    }
    if (sdr)
        ipmi_sdr_ctx_destroy(sdr);
    fiid_obj_destroy(rs);
    fiid_obj_destroy(res);
    return rc;
}

/* Raw reading -> watts with the record's M, B, exponents and linearization. */
static int sdr_decode(struct pw_ipmi *s, uint8_t raw, double *watts, struct joule_err *err)
{
    ipmi_sdr_ctx_t sdr = ipmi_sdr_ctx_create();
    if (!sdr)
        return joule_err_set(err, JOULE_EIO, "ipmi %s: out of memory", s->hostname);
    int8_t r_exp = 0, b_exp = 0;
    int16_t m = 0, b = 0;
    uint8_t lin = 0, fmt = 0;
    int rc = 0;
    if (ipmi_sdr_parse_sensor_decoding_data(sdr, s->sdr, (unsigned)s->sdr_len, &r_exp, &b_exp, &m,
                                            &b, &lin, &fmt) < 0 ||
        ipmi_sensor_decode_value(r_exp, b_exp, m, b, lin, fmt, raw, watts) < 0)
        rc = joule_err_set(err, JOULE_EPROTO, "ipmi %s: cannot decode sensor %d (%s)",
                           s->hostname, s->watts_sensor, ipmi_sdr_ctx_errormsg(sdr));
    ipmi_sdr_ctx_destroy(sdr);
    return rc;
}

static int sensor_watts(struct pw_ipmi *s, ipmi_ctx_t ctx, double *watts, struct joule_err *err)
{
    int rc;
    if (!s->sdr_ok && (rc = fetch_sensor_sdr(s, ctx, err)) < 0)
        return rc;
    fiid_obj_t rs = fiid_obj_create(tmpl_cmd_get_sensor_reading_rs);
    if (!rs)
        return joule_err_set(err, JOULE_EIO, "ipmi %s: out of memory", s->hostname);
    uint64_t raw = 0, unavailable = 0;
    rc = 0;
    if (ipmi_cmd_get_sensor_reading(ctx, (uint8_t)s->watts_sensor, rs) < 0)
        rc = ipmi_fail(s, ctx, "get sensor reading", err);
    else if (FIID_OBJ_GET(rs, "sensor_reading", &raw) < 0 ||
             FIID_OBJ_GET(rs, "reading_state", &unavailable) < 0)
        rc = joule_err_set(err, JOULE_EPROTO, "ipmi %s: malformed sensor reading", s->hostname);
    else if (unavailable)
        rc = joule_err_set(err, JOULE_EUNAVAIL, "ipmi %s: sensor %d has no reading",
                           s->hostname, s->watts_sensor);
    else
        rc = sdr_decode(s, (uint8_t)raw, watts, err);
    fiid_obj_destroy(rs);
    return rc;
}

static int pw_ipmi_read_watts(void *state, double *watts, struct joule_err *err)
{
    struct pw_ipmi *s = state;
    if (!s->watts_dcmi && s->watts_sensor < 0)
        return joule_err_set(err, JOULE_ENOTSUP,
                             "ipmi %s: no watts source (set ipmi.watts_sensor or ipmi.watts_dcmi)",
                             s->hostname);
    ipmi_ctx_t ctx = NULL;
    int rc = ipmi_session_open(s, &ctx, err);
    if (rc < 0)
        return rc;
    rc = s->watts_dcmi ? dcmi_watts(s, ctx, watts, err) : sensor_watts(s, ctx, watts, err);
    ipmi_session_close(ctx);
    return rc;
}

static void pw_ipmi_destroy(void *state)
{
    struct pw_ipmi *s = state;
    if (!s)
        return;
    free(s->hostname);
    free(s->user);
    if (s->password) {
        memset(s->password, 0, strlen(s->password));
        free(s->password);
    }
    free(s);
}

const struct power_ops power_ipmi_ops = {
    .abi = JOULE_DRIVER_ABI,
    .name = "ipmi",
    .create = pw_ipmi_create,
    .status = pw_ipmi_status,
    .on = pw_ipmi_on,
    .off = pw_ipmi_off,
    .read_watts = pw_ipmi_read_watts,
    .destroy = pw_ipmi_destroy,
};

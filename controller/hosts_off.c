/* hosts_off.c - hosts off per bucket from stored power states; see hosts_off.h. */
#include "hosts_off.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

int hosts_off_state_parse(const char *name, enum hosts_off_state *out)
{
    static const struct {
        const char *name;
        enum hosts_off_state state;
    } map[] = {
        { "off", HOSTS_OFF_STATE_OFF },    { "powering_off", HOSTS_OFF_STATE_OFF },
        { "on", HOSTS_OFF_STATE_UP },      { "draining", HOSTS_OFF_STATE_UP },
        { "waking", HOSTS_OFF_STATE_UP },  { "unknown", HOSTS_OFF_STATE_UNKNOWN },
    };
    for (size_t i = 0; name && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(name, map[i].name) == 0) {
            *out = map[i].state;
            return 0;
        }
    return -1;
}

static int cmp_sample(const void *a, const void *b)
{
    const struct hosts_off_sample *x = a, *y = b;
    if (x->host != y->host)
        return x->host < y->host ? -1 : 1;
    if (x->t_ms != y->t_ms)
        return x->t_ms < y->t_ms ? -1 : 1;
    return (x->state > y->state) - (x->state < y->state);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0))
        q--;
    return q;
}

/* The median of the positive intervals between consecutive samples of a host (for an even
 * count, the upper of the two middle ones); 0 when there is none. */
static int64_t median_interval(const struct hosts_off_sample *s, size_t n)
{
    int64_t *d = xcalloc(n ? n : 1, sizeof *d);
    size_t k = 0;
    for (size_t i = 1; i < n; i++)
        if (s[i].host == s[i - 1].host && s[i].t_ms > s[i - 1].t_ms)
            d[k++] = s[i].t_ms - s[i - 1].t_ms;
    int64_t m = 0;
    if (k > 0) {
        qsort(d, k, sizeof *d, cmp_i64);
        m = d[k / 2];
    }
    free(d);
    return m;
}

/* Adds [a, b) (inside the window) to host h's cells of arr, bucket by bucket. */
static void add_span(int64_t *arr, size_t n_hosts, size_t h, int64_t first_ms, int64_t bucket_ms,
                     int64_t a, int64_t b)
{
    size_t k = (size_t)((a - first_ms) / bucket_ms);
    while (a < b) {
        int64_t end = first_ms + (int64_t)(k + 1) * bucket_ms;
        int64_t seg = b < end ? b : end;
        arr[k * n_hosts + h] += seg - a;
        a = seg;
        k++;
    }
}

int hosts_off_compute(struct hosts_off_sample *samples, size_t n, size_t n_hosts,
                      int64_t since_ms, int64_t until_ms, int64_t bucket_ms,
                      int64_t hold_cap_ms, struct hosts_off *out, struct joule_err *err)
{
    if (since_ms >= until_ms || bucket_ms <= 0 || hold_cap_ms <= 0)
        return joule_err_set(err, JOULE_EINVAL,
                             "hosts off: since must be before until, bucket and hold positive");
    int64_t first = floor_div(since_ms, bucket_ms) * bucket_ms;
    int64_t span = until_ms - first;
    if (span / bucket_ms >= HOSTS_OFF_MAX_BUCKETS)
        return joule_err_set(err, JOULE_EINVAL,
                             "hosts off: %lld buckets from since to until; at most %d (use a "
                             "shorter range or longer buckets)",
                             (long long)(span / bucket_ms + 1), HOSTS_OFF_MAX_BUCKETS);
    for (size_t i = 0; i < n; i++)
        if (samples[i].host >= n_hosts || samples[i].state >= HOSTS_OFF_STATE__COUNT)
            return joule_err_set(err, JOULE_EINVAL, "hosts off: sample %zu: host %zu of %zu",
                                 i, samples[i].host, n_hosts);
    size_t nb = (size_t)((span + bucket_ms - 1) / bucket_ms);
    if (n > 1)
        qsort(samples, n, sizeof *samples, cmp_sample);
    int64_t interval = median_interval(samples, n);
    /* HOSTS_OFF_HOLD_TICKS ticks, at most the cap, but never less than one tick (a tick longer
     * than the cap would otherwise leave part of every tick unknown) */
    int64_t hold = hold_cap_ms;
    if (interval > 0 && interval <= hold_cap_ms / HOSTS_OFF_HOLD_TICKS)
        hold = interval * HOSTS_OFF_HOLD_TICKS;
    else if (interval > hold_cap_ms)
        hold = interval;

    size_t cells = nb * (n_hosts ? n_hosts : 1);
    int64_t *off = xcalloc(cells, sizeof *off);
    int64_t *up = xcalloc(cells, sizeof *up);
    for (size_t i = 0; i < n; i++) {
        const struct hosts_off_sample *s = &samples[i];
        if (s->state == HOSTS_OFF_STATE_UNKNOWN)
            continue;
        int64_t end = s->t_ms + hold;
        if (i + 1 < n && samples[i + 1].host == s->host && samples[i + 1].t_ms < end)
            end = samples[i + 1].t_ms;
        int64_t a = s->t_ms > since_ms ? s->t_ms : since_ms;
        int64_t b = end < until_ms ? end : until_ms;
        if (a < b)
            add_span(s->state == HOSTS_OFF_STATE_OFF ? off : up, n_hosts, s->host, first,
                     bucket_ms, a, b);
    }

    struct hosts_off r = { .n_hosts = n_hosts, .n_buckets = nb, .off_ms = off,
                           .interval_ms = interval, .hold_ms = hold };
    r.buckets = xcalloc(nb, sizeof *r.buckets);
    for (size_t k = 0; k < nb; k++) {
        struct hosts_off_bucket *b = &r.buckets[k];
        b->start_ms = first + (int64_t)k * bucket_ms;
        b->from_ms = b->start_ms > since_ms ? b->start_ms : since_ms;
        b->to_ms = b->start_ms + bucket_ms < until_ms ? b->start_ms + bucket_ms : until_ms;
        int64_t len = b->to_ms - b->from_ms;
        int64_t off_sum = 0, unknown_sum = 0;
        for (size_t h = 0; h < n_hosts; h++) {
            int64_t o = off[k * n_hosts + h], u = up[k * n_hosts + h];
            off_sum += o;
            unknown_sum += len - o - u;
            if (o == len)
                b->off_whole++;
        }
        b->mean_off = (double)off_sum / (double)len;
        b->mean_unknown = (double)unknown_sum / (double)len;
    }
    free(up);
    *out = r;
    return 0;
}

void hosts_off_free(struct hosts_off *h)
{
    if (!h)
        return;
    free(h->buckets);
    free(h->off_ms);
    memset(h, 0, sizeof *h);
}

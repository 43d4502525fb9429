#include "clock.h"

#include <errno.h>
#include <time.h>

#include <stdlib.h>

#include "util/xalloc.h"

static int64_t ts_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t real_now(void *st)
{
    (void)st;
    return ts_ns(CLOCK_REALTIME);
}

static int64_t real_mono(void *st)
{
    (void)st;
    return ts_ns(CLOCK_MONOTONIC);
}

static void real_sleep_until(void *st, int64_t deadline)
{
    (void)st;
    struct timespec ts = { .tv_sec = deadline / 1000000000LL, .tv_nsec = deadline % 1000000000LL };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static const struct clock g_real = { real_now, real_mono, real_sleep_until, NULL };

const struct clock *clock_real(void) { return &g_real; }

struct clock_sim {
    struct clock clock;
    int64_t now_ns;
    int64_t start_ns;
};

static int64_t sim_now(void *st) { return ((struct clock_sim *)st)->now_ns; }

static int64_t sim_mono(void *st)
{
    struct clock_sim *cs = st;
    return cs->now_ns - cs->start_ns;
}

static void sim_sleep_until(void *st, int64_t deadline)
{
    struct clock_sim *cs = st;
    if (deadline > sim_mono(cs))
        cs->now_ns = cs->start_ns + deadline;
}

struct clock_sim *clock_sim_new(int64_t start_now_ns)
{
    struct clock_sim *cs = xcalloc(1, sizeof *cs);
    cs->now_ns = cs->start_ns = start_now_ns;
    cs->clock = (struct clock){ sim_now, sim_mono, sim_sleep_until, cs };
    return cs;
}

void clock_sim_free(struct clock_sim *cs) { free(cs); }

const struct clock *clock_sim_clock(const struct clock_sim *cs) { return &cs->clock; }

void clock_sim_advance(struct clock_sim *cs, int64_t delta_ns)
{
    if (delta_ns > 0)
        cs->now_ns += delta_ns;
}

void clock_sim_set(struct clock_sim *cs, int64_t now_ns)
{
    if (now_ns > cs->now_ns)
        cs->now_ns = now_ns;
}

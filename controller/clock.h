/* clock.h - the one source of time outside the policy engine: real or simulated, same interface. */
#ifndef JOULE_CLOCK_H
#define JOULE_CLOCK_H

#include <stdint.h>

struct clock {
    int64_t (*now_ns)(void *st);   /* wall clock, ns since the Unix epoch (UTC) */
    int64_t (*mono_ns)(void *st);  /* monotonic, ns */
    /* Waits until mono_ns() >= deadline; the sim clock jumps there at once. */
    void (*sleep_until_ns)(void *st, int64_t mono_deadline_ns);
    void *st;
};

static inline int64_t clock_now_ns(const struct clock *c) { return c->now_ns(c->st); }
static inline int64_t clock_mono_ns(const struct clock *c) { return c->mono_ns(c->st); }
static inline void clock_sleep_until_ns(const struct clock *c, int64_t d) { c->sleep_until_ns(c->st, d); }

/* The real clock (CLOCK_REALTIME / CLOCK_MONOTONIC); a static object, never freed. */
const struct clock *clock_real(void);

/* A simulated clock: time moves only when clock_sim_advance/set is called (or on sleep). */
struct clock_sim;
struct clock_sim *clock_sim_new(int64_t start_now_ns);
void clock_sim_free(struct clock_sim *cs);
const struct clock *clock_sim_clock(const struct clock_sim *cs);
void clock_sim_advance(struct clock_sim *cs, int64_t delta_ns);
void clock_sim_set(struct clock_sim *cs, int64_t now_ns);

#endif

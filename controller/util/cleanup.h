/* cleanup.h - scope-bound cleanup (libvirt's g_autoptr, GCC/Clang). */
#ifndef JOULE_UTIL_CLEANUP_H
#define JOULE_UTIL_CLEANUP_H

#include <stdlib.h>

static inline void joule_freep(void *p) { free(*(void **)p); }
#define AUTOFREE __attribute__((cleanup(joule_freep)))

#define AUTOPTR_DEFINE(name, type, freefn)                                                         \
    typedef type *name##_autoptr_t;                                                                \
    static inline void name##_autoptr_cleanup(type **p)                                            \
    {                                                                                              \
        if (*p)                                                                                    \
            freefn(*p);                                                                            \
    }
#define AUTOPTR(name) __attribute__((cleanup(name##_autoptr_cleanup))) name##_autoptr_t

static inline void *steal_ptr(void *pp)
{
    void **p = pp, *v = *p;
    *p = NULL;
    return v;
}

#endif

#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "util/xalloc.h"

struct hv_vm_sample *hv_sample_add_vm(struct hv_sample *s)
{
    xgrow((void **)&s->vms, &s->cap_vms, s->n_vms + 1, sizeof *s->vms);
    struct hv_vm_sample *v = &s->vms[s->n_vms++];
    memset(v, 0, sizeof *v);
    return v;
}

void hv_sample_clear(struct hv_sample *s)
{
    for (size_t i = 0; i < s->n_vms; i++) {
        free(s->vms[i].name);
        s->vms[i].name = NULL;
    }
    s->n_vms = 0;
    s->t_ns = s->mono_ns = 0;
    s->cpus = 0;
    s->mhz = 0;
    s->mem_kib = 0;
}

void hv_sample_free(struct hv_sample *s)
{
    hv_sample_clear(s);
    free(s->vms);
    memset(s, 0, sizeof *s);
}

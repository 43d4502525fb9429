/* Fuzz target: snapshot JSON -> parser -> policy (both balance rules) -> plan and snapshot JSON,
 * and the written snapshot must parse again. Built as a libFuzzer target with
 * -DJOULE_FUZZ_LIBFUZZER, otherwise as a ctest that replays tests/fuzz/corpus/snapshot_json/
 * plus a fixed number of seeded mutations of each file (deterministic). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_json.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t n_parsed; /* inputs that parsed and went through the policy */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct snapshot_doc *d = NULL;
    struct joule_err err = { 0 };
    if (snapshot_json_parse((const char *)data, size, "fuzz", &d, &err) < 0)
        return 0;
    n_parsed++;
    for (int b = 0; b < 3; b++) {
        struct policy_cfg cfg = d->cfg;
        cfg.balance = (enum policy_balance)b;
        struct plan p;
        plan_init(&p);
        if (policy_run(&cfg, &d->snap, &p, &err) == 0) {
            char *j = plan_json_write(&p, &d->snap);
            free(j);
        }
        plan_free(&p);
    }
    char *j = snapshot_json_write(&d->snap, &d->cfg);
    struct snapshot_doc *again = NULL;
    if (snapshot_json_parse(j, strlen(j), "rewritten", &again, &err) < 0) {
        fprintf(stderr, "written snapshot does not parse: %s\n%s\n", err.msg, j);
        abort();
    }
    snapshot_doc_free(again);
    free(j);
    snapshot_doc_free(d);
    return 0;
}

#ifndef JOULE_FUZZ_LIBFUZZER
#define MUTATIONS_PER_FILE 500

static uint64_t next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static const char *const numbers[] = { "0", "1", "-1", "0.5", "100", "101", "1e308", "1e-300",
                                       "4294967295", "9223372036854775807", "2", "80", "32" };
static const char *const tokens[] = { "null", "-1", "1e309", "0", "\"on\"", "\"off\"", "{", "}",
                                      "[", "]", ",", "\"", "true", "9223372036854775807",
                                      "-9223372036854775808", "1e-320", "\"host\"", "\"A\"" };

/* One seeded mutation of buf (len) into a new buffer; *out_len set. */
static char *mutate(const char *buf, size_t len, uint64_t *seed, size_t *out_len)
{
    char *m = xmalloc(len + 64);
    memcpy(m, buf, len);
    size_t n = len;
    int edits = next(seed) % 4 == 0 ? 2 : 1;
    for (int e = 0; e < edits && n > 0; e++) {
        size_t at = next(seed) % n;
        switch (next(seed) % 8) {
        case 0: m[at] = (char)(next(seed) & 0xff); break;                 /* flip a byte */
        case 1: {                                                          /* delete a range */
            size_t k = 1 + next(seed) % 16;
            if (k > n - at)
                k = n - at;
            memmove(m + at, m + at + k, n - at - k);
            n -= k;
            break;
        }
        case 2: n = at; break;                                             /* truncate */
        case 3:
        case 4:
        case 5: {                                                          /* change a number */
            while (at < n && !(m[at] >= '0' && m[at] <= '9'))
                at++;
            size_t end = at;
            while (end < n && strchr("0123456789.eE+-", m[end]))
                end++;
            if (at == n)
                break;
            const char *t = numbers[next(seed) % (sizeof numbers / sizeof numbers[0])];
            size_t tl = strlen(t), old = end - at;
            if (n - old + tl > len + 64)
                break;
            memmove(m + at + tl, m + end, n - end);
            memcpy(m + at, t, tl);
            n = n - old + tl;
            break;
        }
        default: {                                                         /* insert a token */
            const char *t = tokens[next(seed) % (sizeof tokens / sizeof tokens[0])];
            size_t tl = strlen(t);
            if (n + tl > len + 64)
                break;
            memmove(m + at + tl, m + at, n - at);
            memcpy(m + at, t, tl);
            n += tl;
            break;
        }
        }
    }
    *out_len = n;
    return m;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        perror(argv[1]);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir)))
        if (e->d_name[0] != '.') {
            xgrow((void **)&names, &cap, n + 1, sizeof *names);
            names[n++] = xasprintf("%s/%s", argv[1], e->d_name);
        }
    closedir(dir);
    qsort(names, n, sizeof *names, name_cmp);
    size_t runs = 0;
    for (size_t i = 0; i < n; i++) {
        FILE *f = fopen(names[i], "rb");
        if (!f) {
            perror(names[i]);
            return 1;
        }
        char *buf = NULL;
        size_t len = 0, bcap = 0, got;
        do {
            xgrow((void **)&buf, &bcap, len + 4096, 1);
            got = fread(buf + len, 1, bcap - len, f);
            len += got;
        } while (got > 0);
        fclose(f);
        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
        runs++;
        uint64_t seed = 0x5eed0000u + i;
        for (int k = 0; k < MUTATIONS_PER_FILE; k++) {
            size_t ml;
            char *m = mutate(buf, len, &seed, &ml);
            LLVMFuzzerTestOneInput((const uint8_t *)m, ml);
            free(m);
            runs++;
        }
        free(buf);
        free(names[i]);
    }
    free(names);
    printf("fuzz_snapshot_json: %zu inputs from %zu corpus files (%zu parsed and planned), no "
           "crash\n", runs, n, n_parsed);
    return n > 0 ? 0 : 1;
}
#endif

#include "support/test_support.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "snapshot_json.h"
#include "util/xalloc.h"

bool joule_test_ci(void)
{
    const char *ci = getenv("JOULE_CI");
    return ci && strcmp(ci, "1") == 0;
}

int joule_test_skip(const char *why)
{
    if (joule_test_ci()) {
        fprintf(stderr, "FAIL (JOULE_CI=1 turns a skip into a failure): %s\n", why);
        return 1;
    }
    fprintf(stderr, "SKIP: %s\n", why);
    return JOULE_TEST_SKIP;
}

char *joule_test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *tmpl = xasprintf("%s/joule-%s-XXXXXX", base, tag);
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpl, strerror(errno));
        abort();
    }
    return tmpl;
}

void joule_test_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = xasprintf("%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                joule_test_rmtree(p);
            else
                unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

char *joule_test_write_file(const char *dir, const char *name, const char *text, unsigned mode)
{
    char *p = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) {
        fprintf(stderr, "write %s: %s\n", p, strerror(errno));
        abort();
    }
    fputs(text, f);
    fclose(f);
    chmod(p, mode);
    return p;
}

char *joule_test_source_path(const char *rel)
{
    const char *src = getenv("JOULE_SOURCE_DIR");
    return xasprintf("%s/%s", src ? src : JOULE_SOURCE_DIR_DEFAULT, rel);
}

struct snapshot_doc *joule_test_snapshot(const char *json)
{
    struct snapshot_doc *d = NULL;
    struct joule_err err = { 0 };
    if (snapshot_json_parse(json, strlen(json), "test", &d, &err) < 0)
        fail_msg("%s", err.msg);
    return d;
}

void joule_test_plan(struct snapshot_doc *d, struct plan *p)
{
    struct joule_err err = { 0 };
    plan_init(p);
    if (policy_run(&d->cfg, &d->snap, p, &err) < 0)
        fail_msg("%s", err.msg);
}

int joule_test_snapshot_host(const struct snapshot_doc *d, const char *name)
{
    for (size_t i = 0; i < d->snap.n_hosts; i++)
        if (!strcmp(d->snap.hosts[i].name, name))
            return (int)i;
    return -2;
}

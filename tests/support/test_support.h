/* test_support.h - helpers shared by joule's tests. */
#ifndef JOULE_TEST_SUPPORT_H
#define JOULE_TEST_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include <cmocka.h>

#define JOULE_TEST_SKIP 77

/* Exit code for "cannot run here": 77, or 1 (a failure) under JOULE_CI=1. Prints why. */
int joule_test_skip(const char *why);
bool joule_test_ci(void);
/* A fresh private temp directory (removed by joule_test_rmtree). Caller frees. */
char *joule_test_tmpdir(const char *tag);
void joule_test_rmtree(const char *dir);
/* Writes text to dir/name with the given mode; returns the path (caller frees). */
char *joule_test_write_file(const char *dir, const char *name, const char *text, unsigned mode);
/* Path under the source tree ($JOULE_SOURCE_DIR or the compiled-in one). Caller frees. */
char *joule_test_source_path(const char *rel);

/* Policy tests on hand-written snapshot JSON (controller/snapshot_json.h): a parse or policy
 * error fails the test with its message. */
struct snapshot_doc;
struct plan;
struct snapshot_doc *joule_test_snapshot(const char *json);
/* plan_init(p), then one policy_run with the document's own policy settings */
void joule_test_plan(struct snapshot_doc *d, struct plan *p);
/* index of the host called `name` in d's snapshot, -2 if none */
int joule_test_snapshot_host(const struct snapshot_doc *d, const char *name);

#endif

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

#endif

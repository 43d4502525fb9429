#!/usr/bin/env bash
# The policy engine is pure (STYLE.md §8): its library may only use memory, string, math,
# qsort and snprintf from libc. Anything else (time, clock_gettime, rand, fopen, write...) fails.
set -euo pipefail
lib=$1
allowed='^(malloc|calloc|realloc|free|memcpy|memmove|memset|memcmp|strlen|strcmp|strncmp|strchr|strrchr|strstr|strdup|strndup|snprintf|vsnprintf|qsort|bsearch|abort|__assert_fail|__stack_chk_fail|sqrt|fabs|floor|ceil|round|lround|llround|log|exp|pow|fmin|fmax|fmod|cos|sin|isnan|isinf|__isnan|__isinf|__errno_location|__ctype_b_loc|__printf_chk|__snprintf_chk|__vsnprintf_chk|__memcpy_chk|__memset_chk|__memmove_chk|__fprintf_chk|fprintf|stderr|xmalloc|xcalloc|xrealloc|xgrow|xstrdup|xstrndup|xasprintf|joule_err_set|joule_err_prefix|joule_err_clear|__ubsan_.*|__asan_.*|__sanitizer_.*|__lsan_.*|_GLOBAL_OFFSET_TABLE_)$'
# Symbols defined by the library's own objects (one rule file calling another) are fine.
defined=$(nm --defined-only "$lib" | awk 'NF==3{print $3}' | sort -u)
bad=$(nm -u "$lib" | awk '$1=="U"{print $2}' | sed 's/@.*//' | sort -u | grep -Ev "$allowed" |
      comm -23 - <(printf '%s\n' "$defined") || true)
if [ -n "$bad" ]; then
  echo "policy purity: libjoule_policy uses forbidden symbols:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "policy purity: ok ($(nm -u "$lib" | grep -c ' U ') undefined symbols, all allowed)"

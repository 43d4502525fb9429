#!/usr/bin/env bash
# A short libFuzzer run of every ZigBee decoder target, part of the test command.
#   JOULE_FUZZ_SECONDS=600 tests/fuzz/run_fuzz.sh     longer, on demand
#   JOULE_FUZZ_TARGETS="zcl" ...                      only some targets
# Builds with clang -fsanitize=fuzzer,address,undefined into a scratch directory; fuzzes a copy of
# tests/fuzz/corpus/<target>; on a crash prints the input (hex) and its path, and fails.
# Without clang/libFuzzer (tools/setup installs both) it skips (exit 77; a failure under JOULE_CI=1).
set -euo pipefail
src=${JOULE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
secs=${JOULE_FUZZ_SECONDS:-5}
targets=${JOULE_FUZZ_TARGETS:-"xbee znp zcl"}
skip() {
  echo "run_fuzz: skipped: $*" >&2
  [ "${JOULE_CI:-0}" = 1 ] && exit 1
  exit 77
}
command -v clang >/dev/null || skip "clang is not installed"
command -v pkg-config >/dev/null || skip "pkg-config is not installed"
work=$(mktemp -d /tmp/joule-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
  > "$work/probe.c"
clang -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" 2>"$work/probe.err" ||
  skip "clang cannot link libFuzzer ($(tail -1 "$work/probe.err")); install libclang-rt-14-dev"
bson=$(pkg-config --cflags --libs libbson-1.0)
decoders=("$src"/drivers/meter/{zcl,xbee,znp,zb_stream,zigbee_json}.c)
for t in $targets; do
  # shellcheck disable=SC2086
  clang -g -O1 -std=c11 -D_DEFAULT_SOURCE -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -I"$src/drivers" -I"$src/controller" -I"$src/tests/fuzz" \
    "$src/tests/fuzz/fuzz_$t.c" "${decoders[@]}" $bson -lm -o "$work/fuzz_$t"
  mkdir -p "$work/corpus_$t"
  cp "$src/tests/fuzz/corpus/$t/"* "$work/corpus_$t/"
  if ! "$work/fuzz_$t" -max_total_time="$secs" -max_len=1200 -print_final_stats=1 \
      -artifact_prefix="$work/crash_$t-" "$work/corpus_$t" >"$work/log_$t" 2>&1; then
    tail -40 "$work/log_$t"
    for c in "$work"/crash_"$t"-*; do
      [ -e "$c" ] || continue
      echo "run_fuzz: $t crashed on: $(od -An -tx1 -v "$c" | tr -s ' \n' ' ')"
      cp "$c" "${TMPDIR:-/tmp}/joule-fuzz-crash-$t-$(basename "$c")"
      echo "run_fuzz: kept as ${TMPDIR:-/tmp}/joule-fuzz-crash-$t-$(basename "$c") (add it to tests/fuzz/corpus/$t)"
    done
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log_$t" | grep -o '[0-9]*$' || echo '?')
  echo "run_fuzz: $t: $runs inputs in ${secs}s, no crash"
done

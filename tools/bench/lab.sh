#!/usr/bin/env bash
# tools/bench/lab.sh BUILD_DIR - lab start (cold: empty QEMU capabilities cache; warm), guest
# boot, sampling cost and migration times. Uses its own lab (JOULE_LAB_DIR /tmp/joule-lab-bench,
# prefix jlb) and tears it down at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
export JOULE_LAB_DIR=${JOULE_LAB_DIR:-/tmp/joule-lab-bench} JOULE_LAB_PREFIX=${JOULE_LAB_PREFIX:-jlb}
lab=$root/tools/lab
t() { local t0; t0=$(date +%s.%N); "$@" >/dev/null; awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}'; }
trap '"$lab" down >/dev/null 2>&1 || true' EXIT
"$lab" down >/dev/null 2>&1 || true
rm -rf "$JOULE_LAB_DIR"/{a,b}/cache
echo "lab up, cold (no QEMU capabilities cache): $(t "$lab" up) s"
"$lab" down >/dev/null
echo "lab up, warm: $(t "$lab" up) s"
for g in bench1 bench2; do
  echo "guest $g boot (start to LAB-READY): $(t bash -c "'$lab' guest start $g a 20 && '$lab' guest wait $g 120") s"
done
"$build/tools/bench/lab_bench" 20 2

#!/usr/bin/env bash
# joulectl replay end to end on the repo's copy of PlanetLab day 20110303: --json has the
# documented keys, --svg writes a drawing, bad input gives a clear error and exit code.
set -euo pipefail
joulectl=$1
src=${JOULE_SOURCE_DIR:?}
day=$src/tests/data/planetlab/20110303
tmp=$(mktemp -d /tmp/joule-replay-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$joulectl" replay --json --svg "$tmp/day.svg" --policy thr-mmt "$day" > "$tmp/out.json"
for key in energy_kwh migrations slatah pdm slav esv host_shutdowns; do
  grep -Eq "\"$key\" *: *[0-9]" "$tmp/out.json" ||
    { echo "missing key $key"; cat "$tmp/out.json"; exit 1; }
done
grep -Eq '"policy" *: *"thr-mmt"' "$tmp/out.json"
grep -q '<svg' "$tmp/day.svg" && grep -q '<polyline' "$tmp/day.svg"
cat "$tmp/out.json"

# table a order and a threshold from the command line
"$joulectl" replay --json --vm-order "$src/tests/data/planetlab/vm_order/20110303.csv" \
  --set thr_threshold=0.9 --policy thr-mmt "$day" | grep -Eq '"migrations" *: *[0-9]'

# errors: unknown setting (usage, 2), missing directory (failure, 1)
set +e
"$joulectl" replay --set bogus=1 "$day" 2> "$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q 'unknown setting "bogus"' "$tmp/err" || { cat "$tmp/err"; exit 1; }
set +e
"$joulectl" replay /nonexistent-joule-trace 2> "$tmp/err"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q 'nonexistent-joule-trace' "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "replay cli: ok"

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
# the executor engine on a config's hosts: a tiny trace (two VMs at 20 % of a core for a day on
# two 4-core hosts), twice: identical JSON apart from the wall time
mkdir -p "$tmp/tiny"
for vm in a b; do for i in $(seq 288); do echo 20; done > "$tmp/tiny/$vm"; done
cat > "$tmp/tiny.conf" <<'CONF'
api = { listen = ""; };
tick_s = 60;
policy = { algorithm = "joule"; consolidate = "always"; };
hosts = ( { name = "h0"; hypervisor = "sim"; cpus = 4; memory_mib = 8192; idle_w = 100; max_w = 200;
            power = { methods = [ "sim" ]; }; },
          { name = "h1"; hypervisor = "sim"; cpus = 4; memory_mib = 8192; idle_w = 100; max_w = 200;
            power = { methods = [ "sim" ]; }; } );
CONF
for run in 1 2; do
  "$joulectl" replay --json --config "$tmp/tiny.conf" "$tmp/tiny" | sed 's/"wall_s" : [0-9.e+-]*//' > "$tmp/exec$run.json"
done
cmp "$tmp/exec1.json" "$tmp/exec2.json" || { diff "$tmp/exec1.json" "$tmp/exec2.json"; exit 1; }
grep -Eq '"engine" *: *"executor"' "$tmp/exec1.json"
for key in energy_kwh migrations slatah pdm slav esv host_shutdowns; do
  grep -Eq "\"$key\" *: *[0-9]" "$tmp/exec1.json" || { echo "missing key $key"; cat "$tmp/exec1.json"; exit 1; }
done
cat "$tmp/exec1.json"
# both VMs on one host from t=0 (the other never switched on): 2 x 0.2 of 4 cores, 110 W a day
grep -Eq '"energy_kwh" *: *2\.64[0-9]*[,}]' "$tmp/exec1.json" || { echo "energy is not 2.64 kWh"; exit 1; }
"$joulectl" replay --json --engine cloudsim --config "$tmp/tiny.conf" "$tmp/tiny" | grep -Eq '"engine" *: *"cloudsim"'
set +e
"$joulectl" replay --engine executor "$day" 2> "$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q "give --config with hosts" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "replay cli: ok"

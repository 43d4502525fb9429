#!/usr/bin/env bash
# The real jouled process on a simulated cluster: API on a free loopback port (joulectl status,
# /metrics through promtool, POST needs the token, joulectl run consolidate --now), SIGHUP with
# an invalid config (rejected with file:line, old config kept), SIGHUP with a valid one (taken),
# SIGTERM (exit 0, store flushed). Waits for real events with deadlines, never fixed sleeps.
#   usage: jouled_process.sh JOULED JOULECTL
set -uo pipefail
JOULED=$1
JOULECTL=$2
skip() { echo "SKIP: $*"; if [ "${JOULE_CI:-0}" = 1 ]; then exit 1; fi; exit 77; }
fail() { echo "FAIL: $*"; [ -f "$dir/jouled.log" ] && tail -30 "$dir/jouled.log"; exit 1; }
command -v python3 >/dev/null || skip "python3 missing (tools/setup)"
command -v promtool >/dev/null || skip "promtool missing (Debian package prometheus; tools/setup)"

dir=$(mktemp -d /tmp/joule-jouled-test.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
addr=127.0.0.1:$port
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/api.token"
chmod 600 "$dir/api.token"

write_config() { # mode th1
  {
    echo "cluster = \"proc\"; mode = \"$1\"; tick_s = 60; load_window_s = 120; periodic_s = 600;"
    echo "log_level = \"info\";"
    echo "policy = { th1_pct = $2; };"
    echo "schedule = { timezone = \"UTC\"; peak = [ \"daily 08:00-18:00\" ]; };"
    echo "meter = { protocol = \"sim\"; };"
    echo "store = { uri = \"memory:\"; };"
    echo "api = { listen = \"$addr\"; token_file = \"$dir/api.token\"; };"
    echo "hosts = ("
    for h in 0 1 2; do
      sep=,; [ $h = 2 ] && sep=
      echo "  { name = \"p$h\"; hypervisor = \"sim\"; cpus = 8; memory_mib = 16384; boot_s = 120;"
      echo "    shutdown_s = 30; meter = \"00:00:00:00:00:00:01:0$h\"; power = { methods = [ \"sim\" ]; }; }$sep"
    done
    echo ");"
    echo "sim = { start = \"2026-11-23T00:00:00Z\"; time_factor = 600; vms = ("
    for v in 0 1 2 3 4 5; do
      sep=,; [ $v = 5 ] && sep=
      echo "  { name = \"v$v\"; host = \"p$((v % 3))\"; vcpus = 2; base = 0.05; amplitude = 0.5; }$sep"
    done
    echo "); };"
  } > "$dir/jouled.conf"
}

write_config auto 80
"$JOULED" --check-config "$dir/jouled.conf" >/dev/null || fail "config does not check"
"$JOULED" --config "$dir/jouled.conf" > "$dir/jouled.log" 2>&1 &
pid=$!

# wait (deadline) until a predicate holds
wait_for() { # seconds, description, command...
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  while ! "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || fail "jouled exited while waiting for $what"
    [ $SECONDS -ge $end ] && fail "timed out waiting for $what"
    sleep 0.1
  done
}
status_has() { "$JOULECTL" status --addr "$addr" --json | grep -q "$1"; }
log_has() { grep -q "$1" "$dir/jouled.log"; }

wait_for 30 "the API" "$JOULECTL" status --addr "$addr"
"$JOULECTL" status --addr "$addr" | grep -q "^HOST  *STATE  *LOAD %" || fail "status table has no header"
wait_for 30 "a plan" status_has '"last_plan"'

# /metrics, as Prometheus reads it
python3 - "$addr" > "$dir/metrics.txt" <<'PY' || fail "GET /metrics"
import sys, urllib.request
print(urllib.request.urlopen("http://%s/metrics" % sys.argv[1], timeout=5).read().decode(), end="")
PY
grep -q '^joule_host_power_state{host="p0",state="on"}' "$dir/metrics.txt" || fail "no power state metric"
grep -q '^joule_loop_duration_seconds_count ' "$dir/metrics.txt" || fail "no loop duration metric"
promtool check metrics < "$dir/metrics.txt" || fail "promtool rejects /metrics"

# state changes need the token
code=$(python3 - "$addr" <<'PY'
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(urllib.request.Request("http://%s/pause" % sys.argv[1], data=b"", method="POST"), timeout=5)
    print(200)
except urllib.error.HTTPError as e:
    print(e.code)
PY
)
[ "$code" = 401 ] || fail "POST /pause without a token answered $code"
"$JOULECTL" run consolidate --now --addr "$addr" --token-file "$dir/api.token" || fail "joulectl run"
wait_for 30 "the manual run" log_has "event=trigger kind=manual"

# SIGHUP with an invalid config: rejected with file:line, the old config stays
write_config auto 130
kill -HUP "$pid"
wait_for 30 "the rejected reload" log_has "event=reload_rejected error=\"$dir/jouled.conf:[0-9]*: th1_pct"
kill -0 "$pid" || fail "jouled died on a bad reload"
status_has '"mode" : "auto"' || fail "mode changed after a rejected reload"
# SIGHUP with a valid config: taken
write_config dry-run 75
kill -HUP "$pid"
wait_for 30 "the reload" status_has '"mode" : "dry-run"'

# SIGTERM: exit 0 after flushing
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "jouled exited $rc on SIGTERM"
grep -q "event=stopped" "$dir/jouled.log" || fail "no stop log line"
echo "ok: api, metrics, token, run, reload rejected/taken, SIGTERM exit 0"

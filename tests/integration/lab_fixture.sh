#!/usr/bin/env bash
# ctest fixture for the libvirt lab: `up` / `down` through tools/lab. Exits 77 (skip) when the
# lab cannot run here (not root, libvirtd or qemu missing); under JOULE_CI=1 that is a failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() {
  if [ "${JOULE_CI:-}" = 1 ]; then echo "FAIL (JOULE_CI=1 turns a skip into a failure): $*" >&2; exit 1; fi
  echo "SKIP: $*" >&2; exit 77
}
if [ "$1" = up ]; then
  [ "$(id -u)" -eq 0 ] || skip "the libvirt lab needs root (network and mount namespaces)"
  for c in /usr/sbin/libvirtd /usr/bin/qemu-system-x86_64 /usr/bin/virsh /bin/busybox; do
    [ -x "$c" ] || skip "$c is missing (tools/setup installs it)"
  done
fi
exec "$root/tools/lab" "$@"

#!/bin/bash
# Manual acceptance check for the package: "the .deb installs on a clean machine and its
# services start on loopback". Bootstraps a minimal Debian 12 (debootstrap --variant=minbase)
# into a temporary directory, installs the .deb there with apt (which pulls its declared
# dependencies from the mirror), then starts both daemons inside it exactly as their units'
# ExecStart lines say (options from the installed /etc/default files; flowexport@lo with the
# shipped example options) in a private network namespace, feeds traffic on lo, stops them
# with SIGTERM and checks what the collector wrote.
#
# usage: sudo scripts/deb-clean-install.sh [BUILD_DIR]      (default: build)
#        sudo DEB=path/to/flowtools_<ver>_<arch>.deb scripts/deb-clean-install.sh
# Needs root, debootstrap, unshare/ip and access to the Debian mirror ($MIRROR, default
# http://deb.debian.org/debian). Takes 1-3 minutes, mostly downloading. Not part of ctest
# (network); `ctest -L packaging` does the offline equivalent. Results: docs/packaging.md.
set -euo pipefail

build=${1:-build}
mirror=${MIRROR:-http://deb.debian.org/debian}
suite=${SUITE:-bookworm}

die() { echo "deb-clean-install: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, network namespace)"
for tool in debootstrap chroot unshare ip cpack; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install debootstrap iproute2 cmake)"
done
[ -n "${DEB:-}" ] || [ -f "$build/CPackConfig.cmake" ] || die "$build is not a configured build directory"
if ! timeout 10 bash -c "exec 3<>/dev/tcp/$(echo "$mirror" | sed -E 's#^[a-z]+://([^/:]+).*#\1#')/80" 2>/dev/null; then
  echo "deb-clean-install: SKIP: the mirror $mirror is unreachable"
  exit 77
fi

work=$(mktemp -d /tmp/flowtools-clean.XXXXXX)
root=$work/root
cleanup() {
  umount "$root/proc" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${DEB:-}" ]; then
  deb=$(realpath "$DEB")
else
  echo "== building the package in $build"
  (cd "$build" && cpack -G DEB -B "$work/pkg" >/dev/null)
  deb=$(ls "$work"/pkg/*.deb)
fi
echo "   $(basename "$deb")"

echo "== debootstrap --variant=minbase $suite from $mirror"
start=$(date +%s)
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log"; die "debootstrap failed"; }
echo "   done in $(( $(date +%s) - start )) s"
mount -t proc proc "$root/proc"
cp "$deb" "$root/tmp/"

echo "== apt-get install ./$(basename "$deb") in the clean root"
chroot "$root" apt-get update -qq
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "/tmp/$(basename "$deb")" \
  >"$work/apt.log" 2>&1 || { tail -30 "$work/apt.log"; die "apt-get install failed"; }
grep -E "^(Unpacking|Setting up) " "$work/apt.log" | sed 's/^/   /'
chroot "$root" dpkg -s flowtools | grep -E "^(Status|Version|Depends):" | sed 's/^/   /'
chroot "$root" flowexport --version | sed 's/^/   /'
chroot "$root" flowcollect --version | sed 's/^/   /'

# The commands systemd would run: ExecStart with the unit's EnvironmentFile sourced.
fc_exec=$(sed -n 's/^ExecStart=//p' "$root/usr/lib/systemd/system/flowcollect.service")
fe_exec=$(sed -n 's/^ExecStart=//p' "$root/usr/lib/systemd/system/flowexport@.service" | sed 's/%i/lo/g')
cp "$root/usr/share/doc/flowtools/examples/flowexport" "$root/etc/default/flowexport-lo"
echo "== starting the services in a private network namespace"
echo "   flowcollect.service: $fc_exec"
echo "   flowexport@lo.service: $fe_exec"
export root fc_exec fe_exec
# shellcheck disable=SC2016  # expanded by the inner bash, from the exported variables
unshare -n bash -c '
  set -euo pipefail
  ip link set lo up
  mkdir -p "$root/var/lib/flowcollect"
  chroot "$root" sh -c ". /etc/default/flowcollect; cd /var/lib/flowcollect; exec $fc_exec" \
    2>"$root/tmp/flowcollect.err" &
  fc=$!
  for _ in $(seq 100); do grep -q ":0807 " /proc/net/udp && break; sleep 0.05; done
  grep -q ":0807 " /proc/net/udp || { cat "$root/tmp/flowcollect.err"; exit 1; }
  echo "   flowcollect listening: $(awk "\$2 ~ /:0807\$/ {print \$2}" /proc/net/udp /proc/net/udp6 | tr "\n" " ")"
  chroot "$root" sh -c ". /etc/default/flowexport-lo; exec $fe_exec" 2>"$root/tmp/flowexport.err" &
  fe=$!
  for _ in $(seq 30); do echo probe >/dev/udp/127.0.0.1/9 || true; sleep 0.05; done
  kill -TERM "$fe"; wait "$fe" || { echo "flowexport exited $?"; cat "$root/tmp/flowexport.err"; exit 1; }
  sleep 0.5
  kill -TERM "$fc"; wait "$fc" || { echo "flowcollect exited $?"; cat "$root/tmp/flowcollect.err"; exit 1; }
'
echo "== flowexport@lo summary (stopped by SIGTERM)"
sed 's/^/   /' "$root/tmp/flowexport.err"
echo "== flowcollect summary (stopped by SIGTERM)"
sed 's/^/   /' "$root/tmp/flowcollect.err"
state=$root/var/lib/flowcollect
ls "$state"/flows-*.csv >/dev/null 2>&1 || die "no CSV written in /var/lib/flowcollect"
if [ ! -s "$state/stats.json" ] || [ ! -s "$state/templates.store" ]; then
  die "stats.json/templates.store missing"
fi
rows=$(cat "$state"/flows-*.csv | grep -vc '^[a-z_,]*$' || true)
echo "== /var/lib/flowcollect: $(find "$state" -mindepth 1 -maxdepth 1 -printf '%f ')"
echo "   $rows CSV rows"
[ "$rows" -gt 0 ] || die "the collector wrote no rows"
echo "PASS: installed with apt on a clean $suite and both services ran on loopback"

# Shared by the deployment checks in ci/: messages, waiting, cached Debian root filesystems,
# a booted systemd machine (systemd-nspawn), and the emulated Cloudreve (examples/emulator.rs).
# Everything talks over 127.0.0.1 only. Source it; it sets `set -euo pipefail`.
set -euo pipefail

ci_name=$(basename "$0")
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${CLOUDREVE_AUTOSELECT_CI_CACHE:-/var/cache/cloudreve-autoselect-ci}
# Tail of what the last failing check should show; scripts add their own context (journal etc.).
on_failure_hooks=()
cleanup_hooks=()
started=$(date +%s)

note() { printf '[%s %3ss] %s\n' "$ci_name" "$(($(date +%s) - started))" "$*"; }
pass() { note "ok: $*"; }

# fail WHAT: names what broke, shows the context the scripts registered, exits 1.
fail() {
  printf '\n[%s] FAILED: %s\n' "$ci_name" "$*" >&2
  local hook
  for hook in "${on_failure_hooks[@]}"; do
    printf '\n--- %s ---\n' "$hook" >&2
    $hook >&2 2>&1 || true
  done
  exit 1
}

run_cleanup() {
  local status=$? i
  for ((i = ${#cleanup_hooks[@]} - 1; i >= 0; i--)); do
    ${cleanup_hooks[i]} >/dev/null 2>&1 || true
  done
  note "cleaned up"
  exit "$status"
}
trap run_cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s; fails naming WHAT on timeout.
# The timeout is generous on purpose: it bounds a hang, it does not measure anything.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$(($(date +%s) + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      fail "$what (not seen within ${seconds}s)"
    fi
    sleep 0.2
  done
}

# COMMAND | has [GREP OPTIONS] PATTERN: like grep -q, but reads all of its input first, so the
# command before it never dies of SIGPIPE (which `set -o pipefail` would count as a failure).
has() {
  local input
  input=$(cat)
  grep -q "$@" <<<"$input"
}

need() { # need COMMAND PACKAGE...: installs the Debian packages when COMMAND is missing.
  local command=$1
  shift
  command -v "$command" >/dev/null 2>&1 && return 0
  note "installing $*"
  if [ -z "${ci_apt_updated:-}" ]; then
    apt-get update -qq
    ci_apt_updated=1
  fi
  # policy-rc.d keeps Debian's docker.io from starting a daemon (with a bridge) on install.
  local policy=/usr/sbin/policy-rc.d own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  [ -z "$own_policy" ] || rm -f "$policy"
}

# rootfs NAME PACKAGES: a Debian 12 minbase tarball with PACKAGES, built once with debootstrap
# and cached under $cache (delete the file to rebuild). Prints the tarball's path.
rootfs() {
  local name=$1 include=$2
  local tarball="$cache/$name.tar"
  if [ ! -s "$tarball" ]; then
    need debootstrap debootstrap
    mkdir -p "$cache"
    local mirror build
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    build=$(mktemp -d "$cache/$name.build.XXXXXX")
    note "debootstrap $name (bookworm minbase + $include) from $mirror; cached in $tarball" >&2
    if ! debootstrap --variant=minbase --include="$include" bookworm "$build/root" "$mirror" \
      >"$build/log" 2>&1; then
      tail -n 30 "$build/log" >&2
      rm -rf "$build"
      fail "debootstrap of $name"
    fi
    tar -C "$build/root" -cf "$build/root.tar" .
    mv "$build/root.tar" "$tarball"
    rm -rf "$build"
  fi
  printf '%s\n' "$tarball"
}

# --- the booted machine ------------------------------------------------------------------------

machine_root=
machine_nspawn=
machine_init=

# machine_boot DIR: unpacks the systemd rootfs into DIR and boots it; sets machine_init.
machine_boot() {
  machine_root=$1
  local tarball
  tarball=$(rootfs bookworm-systemd systemd,systemd-sysv,dbus,ca-certificates)
  mkdir -p "$machine_root"
  tar -C "$machine_root" -xf "$tarball"
  need systemd-nspawn systemd-container
  systemd-nspawn -D "$machine_root" -b --register=no --keep-unit -q --console=passive \
    >"$machine_root.console" 2>&1 &
  machine_nspawn=$!
  cleanup_hooks+=(machine_stop)
  local deadline=$(($(date +%s) + 60))
  # The container's PID 1 is the child of systemd-nspawn that runs `systemd`; an earlier child
  # may be nspawn's own short-lived helper, whose namespaces vanish with it.
  until machine_init=$(pgrep -P "$machine_nspawn" -x systemd | head -n 1) && [ -n "$machine_init" ]; do
    kill -0 "$machine_nspawn" 2>/dev/null || { cat "$machine_root.console" >&2; fail "systemd-nspawn exited at boot"; }
    [ "$(date +%s)" -lt "$deadline" ] || fail "the machine's init did not start"
    sleep 0.2
  done
  # Until its bus is up, systemctl cannot connect; then --wait waits for the boot to finish.
  local state
  until state=$(in_machine systemctl is-system-running --wait 2>&1); [[ $state == running || $state == degraded ]]; do
    [ "$(date +%s)" -lt "$deadline" ] || { cat "$machine_root.console" >&2; fail "the machine did not finish booting: $state"; }
    kill -0 "$machine_nspawn" 2>/dev/null || { cat "$machine_root.console" >&2; fail "systemd-nspawn exited at boot"; }
    # Look the init up again should the one found first have gone.
    machine_init=$(pgrep -P "$machine_nspawn" -x systemd | head -n 1)
    [ -n "$machine_init" ] || machine_init=$(pgrep -P "$machine_nspawn" | head -n 1)
    sleep 0.2
  done
  note "machine booted ($state), systemd $(in_machine systemctl --version | awk 'NR == 1 {print $2}')"
}

in_machine() { nsenter -t "$machine_init" -a "$@"; }

machine_stop() {
  [ -n "$machine_nspawn" ] || return 0
  if kill -0 "$machine_nspawn" 2>/dev/null; then
    in_machine systemctl poweroff >/dev/null 2>&1 || true
    local i
    for i in $(seq 1 100); do
      kill -0 "$machine_nspawn" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$machine_nspawn" 2>/dev/null || true
  fi
  wait "$machine_nspawn" 2>/dev/null || true
  machine_nspawn=
}

# --- the emulated Cloudreve -------------------------------------------------------------------

# emulator_start DIR [--two-factor]: serves on 127.0.0.1; DIR gets url, files, patches, requests;
# sets emulator_pid (SIGUSR1: the user re-selects every file; SIGUSR2: sign-in is refused).
emulator_start() {
  local dir=$1
  shift
  mkdir -p "$dir"
  "$repo/target/debug/examples/emulator" "$dir" "$@" >"$dir.log" 2>&1 &
  emulator_pid=$!
  cleanup_hooks+=("kill $emulator_pid")
  wait_for 30 "the emulator in $dir to listen" test -s "$dir/url"
}

# deselected DIR PATH: the emulated downloader has that file deselected.
deselected() { grep -q " deselected $2\$" "$1/files"; }
# still_selected DIR PATH
still_selected() { grep -q " selected $2\$" "$1/files"; }
# list_calls DIR: how many task lists the emulator has answered.
list_calls() { grep -c '^GET /api/v4/workflow$' "$1/requests" || true; }
# more_lists DIR N: at least N more list calls than now (waits for N further ticks).
more_lists() {
  local target=$(($(list_calls "$1") + $2)) dir=$1
  wait_for 30 "$2 more ticks against the emulator" eval "[ \"\$(list_calls $dir)\" -ge $target ]"
}

# shellcheck shell=bash
# Shared by the deployment checks in ci/: messages, waiting, cached Debian root filesystems,
# a booted systemd machine (systemd-nspawn), and the emulated Cloudreve (emulator/examples/emulator.rs).
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
# The caller builds it first: `cargo build -p cloudreve-emulator --example emulator` (the
# emulator crate's example, emulator/examples/emulator.rs; the workspace shares target/).
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

# --- the arm64 cross toolchain (Debian unstable) ------------------------------------------------

# Debian unstable carries a Rust new enough for this crate (rust-version in Cargo.toml) with the
# arm64 standard library as a Debian package, so no rustup is needed: Debian's rustc and cargo,
# libstd-rust-dev:arm64, the aarch64 cross gcc (ring's C parts and the linker) and qemu-user.
# dpkg-dev with libc6:arm64 and libgcc-s1:arm64: cargo-deb's dpkg-shlibdeps for the arm64 package.
cross_packages="rustc cargo libstd-rust-dev:arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  file dpkg-dev libc6:arm64 libgcc-s1:arm64"
# shellcheck disable=SC2034 # for the scripts that source this file
cross_triple=aarch64-unknown-linux-gnu

# cross_tarball: the unstable root with $cross_packages, built once and cached (under a name
# that changes with the package list). Prints its path.
cross_tarball() {
  local tarball
  tarball="$cache/sid-cross-arm64-$(printf %s "$cross_packages" | md5sum | cut -c 1-8).tar"
  if [ ! -s "$tarball" ]; then
    need debootstrap debootstrap
    mkdir -p "$cache"
    local mirror build root packages=${cross_packages//$'\n'/ }
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    build=$(mktemp -d "$cache/sid-cross.build.XXXXXX")
    root=$build/root
    note "debootstrap sid-cross-arm64 (unstable minbase + $cross_packages) from $mirror; cached in $tarball" >&2
    if ! debootstrap --variant=minbase --include=ca-certificates sid "$root" "$mirror" >"$build/log" 2>&1; then
      tail -n 30 "$build/log" >&2
      rm -rf "$build"
      fail "debootstrap of sid-cross-arm64"
    fi
    # Unstable's Release file may be past its Valid-Until date between two pushes of the archive.
    echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99novalid"
    mount -t proc proc "$root/proc"
    local ok=1
    chroot "$root" sh -euc "dpkg --add-architecture arm64 && apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages &&
      apt-get clean" >>"$build/log" 2>&1 || ok=
    umount "$root/proc"
    if [ -z "$ok" ]; then
      tail -n 30 "$build/log" >&2
      rm -rf "$build"
      fail "apt-get install $cross_packages in sid-cross-arm64"
    fi
    tar -C "$root" -cf "$build/root.tar" .
    mv "$build/root.tar" "$tarball"
    rm -rf "$build"
  fi
  printf '%s\n' "$tarball"
}

cross_root=

# cross_enter DIR: unpacks the cross root into DIR, mounts /proc, /dev and the repository (at
# /src) and the host's crate cache into it, and copies the host's CA bundle (TLS to the registry
# may pass a proxy with its own CA) and resolv.conf. cross_run then runs a command in /src.
cross_enter() {
  cross_root=$1
  local tarball
  tarball=$(cross_tarball)
  mkdir -p "$cross_root"
  tar -C "$cross_root" -xf "$tarball"
  cleanup_hooks+=(cross_leave)
  mkdir -p "$cross_root/src" "$cross_root/root/.cargo/registry" "${CARGO_HOME:-$HOME/.cargo}/registry"
  mount -t proc proc "$cross_root/proc"
  mount --rbind /dev "$cross_root/dev"
  mount --bind "$repo" "$cross_root/src"
  mount --bind "${CARGO_HOME:-$HOME/.cargo}/registry" "$cross_root/root/.cargo/registry"
  cp "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "$cross_root/etc/ssl/certs/host-ca.crt"
  cp -L /etc/resolv.conf "$cross_root/etc/resolv.conf"
}

cross_leave() {
  [ -n "$cross_root" ] || return 0
  local target
  # Deepest first; /dev was bound recursively.
  findmnt -rn -o TARGET | grep "^$cross_root/" | sort -r | while read -r target; do
    umount -l "$target"
  done
  rm -rf "$cross_root"
  cross_root=
}

# cross_command COMMAND...: sets cross_argv to the command line that runs COMMAND in the cross
# root's /src with the cross settings. Its target directory is target/arm64 (Debian's rustc is
# another compiler than the host's pinned one). cross_run runs it.
cross_command() {
  cross_argv=(chroot "$cross_root" /usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
    SSL_CERT_FILE=/etc/ssl/certs/host-ca.crt CARGO_HTTP_CAINFO=/etc/ssl/certs/host-ca.crt
    CARGO_TERM_COLOR=never CARGO_TARGET_DIR=/src/target/arm64
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
    QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
    ${PROPTEST_CASES:+PROPTEST_CASES=$PROPTEST_CASES}
    sh -c 'cd /src && exec "$@"' sh "$@")
}
cross_run() {
  local cross_argv
  cross_command "$@"
  "${cross_argv[@]}"
}

# with_peak_rss FILE COMMAND...: runs COMMAND (a program, not a function) and writes its peak
# RSS in KiB into FILE. GNU time: a small parent, since a child's peak counts its parent's size
# until it execs (a Python parent would put its own 14 MB in every figure).
with_peak_rss() {
  need /usr/bin/time time
  local file=$1
  shift
  /usr/bin/time -f %M -o "$file" "$@"
}

# --- release binaries and cargo tools -----------------------------------------------------------

# cargo_tool NAME VERSION: `cargo install --locked NAME --version VERSION` unless installed
# (as cargo's own record of installed crates says: not every tool prints its version).
cargo_tool() {
  local name=$1 version=$2
  if ! grep -qF "\"$name $version (" "${CARGO_HOME:-$HOME/.cargo}/.crates.toml" 2>/dev/null; then
    note "cargo install --locked $name $version"
    cargo install --quiet --locked "$name" --version "$version" || fail "cargo install $name $version"
  fi
}
cargo_auditable_version=0.7.7
# shellcheck disable=SC2034 # for ci/deb and ci/arm64
cargo_deb_version=3.8.0

# release_build: the release binary as CI ships it, with its dependency list in
# the .dep-v0 section (cargo auditable). Every release build in CI goes through here: cargo
# counts the wrapper in its fingerprints, so mixing it with a plain build would rebuild.
release_build() {
  cargo_tool cargo-auditable "$cargo_auditable_version"
  (cd "$repo" && cargo auditable build --release --locked --quiet -p cloudreve-autoselect --bin cloudreve-autoselect)
}

# --- Debian packages ---------------------------------------------------------------------------

# deb_assets: the man pages and shell completions the package carries, from the CLI definition.
deb_assets() {
  (cd "$repo" && cargo run --locked --quiet -p cloudreve-autoselect --example gen-assets -- target/assets) || fail "examples/gen-assets"
}

# deb_lintian FILE: Debian's lintian, failing on any error or warning (overrides are shown).
deb_lintian() {
  need lintian lintian
  local out
  # Overrides (debian/lintian-overrides) are shown with O:, each with its reason there. The
  # status comes from the tags: lintian 2.116 fails on overridden tags with --show-overrides.
  out=$(lintian --fail-on none --show-overrides --tag-display-limit 0 "$1" 2>&1) || { echo "$out"; fail "lintian could not check $1"; }
  out=$(grep -v '^running with root privileges is not recommended!$' <<<"$out" || true)
  [ -z "$out" ] || printf '%s\n' "$out"
  ! grep -Eq '^[EW]: ' <<<"$out" || fail "lintian $(basename "$1"): errors or warnings (above)"
  pass "lintian $(lintian --version | awk '{print $2}'): no error, no warning in $(basename "$1")"
}

# deb_files FILE: the package's paths, one a line, sorted.
deb_files() { dpkg-deb --contents "$1" | awk '{print $6}' | sort; }

# --- binfmt_misc: machine-wide, so registered only for the test run and always removed ---------
binfmt=/proc/sys/fs/binfmt_misc
binfmt_name=cloudreve-autoselect-ci-aarch64-$$ # one per run: two runs may overlap
binfmt_mounted=
# binfmt_register QEMU: the kernel runs aarch64 ELF executables with QEMU (a static
# qemu-aarch64) until binfmt_unregister, which the cleanup runs in any case.
binfmt_register() {
  local qemu=$1
  if ! mountpoint -q "$binfmt"; then
    mount -t binfmt_misc binfmt_misc "$binfmt" || fail "mount binfmt_misc"
    binfmt_mounted=1
  fi
  [ ! -e "$binfmt/$binfmt_name" ] || fail "$binfmt/$binfmt_name is already registered (another run?)"
  file -b "$qemu" | has -E 'static(ally|-pie) linked' || fail "$qemu is not statically linked: $(file -b "$qemu")"
  cleanup_hooks+=(binfmt_unregister)
  # qemu's own magic and mask for aarch64 ELF executables (scripts/qemu-binfmt-conf.sh); F:
  # the kernel opens the interpreter now, so it works inside the chroot as well.
  printf '%s' ":$binfmt_name:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:$qemu:F" \
    >"$binfmt/register" || fail "registering qemu-aarch64 with binfmt_misc"
  note "binfmt_misc: $binfmt_name registered ($(head -n 1 "$binfmt/$binfmt_name"))"
}
binfmt_unregister() {
  if [ -e "$binfmt/$binfmt_name" ]; then
    echo -1 >"$binfmt/$binfmt_name"
    note "binfmt_misc: $binfmt_name unregistered"
  fi
  if [ -n "$binfmt_mounted" ]; then
    umount "$binfmt" && binfmt_mounted=
  fi
}

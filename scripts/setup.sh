#!/usr/bin/env bash
# Set up everything reprokit needs on this machine, idempotently:
#   1. a Docker Engine that `docker info` reaches (installed from Debian trixie when absent),
#   2. buildah and the helpers the tests use (busybox-static, debootstrap, zstd, chromium),
#   3. a virtualenv in .venv with reprokit installed in editable mode (extras dev, fleet).
# Usage: scripts/setup.sh            (engine + venv)
#        REPROKIT_SKIP_VENV=1 scripts/setup.sh   (engine only)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REPROKIT_VENV:-$ROOT/.venv}"
LOG_DIR="${REPROKIT_LOG_DIR:-/var/log/reprokit}"

say() { printf 'setup: %s\n' "$*" >&2; }

engine_up() { docker info >/dev/null 2>&1; }

have_debian_root() {
  [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null
}

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
}

apt_install() {
  # apt_install [-t RELEASE] PKG...  — installs only what is missing.
  local release=() missing=()
  if [ "${1:-}" = "-t" ]; then release=(-t "$2"); shift 2; fi
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ "${#missing[@]}" = 0 ] && return 0
  apt_update_once
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${release[@]}" "${missing[@]}" >/dev/null
}

add_trixie_source() {
  local src=/etc/apt/sources.list.d/reprokit-trixie.sources
  local pin=/etc/apt/preferences.d/reprokit-trixie
  if [ ! -f "$src" ]; then
    cat >"$src" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt_updated=0
  fi
  if [ ! -f "$pin" ]; then
    cat >"$pin" <<'PIN'
# reprokit: take nothing from trixie unless asked with -t trixie
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  fi
}

start_dockerd() {
  mkdir -p "$LOG_DIR"
  if ! pgrep -x containerd >/dev/null && command -v containerd >/dev/null; then
    say "starting containerd"
    nohup containerd >"$LOG_DIR/containerd.log" 2>&1 &
    for _ in $(seq 1 30); do [ -S /run/containerd/containerd.sock ] && break; sleep 1; done
  fi
  say "starting dockerd (no bridge, no iptables)"
  local extra=()
  [ -S /run/containerd/containerd.sock ] && extra=(--containerd=/run/containerd/containerd.sock)
  nohup dockerd --bridge=none --iptables=false --ip-masq=false "${extra[@]}" \
    >"$LOG_DIR/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do engine_up && return 0; sleep 1; done
  say "dockerd did not answer within 60 s; its log ends with:"
  tail -n 20 "$LOG_DIR/dockerd.log" >&2 || true
  return 1
}

ensure_engine() {
  if engine_up; then return 0; fi
  if ! have_debian_root; then
    say "no Docker Engine answers 'docker info'. Install Docker >= 25 with buildx and start it"
    say "(see https://docs.docker.com/engine/install/), or point DOCKER_HOST at one."
    return 1
  fi
  if ! command -v dockerd >/dev/null || ! dockerd --version | grep -Eq 'version (2[5-9]|[3-9][0-9])'; then
    add_trixie_source
    apt_install -t trixie docker.io docker-buildx
  fi
  start_dockerd
}

ensure_tools() {
  have_debian_root || return 0
  apt_install buildah busybox-static debootstrap zstd skopeo rpm time  # time: peak RSS in tests/test_hostile.py
  # headless Chromium renders the HTML report in tests/test_report_browser.py; chromium-driver
  # lets selenium drive it through JupyterLab in tests/test_notebook_browser.py
  apt_install chromium chromium-driver
  # a real PostgreSQL server for the history store's tests (tests/test_history_postgres.py)
  apt_install postgresql
  # machine images (docs/machine-images.md): Packer (bookworm's 1.6.6, docker builder built in),
  # libguestfs (guestfish, driven as a program: the venv's Python cannot load python3-guestfs)
  # with a kernel for its appliance, qemu-img, mkfs.ext4 and sfdisk for the disk tests
  apt_install packer libguestfs-tools linux-image-amd64 qemu-utils e2fsprogs fdisk
  # BuildKit through `docker buildx` (builder buildx, the default `auto` builder's first choice)
  if ! docker buildx version >/dev/null 2>&1; then
    add_trixie_source
    apt_install -t trixie docker-buildx
  fi
}

ensure_venv() {
  [ "${REPROKIT_SKIP_VENV:-0}" = 1 ] && return 0
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.reprokit-installed"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    say "installing reprokit and its dependencies into $VENV"
    "$VENV/bin/pip" install -q --upgrade pip >/dev/null
    "$VENV/bin/pip" install -q -e "$ROOT[dev,fleet]"
    touch "$stamp"
  fi
}

ensure_engine
ensure_tools
ensure_venv
say "ready: $(docker version --format 'engine {{.Server.Version}}' 2>/dev/null)"

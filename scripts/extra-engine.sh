#!/usr/bin/env bash
# Start or stop an extra, isolated Docker Engine beside the main one (for development and
# for checking builds on a second engine). Nothing is shared with the main engine: its own
# data root, exec root, pid file, unix socket and containerd namespace; no bridge, no iptables.
#   scripts/extra-engine.sh start NAME [--containerd-store]   prints DOCKER_HOST=unix://...
#   scripts/extra-engine.sh stop NAME
set -euo pipefail
cmd="${1:?start|stop}"; name="${2:?NAME}"; store="${3:-}"
base="/var/lib/reprokit-engines/$name"; run="/run/reprokit-engines/$name"
sock="$run/docker.sock"
case "$cmd" in
  start)
    if DOCKER_HOST="unix://$sock" docker info >/dev/null 2>&1; then
      echo "DOCKER_HOST=unix://$sock"; exit 0
    fi
    mkdir -p "$base/data" "$run/exec"
    conf="$base/daemon.json"
    if [ "$store" = "--containerd-store" ]; then
      echo '{"features":{"containerd-snapshotter":true}}' >"$conf"
    else
      echo '{}' >"$conf"
    fi
    extra=()
    [ -S /run/containerd/containerd.sock ] && extra=(--containerd=/run/containerd/containerd.sock)
    nohup dockerd --config-file "$conf" --data-root "$base/data" --exec-root "$run/exec" \
      --pidfile "$run/docker.pid" -H "unix://$sock" \
      --containerd-namespace "reprokit-$name" --containerd-plugins-namespace "reprokit-$name-p" \
      --bridge=none --iptables=false --ip-masq=false "${extra[@]}" \
      >"$base/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do
      if DOCKER_HOST="unix://$sock" docker info >/dev/null 2>&1; then
        echo "DOCKER_HOST=unix://$sock"; exit 0
      fi
      sleep 1
    done
    echo "engine $name did not start; see $base/dockerd.log" >&2; tail -5 "$base/dockerd.log" >&2
    exit 1 ;;
  stop)
    [ -f "$run/docker.pid" ] && kill "$(cat "$run/docker.pid")" 2>/dev/null || true
    for _ in $(seq 1 30); do [ -S "$sock" ] || break; sleep 1; done ;;
  *) echo "usage: $0 start|stop NAME [--containerd-store]" >&2; exit 2 ;;
esac

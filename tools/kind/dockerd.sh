#!/usr/bin/env bash
# A Docker daemon for machines that have none running (CI, fresh VMs): `make docker-up` / `make docker-down`.
#
# This is an explicit step, never taken behind a user's back: `gameday cluster up` only checks that a daemon
# answers.  `up` does nothing when one already answers (yours stays yours); `down` stops only a daemon that
# `up` started, then removes what Docker left on the host: its iptables rules and chains, its bridges, and
# the ip_forward value it changed.
#
#   GAMEDAY_CACHE   cache root (default /var/cache/gameday); images live in $GAMEDAY_CACHE/docker so that
#                   node and app images survive between runs (a warm `gameday cluster up` builds nothing)
#
# Addresses stay out of 10/8, 172.16/12 and 192.168/16: docker0 is 100.65.0.1/24 and networks (kind's)
# come from 100.66.0.0/16.
set -euo pipefail

cache="${GAMEDAY_CACHE:-/var/cache/gameday}"
data_root="$cache/docker"
state=/run/gameday-dockerd
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BRIDGE_IP=100.65.0.1/24
POOL=base=100.66.0.0/16,size=24

say() { echo "dockerd.sh: $*" >&2; }

answers() { timeout 10 docker info >/dev/null 2>&1; }

# CAP_SYS_RESOURCE is bit 24 of the capability bounding set.  Without it runc cannot start a
# --privileged container (kind's node), so dockerd gets a runtime that drops that one capability.
lacks_sys_resource() {
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (( (16#$bnd & (1 << 24)) == 0 ))
}

up() {
  if answers; then
    say "a Docker daemon already answers; leaving it alone"
    return 0
  fi
  command -v dockerd >/dev/null || { say "dockerd is not installed (apt-get install docker.io)"; exit 1; }
  mkdir -p "$state" "$data_root"
  cat /proc/sys/net/ipv4/ip_forward > "$state/ip_forward"
  iptables-save > "$state/iptables.before" 2>/dev/null || true
  local args=(--data-root "$data_root" --exec-root "$state/exec" --pidfile "$state/dockerd.pid"
              --bip "$BRIDGE_IP" --default-address-pool "$POOL" --log-level warn)
  if lacks_sys_resource; then
    install -m 0755 "$here/runc-no-sys-resource" "$state/runc-no-sys-resource"
    args+=(--add-runtime "gameday-runc=$state/runc-no-sys-resource" --default-runtime gameday-runc)
    say "CAP_SYS_RESOURCE is not in this machine's bounding set: runc runs through $state/runc-no-sys-resource"
  fi
  nohup dockerd "${args[@]}" >"$state/dockerd.log" 2>&1 &
  echo $! > "$state/ours"
  for _ in $(seq 60); do
    answers && { say "started (pid $(cat "$state/ours"), data root $data_root)"; return 0; }
    kill -0 "$(cat "$state/ours")" 2>/dev/null || break
    sleep 1
  done
  say "dockerd did not answer within 60 s; last log lines:"
  tail -n 20 "$state/dockerd.log" >&2
  exit 1
}

# Remove Docker's rules from one table: every rule naming a DOCKER chain or a docker bridge, and the chains.
clean_table() {
  local table=$1 before after
  before=$(iptables-save -t "$table" 2>/dev/null) || return 0
  after=$(printf '%s\n' "$before" | grep -v -E 'DOCKER|docker0|br-[0-9a-f]{12}' || true)
  [[ "$before" == "$after" ]] || printf '%s\n' "$after" | iptables-restore -T "$table"
}

down() {
  if [[ ! -f "$state/ours" ]]; then
    say "no daemon started by dockerd.sh up; nothing to stop"
    return 0
  fi
  local pid
  pid=$(cat "$state/ours")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  pkill -f "containerd --config $state/exec" 2>/dev/null || true
  for table in filter nat; do clean_table "$table"; done
  for bridge in $(ip -o link show type bridge | awk -F': ' '{print $2}' | grep -E '^(docker0|br-[0-9a-f]{12})$' || true); do
    ip link delete "$bridge" || true
  done
  [[ -f "$state/ip_forward" ]] && cat "$state/ip_forward" > /proc/sys/net/ipv4/ip_forward
  umount "$state/exec"/* 2>/dev/null || true
  rm -rf "$state"
  say "stopped; iptables rules, bridges and ip_forward restored"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if answers; then echo running; else echo stopped; fi ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac

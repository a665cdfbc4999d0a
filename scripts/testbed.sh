#!/usr/bin/env bash
# A test bed of N networked "devices" on one machine (issue 7): each device is a network namespace
# joined to the host by a veth pair shaped with tc tbf (default 100 Mbit/s each way, as in the Legion
# seed), running `tutti worker` pinned (taskset) to its own cores with its own thread count, so the
# devices differ in speed. Needs root for namespaces; without it (a container), falls back to
# loopback workers that shape their own links to the same rate (`tutti worker --link-rate`, a token
# bucket with tc's burst over every request and reply), and says so. TUTTI_TESTBED_MODE=loopback
# forces that mode.
#
# On a machine with fewer cores than devices (the 2-core build machine) core sets alone cannot make
# the devices unequal: --cpu-limit gives each device a CFS bandwidth cap in percent of one core
# (e.g. 100,50,33,25), through the cgroup cpu controller (v1 or v2).
#
# usage: scripts/testbed.sh up N [--rate 100mbit] [--token T] [--bin PATH] [--cpu-limit P1,P2,...]
#        scripts/testbed.sh down
#        scripts/testbed.sh status
# `up` prints the --processors list (remote:10.77.1.2:7000,...) and writes it to $STATE/processors.
set -euo pipefail

STATE=${TUTTI_TESTBED_DIR:-/tmp/tutti-testbed}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${TUTTI_BIN:-$ROOT/build/release/bin/tutti}
PORT=7000

die() { echo "testbed: $*" >&2; exit 1; }

# Device i's cores. With 8 or more cores, two kinds of device alternate, as in the Legion seed's
# test bed (Firefly-RK3399 and Odroid-XU4 boards mixed on one 100 Mbit/s network): a "big" device
# with k cores and a "little" one with k-1, k sized so that four devices fit beside one core left to
# the coordinator (16 cores: 4,3,4,3 on cores 0-3, 4-6, 7-10, 11-13). Devices differ in speed but
# none outweighs the rest, so adding devices can pay, as with the seed's boards. (An earlier layout
# halved the cores per device -- 8,4,2,1 -- where the first device alone held more than all the
# others together, so no split over four could reach 2x it.) With fewer cores, device 1 gets half
# the machine and each next one half of that, wrapping around (on 2 cores devices share cores;
# --cpu-limit makes them unequal). Threads = its core count.
cores_for() {
  local i=$1 n start=0 j want list="" c; n=$(nproc)
  if (( n >= 8 )); then
    local big=$(( (n - 1 + 2) / 4 ))
    for ((j = 1; j <= i; j++)); do
      want=$(( j % 2 ? big : big - 1 ))
      (( j < i )) && start=$(( start + want ))
    done
  else
    for ((j = 1; j <= i; j++)); do
      want=$(( n >> j )); (( want >= 1 )) || want=1
      (( j < i )) && start=$(( start + want ))
    done
  fi
  for ((c = 0; c < want; c++)); do list+="${list:+,}$(( (start + c) % n ))"; done
  echo "$list"
}

can_netns() {
  [ "$(id -u)" = 0 ] || return 1
  ip netns add tutti-probe 2>/dev/null || return 1
  ip netns del tutti-probe
}

# The cgroup directory for device i's CPU cap (v2 when the unified hierarchy has the cpu
# controller, else v1's cpu hierarchy); empty when neither is writable.
cgroup_dir() {
  local i=$1
  if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    echo "/sys/fs/cgroup/tutti-dev$i"
  elif [ -w /sys/fs/cgroup/cpu ]; then
    echo "/sys/fs/cgroup/cpu/tutti-dev$i"
  fi
}

# Caps device i at `pct` percent of one core, with a 10 ms period so short runs are throttled
# smoothly rather than in 100 ms stalls. Prints the cgroup directory.
make_cpu_cap() {
  local i=$1 pct=$2 dir; dir=$(cgroup_dir "$i")
  [ -n "$dir" ] || die "--cpu-limit needs a writable cgroup cpu controller (run as root)"
  mkdir -p "$dir"
  local quota=$(( pct * 100 ))
  if [ -e "$dir/cpu.max" ]; then
    echo "$quota 10000" > "$dir/cpu.max"
  else
    echo 10000 > "$dir/cpu.cfs_period_us"
    echo "$quota" > "$dir/cpu.cfs_quota_us"
  fi
  echo "$dir"
}

wait_port_file() {
  local f=$1 pid=$2
  for _ in $(seq 1 600); do  # up to 60 s: a worker starts slowly on a loaded machine
    [ -s "$f" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

up() {
  local n=$1; shift
  local rate=100mbit token="" limits=""
  while (($#)); do
    case "$1" in
      --rate) rate=$2; shift 2 ;;
      --cpu-limit) limits=$2; shift 2 ;;
      --token) token=$2; shift 2 ;;
      --bin) BIN=$2; shift 2 ;;
      *) die "unknown option '$1'" ;;
    esac
  done
  [[ "$n" =~ ^[1-9][0-9]?$ ]] || die "N must be a number from 1 to 99, got '$n'"
  [ -x "$BIN" ] || die "no tutti binary at $BIN (build it, or pass --bin / TUTTI_BIN)"
  [ -e "$STATE/processors" ] && die "a test bed is already up ($STATE); run '$0 down' first"
  mkdir -p "$STATE"
  local tok=(); [ -n "$token" ] && tok=(--token "$token")
  local caps=(); IFS=, read -r -a caps <<<"$limits"
  for c in "${caps[@]}"; do [[ "$c" =~ ^[1-9][0-9]{0,3}$ ]] || die "--cpu-limit expects percents like 100,50,33, got '$limits'"; done
  local procs="" mode
  case "${TUTTI_TESTBED_MODE:-auto}" in
    auto) if can_netns; then mode=netns; else mode=loopback; fi ;;
    loopback) mode=loopback ;;
    netns) can_netns || die "TUTTI_TESTBED_MODE=netns, but network namespaces are not allowed here (root?)"; mode=netns ;;
    *) die "TUTTI_TESTBED_MODE must be auto, netns or loopback, got '$TUTTI_TESTBED_MODE'" ;;
  esac
  echo "$mode" > "$STATE/mode"
  for ((i = 1; i <= n; i++)); do
    local cores threads
    cores=$(cores_for "$i")
    threads=$(( $(tr -cd , <<<"$cores" | wc -c) + 1 ))
    # The worker joins its cgroup before exec'ing, so every thread it starts is capped.
    local capped=() cap=""
    if [ -n "$limits" ]; then
      cap=${caps[i - 1]:-${caps[-1]}}
      local cg; cg=$(make_cpu_cap "$i" "$cap")
      echo "$cg" > "$STATE/dev$i.cgroup"
      capped=(sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg")
    fi
    if [ "$mode" = netns ]; then
      local ns=tutti-dev$i host=tuttih$i peer=tuttin$i addr=10.77.$i.2
      ip netns add "$ns"
      ip link add "$host" type veth peer name "$peer"
      ip link set "$peer" netns "$ns"
      ip addr add 10.77.$i.1/24 dev "$host"
      ip link set "$host" up
      ip -n "$ns" addr add "$addr/24" dev "$peer"
      ip -n "$ns" link set "$peer" up
      ip -n "$ns" link set lo up
      # Token bucket both ways: the host side shapes what the coordinator sends, the namespace side
      # what the worker returns.
      tc qdisc add dev "$host" root tbf rate "$rate" burst 64kb latency 100ms
      ip netns exec "$ns" tc qdisc add dev "$peer" root tbf rate "$rate" burst 64kb latency 100ms
      # The cgroup is joined before `ip netns exec`, which mounts its own /sys.
      "${capped[@]}" ip netns exec "$ns" taskset -c "$cores" "$BIN" worker --listen "$addr:$PORT" --threads "$threads" \
        --cores "$cores" --name "dev$i" --port-file "$STATE/dev$i.port" "${tok[@]}" \
        >"$STATE/dev$i.log" 2>&1 &
      procs+="${procs:+,}remote:$addr:$PORT"
    else
      # No tc here: the worker shapes its own link.
      "${capped[@]}" taskset -c "$cores" "$BIN" worker --listen 127.0.0.1:0 --threads "$threads" --cores "$cores" \
        --name "dev$i" --port-file "$STATE/dev$i.port" --link-rate "$rate" "${tok[@]}" >"$STATE/dev$i.log" 2>&1 &
    fi
    local pid=$!
    echo "$pid" > "$STATE/dev$i.pid"
    wait_port_file "$STATE/dev$i.port" "$pid" || { cat "$STATE/dev$i.log" >&2; down; die "worker dev$i did not start"; }
    [ "$mode" = loopback ] && procs+="${procs:+,}remote:127.0.0.1:$(cat "$STATE/dev$i.port")"
    echo "testbed: dev$i cores $cores threads $threads${cap:+ cpu cap ${cap}% of a core} ($mode)" >&2
  done
  if [ "$mode" = loopback ]; then
    echo "testbed: WARNING: no network namespaces (not root, not permitted, or TUTTI_TESTBED_MODE=loopback):" \
         "workers are on loopback and shape their own links to $rate each way (tutti worker --link-rate)," \
         "not tc" >&2
  else
    echo "testbed: $n devices at $rate each way" >&2
  fi
  echo "$procs" > "$STATE/processors"
  echo "$procs"
}

down() {
  [ -d "$STATE" ] || return 0
  for f in "$STATE"/dev*.pid; do
    [ -e "$f" ] || continue
    local pid; pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  for f in "$STATE"/dev*.cgroup; do
    [ -e "$f" ] && rmdir "$(cat "$f")" 2>/dev/null || true
  done
  if [ "$(cat "$STATE/mode" 2>/dev/null)" = netns ]; then
    for f in "$STATE"/dev*.pid; do
      [ -e "$f" ] || continue
      local i; i=$(basename "$f" .pid); i=${i#dev}
      ip link del "tuttih$i" 2>/dev/null || true
      ip netns del "tutti-dev$i" 2>/dev/null || true
    done
  fi
  rm -rf "$STATE"
  echo "testbed: down" >&2
}

status() {
  [ -e "$STATE/processors" ] || { echo "testbed: not up"; return 0; }
  echo "mode: $(cat "$STATE/mode")"
  echo "processors: $(cat "$STATE/processors")"
  for f in "$STATE"/dev*.pid; do
    local pid; pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then echo "$(basename "$f" .pid): running (pid $pid)"; else echo "$(basename "$f" .pid): dead"; fi
  done
}

case "${1:-}" in
  up) shift; [ $# -ge 1 ] || die "usage: $0 up N [--rate 100mbit] [--token T] [--cpu-limit P1,P2,...]"; up "$@" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up N [--rate 100mbit] [--token T] [--bin PATH] [--cpu-limit P1,P2,...] | down | status" >&2; exit 2 ;;
esac

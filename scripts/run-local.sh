#!/usr/bin/env bash
# Runs the whole rtmon suite on this machine, on the bundled example flow
# (config_flow/one-switch.yml), and prints the URLs.
#
#   scripts/run-local.sh                    # as root: build (profile fast), start everything, wait for Ctrl-C
#   sudo env "PATH=$PATH" scripts/run-local.sh   # from a user shell whose cargo comes from rustup
#                                           # (sudo's secure_path drops ~/.cargo/bin), or --bin-dir
#   scripts/run-local.sh --check-and-exit   # start, wait until `rtmon-dashboards check` passes, stop
#
# Options:
#   --check-and-exit   wait until `rtmon-dashboards check` passes (every query has data) and, as
#                      root, `status` says healthy; write the flow dashboard's preview
#                      (OUT/preview.html); stop. Exit code: 0 both passed, else the failing one's
#   --bin-dir DIR      use the binaries in DIR, do not build (default: cargo build --profile fast)
#   --out DIR          where dashboards, rules and provisioning go (default: out/local)
#   --timeout SECS     how long to wait for the check to pass (default 120)
#   --keep             keep the temp dir (configs, logs, Prometheus data) after exit
#   --flow FILE        the example flow to run, as root (default config_flow/one-switch.yml;
#                      host -> switch -> host)
#   --no-install       as root, do not run scripts/install-test-deps.sh when Prometheus or
#                      snmpsim is missing (it does by default, once)
#   --scrape-interval D  Prometheus scrape interval (default 2s; production: 15s)
#   --eval-interval D    rule evaluation interval (default 2s; production: 30s)
#   --alert-for D        how long a check fails before its alert fires (default 10s)
#   --check-window D     window of the rate-based checks (default 20s; at least 4 scrapes)
#   --lldp-interval SECS LLDP transmit interval of the demo's lldpd (default 30, as lldpd)
#   --push             as root: the hosts' exporters push to the Pushgateway (push mode:
#                      rules and status with --mode push) instead of being scraped
#   --inject FAULT / --heal FAULT   on a running demo (same --out): see scripts/inject.sh
#
# What it starts (all on loopback or in network namespaces it creates; nothing else is touched):
#   as root: the example flow on a live switch (config_flow/local/README.md): its two hosts
#            as network namespaces whose data-plane interfaces have the example's names,
#            MACs and addresses (MTU 9000), each running rtmon-node/arp/ping-exporter and
#            lldpd, with a steady ping stream (200 packets/s) from A to B; its switch as a
#            Linux bridge in a third namespace, ports named as in the example (aliases),
#            MTU 9216, host B and a stranger device cabled to it through a patch panel
#            (config_flow/local/patch-panel.sh: a cable can move to another port), VLAN
#            membership in nftables, read by net-snmp's snmpd (IF-MIB from
#            the kernel; ifName, BRIDGE-/Q-BRIDGE-MIB from config_flow/local/switch-mib.py;
#            LLDP-MIB from lldpd over AgentX), scraped under the example's `target`. The
#            flow file run is the example plus `modules:` for that switch and
#            `dedicated_ports: true` (its ports carry this flow only);
#   not root: a flow of the same shape with hosts 127.0.0.2 / 127.0.0.3 on lo and an
#            snmpsim switch with fixed counters (limited: no neighbour entries on lo, so ARP
#            and switch-FDB checks have no data; ping needs ping_group_range or
#            CAP_NET_RAW; the switch's counters, MTU and speeds are made up);
#   always:  rtmon-snmp-exporter, rtmon-script-exporter with a demo script, Prometheus
#            (scraping all of it, evaluating the generated rules), Alertmanager (the
#            generated routes and inhibitions) and Pushgateway when installed; the
#            dashboards, rules and provisioning files of every config_flow/*.yml.
# Ctrl-C (or any exit) stops every process it started, by PID, and deletes its namespaces/links.
# While it runs, OUT/demo.env describes the demo for scripts/inject.sh and
# scripts/bench-diagnosis.sh; an exporter that dies is restarted (unless held by inject.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

check_and_exit=0
bin_dir=""
out_dir="$root/out/local"
timeout_s=120
keep=0
no_install=0
scrape_interval=2s
eval_interval=2s
alert_for=10s
check_window=20s
lldp_interval=30
push=0
EXAMPLE=$root/config_flow/one-switch.yml
while [ $# -gt 0 ]; do
  case "$1" in
    --check-and-exit) check_and_exit=1 ;;
    --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift ;;
    --bin-dir=*) bin_dir=${1#*=} ;;
    --out) out_dir=${2:?--out needs a directory}; shift ;;
    --out=*) out_dir=${1#*=} ;;
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift ;;
    --timeout=*) timeout_s=${1#*=} ;;
    --keep) keep=1 ;;
    --no-install) no_install=1 ;;
    --flow) EXAMPLE=${2:?--flow needs a file}; shift ;;
    --flow=*) EXAMPLE=${1#*=} ;;
    --scrape-interval) scrape_interval=${2:?--scrape-interval needs a duration}; shift ;;
    --scrape-interval=*) scrape_interval=${1#*=} ;;
    --eval-interval) eval_interval=${2:?--eval-interval needs a duration}; shift ;;
    --eval-interval=*) eval_interval=${1#*=} ;;
    --alert-for) alert_for=${2:?--alert-for needs a duration}; shift ;;
    --alert-for=*) alert_for=${1#*=} ;;
    --check-window) check_window=${2:?--check-window needs a duration}; shift ;;
    --check-window=*) check_window=${1#*=} ;;
    --lldp-interval) lldp_interval=${2:?--lldp-interval needs seconds}; shift ;;
    --lldp-interval=*) lldp_interval=${1#*=} ;;
    --push) push=1 ;;
    --inject|--heal)
      [ -n "${2:-}" ] || { echo "run-local: $1 needs a fault (scripts/inject.sh --list)" >&2; exit 2; }
      exec "$root/scripts/inject.sh" --out "$out_dir" "$1" "$2" ;;
    --inject=*|--heal=*) exec "$root/scripts/inject.sh" --out "$out_dir" "${1%%=*}" "${1#*=}" ;;
    -h|--help) sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-local: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$timeout_s" in ''|*[!0-9]*) echo "run-local: --timeout must be a number of seconds" >&2; exit 2 ;; esac
case "$lldp_interval" in ''|*[!0-9]*|0) echo "run-local: --lldp-interval must be a number of seconds (1 or more)" >&2; exit 2 ;; esac
for d in "scrape-interval=$scrape_interval" "eval-interval=$eval_interval" "alert-for=$alert_for" \
         "check-window=$check_window"; do
  case "${d#*=}" in
    [0-9]*[smh]) ;;
    *) echo "run-local: --${d%%=*} must be a duration such as 15s or 2m, not '${d#*=}'" >&2; exit 2 ;;
  esac
done

log() { printf '[run-local] %s\n' "$*"; }
die() { printf '[run-local] error: %s\n' "$*" >&2; exit 1; }

# Without --bin-dir this builds with cargo: say at once, before installing anything, when
# there is none (sudo's secure_path hides a rustup cargo in ~/.cargo/bin).
if [ -z "$bin_dir" ] && ! command -v cargo >/dev/null; then
  die "cargo not found (PATH=$PATH). Under sudo, keep your PATH: sudo env \"PATH=\$PATH\" $0 ...;
  or build first (cargo build --release --bins) and pass --bin-dir target/release."
fi

VENV=${RTMON_VENV:-/opt/rtmon-venv}
# On a fresh machine, as root: install what the stack runs on (Prometheus, Pushgateway,
# snmpsim ...) with the same script the tests use, once.
if [ "$(id -u)" = 0 ] && [ "$no_install" = 0 ] \
   && { ! command -v prometheus >/dev/null || [ ! -x "$VENV/bin/snmpsim-command-responder" ] \
        || ! "$VENV/bin/python3" -c 'import yaml' 2>/dev/null; }; then
  log "Prometheus or snmpsim missing: running scripts/install-test-deps.sh (--no-install skips this)"
  "$root/scripts/install-test-deps.sh"
fi
SNMPSIM=""
for c in "$VENV/bin/snmpsim-command-responder" "$(command -v snmpsim-command-responder || true)"; do
  [ -n "$c" ] && [ -x "$c" ] && { SNMPSIM=$c; break; }
done
PROMETHEUS=$(command -v prometheus || true)
PUSHGATEWAY=$(command -v prometheus-pushgateway || command -v pushgateway || true)
command -v curl >/dev/null || die "curl is needed (apt-get install curl)"

# ---- build -------------------------------------------------------------------------------
if [ -z "$bin_dir" ]; then
  # The `fast` profile (Cargo.toml): release without cross-crate LTO, half the build
  # time; run-time speed does not matter for a two-host demo.
  log "cargo build --profile fast (first time: about 5 minutes)"
  cargo build --profile fast --locked --bins -q
  bin_dir="$root/target/fast"
fi
bin_dir=$(cd "$bin_dir" && pwd)
for b in rtmon-node-exporter rtmon-arp-exporter rtmon-ping-exporter rtmon-snmp-exporter \
         rtmon-script-exporter rtmon-dashboards; do
  [ -x "$bin_dir/$b" ] || die "$bin_dir/$b is missing (cargo build --profile fast --bins)"
done

# ---- cleanup (trap) ----------------------------------------------------------------------
work=$(mktemp -d /tmp/rtmon-local.XXXXXX)
declare -A svc_pid=()
netns=()
links=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  if [ -f "$out_dir/demo.env" ] && grep -qx "runner_pid=$$" "$out_dir/demo.env"; then
    rm -f "$out_dir/demo.env"
  fi
  pids=("${svc_pid[@]}")
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # Whatever still runs inside its namespaces (an lldpd child whose monitor was restarted)
  # is its own too: stopped by PID before the namespaces go.
  for n in "${netns[@]}"; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
  done
  sleep 0.2
  for n in "${netns[@]}"; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
  done
  for l in "${links[@]}"; do ip link del "$l" 2>/dev/null || true; done
  for n in "${netns[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  if [ "$keep" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
  log "stopped everything it started"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME CMD...: runs CMD in the background, logs to $work/NAME.log, remembers its PID.
# Every process it starts is supervised once the demo runs: one that dies (another
# session's broad kill, a crash) is started again within a second with the same command,
# unless scripts/inject.sh holds it ($work/hold/NAME), which is how it stops one.
declare -A svc_cmd=()
SERVICES=()
mkdir -p "$work/hold"
launch() { # NAME
  local name=$1
  # exec: the PID remembered is the process itself, not a subshell around it.
  eval "exec ${svc_cmd[$name]}" >>"$work/$name.log" 2>&1 &
  svc_pid[$name]=$!
  echo "$!" >"$work/hold/$name.pid"
}
start() {
  local name=$1; shift
  svc_cmd[$name]=$(printf '%q ' "$@")
  SERVICES+=("$name")
  launch "$name"
}

free_port() {
  python3 -c 'import socket,sys
s=socket.socket(socket.AF_INET, getattr(socket,"SOCK_"+sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "${1:-STREAM}"
}

# wait_http NAME URL: until URL answers (any HTTP status), 30 s at most.
wait_http() {
  local name=$1 url=$2
  for _ in $(seq 1 150); do
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.2
  done
  echo "--- $name log:" >&2; tail -20 "$work/$name.log" >&2 || true
  die "$name did not answer on $url"
}

# ---- the flow and its hosts ----------------------------------------------------------------
# As root: the bundled example flow ($EXAMPLE, default config_flow/one-switch.yml), unchanged.
# Its two hosts become network namespaces whose data-plane interfaces carry the example's
# names, addresses and MACs; Prometheus labels their exporters with the example's
# `instance` values, and the simulated switch has the example's ports and FDB (with VLAN).
# Without root: a flow of the same shape on loopback (lo has no neighbours and no MAC).
COMMUNITY=swlocal
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
FLOW=$out_dir/flow.yml
if [ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1; then
  mode=netns
  PY=$VENV/bin/python3
  [ -x "$PY" ] && "$PY" -c 'import yaml' 2>/dev/null || PY=python3
  "$PY" -c 'import yaml' 2>/dev/null || die "reading $EXAMPLE needs PyYAML (sudo scripts/install-test-deps.sh)"
  for t in snmpd lldpd lldpcli nft ping; do
    command -v "$t" >/dev/null || die "the demo switch needs $t (sudo scripts/install-test-deps.sh)"
  done
  # Shell assignments from the example: two hosts around one switch.
  vars=$("$PY" - "$EXAMPLE" <<'EOF'
import re, shlex, sys, yaml
path = sys.argv[1]
try:
    f = yaml.safe_load(open(path))
    hops = f["path"]
    kinds = ["host" if "host" in h else "switch" for h in hops]
    if kinds != ["host", "switch", "host"]:
        raise ValueError(f"run-local needs host -> switch -> host, {path} has {' -> '.join(kinds)}")
    a, sw, b = hops
    out = {"FLOW_ID": f["flow"], "SW_NAME": sw["switch"], "SW_INST": sw["target"],
           "SW_AUTH": sw.get("auth", "local"), "HAS_MODULES": int("modules" in sw),
           "HAS_DEDICATED": int("dedicated_ports" in f)}
    for p, h, default_mac in (("A", a, "02:00:5e:10:00:01"), ("B", b, "02:00:5e:10:00:02")):
        out.update({f"{p}_NAME": h["host"], f"{p}_INST": h["instance"], f"{p}_IF": h["interface"],
                    f"{p}_IP": h["ip"], f"{p}_MAC": str(h.get("mac", default_mac)).lower(),
                    f"{p}_VLAN": h.get("vlan", "")})
    nums = []
    for d, p in (("in", "A"), ("out", "B")):
        port = str(sw[d]["port"])
        m = re.fullmatch(r"(.*?)(\d+)", port)
        n = int(m.group(2)) if m else len(nums) + 1
        out[f"{d.upper()}_PORT"] = port
        out[f"{d.upper()}_N"] = n
        out[f"{d.upper()}_VLAN"] = sw[d].get("vlan") or out[f"{p}_VLAN"] or 1
        nums.append(n)
    # The spare port beside the out port ("hundredGigE 1/32"): where a re-cabled host goes.
    m = re.fullmatch(r"(.*?)(\d+)", out["OUT_PORT"])
    spare = max(nums) + 1
    out["SPARE_N"] = spare
    out["SPARE_PORT"] = f"{m.group(1)}{spare}" if m else f"port {spare}"
    if len(set(nums)) != 2 or out["IN_VLAN"] != out["OUT_VLAN"]:
        raise ValueError("run-local needs two distinct switch ports in one VLAN")
    for k, v in out.items():
        print(f"{k}={shlex.quote(str(v))}")
except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as e:
    sys.exit(f"{path}: {e}")
EOF
) || die "cannot run the example flow $EXAMPLE"
  eval "$vars"
  VLAN=$IN_VLAN
  # The flow file run: the example, plus what its live switch answers (the SNMP modules)
  # and `dedicated_ports: true` (the demo switch's ports carry this flow only, so the
  # loss of each segment is judged).
  "$PY" - "$EXAMPLE" "$FLOW" "$HAS_MODULES" "$HAS_DEDICATED" <<'EOF'
import re, sys
src, dst, has_modules, has_dedicated = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"
lines = open(src).read().splitlines(keepends=True)
out = []
for l in lines:
    out.append(l)
    m = re.match(r"^(\s*)-\s+switch:", l)
    if m and not has_modules:
        out.append(f"{m.group(1)}  modules: [if_mib, bridge_fdb, qbridge_vlan, lldp]   # run-local.sh: what the demo switch serves\n")
    if re.match(r"^flow:", l) and not has_dedicated:
        out.append("dedicated_ports: true   # run-local.sh: the demo switch's ports carry this flow only\n")
open(dst, "w").write("".join(out))
EOF
  # A /24 index k with 10.241.k.0/24 unused here, for the management links.
  used="$(ip -4 -o addr; ip -4 route)"
  k=""
  for i in $(seq 0 249); do
    c=$(( ($$ + i) % 250 + 1 ))
    case "$used" in *"10.241.$c."*) ;; *) k=$c; break ;; esac
  done
  [ -n "$k" ] || die "no free 10.241.k.0/24 subnet"
  ns_a="rtmon-local-$$-a"; ns_b="rtmon-local-$$-b"; ns_s="rtmon-local-$$-s"; ns_x="rtmon-local-$$-x"
  ns_p="rtmon-local-$$-p"
  for n in "$ns_a" "$ns_s" "$ns_b" "$ns_x" "$ns_p"; do
    ip netns add "$n"; netns+=("$n")
    ip -n "$n" link set lo up
    # No IPv6 chatter (router solicitations, MLD) on the data plane: the demo's counters
    # then carry the flow's traffic, LLDP and ARP only.
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  # The switch: a Linux bridge; its ports are veth ends named p<N>, carrying the example's
  # port names as aliases (Linux names cannot hold "hundredGigE 1/27"; switch-mib.py
  # serves the alias as ifName), MTU 9216 as a jumbo-frame switch.
  P_IN=p$IN_N; P_OUT=p$OUT_N; P_SPARE=p$SPARE_N
  ip -n "$ns_s" link add br0 type bridge
  # Data plane: host A -- P_IN [br0] P_OUT -- patch panel -- host B; the spare port
  # P_SPARE faces a stranger device (namespace x) through the same patch panel (namespace
  # p, config_flow/local/patch-panel.sh), so it is up, and host B's cable can be moved
  # to it for real (scripts/inject.sh recable): cable-b and cable-x are the cables' ends
  # in the panel, j<N> the jacks wired to the switch ports.
  ip link add "$A_IF" netns "$ns_a" address "$A_MAC" type veth peer name "$P_IN" netns "$ns_s"
  ip link add "$B_IF" netns "$ns_b" address "$B_MAC" type veth peer name cable-b netns "$ns_p"
  ip link add eth0 netns "$ns_x" address 02:00:5e:10:00:99 type veth peer name cable-x netns "$ns_p"
  ip link add "$P_OUT" netns "$ns_s" type veth peer name "j$OUT_N" netns "$ns_p"
  ip link add "$P_SPARE" netns "$ns_s" type veth peer name "j$SPARE_N" netns "$ns_p"
  for dev in cable-b cable-x "j$OUT_N" "j$SPARE_N"; do
    ip -n "$ns_p" link set "$dev" mtu 9216 up
  done
  "$root/config_flow/local/patch-panel.sh" "$ns_p" cable-b "j$OUT_N"
  "$root/config_flow/local/patch-panel.sh" "$ns_p" cable-x "j$SPARE_N"
  for pa in "$P_IN|$IN_PORT" "$P_OUT|$OUT_PORT" "$P_SPARE|$SPARE_PORT"; do
    dev=${pa%%|*}
    ip -n "$ns_s" link set "$dev" mtu 9216 alias "${pa#*|}" master br0
    ip -n "$ns_s" link set "$dev" up
  done
  ip -n "$ns_s" link set br0 up
  ip -n "$ns_x" link set eth0 up
  # VLAN membership: the switch's configuration as an nftables set per VLAN, enforced on
  # the bridge's forwarding path (this kernel's bridge may have no VLAN filtering: the
  # ports are untagged access ports), read by switch-mib.py for Q-BRIDGE-MIB.
  ip netns exec "$ns_s" nft -f - <<EOF
table bridge rtmon_demo {
  set vlan$VLAN { type ifname; elements = { "$P_IN", "$P_OUT", "$P_SPARE" } }
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname != @vlan$VLAN drop
    oifname != @vlan$VLAN drop
  }
}
EOF
  # Hosts: the example's interface names (ens2f0np0.1000 and ens2f0.1000: untagged here,
  # the VLAN is the switch ports'), MACs, addresses, MTU 9000.
  for h in A B; do
    ns_var=ns_${h,}; if_var=${h}_IF; ip_var=${h}_IP
    if [ "$h" = A ]; then peer_ip=$B_IP; else peer_ip=$A_IP; fi
    ip -n "${!ns_var}" link set "${!if_var}" mtu 9000 up
    ip -n "${!ns_var}" addr add "${!ip_var}/32" dev "${!if_var}"
    ip -n "${!ns_var}" route add "$peer_ip/32" dev "${!if_var}"
  done
  # Management: one /30 per host and the switch from the root namespace, where Prometheus
  # and rtmon-snmp-exporter run.
  idx=0
  for h in a b s; do
    ns_var="ns_$h"; root_if="rtl$$$h"
    ip link add "$root_if" type veth peer name mgmt0 netns "${!ns_var}"; links+=("$root_if")
    ip addr add "10.241.$k.$((4 * idx + 1))/30" dev "$root_if"; ip link set "$root_if" up
    ip -n "${!ns_var}" addr add "10.241.$k.$((4 * idx + 2))/30" dev mgmt0
    ip -n "${!ns_var}" link set mgmt0 up
    idx=$((idx + 1))
  done
  A_MGMT=10.241.$k.2; B_MGMT=10.241.$k.6; S_MGMT=10.241.$k.10
  A_GW=10.241.$k.1; B_GW=10.241.$k.5
  A_NODE=$A_MGMT:9100; A_ARP=$A_MGMT:9105; A_PING=$A_MGMT:9107
  B_NODE=$B_MGMT:9100; B_ARP=$B_MGMT:9105; B_PING=$B_MGMT:9107
  in_a=(ip netns exec "$ns_a"); in_b=(ip netns exec "$ns_b"); in_s=(ip netns exec "$ns_s")
  node_extra=()
else
  mode=loopback
  log "not root (or no 'ip netns'): hosts A/B are 127.0.0.2/127.0.0.3 on lo, in a flow of the"
  log "example's shape. Limited: lo has no neighbour entries and no real MAC, so the ARP and"
  log "switch-FDB checks will have no data; ping needs net.ipv4.ping_group_range to include"
  log "your group (or CAP_NET_RAW). Run as root for $EXAMPLE itself, in network namespaces."
  FLOW_ID=local-a-b-1000; SW_NAME=sw-local; SW_AUTH=local
  A_NAME=local-a; B_NAME=local-b; A_MGMT=127.0.0.2; B_MGMT=127.0.0.3
  A_INST=$A_MGMT; B_INST=$B_MGMT; A_IP=$A_MGMT; B_IP=$B_MGMT; A_IF=lo; B_IF=lo
  IN_PORT="hundredGigE 1/1"; OUT_PORT="hundredGigE 1/2"; SW_PORTS=8; SW_ARGS=""
  A_NODE=$A_MGMT:$(free_port); A_ARP=$A_MGMT:$(free_port); A_PING=$A_MGMT:$(free_port)
  B_NODE=$B_MGMT:$(free_port); B_ARP=$B_MGMT:$(free_port); B_PING=$B_MGMT:$(free_port)
  in_a=(); in_b=()
  node_extra=(--collector.netdev.device-include='^lo$')  # lo is excluded by default
fi

# ---- the switch ------------------------------------------------------------------------------
SNMP_EXPORTER=127.0.0.1:$(free_port)
SW_MODULES="if_mib, bridge_fdb"
if [ "$mode" = netns ]; then
  # net-snmp's snmpd inside the switch's namespace: IF-MIB from the kernel (counters,
  # MTU, speed, oper status of the bridge's ports), ifName and BRIDGE-/Q-BRIDGE-MIB from
  # switch-mib.py (pass_persist), LLDP-MIB from the switch's lldpd (AgentX).
  SW_MODULES="if_mib, bridge_fdb, qbridge_vlan, lldp"
  mkdir -p "$work/snmp-persist"
  # A write community on the namespace's own loopback only: to turn off snmpd's 3-second
  # interface cache below (the counters then are the kernel's at each request, as the
  # hosts' are: a cached counter skews a short rate window by seconds of traffic).
  admin_community=rtmon-$RANDOM$RANDOM
  cat >"$work/snmpd.conf" <<EOF
agentAddress udp:$S_MGMT:161,udp:127.0.0.1:161
rocommunity $COMMUNITY 10.241.$k.0/24
rwcommunity $admin_community 127.0.0.1
sysName $SW_NAME
sysDescr rtmon demo switch $SW_NAME: Linux bridge read by net-snmp (scripts/run-local.sh)
master agentx
agentXSocket unix:$work/agentx.sock
pass_persist .1.3.6.1.2.1.31.1.1.1.1 $(command -v python3) $root/config_flow/local/switch-mib.py ifname
pass_persist .1.3.6.1.2.1.17 $(command -v python3) $root/config_flow/local/switch-mib.py bridge br0 rtmon_demo
EOF
  start snmpd env SNMP_PERSISTENT_DIR="$work/snmp-persist" "${in_s[@]}" snmpd -f -Lo -C \
    -c "$work/snmpd.conf"
  SW_TARGET=$S_MGMT:161
  # lldpd on the switch (its name; each port's description is its alias, the port name)
  # and on both hosts (their names), every --lldp-interval seconds, TTL 4 intervals.
  # lldpd drops to its own user, whose lldpcli must reach the control socket and read the
  # configuration (lldpd sends nothing until lldpcli has configured it): a directory it
  # may enter.
  lldpcli_bin=$(command -v lldpcli)
  chmod 711 "$work"
  mkdir -m 755 "$work/lldpd"
  start_lldpd() { # NAME NS-PREFIX-VAR HOSTNAME IFACES [extra args]
    local name=$1 nsv=$2 host=$3 ifs=$4; shift 4
    local -n pre=$nsv
    printf 'configure system hostname %s\nconfigure lldp tx-interval %s\nconfigure lldp tx-hold 4\n' \
      "$host" "$lldp_interval" >>"$work/lldpd/$name.conf"
    start "$name" "${pre[@]}" lldpd -d -u "$work/lldpd/$name.sock" -O "$work/lldpd/$name.conf" \
      -I "$ifs" -L "$lldpcli_bin" "$@"
  }
  # The switch's port descriptions are the ports' names (lldpd takes an alias only when it
  # first sees an interface): what the hosts hear, and the switch's lldpLocPortDesc.
  for pa in "$P_IN|$IN_PORT" "$P_OUT|$OUT_PORT" "$P_SPARE|$SPARE_PORT"; do
    printf 'configure ports %s lldp portdescription "%s"\n' "${pa%%|*}" "${pa#*|}" \
      >>"$work/lldpd/lldpd-s.conf"
  done
  start_lldpd lldpd-s in_s "$SW_NAME" "$P_IN,$P_OUT,$P_SPARE" -x -X "unix:$work/agentx.sock"
  start_lldpd lldpd-a in_a "$A_NAME" "$A_IF"
  start_lldpd lldpd-b in_b "$B_NAME" "$B_IF"
  # The flow's traffic: a steady ping stream from A to B (200 packets/s of 1 kB), so every
  # counting point of the path moves and the loss of each segment can be judged.
  start traffic "${in_a[@]}" ping -q -i 0.005 -s 1000 "$B_IP"
elif [ -n "$SNMPSIM" ]; then
  SW_PORT=$(free_port DGRAM)
  mkdir -p "$work/snmpsim/data" "$work/snmpsim/cache"
  # shellcheck disable=SC2086 # SW_ARGS: words without spaces
  python3 "$root/config_flow/local/gen-snmprec.py" "$COMMUNITY" "$SW_PORTS" $SW_ARGS \
    >"$work/snmpsim/data/$COMMUNITY.snmprec" || die "gen-snmprec.py failed"
  start snmpsim "$SNMPSIM" --data-dir="$work/snmpsim/data" --cache-dir="$work/snmpsim/cache" \
    --agent-udpv4-endpoint="127.0.0.1:$SW_PORT" --logging-method=stdout
  SW_TARGET=127.0.0.1:$SW_PORT
else
  log "snmpsim not found ($VENV/bin/snmpsim-command-responder): the switch hop has no agent."
  log "  install it with: python3 -m venv $VENV && $VENV/bin/pip install snmpsim"
  log "  (or: sudo scripts/install-test-deps.sh). SNMP checks will show no data."
  SW_TARGET=127.0.0.1:$(free_port DGRAM)
fi
# Scrape-side names: in netns mode the example's switch `target`, scraped at snmpd's address.
[ "$mode" = netns ] || SW_INST=$SW_TARGET

if [ "$mode" = loopback ]; then
  log "loopback mode shows the dashboards and rules working, not a flow: the switch is"
  log "snmpsim with fixed counters, made-up MTU and speeds, so its throughput, loss, MTU and"
  log "speed panels and checks say nothing about a real path; run as root for the live demo."
  cat >"$FLOW" <<EOF
# Written by scripts/run-local.sh (loopback mode): host A -> $SW_NAME -> host B on this machine.
flow: $FLOW_ID
title: rtmon local example (run-local.sh)
path:
  - host: $A_NAME
    instance: $A_INST
    interface: $A_IF
    ip: $A_IP
    vlan: 1000
  - switch: $SW_NAME
    target: "$SW_INST"
    auth: $SW_AUTH
    modules: [if_mib, bridge_fdb]
    in: {port: "$IN_PORT", vlan: 1000}
    out: {port: "$OUT_PORT", vlan: 1000}
  - host: $B_NAME
    instance: $B_INST
    interface: $B_IF
    ip: $B_IP
    vlan: 1000
EOF
fi

# ---- exporters ---------------------------------------------------------------------------
printf 'auths:\n  %s:\n    community: %s\n' "$SW_AUTH" "$COMMUNITY" >"$work/snmp.yml"
chmod 600 "$work/snmp.yml"
start snmp-exporter "$bin_dir/rtmon-snmp-exporter" --web.listen-address="$SNMP_EXPORTER" \
  --config.file="$work/snmp.yml"

SCRIPT_EXPORTER=127.0.0.1:$(free_port)
cat >"$work/demo.sh" <<'EOF'
#!/bin/sh
# Demo script for rtmon-script-exporter: one gauge.
echo '# HELP rtmon_local_demo_up A demo metric from run-local.sh.'
echo '# TYPE rtmon_local_demo_up gauge'
echo 'rtmon_local_demo_up 1'
EOF
chmod 755 "$work/demo.sh"
printf 'scripts:\n  - name: demo\n    command: %s\n    timeout: 5s\n' "$work/demo.sh" >"$work/script.yml"
start script-exporter "$bin_dir/rtmon-script-exporter" --web.listen-address="$SCRIPT_EXPORTER" \
  --config.file="$work/script.yml"

# Push mode (as root): the hosts' exporters push to the Pushgateway, which listens on
# each host's management link too.
PUSHGW=""
PUSHGW_PORT=""
if [ -n "$PUSHGATEWAY" ]; then
  PUSHGW_PORT=$(free_port)
  PUSHGW=127.0.0.1:$PUSHGW_PORT
  pgw_listen=(--web.listen-address="$PUSHGW")
  if [ "$mode" = netns ]; then
    # Only on the demo's own management links, not on 127.0.0.1: a pusher elsewhere on
    # the machine (another stack whose Pushgateway was on the port free_port just handed
    # out) would otherwise feed this demo its series, for the example's very instances.
    PUSHGW=$A_GW:$PUSHGW_PORT
    pgw_listen=(--web.listen-address="$A_GW:$PUSHGW_PORT" --web.listen-address="$B_GW:$PUSHGW_PORT")
  fi
  # --persistence.file=: Debian's Pushgateway defaults to /var/lib/prometheus/pushgateway.data,
  # shared by every Pushgateway on the machine: another run's groups (the same example
  # instances) would be loaded into this demo and served as if pushed now.
  start pushgateway "$PUSHGATEWAY" "${pgw_listen[@]}" --persistence.file=

  wait_http pushgateway "http://$PUSHGW/-/ready"
else
  log "Pushgateway not installed (apt-get install prometheus-pushgateway): push mode not shown"
fi
MODE=scrape
if [ "$push" = 1 ]; then
  [ "$mode" = netns ] || die "--push needs root (the hosts push from their namespaces)"
  [ -n "$PUSHGW" ] || die "--push needs the Pushgateway (apt-get install prometheus-pushgateway)"
  MODE=push
fi

# The hosts' exporters (node-a … ping-b: the names scripts/inject.sh holds).
host_exporter() { # NAME: node-a, arp-a, ping-a, node-b, arp-b, ping-b
  local name=$1 e=${1%-*} h=${1#*-}
  local H=${h^^}
  local addr_var=${H}_${e^^} name_var=${H}_NAME inst_var=${H}_INST gw_var=${H}_GW
  local pre=()
  if [ "$h" = a ]; then pre=("${in_a[@]}"); else pre=("${in_b[@]}"); fi
  local args=(--web.listen-address="${!addr_var}")
  case "$e" in
    node) args+=("${node_extra[@]}") ;;
    *) args+=(--flow="$FLOW" --host="${!name_var}") ;;
  esac
  if [ "$MODE" = push ]; then
    args+=(--push.url="http://${!gw_var}:$PUSHGW_PORT" --push.grouping="instance=${!inst_var}"
           --push.interval="$scrape_interval" --push.on-change)
  fi
  start "$name" "${pre[@]}" "$bin_dir/rtmon-$e-exporter" "${args[@]}"
}
for s in node-a arp-a ping-a node-b arp-b ping-b; do host_exporter "$s"; done

wait_http snmp-exporter "http://$SNMP_EXPORTER/-/healthy"
wait_http script-exporter "http://$SCRIPT_EXPORTER/-/healthy"
for h in a b; do
  H=${h^^}
  for e in node arp ping; do
    v=${H}_${e^^}
    if [ "$mode" = loopback ] && [ "$e" = ping ]; then
      # Without root, ping may have no ICMP socket: say why and go on without it.
      ok=0
      for _ in $(seq 1 50); do
        curl -s -o /dev/null --max-time 1 "http://${!v}/-/healthy" && { ok=1; break; }
        sleep 0.2
      done
      [ "$ok" = 1 ] || { log "ping-$h did not start (its checks will have no data):"; tail -1 "$work/ping-$h.log" | sed 's/^/    /'; }
    else
      wait_http "$e-$h" "http://${!v}/-/healthy"
    fi
  done
done
# The switch answers (snmpsim indexes its data on the first request): 60 s at most.
sw_ok=0
sw_deadline=$(( $(date +%s) + 60 ))
sw_log=$work/snmpsim.log
[ "$mode" = netns ] && sw_log=$work/snmpd.log
while [ "$(date +%s)" -lt "$sw_deadline" ]; do
  if curl -s --max-time 5 "http://$SNMP_EXPORTER/snmp?target=$SW_TARGET&module=if_mib&auth=$SW_AUTH" \
      | grep -q '^snmp_up 1'; then sw_ok=1; break; fi
  [ "$mode" = netns ] || [ -n "$SNMPSIM" ] || break
  sleep 0.5
done
[ "$sw_ok" = 1 ] || { log "the switch does not answer yet; its log:"; tail -5 "$sw_log" 2>/dev/null | sed 's/^/    /'; }
if [ "$mode" = netns ] && [ "$sw_ok" = 1 ]; then
  # NET-SNMP-AGENT-MIB::nsCacheTimeout of ifTable (ifXTable shares it) = 0.
  "${in_s[@]}" snmpset -t 2 -v2c -c "$admin_community" 127.0.0.1 \
    1.3.6.1.4.1.8072.1.5.3.1.2.1.3.6.1.2.1.2.2 i 0 >/dev/null \
    || log "could not turn off snmpd's interface cache: short rate windows will jitter"
fi

# ---- generator: dashboards, rules, provisioning -----------------------------------------------
DASH=$bin_dir/rtmon-dashboards
FLOW_OPTS=(--mode "$MODE" --check-window "$check_window")
"$DASH" generate "$FLOW" --out "$out_dir/dashboards" "${FLOW_OPTS[@]}" \
  --host-scrape-interval "$scrape_interval" --snmp-scrape-interval "$scrape_interval" >/dev/null
# The bundled example flows (config_flow/*.yml, documentation addresses): their dashboards,
# rules and provisioning files, for a Grafana/Prometheus of your own.
examples=("$root"/config_flow/*.yml)
"$DASH" generate "${examples[@]}" --out "$out_dir/examples/dashboards" >/dev/null
"$DASH" rules "${examples[@]}" --out "$out_dir/examples/rtmon-rules.yml" >/dev/null
"$DASH" provision "${examples[@]}" --out "$out_dir/examples/provisioning" >/dev/null
"$DASH" rules "$FLOW" --out "$out_dir/rtmon-rules.yml" "${FLOW_OPTS[@]}" \
  --eval-interval="$eval_interval" --alert-for="$alert_for" >/dev/null
"$DASH" alertmanager --out "$out_dir/alertmanager.yml" --group-wait 0s --group-interval 1m >/dev/null

# ---- Prometheus and Alertmanager -------------------------------------------------------------
AM=""
ALERTMANAGER=$(command -v prometheus-alertmanager || command -v alertmanager || true)
if [ -n "$ALERTMANAGER" ]; then
  AM=127.0.0.1:$(free_port)
  start alertmanager "$ALERTMANAGER" --config.file="$out_dir/alertmanager.yml" \
    --storage.path="$work/alertmanager" --web.listen-address="$AM" --cluster.listen-address=
  wait_http alertmanager "http://$AM/-/ready"
else
  log "Alertmanager not installed (apt-get install prometheus-alertmanager): alerts not routed"
fi

PROM=""
if [ -n "$PROMETHEUS" ]; then
  PROM=127.0.0.1:$(free_port)
  timeout_cfg=$scrape_interval
  case "$scrape_interval" in *s) [ "${scrape_interval%s}" -gt 10 ] 2>/dev/null && timeout_cfg=10s ;; *m|*h) timeout_cfg=10s ;; esac
  {
    printf 'global: {scrape_interval: %s, scrape_timeout: %s, evaluation_interval: %s}\n' \
      "$scrape_interval" "$timeout_cfg" "$eval_interval"
    printf 'rule_files: ["%s"]\n' "$out_dir/rtmon-rules.yml"
    [ -n "$AM" ] && printf "alerting: {alertmanagers: [{static_configs: [{targets: ['%s']}]}]}\n" "$AM"
    printf 'scrape_configs:\n'
    # Each host's exporters carry the flow's `instance` label, whatever address they listen on.
    if [ "$MODE" = scrape ]; then
      for e in node arp ping; do
        a=A_${e^^}; b=B_${e^^}
        printf "  - {job_name: %s, static_configs: [{targets: ['%s'], labels: {instance: '%s'}}, {targets: ['%s'], labels: {instance: '%s'}}]}\n" \
          "$e" "${!a}" "$A_INST" "${!b}" "$B_INST"
      done
    fi
    # The multi-target pattern: the flow's switch `target` is the instance; the agent
    # (snmpd in the switch's namespace, or snmpsim) answers for it.
    printf "  - job_name: snmp\n    metrics_path: /snmp\n    params: {auth: ['%s'], module: [%s]}\n" "$SW_AUTH" "$SW_MODULES"
    printf "    static_configs: [{targets: ['%s']}]\n" "$SW_INST"
    printf "    relabel_configs:\n      - {source_labels: [__address__], target_label: instance}\n"
    printf "      - {target_label: __param_target, replacement: '%s'}\n" "$SW_TARGET"
    printf "      - {target_label: __address__, replacement: '%s'}\n" "$SNMP_EXPORTER"
    printf "  - {job_name: snmp-exporter, static_configs: [{targets: ['%s']}]}\n" "$SNMP_EXPORTER"
    printf "  - {job_name: script, metrics_path: /probe, params: {script: [demo]}, static_configs: [{targets: ['%s']}]}\n" "$SCRIPT_EXPORTER"
    if [ -n "$PUSHGW" ]; then
      printf "  - {job_name: pushgateway, honor_labels: true, static_configs: [{targets: ['%s']}]}\n" "$PUSHGW"
    fi
  } >"$out_dir/prometheus.yml"
  start prometheus "$PROMETHEUS" --config.file="$out_dir/prometheus.yml" \
    --storage.tsdb.path="$work/prometheus" --web.listen-address="$PROM" \
    --storage.tsdb.retention.time=1d
  wait_http prometheus "http://$PROM/-/ready"
  "$DASH" provision "$FLOW" --out "$out_dir/provisioning" --prometheus-url "http://$PROM" >/dev/null
else
  log "Prometheus not installed (apt-get install prometheus): no dashboards check possible"
  "$DASH" provision "$FLOW" --out "$out_dir/provisioning" >/dev/null
fi
DASHBOARD=$(find "$out_dir/dashboards" -maxdepth 1 -name '*.json' ! -name rtmon-fleet.json | head -1)

# ---- what scripts/inject.sh and scripts/bench-diagnosis.sh need -------------------------------
{
  for v in mode MODE FLOW FLOW_ID DASH DASHBOARD PROM AM PUSHGW work root scrape_interval \
           eval_interval alert_for check_window lldp_interval SW_NAME A_NAME B_NAME; do
    printf '%s=%q\n' "$v" "${!v:-}"
  done
  if [ "$mode" = netns ]; then
    for v in ns_a ns_b ns_s ns_x ns_p P_IN P_OUT P_SPARE OUT_N SPARE_N IN_PORT OUT_PORT SPARE_PORT \
             VLAN A_IP B_IP A_IF B_IF; do
      printf '%s=%q\n' "$v" "${!v}"
    done
    printf 'link_a=%q\nlink_b=%q\nlink_s=%q\n' "rtl$$a" "rtl$$b" "rtl$$s"
  fi
  printf 'runner_pid=%q\n' "$$"
} >"$out_dir/demo.env"

# ---- URLs --------------------------------------------------------------------------------------
url_or() { if [ -n "$1" ]; then echo "http://$1"; else echo "(not installed)"; fi; }
sw_what="snmpsim $SW_TARGET"
[ "$mode" = netns ] && sw_what="Linux bridge in $ns_s, net-snmp snmpd $SW_TARGET"
cat <<EOF

rtmon is running ($mode mode, $MODE). Flow: $FLOW$([ "$mode" = netns ] && echo " (= $EXAMPLE + the demo switch's modules)")
  host A exporters   node http://$A_NODE/metrics  arp http://$A_ARP/metrics  ping http://$A_PING/metrics
  host B exporters   node http://$B_NODE/metrics  arp http://$B_ARP/metrics  ping http://$B_PING/metrics
  snmp exporter      http://$SNMP_EXPORTER/snmp?target=$SW_TARGET&module=if_mib&auth=$SW_AUTH  (switch: $sw_what)
  script exporter    http://$SCRIPT_EXPORTER/probe?script=demo
  prometheus         $(url_or "$PROM")   (alerts: $(url_or "$PROM")/alerts)
  alertmanager       $(url_or "$AM")
  pushgateway        $(url_or "$PUSHGW")
  dashboards         $out_dir/dashboards/   (import into Grafana, or use $out_dir/provisioning/)
  rules              $out_dir/rtmon-rules.yml   (eval every $eval_interval, alerts after $alert_for)
  bundled examples   $out_dir/examples/  (config_flow/*.yml: ${#examples[@]} flows' dashboards, rules, provisioning)
  logs               $work/*.log
  status             $DASH status $FLOW --prometheus http://$PROM --mode $MODE --check-window $check_window
$([ "$mode" = netns ] && echo "  faults             $0 --out $out_dir --inject FAULT  (and --heal FAULT; list: scripts/inject.sh --list)")

EOF

# ---- check ---------------------------------------------------------------------------------------
rc=0
if [ -n "$PROM" ]; then
  log "waiting (at most ${timeout_s}s) until every panel query and rule selector has data"
  deadline=$(( $(date +%s) + timeout_s ))
  while :; do
    set +e
    "$DASH" check "$FLOW" --prometheus "http://$PROM" --verbose "${FLOW_OPTS[@]}" >"$work/check.out" 2>&1
    rc=$?
    set -e
    [ "$rc" = 0 ] && break
    [ "$(date +%s)" -ge "$deadline" ] && break
    sleep 3
  done
  check_rc=$rc
  print_check() {
    echo "\$ rtmon-dashboards check $FLOW --prometheus http://$PROM --verbose ${FLOW_OPTS[*]}"
    cat "$work/check.out"
    if [ "$check_rc" = 0 ]; then log "check passed: every generated query returns data"
    else log "check FAILED (exit $check_rc) after ${timeout_s}s; exporter logs: $work"; fi
  }
  # As root, the check is printed once status says healthy (the rate-based checks need
  # their window filled first); otherwise now.
  [ "$mode" = netns ] && [ "$rc" = 0 ] || print_check
  # As root the demo flow is healthy: `status` says so once the rate windows are full.
  if [ "$rc" = 0 ] && [ "$mode" = netns ]; then
    log "waiting (at most until the same deadline) until status says the flow is healthy"
    while :; do
      set +e
      "$DASH" status "$FLOW" --prometheus "http://$PROM" "${FLOW_OPTS[@]}" >"$work/status.out" 2>&1
      rc=$?
      set -e
      [ "$rc" = 0 ] && break
      [ "$(date +%s)" -ge "$deadline" ] && break
      sleep 2
    done
    set +e
    "$DASH" check "$FLOW" --prometheus "http://$PROM" --verbose "${FLOW_OPTS[@]}" >"$work/check.out" 2>&1
    check_rc=$?
    set -e
    print_check
    [ "$check_rc" = 0 ] || rc=$check_rc
    echo "\$ rtmon-dashboards status $FLOW --prometheus http://$PROM ${FLOW_OPTS[*]}"
    cat "$work/status.out"
    if [ "$rc" = 0 ]; then log "status: healthy"
    else log "status FAILED (exit $rc): the demo flow is not healthy; logs: $work"; fi
  fi
  # What the hosts and the switch hear by LLDP (both ends of both links, once scraped).
  if [ "$rc" = 0 ] && [ "$mode" = netns ]; then
    for _ in $(seq 1 30); do
      python3 - "http://$PROM" >"$work/lldp.out" <<'EOF' && break
import json, sys, urllib.parse, urllib.request
def q(expr):
    url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        return [x["metric"] for x in json.load(r)["data"]["result"]]
lines = [f"{m.get('instance')} {m.get('interface')} hears {m.get('system_name')} {m.get('port_desc')}"
         for m in q("rtmon_lldp_neighbor_info")]
lines += [f"{m.get('instance')} {m.get('ifName')} hears {m.get('remote_system_name')} {m.get('remote_port_desc')}"
          for m in q("rtmon_snmp_lldp_neighbor_info")]
print("\n".join(sorted(set(lines))))
sys.exit(0 if len(set(lines)) >= 4 else 1)
EOF
      sleep 1
    done
    sed 's/^/[run-local] LLDP: /' "$work/lldp.out"
  fi
  if [ -n "$DASHBOARD" ]; then
    "$DASH" preview --dashboard "$DASHBOARD" --prometheus "http://$PROM" \
      --out "$out_dir/preview.html" --rate-interval "$check_window" >/dev/null 2>&1 \
      && log "preview of the flow dashboard: $out_dir/preview.html"
  fi
else
  rc=3
fi

if [ "$check_and_exit" = 1 ]; then
  [ "$rc" = 3 ] && log "no Prometheus: nothing to check"
  exit "$rc"
fi
log "running; Ctrl-C stops everything"
declare -A restarts=()
while :; do
  sleep 1
  for s in "${SERVICES[@]}"; do
    if ! kill -0 "${svc_pid[$s]}" 2>/dev/null && [ ! -e "$work/hold/$s" ]; then
      wait "${svc_pid[$s]}" 2>/dev/null || true
      restarts[$s]=$(( ${restarts[$s]:-0} + 1 ))
      if [ "${restarts[$s]}" -gt 20 ]; then
        log "$(date -u +%T) $s exited again: not starting it any more (20 restarts; see $work/$s.log)"
        touch "$work/hold/$s"
        continue
      fi
      log "$(date -u +%T) $s exited: starting it again"
      launch "$s"
    fi
  done
done

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
#   --check-and-exit   exit after the check (exit code = the check's: 0 every query has data)
#   --bin-dir DIR      use the binaries in DIR, do not build (default: cargo build --profile fast)
#   --out DIR          where dashboards, rules and provisioning go (default: out/local)
#   --timeout SECS     how long to wait for the check to pass (default 120)
#   --keep             keep the temp dir (configs, logs, Prometheus data) after exit
#   --flow FILE        the example flow to run, as root (default config_flow/one-switch.yml;
#                      host -> switch -> host, switch ports named "hundredGigE 1/<n>")
#   --no-install       as root, do not run scripts/install-test-deps.sh when Prometheus or
#                      snmpsim is missing (it does by default, once)
#
# What it starts (all on loopback or in network namespaces it creates; nothing else is touched):
#   as root: the example flow itself, unchanged: its two hosts as network namespaces whose
#            data-plane interfaces (a veth pair) have the example's names, MACs and
#            addresses, each running rtmon-node/arp/ping-exporter on a management veth
#            that Prometheus scrapes under the example's `instance` labels; its switch as
#            snmpsim with the example's ports and the hosts' MACs in its FDB, scraped under
#            the example's `target`;
#   not root: a flow of the same shape with hosts 127.0.0.2 / 127.0.0.3 on lo (limited: no
#            neighbour entries on lo, so ARP and switch-FDB checks have no data, and ping
#            needs ping_group_range or CAP_NET_RAW);
#   always:  snmpsim (config_flow/local/gen-snmprec.py) behind rtmon-snmp-exporter,
#            rtmon-script-exporter with a demo script, Prometheus (scraping all of it,
#            evaluating the generated rules) and Pushgateway when installed; the dashboards,
#            rules and provisioning files of every config_flow/*.yml.
# Ctrl-C (or any exit) stops every process it started, by PID, and deletes its namespaces/links.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

check_and_exit=0
bin_dir=""
out_dir="$root/out/local"
timeout_s=120
keep=0
no_install=0
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
    -h|--help) sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-local: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$timeout_s" in ''|*[!0-9]*) echo "run-local: --timeout must be a number of seconds" >&2; exit 2 ;; esac

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
pids=()
netns=()
links=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
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
start() {
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=("$!")
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
  # Shell assignments from the example: two hosts around one switch, ports "<name> <slot>/<n>".
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
           "SW_AUTH": sw.get("auth", "local")}
    for p, h, default_mac in (("A", a, "02:00:5e:10:00:01"), ("B", b, "02:00:5e:10:00:02")):
        out.update({f"{p}_NAME": h["host"], f"{p}_INST": h["instance"], f"{p}_IF": h["interface"],
                    f"{p}_IP": h["ip"], f"{p}_MAC": str(h.get("mac", default_mac)).lower(),
                    f"{p}_VLAN": h.get("vlan", "")})
    fdb, up = [], []
    for d, p in (("in", "A"), ("out", "B")):
        m = re.fullmatch(r".*?(\d+)", sw[d]["port"])
        if not m:
            raise ValueError(f"switch port {sw[d]['port']!r} does not end in a port number")
        n = int(m.group(1))
        vlan = sw[d].get("vlan") or out[f"{p}_VLAN"] or 1
        fdb.append(f"--fdb={vlan},{out[p + '_MAC']},{n}")
        up.append(f"--up={n}")
        out[f"{d.upper()}_PORT"] = sw[d]["port"]
        out[f"{d.upper()}_N"] = n
    out["SW_PORTS"] = max(48, out["IN_N"] + 3, out["OUT_N"] + 3)
    out["SW_ARGS"] = " ".join(fdb + up)
    for k, v in out.items():
        print(f"{k}={shlex.quote(str(v))}")
except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as e:
    sys.exit(f"{path}: {e}")
EOF
) || die "cannot run the example flow $EXAMPLE"
  eval "$vars"
  cp "$EXAMPLE" "$FLOW"
  # The switch's port names must be the simulated switch's: "hundredGigE 1/<n>".
  case "$IN_PORT|$OUT_PORT" in
    "hundredGigE 1/$IN_N|hundredGigE 1/$OUT_N") ;;
    *) die "$EXAMPLE: the simulated switch names its ports 'hundredGigE 1/<n>', not '$IN_PORT'/'$OUT_PORT'" ;;
  esac
  # A /24 index k with 10.241.k.0/24 unused here, for the management links.
  used="$(ip -4 -o addr; ip -4 route)"
  k=""
  for i in $(seq 0 249); do
    c=$(( ($$ + i) % 250 + 1 ))
    case "$used" in *"10.241.$c."*) ;; *) k=$c; break ;; esac
  done
  [ -n "$k" ] || die "no free 10.241.k.0/24 subnet"
  ns_a="rtmon-local-$$-a"; ns_b="rtmon-local-$$-b"
  ip netns add "$ns_a"; netns+=("$ns_a")
  ip netns add "$ns_b"; netns+=("$ns_b")
  ip -n "$ns_a" link set lo up; ip -n "$ns_b" link set lo up
  # Data plane: a veth pair whose ends carry the example's interface names (ens2f0np0.1000
  # and ens2f0.1000: the names node_exporter reports; untagged, as this kernel may have no
  # 8021q), its MACs and addresses.
  ip link add "$A_IF" netns "$ns_a" address "$A_MAC" type veth peer name "$B_IF" netns "$ns_b" address "$B_MAC"
  for h in A B; do
    ns_var=ns_${h,}; if_var=${h}_IF; ip_var=${h}_IP
    if [ "$h" = A ]; then peer_ip=$B_IP; else peer_ip=$A_IP; fi
    ip -n "${!ns_var}" link set "${!if_var}" up
    ip -n "${!ns_var}" addr add "${!ip_var}/32" dev "${!if_var}"
    ip -n "${!ns_var}" route add "$peer_ip/32" dev "${!if_var}"
  done
  # Management: one /30 per host from the root namespace, where Prometheus runs.
  idx=0
  for h in a b; do
    ns_var="ns_$h"; root_if="rtl$$$h"
    ip link add "$root_if" type veth peer name mgmt0 netns "${!ns_var}"; links+=("$root_if")
    ip addr add "10.241.$k.$((4 * idx + 1))/30" dev "$root_if"; ip link set "$root_if" up
    ip -n "${!ns_var}" addr add "10.241.$k.$((4 * idx + 2))/30" dev mgmt0
    ip -n "${!ns_var}" link set mgmt0 up
    idx=$((idx + 1))
  done
  A_MGMT=10.241.$k.2; B_MGMT=10.241.$k.6
  A_NODE=$A_MGMT:9100; A_ARP=$A_MGMT:9105; A_PING=$A_MGMT:9107
  B_NODE=$B_MGMT:9100; B_ARP=$B_MGMT:9105; B_PING=$B_MGMT:9107
  in_a=(ip netns exec "$ns_a"); in_b=(ip netns exec "$ns_b")
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

# ---- the simulated switch -------------------------------------------------------------------
SNMP_EXPORTER=127.0.0.1:$(free_port)
if [ -n "$SNMPSIM" ]; then
  SW_PORT=$(free_port DGRAM)
  mkdir -p "$work/snmpsim/data" "$work/snmpsim/cache"
  # shellcheck disable=SC2086 # SW_ARGS: words without spaces, from the example
  python3 "$root/config_flow/local/gen-snmprec.py" "$COMMUNITY" "$SW_PORTS" $SW_ARGS \
    >"$work/snmpsim/data/$COMMUNITY.snmprec" || die "gen-snmprec.py failed"
  sim_user=()
  [ "$(id -u)" -eq 0 ] && sim_user=(--process-user=root --process-group=root)
  start snmpsim "$SNMPSIM" --data-dir="$work/snmpsim/data" --cache-dir="$work/snmpsim/cache" \
    --agent-udpv4-endpoint="127.0.0.1:$SW_PORT" "${sim_user[@]}" --logging-method=stdout
  SW_TARGET=127.0.0.1:$SW_PORT
else
  log "snmpsim not found ($VENV/bin/snmpsim-command-responder): the switch hop has no agent."
  log "  install it with: python3 -m venv $VENV && $VENV/bin/pip install snmpsim"
  log "  (or: sudo scripts/install-test-deps.sh). SNMP checks will show no data."
  SW_TARGET=127.0.0.1:$(free_port DGRAM)
fi
# Scrape-side names: in netns mode the example's switch `target`, scraped at snmpsim's address.
[ "$mode" = netns ] || SW_INST=$SW_TARGET

if [ "$mode" = loopback ]; then
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

for h in a b; do
  H=${h^^}
  node_var=${H}_NODE; arp_var=${H}_ARP; ping_var=${H}_PING; name_var=${H}_NAME
  if [ "$h" = a ]; then pre=("${in_a[@]}"); else pre=("${in_b[@]}"); fi
  start "node-$h" "${pre[@]}" "$bin_dir/rtmon-node-exporter" --web.listen-address="${!node_var}" "${node_extra[@]}"
  start "arp-$h" "${pre[@]}" "$bin_dir/rtmon-arp-exporter" --web.listen-address="${!arp_var}" \
    --flow="$FLOW" --host="${!name_var}"
  start "ping-$h" "${pre[@]}" "$bin_dir/rtmon-ping-exporter" --web.listen-address="${!ping_var}" \
    --flow="$FLOW" --host="${!name_var}"
done

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
        kill -0 "${pids[-1]}" 2>/dev/null || true
        sleep 0.2
      done
      [ "$ok" = 1 ] || { log "ping-$h did not start (its checks will have no data):"; tail -1 "$work/ping-$h.log" | sed 's/^/    /'; }
    else
      wait_http "$e-$h" "http://${!v}/-/healthy"
    fi
  done
done
if [ -n "$SNMPSIM" ]; then
  # snmpsim indexes its data on the first request: wait (60 s at most) until the switch answers.
  sw_ok=0
  sw_deadline=$(( $(date +%s) + 60 ))
  while [ "$(date +%s)" -lt "$sw_deadline" ]; do
    if curl -s --max-time 5 "http://$SNMP_EXPORTER/snmp?target=$SW_TARGET&module=if_mib&auth=$SW_AUTH" \
        | grep -q '^snmp_up 1'; then sw_ok=1; break; fi
    kill -0 "${pids[0]}" 2>/dev/null || break
    sleep 0.5
  done
  [ "$sw_ok" = 1 ] || { log "the simulated switch does not answer yet; snmpsim log:"; tail -5 "$work/snmpsim.log" | sed 's/^/    /'; }
fi

# ---- generator: dashboards, rules, provisioning -----------------------------------------------
DASH=$bin_dir/rtmon-dashboards
"$DASH" generate "$FLOW" --out "$out_dir/dashboards" >/dev/null
# The bundled example flows (config_flow/*.yml, documentation addresses): their dashboards,
# rules and provisioning files, for a Grafana/Prometheus of your own.
examples=("$root"/config_flow/*.yml)
"$DASH" generate "${examples[@]}" --out "$out_dir/examples/dashboards" >/dev/null
"$DASH" rules "${examples[@]}" --out "$out_dir/examples/rtmon-rules.yml" >/dev/null
"$DASH" provision "${examples[@]}" --out "$out_dir/examples/provisioning" >/dev/null
"$DASH" rules "$FLOW" --out "$out_dir/rtmon-rules.yml" --eval-interval=2s --alert-for=10s >/dev/null

# ---- Prometheus and Pushgateway ---------------------------------------------------------------
PUSHGW=""
if [ -n "$PUSHGATEWAY" ]; then
  PUSHGW=127.0.0.1:$(free_port)
  start pushgateway "$PUSHGATEWAY" --web.listen-address="$PUSHGW"
  wait_http pushgateway "http://$PUSHGW/-/ready"
else
  log "Pushgateway not installed (apt-get install prometheus-pushgateway): push mode not shown"
fi

PROM=""
if [ -n "$PROMETHEUS" ]; then
  PROM=127.0.0.1:$(free_port)
  {
    printf 'global: {scrape_interval: 2s, scrape_timeout: 2s, evaluation_interval: 2s}\n'
    printf 'rule_files: ["%s"]\n' "$out_dir/rtmon-rules.yml"
    printf 'scrape_configs:\n'
    # Each host's exporters carry the flow's `instance` label, whatever address they listen on.
    for e in node arp ping; do
      a=A_${e^^}; b=B_${e^^}
      printf "  - {job_name: %s, static_configs: [{targets: ['%s'], labels: {instance: '%s'}}, {targets: ['%s'], labels: {instance: '%s'}}]}\n" \
        "$e" "${!a}" "$A_INST" "${!b}" "$B_INST"
    done
    # The multi-target pattern: the flow's switch `target` is the instance; snmpsim answers for it.
    printf "  - job_name: snmp\n    metrics_path: /snmp\n    params: {auth: ['%s'], module: [if_mib, bridge_fdb]}\n" "$SW_AUTH"
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

# ---- URLs --------------------------------------------------------------------------------------
url_or() { if [ -n "$1" ]; then echo "http://$1"; else echo "(not installed)"; fi; }
cat <<EOF

rtmon is running ($mode mode). Flow: $FLOW$([ "$mode" = netns ] && echo " (= $EXAMPLE)")
  host A exporters   node http://$A_NODE/metrics  arp http://$A_ARP/metrics  ping http://$A_PING/metrics
  host B exporters   node http://$B_NODE/metrics  arp http://$B_ARP/metrics  ping http://$B_PING/metrics
  snmp exporter      http://$SNMP_EXPORTER/snmp?target=$SW_TARGET&module=if_mib&auth=$SW_AUTH  (switch: snmpsim $SW_TARGET)
  script exporter    http://$SCRIPT_EXPORTER/probe?script=demo
  prometheus         $(url_or "$PROM")
  pushgateway        $(url_or "$PUSHGW")
  dashboards         $out_dir/dashboards/   (import into Grafana, or use $out_dir/provisioning/)
  rules              $out_dir/rtmon-rules.yml
  bundled examples   $out_dir/examples/  (config_flow/*.yml: ${#examples[@]} flows' dashboards, rules, provisioning)
  logs               $work/*.log

EOF

# ---- check ---------------------------------------------------------------------------------------
rc=0
if [ -n "$PROM" ]; then
  log "waiting (at most ${timeout_s}s) until every panel query and rule selector has data"
  deadline=$(( $(date +%s) + timeout_s ))
  while :; do
    set +e
    "$DASH" check "$FLOW" --prometheus "http://$PROM" --verbose >"$work/check.out" 2>&1
    rc=$?
    set -e
    [ "$rc" = 0 ] && break
    [ "$(date +%s)" -ge "$deadline" ] && break
    sleep 3
  done
  echo "\$ rtmon-dashboards check $FLOW --prometheus http://$PROM --verbose"
  cat "$work/check.out"
  if [ "$rc" = 0 ]; then log "check passed: every generated query returns data"
  else log "check FAILED (exit $rc) after ${timeout_s}s; exporter logs: $work"; fi
else
  rc=3
fi

if [ "$check_and_exit" = 1 ]; then
  [ "$rc" = 3 ] && log "no Prometheus: nothing to check"
  exit "$rc"
fi
log "running; Ctrl-C stops everything"
while :; do sleep 1; done

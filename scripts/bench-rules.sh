#!/usr/bin/env bash
# bench-rules: what rtmon's flow rules cost a real Prometheus as the flows grow — the
# constant rules with the topology as static rules (`constant`, what `rtmon-dashboards
# rules` writes by default) and with the topology scraped (`scraped`: `rules --topology
# scrape` + `rtmon-dashboards topology`), beside the former per-flow rules (`per-flow`),
# on the same data, in one run.
#
#   scripts/bench-rules.sh                      # N = 100, 1000 (all four rows), 10000 (floor, scraped)
#   scripts/bench-rules.sh --flows "100 1000"   # other sizes (per-flow only up to --per-flow-max)
#   scripts/bench-rules.sh --cycles 6           # evaluation cycles measured per run (default 4)
#   scripts/bench-rules.sh --profile 8          # also list each run's 8 slowest rules
#   scripts/bench-rules.sh --no-floor           # skip the `floor` row (see below)
#   scripts/bench-rules.sh --flows 10000 --layouts floor   # only these rows (of floor,
#                                               # scraped, constant, per-flow)
#   RTMON=path/to/rtmon-dashboards scripts/bench-rules.sh   # another build
#   PROM_GOGC=400 scripts/bench-rules.sh        # Prometheus with another GOGC (default 100)
#
# Per N it generates N flows of a research network's shape (host → switch → switch →
# host, each flow its own two hosts, one switch per ten flows, ports named Ethernet1/1
# …, 48 ports a switch) and the series their checks read plus ordinary noise (every
# port of every switch, three more devices and ARP entries per host), served by a small
# HTTP server as exposition files (honor_labels, so each series keeps its job and
# instance), scraped every 15 s by Debian's Prometheus with the rules evaluated every
# 30 s. Counters move with the clock, so the data is healthy: every check should be 1.
# Printed per run: rules file size and rule count, topology series, series in the head,
# load time (POST /-/reload with the rules), the sum and max of the rule groups' last
# duration, Prometheus CPU per 30 s cycle and RSS, missed iterations, and how many
# checks read 0 (false alarms: the data is healthy).
# Row `floor` (first per N, skipped with --no-floor) is no flow rule set but a lower
# bound for any that selects these metrics by name: one rule per metric the checks read
# that reads all its series once (counters as a rate over the 5 m window) and one that
# writes one sample per check from the scraped topology — the number to hold the flow
# rules' rows against.
set -euo pipefail
cd "$(dirname "$0")/.."

flows_list="100 1000 10000"
per_flow_max=1000
rules_topology_max=1000
cycles=4
profile=0
floor=1
layouts="floor scraped constant per-flow"
while [ $# -gt 0 ]; do
  case "$1" in
    --flows) flows_list=$2; shift 2 ;;
    --flows=*) flows_list=${1#*=}; shift ;;
    --per-flow-max) per_flow_max=$2; shift 2 ;;
    --rules-topology-max) rules_topology_max=$2; shift 2 ;;
    --cycles) cycles=$2; shift 2 ;;
    --cycles=*) cycles=${1#*=}; shift ;;
    --profile) profile=$2; shift 2 ;;
    --no-floor) floor=0; shift ;;
    --layouts) layouts=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "bench-rules: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$cycles" in ''|*[!0-9]*) echo "bench-rules: --cycles needs a whole number" >&2; exit 2 ;; esac
for l in $layouts; do
  case "$l" in floor|scraped|constant|per-flow) ;; *) echo "bench-rules: unknown layout $l (floor, scraped, constant, per-flow)" >&2; exit 2 ;; esac
done
want() { case " $layouts " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
case "$profile" in ''|*[!0-9]*) echo "bench-rules: --profile needs a whole number" >&2; exit 2 ;; esac

command -v prometheus >/dev/null || { echo "bench-rules: needs Debian's prometheus (scripts/install-test-deps.sh)" >&2; exit 1; }
if [ -z "${RTMON:-}" ]; then
  cargo build --release -q -p rtmon-dashboards
  RTMON=${CARGO_TARGET_DIR:-target}/release/rtmon-dashboards
fi

work=$(mktemp -d /tmp/rtmon-bench-rules.XXXXXX)
srv_pid=""; prom_pid=""
cleanup() {
  [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The generator: flow files + exposition files (@T@ = unix time, @M@ = unix time / 1000).
gen() {
  python3 - "$1" "$2" <<'PY'
import os, sys
n, out = int(sys.argv[1]), sys.argv[2]
os.makedirs(f"{out}/flows", exist_ok=True)
os.makedirs(f"{out}/data", exist_ok=True)
nsw = max(2, (n + 9) // 10)
def host_ip(i, side):  # a /16 per side: 10.{side}.x.y
    return f"10.{side}.{i // 250}.{i % 250 + 1}"
def inst(i, side):
    return f"192.{168 + side}.{i // 250}.{i % 250 + 1}"
def sw_target(s):
    return f"172.{16 + s // 60000}.{(s // 250) % 240}.{s % 250 + 1}"
def mac(i, side):
    return f"02:{side:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}:01"
# flow k: host a_k → sw s (ports 2j+1 in, 2j+2 out) → sw s+1 (ports 20+2j+1 in, +2 out) → host b_k
def ports(k):
    s, j = k // 10, k % 10
    return s, (s + 1) % nsw, f"Ethernet1/{2*j+1}", f"Ethernet1/{2*j+2}", f"Ethernet1/{21+2*j}", f"Ethernet1/{22+2*j}"
for k in range(n):
    s1, s2, p1, p2, p3, p4 = ports(k)
    with open(f"{out}/flows/f{k:05d}.yml", "w") as f:
        f.write(f"""flow: bench-{k}
title: bench flow {k}
path:
  - host: a{k}
    instance: {inst(k, 0)}
    interface: ens2f0np0.{1000 + k % 3000}
    ip: {host_ip(k, 0)}
    mac: "{mac(k, 0)}"
    vlan: {1000 + k % 3000}
  - switch: sw{s1}
    target: {sw_target(s1)}
    modules: [if_mib, qbridge_vlan]
    in: {{port: "{p1}"}}
    out: {{port: "{p2}"}}
  - switch: sw{s2}
    target: {sw_target(s2)}
    modules: [if_mib, qbridge_vlan]
    in: {{port: "{p3}"}}
    out: {{port: "{p4}"}}
  - host: b{k}
    instance: {inst(k, 1)}
    interface: ens2f0np0.{1000 + k % 3000}
    ip: {host_ip(k, 1)}
    mac: "{mac(k, 1)}"
    vlan: {1000 + k % 3000}
""")
def host_lines(k, side, peer_ip, vlan, sw, port):
    i = inst(k, side)
    dev = f"ens2f0np0.{vlan}"
    L = []
    for job, p in (("node", 9100), ("arp", 9105), ("ping", 9107)):
        L.append(f'up{{job="{job}",instance="{i}:{p}"}} 1')
    for d in (dev, "lo", "eno1", "docker0"):
        lab = f'job="node",instance="{i}:9100",device="{d}"'
        L.append(f"node_network_up{{{lab}}} 1")
        L.append(f"node_network_mtu_bytes{{{lab}}} {9000 if d == dev else 1500}")
        L.append(f"node_network_speed_bytes{{{lab}}} 12500000000")
        for m in ("receive_packets", "transmit_packets", "receive_bytes", "transmit_bytes"):
            L.append(f"node_network_{m}_total{{{lab}}} @T@")
        for m in ("receive_errs", "transmit_errs", "receive_drop", "transmit_drop"):
            L.append(f"node_network_{m}_total{{{lab}}} 0")
        L.append(f'node_network_info{{{lab},address="{mac(k, side) if d == dev else "02:00:00:00:00:00"}",operstate="up"}} 1')
    alab = f'job="arp",instance="{i}:9105"'
    L.append(f'rtmon_arp_entry_info{{{alab},ip="{peer_ip}",mac="02:00:00:00:00:09",device="{dev}",state="reachable"}} 1')
    for x in range(3):
        L.append(f'rtmon_arp_entry_info{{{alab},ip="10.99.{x}.1",mac="02:00:00:00:01:0{x}",device="eno1",state="stale"}} 1')
    L.append(f'rtmon_lldp_neighbor_info{{{alab},interface="ens2f0np0",chassis_id="00:00:00:00:00:aa",port_id="{port}",port_desc="",system_name="{sw}"}} 1')
    plab = f'job="ping",instance="{i}:9107",target="{peer_ip}"'
    L.append(f"rtmon_ping_up{{{plab}}} 1")
    L.append(f"rtmon_ping_requests_total{{{plab}}} @T@")
    L.append(f"rtmon_ping_replies_total{{{plab}}} @T@")
    L.append(f"rtmon_ping_rtt_seconds_sum{{{plab}}} @M@")
    L.append(f"rtmon_ping_rtt_seconds_count{{{plab}}} @T@")
    return L
def switch_lines(s, facing):
    t = sw_target(s)
    base = f'job="snmp",instance="{t}"'
    L = [f"snmp_up{{{base}}} 1"]
    for p in range(1, 49):
        name = f"Ethernet1/{p}"
        lab = f'{base},ifIndex="{p}",ifName="{name}",ifDescr="{name}",ifAlias=""'
        L.append(f"ifOperStatus{{{lab}}} 1")
        L.append(f"ifMtu{{{lab}}} 9216")
        L.append(f"ifHighSpeed{{{lab}}} 100000")
        for m in ("ifInErrors", "ifOutErrors", "ifInDiscards", "ifOutDiscards"):
            L.append(f"{m}{{{lab}}} 0")
        for m in ("ifHCInUcastPkts", "ifHCOutUcastPkts", "ifHCInOctets", "ifHCOutOctets"):
            L.append(f"{m}{{{lab}}} @T@")
        for m in ("ifHCInMulticastPkts", "ifHCOutMulticastPkts", "ifHCInBroadcastPkts", "ifHCOutBroadcastPkts"):
            L.append(f"{m}{{{lab}}} 0")
        vlan, m = facing.get(name, (1, None))
        L.append(f'rtmon_snmp_vlan_port_info{{{base},ifName="{name}",ifIndex="{p}",vlan="{vlan}",tagged="true"}} 1')
        if m:
            L.append(f'rtmon_snmp_fdb_entry_info{{{base},ifName="{name}",ifIndex="{p}",vlan="{vlan}",mac="{m}"}} 1')
    return L
facing = {}  # switch → port → (vlan, host mac facing it or None)
for k in range(n):
    s1, s2, p1, p2, p3, p4 = ports(k)
    v = 1000 + k % 3000
    facing.setdefault(s1, {})[p1] = (v, mac(k, 0))
    facing.setdefault(s1, {})[p2] = (v, None)
    facing.setdefault(s2, {})[p3] = (v, None)
    facing.setdefault(s2, {})[p4] = (v, mac(k, 1))
per_file = 500
files = 0
for start in range(0, n, per_file):
    with open(f"{out}/data/f{files:04d}.txt", "w") as f:
        for k in range(start, min(n, start + per_file)):
            s1, s2, p1, p2, p3, p4 = ports(k)
            f.write("\n".join(host_lines(k, 0, host_ip(k, 1), 1000 + k % 3000, f"sw{s1}", p1)) + "\n")
            f.write("\n".join(host_lines(k, 1, host_ip(k, 0), 1000 + k % 3000, f"sw{s2}", p4)) + "\n")
    files += 1
for start in range(0, nsw, 100):
    with open(f"{out}/data/f{files:04d}.txt", "w") as f:
        for s in range(start, min(nsw, start + 100)):
            f.write("\n".join(switch_lines(s, facing.get(s, {}))) + "\n")
    files += 1
print(files)
PY
}

serve() {
  python3 - "$1" "$2" <<'PY' &
import http.server, os, sys, time
root, port = sys.argv[1], int(sys.argv[2])
cache = {}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        p = os.path.join(root, os.path.basename(self.path))
        if p not in cache:
            try:
                cache[p] = open(p, "rb").read()
            except OSError:
                self.send_error(404); return
        t = time.time()
        body = cache[p].replace(b"@T@", b"%d" % int(t)).replace(b"@M@", b"%.3f" % (t / 1000))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
  srv_pid=$!
}

# The floor: what any rule set for these checks that selects their metrics by name must
# at least do in one cycle — read every series of every metric the checks read once
# (counters as a rate over the check window, the rest as an instant vector; a selector
# by metric name reads the noise too) and write one sample per check (the topology's
# check rows, reduced to the record's labels).
floor_rules() { # floor_rules DIR RULES: the metrics of DIR's data that RULES reads
  python3 - "$1" "$2" <<'PY'
import glob, re, sys
read = open(sys.argv[2]).read()
names = set()
for f in sorted(glob.glob(f"{sys.argv[1]}/data/f*.txt")):
    for line in open(f):
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", line)
        if m:
            names.add(m.group(1))
names = {n for n in names if re.search(r"\b%s\b" % re.escape(n), read)}
counter = re.compile(r"(_total|_sum|_count|Pkts|Octets|Errors|Discards)$")
print("groups:\n  - name: rtmon-floor\n    interval: 30s\n    rules:")
for i, n in enumerate(sorted(names)):
    e = f"count(rate({n}[5m]))" if counter.search(n) else f"count({n})"
    print(f'      - record: "bench:floor:{i}"\n        expr: "{e}"')
print('      - record: "rtmon:flow_check:ok"\n        expr: "0 * max by (flow, hop, check, subject, severity) (rtmon:flow_check:info) + 1"')
PY
}

metric() { # metric NAME-REGEX: sum over Prometheus's own /metrics
  curl -sf "http://127.0.0.1:$pport/metrics" | awk -v re="$1" '$1 ~ re && $1 ~ /rtmon-/ {s += $2} END {printf "%g", s + 0}'
}
metric_max() {
  curl -sf "http://127.0.0.1:$pport/metrics" | awk -v re="$1" '$1 ~ re && $1 ~ /rtmon-/ {if ($2 > m) m = $2} END {printf "%g", m + 0}'
}
query() {
  curl -sf --data-urlencode "query=$1" "http://127.0.0.1:$pport/api/v1/query" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$prom_pid/stat"; }
rss_mb() { awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$prom_pid/status"; }

run() { # run N LAYOUT
  local n=$1 layout=$2 d="$work/n$1" files
  if [ ! -d "$d/data" ]; then
    files=$(gen "$n" "$d")
    echo "$files" > "$d/files"
  fi
  files=$(cat "$d/files")
  local rl=$layout topo=rules
  case "$layout" in
    scraped|floor) rl=constant; topo=scrape
      "$RTMON" topology "$d"/flows/*.yml --out "$d/data/topology.txt" >/dev/null ;;
  esac
  if [ "$layout" = floor ]; then
    "$RTMON" rules "$d"/flows/*.yml --topology scrape --eval-interval 30s --out "$d/rules-ref.yml" >/dev/null
    floor_rules "$d" "$d/rules-ref.yml" > "$d/rules-$layout.yml"
  else
    "$RTMON" rules "$d"/flows/*.yml --layout "$rl" --topology "$topo" --eval-interval 30s --out "$d/rules-$layout.yml" >/dev/null
  fi
  local size rules
  size=$(stat -c %s "$d/rules-$layout.yml")
  rules=$(grep -cE '^ *- (\{record:|record:|alert:)' "$d/rules-$layout.yml")
  local sport; sport=$(free_port); serve "$d/data" "$sport"
  pport=$(free_port)
  mkdir -p "$d/prom-$layout"
  printf 'groups: []\n' > "$d/prom-$layout/rules.yml"
  {
    printf 'global: {scrape_interval: 15s, scrape_timeout: 14s, evaluation_interval: 30s}\n'
    printf 'rule_files: [%s/prom-%s/rules.yml]\nscrape_configs:\n  - job_name: bench\n    honor_labels: true\n    static_configs:\n' "$d" "$layout"
    for ((i = 0; i < files; i++)); do
      printf '      - targets: ["127.0.0.1:%s"]\n        labels: {__metrics_path__: "/f%04d.txt", shard: "%04d"}\n' "$sport" "$i" "$i"
    done
    if { [ "$layout" = scraped ] || [ "$layout" = floor ]; }; then
      printf '      - targets: ["127.0.0.1:%s"]\n        labels: {__metrics_path__: "/topology.txt", shard: "topology"}\n' "$sport"
    fi
  } > "$d/prom-$layout/prometheus.yml"
  env GOGC="${PROM_GOGC:-100}" prometheus --config.file="$d/prom-$layout/prometheus.yml" --storage.tsdb.path="$d/prom-$layout/tsdb" \
    --web.listen-address="127.0.0.1:$pport" --web.enable-lifecycle --log.level=warn \
    > "$d/prom-$layout/log" 2>&1 &
  prom_pid=$!
  # Wait for two scrapes of every target (bounded: 5 minutes).
  local waited=0 targets=$files
  { [ "$layout" = scraped ] || [ "$layout" = floor ]; } && targets=$((files + 1))
  until [ "$(query "count(up{job=\"bench\"} == 1)" 2>/dev/null || echo 0)" = "$targets" ]; do
    sleep 2; waited=$((waited + 2))
    [ $waited -lt 300 ] || { echo "bench-rules: targets not up after 300 s (N=$n)" >&2; tail -5 "$d/prom-$layout/log" >&2; return 1; }
  done
  sleep 16
  cp "$d/rules-$layout.yml" "$d/prom-$layout/rules.yml"
  local t0 t1 load
  t0=$(date +%s.%N)
  curl -sf -X POST "http://127.0.0.1:$pport/-/reload" >/dev/null || { echo "bench-rules: reload failed (N=$n $layout)" >&2; tail -5 "$d/prom-$layout/log" >&2; return 1; }
  t1=$(date +%s.%N)
  load=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
  # Warm up one cycle + the check window's first samples, then measure `cycles` cycles.
  sleep 45
  local c0 m0 c1 m1 hz
  hz=$(getconf CLK_TCK)
  c0=$(cpu_ticks); m0=$(metric 'prometheus_rule_group_iterations_missed_total')
  sleep $((cycles * 30))
  c1=$(cpu_ticks); m1=$(metric 'prometheus_rule_group_iterations_missed_total')
  local cpu sum max topo failing heads rss
  cpu=$(python3 -c "print(f'{($c1 - $c0) / $hz / $cycles:.1f}')")
  sum=$(metric 'prometheus_rule_group_last_duration_seconds')
  max=$(metric_max 'prometheus_rule_group_last_duration_seconds')
  topo=$(query 'count({__name__=~"rtmon:flow(_check|_hop|_lldp|_point|_link)?:(info|expected|limit)"}) or vector(0)')
  failing=$(query 'count(rtmon:flow_check:ok == 0) or vector(0)')
  heads=$(curl -sf "http://127.0.0.1:$pport/metrics" | awk '$1 == "prometheus_tsdb_head_series" {print $2}')
  rss=$(rss_mb)
  if [ "$profile" -gt 0 ]; then
    # The slowest rules of the last cycle, printed after the table (lines kept apart).
    curl -sf "http://127.0.0.1:$pport/api/v1/rules" | python3 -c '
import json, sys
n, label, top = sys.argv[1], sys.argv[2], int(sys.argv[3])
rules = [(r.get("evaluationTime", 0), g["name"], r.get("name", "")) for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]]
groups = {}
for t, g, name in rules:
    groups[g] = groups.get(g, 0) + t
for g, t in sorted(groups.items()):
    print(f"  N={n} {label}: group {g}: {t * 1000:8.1f} ms (sum of its rules)")
rules.sort(reverse=True)
for t, g, name in rules[:top]:
    print(f"  N={n} {label}: {t * 1000:8.1f} ms  {g} {name}")
' "$n" "$layout" "$profile" >> "$work/profile" || true
  fi
  printf '| %s | %s | %s (%.1f MB) | %s | %s | %s s | %.2f s | %.2f s | %s s | %s MB | %s | %s |\n' \
    "$n" "$layout" "$rules" "$(python3 -c "print($size / 1e6)")" "$topo" "$heads" "$load" "$sum" "$max" "$cpu" "$rss" \
    "$(python3 -c "print(int($m1 - $m0))")" "$failing"
  kill "$prom_pid"; wait "$prom_pid" 2>/dev/null || true; prom_pid=""
  kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=""
  rm -rf "$d/prom-$layout" "$d/data/topology.txt"
}

echo "rtmon bench-rules: $(nproc) cores, $(prometheus --version 2>&1 | head -1), $cycles cycles of 30 s measured per run"
echo
echo '| flows | rules | rules (file) | topology series | head series | load | group duration sum | max | Prometheus CPU per 30 s | RSS | missed iterations | checks at 0 |'
echo '|---|---|---|---|---|---|---|---|---|---|---|---|'
for n in $flows_list; do
  if [ "$floor" = 1 ] && want floor; then
    run "$n" floor
  fi
  if want scraped; then
    run "$n" scraped
  fi
  if [ "$n" -le "$rules_topology_max" ] && want constant; then
    run "$n" constant
  fi
  if [ "$n" -le "$per_flow_max" ] && want per-flow; then
    run "$n" per-flow
  fi
  rm -rf "$work/n$n"
done
if [ -s "$work/profile" ]; then
  echo
  echo "Slowest rules per run (last evaluation):"
  cat "$work/profile"
fi

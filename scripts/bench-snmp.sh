#!/usr/bin/env bash
# rtmon-snmp-exporter vs Debian's prometheus-snmp-exporter, side by side, against a real
# net-snmp snmpd with 1,000 bridge interfaces inside a network namespace made here.
#
# Prints, for the same if_mib metrics (ifTable + ifXTable, ifName/ifDescr/ifAlias
# labels): wall time per scrape, packets sent, exporter CPU — first scrape and steady
# state — as rtmon/snmp_exporter ratios; then TARGETS agents' ports scraped at once
# (each a distinct target to the exporters, all served by the one snmpd) against one 15 s
# interval; then a fleet: FLEET separate snmpd agents (one process per simulated switch,
# FLEET_PORTS ports each, in a second namespace) scraped at once, the issue's
# "50 simulated switches polled concurrently within one 15 s interval".
#
# Usage (root): scripts/bench-snmp.sh            N=10 scrapes, TARGETS=50 (SKIP_BUILD=1: no cargo build)
#               N=20 TARGETS=50 V=3 scripts/bench-snmp.sh   (V=3: SHA/AES authPriv)
# Needs: snmpd, prometheus-snmp-exporter, curl, python3, iproute2; cargo for the build.
set -euo pipefail

N=${N:-10}
TARGETS=${TARGETS:-50}
PORTS=${PORTS:-1000}
FLEET=${FLEET:-50}
FLEET_PORTS=${FLEET_PORTS:-48}
V=${V:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NS=rtmon-bsnmp-$$
VETH=vbs$$
NET=10.231.$(($$ % 200 + 20))
NS2=rtmon-bsnmpf-$$
VETH2=vbf$$
NET2=10.232.$(($$ % 200 + 20))
WORK=$(mktemp -d /tmp/rtmon-bench-snmp.XXXXXX)
PIDS=()

cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    [ -f "$WORK/snmpd.pid" ] && kill "$(cat "$WORK/snmpd.pid")" 2>/dev/null || true
    for f in "$WORK"/fleet*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    ip netns del "$NS2" 2>/dev/null || true
    ip link del "${VETH}a" 2>/dev/null || true
    ip link del "${VETH2}a" 2>/dev/null || true
    sleep 0.3; rm -rf "$WORK" 2>/dev/null || true
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "bench-snmp: needs root (network namespace)" >&2; exit 1; }
for b in snmpd prometheus-snmp-exporter curl python3 ip; do
    command -v "$b" >/dev/null || { echo "bench-snmp: missing $b" >&2; exit 1; }
done

RTMON=${RTMON:-$ROOT/target/release/rtmon-snmp-exporter}
if [ -z "${SKIP_BUILD:-}" ]; then
    echo "# building rtmon-snmp-exporter (release); SKIP_BUILD=1 uses the existing $RTMON"
    (cd "$ROOT" && cargo build --release -q -p rtmon-snmp-exporter)
fi
[ -x "$RTMON" ] || { echo "bench-snmp: no binary $RTMON" >&2; exit 1; }

echo "# namespace $NS with $PORTS bridges, snmpd on $NET.2 ports 161 and 20001..$((20000 + TARGETS))"
# switch_ns NS VETH NET PREFIX PORTS: a namespace at NET.2 (this side NET.1) with PORTS
# bridge interfaces PREFIX1.. — the simulated switch's ports, as snmpd's ifTable sees them.
switch_ns() {
    local ns=$1 veth=$2 net=$3 prefix=$4 ports=$5
    ip netns add "$ns"
    ip link add "${veth}a" type veth peer name "${veth}b"
    ip link set "${veth}b" netns "$ns"
    ip addr add "$net.1/24" dev "${veth}a"
    ip link set "${veth}a" up
    ip -n "$ns" addr add "$net.2/24" dev "${veth}b"
    ip -n "$ns" link set "${veth}b" up
    ip -n "$ns" link set lo up
    python3 -c "
for i in range(1, $ports + 1):
    print(f'link add $prefix{i} type bridge'); print(f'link set $prefix{i} up')" >"$WORK/$prefix.batch"
    ip -n "$ns" -batch "$WORK/$prefix.batch"
}
switch_ns "$NS" "$VETH" "$NET" sw "$PORTS"

ADDRS="udp:$NET.2:161"
for i in $(seq 1 "$TARGETS"); do ADDRS="$ADDRS,udp:$NET.2:$((20000 + i))"; done
mkdir -p "$WORK/persist"
cat >"$WORK/snmpd.conf" <<EOF
agentAddress $ADDRS
rocommunity bench-comm $NET.0/24
createUser benchv3 SHA "authpass123" AES "privpass123"
rouser benchv3 priv
EOF
ip netns exec "$NS" env SNMP_PERSISTENT_DIR="$WORK/persist" snmpd -Lf "$WORK/snmpd.log" -C \
    -c "$WORK/snmpd.conf" -p "$WORK/snmpd.pid" -m ""
for _ in $(seq 50); do
    snmpget -m "" -v2c -c bench-comm -t 0.3 -r 0 "$NET.2" .1.3.6.1.2.1.2.1.0 >/dev/null 2>&1 && break
    sleep 0.2
done

# --- configs: the same if_mib metrics for both ---
python3 - "$WORK" "$V" <<'PY'
import sys
work, v = sys.argv[1], sys.argv[2]
IT, XT = "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1"
cols = [  # name, oid, type  (the same table as rtmon's ifmib::COLUMNS)
 ("ifIndex", IT+".1", "gauge"), ("ifType", IT+".3", "EnumAsInfo"), ("ifMtu", IT+".4", "gauge"),
 ("ifSpeed", IT+".5", "gauge"), ("ifPhysAddress", IT+".6", "PhysAddress48"),
 ("ifAdminStatus", IT+".7", "gauge"), ("ifOperStatus", IT+".8", "gauge"), ("ifLastChange", IT+".9", "gauge")]
cols += [(n, f"{IT}.{i}", "counter") for n, i in [("ifInOctets",10),("ifInUcastPkts",11),("ifInNUcastPkts",12),
 ("ifInDiscards",13),("ifInErrors",14),("ifInUnknownProtos",15),("ifOutOctets",16),("ifOutUcastPkts",17),
 ("ifOutNUcastPkts",18),("ifOutDiscards",19),("ifOutErrors",20)]]
cols += [("ifOutQLen", IT+".21", "gauge")]
cols += [(n, f"{XT}.{i}", "counter") for n, i in [("ifInMulticastPkts",2),("ifInBroadcastPkts",3),
 ("ifOutMulticastPkts",4),("ifOutBroadcastPkts",5),("ifHCInOctets",6),("ifHCInUcastPkts",7),("ifHCInMulticastPkts",8),
 ("ifHCInBroadcastPkts",9),("ifHCOutOctets",10),("ifHCOutUcastPkts",11),("ifHCOutMulticastPkts",12),("ifHCOutBroadcastPkts",13)]]
cols += [(n, f"{XT}.{i}", "gauge") for n, i in [("ifLinkUpDownTrapEnable",14),("ifHighSpeed",15),
 ("ifPromiscuousMode",16),("ifConnectorPresent",17),("ifCounterDiscontinuityTime",19)]]
lookups = "".join(f"    - labels: [ifIndex]\n      labelname: {n}\n      oid: {o}\n      type: DisplayString\n"
                  for n, o in [("ifAlias", XT+".18"), ("ifDescr", IT+".2"), ("ifName", XT+".1")])
if v == "3":
    auth = "  version: 3\n  auth:\n    username: benchv3\n    security_level: authPriv\n    password: authpass123\n    auth_protocol: SHA\n    priv_protocol: AES\n    priv_password: privpass123\n"
else:
    auth = "  version: 2\n  auth:\n    community: bench-comm\n"
y = "if_mib:\n" + auth + "  max_repetitions: 25\n  retries: 3\n  timeout: 5s\n  walk: [1.3.6.1.2.1.2, 1.3.6.1.2.1.31.1.1]\n  metrics:\n"
y += "  - name: ifNumber\n    oid: 1.3.6.1.2.1.2.1\n    type: gauge\n    help: n\n"
for n, o, t in cols:
    extra = "\n    enum_values: {6: ethernetCsmacd, 24: softwareLoopback, 209: bridge}" if t == "EnumAsInfo" else ""
    y += f"  - name: {n}\n    oid: {o}\n    type: {t}{extra}\n    help: h\n    indexes:\n    - labelname: ifIndex\n      type: gauge\n    lookups:\n{lookups}"
open(f"{work}/snmp_exporter.yml", "w").write(y)
open(f"{work}/rtmon.yml", "w").write(
 "auths:\n  bench: {community: bench-comm}\n  bench3: {version: 3, username: benchv3, security_level: authPriv, "
 "auth_protocol: SHA, password: authpass123, priv_protocol: AES, priv_password: privpass123}\n")
PY
AUTH=bench; [ "$V" = 3 ] && AUTH=bench3

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(port); PP=$(port)
"$RTMON" --web.listen-address="127.0.0.1:$RP" --config.file="$WORK/rtmon.yml" --log.level=warn \
    --snmp.max-concurrent-targets=64 >"$WORK/rtmon.log" 2>&1 &
RPID=$!; PIDS+=("$RPID")
prometheus-snmp-exporter --config.file="$WORK/snmp_exporter.yml" --web.listen-address="127.0.0.1:$PP" \
    --log.level=warn >"$WORK/peer.log" 2>&1 &
PPID_=$!; PIDS+=("$PPID_")
for p in $RP $PP; do
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/metrics" && break; sleep 0.1; done
done

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime+stime, clock ticks
HZ=$(getconf CLK_TCK)
H='X-Prometheus-Scrape-Timeout-Seconds: 14'

# scrape NAME URL PID -> appends "wall packets cpu_s" lines to $WORK/NAME.runs
scrape() {
    local name=$1 url=$2 pid=$3 c0 c1 t pk
    c0=$(cpu "$pid")
    t=$(curl -s -H "$H" -o "$WORK/$name.out" -w '%{time_total}' "$url")
    c1=$(cpu "$pid")
    pk=$(awk '/^snmp_scrape_packets_sent/ {s += $NF} END {print s + 0}' "$WORK/$name.out")
    grep -q '^ifHCInOctets{' "$WORK/$name.out" || { echo "bench-snmp: $name returned no ifHCInOctets" >&2; head -5 "$WORK/$name.out" >&2; exit 1; }
    echo "$t $pk $(python3 -c "print(($c1 - $c0) / $HZ)")" >>"$WORK/$name.runs"
}

for i in $(seq 1 "$N"); do
    scrape rtmon "http://127.0.0.1:$RP/snmp?target=$NET.2&module=if_mib&auth=$AUTH" "$RPID"
    scrape peer "http://127.0.0.1:$PP/snmp?target=$NET.2&module=if_mib" "$PPID_"
done
series_r=$(grep -c '^if' "$WORK/rtmon.out"); series_p=$(grep -c '^if' "$WORK/peer.out")

python3 - "$WORK" "$N" "$series_r" "$series_p" "$V" "$PORTS" <<'PY'
import sys
w, n, sr, sp, v, ports = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
def load(name): return [tuple(map(float, l.split())) for l in open(f"{w}/{name}.runs")]
r, p = load("rtmon"), load("peer")
def avg(rows, k): return sum(x[k] for x in rows) / len(rows)
print(f"\n## {ports}-port snmpd, SNMPv{'3 authPriv SHA/AES' if v == '3' else '2c'}, {n} scrapes each; if* series: rtmon {sr}, snmp_exporter {sp}")
print(f"{'':40}{'rtmon':>12}{'snmp_exporter':>15}{'ratio':>9}")
for label, rr, pp in [("first scrape", r[:1], p[:1]), (f"steady state (avg of {n-1})", r[1:], p[1:])]:
    for k, what, fmt in [(0, "wall s/scrape", "{:.4f}"), (1, "packets/scrape", "{:.0f}"), (2, "CPU s/scrape", "{:.4f}")]:
        a, b = avg(rr, k), avg(pp, k)
        ratio = f"{a / b:.2f}" if b else "n/a"
        print(f"{(label + ': ' + what):<40}{fmt.format(a):>12}{fmt.format(b):>15}{ratio:>9}")
PY

# --- TARGETS distinct targets (agent ports) at once, two rounds (cold, then warm) ---
concurrent() { # name base-url query-extra agent-ip first-port count
    local name=$1 base=$2 q=$3 ip=$4 first=$5 count=$6 t0 t1
    local pids=()
    t0=$(date +%s.%N)
    for i in $(seq 1 "$count"); do
        curl -s -m 60 -H "$H" -o "$WORK/$name.c$i" "$base/snmp?target=$ip:$((first + i))&module=if_mib$q" &
        pids+=($!)
    done
    wait "${pids[@]}" || true
    t1=$(date +%s.%N)
    local ok
    ok=$(grep -l '^ifHCInOctets{' "$WORK/$name".c* | wc -l)
    local up
    up=$(cat "$WORK/$name".c* | awk '/^snmp_up /{s+=$2; n++} END{print n ? s : "n/a: no such metric"}')
    python3 -c "print(f'{\"$name\":<14}{$count} targets in {($t1 - $t0):.2f} s, {$ok} with interface data (snmp_up sum: $up)')"
    rm -f "$WORK/$name".c*
}
echo
echo "## $TARGETS targets x $PORTS ports, all served by one snmpd process, scraped at once (limit: one 15 s interval)"
for round in cold warm; do
    echo "# round: $round"
    concurrent rtmon "http://127.0.0.1:$RP" "&auth=$AUTH" "$NET.2" 20000 "$TARGETS"
    concurrent snmp_exporter "http://127.0.0.1:$PP" "" "$NET.2" 20000 "$TARGETS"
done

# --- a fleet: FLEET separate agents (one snmpd process each), FLEET_PORTS ports each ---
switch_ns "$NS2" "$VETH2" "$NET2" fsw "$FLEET_PORTS"
for i in $(seq 1 "$FLEET"); do
    mkdir -p "$WORK/fleet-persist$i"
    sed "s|^agentAddress .*|agentAddress udp:$NET2.2:$((21000 + i))|; s|$NET.0/24|$NET2.0/24|" \
        "$WORK/snmpd.conf" >"$WORK/fleet$i.conf"
    ip netns exec "$NS2" env SNMP_PERSISTENT_DIR="$WORK/fleet-persist$i" snmpd -Lf "$WORK/fleet$i.log" -C \
        -c "$WORK/fleet$i.conf" -p "$WORK/fleet$i.pid" -m ""
done
for i in $(seq 1 "$FLEET"); do
    for _ in $(seq 50); do
        snmpget -m "" -v2c -c bench-comm -t 0.3 -r 0 "$NET2.2:$((21000 + i))" .1.3.6.1.2.1.2.1.0 >/dev/null 2>&1 && break
        sleep 0.2
    done
done
echo
echo "## fleet: $FLEET switches x $FLEET_PORTS ports, one snmpd process each, scraped at once (limit: one 15 s interval)"
for round in cold warm; do
    echo "# round: $round"
    concurrent rtmon "http://127.0.0.1:$RP" "&auth=$AUTH" "$NET2.2" 21000 "$FLEET"
    concurrent snmp_exporter "http://127.0.0.1:$PP" "" "$NET2.2" 21000 "$FLEET"
done

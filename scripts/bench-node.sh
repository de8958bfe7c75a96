#!/usr/bin/env bash
# Benchmarks rtmon-node-exporter against Debian's prometheus-node-exporter, side by side
# on this machine, with the same collector set.
#
# Per scrape: CPU time (utime+stime from /proc/<pid>/stat over N scrapes), wall latency
# p50/p99 sequentially and with 10 concurrent clients, and peak RSS (VmHWM). Prints
# absolute numbers and rtmon/node_exporter ratios against the issue's targets.
#
# The floor: the kernel's cost of producing what a scrape reads. strace records the files
# one rtmon scrape opens, the directories it lists and the filesystems it statfs()es;
# scripts/bench/node-floor.c (built here with cc) does exactly that, SEQ times, with
# nothing else (no parsing, encoding or HTTP), and the report gives rtmon / floor
# (goal <= 2) beside rtmon / node_exporter.
#
# Usage: scripts/bench-node.sh [SEQ_SCRAPES=300] [CONC_SCRAPES_PER_CLIENT=40]
#        RTMON=/path/to/rtmon-node-exporter scripts/bench-node.sh   (another build, e.g. before/after)
# Needs: cargo, python3, prometheus-node-exporter; strace and cc for the floor row (the
# row is skipped, saying so, without them). Loopback only; both exporters are killed on exit.
set -euo pipefail

SEQ=${1:-300}
CONC=${2:-40}
CLIENTS=10
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/bench-node.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

command -v prometheus-node-exporter >/dev/null || { echo "prometheus-node-exporter not installed" >&2; exit 1; }
# RTMON=path: measure that binary (no build); NO_BUILD=1: use target/release as is.
if [ -z "${RTMON:-}" ]; then
    if [ "${NO_BUILD:-0}" != 1 ]; then
        echo "building rtmon-node-exporter (release)..." >&2
        (cd "$ROOT" && cargo build --release -q -p rtmon-node-exporter)
    fi
    RTMON="${CARGO_TARGET_DIR:-$ROOT/target}/release/rtmon-node-exporter"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

COLLECTORS="arp cpu diskstats entropy filefd filesystem hwmon loadavg meminfo netclass netdev netstat pressure sockstat stat textfile thermal_zone time uname vmstat"
FLAGS=(--collector.disable-defaults "--collector.textfile.directory=$WORK/textfile")
for c in $COLLECTORS; do FLAGS+=("--collector.$c"); done
mkdir -p "$WORK/textfile"

NE_PORT=$(free_port); RT_PORT=$(free_port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$NE_PORT" "${FLAGS[@]}" >"$WORK/ne.log" 2>&1 &
PIDS+=($!); NE_PID=$!
"$RTMON" --web.listen-address="127.0.0.1:$RT_PORT" "${FLAGS[@]}" >"$WORK/rt.log" 2>&1 &
PIDS+=($!); RT_PID=$!

# The floor: the files one rtmon scrape opens (after a warm-up scrape), read by node-floor.
FLOOR=""
if command -v strace >/dev/null && command -v cc >/dev/null; then
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$RT_PORT/metrics" && break; sleep 0.05; done
    strace -f -y -qq -e trace=openat,open,statfs -o "$WORK/strace.txt" -p "$RT_PID" &
    ST_PID=$!
    sleep 0.5
    curl -sf -o /dev/null "http://127.0.0.1:$RT_PORT/metrics"
    sleep 0.3
    kill "$ST_PID"; wait "$ST_PID" 2>/dev/null || true
    # What a minimal reader must do: each file opened successfully (not O_PATH handles),
    # read to EOF — the resolved path after "= N<…>", except /proc/<pid>/… (the
    # exporter's own), where the requested path (/proc/net/…) reads the same file from any
    # process; each directory listed ("D path"); each statfs ("S path").
    awk '/O_PATH/ { next }
         /statfs\(/ && / = 0$/ { if (match($0, /"[^"]*"/)) print "S " substr($0, RSTART + 1, RLENGTH - 2); next }
         match($0, /= [0-9]+<[^>]*>$/) {
           res = substr($0, RSTART, RLENGTH); sub(/^= [0-9]+</, "", res); sub(/>$/, "", res)
           if (res ~ /^\/proc\/[0-9]+\//) { if (match($0, /"[^"]*"/)) res = substr($0, RSTART + 1, RLENGTH - 2) }
           print (/O_DIRECTORY/ ? "D " : "") res }' "$WORK/strace.txt" >"$WORK/paths.txt"
    cc -O2 -o "$WORK/node-floor" "$ROOT/scripts/bench/node-floor.c"
    # The floor moves by ±20 % from one short run to the next: the median of 5 runs.
    FLOOR=$(for _ in 1 2 3 4 5; do "$WORK/node-floor" "$WORK/paths.txt" "$SEQ"; done | sort -n | sed -n 3p)
else
    echo "bench-node: strace or cc missing: no floor row" >&2
fi
export FLOOR

python3 - "$NE_PORT" "$NE_PID" "$RT_PORT" "$RT_PID" "$SEQ" "$CONC" "$CLIENTS" <<'EOF'
import os, socket, sys, threading, time

ne_port, ne_pid, rt_port, rt_pid, seq, conc, clients = map(int, sys.argv[1:])
HZ = os.sysconf("SC_CLK_TCK")

def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"port {port} never opened")

def scrape(port):
    t = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
    n = 0
    while True:
        b = s.recv(65536)
        if not b:
            break
        n += len(b)
    s.close()
    if n < 1000:
        sys.exit(f"short answer from port {port}")
    return time.perf_counter() - t

def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])  # utime + stime

def hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmHWM:"):
                return int(l.split()[1])
    return 0

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]

res = {}
for name, port, pid in (("node_exporter", ne_port, ne_pid), ("rtmon", rt_port, rt_pid)):
    wait_port(port)
    for _ in range(10):
        scrape(port)  # warm up
res = {"node_exporter": {}, "rtmon": {}}
# Sequential, interleaved in blocks so both see the same machine state.
for name, port, pid in (("node_exporter", ne_port, ne_pid), ("rtmon", rt_port, rt_pid)):
    c0 = cpu_ticks(pid)
    lat = [scrape(port) for _ in range(seq)]
    c1 = cpu_ticks(pid)
    res[name]["cpu_ms"] = (c1 - c0) * 1000.0 / HZ / seq
    res[name]["p50"] = pct(lat, 50) * 1e3
    res[name]["p99"] = pct(lat, 99) * 1e3
for name, port, pid in (("node_exporter", ne_port, ne_pid), ("rtmon", rt_port, rt_pid)):
    lat, lock = [], threading.Lock()
    def worker():
        mine = [scrape(port) for _ in range(conc)]
        with lock:
            lat.extend(mine)
    ts = [threading.Thread(target=worker) for _ in range(clients)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    res[name]["c50"] = pct(lat, 50) * 1e3
    res[name]["c99"] = pct(lat, 99) * 1e3
    res[name]["rss_mb"] = hwm_kb(pid) / 1024.0

rows = [
    ("CPU per scrape (ms)", "cpu_ms", 0.33),
    ("latency p50, sequential (ms)", "p50", 0.5),
    ("latency p99, sequential (ms)", "p99", None),
    (f"latency p50, {clients} concurrent (ms)", "c50", 0.2),
    (f"latency p99, {clients} concurrent (ms)", "c99", None),
    ("peak RSS VmHWM (MB)", "rss_mb", 0.5),
]
print(f"\nrtmon-node-exporter vs prometheus-node-exporter, {seq} sequential scrapes, "
      f"{clients}x{conc} concurrent, same {len(os.environ.get('X','')) or 20} collectors\n")
print(f"{'metric':34} {'node_exporter':>14} {'rtmon':>10} {'ratio':>8} {'target':>8}  ok")
fails = 0
for label, key, target in rows:
    a, b = res["node_exporter"][key], res["rtmon"][key]
    r = b / a if a > 0 else float("inf")
    ok = "" if target is None else ("yes" if r <= target else "NO")
    fails += ok == "NO"
    tgt = "" if target is None else f"<={target}"
    print(f"{label:34} {a:14.3f} {b:10.3f} {r:8.3f} {tgt:>8}  {ok}")
floor = os.environ.get("FLOOR", "").split()
if floor:
    f_ms, f_files, f_bytes, f_dirs, f_fs = float(floor[0]), int(floor[1]), int(floor[2]), int(floor[3]), int(floor[4])
    rt, ne = res["rtmon"]["cpu_ms"], res["node_exporter"]["cpu_ms"]
    r = rt / f_ms if f_ms > 0 else float("inf")
    ok = "yes" if r <= 2 else "NO"
    fails += ok == "NO"
    print(f"\nfloor: what one rtmon scrape asks of the kernel — {f_files} files read ({f_bytes} bytes), "
          f"{f_dirs} directories listed, {f_fs} statfs — done {seq} times by scripts/bench/node-floor.c: "
          f"{f_ms:.3f} ms CPU per scrape")
    print(f"{'CPU per scrape / floor':34} {ne / f_ms if f_ms > 0 else float('inf'):14.2f} {r:10.2f} {'':8} {'<=2':>8}  {ok}")
print("\nall targets met" if fails == 0 else f"\n{fails} target(s) missed")
EOF

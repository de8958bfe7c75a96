#!/usr/bin/env bash
# Overload soak: rtmon-node-exporter beside Debian's prometheus-node-exporter, both at
# the systemd default soft open-files limit (ulimit -Sn 1024), loopback only.
#
#   1. Overload: CONNS concurrent clients scrape /metrics in a loop for SECS seconds
#      (--web.max-requests at its default, 40). Reported per exporter: 200s, 503s, other
#      failures, scrape p50, and the latency of /-/healthy probed every 50 ms from a
#      separate process meanwhile (p50/p99/max; target for rtmon: p99 < 100 ms), peak
#      RSS (VmHWM).
#   2. Idle connections: IDLE connections opened and left idle (more than the soft
#      limit), then 35 /-/healthy requests: how many are answered.
#
# Usage: scripts/soak.sh [CONNS=1000] [SECS=15] [IDLE=1100]
# Needs: cargo, python3, prometheus-node-exporter. Everything it starts is killed on exit.
set -euo pipefail

CONNS=${1:-1000}
SECS=${2:-15}
IDLE=${3:-1100}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/soak.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

command -v prometheus-node-exporter >/dev/null || { echo "prometheus-node-exporter not installed" >&2; exit 1; }
echo "building rtmon-node-exporter (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p rtmon-node-exporter)
RTMON="${CARGO_TARGET_DIR:-$ROOT/target}/release/rtmon-node-exporter"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

NE_PORT=$(free_port); RT_PORT=$(free_port)
# The systemd default: soft 1024, hard as it is.
( ulimit -Sn 1024; exec prometheus-node-exporter --web.listen-address="127.0.0.1:$NE_PORT" ) >"$WORK/ne.log" 2>&1 &
PIDS+=($!); NE_PID=$!
( ulimit -Sn 1024; exec "$RTMON" --web.listen-address="127.0.0.1:$RT_PORT" ) >"$WORK/rt.log" 2>&1 &
PIDS+=($!); RT_PID=$!

cat >"$WORK/health.py" <<'EOF'
# Probes /-/healthy every 50 ms until killed; prints one latency (s) or "fail" per line.
import socket, sys, time
port = int(sys.argv[1])
while True:
    t = time.perf_counter()
    try:
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.settimeout(5)
        s.sendall(b"GET /-/healthy HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        s.close()
        ok = data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n", 1)[0]
        print(time.perf_counter() - t if ok else "fail", flush=True)
    except OSError:
        print("fail", flush=True)
    time.sleep(0.05)
EOF

python3 - "$NE_PORT" "$NE_PID" "$RT_PORT" "$RT_PID" "$CONNS" "$SECS" "$IDLE" "$WORK" <<'EOF'
import asyncio, os, resource, socket, subprocess, sys, time

ne_port, ne_pid, rt_port, rt_pid, conns, secs, idle = map(int, sys.argv[1:8])
work = sys.argv[8]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"port {port} never opened")

def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith(key + ":"):
                return int(l.split()[1]) / 1024.0
    return 0.0

def nofile(pid):
    with open(f"/proc/{pid}/limits") as f:
        for l in f:
            if l.startswith("Max open files"):
                return l.split()[3]
    return "?"

def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]

async def scrape_loop(port, end, counts, lat):
    while time.monotonic() < end:
        t = time.perf_counter()
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
            w.write(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            await w.drain()
            head = await asyncio.wait_for(r.readline(), 30)
            await asyncio.wait_for(r.read(), 30)
            w.close()
            code = head.split()[1].decode() if len(head.split()) > 1 else "bad"
        except (OSError, asyncio.TimeoutError, IndexError):
            code = "error"
            await asyncio.sleep(0.05)
        counts[code] = counts.get(code, 0) + 1
        if code == "200":
            lat.append(time.perf_counter() - t)

async def overload(port):
    end = time.monotonic() + secs
    counts, lat = {}, []
    await asyncio.gather(*(scrape_loop(port, end, counts, lat) for _ in range(conns)))
    return counts, lat

def run_overload(name, port, pid):
    hp = subprocess.Popen([sys.executable, f"{work}/health.py", str(port)],
                          stdout=subprocess.PIPE, text=True)
    counts, lat = asyncio.run(overload(port))
    hp.terminate()
    out, _ = hp.communicate()
    h = [float(x) for x in out.split() if x != "fail"]
    hfail = sum(1 for x in out.split() if x == "fail")
    return {
        "200": counts.get("200", 0), "503": counts.get("503", 0),
        "other": sum(v for k, v in counts.items() if k not in ("200", "503")),
        "scrape_p50_ms": pct(lat, 50) * 1e3,
        "health_n": len(h), "health_fail": hfail,
        "health_p50_ms": pct(h, 50) * 1e3, "health_p99_ms": pct(h, 99) * 1e3,
        "health_max_ms": max(h) * 1e3 if h else float("nan"),
        "rss_mb": status(pid, "VmHWM"), "nofile": nofile(pid),
    }

def run_idle(port):
    socks = []
    opened_fail = 0
    for _ in range(idle):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), 2))
        except OSError:
            opened_fail += 1
    time.sleep(1)
    ok = 0
    lat = []
    for _ in range(35):
        t = time.perf_counter()
        try:
            s = socket.create_connection(("127.0.0.1", port), 3)
            s.settimeout(3)
            s.sendall(b"GET /-/healthy HTTP/1.0\r\nHost: x\r\n\r\n")
            data = s.recv(4096)
            s.close()
            if b" 200 " in data.split(b"\r\n", 1)[0]:
                ok += 1
                lat.append(time.perf_counter() - t)
        except OSError:
            pass
    for s in socks:
        s.close()
    return ok, opened_fail, pct(lat, 99) * 1e3

wait_port(ne_port); wait_port(rt_port)
res = {}
for name, port, pid in (("rtmon", rt_port, rt_pid), ("node_exporter", ne_port, ne_pid)):
    res[name] = run_overload(name, port, pid)
    time.sleep(2)
for name, port in (("rtmon", rt_port), ("node_exporter", ne_port)):
    res[name]["idle_ok"], res[name]["idle_open_fail"], res[name]["idle_p99_ms"] = run_idle(port)
    time.sleep(1)

print(f"\noverload: {conns} clients scraping /metrics for {secs} s; idle: {idle} idle "
      f"connections then 35 health requests; both started at ulimit -Sn 1024\n")
rows = [
    ("open-files soft limit in effect", "nofile", "{}"),
    ("scrapes answered 200", "200", "{}"),
    ("scrapes answered 503", "503", "{}"),
    ("scrapes failed otherwise", "other", "{}"),
    ("scrape p50 (ms, 200s)", "scrape_p50_ms", "{:.1f}"),
    ("/-/healthy probes (ok / failed)", None, None),
    ("/-/healthy p50 (ms)", "health_p50_ms", "{:.1f}"),
    ("/-/healthy p99 (ms)", "health_p99_ms", "{:.1f}"),
    ("/-/healthy max (ms)", "health_max_ms", "{:.1f}"),
    ("peak RSS VmHWM (MB)", "rss_mb", "{:.1f}"),
    (f"idle: health answered of 35", "idle_ok", "{}"),
    (f"idle: connections refused/failed", "idle_open_fail", "{}"),
    ("idle: health p99 (ms)", "idle_p99_ms", "{:.1f}"),
]
print(f"{'':36} {'rtmon':>12} {'node_exporter':>14}")
for label, key, fmt in rows:
    if key is None:
        vals = [f"{res[n]['health_n']}/{res[n]['health_fail']}" for n in ("rtmon", "node_exporter")]
    else:
        vals = [fmt.format(res[n][key]) for n in ("rtmon", "node_exporter")]
    print(f"{label:36} {vals[0]:>12} {vals[1]:>14}")
r = res["rtmon"]
checks = [
    ("rtmon sheds load with 503", r["503"] > 0),
    ("rtmon /-/healthy p99 < 100 ms while overloaded", r["health_p99_ms"] < 100 and r["health_fail"] == 0),
    ("rtmon answers health with idle connections above the soft limit", r["idle_ok"] == 35),
]
print()
for label, ok in checks:
    print(f"{'yes' if ok else 'NO ':3} {label}")
sys.exit(0 if all(ok for _, ok in checks) else 1)
EOF

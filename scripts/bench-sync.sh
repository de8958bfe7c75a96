#!/usr/bin/env bash
# Measures `rtmon-dashboards sync` (release build) on 1,000 flows of 4 hops (one file per
# flow) against a Grafana API stand-in (Python, threaded, in-memory) on 127.0.0.1:
#
#   1. first full resync: every dashboard created, rules and target lists written;
#   2. full resync after a restart: every dashboard read back and compared, nothing written;
#   3. single change: one flow file edited -> rules file rewritten, and its dashboard
#      updated in Grafana (time from the file's rename to each being visible), 5 times.
#
# Targets (issue 19): full resync "in seconds", single change < 1 s.
# Usage: scripts/bench-sync.sh [FLOWS]   (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
cargo build --release -q -p rtmon-dashboards
bin=$PWD/target/release/rtmon-dashboards
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/flows" "$work/prom/targets" "$work/prom/rules"
echo glsa_bench >"$work/token"
python3 - "$work/flows" "$n" <<'PY'
import sys, os
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    a, b = 16 + i % 200, 17 + i % 200
    with open(os.path.join(d, f"bench-{i:04d}.yml"), "w") as f:
        f.write(f"""flow: bench-{i:04d}
title: Bench flow {i}
path:
  - host: dtn-a-{i}
    instance: 198.51.100.{a % 250}
    interface: ens2f0np0.{1000 + i % 3000}
    ip: 10.{i // 250}.{i % 250}.1
    vlan: {1000 + i % 3000}
  - switch: sw-a-{i}
    target: 192.0.2.{1 + i % 250}
    auth: site_v2
    in: {{port: "hundredGigE 1/{1 + i % 32}", vlan: {1000 + i % 3000}}}
    out: {{port: "Port-channel {100 + i % 50}", vlan: {1000 + i % 3000}}}
  - switch: sw-b-{i}
    target: 203.0.113.{1 + i % 250}
    in: {{port: "Port-channel {100 + i % 50}", vlan: {1000 + i % 3000}}}
    out: {{port: "hundredGigE 1/{1 + (i + 7) % 32}", vlan: {1000 + i % 3000}}}
  - host: dtn-b-{i}
    instance: 198.51.100.{b % 250}
    interface: ens2f0.{1000 + i % 3000}
    ip: 10.{i // 250}.{i % 250}.2
    vlan: {1000 + i % 3000}
""")
PY

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
gport=$(free_port)
mport=$(free_port)

# The Grafana stand-in: folders, POST /api/dashboards/db (overwrite), search, get, delete.
cat >"$work/grafana.py" <<'PY'
import json, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlsplit, parse_qs
lock = threading.Lock()
folders, dash, counts = {}, {}, {"GET": 0, "POST": 0, "DELETE": 0}
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"null")
    def do_GET(self):
        u = urlsplit(self.path); q = parse_qs(u.query)
        with lock:
            if u.path == "/_bench/counts":
                return self.reply(200, counts)
            counts["GET"] += 1
            if u.path.startswith("/_bench/version/"):
                d = dash.get(u.path.rsplit("/", 1)[1])
                return self.reply(200, {"version": d["version"] if d else 0})
            if u.path.startswith("/api/folders/"):
                uid = u.path.rsplit("/", 1)[1]
                return self.reply(200 if uid in folders else 404, {"uid": uid})
            if u.path == "/api/search":
                tag, f = q.get("tag", [""])[0], q.get("folderUIDs", [""])[0]
                if q.get("page", ["1"])[0] != "1":
                    return self.reply(200, [])
                return self.reply(200, [{"uid": k, "title": d["json"].get("title"), "tags": d["json"].get("tags"),
                                         "folderUid": d["folder"]} for k, d in dash.items()
                                        if d["folder"] == f and tag in (d["json"].get("tags") or [])])
            if u.path.startswith("/api/dashboards/uid/"):
                d = dash.get(u.path.rsplit("/", 1)[1])
                if not d:
                    return self.reply(404, {"message": "not found"})
                return self.reply(200, {"dashboard": d["json"], "meta": {"folderUid": d["folder"]}})
        self.reply(500, {"message": "unexpected"})
    def do_POST(self):
        b = self.body()
        with lock:
            counts["POST"] += 1
            if self.path == "/api/folders":
                folders[b["uid"]] = b["title"]
                return self.reply(200, b)
            if self.path == "/api/dashboards/db":
                d = b["dashboard"]; uid = d["uid"]
                old = dash.get(uid)
                v = old["version"] + 1 if old else 1
                d["id"] = 1; d["version"] = v
                dash[uid] = {"json": d, "folder": b["folderUid"], "version": v}
                return self.reply(200, {"uid": uid, "version": v, "url": "/d/" + uid})
        self.reply(500, {"message": "unexpected"})
    def do_DELETE(self):
        with lock:
            counts["DELETE"] += 1
            ok = dash.pop(self.path.rsplit("/", 1)[1], None)
        self.reply(200 if ok else 404, {})
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$work/grafana.py" "$gport" &
pids+=($!)

start_sync() {
  "$bin" sync --flows-dir "$work/flows" --grafana "http://127.0.0.1:$gport" --token-file "$work/token" \
    --rules-file "$work/prom/rules/rtmon-flows.yml" --targets-dir "$work/prom/targets" \
    --resync-interval 1h --debounce 50ms --web.listen-address "127.0.0.1:$mport" --log.level warn \
    2>>"$work/sync.log" &
  pids+=($!)
  sync_pid=$!
}

# Waits for the first full pass of the running service; prints "<wall s> <pass s>".
first_pass() {
  python3 - "$mport" "$1" <<'PY'
import sys, time, urllib.request
port, t0 = sys.argv[1], float(sys.argv[2])
while True:
    try:
        m = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
        d = [float(l.split()[1]) for l in m.splitlines() if l.startswith("rtmon_sync_last_pass_duration_seconds ")]
        if 'rtmon_sync_passes_total{kind="full"} 1' in m and 'rtmon_sync_up{system="grafana"} 1' in m and d and d[0] > 0:
            print(f"{time.time() - t0:.3f} {d[0]:.3f}")
            break
    except Exception:
        pass
    if time.time() - t0 > 300:
        print("timeout timeout"); break
    time.sleep(0.02)
PY
}
counts() { curl -s "http://127.0.0.1:$gport/_bench/counts"; }

t0=$(date +%s.%N); start_sync
read -r wall1 pass1 < <(first_pass "$t0")
c1=$(counts)
rss1=$(awk '/VmRSS/ {print $2}' "/proc/$sync_pid/status")
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
cpu1=$(cpu "$sync_pid")
kill "$sync_pid"; wait "$sync_pid" 2>/dev/null || true

t0=$(date +%s.%N); start_sync
read -r wall2 pass2 < <(first_pass "$t0")
c2=$(counts)
cpu2=$(cpu "$sync_pid")

# Single changes: rename a new version of one file into place, time what follows.
lat=$(python3 - "$work" "$gport" <<'PY'
import os, sys, time, json, urllib.request
work, gport = sys.argv[1], sys.argv[2]
rules = os.path.join(work, "prom/rules/rtmon-flows.yml")
out = []
for k, i in enumerate([7, 123, 500, 777, 999]):
    p = os.path.join(work, f"flows/bench-{i:04d}.yml")
    if not os.path.exists(p):
        continue
    text = open(p).read().replace(f"title: Bench flow {i}", f"title: Bench flow {i} edited")
    text = text.replace("interface: ens2f0.", "interface: ens3f0.")
    before = os.stat(rules).st_mtime_ns
    uid = f"rtmon-bench-{i:04d}"
    with open(p + ".new", "w") as f:
        f.write(text)
    t0 = time.time()
    os.rename(p + ".new", p)
    t_rules = t_dash = None
    while time.time() - t0 < 30 and (t_rules is None or t_dash is None):
        if t_rules is None and os.stat(rules).st_mtime_ns != before:
            t_rules = time.time() - t0
        if t_dash is None:
            v = json.load(urllib.request.urlopen(f"http://127.0.0.1:{gport}/_bench/version/{uid}"))["version"]
            if v == 2:
                t_dash = time.time() - t0
        time.sleep(0.002)
    out.append(f"{t_rules if t_rules is not None else -1:.3f}/{t_dash if t_dash is not None else -1:.3f}")
print(" ".join(out))
PY
)
c3=$(counts)
worst=$(printf '%s\n' $lat | tr '/' '\n' | sort -n | tail -1)
echo "sync bench: $n flows x 4 hops, one file per flow, Grafana stand-in on loopback"
echo "  (load average: $(cut -d' ' -f1-3 /proc/loadavg); the stand-in is one Python process)"
echo "  first full resync (create all):  ${wall1} s from start, pass ${pass1} s, sync CPU ${cpu1} s, RSS ${rss1} KiB   requests so far $c1"
echo "  full resync after restart:       ${wall2} s from start, pass ${pass2} s, sync CPU ${cpu2} s (compare all, write none)   requests so far $c2"
echo "  single change (rules s/dashboard s, debounce 50 ms): $lat   requests so far $c3"
awk -v w="$worst" -v p="$pass2" 'BEGIN {
  printf "  single change < 1 s: %s (worst %.3f s); steady-state full resync < 10 s: %s\n",
    (w >= 0 && w < 1 ? "met" : "MISSED"), w, (p < 10 ? "met" : "MISSED") }'
if grep -q . "$work/sync.log"; then echo "  sync log:"; sed 's/^/    /' "$work/sync.log" | head -20; fi

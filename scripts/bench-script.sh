#!/usr/bin/env bash
# Probe overhead of rtmon-script-exporter: a script that prints one line, run
#   (a) bare: spawn + read stdout + wait, from a small client (posix_spawn), and
#   (b) through the exporter: GET /probe?script=one over a keep-alive connection,
# at 1 and 20 concurrent callers. Prints p50/p99 of both and the overhead (b - a) and
# ratio (b / a), one client process per caller. Target: exporter overhead <= 2 ms at p50.
# No peer binary (ricoberger/script_exporter) is installable here, so the bare spawn is
# the reference, as the issue states the target. Usage: scripts/bench-script.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-400}
cargo build --release -q -p rtmon-script-exporter
bin=$PWD/target/release/rtmon-script-exporter
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
printf '#!/bin/sh\necho "bench_value 1"\n' > "$work/one.sh"
chmod +x "$work/one.sh"
cat > "$work/script.yml" <<YML
scripts:
  - name: one
    command: $work/one.sh
    max_concurrency: 32
YML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --web.listen-address="127.0.0.1:$port" --config.file="$work/script.yml" \
    --script.max-concurrency=32 --web.max-requests=64 --log.level=warn 2>"$work/log" &
pid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
done
python3 - "$work/one.sh" "$port" "$n" <<'PY'
import http.client, multiprocessing as mp, os, sys, time
mp.set_start_method("fork")

script, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def bare():
    r, w = os.pipe()
    fa = [("dup2", w, 1), ("close", r), ("close", w)]
    t = time.perf_counter()
    pid = os.posix_spawn(script, [script], os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_CLOSE, r)])
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    assert out == b"bench_value 1\n", out
    return time.perf_counter() - t

def prober():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    def probe():
        t = time.perf_counter()
        conn.request("GET", "/probe?script=one")
        resp = conn.getresponse()
        body = resp.read()
        d = time.perf_counter() - t
        assert resp.status == 200 and b"bench_value 1" in body and b'script_success{script="one"} 1' in body, body[:300]
        return d
    return probe

def worker(kind, per, q):
    f = bare if kind == "bare" else prober()
    for _ in range(10):               # warm-up
        f()
    q.put([f() for _ in range(per)])

def run(kind, conc, count):
    # One client process per concurrent caller (no GIL contention between callers).
    per = max(1, count // conc)
    q = mp.Queue()
    ps = [mp.Process(target=worker, args=(kind, per, q)) for _ in range(conc)]
    t0 = time.perf_counter()
    for p in ps: p.start()
    lat = []
    for _ in ps: lat.extend(q.get())
    for p in ps: p.join()
    wall = time.perf_counter() - t0
    lat.sort()
    pick = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000
    return pick(0.5), pick(0.99), len(lat) / wall

print(f"rtmon-script-exporter probe overhead, one-line script, {n} runs per row")
print(f"{'concurrency':>11} {'path':>9} {'p50 ms':>8} {'p99 ms':>8} {'runs/s':>8}")
rows = {}
for conc in (1, 20):
    for name in ("bare", "probe"):
        p50, p99, rate = run(name, conc, n)
        rows[(conc, name)] = (p50, p99)
        print(f"{conc:>11} {name:>9} {p50:>8.2f} {p99:>8.2f} {rate:>8.0f}")
print()
ok = True
for conc in (1, 20):
    b, p = rows[(conc, "bare")], rows[(conc, "probe")]
    over50 = p[0] - b[0]
    print(f"concurrency {conc:>2}: overhead p50 {over50:+.2f} ms (ratio {p[0]/b[0]:.2f}), "
          f"p99 {p[1]-b[1]:+.2f} ms (ratio {p[1]/b[1]:.2f})")
    if conc == 1 and over50 > 2.0:
        ok = False
print("target (overhead <= 2 ms p50 at concurrency 1):", "MET" if ok else "NOT MET")
PY

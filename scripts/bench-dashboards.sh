#!/usr/bin/env bash
# Generates 1,000 flows of 4 hops each (host, switch, switch, host) with the release
# binary and prints the time for dashboards (the flows' and the fleet overview, which
# `generate` writes beside them) and for rules. Target: under 1 s for the dashboards.
# The fleet overview does not depend on the number of flows (one query per column);
# its cost is bounded by a `generate` of one flow (process start, one flow dashboard and
# the fleet view), printed too.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${NO_BUILD:-0}" = 1 ] || cargo build --release -q -p rtmon-dashboards   # NO_BUILD=1: use target/release as is
bin=${CARGO_TARGET_DIR:-target}/release/rtmon-dashboards
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 - "$work/flows.yml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("flows:\n")
    for i in range(1000):
        a, b = 16 + i % 200, 17 + i % 200
        f.write(f"""  - flow: bench-{i:04d}
    title: Bench flow {i}
    path:
      - host: dtn-a-{i}
        instance: 198.51.100.{a % 250}
        interface: ens2f0np0.{1000 + i % 3000}
        ip: 10.{i // 250}.{i % 250}.1
        vlan: {1000 + i % 3000}
      - switch: sw-a-{i}
        target: 192.0.2.{1 + i % 250}
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
# Earlier runs' 100 MB of dirty pages would otherwise be written back during this one.
sync
t0=$(date +%s.%N)
"$bin" generate "$work/flows.yml" --out "$work/out" >/dev/null
t1=$(date +%s.%N)
"$bin" rules "$work/flows.yml" --out "$work/rules.yml" >/dev/null
t2=$(date +%s.%N)
# One flow: an upper bound of the fleet view's own cost.
python3 - "$work/flows.yml" "$work/one.yml" <<'PY'
import sys
text = open(sys.argv[1]).read().split("  - flow: ")
open(sys.argv[2], "w").write(text[0] + "  - flow: " + text[1])
PY
"$bin" generate "$work/one.yml" --out "$work/one" >/dev/null
t3=$(date +%s.%N)
[ -s "$work/out/rtmon-fleet.json" ] || { echo "no fleet overview (rtmon-fleet.json) written" >&2; exit 1; }
n=$(ls "$work/out" | grep -vc '^rtmon-fleet.json$')
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v n="$n" -v sz="$(du -sk "$work/out" | cut -f1)" \
    -v fsz="$(du -k "$work/out/rtmon-fleet.json" | cut -f1)" 'BEGIN {
  printf "dashboards: %d flows x 4 hops + fleet view generated in %.3f s (%d KiB of JSON)  target < 1 s: %s\n", n, b-a, sz, (b-a < 1 ? "met" : "MISSED");
  printf "fleet view: %d KiB, whatever the number of flows; 1 flow + fleet view in %.3f s (process start included)\n", fsz, d-c;
  printf "rules:      %d flows in %.3f s\n", n, c-b }'

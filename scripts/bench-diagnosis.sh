#!/usr/bin/env bash
# Time to exact cause: on the live demo of scripts/run-local.sh (as root), with a real
# Alertmanager, for each fault class of scripts/inject.sh: inject it, then measure
#   - until `rtmon-dashboards status` names the right hop and check FIRST,
#   - until the matching RtmonFlowCheckFailed alert is active (not inhibited) in
#     Alertmanager, and how many other flow alerts are active beside it (the rest being
#     inhibited) once it fires and two evaluations later,
# then heal it and measure until `status` says healthy again. Then a soak on the healthy
# demo counting false alarms (status not healthy, alerts active). Prints one table.
#
#   scripts/bench-diagnosis.sh                 production intervals: 15 s scrapes, 30 s rule
#                                              evaluation, 5 m check window, alerts after 2 m,
#                                              LLDP every 30 s; 30-minute soak
#   scripts/bench-diagnosis.sh --fast          2 s scrapes and evaluation, 20 s window, alerts
#                                              after 10 s, LLDP every 2 s
#   options: --soak=DURATION (30m; 0 skips it)   --faults=a,b,...  (default: all 8; none: soak only)
#            --bin-dir DIR (default: cargo build --profile fast)   --out FILE (the table,
#            also printed; default out/bench-diagnosis.md)   --keep (keep the demos' temp dirs)
#
# "Observable" (when a fault can first show in a sample), per class:
#   port-down, mtu, vlan, exporter, unreachable   the next scrape after the change
#   recable      B's link comes back on the new port: its LLDP listener forgot the old
#                neighbour when the carrier dropped; the switch's next LLDPDU on the new port
#                (within the LLDP interval) names that port, and the bridge learns B's MAC
#                there from the next frame (its old entry went with the old port's link)
#   loss         when the deficit over the check window passes the tolerance: window x
#                tolerance / share lost (5 m x 2 % / 20 % = 30 s; --fast: 2 s)
#   push-stale   when B's newest pushed sample is older than --stale-after (2 m)
# The bound printed is observable + one scrape + one evaluation interval (+ the check
# window's own delay for loss). push-stale runs on a second demo in push mode.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
fast=0
soak=30m
faults=port-down,vlan,mtu,recable,loss,exporter,unreachable,push-stale
bin_dir=""
out_file=$root/out/bench-diagnosis.md
keep=()
while [ $# -gt 0 ]; do
  case "$1" in
    --fast) fast=1 ;;
    --soak=*) soak=${1#*=} ;;
    --soak) soak=${2:?--soak needs a duration}; shift ;;
    --faults=*) faults=${1#*=} ;;
    --faults) faults=${2:?--faults needs a list}; shift ;;
    --bin-dir=*) bin_dir=${1#*=} ;;
    --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift ;;
    --out=*) out_file=${1#*=} ;;
    --out) out_file=${2:?--out needs a file}; shift ;;
    --keep) keep=(--keep) ;;
    -h|--help) sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-diagnosis: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$soak" in 0|[0-9]*[smh]) ;; *) echo "bench-diagnosis: --soak must be a duration (30m, 90s) or 0" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "bench-diagnosis: needs root (the demo's namespaces)" >&2; exit 1; }

if [ "$fast" = 1 ]; then
  demo_opts=(--scrape-interval 2s --eval-interval 2s --alert-for 10s --check-window 20s --lldp-interval 2)
  stale_after=2m  # the rules' staleness limit (rtmon-dashboards' default)
else
  demo_opts=(--scrape-interval 15s --eval-interval 30s --alert-for 2m --check-window 5m --lldp-interval 30)
  stale_after=2m
fi
if [ -z "$bin_dir" ]; then
  (cd "$root" && cargo build --profile fast --locked --bins -q)
  bin_dir=$root/target/fast
fi

work=$(mktemp -d /tmp/rtmon-bench-diag.XXXXXX)
runner=""
cleanup() {
  if [ -n "$runner" ]; then kill -TERM "$runner" 2>/dev/null || true; wait "$runner" 2>/dev/null || true; fi
  [ "${#keep[@]}" = 0 ] && rm -rf "$work"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_demo NAME [run-local options]: starts run-local.sh in the background and waits
# until its demo is healthy (status exit 0), 15 minutes at most.
start_demo() {
  local name=$1; shift
  "$root/scripts/run-local.sh" --bin-dir "$bin_dir" --out "$work/$name" --timeout 900 \
    "${demo_opts[@]}" "${keep[@]}" "$@" >"$work/$name.log" 2>&1 &
  runner=$!
  local deadline=$(( $(date +%s) + 900 ))
  until grep -q 'running; Ctrl-C stops everything' "$work/$name.log" 2>/dev/null; do
    kill -0 "$runner" 2>/dev/null || { tail -30 "$work/$name.log" >&2; echo "bench-diagnosis: the demo exited" >&2; exit 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { tail -30 "$work/$name.log" >&2; echo "bench-diagnosis: the demo did not start" >&2; exit 1; }
    sleep 2
  done
  grep -q '\[run-local\] status: healthy' "$work/$name.log" || {
    sed -n '/rtmon-dashboards status/,$p' "$work/$name.log" >&2
    echo "bench-diagnosis: the demo never became healthy" >&2; exit 1; }
}
stop_demo() {
  local n
  n=$(grep -c ' exited: starting it again' "$work/$1.log" || true)
  if [ "$n" != 0 ]; then
    echo "[bench-diagnosis] warning: $n demo processes died and were restarted during the $1 run:"
    grep ' exited: starting it again' "$work/$1.log" | sed 's/^/    /'
  fi
  kill -TERM "$runner" 2>/dev/null || true
  wait "$runner" 2>/dev/null || true
  runner=""
}

measure() { # OUT-DIR FAULT...: one result line per fault (JSON) on stdout
  local dir=$1; shift
  python3 "$root/scripts/bench/diagnosis.py" measure --env "$dir/demo.env" \
    --inject "$root/scripts/inject.sh" --stale-after "$stale_after" "$@"
}

results=$work/results.jsonl
: >"$results"
want=()
[ -z "$faults" ] || [ "$faults" = none ] || IFS=, read -r -a want <<<"$faults"
scrape_faults=()
push_faults=()
for f in "${want[@]+"${want[@]}"}"; do
  case "$f" in
    push-stale) push_faults+=("$f") ;;
    port-down|vlan|mtu|recable|loss|exporter|unreachable) scrape_faults+=("$f") ;;
    *) echo "bench-diagnosis: unknown fault '$f'" >&2; exit 2 ;;
  esac
done

echo "[bench-diagnosis] $(date -u +%FT%TZ) intervals: ${demo_opts[*]}; soak $soak"
if [ "${#scrape_faults[@]}" -gt 0 ] || [ "$soak" != 0 ]; then
  start_demo scrape
  echo "[bench-diagnosis] demo healthy; faults: ${scrape_faults[*]:-none}"
  [ "${#scrape_faults[@]}" = 0 ] || measure "$work/scrape" "${scrape_faults[@]}" | tee -a "$results"
  if [ "$soak" != 0 ]; then
    echo "[bench-diagnosis] soak $soak on the healthy demo"
    python3 "$root/scripts/bench/diagnosis.py" soak --env "$work/scrape/demo.env" --duration "$soak" \
      --stale-after "$stale_after" | tee -a "$results"
  fi
  stop_demo scrape
fi
if [ "${#push_faults[@]}" -gt 0 ]; then
  start_demo push --push
  echo "[bench-diagnosis] push-mode demo healthy"
  measure "$work/push" "${push_faults[@]}" | tee -a "$results"
  stop_demo push
fi
mkdir -p "$(dirname "$out_file")"
python3 "$root/scripts/bench/diagnosis.py" table --results "$results" \
  --intervals "${demo_opts[*]}" | tee "$out_file"
echo "[bench-diagnosis] table written to $out_file"

#!/usr/bin/env bash
# Benchmark: rtmon-ping-exporter probing N loopback addresses (127.1.0.0/16) at a 1 s
# interval for DUR seconds, side by side with two peers doing the same, one after the
# other, in a private network namespace (loopback only):
#   - smokeping_prober (Debian's prometheus-smokeping-prober), the peer for continuous
#     probing: the same targets in its own config file, 1 s interval, in both of its
#     modes (raw ICMP sockets with --privileged, and unprivileged ICMP datagram sockets);
#   - blackbox_exporter through /probe?module=icmp, driven by a Prometheus scraping every
#     target every 1 s (the only way blackbox probes continuously).
# Per exporter: CPU % of one core, RSS, requests sent vs replies counted (false loss: the
# targets all answer, so every missing reply is the prober's), one /metrics scrape's size
# and time; then the ratios peer / rtmon.
# Target for rtmon: <= 5 % of one core and <= 30 MB RSS for 1,000 targets; at 10,000
# targets (N=10000) keep ~10 % of a core, ~30 MB and no false loss.
#
# Usage (root): scripts/bench-ping.sh                  # N=1000 DUR=60, both peers
#               N=10000 DUR=30 scripts/bench-ping.sh   # blackbox skipped above 2,000 targets
#               PEERS="smokeping" N=200 DUR=20 scripts/bench-ping.sh
# NO_BUILD=1 skips the cargo build (uses target/release as is).
# Needs: iproute2, curl, prometheus, prometheus-blackbox-exporter,
#        prometheus-smokeping-prober (apt; scripts/install-test-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
DUR=${DUR:-60}
WARMUP=${WARMUP:-5}
if [ -z "${PEERS:-}" ]; then
  # blackbox needs a Prometheus scraping every target every second: past a few thousand
  # targets that is a benchmark of Prometheus, not of the prober.
  if [ "$N" -le 2000 ]; then PEERS="smokeping blackbox"; else PEERS="smokeping"; fi
fi
has_peer() { case " $PEERS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

need=(ip curl)
has_peer blackbox && need+=(prometheus prometheus-blackbox-exporter)
has_peer smokeping && need+=(prometheus-smokeping-prober)
for b in "${need[@]}"; do
  command -v "$b" >/dev/null || { echo "bench-ping: missing $b (scripts/install-test-deps.sh)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench-ping: needs root (network namespace)" >&2; exit 2; }

[ "${NO_BUILD:-0}" = 1 ] || cargo build --release -q -p rtmon-ping-exporter
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/rtmon-ping-exporter

work=$(mktemp -d)
ns=rtmon-bench-ping-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
inns() { ip netns exec "$ns" "$@"; }

# N addresses 127.1.x.y (all answered by the namespace's loopback).
{
  echo "targets:"
  echo "  - hosts:"
  for ((i = 0; i < N; i++)); do echo "      - 127.1.$((i / 250)).$((i % 250 + 1))"; done
} >"$work/targets.yml"

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# measure PID... -> prints "cpu_percent max_rss_mb" per pid, one line each, over DUR s.
measure() {
  local -a t0 max
  local i p
  i=0
  for p in "$@"; do t0[i]=$(ticks "$p"); max[i]=0; i=$((i + 1)); done
  local start end
  start=$(date +%s.%N)
  for ((s = 0; s < DUR; s++)); do
    sleep 1
    i=0
    for p in "$@"; do
      local r; r=$(rss_kb "$p"); [ "$r" -gt "${max[i]}" ] && max[i]=$r
      i=$((i + 1))
    done
  done
  end=$(date +%s.%N)
  i=0
  for p in "$@"; do
    local t1; t1=$(ticks "$p")
    awk -v a="${t0[i]}" -v b="$t1" -v hz="$hz" -v s="$start" -v e="$end" -v m="${max[i]}" \
      'BEGIN { printf "%.2f %.1f\n", (b - a) / hz / (e - s) * 100, m / 1024 }'
    i=$((i + 1))
  done
}

# wait_http URL [SECONDS=60]: returns 1 (saying so) if URL does not answer in time.
wait_http() {
  for _ in $(seq $((${2:-60} * 10))); do inns curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "bench-ping: $1 did not answer within ${2:-60} s; the exporters' logs:" >&2
  tail -n 5 "$work"/*.log >&2
  return 1
}

echo "== rtmon-ping-exporter: $N targets, 1 s interval, ${DUR} s"
ip netns exec "$ns" "$bin" --config.file "$work/targets.yml" --ping.interval=1s --ping.timeout=1s \
  --web.listen-address=127.0.0.1:19107 --log.level=warn >"$work/rtmon.log" 2>&1 &
rpid=$!; pids+=("$rpid")
wait_http http://127.0.0.1:19107/-/healthy || exit 1
sleep "$WARMUP"
read -r r_cpu r_rss < <(measure "$rpid")
r_hwm=$(awk -v k="$(hwm_kb "$rpid")" 'BEGIN { printf "%.1f", k / 1024 }')
scrape_t=$(inns curl -s -o "$work/rtmon.prom" -w '%{time_total}' http://127.0.0.1:19107/metrics)
r_up=$(grep -c '^rtmon_ping_up{.*} 1$' "$work/rtmon.prom" || true)
r_req=$(awk '/^rtmon_ping_requests_total\{/ {s += $NF} END {print s + 0}' "$work/rtmon.prom")
r_rep=$(awk '/^rtmon_ping_replies_total\{/ {s += $NF} END {print s + 0}' "$work/rtmon.prom")
r_series=$(grep -vc '^#' "$work/rtmon.prom")
r_bytes=$(wc -c <"$work/rtmon.prom")
# Targets that lost more than the one probe that may still be in flight at the scrape.
r_lossy=$(awk '/^rtmon_ping_requests_total\{/ {k = $1; sub(/^[^{]*/, "", k); q[k] = $NF}
               /^rtmon_ping_replies_total\{/  {k = $1; sub(/^[^{]*/, "", k); a[k] = $NF}
               END {n = 0; for (k in q) if (q[k] - a[k] > 1) n++; print n}' "$work/rtmon.prom")
kill "$rpid"; wait "$rpid" 2>/dev/null || true

# smokeping_prober in one of its two ICMP modes: "icmp" (raw sockets, --privileged, its
# README's example) or "udp" (unprivileged ICMP datagram sockets). Both are measured: a
# user picks the better one. Sets s_<mode>_{cpu,rss,req,rep,lossy,bytes,series,scrape_t}.
run_smokeping() {
  local mode=$1 priv=() spid
  [ "$mode" = icmp ] && priv=(--privileged)
  echo "== smokeping_prober ($mode): $N targets, 1 s interval, ${DUR} s"
  {
    echo "targets:"
    echo "  - interval: 1s"
    echo "    network: ip4"
    echo "    protocol: $mode"
    echo "    hosts:"
    for ((i = 0; i < N; i++)); do echo "      - 127.1.$((i / 250)).$((i % 250 + 1))"; done
  } >"$work/smokeping-$mode.yml"
  ip netns exec "$ns" prometheus-smokeping-prober --config.file "$work/smokeping-$mode.yml" "${priv[@]}" \
    --web.listen-address=127.0.0.1:19374 --log.level=warn >"$work/smokeping-$mode.log" 2>&1 &
  spid=$!; pids+=("$spid")
  # smokeping_prober sets up every target before it listens: give it up to 180 s, and
  # report a prober that is not serving by then instead of measuring it.
  if ! wait_http http://127.0.0.1:19374/metrics 180; then
    printf -v "s_${mode}_up" '%s' 0
    kill "$spid"; wait "$spid" 2>/dev/null || true
    return 0
  fi
  printf -v "s_${mode}_up" '%s' 1
  sleep "$WARMUP"
  local cpu rss prom=$work/smokeping-$mode.prom
  read -r cpu rss < <(measure "$spid")
  printf -v "s_${mode}_cpu" '%s' "$cpu"
  printf -v "s_${mode}_rss" '%s' "$rss"
  printf -v "s_${mode}_scrape_t" '%s' "$(inns curl -s -o "$prom" -w '%{time_total}' http://127.0.0.1:19374/metrics)"
  printf -v "s_${mode}_req" '%s' "$(awk '/^smokeping_requests_total\{/ {s += $NF} END {printf "%d", s + 0}' "$prom")"
  printf -v "s_${mode}_rep" '%s' "$(awk '/^smokeping_response_duration_seconds_count\{/ {s += $NF} END {printf "%d", s + 0}' "$prom")"
  printf -v "s_${mode}_series" '%s' "$(grep -vc '^#' "$prom")"
  printf -v "s_${mode}_bytes" '%s' "$(wc -c <"$prom")"
  printf -v "s_${mode}_lossy" '%s' "$(awk '/^smokeping_requests_total\{/ {k = $1; sub(/^[^{]*/, "", k); q[k] = $NF}
                 /^smokeping_response_duration_seconds_count\{/ {k = $1; sub(/^[^{]*/, "", k); a[k] = $NF}
                 END {n = 0; for (k in q) if (q[k] - a[k] > 1) n++; print n}' "$prom")"
  kill "$spid"; wait "$spid" 2>/dev/null || true
}
if has_peer smokeping; then
  run_smokeping icmp
  run_smokeping udp
fi

if has_peer blackbox; then
echo "== blackbox_exporter via Prometheus: $N /probe per second, ${DUR} s"
cat >"$work/blackbox.yml" <<'EOF'
modules:
  icmp:
    prober: icmp
    timeout: 1s
    icmp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
EOF
{
  echo "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1m}"
  echo "scrape_configs:"
  echo "  - job_name: blackbox_icmp"
  echo "    metrics_path: /probe"
  echo "    params: {module: [icmp]}"
  echo "    static_configs:"
  echo "      - targets:"
  for ((i = 0; i < N; i++)); do echo "          - 127.1.$((i / 250)).$((i % 250 + 1))"; done
  echo "    relabel_configs:"
  echo "      - {source_labels: [__address__], target_label: __param_target}"
  echo "      - {source_labels: [__param_target], target_label: instance}"
  echo "      - {target_label: __address__, replacement: '127.0.0.1:19115'}"
} >"$work/prometheus.yml"
ip netns exec "$ns" prometheus-blackbox-exporter --config.file "$work/blackbox.yml" \
  --web.listen-address=127.0.0.1:19115 --log.level=warn >"$work/bbx.log" 2>&1 &
bpid=$!; pids+=("$bpid")
wait_http "http://127.0.0.1:19115/probe?module=icmp&target=127.0.0.1" || exit 1
ip netns exec "$ns" prometheus --config.file "$work/prometheus.yml" --storage.tsdb.path "$work/tsdb" \
  --web.listen-address=127.0.0.1:19090 --log.level=warn >"$work/prom.log" 2>&1 &
ppid=$!; pids+=("$ppid")
wait_http http://127.0.0.1:19090/-/ready || exit 1
sleep "$WARMUP"
{ read -r b_cpu b_rss; read -r p_cpu p_rss; } < <(measure "$bpid" "$ppid")
b_ok=$(inns curl -s http://127.0.0.1:19090/api/v1/query --data-urlencode 'query=count(probe_success == 1)' |
  sed -n 's/.*"value":\[[^,]*,"\([0-9.]*\)".*/\1/p')
b_rate=$(inns curl -s http://127.0.0.1:19090/api/v1/query \
  --data-urlencode "query=sum(count_over_time(up{job=\"blackbox_icmp\"}[30s])) / 30 / $N" |
  sed -n 's/.*"value":\[[^,]*,"\([0-9.]*\)".*/\1/p')
fi

loss() { awk -v q="$1" -v a="$2" 'BEGIN { if (q > 0) printf "%.1f %%", (q - a) / q * 100; else print "n/a" }'; }
echo
printf '%-34s %9s %8s %12s %12s %9s %12s %14s\n' "process ($N targets, 1 s)" "CPU %core" "RSS MB" \
  "requests" "replies" "lost" "lossy tgts" "/metrics"
printf '%-34s %9s %8s %12s %12s %9s %12s %14s\n' "rtmon-ping-exporter" "$r_cpu" "$r_rss" "$r_req" "$r_rep" \
  "$(loss "$r_req" "$r_rep")" "$r_lossy/$N" "$((r_bytes / 1024)) KiB ${scrape_t}s"
if has_peer smokeping; then
  for m in icmp udp; do
    v() { local n="s_${m}_$1"; printf '%s' "${!n}"; }
    if [ "$(v up)" != 1 ]; then
      printf '%-34s %s\n' "smokeping_prober ($m)" "not serving /metrics 180 s after start: not measured"
      continue
    fi
    printf '%-34s %9s %8s %12s %12s %9s %12s %14s\n' "smokeping_prober ($m)" "$(v cpu)" "$(v rss)" \
      "$(v req)" "$(v rep)" "$(loss "$(v req)" "$(v rep)")" "$(v lossy)/$N" "$(( $(v bytes) / 1024 )) KiB $(v scrape_t)s"
  done
fi
if has_peer blackbox; then
  printf '%-34s %9s %8s %12s %12s %9s %12s %14s\n' "blackbox_exporter (/probe)" "$b_cpu" "$b_rss" "-" "-" "-" \
    "$(awk -v n="$N" -v ok="${b_ok:-0}" 'BEGIN { printf "%d", n - ok }')/$N" "-"
  printf '%-34s %9s %8s\n' "  + prometheus driving the probes" "$p_cpu" "$p_rss"
fi
echo
if has_peer smokeping; then
  for m in icmp udp; do
    [ "$(v up)" = 1 ] || continue
    awk -v m="$m" -v rc="$r_cpu" -v rr="$r_rss" -v sc="$(v cpu)" -v sr="$(v rss)" 'BEGIN {
      printf "ratio smokeping_prober (%s) / rtmon:  CPU %.1fx   RSS %.1fx\n", m, sc / (rc > 0 ? rc : 0.01), sr / rr }'
  done
fi
if has_peer blackbox; then
  awk -v rc="$r_cpu" -v rr="$r_rss" -v bc="$b_cpu" -v br="$b_rss" -v pc="$p_cpu" 'BEGIN {
    printf "ratio blackbox / rtmon:                   CPU %.1fx   RSS %.1fx\n", bc / (rc > 0 ? rc : 0.01), br / rr
    printf "ratio (blackbox + prometheus) / rtmon:    CPU %.1fx\n", (bc + pc) / (rc > 0 ? rc : 0.01) }'
fi
echo
echo "rtmon: peak RSS (VmHWM) ${r_hwm} MB; targets up ${r_up}/${N}; one /metrics scrape: ${r_series} series"
has_peer smokeping && m=udp && [ "$(v up)" = 1 ] && echo "smokeping_prober: one /metrics scrape: $(v series) series"
has_peer blackbox && echo "blackbox: targets with probe_success 1: ${b_ok:-?}/${N}; probes per target per second (last 30 s): ${b_rate:-?}"
awk -v c="$r_cpu" -v r="$r_rss" -v n="$N" 'BEGIN {
  cmax = n > 2000 ? 12 : 5
  ok = (c <= cmax && r <= 30) ? "MET" : "NOT MET"
  printf "target for rtmon at %d targets (<= %d %% of a core, <= 30 MB): %s\n", n, cmax, ok }'

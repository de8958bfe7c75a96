#!/usr/bin/env bash
# bench-vm: Prometheus beside VictoriaMetrics + vmalert on the same N flows, in one run
# (issue 30) — what the central side costs with each backend.
#
#   scripts/bench-vm.sh                     # N = 1000
#   scripts/bench-vm.sh --flows "100 1000"  # other sizes
#   scripts/bench-vm.sh --cycles 6          # 30 s evaluation cycles measured (default 4)
#   scripts/bench-vm.sh --topology rules    # the topology as static vector() rules
#                                           # (default: scraped, as below)
#   RTMON=path/to/rtmon-dashboards scripts/bench-vm.sh
#
# The data is bench-rules.sh's (its gen() and serve() are read from that script, so the
# two benchmarks measure the same flows): N flows of a research network's shape, their
# series and ordinary noise, served as exposition files with counters that move with the
# clock (healthy: every check should be 1). The flows' topology is scraped by default
# (`rtmon-dashboards rules --topology scrape` + `rtmon-dashboards topology`, served
# beside the data, as bench-rules.sh's `scraped` layout): as static `vector()` rules
# (`--topology rules`) vmalert sends one query per row each cycle — 87,000 at 1,000
# flows, which it could not even load in 12 minutes. Side by side, at the same time,
# on the same data server:
#   Prometheus      scrapes every 15 s, evaluates the rules every 30 s;
#   VictoriaMetrics vmagent scrapes the same targets every 15 s and remote-writes them;
#                   vmalert evaluates the same rules file every 30 s against it and
#                   writes the results back (both notify one Alertmanager that drops all).
# Printed per N: series, samples/s ingested, how long each takes to load the rules
# (Prometheus: start to ready, rules loaded at start; vmalert: start to /health, after
# it has parsed and validated every rule), the sum of the rule groups' evaluation
# time (Prometheus: prometheus_rule_group_last_duration_seconds; vmalert: the mean
# iteration of each group, vmalert_iteration_duration_seconds), missed iterations,
# failed evaluations (vmalert: and rows its remote write dropped; it runs with a queue
# of 1,000,000 rows, 10 × its default, for the ~10^5 records a cycle of 1,000 flows
# writes), CPU per 30 s cycle and RSS of each process, how many checks read 0 on each side at the end of the measured cycles
# (false alarms: the data is healthy), and how long after its rules started each side
# first had every check at 1. The measured cycles start only then (or after
# --settle-max seconds, default 900): under vmalert a recorded result is seen by the
# rules that read it only on a later evaluation (remote write, then VictoriaMetrics'
# -search.latencyOffset, 30 s), so the layers of rules (topology → normalised data →
# checks → MTU's host and port records → the MTU check) fill one cycle after another
# once vmalert starts, and until then the rows they feed read 0. Both sides share this
# machine's cores: compare them as ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

flows_list="1000"
cycles=4
topology=scrape
settle_max=900
while [ $# -gt 0 ]; do
  case "$1" in
    --flows) flows_list=$2; shift 2 ;;
    --flows=*) flows_list=${1#*=}; shift ;;
    --cycles) cycles=$2; shift 2 ;;
    --cycles=*) cycles=${1#*=}; shift ;;
    --topology) topology=$2; shift 2 ;;
    --topology=*) topology=${1#*=}; shift ;;
    --settle-max) settle_max=$2; shift 2 ;;
    --settle-max=*) settle_max=${1#*=}; shift ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "bench-vm: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$cycles" in ''|*[!0-9]*) echo "bench-vm: --cycles needs a whole number" >&2; exit 2 ;; esac
case "$settle_max" in ''|*[!0-9]*) echo "bench-vm: --settle-max needs a whole number of seconds" >&2; exit 2 ;; esac
case "$topology" in scrape|rules) ;; *) echo "bench-vm: --topology is scrape or rules" >&2; exit 2 ;; esac

for b in prometheus victoria-metrics vmagent vmalert prometheus-alertmanager; do
  command -v "$b" >/dev/null || { echo "bench-vm: needs $b (scripts/install-test-deps.sh)" >&2; exit 1; }
done
if [ -z "${RTMON:-}" ]; then
  cargo build --release -q -p rtmon-dashboards
  RTMON=${CARGO_TARGET_DIR:-target}/release/rtmon-dashboards
fi

# bench-rules.sh's generator and data server, as that script defines them.
eval "$(sed -n '/^gen() {$/,/^}$/p; /^serve() {$/,/^}$/p' scripts/bench-rules.sh)"
declare -F gen >/dev/null && declare -F serve >/dev/null ||
  { echo "bench-vm: cannot read gen()/serve() from scripts/bench-rules.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/rtmon-bench-vm.XXXXXX)
pids=()
srv_pid=""
cleanup() {
  for p in "${pids[@]}" $srv_pid; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}" $srv_pid; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
query() { # query PORT EXPR: the first value of an instant query, 0 if none, ? on error (said)
  local body
  if ! body=$(curl -sS -m 120 --data-urlencode "query=$2" "http://127.0.0.1:$1/api/v1/query" 2>&1); then
    echo "bench-vm: query on :$1 failed: $2: $body" >&2; echo "?"; return 0
  fi
  printf '%s' "$body" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)' 2>/dev/null ||
    { echo "bench-vm: query on :$1: $2: ${body:0:300}" >&2; echo "?"; }
}
metrics() { curl -sf "http://127.0.0.1:$1/metrics"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_mb() { awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$1/status"; }
ready() { # ready PORT PATH [SECONDS]: wait (default 60 s) for HTTP 200
  local end=$((SECONDS + ${3:-60}))
  until curl -sf -m 5 "http://127.0.0.1:$1$2" >/dev/null; do
    [ $SECONDS -lt $end ] || { echo "bench-vm: nothing ready on 127.0.0.1:$1$2" >&2; return 1; }
    sleep 0.2
  done
}

run() { # run N
  local n=$1 d="$work/n$1" files
  files=$(gen "$n" "$d")
  "$RTMON" rules "$d"/flows/*.yml --topology "$topology" --eval-interval 30s --out "$d/rules.yml" >/dev/null
  local targets=$files
  if [ "$topology" = scrape ]; then
    "$RTMON" topology "$d"/flows/*.yml --out "$d/data/topology.txt" >/dev/null
    targets=$((files + 1))
  fi
  local sport; sport=$(free_port); serve "$d/data" "$sport"
  local scrape="$d/scrape.yml"
  {
    printf 'global: {scrape_interval: 15s, scrape_timeout: 14s}\nscrape_configs:\n  - job_name: bench\n    honor_labels: true\n    static_configs:\n'
    for ((i = 0; i < files; i++)); do
      printf '      - targets: ["127.0.0.1:%s"]\n        labels: {__metrics_path__: "/f%04d.txt", shard: "%04d"}\n' "$sport" "$i" "$i"
    done
    if [ "$topology" = scrape ]; then
      printf '      - targets: ["127.0.0.1:%s"]\n        labels: {__metrics_path__: "/topology.txt", shard: "topology"}\n' "$sport"
    fi
  } > "$scrape"

  # One Alertmanager that keeps the alerts and tells nobody.
  local aport; aport=$(free_port)
  printf 'route: {receiver: sink}\nreceivers: [{name: sink}]\n' > "$d/am.yml"
  prometheus-alertmanager --config.file="$d/am.yml" --storage.path="$d/am" \
    --web.listen-address="127.0.0.1:$aport" --cluster.listen-address= --log.level=warn > "$d/am.log" 2>&1 &
  pids+=($!)

  # Prometheus: scrapes and evaluates.
  local pport; pport=$(free_port)
  mkdir -p "$d/prom"
  {
    printf 'global: {scrape_interval: 15s, scrape_timeout: 14s, evaluation_interval: 30s}\n'
    printf 'rule_files: [%s/rules.yml]\n' "$d"
    printf 'alerting: {alertmanagers: [{static_configs: [{targets: ["127.0.0.1:%s"]}]}]}\n' "$aport"
    sed -n '/^scrape_configs:/,$p' "$scrape"
  } > "$d/prom/prometheus.yml"
  prometheus --config.file="$d/prom/prometheus.yml" --storage.tsdb.path="$d/prom/tsdb" \
    --web.listen-address="127.0.0.1:$pport" --log.level=warn > "$d/prom/log" 2>&1 &
  local prom_pid=$!; pids+=("$prom_pid")
  local p0s=$SECONDS

  # VictoriaMetrics, vmagent, vmalert.
  local vport gport lport
  vport=$(free_port); gport=$(free_port); lport=$(free_port)
  victoria-metrics -httpListenAddr="127.0.0.1:$vport" -storageDataPath="$d/vm" -retentionPeriod=1d \
    -loggerLevel=WARN > "$d/vm.log" 2>&1 &
  local vm_pid=$!; pids+=("$vm_pid")
  ready "$vport" /health
  # The scraped topology of 1,000 flows is ~20 MB of text: above vmagent's 16 MiB default.
  vmagent -httpListenAddr="127.0.0.1:$gport" -promscrape.config="$scrape" -promscrape.maxScrapeSize=256MiB \
    -remoteWrite.url="http://127.0.0.1:$vport/api/v1/write" -remoteWrite.tmpDataPath="$d/vmagent" \
    -loggerLevel=WARN > "$d/vmagent.log" 2>&1 &
  local agent_pid=$!; pids+=("$agent_pid")
  ready "$pport" /-/ready 1800
  local pload=$((SECONDS - p0s))
  ready "$gport" /health

  # Two scrapes of every target on both sides before the rules start (bounded: 5 min).
  local waited=0
  until [ "$(query "$pport" "count(up{job=\"bench\"} == 1)" 2>/dev/null || echo 0)" = "$targets" ] &&
        [ "$(query "$vport" "count(up{job=\"bench\"} == 1)" 2>/dev/null || echo 0)" = "$targets" ]; do
    sleep 2; waited=$((waited + 2))
    [ $waited -lt 300 ] || { echo "bench-vm: targets not up after 300 s (N=$n)" >&2; return 1; }
  done
  sleep 16
  vmalert -httpListenAddr="127.0.0.1:$lport" -rule="$d/rules.yml" -evaluationInterval=30s \
    -datasource.url="http://127.0.0.1:$vport" -remoteWrite.url="http://127.0.0.1:$vport" \
    -remoteRead.url="http://127.0.0.1:$vport" -notifier.url="http://127.0.0.1:$aport" \
    -remoteWrite.maxQueueSize=1000000 -loggerLevel=WARN > "$d/vmalert.log" 2>&1 &
  local alert_pid=$!; pids+=("$alert_pid")
  # vmalert parses and validates every rule before it listens: its load time.
  local l0=$SECONDS
  ready "$lport" /health 1800
  local vload=$((SECONDS - l0))

  # Settle: until every row of the topology has its check and none reads 0, on both
  # sides (each side timed from the start of its rules); at least 45 s (the check
  # window's first samples), at most --settle-max. Then measure `cycles` cycles.
  local settled psettle="not within ${settle_max} s" vsettle="not within ${settle_max} s"
  all_one() { # all_one PORT: every topology row has its check, none at 0
    local rows ok zero
    rows=$(query "$1" 'count(rtmon:flow_check:info)' 2>/dev/null || echo x)
    ok=$(query "$1" 'count(rtmon:flow_check:ok)' 2>/dev/null || echo y)
    zero=$(query "$1" 'count(rtmon:flow_check:ok == 0) or vector(0)' 2>/dev/null || echo z)
    [ "$rows" != 0 ] && [ "$rows" = "$ok" ] && [ "$zero" = 0 ]
  }
  while :; do
    settled=1
    if [ "${psettle#not}" != "$psettle" ]; then
      if all_one "$pport"; then psettle="$((SECONDS - p0s)) s"; else settled=0; fi
    fi
    if [ "${vsettle#not}" != "$vsettle" ]; then
      if all_one "$vport"; then vsettle="$((SECONDS - l0)) s"; else settled=0; fi
    fi
    [ $settled = 1 ] && [ $((SECONDS - l0)) -ge $((vload + 45)) ] && break
    [ $((SECONDS - l0)) -lt $((vload + settle_max)) ] || break
    sleep 5
  done
  local hz; hz=$(getconf CLK_TCK)
  local p0 v0 a0 g0 ps0 vs0
  p0=$(cpu_ticks "$prom_pid"); v0=$(cpu_ticks "$vm_pid"); a0=$(cpu_ticks "$alert_pid"); g0=$(cpu_ticks "$agent_pid")
  ps0=$(metrics "$pport" | awk '$1 ~ /^prometheus_tsdb_head_samples_appended_total/ {s += $NF} END {print s + 0}')
  vs0=$(metrics "$vport" | awk '$1 ~ /^vm_rows_inserted_total/ {s += $NF} END {print s + 0}')
  sleep $((cycles * 30))
  local p1 v1 a1 g1 ps1 vs1
  p1=$(cpu_ticks "$prom_pid"); v1=$(cpu_ticks "$vm_pid"); a1=$(cpu_ticks "$alert_pid"); g1=$(cpu_ticks "$agent_pid")
  ps1=$(metrics "$pport" | awk '$1 ~ /^prometheus_tsdb_head_samples_appended_total/ {s += $NF} END {print s + 0}')
  vs1=$(metrics "$vport" | awk '$1 ~ /^vm_rows_inserted_total/ {s += $NF} END {print s + 0}')
  local secs=$((cycles * 30))
  per_cycle() { python3 -c "print(f'{($2 - $1) / $hz / $cycles:.1f}')"; }
  local pcpu vcpu acpu gcpu
  pcpu=$(per_cycle "$p0" "$p1"); vcpu=$(per_cycle "$v0" "$v1"); acpu=$(per_cycle "$a0" "$a1"); gcpu=$(per_cycle "$g0" "$g1")
  local peval veval pser vser prate vrate pfail vfail
  peval=$(metrics "$pport" | awk '$1 ~ /^prometheus_rule_group_last_duration_seconds/ {s += $NF} END {printf "%.2f", s}')
  local pmiss vmiss
  pmiss=$(metrics "$pport" | awk '$1 ~ /^prometheus_rule_group_iterations_missed_total/ {s += $NF} END {print s + 0}')
  vmiss=$(metrics "$lport" | awk '$1 ~ /^vmalert_iteration_missed_total/ {s += $NF} END {print s + 0}')
  # Failed evaluations since the start (vmalert 1.79: execution errors; and the rows its
  # remote write dropped, which the store never sees).
  local pfailed vfailed
  pfailed=$(metrics "$pport" | awk '$1 ~ /^prometheus_rule_evaluation_failures_total/ {s += $NF} END {print s + 0}')
  vfailed=$(metrics "$lport" | awk '$1 ~ /^vmalert_execution_errors_total/ {e += $NF} $1 ~ /^vmalert_remotewrite_dropped_rows_total/ {d += $NF} END {printf "%d (%d rows dropped)", e, d}')
  # vmalert 1.79: a summary per group; the mean iteration of each group, summed.
  local vgroups
  # (its labels are written with ", ": the value is the last field)
  vgroups=$(metrics "$lport" | awk '$1 ~ /^vmalert_iteration_duration_seconds_count/ {g++} END {print g + 0}')
  veval=$(metrics "$lport" | awk -v g="$vgroups" '$1 ~ /^vmalert_iteration_duration_seconds_sum/ {s += $NF} $1 ~ /^vmalert_iteration_duration_seconds_count/ {c += $NF} END {if (c > 0 && g > 0) printf "%.2f", s / (c / g); else print "?"}')
  pser=$(metrics "$pport" | awk '$1 == "prometheus_tsdb_head_series" {print $2}')
  # (not count({__name__!=""}): from ~300,000 series VictoriaMetrics refuses to select them all)
  vser=$(curl -sS -m 120 "http://127.0.0.1:$vport/api/v1/series/count" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0])' 2>/dev/null || echo "?")
  prate=$(python3 -c "print(int(($ps1 - $ps0) / $secs))")
  vrate=$(python3 -c "print(int(($vs1 - $vs0) / $secs))")
  pfail=$(query "$pport" 'count(rtmon:flow_check:ok == 0) or vector(0)')
  vfail=$(query "$vport" 'count(rtmon:flow_check:ok == 0) or vector(0)')
  local pchecks vchecks
  pchecks=$(query "$pport" 'count(rtmon:flow_check:ok)')
  vchecks=$(query "$vport" 'count(rtmon:flow_check:ok)')
  printf '| %s | Prometheus %s | %s | %s/s | ≤ %s s | %s s | %s | %s | %s s | %s MB | — | %s of %s | %s |\n' \
    "$n" "$(prometheus --version 2>&1 | awk 'NR == 1 {print $3}')" "$pser" "$prate" "$pload" "$peval" "$pmiss" "$pfailed" "$pcpu" "$(rss_mb "$prom_pid")" "$pfail" "$pchecks" "$psettle"
  printf '| %s | VictoriaMetrics + vmalert %s | %s | %s/s | %s s | %s s | %s | %s | %s + %s s | %s + %s MB | vmagent %s s, %s MB | %s of %s | %s |\n' \
    "$n" "$(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null || echo '?')" "$vser" "$vrate" "$vload" "$veval" "$vmiss" "$vfailed" "$vcpu" "$acpu" \
    "$(rss_mb "$vm_pid")" "$(rss_mb "$alert_pid")" "$gcpu" "$(rss_mb "$agent_pid")" "$vfail" "$vchecks" "$vsettle"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
  kill "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; srv_pid=""
  rm -rf "$d"
}

echo "rtmon bench-vm: $(nproc) cores, $cycles cycles of 30 s measured per run; both backends at once on the same data; topology: $topology"
echo
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo '| flows | backend | series | samples in | rules loaded in | rule evaluation (sum of groups) | missed iterations | failed evaluations | CPU per 30 s | RSS | scraper | checks at 0 | every check 1 after |'
echo '|---|---|---|---|---|---|---|---|---|---|---|---|---|'
for n in $flows_list; do
  run "$n"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# Injects a fault into the running demo of scripts/run-local.sh (as root), or heals it.
#
#   scripts/inject.sh [--out DIR] --inject FAULT     (also: scripts/run-local.sh --out DIR --inject FAULT)
#   scripts/inject.sh [--out DIR] --heal FAULT
#   scripts/inject.sh --list                         the faults, what each does and what should name it
#
# --out is run-local.sh's output directory (default out/local): its demo.env says where the
# demo's namespaces, processes and URLs are. Every fault is real on the demo's data plane
# or management plane, and --heal undoes exactly it:
#
#   port-down     the switch's out port (hundredGigE 1/31) administratively down
#                 (the host behind it loses its link too, as with a real switch)
#   vlan          the flow's VLAN removed from the out port (its frames are no longer forwarded)
#   mtu           the out port's MTU lowered from 9216 to 1500 (hosts use 9000)
#   recable       host B re-cabled for real: its cable moved from the out port to the spare port
#                 beside it (hundredGigE 1/32), whose stranger device gets the out port: the
#                 demo's patch panel (config_flow/local/patch-panel.sh) re-patches the two cables,
#                 their links going down for a second as when cables are pulled and plugged. The
#                 switch learns B's MAC on 1/32 and LLDP on B hears 1/32; nothing is renamed
#   loss          20 % of the frames the switch forwards from the in port to the out port dropped
#                 (nftables, in the switch; the other direction untouched)
#   exporter      host B's node exporter stopped (killed and held: run-local.sh restarts it on --heal)
#   unreachable   the switch's management link down: SNMP gets no answer
#   push-stale    push mode only (run-local.sh --push): host B's management link down, so its
#                 exporters cannot push and its groups in the Pushgateway go stale
#
# Exit 0 done, 1 failed (a message says why), 2 bad usage.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out_dir="$root/out/local"
action=""
fault=""
FAULTS="port-down vlan mtu recable loss exporter unreachable push-stale"

usage() { sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out_dir=${2:?--out needs a directory}; shift ;;
    --out=*) out_dir=${1#*=} ;;
    --inject|--heal) action=${1#--}; fault=${2:-}; [ $# -ge 2 ] && shift ;;
    --inject=*|--heal=*) action=${1%%=*}; action=${action#--}; fault=${1#*=} ;;
    --list) usage | sed -n '/^  port-down/,/^$/p'; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "inject: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$action" ] || { echo "inject: say --inject FAULT or --heal FAULT (faults: $FAULTS)" >&2; exit 2; }
case " $FAULTS " in
  *" $fault "*) ;;
  *) echo "inject: unknown fault '$fault'; one of: $FAULTS" >&2; exit 2 ;;
esac

die() { printf '[inject] error: %s\n' "$*" >&2; exit 1; }
log() { printf '[inject] %s\n' "$*"; }

[ "$(id -u)" = 0 ] || die "faults change namespaces and links: run as root"
env_file="$out_dir/demo.env"
[ -f "$env_file" ] || die "$env_file not found: is scripts/run-local.sh running with --out $out_dir?"
# demo.env: KEY=value lines written by run-local.sh (printf %q); read them as data.
declare -A E=()
while IFS= read -r line; do
  case "$line" in
    [A-Za-z_]*=*) k=${line%%=*}; v=${line#*=}; eval "E[$k]=$v" ;;
  esac
done <"$env_file"
[ "${E[mode]:-}" = netns ] || die "the demo runs in ${E[mode]:-unknown} mode: faults need the root (netns) demo"
kill -0 "${E[runner_pid]}" 2>/dev/null || die "run-local.sh (pid ${E[runner_pid]}) is not running"

in_s=(ip netns exec "${E[ns_s]}")
panel=$root/config_flow/local/patch-panel.sh
jack_out=j${E[OUT_N]}
jack_spare=j${E[SPARE_N]}
# repatch JACK-FOR-B JACK-FOR-STRANGER: both cables pulled (the host's and the switch
# ports' links go down, as they do: lldpd and the bridge forget what they heard and
# learned there), patched to their new jacks, plugged in again a second later.
repatch() {
  local d
  for d in cable-b cable-x "$jack_out" "$jack_spare"; do ip -n "${E[ns_p]}" link set "$d" down; done
  "$panel" "${E[ns_p]}" cable-b "$1"
  "$panel" "${E[ns_p]}" cable-x "$2"
  sleep 1
  for d in cable-b cable-x "$jack_out" "$jack_spare"; do ip -n "${E[ns_p]}" link set "$d" up; done
}

where="port ${E[OUT_PORT]} of ${E[SW_NAME]}"
case "$action:$fault" in
  # The port down: the host behind it loses its link too (the panel does not pass the
  # carrier on, so its end of the cable goes down with the port, as on a real switch).
  inject:port-down)
    ip -n "${E[ns_s]}" link set "${E[P_OUT]}" down
    ip -n "${E[ns_p]}" link set cable-b down ;;
  heal:port-down)
    ip -n "${E[ns_s]}" link set "${E[P_OUT]}" up
    ip -n "${E[ns_p]}" link set cable-b up ;;
  inject:vlan)
    "${in_s[@]}" nft delete element bridge rtmon_demo "vlan${E[VLAN]}" "{ \"${E[P_OUT]}\" }" \
      || die "VLAN ${E[VLAN]} is not on $where (already injected?)" ;;
  heal:vlan) "${in_s[@]}" nft add element bridge rtmon_demo "vlan${E[VLAN]}" "{ \"${E[P_OUT]}\" }" ;;
  inject:mtu) ip -n "${E[ns_s]}" link set "${E[P_OUT]}" mtu 1500 ;;
  heal:mtu) ip -n "${E[ns_s]}" link set "${E[P_OUT]}" mtu 9216 ;;
  inject:recable)
    [ "$("$panel" "${E[ns_p]}" --jack-of cable-b)" = "$jack_out" ] \
      || die "host ${E[B_NAME]} is already re-cabled"
    repatch "$jack_spare" "$jack_out" ;;
  heal:recable)
    [ "$("$panel" "${E[ns_p]}" --jack-of cable-b)" = "$jack_out" ] || repatch "$jack_out" "$jack_spare" ;;
  inject:loss)
    "${in_s[@]}" nft -f - <<EOF || die "nft failed"
table bridge rtmon_fault {
  chain loss {
    type filter hook forward priority 10; policy accept;
    iifname "${E[P_IN]}" oifname "${E[P_OUT]}" numgen random mod 100 < 20 drop
  }
}
EOF
    ;;
  heal:loss) "${in_s[@]}" nft delete table bridge rtmon_fault 2>/dev/null || true ;;
  inject:exporter)
    touch "${E[work]}/hold/node-b"
    pid=$(cat "${E[work]}/hold/node-b.pid")
    kill -TERM "$pid" 2>/dev/null || true ;;
  heal:exporter) rm -f "${E[work]}/hold/node-b" ;;  # run-local.sh starts it within a second
  inject:unreachable) ip link set "${E[link_s]}" down ;;
  heal:unreachable) ip link set "${E[link_s]}" up ;;
  inject:push-stale|heal:push-stale)
    [ "${E[MODE]}" = push ] || die "push-stale needs the demo in push mode (scripts/run-local.sh --push)"
    if [ "$action" = inject ]; then ip link set "${E[link_b]}" down; else ip link set "${E[link_b]}" up; fi ;;
esac

status_cmd="${E[DASH]} status ${E[FLOW]} --prometheus http://${E[PROM]} --mode ${E[MODE]} --check-window ${E[check_window]}"
log "$action $fault: done"
log "look at:  $status_cmd"
log "          http://${E[PROM]}/alerts   (rule evaluation every ${E[eval_interval]}, alerts after ${E[alert_for]})"
[ -n "${E[AM]}" ] && log "          http://${E[AM]}/#/alerts   (Alertmanager: one notification per cause)"
log "          ${E[DASHBOARD]} in Grafana, or: ${E[DASH]} preview --dashboard ${E[DASHBOARD]} --prometheus http://${E[PROM]}"
exit 0

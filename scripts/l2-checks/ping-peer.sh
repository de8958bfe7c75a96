#!/bin/sh
# Layer-2/3 check: is the peer reachable by ping from this host?
# Reads rtmon-ping-exporter's rtmon_ping_up{target}.
#
# Usage: ping-peer.sh --ping URL --peer IP
#   --ping URL  base URL of rtmon-ping-exporter (e.g. http://127.0.0.1:9107)
#   --peer IP   the flow peer's IP address (a configured ping target)
# Prints:
#   rtmon_l2_ping_peer_up{peer}      1 up, 0 down
#   rtmon_l2_ping_peer_probed{peer}  0 if the exporter does not ping this peer at all
#   rtmon_l2_source_up{source}       0 if the exporter could not be read (exit 1)
set -u
. "$(dirname "$0")/lib.sh"

ping="" peer=""
while [ $# -gt 0 ]; do
    case $1 in
        --ping) [ $# -ge 2 ] || l2_usage_error "--ping needs a value"; ping=$2; shift 2 ;;
        --peer) [ $# -ge 2 ] || l2_usage_error "--peer needs a value"; peer=$2; shift 2 ;;
        *) l2_usage_error "unknown argument: $1" ;;
    esac
done
[ -n "$ping" ] || l2_usage_error "--ping URL is required"
[ -n "$peer" ] || l2_usage_error "--peer IP is required"

url="$(l2_base "$ping")/metrics"
if ! body=$(l2_fetch "$url"); then
    l2_source_up "$url" 0
    exit 1
fi
l2_source_up "$url" 1
v=$(printf '%s\n' "$body" | l2_select rtmon_ping_up target="$peer" | awk -F '\t' 'NR == 1 { print $1 }')
probed=1
if [ -z "$v" ]; then probed=0; v=0; fi
up=$(awk -v v="$v" 'BEGIN { print (v + 0 == 1) ? 1 : 0 }')
labels="peer=\"$(l2_label_escape "$peer")\""
l2_help rtmon_l2_ping_peer_up gauge "1 if the peer answers ping from this host."
echo "rtmon_l2_ping_peer_up{$labels} $up"
l2_help rtmon_l2_ping_peer_probed gauge "1 if the ping exporter has this peer as a target."
echo "rtmon_l2_ping_peer_probed{$labels} $probed"

#!/bin/sh
# Layer-2 check: is there an ARP (neighbour) entry for the peer on this host?
# Reads rtmon-arp-exporter's rtmon_arp_entry_info{ip,mac,device,state}.
#
# Usage: arp-peer.sh --arp URL --peer IP [--device DEV]
#   --arp URL     base URL of rtmon-arp-exporter (e.g. http://127.0.0.1:9105)
#   --peer IP     the flow peer's IP address
#   --device DEV  only entries on this interface (e.g. ens2f0np0.1000)
# Prints:
#   rtmon_l2_arp_entry_present{peer,device} 1 if an entry exists (any state)
#   rtmon_l2_arp_entry_usable{peer,device}  1 if an entry has a MAC and is not FAILED/INCOMPLETE
#   rtmon_l2_source_up{source}              0 if the exporter could not be read (exit 1)
set -u
. "$(dirname "$0")/lib.sh"

arp="" peer="" device=""
while [ $# -gt 0 ]; do
    case $1 in
        --arp) [ $# -ge 2 ] || l2_usage_error "--arp needs a value"; arp=$2; shift 2 ;;
        --peer) [ $# -ge 2 ] || l2_usage_error "--peer needs a value"; peer=$2; shift 2 ;;
        --device) [ $# -ge 2 ] || l2_usage_error "--device needs a value"; device=$2; shift 2 ;;
        *) l2_usage_error "unknown argument: $1" ;;
    esac
done
[ -n "$arp" ] || l2_usage_error "--arp URL is required"
[ -n "$peer" ] || l2_usage_error "--peer IP is required"

url="$(l2_base "$arp")/metrics"
if ! body=$(l2_fetch "$url"); then
    l2_source_up "$url" 0
    exit 1
fi
l2_source_up "$url" 1

if [ -n "$device" ]; then
    rows=$(printf '%s\n' "$body" | l2_select rtmon_arp_entry_info ip="$peer" device="$device")
else
    rows=$(printf '%s\n' "$body" | l2_select rtmon_arp_entry_info ip="$peer")
fi
present=0 usable=0
if [ -n "$rows" ]; then
    present=1
    usable=$(printf '%s\n' "$rows" | awk -F '\t' '
        { mac = ""; st = ""
          for (i = 2; i <= NF; i++) {
              if ($i ~ /^mac=/) mac = substr($i, 5)
              if ($i ~ /^state=/) st = tolower(substr($i, 7))
          }
          if (mac != "" && st != "failed" && st != "incomplete") u = 1 }
        END { print u + 0 }')
fi
labels="peer=\"$(l2_label_escape "$peer")\",device=\"$(l2_label_escape "$device")\""
l2_help rtmon_l2_arp_entry_present gauge "1 if this host has an ARP entry for the peer (any state)."
echo "rtmon_l2_arp_entry_present{$labels} $present"
l2_help rtmon_l2_arp_entry_usable gauge "1 if this host has a resolved ARP entry for the peer (not FAILED/INCOMPLETE)."
echo "rtmon_l2_arp_entry_usable{$labels} $usable"

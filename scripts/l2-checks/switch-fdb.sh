#!/bin/sh
# Layer-2 check: has the switch learned the host's MAC on the expected port (and VLAN)?
# Reads rtmon-snmp-exporter's bridge_fdb module:
#   rtmon_snmp_fdb_entry_info{mac,vlan,port,ifIndex,ifName,status}
#
# Usage: switch-fdb.sh --snmp URL --target SWITCH --mac MAC --port IFNAME [--vlan N] [--auth AUTH]
#   --snmp URL       base URL of rtmon-snmp-exporter (e.g. http://127.0.0.1:9116)
#   --target SWITCH  the switch's SNMP address (as in the flow file)
#   --auth AUTH      auth name in the SNMP exporter's config (default: exporter default)
#   --mac MAC        the host's MAC (any case, ':' or '-' separated)
#   --port IFNAME    the switch port (ifName) the host should be learned on
#   --vlan N         the VLAN it should be learned in
# Prints:
#   rtmon_l2_fdb_learned{switch,mac,port,vlan}  1 if learned there
#   rtmon_l2_fdb_seen{switch,mac}               1 if learned anywhere on the switch
#   rtmon_l2_source_up{source}                  0 if the exporter could not be read (exit 1)
set -u
. "$(dirname "$0")/lib.sh"

snmp="" target="" auth="" mac="" port="" vlan=""
while [ $# -gt 0 ]; do
    case $1 in
        --snmp) [ $# -ge 2 ] || l2_usage_error "--snmp needs a value"; snmp=$2; shift 2 ;;
        --target) [ $# -ge 2 ] || l2_usage_error "--target needs a value"; target=$2; shift 2 ;;
        --auth) [ $# -ge 2 ] || l2_usage_error "--auth needs a value"; auth=$2; shift 2 ;;
        --mac) [ $# -ge 2 ] || l2_usage_error "--mac needs a value"; mac=$2; shift 2 ;;
        --port) [ $# -ge 2 ] || l2_usage_error "--port needs a value"; port=$2; shift 2 ;;
        --vlan) [ $# -ge 2 ] || l2_usage_error "--vlan needs a value"; vlan=$2; shift 2 ;;
        *) l2_usage_error "unknown argument: $1" ;;
    esac
done
[ -n "$snmp" ] || l2_usage_error "--snmp URL is required"
[ -n "$target" ] || l2_usage_error "--target is required"
[ -n "$mac" ] || l2_usage_error "--mac is required"
[ -n "$port" ] || l2_usage_error "--port is required"
# The exporter writes MACs lower-case with ':'.
mac=$(printf '%s' "$mac" | tr 'A-F-' 'a-f:')

l2_check_target "$target"
url="$(l2_base "$snmp")/snmp?module=bridge_fdb&target=$target"
[ -n "$auth" ] && url="$url&auth=$auth"
if ! body=$(l2_fetch "$url"); then
    l2_source_up "$url" 0
    exit 1
fi
l2_source_up "$url" 1
seen=0 learned=0
[ -n "$(printf '%s\n' "$body" | l2_select rtmon_snmp_fdb_entry_info mac="$mac")" ] && seen=1
if [ -n "$vlan" ]; then
    rows=$(printf '%s\n' "$body" | l2_select rtmon_snmp_fdb_entry_info mac="$mac" ifName="$port" vlan="$vlan")
else
    rows=$(printf '%s\n' "$body" | l2_select rtmon_snmp_fdb_entry_info mac="$mac" ifName="$port")
fi
[ -n "$rows" ] && learned=1
e() { l2_label_escape "$1"; }
l2_help rtmon_l2_fdb_learned gauge "1 if the switch learned the MAC on the expected port (and VLAN)."
echo "rtmon_l2_fdb_learned{switch=\"$(e "$target")\",mac=\"$mac\",port=\"$(e "$port")\",vlan=\"$(e "$vlan")\"} $learned"
l2_help rtmon_l2_fdb_seen gauge "1 if the switch learned the MAC on any port."
echo "rtmon_l2_fdb_seen{switch=\"$(e "$target")\",mac=\"$mac\"} $seen"

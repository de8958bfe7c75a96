#!/bin/sh
# Layer-2 check: is the interface up?
#   host interface:  node_network_up{device} from rtmon-node-exporter
#   switch port:     ifOperStatus{ifName} (1 = up) from rtmon-snmp-exporter's if_mib
#
# Usage: interface-up.sh --node URL --device DEV
#        interface-up.sh --snmp URL --target SWITCH --port IFNAME [--auth AUTH]
# Prints:
#   rtmon_l2_interface_up{device}          (host) 1 up, 0 down or unknown
#   rtmon_l2_switch_port_up{switch,port}   (switch) 1 up, 0 down or unknown
#   rtmon_l2_source_up{source}             0 if the exporter could not be read (exit 1)
set -u
. "$(dirname "$0")/lib.sh"

node="" device="" snmp="" target="" port="" auth=""
while [ $# -gt 0 ]; do
    case $1 in
        --node) [ $# -ge 2 ] || l2_usage_error "--node needs a value"; node=$2; shift 2 ;;
        --device) [ $# -ge 2 ] || l2_usage_error "--device needs a value"; device=$2; shift 2 ;;
        --snmp) [ $# -ge 2 ] || l2_usage_error "--snmp needs a value"; snmp=$2; shift 2 ;;
        --target) [ $# -ge 2 ] || l2_usage_error "--target needs a value"; target=$2; shift 2 ;;
        --port) [ $# -ge 2 ] || l2_usage_error "--port needs a value"; port=$2; shift 2 ;;
        --auth) [ $# -ge 2 ] || l2_usage_error "--auth needs a value"; auth=$2; shift 2 ;;
        *) l2_usage_error "unknown argument: $1" ;;
    esac
done

first_value() { awk -F '\t' 'NR == 1 { print $1 }'; }
is_one() { awk -v v="$1" 'BEGIN { print (v != "" && v + 0 == 1) ? 1 : 0 }'; }

if [ -n "$node" ]; then
    [ -n "$device" ] || l2_usage_error "--device is required with --node"
    url="$(l2_base "$node")/metrics"
    if ! body=$(l2_fetch "$url"); then
        l2_source_up "$url" 0
        exit 1
    fi
    l2_source_up "$url" 1
    v=$(printf '%s\n' "$body" | l2_select node_network_up device="$device" | first_value)
    l2_help rtmon_l2_interface_up gauge "1 if the host interface is up (node_network_up)."
    echo "rtmon_l2_interface_up{device=\"$(l2_label_escape "$device")\"} $(is_one "$v")"
elif [ -n "$snmp" ]; then
    [ -n "$target" ] && [ -n "$port" ] || l2_usage_error "--target and --port are required with --snmp"
    l2_check_target "$target"
    url="$(l2_base "$snmp")/snmp?module=if_mib&target=$target"
    [ -n "$auth" ] && url="$url&auth=$auth"
    if ! body=$(l2_fetch "$url"); then
        l2_source_up "$url" 0
        exit 1
    fi
    l2_source_up "$url" 1
    v=$(printf '%s\n' "$body" | l2_select ifOperStatus ifName="$port" | first_value)
    l2_help rtmon_l2_switch_port_up gauge "1 if the switch port is oper up (ifOperStatus 1)."
    echo "rtmon_l2_switch_port_up{switch=\"$(l2_label_escape "$target")\",port=\"$(l2_label_escape "$port")\"} $(is_one "$v")"
else
    l2_usage_error "give --node URL --device DEV, or --snmp URL --target SWITCH --port IFNAME"
fi

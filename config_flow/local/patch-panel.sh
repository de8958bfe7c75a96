#!/usr/bin/env bash
# The demo's patch panel (scripts/run-local.sh, scripts/inject.sh): a network namespace
# where each cable (a veth whose other end is a host's NIC) and each switch port's jack
# (a veth whose other end is the switch port) ends. A patch joins a cable to a jack in
# both directions with tc: every frame that comes in on one end leaves by the other
# (clsact ingress, u32 matching all, mirred egress redirect), untouched: LLDP, ARP,
# jumbo frames. Re-patching a cable to another jack is what moving a cable from one
# switch port to another does: the switch learns the host's MAC on the new port, LLDP
# on both sides hears the new neighbour.
#
#   patch-panel.sh NS CABLE JACK            patch CABLE to JACK (replacing their patches)
#   patch-panel.sh NS --jack-of CABLE       the jack CABLE is patched to (nothing if none)
set -euo pipefail
ns=${1:?usage: patch-panel.sh NS CABLE JACK | NS --jack-of CABLE}
in_p=(ip netns exec "$ns")
redirect() { # FROM TO: frames coming in on FROM leave by TO
  "${in_p[@]}" tc qdisc replace dev "$1" clsact
  "${in_p[@]}" tc filter del dev "$1" ingress 2>/dev/null || true
  "${in_p[@]}" tc filter add dev "$1" ingress protocol all pref 1 u32 match u32 0 0 \
    action mirred egress redirect dev "$2"
}
if [ "${2:-}" = --jack-of ]; then
  "${in_p[@]}" tc filter show dev "${3:?--jack-of needs a cable}" ingress 2>/dev/null \
    | sed -n 's/.*Redirect to device \([^)]*\)).*/\1/p' | head -1
  exit 0
fi
cable=${2:?usage: patch-panel.sh NS CABLE JACK}
jack=${3:?usage: patch-panel.sh NS CABLE JACK}
redirect "$cable" "$jack"
redirect "$jack" "$cable"

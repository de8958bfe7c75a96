#!/usr/bin/env python3
"""net-snmp `pass_persist` helper of the demo switch (scripts/run-local.sh).

The demo switch is a Linux bridge in a network namespace, read by net-snmp's snmpd,
which serves IF-MIB itself from the kernel (counters, MTU, speed, oper status). This
helper, started by that snmpd in the same namespace, adds what snmpd does not give:

  ifName (IF-MIB 1.3.6.1.2.1.31.1.1.1.1)   a switch's port names ("hundredGigE 1/27"),
      which Linux interface names cannot carry (no blanks, no '/'): the interface's
      alias (`ip link set DEV alias NAME`) when set, else its kernel name;
  BRIDGE-MIB / Q-BRIDGE-MIB (1.3.6.1.2.1.17), from `bridge -j` of the namespace:
      dot1dBasePortIfIndex (bridge port number = ifIndex), dot1qTpFdbPort/Status (the
      MACs the bridge learned from real frames, per VLAN), dot1qVlanCurrentEgressPorts
      and ...UntaggedPorts (VLAN membership per port, bridge `vlan_filtering` on).

usage (snmpd.conf, in the switch's namespace):
    pass_persist .1.3.6.1.2.1.31.1.1.1.1 /usr/bin/python3 switch-mib.py ifname
    pass_persist .1.3.6.1.2.1.17 /usr/bin/python3 switch-mib.py bridge BRIDGE

`switch-mib.py dump ifname|bridge [BRIDGE]` prints the served rows (for debugging).
Kernel state is read again when a request comes more than a second after the last read.
"""
import json
import os
import subprocess
import sys
import time

IFNAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
BRIDGE = (1, 3, 6, 1, 2, 1, 17)
BASE_PORT_IFINDEX = (1, 3, 6, 1, 2, 1, 17, 1, 4, 1, 2)
FDB_PORT = (1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 2)
FDB_STATUS = (1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 3)
VLAN_EGRESS = (1, 3, 6, 1, 2, 1, 17, 7, 1, 4, 2, 1, 4)
VLAN_UNTAGGED = (1, 3, 6, 1, 2, 1, 17, 7, 1, 4, 2, 1, 5)


def run_json(*args):
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=5, check=False).stdout
        return json.loads(out) if out.strip() else []
    except (OSError, ValueError, subprocess.SubprocessError):
        return []


def links():
    """[(ifindex, kernel name, alias or None, master or None)]"""
    rows = []
    for l in run_json("ip", "-d", "-j", "link", "show"):
        rows.append((l.get("ifindex"), l.get("ifname"), l.get("ifalias"), l.get("master")))
    return [r for r in rows if isinstance(r[0], int) and r[1]]


def bitmap(ports):
    if not ports:
        return "00 00 00 00"
    n = max(4, (max(ports) + 7) // 8)
    b = [0] * n
    for p in ports:
        b[(p - 1) // 8] |= 0x80 >> ((p - 1) % 8)
    return " ".join(f"{x:02X}" for x in b)


def rows_ifname():
    return {IFNAME + (i,): ("string", alias or name) for i, name, alias, _ in links()}


def rows_bridge(br, table):
    out = {}
    ls = links()
    ports = {name: i for i, name, _, master in ls if master == br}
    for name, i in ports.items():
        out[BASE_PORT_IFINDEX + (i,)] = ("integer", str(i))
    # VLAN membership: the switch's configuration, nftables sets `vlanN` (type ifname) of
    # table `bridge TABLE`, which the same table's forward chain enforces. The kernel's
    # bridge may lack VLAN filtering, so the ports are access ports: untagged members.
    egress = {}
    data = run_json("nft", "-j", "list", "sets", "bridge")
    items = data.get("nftables", []) if isinstance(data, dict) else []
    for it in items:
        st = it.get("set") if isinstance(it, dict) else None
        if not st or st.get("table") != table or not str(st.get("name", "")).startswith("vlan"):
            continue
        try:
            vid = int(st["name"][4:])
        except ValueError:
            continue
        elems = st.get("elem", [])
        egress[vid] = sorted(ports[d] for d in elems if isinstance(d, str) and d in ports)
    pvid = {}
    for vid in sorted(egress, reverse=True):
        for p in egress[vid]:
            pvid[p] = vid
    for vid, p in egress.items():
        out[VLAN_EGRESS + (0, vid)] = ("octet", bitmap(p))
        out[VLAN_UNTAGGED + (0, vid)] = ("octet", bitmap(p))
    for e in run_json("bridge", "-j", "fdb", "show", "br", br):
        dev, mac = e.get("ifname"), e.get("mac", "")
        flags = e.get("flags", []) + [e.get("state", "")]
        # Learned entries only: not the bridge's or the ports' own ("permanent") addresses.
        if dev not in ports or "permanent" in flags or "self" in flags:
            continue
        try:
            octets = tuple(int(x, 16) for x in mac.split(":"))
        except ValueError:
            continue
        if len(octets) != 6:
            continue
        vid = e.get("vlan") or pvid.get(ports[dev], 1)
        out[FDB_PORT + (int(vid),) + octets] = ("integer", str(ports[dev]))
        out[FDB_STATUS + (int(vid),) + octets] = ("integer", "3")  # learned
    return out


def parse_oid(s):
    try:
        return tuple(int(x) for x in s.strip().strip(".").split(".") if x != "")
    except ValueError:
        return None


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("ifname", "bridge", "dump"):
        sys.exit("usage: switch-mib.py ifname | bridge BRIDGE | dump ifname|bridge [BRIDGE]")
    dump = sys.argv[1] == "dump"
    args = sys.argv[2:] if dump else sys.argv[1:]
    what = args[0] if args else ""
    if what == "ifname":
        load = rows_ifname
    elif what == "bridge" and len(args) > 1:
        load = lambda: rows_bridge(args[1], args[2] if len(args) > 2 else "rtmon_demo")
    else:
        sys.exit("switch-mib.py: say `ifname` or `bridge BRIDGE`")
    if dump:
        for oid, (t, v) in sorted(load().items()):
            print(".".join(map(str, oid)), t, v)
        return
    cache, when = {}, 0.0

    def table():
        nonlocal cache, when
        if time.monotonic() - when > 1.0:
            cache, when = load(), time.monotonic()
        return cache

    def reply(oid, tv):
        t, v = tv
        sys.stdout.write(f".{'.'.join(map(str, oid))}\n{t}\n{v}\n")

    for line in sys.stdin:
        cmd = line.strip().lower()
        if cmd == "ping":
            sys.stdout.write("PONG\n")
        elif cmd in ("get", "getnext"):
            oid = parse_oid(sys.stdin.readline())
            rows = table()
            if oid is None:
                sys.stdout.write("NONE\n")
            elif cmd == "get":
                reply(oid, rows[oid]) if oid in rows else sys.stdout.write("NONE\n")
            else:
                nxt = min((o for o in rows if o > oid), default=None)
                reply(nxt, rows[nxt]) if nxt else sys.stdout.write("NONE\n")
        elif cmd == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            sys.stdout.write("not-writable\n")
        elif cmd == "":
            break
        sys.stdout.flush()


if __name__ == "__main__":
    os.environ.setdefault("LC_ALL", "C")
    main()

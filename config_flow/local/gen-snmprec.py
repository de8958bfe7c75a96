#!/usr/bin/env python3
"""Writes the simulated switch of scripts/run-local.sh as an snmpsim .snmprec file.

Mirrors rtmon_testkit::snmp::switch_snmprec (tests/testkit/src/snmp.rs): system group,
ifTable, ifXTable and a dot1q FDB holding MAC 00:1b:21:00:00:p on bridge port p, VLAN 1000
(p = 1..4). Port p is `hundredGigE 1/p`, the last three are `Port-channel 101..103`,
every 7th port is oper-down.

usage: gen-snmprec.py NAME PORTS [--fdb VLAN,MAC,PORT]... [--up PORT]... > NAME.snmprec

--fdb replaces the default FDB with the given entries (MAC aa:bb:cc:dd:ee:ff learned on
port PORT in VLAN VLAN); --up keeps port PORT oper-up even when it is a 7th port.
scripts/run-local.sh uses them to build the switch of a bundled example flow.
"""
import argparse
import sys


def if_name(n, p):
    return f"Port-channel {101 + p + 3 - n - 1}" if p + 3 > n else f"hundredGigE 1/{p}"


def snmprec(name, n, fdb=None, up=()):
    """fdb: None for the default entries, else a list of (vlan, [6 ints], port)."""
    rows = []
    add = lambda oid, tag, v: rows.append((tuple(oid), tag, str(v)))
    sysg = [1, 3, 6, 1, 2, 1, 1]
    add(sysg + [1, 0], "4", f"rtmon simulated switch {name}, {n} ports")
    add(sysg + [2, 0], "6", "1.3.6.1.4.1.8072.3.2.10")
    add(sysg + [3, 0], "67", 123456)
    add(sysg + [5, 0], "4", name)
    add([1, 3, 6, 1, 2, 1, 2, 1, 0], "2", n)
    it = [1, 3, 6, 1, 2, 1, 2, 2, 1]
    xt = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1]
    for p in range(1, n + 1):
        i = p
        t = lambda col, tag, v: add(it + [col, i], tag, v)
        t(1, "2", i)
        t(2, "4", if_name(n, p).replace(" ", "").replace("hundredGigE", "HundredGigE"))
        t(3, "2", 161 if p + 3 > n else 6)
        t(4, "2", 9216)
        t(5, "66", 4294967295)
        t(6, "4x", f"001b21{p:06x}")
        t(7, "2", 1)
        t(8, "2", 2 if p % 7 == 0 and p not in up else 1)
        t(9, "67", 1000 + p)
        for col, mul in [(10, 1000), (11, 10), (12, 5), (13, 1), (14, 2)]:
            t(col, "65", (p * mul) % (1 << 32))
        t(15, "65", 0)
        for col, mul in [(16, 2000), (17, 20), (18, 6), (19, 3), (20, 4)]:
            t(col, "65", (p * mul) % (1 << 32))
        t(21, "66", 0)
        x = lambda col, tag, v: add(xt + [col, i], tag, v)
        x(1, "4", if_name(n, p))
        for col, mul in [(2, 7), (3, 11), (4, 13), (5, 17)]:
            x(col, "65", p * mul)
        x(6, "70", (1 << 53) + 1 + 1000 * p)
        for col, mul in [(7, 100), (8, 7), (9, 11)]:
            x(col, "70", p * mul)
        x(10, "70", (1 << 62) + 7919 * p)
        for col, mul in [(11, 200), (12, 13), (13, 17)]:
            x(col, "70", p * mul)
        x(14, "2", 1)
        x(15, "66", 100000)
        x(16, "2", 2)
        x(17, "2", 1)
        x(18, "4", f"uplink-{p}" if p % 10 == 0 else "")
        x(19, "67", 0)
    entries = fdb if fdb is not None else [(1000, [0, 0x1B, 0x21, 0, 0, p], p) for p in range(1, 5)]
    for port in sorted({port for _, _, port in entries}):
        add([1, 3, 6, 1, 2, 1, 17, 1, 4, 1, 2, port], "2", port)  # dot1dBasePortIfIndex
    for vlan, mac, port in entries:
        base = [1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1]  # dot1qTpFdbTable
        add(base + [2, vlan] + mac, "2", port)
        add(base + [3, vlan] + mac, "2", 3)  # learned
    rows.sort(key=lambda r: r[0])
    return "".join(f"{'.'.join(map(str, o))}|{tag}|{v}\n" for o, tag, v in rows)


def fdb_entry(s):
    try:
        vlan, mac, port = s.split(",")
        octets = [int(x, 16) for x in mac.split(":")]
        if len(octets) != 6 or not all(0 <= o <= 255 for o in octets):
            raise ValueError
        return int(vlan), octets, int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fdb {s!r}: expected VLAN,aa:bb:cc:dd:ee:ff,PORT")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Writes a simulated switch as an snmpsim .snmprec file.")
    ap.add_argument("name")
    ap.add_argument("ports", type=int, help="number of ports, 4..512")
    ap.add_argument("--fdb", type=fdb_entry, action="append", metavar="VLAN,MAC,PORT")
    ap.add_argument("--up", type=int, action="append", default=[], metavar="PORT")
    a = ap.parse_args()
    if not 4 <= a.ports <= 512:
        ap.error("PORTS must be 4..512")
    for _, _, port in a.fdb or []:
        if not 1 <= port <= a.ports:
            ap.error(f"--fdb port {port} is not one of the {a.ports} ports")
    sys.stdout.write(snmprec(a.name, a.ports, a.fdb, set(a.up)))

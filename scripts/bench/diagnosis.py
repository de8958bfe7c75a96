#!/usr/bin/env python3
"""The measuring half of scripts/bench-diagnosis.sh (stdlib only).

  diagnosis.py measure --env DEMO.ENV --inject INJECT.SH [--stale-after D] FAULT...
      one JSON line per fault: time until `status` names the expected hop/check first,
      until the matching alert is active in Alertmanager (and the other active and
      inhibited flow alerts then and two evaluations later), until healthy after --heal.
  diagnosis.py soak --env DEMO.ENV --duration D [--stale-after D]
      one JSON line: polls, unhealthy polls, false alarms (healthy -> not healthy), alerts.
  diagnosis.py table --results FILE --intervals TEXT
      the Markdown table of those lines.

Only the documented contract is used: `rtmon-dashboards status --output json` (its
summary names the first cause; each check has hop, check, subject, healthy, text) and
Alertmanager's API v2 (alerts RtmonFlowCheckFailed with labels flow, hop, check, subject).
"""
import argparse
import json
import re
import shlex
import subprocess
import sys
import time
import urllib.request


def duration(s):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", s.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {s!r} (e.g. 30s, 2m)")
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def read_env(path):
    env = {}
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if "=" in line and re.match(r"[A-Za-z_]", line):
            k, v = line.split("=", 1)
            env[k] = " ".join(shlex.split(v)) if v else ""
    return env


class Demo:
    def __init__(self, env_file, stale_after):
        self.env_file = env_file
        self.e = read_env(env_file)
        self.stale_after = stale_after
        e = self.e
        self.scrape = duration(e["scrape_interval"])
        self.eval = duration(e["eval_interval"])
        self.window = duration(e["check_window"])
        self.alert_for = duration(e["alert_for"])
        self.lldp = int(e["lldp_interval"])

    def status(self):
        e = self.e
        cmd = [e["DASH"], "status", e["FLOW"], "--prometheus", f"http://{e['PROM']}",
               "--mode", e["MODE"], "--check-window", e["check_window"], "--output", "json"]
        if e["MODE"] == "push":
            cmd += ["--stale-after", f"{int(self.stale_after)}s"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        try:
            flow = json.loads(p.stdout)["flows"][0]
        except (ValueError, KeyError, IndexError):
            return {"code": p.returncode, "status": "unknown", "summary": p.stderr.strip()[:200],
                    "first": None}
        checks = [dict(c, hop=h["hop"]) for h in flow.get("hops", []) for c in h.get("checks", [])]
        summary = flow.get("summary", "")
        first = None
        if ": " in summary and flow.get("status") in ("down", "degraded"):
            rest = summary.split(": ", 1)[1]
            cands = [c for c in checks if c.get("healthy") is False and c.get("text")
                     and rest.startswith(c["text"])]
            if cands:
                first = max(cands, key=lambda c: len(c["text"]))
        return {"code": p.returncode, "status": flow.get("status"), "summary": summary,
                "first": first}

    def alerts(self):
        am = self.e.get("AM")
        if not am:
            return []
        url = f"http://{am}/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                data = json.load(r)
        except (OSError, ValueError):
            return []
        return [a for a in data if a.get("labels", {}).get("flow") == self.e["FLOW_ID"]]

    def inject(self, script, action, fault):
        out = self.e["FLOW"].rsplit("/", 1)[0]
        p = subprocess.run(["bash", script, "--out", out, f"--{action}", fault],
                           capture_output=True, text=True, check=False)
        if p.returncode != 0:
            raise RuntimeError(f"inject.sh --{action} {fault}: {p.stderr.strip()}")


def expected(demo, fault):
    """(description, matcher on a check or alert labels dict) of the right first cause."""
    e = demo.e
    sw, b, out_port, in_port = e["SW_NAME"], e["B_NAME"], e["OUT_PORT"], e["IN_PORT"]

    def m(hop, check, subject=None, sub_fn=None):
        def f(c):
            return (c.get("hop") == hop and c.get("check") == check
                    and (subject is None or c.get("subject") == subject)
                    and (sub_fn is None or sub_fn(c.get("subject", ""))))
        return f

    inside = lambda s: in_port in s and out_port in s and s.index(in_port) < s.index(out_port)
    table = {
        "port-down": (f"{sw} {out_port} port_oper_up", [m(sw, "port_oper_up", out_port)]),
        "vlan": (f"{sw} {out_port} vlan_on_port", [m(sw, "vlan_on_port", out_port)]),
        "mtu": (f"{sw} {out_port} mtu", [m(sw, "mtu", out_port)]),
        "recable": (f"lldp_link of {sw} {out_port} or {b} (or fdb_learned of {b})",
                    [m(sw, "lldp_link", out_port), m(b, "lldp_link"), m(sw, "fdb_learned", b)]),
        "loss": (f"{sw} loss_segment {in_port} → {out_port}", [m(sw, "loss_segment", sub_fn=inside)]),
        "exporter": (f"{b} exporter_up node", [m(b, "exporter_up", "node")]),
        "unreachable": (f"{sw} snmp_up", [m(sw, "snmp_up")]),
        "push-stale": (f"{b} exporter_up (not pushing)", [m(b, "exporter_up")]),
    }
    return table[fault]


def bound(demo, fault):
    """Seconds: when the fault is observable + one scrape + one evaluation interval."""
    s, ev = demo.scrape, demo.eval
    obs = {
        "unreachable": min(s, 10),  # the scrape that times out
        "recable": demo.lldp,
        "loss": demo.window * 0.02 / 0.20,
        "push-stale": demo.stale_after + s,  # the last heartbeat, then stale
    }.get(fault, 0)
    return obs + s + ev


def alert_labels(a):
    return a.get("labels", {})


def is_active(a):
    return a.get("status", {}).get("state") == "active"


def measure_one(demo, script, fault):
    desc, matchers = expected(demo, fault)
    ok = lambda c: c is not None and any(f(c) for f in matchers)
    res = {"fault": fault, "expected": desc, "bound_s": round(bound(demo, fault), 1)}
    t0 = time.monotonic()
    demo.inject(script, "inject", fault)
    named = alert = None
    first_seen = None
    others_at = others_later = inhibited_later = None
    active_names = []
    named_limit = max(600.0, 4 * bound(demo, fault))
    alert_limit = named_limit + demo.alert_for + 4 * demo.eval
    while True:
        now = time.monotonic() - t0
        st = demo.status()
        if st["status"] not in ("healthy", None) and first_seen is None and st["first"]:
            f = st["first"]
            first_seen = f"{f['hop']}/{f['check']}/{f.get('subject', '')}"
        if named is None and ok(st["first"]):
            named = now
            res["named_text"] = st["summary"]
        al = demo.alerts()
        act = [a for a in al if is_active(a)]
        if alert is None and any(ok(alert_labels(a)) for a in act):
            alert = now
            others_at = len(act) - 1
        if alert is not None and others_later is None and now >= alert + 2 * demo.eval:
            others_later = len(act) - 1
            inhibited_later = len(al) - len(act)
            active_names = sorted(
                f"{alert_labels(a).get('hop')}/{alert_labels(a).get('check')}/{alert_labels(a).get('subject')}"
                for a in act)
        if named is not None and others_later is not None:
            break
        if named is None and now > named_limit:
            res["last_summary"] = st["summary"]
            break
        if alert is None and now > alert_limit:
            res["last_summary"] = st["summary"]
            break
        time.sleep(0.5)
    res.update({"named_s": None if named is None else round(named, 1),
                "first_cause_seen": first_seen,
                "alert_s": None if alert is None else round(alert, 1),
                "other_alerts_at_fire": others_at, "other_alerts_later": others_later,
                "inhibited_later": inhibited_later, "active_alerts": active_names})
    # Heal, and wait until healthy and no flow alert is active.
    demo.inject(script, "heal", fault)
    t1 = time.monotonic()
    healthy = cleared = None
    while time.monotonic() - t1 < 1200:
        now = time.monotonic() - t1
        st = demo.status()
        if healthy is None and st["status"] == "healthy":
            healthy = now
        if healthy is not None and st["status"] != "healthy":
            healthy = None  # flapped back: not healthy yet
        if cleared is None and not any(is_active(a) for a in demo.alerts()):
            cleared = now
        if healthy is not None and cleared is not None and now >= healthy + demo.eval:
            break
        time.sleep(0.5)
    res["healthy_after_heal_s"] = None if healthy is None else round(healthy, 1)
    res["alerts_cleared_s"] = None if cleared is None else round(cleared, 1)
    res["right_first"] = named is not None
    res["within_bound"] = named is not None and named <= res["bound_s"]
    return res


def cmd_measure(a):
    demo = Demo(a.env, a.stale_after)
    for fault in a.faults:
        try:
            r = measure_one(demo, a.inject, fault)
        except RuntimeError as e:
            r = {"fault": fault, "error": str(e)}
        print(json.dumps(r, ensure_ascii=False), flush=True)


def cmd_soak(a):
    demo = Demo(a.env, a.stale_after)
    t0 = time.monotonic()
    polls = unhealthy = alarms = 0
    was_healthy = True
    seen = {}
    examples = []
    while time.monotonic() - t0 < a.duration:
        st = demo.status()
        polls += 1
        h = st["status"] == "healthy"
        if not h:
            unhealthy += 1
            if was_healthy:
                alarms += 1
                if len(examples) < 5:
                    examples.append(f"+{int(time.monotonic() - t0)}s {st['summary']}")
        was_healthy = h
        for al in demo.alerts():
            if is_active(al):
                seen[al.get("fingerprint")] = alert_labels(al)
        time.sleep(max(1.0, demo.eval))
    print(json.dumps({"soak_s": round(time.monotonic() - t0), "polls": polls,
                      "unhealthy_polls": unhealthy, "false_alarms": alarms,
                      "alerts": len(seen), "examples": examples,
                      "alert_labels": list(seen.values())[:5]}, ensure_ascii=False), flush=True)


def fmt(v, unit=" s"):
    return "—" if v is None else f"{v}{unit}"


def cmd_table(a):
    rows = [json.loads(l) for l in open(a.results, encoding="utf-8") if l.strip()]
    out = [f"Time to exact cause on the live demo ({a.intervals}).", "",
           "| fault | expected first cause | named first after | bound | alert active after "
           "| other alerts active (at fire / +2 evals) | inhibited | healthy after heal | alerts cleared |",
           "|---|---|---|---|---|---|---|---|---|"]
    soak = []
    for r in rows:
        if "soak_s" in r:
            soak.append(r)
            continue
        if "error" in r:
            out.append(f"| {r['fault']} | error: {r['error']} | | | | | | | |")
            continue
        named = fmt(r.get("named_s"))
        if r.get("named_s") is None:
            named = f"never (last: {r.get('last_summary', '?')})"
        elif not r.get("within_bound"):
            named += " (over)"
        out.append(
            f"| {r['fault']} | {r['expected']} | {named} | {r['bound_s']} s | {fmt(r.get('alert_s'))} "
            f"| {fmt(r.get('other_alerts_at_fire'), '')} / {fmt(r.get('other_alerts_later'), '')} "
            f"| {fmt(r.get('inhibited_later'), '')} | {fmt(r.get('healthy_after_heal_s'))} "
            f"| {fmt(r.get('alerts_cleared_s'))} |")
    extra = [r for r in rows if r.get("active_alerts") and len(r["active_alerts"]) > 1]
    if extra:
        out += ["", "Alerts active beside the fault's own (not inhibited):"]
        for r in extra:
            out.append(f"- {r['fault']}: {', '.join(r['active_alerts'])}")
    for s in soak:
        out += ["", f"Soak: {s['soak_s']} s on the healthy demo, {s['polls']} status polls: "
                f"{s['false_alarms']} false alarms ({s['unhealthy_polls']} polls not healthy), "
                f"{s['alerts']} alerts active in Alertmanager."]
        for ex in s["examples"]:
            out.append(f"- {ex}")
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--env", required=True)
    m.add_argument("--inject", required=True)
    m.add_argument("--stale-after", type=duration, default=120)
    m.add_argument("faults", nargs="+")
    s = sub.add_parser("soak")
    s.add_argument("--env", required=True)
    s.add_argument("--duration", type=duration, required=True)
    s.add_argument("--stale-after", type=duration, default=120)
    t = sub.add_parser("table")
    t.add_argument("--results", required=True)
    t.add_argument("--intervals", default="")
    a = ap.parse_args()
    {"measure": cmd_measure, "soak": cmd_soak, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)

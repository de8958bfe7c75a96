#!/usr/bin/env python3
"""Checks on rendered Kubernetes manifests (helm template / kubectl kustomize output) that
schemas cannot express. Used by scripts/check-deploy.sh; each check exits 1 with one line
per finding.

  check-rendered.py readable FILE
      Every Secret/ConfigMap file a container mounts is readable by that container: the
      kubelet writes them owned by root and, with the pod's fsGroup, group fsGroup. So a
      non-root runAsUser needs the other-read bit, or fsGroup plus the group-read bit
      (runAsUser, fsGroup and defaultMode/items[].mode are judged together).
  check-rendered.py rules FILE FLOWFILE OUT
      A PrometheusRule exists with the topology of every flow of FLOWFILE and
      the flow rules/alerts (rtmon:flow:healthy, RtmonFlowCheckFailed); writes the groups
      as a Prometheus rule file to OUT (for promtool check rules).
  check-rendered.py split FILE OUTDIR
      One file per ServiceMonitor / PodMonitor / PrometheusRule (for check-jsonschema);
      prints how many of each kind.
  check-rendered.py idle FILE BINDIR
      Runs the arp and ping containers of every DaemonSet that reads a flow, with the
      rendered args, as the pod would on a node outside the flow (NODE_NAME=<not a flow
      host>; the flow from the rendered ConfigMap; the listen address moved to
      127.0.0.1:<free port>): each must still run after 2 s and export
      rtmon_<c>_flow_host_found 0. Needs root for ping (raw socket).
  check-rendered.py upgradable FILE_A FILE_B
      FILE_A and FILE_B render two different flows: every Job must be a Helm hook with
      before-hook-creation and have a different name in B (an immutable Job template is
      never patched), and the DaemonSets' pod templates must differ (pods roll).
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml


def docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if isinstance(d, dict) and d.get("kind")]


def pod_specs(d):
    k = d["kind"]
    spec = d.get("spec") or {}
    if k == "Pod":
        return [spec]
    if k in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"):
        return [spec.get("template", {}).get("spec", {})]
    if k == "CronJob":
        return [spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec", {})]
    return []


def readable(path):
    bad = []
    for d in docs(path):
        name = f"{d['kind']}/{d['metadata']['name']}"
        for ps in pod_specs(d):
            psc = ps.get("securityContext") or {}
            vols = {v["name"]: v for v in ps.get("volumes") or []}
            for c in (ps.get("initContainers") or []) + (ps.get("containers") or []):
                csc = c.get("securityContext") or {}
                uid = csc.get("runAsUser", psc.get("runAsUser", 65534))  # images: USER 65534
                gid = csc.get("runAsGroup", psc.get("runAsGroup", 65534))
                fs_group = psc.get("fsGroup")
                for m in c.get("volumeMounts") or []:
                    v = vols.get(m["name"]) or {}
                    src = v.get("secret") or v.get("configMap")
                    if src is None:
                        continue
                    modes = [i["mode"] for i in src.get("items") or [] if "mode" in i]
                    modes.append(src.get("defaultMode", 0o644))
                    for mode in modes:
                        ok = uid == 0 or mode & 0o004 or (
                            mode & 0o040 and (fs_group is not None or gid == 0))
                        if not ok:
                            bad.append(
                                f"{name} container {c['name']}: {m['mountPath']} (mode {mode:#o}, "
                                f"owner root, group {fs_group if fs_group is not None else 'root'}) "
                                f"is unreadable for runAsUser {uid}")
    return bad


def flow_ids(flowfile):
    with open(flowfile) as f:
        doc = yaml.safe_load(f)
    flows = doc.get("flows") if "flows" in doc else [doc]
    return [fl["flow"] for fl in flows], flows


def rules(path, flowfile, out):
    ids, _ = flow_ids(flowfile)
    prs = [d for d in docs(path) if d["kind"] == "PrometheusRule"]
    if not prs:
        return ["no PrometheusRule: the flow rules and alerts would never reach Prometheus"]
    groups = [g for pr in prs for g in (pr.get("spec") or {}).get("groups") or []]
    # The flows whose topology rows the rules carry (rtmon:flow:info, one per flow).
    covered = {(r.get("labels") or {}).get("flow") for g in groups
               for r in g.get("rules") or [] if r.get("record") == "rtmon:flow:info"}
    bad = [f"PrometheusRule has no topology for flow {i} (no rtmon:flow:info rule)"
           for i in ids if i not in covered]
    text = yaml.safe_dump({"groups": groups})
    for want in ("rtmon:flow:healthy", "RtmonFlowCheckFailed"):
        if want not in text:
            bad.append(f"PrometheusRule lacks {want}")
    with open(out, "w") as f:
        f.write(text)
    return bad


def split(path, outdir):
    os.makedirs(outdir, exist_ok=True)
    n = {}
    for d in docs(path):
        k = d["kind"]
        if k in ("ServiceMonitor", "PodMonitor", "PrometheusRule"):
            n[k] = n.get(k, 0) + 1
            with open(os.path.join(outdir, f"{k.lower()}-{n[k]}.yaml"), "w") as f:
                yaml.safe_dump(d, f)
    print(" ".join(f"{k}={v}" for k, v in sorted(n.items())))
    return []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def idle(path, bindir):
    all_docs = docs(path)
    cms = {d["metadata"]["name"]: d for d in all_docs if d["kind"] == "ConfigMap"}
    bad = []
    tried = 0
    tmp = tempfile.mkdtemp(prefix="rtmon-idle-")
    for d in all_docs:
        if d["kind"] != "DaemonSet":
            continue
        ps = pod_specs(d)[0]
        vols = {v["name"]: v for v in ps.get("volumes") or []}
        for c in ps.get("containers") or []:
            args = [str(a) for a in c.get("args") or []]
            flow_arg = next((a for a in args if a.startswith("--flow=")), None)
            cmd = (c.get("command") or [""])[0]
            comp = os.path.basename(cmd).replace("rtmon-", "").replace("-exporter", "")
            if flow_arg is None or comp not in ("arp", "ping"):
                continue
            if comp == "ping" and os.geteuid() != 0:
                print(f"   note: not root: {d['metadata']['name']}/{c['name']} (ping) not run")
                continue
            # The flow file from the ConfigMap mounted at the --flow path.
            flow_path = flow_arg.split("=", 1)[1]
            local_flow = None
            for m in c.get("volumeMounts") or []:
                if flow_path.startswith(m["mountPath"].rstrip("/") + "/"):
                    cm = (vols.get(m["name"]) or {}).get("configMap", {}).get("name")
                    key = flow_path[len(m["mountPath"].rstrip("/")) + 1:]
                    data = (cms.get(cm) or {}).get("data", {}).get(key)
                    if data is None:
                        bad.append(f"{d['metadata']['name']}/{c['name']}: {flow_path} is not in a rendered ConfigMap")
                        break
                    local_flow = os.path.join(tmp, f"{comp}-{key}")
                    with open(local_flow, "w") as f:
                        f.write(data)
            if local_flow is None:
                continue
            port = free_port()
            run = []
            for a in args:
                if a.startswith("--web.listen-address"):
                    continue
                a = a.replace("$(NODE_NAME)", "node-outside-the-flow")
                a = a.replace(flow_arg, f"--flow={local_flow}")
                run.append(a)
            run = [os.path.join(bindir, os.path.basename(cmd))] + run + [
                f"--web.listen-address=127.0.0.1:{port}"]
            tried += 1
            p = subprocess.Popen(run, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True)
            try:
                time.sleep(2)
                where = f"{d['metadata']['name']}/{c['name']} on a node outside the flow"
                if p.poll() is not None:
                    err = (p.stderr.read() or "").strip().splitlines()[-1:]
                    bad.append(f"{where}: exited {p.returncode} (crash loop): {' '.join(err)}")
                    continue
                try:
                    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
                except OSError as e:
                    bad.append(f"{where}: /metrics: {e}")
                    continue
                if not re.search(rf"^rtmon_{comp}_flow_host_found 0$", body, re.M):
                    bad.append(f"{where}: no rtmon_{comp}_flow_host_found 0 in /metrics")
            finally:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
    if tried == 0:
        bad.append("no DaemonSet container reads a flow: nothing was checked")
    else:
        print(f"   {tried} flow-reading DaemonSet container(s) ran as on a node outside the flow")
    return bad


def upgradable(a, b):
    da, db = docs(a), docs(b)
    bad = []
    jobs_a = [d for d in da if d["kind"] == "Job"]
    names_b = {d["metadata"]["name"] for d in db if d["kind"] == "Job"}
    for j in jobs_a:
        ann = j["metadata"].get("annotations") or {}
        n = j["metadata"]["name"]
        if "helm.sh/hook" not in ann or "before-hook-creation" not in ann.get("helm.sh/hook-delete-policy", ""):
            bad.append(f"Job {n}: not a Helm hook with before-hook-creation (its template is immutable)")
        if n in names_b:
            bad.append(f"Job {n}: same name after a flow change: the upgrade would patch an immutable template")
    ds_a = {d["metadata"]["name"]: d["spec"]["template"] for d in da if d["kind"] == "DaemonSet"}
    for d in db:
        if d["kind"] == "DaemonSet" and d["metadata"]["name"] in ds_a:
            reads_flow = any("--flow=" in str(x) for c in pod_specs(d)[0].get("containers") or []
                             for x in c.get("args") or [])
            if reads_flow and d["spec"]["template"] == ds_a[d["metadata"]["name"]]:
                bad.append(f"DaemonSet {d['metadata']['name']}: pod template unchanged by a flow change (pods would not restart)")
    return bad


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"readable": readable, "rules": rules, "split": split, "idle": idle,
          "upgradable": upgradable}.get(cmd)
    if fn is None:
        sys.exit(__doc__)
    bad = fn(*args)
    for b in bad:
        print(f"   {b}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

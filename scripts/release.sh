#!/usr/bin/env bash
# Builds rtmon's release artefacts into one folder (deploy/README.md, "Install on a host"):
#
#   rtmon-<bin>_<version>-1_amd64.deb       a Debian package per binary (cargo-deb, metadata in
#                                           each crate's Cargo.toml): the binary (glibc,
#                                           dynamically linked: Debian's way), its hardened
#                                           unit from deploy/systemd with ExecStart in /usr/bin,
#                                           /etc/default/<unit> (conffile), a man page
#                                           (help2man from --help), README, README.Debian;
#                                           nothing enabled or started on install
#   rtmon-<bin>-<version>.linux-amd64.tar.gz  the static binary (musl when rustup has that
#                                           target, else glibc linked statically), the unit as
#                                           in deploy/systemd (/usr/local/bin), the /etc/default
#                                           file, README.md
#   rtmon-<bin>-<version>.cdx.json          CycloneDX 1.5 SBOM of the binary's Rust dependencies
#                                           (cargo-cyclonedx)
#   SHA256SUMS                              of every file above
#
#   scripts/release.sh                      # -> target/dist, profile release (thin LTO)
#   scripts/release.sh --out DIR --profile fast
#   scripts/release.sh --profile dev --bins rtmon-node-exporter   # what CI's check builds
#
# Version: the workspace's; revision: `git rev-parse HEAD`, `-dirty` when tracked files
# differ (shared/build.rs puts it in --version and rtmon_build_info). File dates come from
# the last commit (SOURCE_DATE_EPOCH), so a rebuild of the same commit gives the same tarballs.
# Tools: cargo-deb, cargo-cyclonedx, help2man, binutils (scripts/install-test-deps.sh).
# Time on 2 cores from an empty target/: see deploy/README.md (two full builds: glibc for
# the packages, static for the tarballs).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

ALL_BINS=(rtmon-node-exporter rtmon-arp-exporter rtmon-ping-exporter rtmon-snmp-exporter
          rtmon-script-exporter rtmon-dashboards)
out=target/dist
profile=release
bins=()
usage() { sed -n '2,27p' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --out=*) out=${1#--out=}; shift ;;
    --profile) profile=${2:?--profile needs a cargo profile}; shift 2 ;;
    --profile=*) profile=${1#--profile=}; shift ;;
    --bins) IFS=, read -r -a bins <<<"${2:?--bins needs names}"; shift 2 ;;
    --bins=*) IFS=, read -r -a bins <<<"${1#--bins=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "release.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#bins[@]} -gt 0 ] || bins=("${ALL_BINS[@]}")
for b in "${bins[@]}"; do
  case " ${ALL_BINS[*]} " in *" $b "*) ;; *) echo "release.sh: --bins: unknown binary '$b' (one of: ${ALL_BINS[*]})" >&2; exit 2 ;; esac
done

die() { echo "release.sh: $*" >&2; exit 1; }
unit_of() { if [ "$1" = rtmon-dashboards ]; then echo rtmon-dashboards-sync; else echo "$1"; fi; }
crate_dir() { if [ "$1" = rtmon-dashboards ]; then echo dashboards; else b=${1#rtmon-}; echo "exporters/${b%-exporter}"; fi; }
step() { printf '\n== %s\n' "$*"; }
for t in cargo help2man strip gzip sha256sum tar python3 git; do
  command -v "$t" >/dev/null || die "$t not found (scripts/install-test-deps.sh installs the release tools)"
done
cargo deb --version >/dev/null 2>&1 || die "cargo-deb not found (cargo install --locked cargo-deb; scripts/install-test-deps.sh does)"
cargo cyclonedx --version >/dev/null 2>&1 || die "cargo-cyclonedx not found (cargo install --locked cargo-cyclonedx; scripts/install-test-deps.sh does)"

# cargo-deb's metadata names target/ paths relative to the crates: the default target dir.
export CARGO_TARGET_DIR="$root/target"
case "$profile" in dev|test) pdir=debug ;; *) pdir=$profile ;; esac

# ---- version, revision, dates ------------------------------------------------------------
version=$(cargo metadata --no-deps --format-version 1 --locked \
  | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="rtmon"))')
revision=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  revision="$revision-dirty"
  # Only when dirty: a clean tree gets the same value from shared/build.rs, and an unchanged
  # environment keeps cargo from rebuilding what CI's own build left in target/.
  export RTMON_GIT_REVISION=$revision
fi
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
export SOURCE_DATE_EPOCH
echo "rtmon $version, revision $revision, profile $profile, binaries: ${bins[*]}"
start=$(date +%s)

# All binaries: --workspace, as scripts/test.sh builds them (same feature set, so CI's check
# reuses that build); a subset: -p each.
pkg_args=(--workspace)
if [ ${#bins[@]} -ne ${#ALL_BINS[@]} ]; then
  pkg_args=()
  for b in "${bins[@]}"; do pkg_args+=(-p "$b"); done
fi

# ---- 1. glibc build (packages) -----------------------------------------------------------
step "cargo build --profile $profile (glibc, for the Debian packages)"
t=$(date +%s)
nice -n 10 cargo build --locked --profile "$profile" "${pkg_args[@]}" --bins
echo "   $(( $(date +%s) - t ))s"

# ---- 2. static build (tarballs) ----------------------------------------------------------
static_env=()
if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  triple=x86_64-unknown-linux-musl
  command -v musl-gcc >/dev/null || die "musl-gcc not found (apt-get install musl-tools; ring builds C for musl)"
  static_env=(CC_x86_64_unknown_linux_musl=musl-gcc)
  libc="musl"
else
  # No musl standard library (rustup target add needs static.rust-lang.org): glibc, linked
  # statically (crt-static). Same result for the operator: one file, no libraries needed.
  triple=x86_64-unknown-linux-gnu
  static_env=(RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static")
  libc="glibc (static)"
fi
step "cargo build --profile $profile --target $triple (static, $libc, for the tarballs)"
t=$(date +%s)
env "${static_env[@]}" nice -n 10 cargo build --locked --profile "$profile" --target "$triple" "${pkg_args[@]}" --bins
echo "   $(( $(date +%s) - t ))s"
sdir=target/$triple/$pdir
for b in "${bins[@]}"; do
  desc=$(file -b "$sdir/$b" 2>/dev/null || true)
  case "$desc" in
    *"statically linked"*|*"static-pie linked"*) ;;
    *) die "$sdir/$b is not a static executable: $desc" ;;
  esac
done

# ---- 3. package inputs: units with /usr/bin, man pages -----------------------------------
step "units and man pages (target/rtmon-deb)"
gen=target/rtmon-deb
rm -rf "$gen"; mkdir -p "$gen"
meta=$(cargo metadata --no-deps --format-version 1 --locked)
for b in "${bins[@]}"; do
  u=$(unit_of "$b")
  [ -f "deploy/systemd/$u.service" ] || die "deploy/systemd/$u.service missing"
  grep -q '^ExecStart=/usr/local/bin/' "deploy/systemd/$u.service" || die "deploy/systemd/$u.service: ExecStart not in /usr/local/bin"
  sed 's#/usr/local/bin/#/usr/bin/#g' "deploy/systemd/$u.service" >"$gen/$u.service"
  desc=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(next(p["description"] for p in json.load(sys.stdin)["packages"] if p["name"]==sys.argv[1]))' "$b")
  # help2man: NAME from the crate's description; left-aligned, no hyphenation, and break
  # points after | and / in long lines (the collectors' regex defaults), so man(1) and
  # lintian have nothing to warn about.
  help2man --no-info --no-discard-stderr -N -n "$desc" "target/$pdir/$b" \
    | sed -e '/^\.TH /a .ad l\n.nh' -e '/^[^.].\{70,\}/ s/[|/]/&\\:/g' \
    | gzip -9n >"$gen/$b.1.gz"
done

rm -rf "$out"; mkdir -p "$out"
out=$(cd "$out" && pwd)

# ---- 4. Debian packages ------------------------------------------------------------------
step "Debian packages (cargo deb --no-build)"
deb_fast=()
[ "$profile" = dev ] && deb_fast=(--fast)   # CI's check: lighter compression of big binaries
for b in "${bins[@]}"; do
  # Warnings left out: cargo-deb wants release builds (CI's check uses dev) and notes that
  # it does not build the man pages (target/rtmon-deb, made above).
  cargo deb --no-build "${deb_fast[@]}" --profile "$profile" -p "$b" -o "$out/" 2>&1 \
    | grep -v -e '^warning: dev profile is not supported' -e '^ *To enable debug symbols set' \
        -e "^warning: Only source paths starting with exactly 'target/release/'" || true
  ls "$out/${b}_${version}-1_amd64.deb" >/dev/null || die "cargo deb did not write $out/${b}_${version}-1_amd64.deb"
done

# ---- 5. tarballs -------------------------------------------------------------------------
step "tarballs ($libc)"
stage=$(mktemp -d /tmp/rtmon-release.XXXXXX)
trap 'rm -rf "$stage"' EXIT
for b in "${bins[@]}"; do
  u=$(unit_of "$b")
  name=$b-$version.linux-amd64
  d=$stage/$name
  mkdir -p "$d"
  cp "$sdir/$b" "$d/$b"; strip "$d/$b"
  cp "deploy/systemd/$u.service" "$d/"
  cp "deploy/systemd/default/$u" "$d/$u.default"
  cp "$(crate_dir "$b")/README.md" "$d/"
  chmod 0755 "$d/$b"; chmod 0644 "$d"/*.service "$d/$u.default" "$d/README.md"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$stage" -cf - "$name" | gzip -9n >"$out/$name.tar.gz"
done

# ---- 6. SBOM -----------------------------------------------------------------------------
step "CycloneDX SBOMs (cargo cyclonedx)"
# cargo-cyclonedx writes one SBOM beside every workspace member's Cargo.toml (dev-
# dependencies left out): the binaries' are moved out, the others removed at once.
sbom=rtmon-release-sbom
cleanup_sbom() { find "$root" -path "$root/target" -prune -o -name "$sbom.json" -type f -exec rm -f {} + ; }
trap 'rm -rf "$stage"; cleanup_sbom' EXIT
cargo cyclonedx -q --format json --spec-version 1.5 --target "$triple" --override-filename "$sbom"
for b in "${bins[@]}"; do
  mv "$(crate_dir "$b")/$sbom.json" "$out/$b-$version.cdx.json"
done
cleanup_sbom

# ---- 7. checksums ------------------------------------------------------------------------
step "SHA256SUMS"
cat >"$out/BUILD-INFO" <<EOF
version=$version
revision=$revision
profile=$profile
tarball_libc=$libc
tarball_target=$triple
source_date_epoch=$SOURCE_DATE_EPOCH
EOF
(cd "$out" && find . -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort | xargs sha256sum >"$stage/SHA256SUMS" \
  && mv "$stage/SHA256SUMS" SHA256SUMS && sha256sum --quiet -c SHA256SUMS)
(cd "$out" && ls -l)
echo "release.sh: done in $(( $(date +%s) - start ))s -> $out"

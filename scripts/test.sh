#!/usr/bin/env bash
# The one test command: installs the test dependencies, then runs every check and test.
#
#   sudo scripts/test.sh            # what the README and .ci/run call
#   scripts/test.sh --no-install    # skip the install step (deps already present)
#
# As root (and always under CI=true) the suite runs in strict mode (RTMON_TEST_STRICT=1):
# a test whose requirement (root, a binary) is missing fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

install=1
for a in "$@"; do
  case "$a" in
    --no-install) install=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

step() { printf '\n==== %s\n' "$*"; }
start=$(date +%s)

if [ "$install" = 1 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    step "install test dependencies"
    scripts/install-test-deps.sh
  else
    echo "test.sh: not root, skipping the install step (tests needing root will SKIP loudly)" >&2
  fi
fi

export RTMON_VENV=${RTMON_VENV:-/opt/rtmon-venv}
if [ "$(id -u)" -eq 0 ] || [ "${CI:-}" = "true" ]; then
  export RTMON_TEST_STRICT=1
fi
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build (binaries used by cross-crate tests)"
cargo build --workspace --bins --locked

step "cargo test"
cargo test --workspace --locked --no-fail-fast

if [ -x scripts/check-deploy.sh ]; then
  step "deployment checks"
  scripts/check-deploy.sh
fi

# Release artefacts (issue 32): packages and static tarballs built by scripts/release.sh
# --profile dev (the release build itself stays out of CI: see deploy/README.md), then
# lintian, install + purge in a temporary root, --version on a clean root, sha256sum -c.
if [ -x scripts/check-release.sh ]; then
  step "release artefacts (scripts/check-release.sh)"
  scripts/check-release.sh
fi

step "all checks passed in $(( $(date +%s) - start ))s"

#!/usr/bin/env bash
# Regenerates dashboard.schema.json — a draft-07 JSON Schema for Grafana's Classic
# dashboard model — from the TypeScript types of npm @grafana/schema (Apache-2.0),
# with ts-json-schema-generator. Output is byte-stable; the result is committed so tests
# need no npm. Re-run after bumping the versions below; `--check` fails if the committed
# file differs from what the pinned versions generate.
set -euo pipefail
cd "$(dirname "$0")"
GRAFANA_SCHEMA_VERSION=13.2.3
GENERATOR_VERSION=2.9.0
if [ ! -d node_modules/@grafana/schema ] || ! grep -q "\"version\": \"$GRAFANA_SCHEMA_VERSION\"" node_modules/@grafana/schema/package.json; then
  npm install --no-save --no-audit --no-fund --loglevel=error \
    "@grafana/schema@$GRAFANA_SCHEMA_VERSION" "ts-json-schema-generator@$GENERATOR_VERSION" >/dev/null
fi
out=dashboard.schema.json
[ "${1:-}" = "--check" ] && out=$(mktemp)
npx --no-install ts-json-schema-generator --no-type-check \
  --path node_modules/@grafana/schema/dist/types/raw/dashboard/x/types.gen.d.ts \
  --type Dashboard -o "$out" >/dev/null
if [ "${1:-}" = "--check" ]; then
  cmp -s "$out" dashboard.schema.json || { echo "dashboard.schema.json is stale: run $0" >&2; exit 1; }
  rm -f "$out"
fi
echo "dashboard schema: @grafana/schema $GRAFANA_SCHEMA_VERSION -> $(pwd)/dashboard.schema.json"

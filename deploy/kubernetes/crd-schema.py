#!/usr/bin/env python3
"""Writes strict JSON schemas for prometheus-operator's ServiceMonitor, PodMonitor, PrometheusRule.

Built at check time (scripts/check-deploy.sh) from the PyPI package
cloudcoil-models-prometheus-operator (pydantic models generated from the operator's CRDs),
so no copy of the CRDs is committed. Every object schema with `properties` gets
`additionalProperties: false`, so a misspelt field (`intervl`) fails validation as the
API server's structural schema would prune or reject it.

usage: crd-schema.py OUTDIR   -> OUTDIR/{servicemonitor,podmonitor,prometheusrule}.json
"""
import json
import os
import sys

from cloudcoil.models.prometheus_operator import v1


def strict(node):
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        # Go's inline flags ((?i)) are no JSON-schema (ECMA 262) regex: drop such patterns.
        if isinstance(node.get("pattern"), str) and "(?" in node["pattern"]:
            del node["pattern"]
        for v in node.values():
            strict(v)
    elif isinstance(node, list):
        for v in node:
            strict(v)
    return node


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: crd-schema.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule"):
        schema = strict(getattr(v1, kind).model_json_schema(by_alias=True))
        schema["properties"]["kind"] = {"const": kind}
        schema["properties"]["apiVersion"] = {"const": "monitoring.coreos.com/v1"}
        schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "spec"})
        with open(os.path.join(out, kind.lower() + ".json"), "w") as f:
            json.dump(schema, f)


if __name__ == "__main__":
    main()

"""Extract the request side of BugSnag's OpenAPI document into `bugsnag_requests.json`: for every operation its
method, path template, query parameters (name, required, enum) and JSON body (properties, required ones).

Facts only (names, not descriptions), so that tests can check requests without the 480 KB document:

    python tests/spec/extract.py /path/to/bugsnag-data-access-api-v2.yaml > tests/spec/bugsnag_requests.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml


def resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        parts = node["$ref"].lstrip("#/").split("/")
        node = doc
        for part in parts:
            node = node[part]
    return node


def flatten(doc: dict[str, Any], schema: Any) -> tuple[dict[str, Any], set[str]]:
    """(properties, required) of an object schema, through $ref and allOf."""
    schema = resolve(doc, schema)
    props: dict[str, Any] = {}
    required: set[str] = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        p, r = flatten(doc, part)
        props.update(p)
        required |= r
    for name, prop in (schema.get("properties") or {}).items():
        prop = resolve(doc, prop)
        props[name] = {k: prop[k] for k in ("type", "enum") if k in prop}
    return props, required


def extract(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, item in doc["paths"].items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            query = {}
            for param in [*shared, *op.get("parameters", [])]:
                param = resolve(doc, param)
                if param.get("in") != "query":
                    continue
                schema = resolve(doc, param.get("schema", {}))
                entry: dict[str, Any] = {"required": bool(param.get("required"))}
                if "enum" in schema:
                    entry["enum"] = schema["enum"]
                entry["type"] = schema.get("type", "object")
                query[param["name"]] = entry
            body = None
            if "requestBody" in op:
                content = resolve(doc, op["requestBody"]).get("content", {})
                schema = content.get("application/json", {}).get("schema")
                if schema is not None:
                    props, required = flatten(doc, schema)
                    body = {"properties": props, "required": sorted(required)}
            out.append(
                {
                    "operation": op.get("operationId"),
                    "method": method.upper(),
                    "path": path,
                    "query": query,
                    "body": body,
                }
            )
    return sorted(out, key=lambda o: (o["path"], o["method"]))


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as fh:
        json.dump(extract(yaml.safe_load(fh)), sys.stdout, indent=1, sort_keys=True)
        print()

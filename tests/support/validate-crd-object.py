#!/usr/bin/env python3
"""Validate Kubernetes objects against a CRD's openAPIV3Schema, as strictly as kubectl does.

    validate-crd-object.py SCHEMA.json OBJECT.json...

SCHEMA.json is a CRD version's `openAPIV3Schema` (tests/data/agent-sandbox/). An object whose
schema lists `properties` and says nothing of others gets `additionalProperties: false`, so an
unknown field fails, as `kubectl apply` (field validation `Strict` by default) fails it; the
`x-kubernetes-*` members are ignored, as the schema's own keywords carry the types. Needs the
`jsonschema` module (in the virtualenv tests/support/install-kube-validate.sh makes). Exit 0
when every object validates; else 1, with each error on stderr.
"""
import json
import sys

import jsonschema


def strict(node):
    if isinstance(node, dict):
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)
    return node


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        schema = strict(json.load(f))
    validator = jsonschema.Draft7Validator(schema)
    failed = False
    for path in argv[2:]:
        with open(path) as f:
            obj = json.load(f)
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            print(f"{path}: {where}: {error.message}", file=sys.stderr)
            failed = True
        if not failed:
            print(f"{path}: valid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

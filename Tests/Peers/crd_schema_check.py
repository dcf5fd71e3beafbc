"""Validates manifests against the CRD's openAPIV3Schema with an independent JSON Schema
validator (python-jsonschema), with unknown fields rejected as kubectl's strict field
validation does. Usage: crd_schema_check.py CRD.yaml MANIFEST... -> one JSON line per document:
{"file": ..., "name": ..., "errors": [{"path": "spec.model.version", "message": ...}]}
CEL rules (x-kubernetes-validations) are not evaluated: no CEL interpreter runs here.
"""
import json
import sys

import jsonschema
import yaml


def strict(schema):
    if schema.get("type") == "object" and "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        schema["additionalProperties"] = False
    for child in schema.get("properties", {}).values():
        strict(child)
    if isinstance(schema.get("items"), dict):
        strict(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        strict(schema["additionalProperties"])
    return schema


def main():
    crd = yaml.safe_load(open(sys.argv[1]))
    schema = strict(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    validator = jsonschema.Draft7Validator(schema)
    for path in sys.argv[2:]:
        for document in yaml.safe_load_all(open(path)):
            if not document:
                continue
            errors = [
                {"path": ".".join(str(p) for p in error.absolute_path), "message": error.message}
                for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
            ]
            name = (document.get("metadata") or {}).get("name")
            print(json.dumps({"file": path, "name": name, "errors": errors}))


if __name__ == "__main__":
    main()

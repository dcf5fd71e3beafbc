"""Evaluates the CRD's CEL rules (x-kubernetes-validations) with cel-python, as kube-apiserver would.

    crd_cel_check.py CRD.yaml MANIFEST.yaml...

Reads each manifest (YAML, one object); for each object, finds every schema node that
carries rules, takes the object's value at that node as `self` (absent values are not checked, as
kube-apiserver does), evaluates each rule, and prints {"NAME": ["fieldPath: message", ...]} with
the rules that did not hold (an empty list when all did), keyed by file. A rule that does not compile, or fails to
evaluate, is an error of this script: it exits 2 saying which.
"""
import json
import sys

import celpy
import yaml


def rule_nodes(schema, path=()):
    """(path, rules) for every schema node with x-kubernetes-validations, outermost first."""
    rules = schema.get("x-kubernetes-validations")
    if rules:
        yield path, rules
    for name, child in (schema.get("properties") or {}).items():
        yield from rule_nodes(child, path + (name,))


def value_at(obj, path):
    for name in path:
        if not isinstance(obj, dict) or name not in obj:
            return None
        obj = obj[name]
    return obj


def main():
    with open(sys.argv[1]) as f:
        crd = yaml.safe_load(f)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    env = celpy.Environment()
    compiled = []
    for path, rules in rule_nodes(schema):
        for rule in rules:
            try:
                program = env.program(env.compile(rule["rule"]))
            except Exception as error:  # noqa: BLE001 - report any compile failure
                sys.exit(f"2: rule {rule['rule']!r} at {'.'.join(path)} does not compile: {error}")
            compiled.append((path, rule, program))
    objects = {}
    for file in sys.argv[2:]:
        with open(file) as f:
            objects[file] = yaml.safe_load(f)
    result = {}
    for name, obj in objects.items():
        failed = []
        for path, rule, program in compiled:
            value = value_at(obj, path)
            if value is None:
                continue
            try:
                holds = program.evaluate({"self": celpy.json_to_cel(value)})
            except Exception as error:  # noqa: BLE001
                sys.exit(f"2: rule {rule['rule']!r} at {'.'.join(path)} failed on {name}: {error}")
            if isinstance(holds, celpy.celtypes.BoolType) or isinstance(holds, bool):
                if not bool(holds):
                    field = ".".join(path) + rule.get("fieldPath", "")
                    failed.append(f"{field}: {rule['message']}")
            else:
                sys.exit(f"2: rule {rule['rule']!r} at {'.'.join(path)} gave {holds!r} on {name}, not a boolean")
        result[name] = failed
    json.dump(result, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()

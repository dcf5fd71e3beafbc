"""Checks SageMaker request bodies against botocore's service model.

Reads one JSON object per line on stdin: {"operation": "CreateModel", "input": {...}} and prints,
per line, a JSON list of problems (empty when the input is valid): unknown operations, missing
required members, unknown members, wrong types, lengths and ranges (botocore's ParamValidator),
plus enum values and string patterns, which botocore's validator leaves to the service.
"""
import json, re, sys
import botocore.session
from botocore.validate import ParamValidator

def extra_checks(shape, value, path, problems):
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                extra_checks(member, value[name], f"{path}.{name}", problems)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            extra_checks(shape.member, item, f"{path}[{i}]", problems)
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            extra_checks(shape.value, item, f"{path}.{key}", problems)
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of the {len(shape.enum)} allowed values")
        pattern = shape.metadata.get("pattern")
        try:
            compiled = re.compile(pattern) if pattern else None
        except re.error:
            compiled = None  # Java-style classes (\p{...}) Python's re cannot read: length and type checks still apply
        if compiled and not compiled.fullmatch(value):
            problems.append(f"{path}: {value!r} does not match {pattern}")

def main():
    model = botocore.session.get_session().get_service_model("sagemaker")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            shape = model.operation_model(request["operation"]).input_shape
        except Exception as error:
            print(json.dumps([f"unknown operation {request['operation']}: {error}"]), flush=True)
            continue
        report = ParamValidator().validate(request["input"], shape)
        problems = [report.generate_report()] if report.has_errors() else []
        extra_checks(shape, request["input"], request["operation"], problems)
        print(json.dumps(problems), flush=True)

if __name__ == "__main__":
    main()

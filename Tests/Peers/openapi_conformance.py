"""Schemathesis against every OpenAPI document a running `modelplane serve` lists.

Usage: openapi_conformance.py DATA_DIR URL
Reads the token and CA from DATA_DIR, the index from URL/openapi/v3, and runs `schemathesis run`
(Tests/Peers/schemathesis.toml: every check, positive and negative data, the stateful phase with
Tests/Peers/schemathesis_hooks.py) against each document listed, one after the other. Prints one
JSON object: for each document, schemathesis' exit code, the stateful links it covered of all
there are, and its summary (the whole end of its output if it failed); exits 1 if any run failed.
"""
import json
import os
import re
import ssl
import subprocess
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def failures(output):
    """What a failed run found: its FAILURES (or ERRORS) section and summary, within reason."""
    start = min((i for i in (output.find("= FAILURES ="), output.find("= ERRORS =")) if i >= 0), default=0)
    found = output[start:]
    return found if len(found) < 30000 else found[:24000] + "\n...\n" + found[-6000:]


def main():
    data, url = sys.argv[1], sys.argv[2].rstrip("/")
    token = open(os.path.join(data, "token")).read().strip()
    ca = os.path.join(data, "ca.crt")
    request = urllib.request.Request(url + "/openapi/v3", headers={"Authorization": "Bearer " + token})
    index = json.load(urllib.request.urlopen(request, context=ssl.create_default_context(cafile=ca), timeout=30))
    environment = dict(os.environ, PYTHONPATH=HERE, SCHEMATHESIS_HOOKS="schemathesis_hooks", NO_COLOR="1")
    schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    results, failed = {}, False
    for key, entry in sorted(index["paths"].items()):
        run = subprocess.run(
            [schemathesis, "--config-file", os.path.join(HERE, "schemathesis.toml"), "run", url + entry["serverRelativeURL"],
             "-H", "Authorization: Bearer " + token, "--tls-verify", ca, "--checks", "all"],
            capture_output=True, text=True, env=environment, timeout=600, cwd=data)  # its cache goes with the data
        output = run.stdout + run.stderr
        links = re.search(r"API Links:\s+(\d+) covered / \d+ selected / (\d+) total", output)
        results[key] = {"exit": run.returncode, "links": [int(links[1]), int(links[2])] if links else None,
                        "output": failures(output) if run.returncode else output[output.rfind("SUMMARY"):]}
        failed |= run.returncode != 0
    print(json.dumps(results))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

"""The official Kubernetes Python client against `modelplane serve`, through the kubeconfig it writes.

Usage: python_client_contract.py KUBECONFIG CHECK   (CHECK: crud, watch, gone, dryrun, leader)
Prints one JSON object with what it saw; exits non-zero on an unexpected exception.
"""
import json
import queue
import subprocess
import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL, NS = "modelplane.dev", "v1alpha1", "modeldeployments", "default"


def deployment(name, version="1"):
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ModelDeployment", "metadata": {"name": name},
            "spec": {"model": {"name": "m", "version": version}, "backend": {"triton": {"url": "http://127.0.0.1:8000"}}}}


def crud(api):
    created = api.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, deployment("a"))
    listed = api.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)
    stale = dict(created)
    stale["spec"] = {**created["spec"], "model": {"name": "m", "version": "2"}}
    api.replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "a", stale)
    try:
        api.replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "a", stale)
        conflict = None
    except ApiException as e:
        conflict = {"status": e.status, "reason": json.loads(e.body)["reason"]}
    try:
        api.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, deployment("bad", version="v1"))
        invalid = None
    except ApiException as e:
        invalid = {"status": e.status, "fields": [c["field"] for c in json.loads(e.body)["details"]["causes"]]}
    status = api.patch_namespaced_custom_object_status(GROUP, VERSION, NS, PLURAL, "a", {"status": {"phase": "Ready"}})
    return {"listResourceVersion": listed["metadata"]["resourceVersion"], "items": len(listed["items"]),
            "conflict": conflict, "invalid": invalid, "phase": status["status"]["phase"],
            "generation": status["metadata"]["generation"]}


def watch_events(api):
    start = api.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)["metadata"]["resourceVersion"]
    threading.Timer(0.5, lambda: api.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, deployment("w"))).start()
    seen = []
    for event in watch.Watch().stream(api.list_namespaced_custom_object, GROUP, VERSION, NS, PLURAL,
                                      resource_version=start, allow_watch_bookmarks=True, timeout_seconds=10):
        seen.append({"type": event["type"], "name": event["object"]["metadata"].get("name"),
                     "resourceVersion": event["object"]["metadata"]["resourceVersion"]})
        if event["type"] == "ADDED":
            break
    return {"start": start, "events": seen}


def gone(api):
    for i in range(300):
        api.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, deployment(f"g{i}"))
    try:
        for _ in watch.Watch().stream(api.list_namespaced_custom_object, GROUP, VERSION, NS, PLURAL,
                                      resource_version="1", timeout_seconds=5):
            pass
        expired = None
    except ApiException as e:
        expired = e.status
    # Relist, then watch from the new version: that works.
    relisted = api.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)
    threading.Timer(0.5, lambda: api.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, deployment("after"))).start()
    after = None
    for event in watch.Watch().stream(api.list_namespaced_custom_object, GROUP, VERSION, NS, PLURAL,
                                      resource_version=relisted["metadata"]["resourceVersion"], timeout_seconds=10):
        after = event["object"]["metadata"]["name"]
        break
    return {"expired": expired, "relisted": len(relisted["items"]), "afterRelist": after}


def error(call):
    """The status and reason of the ApiException `call` raises, or None if it succeeds."""
    try:
        call()
        return None
    except ApiException as e:
        return {"status": e.status, "reason": json.loads(e.body)["reason"]}


def dry_run(api):
    """Every write with dry_run="All": answered as a real one, stored nowhere, seen by no watch."""
    live = api.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, deployment("a"))
    start = live["metadata"]["resourceVersion"]
    events = queue.Queue()

    def watching():
        for event in watch.Watch().stream(api.list_namespaced_custom_object, GROUP, VERSION, NS, PLURAL,
                                          resource_version=start, timeout_seconds=20):
            labels = event["object"]["metadata"].get("labels") or {}
            events.put((event["type"], event["object"]["metadata"]["name"], labels.get("real")))
    # (The watch starts at `start`: it sees every change after it, whenever it opens.)
    threading.Thread(target=watching, daemon=True).start()

    created = api.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, deployment("b"), dry_run="All")
    changed = dict(live)
    changed["spec"] = {**live["spec"], "model": {"name": "m", "version": "2"}}
    replaced = api.replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "a", changed, dry_run="All")
    patched = api.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "a",
                                                 {"spec": {"model": {"name": "m", "version": "3"}}}, dry_run="All")
    status = api.patch_namespaced_custom_object_status(GROUP, VERSION, NS, PLURAL, "a", {"status": {"phase": "Ready"}},
                                                       dry_run="All")
    deleted = api.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "a", dry_run="All")
    invalid = error(lambda: api.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, deployment("bad", version="v1"),
                                                                dry_run="All"))
    api.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "a", {"metadata": {"labels": {"real": "yes"}}})
    conflict = error(lambda: api.replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "a", changed, dry_run="All"))
    unsupported = error(lambda: api.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, deployment("c"), dry_run="Server"))

    stored = api.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "a")
    listed = api.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)
    # A second real write closes the window: every event up to its own was caused by something
    # above, so reading up to it (never waiting on an empty queue) sees all there is to see.
    api.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "a", {"metadata": {"labels": {"real": "again"}}})
    # Each event carries the label value it was written with: a dry run that leaked an event would
    # show up as one without "yes" or "again".
    seen = []
    while ["MODIFIED", "a", "again"] not in seen:
        seen.append(list(events.get(timeout=20)))
    return {"created": [created["metadata"]["name"], created["metadata"].get("resourceVersion")],
            "replaced": [replaced["spec"]["model"]["version"], replaced["metadata"]["generation"]],
            "patched": patched["spec"]["model"]["version"], "status": status["status"]["phase"],
            "deleted": deleted["metadata"]["name"], "invalid": invalid, "conflict": conflict, "unsupported": unsupported,
            "stored": [stored["spec"]["model"]["version"], stored["metadata"]["generation"], "status" in stored],
            "names": [item["metadata"]["name"] for item in listed["items"]], "events": seen}


CANDIDATE = r'''
import sys, uuid
from kubernetes import config
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock
config.load_kube_config(sys.argv[1])
identity = sys.argv[2]
def leading():
    print("LEADING " + identity, flush=True)
    import time
    while True:
        time.sleep(1)
lock = LeaseLock("modelplane-test", "default", identity)
leaderelection.LeaderElection(electionconfig.Config(lock, lease_duration=4, renew_deadline=3, retry_period=1,
    onstarted_leading=leading, onstopped_leading=lambda: print("STOPPED " + identity, flush=True))).run()
'''


def leader(kubeconfig):
    def start(identity):
        process = subprocess.Popen([sys.executable, "-c", CANDIDATE, kubeconfig, identity], stdout=subprocess.PIPE, text=True)
        # One reader per process, so no line is lost between waits.
        process.lines = queue.Queue()
        threading.Thread(target=lambda: [process.lines.put(line.strip()) for line in process.stdout], daemon=True).start()
        return process

    def wait_for_line(process, timeout):
        try:
            return process.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    first = start("candidate-a")
    # Returns at the first line; the margin is for a loaded machine (importing the client alone
    # has taken over 15 s while the whole suite runs on 2 cores).
    first_line = wait_for_line(first, 60)
    second = start("candidate-b")
    second_early = wait_for_line(second, 6)  # a lease of 4 s renewed every second: b must not lead
    t0 = time.time()
    first.kill()
    second_line = second_early or wait_for_line(second, 15)
    handover = time.time() - t0
    second.kill()
    return {"first": first_line, "secondWhileFirstAlive": second_early, "second": second_line, "handoverSeconds": handover}


def main():
    kubeconfig, check = sys.argv[1], sys.argv[2]
    config.load_kube_config(kubeconfig)
    api = client.CustomObjectsApi()
    result = {"crud": crud, "watch": watch_events, "gone": gone, "dryrun": dry_run}.get(check, lambda _: leader(kubeconfig))(api)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

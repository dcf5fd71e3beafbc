"""Schemathesis hooks for the runs against `modelplane serve` (SCHEMATHESIS_HOOKS=schemathesis_hooks).

The stateful phase follows a create's links to read, replace, patch and delete what it created,
and checks that what was created can be read and what was deleted cannot. A dry run creates and
deletes nothing by design, so in that phase the requests are real writes: dryRun is taken out of
the query and out of DeleteOptions bodies. The other phases send dryRun as generated, and their
checks hold for dry runs as for real writes.

Finalizers are left out of what that phase creates for the same reason: an object with finalizers
is only marked for deletion (kube-apiserver's semantics), and stays readable until they are
removed, which the deleted-resource check would take for a delete that did not happen.
"""
import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    meta = case.meta
    if meta is None or meta.phase.name != "stateful":
        return
    if isinstance(case.query, dict):
        case.query.pop("dryRun", None)
    if isinstance(case.body, dict):
        case.body.pop("dryRun", None)
        if isinstance(case.body.get("metadata"), dict):
            case.body["metadata"].pop("finalizers", None)

"""kmock's Kubernetes API emulator on a real port, with a control API for wire tests.

Prints "READY <port>" once listening on 127.0.0.1. Everything under /_peer/ is ours:
  POST /_peer/faults    queue canned answers: [{"method": "GET", "path": "/apis/...", "query": "watch=true",
                        "status": 500, "body": {...}, "headers": {...}, "chunks": ["..."], "drop": false,
                        "times": 1}]; a request matching method, path prefix and query substring gets
                        the next one (a status reply, or a 200 stream of chunks, closed abruptly if drop)
  GET  /_peer/requests  every request seen: method, path, query, content type, body, authorization scheme
Everything else goes to kmock.KubernetesEmulator (in-memory objects, lists, watch streams).
Options: --cert/--key serve TLS; --client-ca requires client certificates; --token requires
"Authorization: Bearer TOKEN" (401 otherwise).
"""
import argparse
import asyncio
import json
import sys

import aiohttp.web
import kmock

import peer_tls

faults = []
requests = []


async def main():
    parser = argparse.ArgumentParser()
    peer_tls.add_arguments(parser)
    parser.add_argument("--token")
    args = parser.parse_args()

    async with kmock.KubernetesEmulator() as emulator:
        emulator.resources["modelplane.dev/v1alpha1/modeldeployments"] = kmock.ResourceInfo(kind="ModelDeployment", namespaced=True, subresources={"status"})
        emulator.resources["coordination.k8s.io/v1/leases"] = kmock.ResourceInfo(kind="Lease", namespaced=True)
        emulator.resources["events.k8s.io/v1/events"] = kmock.ResourceInfo(kind="Event", namespaced=True)

        async def handle(raw):
            body = await raw.read()
            if raw.path.startswith("/_peer/"):
                if raw.path == "/_peer/faults":
                    for fault in json.loads(body):
                        faults.append(dict(fault, times=fault.get("times", 1)))
                    return aiohttp.web.json_response({"queued": len(faults)})
                if raw.path == "/_peer/requests":
                    return aiohttp.web.json_response(requests)
                return aiohttp.web.json_response({"error": "unknown control path"}, status=404)

            auth = raw.headers.get("Authorization", "")
            raw_query = raw.raw_path.partition("?")[2]  # as sent, still percent-encoded
            requests.append({
                "method": raw.method, "path": raw.path, "query": raw_query,
                "contentType": raw.headers.get("Content-Type"), "accept": raw.headers.get("Accept"),
                "body": body.decode("utf-8", "replace"), "auth": auth.split(" ")[0] if auth else None,
            })
            if args.token and auth != f"Bearer {args.token}":
                return aiohttp.web.json_response(
                    {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "Unauthorized",
                     "reason": "Unauthorized", "code": 401}, status=401)

            for fault in faults:
                if (fault.get("method", raw.method) == raw.method and raw.path.startswith(fault.get("path", ""))
                        and fault.get("query", "") in raw_query):
                    fault["times"] -= 1
                    if fault["times"] <= 0:
                        faults.remove(fault)
                    if "chunks" in fault:
                        response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
                        await response.prepare(raw)
                        for chunk in fault["chunks"]:
                            await response.write(chunk.encode())
                            await asyncio.sleep(0.005)
                        if fault.get("drop"):
                            raw.transport.close()
                            return response
                        await response.write_eof()
                        return response
                    if fault.get("drop"):
                        raw.transport.close()
                        return aiohttp.web.Response(status=500)
                    return aiohttp.web.json_response(fault.get("body", {}), status=fault["status"],
                                                     headers=fault.get("headers", {}))
            return await emulator(raw)

        context = peer_tls.server_context(args)
        runner = aiohttp.web.ServerRunner(aiohttp.web.Server(handle))
        await runner.setup()
        site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        # Stop when the test that started us goes away (stdin closes).
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())

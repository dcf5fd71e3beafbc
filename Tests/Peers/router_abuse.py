"""Sends malformed requests to the inference router over raw sockets and says what came back.

    router_abuse.py ROUTER_URL NAME COUNT

COUNT requests of each kind, several at once:
  bad_json     a body that is not JSON
  truncated    a Content-Length the body never reaches, then the write side closed
  huge_header  a 100 KiB header
  slow         a request line and half a header, then nothing (the sender stalls)
  bad_binary   an Inference-Header-Content-Length that is not a number, and one past the body
Prints {"KIND": {"STATUS or closed or timeout": count}, "seconds": {"slow": longest wait}} as JSON.
"""
import collections
import concurrent.futures
import json
import socket
import sys
import time
from urllib.parse import urlparse

url = urlparse(sys.argv[1])
name = sys.argv[2]
count = int(sys.argv[3])
path = f"/v2/models/{name}/infer"


def exchange(raw, close_write=False, timeout=20):
    """Sends raw bytes (then, close_write, ends the sending side); returns the status code of the
    answer, 'closed' or 'timeout', and the time taken."""
    started = time.monotonic()
    sock = socket.create_connection((url.hostname, url.port), timeout=timeout)
    try:
        sock.sendall(raw)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        if not data:
            return "closed", time.monotonic() - started
        return data.split(b" ")[1].decode(), time.monotonic() - started
    except socket.timeout:
        return "timeout", time.monotonic() - started
    except (ConnectionResetError, BrokenPipeError):
        return "closed", time.monotonic() - started
    finally:
        sock.close()


def request(body, headers=b""):
    return (
        f"POST {path} HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
        + headers + b"\r\n" + body
    )


valid = b'{"inputs":[{"name":"INPUT0","shape":[1],"datatype":"FP32","data":[1.0]}]}'
kinds = {
    "bad_json": lambda: exchange(request(b"{not json")),
    "truncated": lambda: exchange(
        f"POST {path} HTTP/1.1\r\nHost: router\r\nContent-Length: 1000\r\n\r\n".encode() + b'{"inputs": [', close_write=True),
    "huge_header": lambda: exchange(request(valid, b"X-Big: " + b"a" * 100_000 + b"\r\n")),
    "slow": lambda: exchange(f"POST {path} HTTP/1.1\r\nHost: router\r\nX-Half".encode()),
    "bad_binary": lambda: exchange(request(valid, b"Inference-Header-Content-Length: abc\r\n")),
    "binary_past_end": lambda: exchange(request(valid, b"Inference-Header-Content-Length: 999999\r\n")),
}
result = {}
longest = {}
with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
    for kind, send in kinds.items():
        outcomes = list(pool.map(lambda _: send(), range(count)))
        result[kind] = dict(collections.Counter(status for status, _ in outcomes))
        longest[kind] = max(seconds for _, seconds in outcomes)
result["seconds"] = longest
print(json.dumps(result))

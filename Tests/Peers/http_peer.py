"""A real HTTP/1.1 server (Python's standard library) for the HTTP client's wire tests.

Prints "READY <port>" when listening on 127.0.0.1. Endpoints:
  /echo                 any method: the request as JSON (method, path, headers, body, client port)
  /stream?lines=N&interval=MS   a chunked response of N JSON lines, cut at awkward places
  /forever              a chunked response that never ends (one line every 50 ms)
  /hold?ms=N            answers after N ms
  /status/N             answers with status N
  /bytes?n=N            N bytes
  /drop                 promises 100 bytes, sends 10 and closes the connection
  /wait-idle?timeout=S  answers once no /forever stream is open (or 504 after S seconds)
  /count                how many requests (other than /count) the server has seen
  /webhook/ANSWER?secret=S   an analysis webhook: 401 unless X-Modelplane-Signature is
                        sha256=HMAC-SHA256(S, X-Modelplane-Timestamp + "." + body), else ANSWER as the
                        body (a number, or "ok"); the last payload is kept at /webhook-last
  /webhook/S/ANSWER     the same with the secret in the path (a spec's webhook URL has no query)
  /aws/KEY/N/CODE/      an AWS JSON 1.1 service: the first N requests for KEY fail with error CODE
                        (HTTP 400, or 503 for ServiceUnavailable), later ones answer {"ok": true}
Options: --cert/--key serve TLS; --client-ca also requires a client certificate signed by it;
--unaccepting listens but never accepts, with its accept queue full, so connecting hangs.
"""
import argparse
import hashlib
import hmac
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import peer_tls

open_streams = 0
last_webhook = None
requests_seen = 0
aws_seen = {}
streams_changed = threading.Condition()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, payload, content_type="application/json"):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def handle_any(self):
        global requests_seen
        url = urlparse(self.path)
        if url.path == "/count":
            return self._send(200, {"requests": requests_seen})
        requests_seen += 1
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self._body()
        if url.path == "/echo":
            cert = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
            subject = dict(x[0] for x in cert["subject"]) if cert else None
            self._send(200, {
                "method": self.command, "path": url.path, "query": query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"), "clientPort": self.client_address[1],
                "clientCertificate": subject.get("commonName") if subject else None,
            })
        elif url.path == "/stream":
            lines = int(query.get("lines", "10"))
            interval = int(query.get("interval", "0")) / 1000
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            text = b"".join(json.dumps({"n": i, "pad": "x" * (i * 7 % 50)}).encode() + b"\n" for i in range(lines))
            # Cut the text into chunks of varying size that ignore line boundaries.
            i, size = 0, 1
            while i < len(text):
                self._chunk(text[i:i + size])
                i += size
                size = size * 3 % 97 + 1
                if interval:
                    time.sleep(interval)
            self.wfile.write(b"0\r\n\r\n")
        elif url.path == "/forever":
            global open_streams
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            with streams_changed:
                open_streams += 1
                streams_changed.notify_all()
            try:
                n = 0
                while True:
                    self._chunk(json.dumps({"n": n}).encode() + b"\n")
                    n += 1
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                pass
            finally:
                with streams_changed:
                    open_streams -= 1
                    streams_changed.notify_all()
                self.close_connection = True
        elif url.path == "/wait-idle":
            deadline = time.monotonic() + float(query.get("timeout", "5"))
            with streams_changed:
                while open_streams > 0 and time.monotonic() < deadline:
                    streams_changed.wait(deadline - time.monotonic())
                idle = open_streams == 0
            self._send(200 if idle else 504, {"openStreams": open_streams})
        elif url.path == "/hold":
            time.sleep(int(query.get("ms", "1000")) / 1000)
            self._send(200, {"held": True})
        elif url.path.startswith("/aws/"):
            _, _, key, count, code = url.path.rstrip("/").split("/")
            with streams_changed:
                seen = aws_seen.get(key, 0) + 1
                aws_seen[key] = seen
            if seen <= int(count):
                status = 503 if code == "ServiceUnavailable" else 400
                self.send_response(status)
                payload = json.dumps({"__type": "com.amazonaws.sagemaker#" + code, "message": "scripted " + code}).encode()
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("X-Amzn-ErrorType", code)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            else:
                self._send(200, {"ok": True, "attempts": seen})
        elif url.path.startswith("/webhook/"):
            global last_webhook
            parts = url.path.split("/")[2:]
            secret = parts[0] if len(parts) == 2 else query.get("secret", "")
            expected = "sha256=" + hmac.new(secret.encode(), self.headers.get("X-Modelplane-Timestamp", "").encode() + b"." + body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, self.headers.get("X-Modelplane-Signature", "")):
                return self._send(401, {"error": "bad signature"})
            last_webhook = json.loads(body or b"null")
            answer = url.path.rsplit("/", 1)[1].encode()
            self._send(200, answer, "application/json" if answer != b"ok" else "text/plain")
        elif url.path == "/webhook-last":
            self._send(200, last_webhook)
        elif url.path.startswith("/status/"):
            self._send(int(url.path.rsplit("/", 1)[1]), {"status": "as asked"})
        elif url.path == "/bytes":
            self._send(200, b"x" * int(query.get("n", "0")), "application/octet-stream")
        elif url.path == "/drop":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
        else:
            self._send(404, {"error": "not found"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    parser = argparse.ArgumentParser()
    peer_tls.add_arguments(parser)
    parser.add_argument("--unaccepting", action="store_true")
    args = parser.parse_args()
    if args.unaccepting:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        # Fill the accept queue: the kernel then drops further SYNs, and a client's connect hangs.
        queued = []
        for _ in range(4):
            client = socket.socket()
            client.setblocking(False)
            try:
                client.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            queued.append(client)
        time.sleep(0.2)
        print(f"READY {port}", flush=True)
        sys.stdin.read()
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = peer_tls.server_context(args)
    if context:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"READY {server.server_address[1]}", flush=True)
    # Stop when the test that started us goes away (stdin closes).
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()

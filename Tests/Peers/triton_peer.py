"""Runs a real tritonserver (from nvidia-pytriton, installed by scripts/setup-peers) for tests.

    triton_peer.py --repository DIR

Starts Triton in explicit model-control mode on free ports, waits until it is ready, and prints
"READY <http port>". Commands on stdin, one per line: "stop" kills Triton (as a crash would), "start"
starts it again on the same ports; each answers "OK". Triton dies with this process.
"""
import argparse, ctypes, os, signal, site, socket, subprocess, sys, time, urllib.request

def free_ports(count):
    """Distinct free ports: all bound at once (ports picked one after another can repeat, and
    Triton then fails with "already in use" on its own second port)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()

def die_with_parent():
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repository", required=True)
    args = parser.parse_args()
    site_dir = site.getsitepackages()[0]
    triton = os.path.join(site_dir, "pytriton", "tritonserver")
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.path.join(site_dir, "nvidia_pytriton.libs") + ":" + env.get("LD_LIBRARY_PATH", "")
    env["PATH"] = os.path.dirname(sys.executable) + ":" + env.get("PATH", "")

    def start():
        process = subprocess.Popen(
            [os.path.join(triton, "bin", "tritonserver"), f"--model-repository={args.repository}", "--model-control-mode=explicit",
             f"--backend-directory={os.path.join(triton, 'backends')}", f"--http-port={http}",
             # Only HTTP: the tests use nothing else, and every other port Triton binds after its
             # HTTP service is one a parallel test can take first, which killed Triton after it
             # had answered ready (seen: "failed to start Metrics service: ... already in use").
             "--allow-grpc=false", "--allow-metrics=false", "--log-verbose=0"],
            env=env, stdout=log, stderr=log, preexec_fn=die_with_parent)
        deadline = time.time() + 60
        while time.time() < deadline:
            if process.poll() is not None:
                return None
            try:
                # Ready, and it is ours answering (not another server that took the port first).
                ready = urllib.request.urlopen(f"http://127.0.0.1:{http}/v2/health/ready", timeout=1).status == 200
                ours = f"Started HTTPService at 0.0.0.0:{http}".encode() in open(log.name, "rb").read()
                if ready and ours and process.poll() is None:
                    return process
                time.sleep(0.1)
            except Exception:
                time.sleep(0.1)
        sys.exit("tritonserver was not ready within 60 s")

    # Another process may take the free port before Triton binds it: then a new one, twice more.
    for attempt in range(3):
        (http,) = free_ports(1)
        log = open(os.path.join(args.repository, "..", f"triton-{http}.log"), "ab")
        process = start()
        if process is not None:
            break
        log.close()
        if attempt == 2 or b"already in use" not in open(log.name, "rb").read():
            sys.exit(f"tritonserver exited; see {log.name}")
    print(f"READY {http}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "stop":
            process.kill()
            process.wait()
        elif command == "start":
            process = start()
            if process is None:
                sys.exit(f"tritonserver exited; see {log.name}")
        print("OK", flush=True)
    process.kill()

if __name__ == "__main__":
    main()

"""A real OpenSSH server (Debian's sshd, installed by scripts/install-system-deps) on a free
loopback port, for the Git-over-ssh tests.

    ssh_peer.py --dir DIR --host-key FILE --authorized-keys FILE

Writes DIR/sshd_config (public-key authentication only, for the user running it), starts
`sshd -D -e` with its log in DIR/sshd.log, and prints "READY <port>" once it listens. Commands on
stdin, each answered "OK" once done:
    rekey FILE    restarts sshd on the same port with another host key (a server whose key changed)
stdin closing stops it.
"""
import argparse, os, signal, socket, subprocess, sys, time

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def start(args, port, host_key):
    config = os.path.join(args.dir, "sshd_config")
    with open(config, "w") as f:
        f.write(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
AuthorizedKeysFile {args.authorized_keys}
PidFile {os.path.join(args.dir, "sshd.pid")}
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
LogLevel VERBOSE
""")
    if os.getuid() == 0:
        # sshd's privilege separation directory (a service manager makes it; here there may be none).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    log = open(os.path.join(args.dir, "sshd.log"), "a")
    process = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", config], stdin=subprocess.DEVNULL,
                               stdout=log, stderr=log, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"sshd exited with {process.returncode}: {open(log.name).read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(4).startswith(b"SSH-"):
                    return process
        except OSError:
            time.sleep(0.05)
    sys.exit(f"sshd did not listen on {port}: {open(log.name).read()}")

def stop(process):
    # sshd and the session processes it forked (its process group).
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    process.wait()

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--host-key", required=True)
    parser.add_argument("--authorized-keys", required=True)
    args = parser.parse_args()
    port = free_port()
    process = start(args, port, args.host_key)
    print(f"READY {port}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["rekey"] and len(words) == 2:
            stop(process)
            process = start(args, port, words[1])
        print("OK", flush=True)
    stop(process)

if __name__ == "__main__":
    main()

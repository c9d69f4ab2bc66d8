#!/usr/bin/env python3
"""Hold N idle HTTP/1.1 keep-alive connections through a proxy (memory sub-run of bench/run).

Opens N connections to HOST:PORT, sends one GET on each and reads the whole answer, then keeps
every connection open and idle. Prints one line once they are all set up:

    ready ok=<connections that got a 200 and stayed open> failed=<the rest>

and holds them until SIGTERM/SIGINT or --hold seconds. On the way out it prints

    done closed_by_peer=<connections the proxy closed while they were idle>

so the harness can tell whether the proxy really kept them. Exit status 0 unless nothing could
be opened at all.
"""

import argparse
import errno
import resource
import signal
import socket
import sys
import time


def read_answer(sock):
    """Read one HTTP/1.1 answer; return (status, keeps_alive)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the end of the headers")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError("bad status line %r" % lines[0][:80])
    status = int(parts[1])
    length, chunked, close = None, False, parts[0] == b"HTTP/1.0"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
        elif name == b"connection":
            close = value == b"close"
    if chunked:
        while not body.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed inside a chunked body")
            body += chunk
    elif length is not None:
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed inside the body")
            body += chunk
    else:
        raise ValueError("answer without Content-Length or chunked body")
    return status, not close


def closed_by_peer(sock):
    try:
        sock.setblocking(False)
        data = sock.recv(1, socket.MSG_PEEK)
        return data == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--host-header", default="bench")
    ap.add_argument("--path", default="/")
    ap.add_argument("--timeout", type=float, default=5.0, help="per connect/answer, seconds")
    ap.add_argument("--hold", type=float, default=120.0, help="give up holding after this")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.conns + 64
    if soft < want:
        new_soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    request = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench-idle-conns\r\n\r\n"
               % (args.path, args.host_header)).encode()
    held, first_error = [], None
    for _ in range(args.conns):
        if stop:
            break
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(args.timeout)
        try:
            sock.connect((args.host, args.port))
            sock.sendall(request)
            status, alive = read_answer(sock)
            if status // 100 != 2:
                raise ValueError("HTTP %d" % status)
            if not alive:
                raise ValueError("server asked to close the connection")
            held.append(sock)
        except (OSError, ValueError) as exc:
            if first_error is None:
                first_error = "%s: %s" % (type(exc).__name__, exc)
            sock.close()
            if isinstance(exc, OSError) and exc.errno == errno.EMFILE:
                break

    line = "ready ok=%d failed=%d" % (len(held), args.conns - len(held))
    if first_error:
        line += " first_error=%s" % first_error.replace(" ", "_")
    print(line, flush=True)

    deadline = time.monotonic() + args.hold
    while not stop and time.monotonic() < deadline:
        time.sleep(0.05)

    gone = sum(1 for s in held if closed_by_peer(s))
    print("done closed_by_peer=%d" % gone, flush=True)
    for s in held:
        s.close()
    return 0 if held or args.conns == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""bench/test_openloop.py - self-check of mesh-openloop (meson suite 'bench').

    test_openloop.py MESH_OPENLOOP MESH_TESTSRV

Starts mesh-testsrv on a free loopback port, runs mesh-openloop for 2 s at 200 req/s over
4 connections (0.5 s warm-up) and checks its JSON: requests within 10 % of 400, no error,
p50 above 0. Also checks that a non-loopback target and bad arguments are refused with a
message, and that a closed port makes it fail at start. Every wait is bounded; the server is killed in all cases."""
import json
import os
import select
import signal
import subprocess
import sys
import time


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def start_server(testsrv):
    srv = subprocess.Popen([testsrv, "--ip", "127.0.0.1", "0"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 10
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([srv.stdout], [], [], left)[0]:
            raise RuntimeError("mesh-testsrv did not say it listens within 10 s")
        ch = os.read(srv.stdout.fileno(), 1)
        if not ch:
            raise RuntimeError("mesh-testsrv exited: %r" % line)
        line += ch
    text = line.decode().strip()
    if not text.startswith("listening on "):
        raise RuntimeError("mesh-testsrv said %r" % text)
    return srv, text[len("listening on "):]


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def refused(openloop, args, expect):
    r = subprocess.run([openloop] + args, capture_output=True, text=True, timeout=10)
    if r.returncode == 0 or expect not in r.stderr:
        fail("%s: expected an error containing %r, got rc %d, stderr %r"
             % (" ".join(args), expect, r.returncode, r.stderr))


def main():
    openloop, testsrv = sys.argv[1], sys.argv[2]

    refused(openloop, ["--rate", "10", "--duration", "1", "10.0.0.1:80"], "only loopback")
    refused(openloop, ["--rate", "10", "--duration", "1", "[::2]:80"], "only loopback")
    refused(openloop, ["--rate", "0", "--duration", "1", "127.0.0.1:80"], "--rate")
    refused(openloop, ["--rate", "10", "127.0.0.1:80"], "--duration is required")
    refused(openloop, ["--rate", "10", "--duration", "1", "--path", "x", "127.0.0.1:80"],
            "must start with '/'")

    srv, addr = start_server(testsrv)
    try:
        cmd = [openloop, "--rate", "200", "--duration", "2", "--warmup", "0.5",
               "--conns", "4", "--host", "bench", "--path", "/", "--json", addr]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        print("$ " + " ".join(cmd))
        print(r.stdout + r.stderr, end="")
        if r.returncode != 0:
            fail("mesh-openloop exited with %d" % r.returncode)
        res = json.loads(r.stdout)
        if not 360 <= res["requests"] <= 440:
            fail("requests %d, expected 400 +/- 10 %%" % res["requests"])
        if res["errors"] != 0:
            fail("%d errors" % res["errors"])
        if not res["p50_us"] > 0:
            fail("p50 is %d" % res["p50_us"])
        if not res["p50_us"] <= res["p90_us"] <= res["p99_us"] <= res["p99_9_us"] \
                <= res["max_us"]:
            fail("percentiles out of order")
    finally:
        stop(srv)
    # nothing listens there any more
    refused(openloop, ["--rate", "10", "--duration", "1", addr], "cannot connect")
    print("ok: %d requests, p50 %d us, p99 %d us, late sends %d, send lag p99 %d us"
          % (res["requests"], res["p50_us"], res["p99_us"], res["late_sends"],
             res["lag_p99_us"]))


if __name__ == "__main__":
    main()

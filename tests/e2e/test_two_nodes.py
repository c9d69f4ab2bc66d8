#!/usr/bin/env python3
"""tests/e2e/test_two_nodes.py - the traced demo, end to end: the two-node mesh of
tools/lib/twonode.py (network namespaces as root, loopback addresses otherwise) with
node 1's meshagent shipping to a Zipkin HTTP collector and node 2's to a Scribe collector
(Apache Thrift's own server), both keeping their local store too. One walkthrough request
(http_proxy=node1:4140 curl http://hello) must give:
  - the answer "Hello (<node 1>) world (<node 2>)!";
  - one trace of 8 spans across the two agents' stores: server and client alternating in
    one parent chain, server spans named by the routers (0.0.0.0/4140 and 0.0.0.0/4141 in
    namespaces), client spans by the destination, the documented tags;
  - the trace found by serviceName in node 1's Zipkin API;
  - node 1's spans at the HTTP collector and node 2's at the Scribe collector, together
    exactly the 8 spans of the stores;
  - with a world that fails (hello2 -> world2 --failure-rate 1): hello2's 502 saying what
    world2 answered, and a trace of 4 spans with 500 and 4 with 502, each with an error tag.
Environment: BUILD_ROOT (meson build dir), SOURCE_ROOT, ZIPKIN_SPEC_DIR. Bounded: 90 s."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SRC = os.environ.get("SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tools", "lib"))
import twonode  # noqa: E402

failures = []
# Debian's python3-thrift is for /usr/bin/python3, which may not be the first python3
DEBIAN_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_lines(path, want, timeout):
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        try:
            with open(path) as f:
                lines = [line for line in f.read().splitlines() if line]
        except OSError:
            lines = []
        if want(lines):
            break
        time.sleep(0.2)
    return lines


def main():
    signal.signal(signal.SIGALRM, lambda *a: sys.exit("FAIL: the test took over 90 s"))
    # meson's timeout (and ^C) end the test with SIGTERM/SIGINT: clean up all the same
    signal.signal(signal.SIGTERM, lambda *a: sys.exit("FAIL: terminated"))
    signal.alarm(90)
    build = os.environ.get("BUILD_ROOT", os.path.join(SRC, "build"))
    spec = os.environ.get("ZIPKIN_SPEC_DIR", os.path.join(SRC, "..", "shared", "spec", "zipkin"))
    run = tempfile.mkdtemp(prefix="mesh-e2e-")
    http_port, scribe_port = free_port(), free_port()
    http_out, scribe_out = os.path.join(run, "http-sink.jsonl"), os.path.join(run, "scribe.txt")
    mode = os.environ.get("E2E_MODE")  # "netns", "loopback"; default: netns when root
    mesh = twonode.Mesh(build, run, mode=mode, tag="mshe2e%d" % (os.getpid() % 1000),
                        subnet="10.78.%d" % (os.getpid() % 200 + 1),
                        collectors={1: "http://127.0.0.1:%d" % http_port,
                                    2: "scribe://127.0.0.1:%d" % scribe_port})
    print("mode: %s, run dir %s" % (mesh.mode, run), flush=True)
    if mode is None and mesh.mode == "loopback" and os.geteuid() == 0:
        print("network namespaces cannot be made here (%s): loopback mode" % twonode.netns_why(),
              flush=True)

    def failing_pair(m):
        # hello2 on node 1 calls world2 on node 2, which fails every request (--failure-rate 1)
        srv = os.path.join(build, "tools", "mesh-testsrv")
        for name, node, port in (("hello2", 1, 7779), ("world2", 2, 7780)):
            with open(os.path.join(run, "disco", name), "w") as f:
                f.write("%s %d\n" % (m.ip[node], port))
        m.spawn(2, "world2", [srv, "--name", "world2", "--ip", m.ip[2], "--failure-rate", "1",
                              "7780"])
        m.spawn(1, "hello2", [srv, "--name", "hello2", "--text", "Hello", "--ip", m.ip[1],
                              "--call", "world2", "7779"], env={"http_proxy": m.proxy_url(1)})

    def collectors(m):
        # each collector on its node's own loopback (a namespace's own in netns mode)
        m.spawn(1, "http-sink", [sys.executable, os.path.join(SRC, "tests/tools/zipkin_http_sink.py"),
                                 "127.0.0.1", str(http_port), http_out])
        m.spawn(2, "scribe", [DEBIAN_PYTHON, os.path.join(SRC, "tests/tools/scribe_server.py"),
                              spec, str(scribe_port), scribe_out])
        failing_pair(m)

    try:
        mesh.start(before_nodes=collectors)
        status, body = mesh.get("hello")
        want = "Hello (%s) world (%s)!" % (mesh.ip[1], mesh.ip[2])
        check(status == 200 and body.strip() == want, "answer %r == %r" % (body.strip(), want))

        # the trace, from both agents' local stores
        spans, tid = [], None
        deadline = time.time() + 15
        while time.time() < deadline:
            time.sleep(0.5)
            tid = mesh.last_trace_id()
            spans = mesh.trace(tid) if tid else []
            if len(spans) >= 8:
                time.sleep(1.5)  # anything more would be a defect: look once more
                spans = mesh.trace(tid)
                break
        check(len(spans) == 8, "one trace of 8 spans in the stores (got %d)" % len(spans))
        by_id = {}
        for s in spans:
            by_id.setdefault(s["id"], []).append(s)
        roots = [s for s in spans if "parentId" not in s]
        check(len(roots) == 1 and roots[0]["kind"] == "SERVER", "one root, a server span")
        chain = []
        ids = {s["id"]: s for s in spans}
        parent_of = {s["id"]: s.get("parentId") for s in spans}
        if len(roots) == 1:
            cur = roots[0]
            while cur is not None:
                chain.append(cur)
                kids = [s for s in spans if s.get("parentId") == cur["id"]]
                check(len(kids) <= 1, "span %s has at most one child" % cur["id"])
                cur = kids[0] if kids else None
        check(len(chain) == 8 and len(ids) == 8 and all(parent_of[s["id"]] in ids or
                                                        s is roots[0] for s in spans),
              "the 8 spans form one parent chain")
        kinds = [s["kind"] for s in chain]
        check(kinds == ["SERVER", "CLIENT"] * 4, "kinds alternate server/client: %s" % kinds)
        host = "0.0.0.0" if mesh.mode == "netns" else None
        names = [s["localEndpoint"]["serviceName"] for s in chain]
        srv = ["%s/4140" % (host or mesh.ip[1]), "%s/4141" % (host or mesh.ip[1]),
               "%s/4140" % (host or mesh.ip[1]), "%s/4141" % (host or mesh.ip[2])]
        check(names[0::2] == srv, "server span names %s == %s" % (names[0::2], srv))
        check(names[1::2] == ["hello", "hello", "world", "world"],
              "client span names %s" % names[1::2])
        node_of = [s["localEndpoint"].get("ipv4") for s in chain]
        check(node_of == [mesh.ip[1]] * 6 + [mesh.ip[2]] * 2,
              "spans recorded on nodes %s" % node_of)
        for s in chain:
            t = s.get("tags", {})
            check(t.get("http.method") == "GET" and t.get("http.status_code") == "200" and
                  t.get("http.path") == "/" and t.get("service") in ("/svc/hello", "/svc/world")
                  and t.get("router.label") in ("outgoing", "incoming"),
                  "tags of %s %s: %s" % (s["kind"], s["localEndpoint"]["serviceName"],
                                         {k: t.get(k) for k in ("http.method", "http.status_code",
                                                                "service", "router.label")}))
        check(len({s["traceId"] for s in spans}) == 1 and len(spans[0]["traceId"]) == 32,
              "one 128-bit trace id")

        # searchable by the walkthrough's service name
        svc = srv[0]
        url = "%s/api/v2/traces?serviceName=%s&limit=10" % (mesh.agent_url(1), svc)
        with urllib.request.urlopen(url, timeout=2) as r:
            found = [t[0]["traceId"] for t in json.load(r)]
        check(tid in found, "trace found by serviceName=%s" % svc)

        # the collectors: node 1's spans over HTTP, node 2's over Scribe
        mine1 = {s["id"] for s in chain[:6]}
        mine2 = {s["id"] for s in chain[6:]}
        http_lines = wait_lines(http_out, lambda ls: mine1 <= {
            json.loads(line)["id"] for line in ls if json.loads(line)["traceId"] == tid}, 15)
        http_ids = {json.loads(line)["id"] for line in http_lines
                    if json.loads(line)["traceId"] == tid}
        check(http_ids == mine1, "the HTTP collector got node 1's %d spans (got %d)" %
              (len(mine1), len(http_ids)))
        scribe_lines = wait_lines(scribe_out, lambda ls: mine2 <= {
            line.split()[2] for line in ls if line.split()[1] == tid}, 15)
        scribe_ids = {line.split()[2] for line in scribe_lines if line.split()[1] == tid}
        if not scribe_ids:
            with open(os.path.join(run, "scribe.log"), errors="replace") as f:
                print("scribe server: " + f.read()[-500:])
        check(scribe_ids == mine2, "the Scribe collector got node 2's %d spans (got %d)" %
              (len(mine2), len(scribe_ids)))
        check(all(line.split()[0] == "zipkin" for line in scribe_lines),
              "Scribe category is zipkin")
        check((http_ids | scribe_ids) == set(ids), "collectors together hold the 8 spans")

        # a failing world: hello2 says what world2 answered, with a 502; the trace shows
        # world2's 500 on node 2 and the 502 on node 1, each span with an error tag
        ftid, fsid = "%032x" % (int(time.time() * 1e6) | 1 << 120), "%016x" % (os.getpid() + 1)
        status, body = mesh.get("hello2", headers={"X-B3-TraceId": ftid, "X-B3-SpanId": fsid,
                                                   "X-B3-Sampled": "1"})
        want = "Hello (%s) world2 answered 500 through %s:4140!" % (mesh.ip[1], mesh.ip[1])
        check(status == 502 and body.strip() == want,
              "failing world: %d %r == 502 %r" % (status, body.strip(), want))
        fspans = []
        deadline = time.time() + 15
        while time.time() < deadline and len(fspans) < 8:
            time.sleep(0.5)
            fspans = mesh.trace(ftid)
        codes = sorted(s.get("tags", {}).get("http.status_code", "?") for s in fspans)
        check(codes == ["500"] * 4 + ["502"] * 4,
              "failing world: 8 spans, 4 of 500 and 4 of 502 (got %s)" % codes)
        check(all(s.get("tags", {}).get("error") for s in fspans),
              "failing world: every span has an error tag")
    finally:
        twonode.stop(run)
        # no sanitizer report in any log
        for name in sorted(os.listdir(run)):
            if name.endswith(".log"):
                with open(os.path.join(run, name), errors="replace") as f:
                    text = f.read()
                if re.search(r"ERROR: (Address|Leak)Sanitizer|runtime error:", text):
                    failures.append("sanitizer report in %s" % name)
                    print(text[-3000:])
        if mesh.mode == "netns":
            left = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
                                  text=True).stdout
            check(mesh.ns(1) not in left and mesh.ns(2) not in left, "namespaces removed")
        if not failures:
            subprocess.run(["rm", "-rf", run])
    if failures:
        print("%d check(s) failed; logs in %s" % (len(failures), run))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

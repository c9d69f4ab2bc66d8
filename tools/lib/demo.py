"""tools/lib/demo.py - the body of tools/demo: starts the two-node mesh of twonode.py,
sends the Linkerd walkthrough's request, prints the answer, the trace (8 spans, from both
nodes' agents) and some metrics; leaves it running or stops it (--once).

    python3 tools/lib/demo.py start --build build --run run/demo [--once] [--loopback]
    python3 tools/lib/demo.py stop --run run/demo"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twonode  # noqa: E402


def print_tree(spans):
    ids = {s["id"] for s in spans}
    by_parent = {}
    for s in spans:
        by_parent.setdefault(s.get("parentId"), []).append(s)
    t0 = min(s["timestamp"] for s in spans)
    t1 = max(s["timestamp"] + s.get("duration", 0) for s in spans)
    width = 30
    print("trace %s: %d spans, %.2f ms" % (spans[0]["traceId"], len(spans), (t1 - t0) / 1000))

    def show(s, depth):
        start = int((s["timestamp"] - t0) * width / max(t1 - t0, 1))
        length = max(1, int(s.get("duration", 0) * width / max(t1 - t0, 1)))
        bar = " " * start + "#" * length
        ep = s.get("localEndpoint", {})
        name = "%s%s %s" % ("  " * depth, s["kind"].lower(), ep.get("serviceName", "?"))
        where = ep.get("ipv4", "")
        print("  %-40s %-10s %7.2f ms |%-*s|" % (name, where, s.get("duration", 0) / 1000,
                                               width, bar))
        # a client span and the next hop's server span share an id (Zipkin's shared spans)
        for c in sorted(by_parent.get(s["id"], []), key=lambda x: x["timestamp"]):
            show(c, depth + 1)

    for root in sorted([s for s in spans if s.get("parentId") not in ids],
                       key=lambda x: x["timestamp"]):
        show(root, 0)


def metrics(url):
    with urllib.request.urlopen(url + "/admin/metrics.json", timeout=2) as r:
        return json.load(r)


def start(args):
    run = os.path.abspath(args.run)
    twonode.stop(run)
    os.makedirs(run, exist_ok=True)
    mode = "loopback" if args.loopback else None
    mesh = twonode.Mesh(args.build, run, mode=mode)
    if mode is None and mesh.mode == "loopback" and os.geteuid() == 0:
        print("(network namespaces cannot be made here: %s; using loopback addresses)" %
              twonode.netns_why())
    if mesh.mode == "netns":
        for node in (1, 2):  # left over by a run that could not clean up
            subprocess.run(["ip", "netns", "del", mesh.ns(node)], stderr=subprocess.DEVNULL)
        for link in ("meshdemo-br", "meshdemo-v1", "meshdemo-v2"):
            subprocess.run(["ip", "link", "del", link], stderr=subprocess.DEVNULL)
    else:
        import socket
        for node in (1, 2):
            for port in twonode.PORTS.values():
                with socket.socket() as s:
                    if s.connect_ex((mesh.ip[node], port)) == 0:
                        sys.exit("%s:%d is in use: stop what listens there (or 'tools/demo "
                                 "stop') first" % (mesh.ip[node], port))
    print("== starting a two-node mesh (%s): node 1 %s (hello), node 2 %s (world)" %
          ("network namespaces" if mesh.mode == "netns" else "loopback addresses",
           mesh.ip[1], mesh.ip[2]))
    # a half-started mesh goes whatever happens (^C, SIGTERM, an error); with --once, the
    # whole mesh does (a closed pipe too)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit("tools/demo: terminated"))
    try:
        mesh.start()
    except BaseException as e:
        twonode.stop(run)
        sys.exit("the mesh did not start: %s" % (e if str(e) else type(e).__name__))
    mesh.env_file()
    try:
        show(mesh, args)
    finally:
        if args.once:
            twonode.stop(run)


def show(mesh, args):
    """Sends the walkthrough's request and prints the answer, the trace, some metrics and
    what is left running."""
    run = mesh.run
    proxy = mesh.proxy_url(1)
    print()
    print("== http_proxy=%s curl http://hello" % proxy)
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "http://hello"],
                         env=dict(os.environ, http_proxy=proxy), stdout=subprocess.PIPE,
                         text=True)
    print(out.stdout.rstrip())
    for _ in range(20):
        mesh.get("hello")
    mesh.get("hello")
    print()
    print("== the trace of the last request (each node's meshagent keeps its own spans: "
          "node 1's Zipkin API on %s, node 2's on %s)" % (mesh.agent_url(1), mesh.agent_url(2)))
    spans = []
    deadline = time.time() + 5
    while time.time() < deadline:
        time.sleep(0.5)  # an agent keeps a trace once it has been idle for a second
        tid = mesh.last_trace_id()
        spans = mesh.trace(tid) if tid else []
        if len(spans) >= 8:
            break
    if not spans:
        print("no trace found in the agents (logs in %s)" % run)
    else:
        print_tree(spans)
    print()
    print("== metrics, a selection (curl %s/admin/metrics.json)" % mesh.admin_url(1))
    for node in (1, 2):
        m = metrics(mesh.admin_url(node))
        for k in sorted(m):
            if k.endswith(("/requests", "/success", "request_latency_ms.p99")) and \
                    k.startswith("rt/") and "/server/" in k:
                print("  node %d  %s = %s" % (node, k, m[k]))
    print()
    if args.once:
        print("demo done (--once): stopping")
        return
    print("The mesh keeps running:")
    print("  http_proxy=%s curl http://hello" % proxy)
    print("  %s/               the dashboard of node 1 (node 2: %s/)" %
          (mesh.admin_url(1), mesh.admin_url(2)))
    print("  %s/api/v2/traces?limit=5   node 1's traces (Zipkin's API)" % mesh.agent_url(1))
    print("  build/tools/meshctl/meshctl stats --admin %s:%d --agent %s:%d" %
          (mesh.ip[1], twonode.PORTS["admin"], mesh.ip[1], twonode.PORTS["agent"]))
    print("  logs and configs in %s; stop it with: tools/demo stop" % args.run)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["start", "stop"])
    ap.add_argument("--build", default="build")
    ap.add_argument("--run", default="run/demo")
    ap.add_argument("--once", action="store_true")
    ap.add_argument("--loopback", action="store_true",
                    help="loopback addresses even as root (no network namespaces)")
    args = ap.parse_args()
    if args.command == "stop":
        twonode.stop(os.path.abspath(args.run))
        return
    start(args)


if __name__ == "__main__":
    main()

"""tools/lib/twonode.py - a two-node mesh on one machine, for tools/demo and the end-to-end
test (tests/e2e/test_two_nodes.py).

Each node runs meshd (outgoing router 4140, incoming 4141, admin 9990) and meshagent (9991),
shaped like Linkerd's DaemonSet walkthrough: an app sends to its own node's outgoing router
(http_proxy); that router finds the destination in an io.l5d.fs directory and, through the
io.l5d.port transformer, sends to the incoming router (4141) of the node the destination
runs on, which delivers to the app. hello runs on node 1 (port 7777) and calls world on
node 2 (port 7778) through node 1's meshd, forwarding l5d-ctx-* headers: one request to
hello crosses four routers and makes one trace of 8 spans.

Nodes:
  netns     (as root) two network namespaces, each with an eth0 on a bridge in the root
            namespace: node 1 is 10.77.0.1, node 2 10.77.0.2, the host 10.77.0.254. Routers
            and admin servers bind 0.0.0.0 inside their namespace (so the server spans are
            named 0.0.0.0/4140 and 0.0.0.0/4141, as in the walkthrough).
  loopback  (otherwise) node 1 is 127.0.1.1 and node 2 127.0.1.2: the same ports on two
            loopback addresses; every server binds its node's address.

Everything started is written down in <run>/state.json, so `stop(run)` can end it from
another process (tools/demo stop), namespaces and bridge included; each process's pid is
also in <run>/<name>.pid (meshd1, meshagent1, meshd2, meshagent2, hello, world)."""

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request

PORTS = {"outgoing": 4140, "incoming": 4141, "admin": 9990, "agent": 9991,
         "hello": 7777, "world": 7778}


def _sh(*args, check=True):
    return subprocess.run(list(args), check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


_netns_why = None


def netns_possible():
    """Root, with iproute2 and a kernel (or container) that lets us make namespaces and a
    bridge: tried once with a throwaway namespace and bridge. When not, netns_why() says
    why."""
    global _netns_why
    if _netns_why is None:
        if os.geteuid() != 0:
            _netns_why = "not root"
        elif shutil.which("ip") is None:
            _netns_why = "no ip command (Debian: iproute2)"
        else:
            probe = "mshprobe%d" % (os.getpid() % 100000)
            r = _sh("ip", "netns", "add", probe, check=False)
            if r.returncode == 0:
                _sh("ip", "netns", "del", probe, check=False)
                r = _sh("ip", "link", "add", probe, "type", "bridge", check=False)
                if r.returncode == 0:
                    _sh("ip", "link", "del", probe, check=False)
            _netns_why = "" if r.returncode == 0 else r.stdout.strip() or "ip failed"
    return _netns_why == ""


def netns_why():
    """Why network namespaces cannot be used here ("" when they can)."""
    netns_possible()
    return _netns_why


class Mesh:
    def __init__(self, build, run, mode=None, tag="meshdemo", subnet="10.77.0",
                 collectors=None, workers=2):
        """build: the meson build dir; run: a directory of our own for configs, logs and
        state; mode: "netns", "loopback" or None (netns when possible); tag: prefix of the
        namespace and bridge names (short: interface names have 15 bytes); collectors:
        {1: url, 2: url} for each node's meshagent (None: the agent's local store only);
        a url may say "{ns_lo}" for the node's own loopback."""
        self.build = os.path.abspath(build)
        self.run = os.path.abspath(run)
        self.mode = mode or ("netns" if netns_possible() else "loopback")
        self.tag = tag
        self.subnet = subnet
        self.collectors = collectors or {}
        self.workers = workers
        self.state = {"mode": self.mode, "tag": tag, "pids": [], "netns": [], "links": []}
        if self.mode == "netns":
            self.ip = {1: subnet + ".1", 2: subnet + ".2"}
            self.bind = {1: "0.0.0.0", 2: "0.0.0.0"}
        else:
            self.ip = {1: "127.0.1.1", 2: "127.0.1.2"}
            self.bind = dict(self.ip)

    # ---- plumbing -------------------------------------------------------------------

    def ns(self, node):
        return "%s-n%d" % (self.tag, node) if self.mode == "netns" else None

    def _save(self):
        with open(os.path.join(self.run, "state.json"), "w") as f:
            json.dump(self.state, f)

    def _netns_up(self):
        br = self.tag[:10] + "-br"
        _sh("ip", "link", "add", br, "type", "bridge")
        self.state["links"].append(br)
        self._save()
        _sh("ip", "addr", "add", self.subnet + ".254/24", "dev", br)
        _sh("ip", "link", "set", br, "up")
        for node in (1, 2):
            ns = self.ns(node)
            host_if = "%s-v%d" % (self.tag[:10], node)
            _sh("ip", "netns", "add", ns)
            self.state["netns"].append(ns)
            self._save()
            _sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            self.state["links"].append(host_if)
            self._save()
            _sh("ip", "link", "set", host_if, "master", br)
            _sh("ip", "link", "set", host_if, "up")
            _sh("ip", "-n", ns, "addr", "add", self.ip[node] + "/24", "dev", "eth0")
            _sh("ip", "-n", ns, "link", "set", "eth0", "up")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")

    def spawn(self, node, name, argv, env=None):
        """Starts argv on <node> (inside its namespace in netns mode), output to a log."""
        full_env = dict(os.environ)
        full_env.pop("http_proxy", None)
        full_env.update(env or {})
        if self.mode == "netns":
            argv = ["ip", "netns", "exec", self.ns(node)] + argv
        log = open(os.path.join(self.run, "%s.log" % name), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                             start_new_session=True)
        log.close()
        self.state["pids"].append({"name": name, "pid": p.pid})
        self._save()
        with open(os.path.join(self.run, "%s.pid" % name), "w") as f:
            f.write("%d\n" % p.pid)
        return p

    # ---- the mesh -------------------------------------------------------------------

    def config(self, node):
        run_dir = os.path.join(self.run, "node%d" % node)
        os.makedirs(run_dir, exist_ok=True)
        b = self.bind[node]
        agent = {"admin": {"ip": b, "port": PORTS["agent"]}}
        url = self.collectors.get(node)
        if url:
            agent["zipkin"] = {"url": url}
        agent_yaml = json.dumps(agent)  # JSON is YAML
        return f"""# node {node} of the two-node mesh (tools/lib/twonode.py)
admin:
  ip: {b}
  port: {PORTS['admin']}
namers:
- kind: io.l5d.fs
  rootDir: {self.run}/disco
routers:
# apps send here (http_proxy); the destination's node's incoming router gets it
- protocol: http
  label: outgoing
  dtab: |
    /svc => /#/io.l5d.fs;
  interpreter:
    kind: default
    transformers:
    - kind: io.l5d.port
      port: {PORTS['incoming']}
  servers:
  - ip: {b}
    port: {PORTS['outgoing']}
# other nodes send here; it delivers to the app on this node
- protocol: http
  label: incoming
  dtab: |
    /svc => /#/io.l5d.fs;
  servers:
  - ip: {b}
    port: {PORTS['incoming']}
telemetry:
- kind: io.l5d.zipkin
  sampleRate: 1.0
meshd:
  workers: {self.workers}
  runDir: {run_dir}
meshagent: {agent_yaml}
"""

    def start(self, app_args=None, before_nodes=None):
        """Starts both nodes and the apps; returns once every node's admin and agent
        answer. app_args: {"hello": [...], "world": [...]} extra flags; before_nodes: called
        with the mesh once the nodes' network exists, before meshd and meshagent start
        (to start collectors there with spawn())."""
        os.makedirs(os.path.join(self.run, "disco"), exist_ok=True)
        self._save()
        if self.mode == "netns":
            self._netns_up()
        if before_nodes is not None:
            before_nodes(self)
        with open(os.path.join(self.run, "disco", "hello"), "w") as f:
            f.write("%s %d\n" % (self.ip[1], PORTS["hello"]))
        with open(os.path.join(self.run, "disco", "world"), "w") as f:
            f.write("%s %d\n" % (self.ip[2], PORTS["world"]))
        app_args = app_args or {}
        for node in (1, 2):
            path = os.path.join(self.run, "node%d.yaml" % node)
            with open(path, "w") as f:
                f.write(self.config(node))
            self.spawn(node, "meshagent%d" % node, [self.build + "/agent/meshagent", path])
            self.spawn(node, "meshd%d" % node, [self.build + "/proxy/meshd", path])
        srv = self.build + "/tools/mesh-testsrv"
        self.spawn(1, "hello", [srv, "--name", "hello", "--text", "Hello", "--ip", self.ip[1],
                                "--call", "world"] +
                   app_args.get("hello", []) + [str(PORTS["hello"])],
                   env={"http_proxy": "http://%s:%d" % (self.ip[1], PORTS["outgoing"])})
        self.spawn(2, "world", [srv, "--name", "world", "--text", "world", "--ip", self.ip[2]] +
                   app_args.get("world", []) + [str(PORTS["world"])])
        for node in (1, 2):
            for port in (PORTS["admin"], PORTS["agent"]):
                self.wait_http(node, "http://%s:%d/admin/ping" % (self.ip[node], port))

    def wait_http(self, node, url, timeout=15.0):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    return r.read()
            except Exception as e:  # not up yet
                last = e
                time.sleep(0.05)
        raise RuntimeError("%s did not answer in %.0f s (%s); logs in %s" %
                           (url, timeout, last, self.run))

    def proxy_url(self, node=1):
        return "http://%s:%d" % (self.ip[node], PORTS["outgoing"])

    def get(self, host, path="/", node=1, headers=None, timeout=10):
        """GET http://<host><path> through node <node>'s outgoing router, as an
        http_proxy client: (status, body)."""
        proxy = urllib.request.ProxyHandler({"http": self.proxy_url(node)})
        opener = urllib.request.build_opener(proxy)
        req = urllib.request.Request("http://%s%s" % (host, path), headers=headers or {})
        try:
            with opener.open(req, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def agent_url(self, node):
        return "http://%s:%d" % (self.ip[node], PORTS["agent"])

    def admin_url(self, node):
        return "http://%s:%d" % (self.ip[node], PORTS["admin"])

    def trace(self, trace_id):
        """The spans of one trace from both nodes' agents (each keeps its own node's)."""
        spans = {}
        for node in (1, 2):
            try:
                with urllib.request.urlopen("%s/api/v2/trace/%s" % (self.agent_url(node),
                                                                     trace_id), timeout=2) as r:
                    for s in json.load(r):
                        spans[(s["id"], s.get("kind"))] = s
            except urllib.error.HTTPError as e:
                if e.code != 404:
                    raise
        return list(spans.values())

    def last_trace_id(self, service=None):
        service = service or ("0.0.0.0/%d" % PORTS["outgoing"] if self.mode == "netns"
                              else "%s/%d" % (self.ip[1], PORTS["outgoing"]))
        url = "%s/api/v2/traces?serviceName=%s&limit=1" % (self.agent_url(1), service)
        with urllib.request.urlopen(url, timeout=2) as r:
            traces = json.load(r)
        return traces[0][0]["traceId"] if traces else None

    def env_file(self):
        """run/demo/env: shell-sourceable facts for scripts (tools/soak)."""
        pids = " ".join(str(p["pid"]) for p in self.state["pids"])
        lines = [
            "MODE=%s" % self.mode,
            "PROXY_URL=%s" % self.proxy_url(1),
            "HELLO_HOST=hello",
            "NODE1_IP=%s" % self.ip[1],
            "NODE2_IP=%s" % self.ip[2],
            "NODE1_NETNS=%s" % (self.ns(1) or ""),
            "NODE2_NETNS=%s" % (self.ns(2) or ""),
            "ADMIN_URLS='%s %s'" % (self.admin_url(1), self.admin_url(2)),
            "AGENT_URLS='%s %s'" % (self.agent_url(1), self.agent_url(2)),
        ]
        for p in self.state["pids"]:
            lines.append("PID_%s=%d" % (p["name"].upper(), p["pid"]))
        lines.append("PIDS='%s'" % pids)
        with open(os.path.join(self.run, "env"), "w") as f:
            f.write("\n".join(lines) + "\n")


def stop(run, timeout=10.0):
    """Ends what the mesh in <run> started: processes (SIGTERM, then SIGKILL), namespaces,
    links. Safe to call twice, or when nothing was started. SIGTERM and SIGINT wait until
    it is done (a second ^C or a timeout's SIGTERM would leave the namespaces behind)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        _stop(run, timeout)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _stop(run, timeout):
    path = os.path.join(run, "state.json")
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return
    pids = [p["pid"] for p in state.get("pids", [])]
    # <run>/<name>.pid and <run>/env are for scripts: gone with the mesh
    for name in ["%s.pid" % p["name"] for p in state.get("pids", [])] + ["env"]:
        try:
            os.unlink(os.path.join(run, name))
        except OSError:
            pass
    for pid in pids:  # meshd's master stops its own workers
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + timeout
    for pid in pids:
        while time.time() < deadline:
            try:
                os.killpg(pid, 0)
            except OSError:
                break
            try:  # reap it when it is our child
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            except ChildProcessError:
                pass
            time.sleep(0.05)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
    for ns in state.get("netns", []):
        _sh("ip", "netns", "del", ns, check=False)
    for link in state.get("links", []):
        _sh("ip", "link", "del", link, check=False)
    os.unlink(path)

#!/usr/bin/env python3
"""tests/browser/test_dashboard.py - the dashboard in a real browser.

Starts a real meshd (2 workers, an outgoing and an incoming router), meshagent keeping
traces, and two mesh-testsrv backends (hello calls world through the mesh, as in the
demo), all on free loopback ports; sends traffic; loads http://<admin>/ in Debian's
headless Chromium driven through chromedriver (Selenium); then checks that

  - the figures the page shows for each router (requests, success, failures, success
    rate, connections, pending) and for each client (requests, load-balancer size and
    available, its endpoints) equal /admin/metrics.json at the same moment (traffic
    stopped, and the page refreshed between two identical reads of metrics.json);
  - the traces list shows the agent's traces, and the waterfall of one has as many span
    rows as the agent's /api/v2/trace/<id> has spans;
  - with the agent stopped, meshd's relay answers 502 JSON and the page says "agent
    unreachable";
  - meshd exits 0 on SIGTERM (under ASan: no leak, no error).

Saves a screenshot as $SCREENSHOT_DIR/dashboard.png (the meson build dir).
Environment: MESHD, MESHAGENT, TESTSRV (binaries), SCREENSHOT_DIR. Exits 77 (skipped) when
chromium, chromedriver or python3-selenium is missing, except with CI=true: then it fails.
Bounded: gives up after DEADLINE_S seconds and always stops everything it started.

    tests/browser/test_dashboard.py [--keep SECONDS]   (keeps the mesh and page up for a
                                                        look, after the checks)
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

DEADLINE_S = 90
SKIP = 77


def log(msg):
    print(f"[dashboard] {msg}", flush=True)


def fail(msg):
    raise AssertionError(msg)


def find_browser():
    """(chromium, chromedriver, selenium module) or a reason why not."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.access("/usr/bin/chromedriver", os.X_OK) else None)
    try:
        import selenium.webdriver  # noqa: F401
        sel = True
    except ImportError:
        sel = False
    missing = [n for n, ok in (("chromium", chromium), ("chromium-driver", driver),
                               ("python3-selenium", sel)) if not ok]
    return chromium, driver, missing


def free_port():
    """A free loopback port below the ephemeral range (as tests/lib/harness.c does)."""
    for _ in range(1000):
        port = random.randint(10000, 29999)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    fail("no free port")


def http(url, proxy=None, host=None, timeout=5):
    """(status, headers, body) of a GET; never raises for an HTTP status."""
    handlers = [urllib.request.ProxyHandler({"http": proxy} if proxy else {})]
    opener = urllib.request.build_opener(*handlers)
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def wait_for(what, fn, timeout):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
        except (OSError, ValueError, KeyError) as e:  # not up yet
            last = e
        time.sleep(0.1)
    fail(f"timed out waiting for {what} (last error: {last})")


class Mesh:
    """meshd + meshagent + hello/world backends in a temporary directory."""

    def __init__(self, meshd, meshagent, testsrv):
        self.dir = tempfile.mkdtemp(prefix="mesh-dashboard-")
        self.procs = {}
        self.p = {k: free_port() for k in ("out", "in", "admin", "agent", "hello", "world",
                                           "dead")}
        while len(set(self.p.values())) < len(self.p):
            self.p = {k: free_port() for k in self.p}
        disco = os.path.join(self.dir, "disco")
        os.mkdir(disco)
        for name in ("hello", "world"):
            with open(os.path.join(disco, name), "w") as f:
                f.write(f"127.0.0.1 {self.p[name]}\n")
        # world has a second endpoint where nothing listens: failure accrual removes it
        with open(os.path.join(disco, "world"), "a") as f:
            f.write(f"127.0.0.1 {self.p['dead']}\n")
        self.cfg = os.path.join(self.dir, "meshd.yaml")
        with open(self.cfg, "w") as f:
            f.write(f"""admin:
  ip: 127.0.0.1
  port: {self.p['admin']}
namers:
- kind: io.l5d.fs
  rootDir: {disco}
routers:
- protocol: http
  label: outgoing
  dtab: |
    /svc => /$/inet/127.0.0.1/{self.p['in']};
  servers:
  - ip: 127.0.0.1
    port: {self.p['out']}
- protocol: http
  label: incoming
  dtab: |
    /svc => /#/io.l5d.fs;
  client:
    failureAccrual:
      kind: io.l5d.consecutiveFailures
      failures: 3
      backoff:
        kind: jittered
        minMs: 100
        maxMs: 300
  servers:
  - ip: 127.0.0.1
    port: {self.p['in']}
telemetry:
- kind: io.l5d.zipkin
  sampleRate: 1.0
meshd:
  workers: 2
  runDir: {self.dir}
meshagent:
  admin:
    ip: 127.0.0.1
    port: {self.p['agent']}
""")
        self.bins = (meshd, meshagent, testsrv)

    def spawn(self, name, argv):
        out = open(os.path.join(self.dir, name + ".log"), "wb")
        self.procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()

    def start(self):
        meshd, meshagent, testsrv = self.bins
        self.spawn("world", [testsrv, "--name", "world", "--ip", "127.0.0.1", str(self.p["world"])])
        self.spawn("hello", [testsrv, "--name", "hello", "--ip", "127.0.0.1", "--call", "world",
                             "--proxy", f"127.0.0.1:{self.p['out']}", str(self.p["hello"])])
        self.start_agent()
        self.spawn("meshd", [meshd, self.cfg])
        wait_for("meshd", lambda: self.admin("/admin/ping")[0] == 200, 15)
        for name in ("hello", "world"):
            wait_for(name, lambda n=name: socket.create_connection(
                ("127.0.0.1", self.p[n]), timeout=1).close() or True, 10)

    def start_agent(self):
        self.spawn("meshagent", [self.bins[1], self.cfg])
        wait_for("meshagent", lambda: self.agent("/admin/ping")[0] == 200, 15)

    def stop(self, name, sig=signal.SIGTERM, timeout=10):
        p = self.procs.pop(name, None)
        if p is None:
            return None
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        return p.returncode

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name, signal.SIGKILL if name != "meshd" else signal.SIGTERM, 5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def admin(self, path):
        return http(f"http://127.0.0.1:{self.p['admin']}{path}")

    def agent(self, path):
        return http(f"http://127.0.0.1:{self.p['agent']}{path}")

    def metrics(self):
        status, _, body = self.admin("/admin/metrics.json")
        if status != 200:
            fail(f"/admin/metrics.json: {status}")
        return json.loads(body)

    def request(self, host, path="/"):
        return http(f"http://{host}{path}", proxy=f"http://127.0.0.1:{self.p['out']}")[0]

    def log_tail(self, name, n=20):
        try:
            with open(os.path.join(self.dir, name + ".log"), "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


def check_static(mesh):
    """The page and its files: types, caching, the text index kept at /admin."""
    for path, ctype in (("/", "text/html"), ("/dashboard", "text/html"),
                        ("/dashboard/dashboard.js", "text/javascript"),
                        ("/dashboard/dashboard.css", "text/css")):
        status, headers, body = mesh.admin(path)
        if status != 200 or not headers.get("Content-Type", "").startswith(ctype):
            fail(f"{path}: {status} {headers.get('Content-Type')}")
        if not headers.get("Cache-Control") or not body:
            fail(f"{path}: no Cache-Control or empty body")
        if b"http://" in body.replace(b"http://www.w3.org", b"") or b"https://" in body:
            fail(f"{path}: refers to an external URL")
    status, _, body = mesh.admin("/admin")
    if status != 200 or b"/admin/metrics.json" not in body:
        fail(f"/admin: {status} {body[:80]!r}")
    if mesh.admin("/dashboard/nosuch.js")[0] != 404:
        fail("/dashboard/nosuch.js is not 404")
    # the relay reaches the agent's query API and nothing else
    for path in ("/agent/api/v2/../../admin/metrics.json", "/agent/api/v2/%2e%2e/admin/ping"):
        with socket.create_connection(("127.0.0.1", mesh.p["admin"]), timeout=5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        if not answer.startswith(b"HTTP/1.1 400 "):
            fail(f"relay of {path}: {answer[:100]!r}")
    status, _, body = mesh.admin("/agent/api/v2/services")
    if status != 200 or not isinstance(json.loads(body), list):
        fail(f"relayed /api/v2/services: {status} {body[:100]!r}")
    if mesh.admin("/agent/api/v2/nosuch")[0] != 404:
        fail("relayed /api/v2/nosuch is not 404")


def router_figures(m, router):
    """What the page must show for <router>, from the flat metrics."""
    want = {"requests": 0, "success": 0, "failures": 0, "connections": 0, "pending": 0}
    prefix = f"rt/{router}/server/"
    for k, v in m.items():
        if k.startswith(prefix):
            leaf = k.rsplit("/", 1)[1]
            if leaf in want:
                want[leaf] += v
    total = want["success"] + want["failures"]
    want["success-rate"] = f"{want['success'] / total * 100:.2f}%" if total else "–"
    return {k: (f"{v:,}" if isinstance(v, int) else v) for k, v in want.items()}


def client_figures(m, router, client):
    p = f"rt/{router}/client/{client}/"
    eps = {}
    for k, v in m.items():
        if k.startswith(p + "loadbalancer/endpoint_"):
            kind, addr = k[len(p + "loadbalancer/endpoint_"):].split("/", 1)
            eps.setdefault(addr, {})[kind] = v
    shown = {a: e for a, e in eps.items() if e.get("present", 0) > 0 or e.get("load", 0) > 0}
    in_set = [e for e in shown.values() if e.get("present", 0) > 0]
    return {
        "requests": f"{m.get(p + 'requests', 0):,}",
        "connections": f"{m.get(p + 'connections', 0):,}",
        "lb-size": str(len(in_set)),
        "lb-up": str(len([e for e in in_set if e.get("removed", 0) == 0])),
        "endpoints": {a: (f"{e.get('load', 0):,}", f"{e.get('idle', 0):,}",
                          "gone" if e.get("present", 0) == 0 else
                          "removed" if e.get("removed", 0) > 0 else "up")
                      for a, e in sorted(shown.items())},
    }


def page_figures(driver, By):
    """Every router's and client's figures as the page shows them, in one script call
    (one consistent DOM)."""
    return driver.execute_script("""
      const out = {tick: Number(document.getElementById('routers').dataset.tick), routers: {}};
      for (const r of document.querySelectorAll('.router[data-router]')) {
        const f = {};
        for (const el of r.querySelectorAll('.figures [data-field]')) f[el.dataset.field] = el.textContent;
        f.clients = {};
        for (const tr of r.querySelectorAll('tr[data-client]')) {
          const c = {endpoints: {}};
          for (const el of tr.querySelectorAll(':scope > td[data-field], td > span[data-field]'))
            c[el.dataset.field] = el.textContent;
          for (const ep of tr.querySelectorAll('.ep[data-endpoint]'))
            c.endpoints[ep.dataset.endpoint] = [ep.querySelector('[data-field=ep-load]').textContent,
                                                ep.querySelector('[data-field=ep-idle]').textContent,
                                                ep.dataset.state];
          f.clients[tr.dataset.client] = c;
        }
        out.routers[r.dataset.router] = f;
      }
      return out;""")


def relevant(m):
    return {k: v for k, v in m.items() if k.startswith("rt/") and ".p" not in k
            and ".avg" not in k and ".m" not in k and ".sum" not in k}


def compare(mesh, driver, By, dead_state):
    """Page figures against metrics.json, read on both sides of a page refresh."""
    for attempt in range(6):
        m1 = mesh.metrics()
        tick0 = page_figures(driver, By)["tick"]
        # two refreshes: the second one fetched metrics.json after m1 was read
        wait_for("two page refreshes", lambda: page_figures(driver, By)["tick"] >= tick0 + 2, 10)
        page = page_figures(driver, By)
        m2 = mesh.metrics()
        if relevant(m1) != relevant(m2):
            log(f"metrics moved during attempt {attempt}, again")
            continue
        routers = sorted({k.split("/")[1] for k in m1 if k.startswith("rt/")})
        if sorted(page["routers"]) != routers:
            fail(f"routers shown {sorted(page['routers'])}, metrics have {routers}")
        n_clients = 0
        for r in routers:
            shown = page["routers"][r]
            want = router_figures(m1, r)
            for k, v in want.items():
                if shown.get(k) != v:
                    fail(f"router {r}: {k} shows {shown.get(k)!r}, metrics.json says {v!r}")
            clients = sorted({k[len(f"rt/{r}/client/"):].rsplit("/requests", 1)[0]
                              for k in m1 if k.startswith(f"rt/{r}/client/")
                              and k.endswith("/requests")})
            if sorted(shown["clients"]) != clients:
                fail(f"router {r}: clients shown {sorted(shown['clients'])}, metrics {clients}")
            for c in clients:
                want_c = client_figures(m1, r, c)
                got = shown["clients"][c]
                for k, v in want_c.items():
                    if got.get(k) != v and not (k == "endpoints" and
                                                {a: tuple(x) for a, x in got[k].items()} == v):
                        fail(f"router {r} client {c}: {k} shows {got.get(k)!r}, "
                             f"metrics.json says {v!r}")
                if not want_c["endpoints"]:
                    fail(f"router {r} client {c}: no endpoint gauges in metrics.json")
                n_clients += 1
        log(f"page equals metrics.json: {len(routers)} routers, {n_clients} clients "
            f"(attempt {attempt})")
        dead = f"127.0.0.1:{mesh.p['dead']}"
        states = {ep[2] for c in page["routers"]["incoming"]["clients"].values()
                  for a, ep in c["endpoints"].items() if a == dead}
        if states != {dead_state}:
            fail(f"the endpoint on port {mesh.p['dead']} shows as {states}, not {dead_state}")
        return m1
    fail("metrics.json never held still for two page refreshes")


def main():
    keep = 0
    if len(sys.argv) == 3 and sys.argv[1] == "--keep":
        keep = float(sys.argv[2])
    chromium, chromedriver, missing = find_browser()
    if missing:
        msg = "missing " + ", ".join(missing) + " (Debian packages; tools/lib/deps.sh)"
        if os.environ.get("CI") == "true":
            print(f"FAIL: {msg}: the browser test must run in CI", flush=True)
            return 1
        print(f"SKIP: {msg}", flush=True)
        return SKIP
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import (ElementClickInterceptedException,
                                            StaleElementReferenceException)
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    bins = [os.environ.get(k) for k in ("MESHD", "MESHAGENT", "TESTSRV")]
    if not all(bins):
        print("FAIL: MESHD, MESHAGENT and TESTSRV must name the built binaries", flush=True)
        return 1
    shots = os.environ.get("SCREENSHOT_DIR", ".")

    def on_alarm(signum, frame):
        raise TimeoutError(f"the test ran over {DEADLINE_S} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(DEADLINE_S + keep))
    mesh = Mesh(*bins)
    driver = None
    profile = tempfile.mkdtemp(prefix="mesh-chromium-")
    try:
        mesh.start()
        log(f"meshd admin on 127.0.0.1:{mesh.p['admin']}, agent on 127.0.0.1:{mesh.p['agent']}")
        check_static(mesh)

        # traffic: hello (calls world through the mesh), world, and some 500s
        for i in range(30):
            if mesh.request("hello") != 200:
                fail("hello did not answer 200: " + mesh.log_tail("meshd"))
        for i in range(12):
            mesh.request("world")
        for i in range(5):
            if mesh.request("world", "/status?code=500") != 500:
                fail("world /status?code=500 did not answer 500")
        # an idle client connection, so a router shows one connection
        idle = socket.create_connection(("127.0.0.1", mesh.p["in"]))

        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1400,1100", "--hide-scrollbars", "--no-first-run",
                  f"--user-data-dir={profile}", "--disable-extensions",
                  "--disable-background-networking", "--force-device-scale-factor=1"):
            opts.add_argument(a)
        driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=opts)
        driver.set_page_load_timeout(20)
        driver.set_script_timeout(10)
        driver.get(f"http://127.0.0.1:{mesh.p['admin']}/")
        wait_for("the page's first refresh",
                 lambda: page_figures(driver, By)["tick"] >= 2 and page_figures(driver, By)["routers"], 15)
        compare(mesh, driver, By, "removed")

        # traces: the agent keeps a trace once it has been idle for a second
        def full_trace():
            status, _, body = mesh.agent("/api/v2/traces?limit=50")
            traces = json.loads(body) if status == 200 else []
            return [t for t in traces if len(t) >= 8]
        traces = wait_for("a trace of 8 spans or more in the agent", full_trace, 20)
        tid = traces[0][0]["traceId"]
        status, _, body = mesh.agent(f"/api/v2/trace/{tid}")
        n_spans = len(json.loads(body))
        status2, headers, body2 = mesh.admin(f"/agent/api/v2/trace/{tid}")
        if status2 != 200 or json.loads(body2) != json.loads(body):
            fail(f"relayed /agent/api/v2/trace/{tid}: {status2}, differs from the agent's")
        sel = f'#traces tr[data-trace-id="{tid}"]'
        wait_for("the trace in the page's list",
                 lambda: driver.find_elements(By.CSS_SELECTOR, sel), 15)
        # the list is redrawn every few seconds: a row found may be replaced before the
        # click, so look it up and click again until one click lands
        for attempt in range(5):
            try:
                row = driver.find_element(By.CSS_SELECTOR, sel)
                listed = row.get_attribute("data-spans")
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
                row.click()
                break
            except (StaleElementReferenceException, ElementClickInterceptedException):
                time.sleep(0.2)
        else:
            fail("could not click the trace's row")
        if listed != str(n_spans):
            fail(f"list says {listed} spans, the agent {n_spans}")
        wait_for("the waterfall", lambda: driver.execute_script(
            "const w = document.getElementById('waterfall');"
            "return w.dataset.traceId === arguments[0] && w.querySelectorAll('.span-row').length;",
            tid), 10)
        rows = driver.find_elements(By.CSS_SELECTOR, "#waterfall .span-row")
        if len(rows) != n_spans:
            fail(f"waterfall shows {len(rows)} spans, the agent's trace has {n_spans}")
        bars = driver.find_elements(By.CSS_SELECTOR, "#waterfall .span-bar")
        if len(bars) != n_spans or not all(b.size["width"] > 0 for b in bars):
            fail("a span has no bar")
        names = driver.execute_script(
            "return [...document.querySelectorAll('#waterfall .span-name .svc')].map(e => e.textContent)")
        want_names = sorted(s["localEndpoint"]["serviceName"] for s in json.loads(body))
        if sorted(names) != want_names:
            fail(f"waterfall services {sorted(names)}, agent {want_names}")
        log(f"waterfall of trace {tid}: {len(rows)} spans, as the agent says")
        time.sleep(1.2)  # one more refresh, so the picture shows req/s and the sparkline
        driver.execute_script("window.scrollTo(0, 0)")
        path = os.path.join(shots, "dashboard.png")
        if not driver.save_screenshot(path):
            fail(f"could not save the screenshot as {path}")
        log(f"screenshot: {path}")
        if keep:
            log(f"keeping everything up for {keep} s, with traffic")
            end = time.monotonic() + keep
            n = 0
            while time.monotonic() < end:
                try:
                    mesh.request("hello")
                    mesh.request("world", "/status?code=500" if n % 40 == 0 else "/")
                except OSError as e:
                    log(f"request: {e}")
                n += 1
                time.sleep(0.02)
            # the newest full trace, selected, with the pointer out of the way
            row = driver.find_elements(By.CSS_SELECTOR, '#traces tr[data-spans="8"]')
            if row:
                driver.execute_script("arguments[0].click()", row[0])
                time.sleep(0.5)
            driver.execute_script("window.scrollTo(0, 0);"
                                  "document.querySelector('.panel.scroll').scrollTop = 0")
            ActionChains(driver).move_to_element(
                driver.find_element(By.CSS_SELECTOR, ".brand")).perform()
            time.sleep(0.3)
            path = os.path.join(shots, "dashboard-live.png")
            if not driver.save_screenshot(path):
                fail(f"could not save the screenshot as {path}")
            log(f"screenshot with traffic: {path}")

        # the dead endpoint comes to life: a success revives it in every worker, and the
        # gauges (and the page) say it is up again
        mesh.spawn("world2", [bins[2], "--name", "world2", "--ip", "127.0.0.1",
                              str(mesh.p["dead"])])
        cp = "rt/incoming/client/#/io.l5d.fs/world/"
        dead = f"127.0.0.1:{mesh.p['dead']}"

        def revived():
            for _ in range(20):  # new connections: both workers get some
                http(f"http://127.0.0.1:{mesh.p['in']}/", host="world")
            m = mesh.metrics()
            return (m.get(cp + "loadbalancer/endpoint_removed/" + dead) == 0 and
                    m.get(cp + "failure_accrual/removed") == 0 and
                    m.get(cp + "loadbalancer/available") == m.get(cp + "loadbalancer/size") and
                    m.get(cp + "failure_accrual/revivals", 0) >= 1)
        wait_for("the endpoint's revival in every worker", revived, 20)
        compare(mesh, driver, By, "up")
        log("the revived endpoint shows as up, as the gauges say")

        # the agent goes away: the relay says so, and so does the page
        mesh.stop("meshagent")
        status, headers, body = mesh.admin("/agent/api/v2/traces")
        err = json.loads(body).get("error", "")
        if status != 502 or "agent unreachable" not in err:
            fail(f"relay without agent: {status} {body[:200]!r}")
        wait_for("the page to say the agent is unreachable", lambda: driver.execute_script(
            "const e = document.getElementById('traces-error');"
            "return !e.hidden && e.textContent.includes('agent unreachable');"), 10)
        log("agent stopped: relay answers 502, page says 'agent unreachable'")
        idle.close()
        driver.quit()
        driver = None

        # an agent that accepts and never answers: 504 after the relay's 2 s; the address
        # comes from the running config, so a reload moves it
        mute = socket.socket()
        mute.bind(("127.0.0.1", 0))
        mute.listen(16)
        with open(mesh.cfg) as f:
            text = f.read()
        with open(mesh.cfg, "w") as f:
            f.write(text.replace(f"port: {mesh.p['agent']}\n", f"port: {mute.getsockname()[1]}\n"))
        os.kill(mesh.procs["meshd"].pid, signal.SIGHUP)
        wait_for("the reload", lambda: f'"admin.port":"{mute.getsockname()[1]}"'.encode()
                 in mesh.admin("/config.json")[2], 10)
        t0 = time.monotonic()
        status, _, body = mesh.admin("/agent/api/v2/services")
        if status != 504 or "did not answer" not in json.loads(body).get("error", ""):
            fail(f"relay to a mute agent: {status} {body[:200]!r}")
        log(f"mute agent: 504 after {time.monotonic() - t0:.1f} s")
        if mesh.admin("/admin/ping")[0] != 200:
            fail("the admin server stopped answering")

        # meshd stops while a relay waits: the waiting connection is dropped, nothing leaks
        pending = socket.create_connection(("127.0.0.1", mesh.p["admin"]))
        pending.sendall(b"GET /agent/api/v2/services HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        rc = mesh.stop("meshd", signal.SIGTERM, 20)
        pending.close()
        mute.close()
        if rc != 0:
            fail(f"meshd exited with {rc}:\n" + mesh.log_tail("meshd", 40))
        bad = [line for line in mesh.log_tail("meshd", 100000).splitlines()
               if "Sanitizer" in line or "runtime error" in line or "killed by signal" in line
               or "exited with status" in line]
        if bad:
            fail("meshd's log:\n" + "\n".join(bad[:20]))
        log("meshd stopped cleanly")
        print("1 passed, 0 failed", flush=True)
        return 0
    except Exception as e:  # noqa: BLE001 - any failure: report, show the logs, clean up
        print(f"FAIL: {type(e).__name__}: {e}", flush=True)
        for name in ("meshd", "meshagent"):
            print(f"--- {name} log:\n{mesh.log_tail(name)}", flush=True)
        if driver is not None:
            try:
                driver.save_screenshot(os.path.join(shots, "dashboard-failed.png"))
            except Exception:  # noqa: BLE001 - the browser may be what failed
                pass
        return 1
    finally:
        signal.alarm(0)
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001 - cleaning up whatever state it is in
                pass
        mesh.stop_all()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

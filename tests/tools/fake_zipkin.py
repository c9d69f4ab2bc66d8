#!/usr/bin/env python3
"""tests/tools/fake_zipkin.py - a stand-in for meshagent's admin port for meshctl's tests:
Zipkin's query API over two canned traces, plus agent-shaped admin pages.

    fake_zipkin.py --port PORT

  GET /api/v2/services                        ["billing", "frontend", "users"]
  GET /api/v2/traces?serviceName=S&limit=N    traces with a span of local service S (all
                                              when absent), most recent first, at most N
  GET /api/v2/trace/ID                        the trace's spans (JSON v2), or 404
  GET /admin/ping                             pong
  GET /admin/metrics.json                     meshagent-shaped counters (fixed values)
  GET /admin/settings.json                    {"zipkin.url": "http://zipkin.example:9411/..."}

Shapes follow ../shared/spec/zipkin/zipkin2-api.yaml. The 4-span trace is listed out of
order on purpose (a client's server span first) so the tree must come from parentId.
It prints "listening on 127.0.0.1:PORT" once ready.
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

T0 = 1700000000000000  # epoch microseconds


def span(trace, sid, parent, kind, name, service, ts, dur, tags=None, remote=None):
    s = {"traceId": trace, "id": sid, "kind": kind, "name": name, "timestamp": ts,
         "duration": dur, "localEndpoint": {"serviceName": service, "ipv4": "10.0.0.1"}}
    if parent:
        s["parentId"] = parent
    if remote:
        s["remoteEndpoint"] = {"serviceName": remote, "ipv4": "10.0.0.2", "port": 8080}
    if tags:
        s["tags"] = tags
    return s


TA = "4bf92f3577b34da6a3ce929d0e0e4736"
TB = "5b8aa5a2d2c872e8321cf37308d69df2"
TRACES = {
    TA: [
        span(TA, "2222222222222222", "1111111111111111", "SERVER", "get /users", "users",
             T0 + 2000, 4000, {"http.status_code": "500", "error": "500"}),
        span(TA, "3333333333333333", "00f067aa0ba902b7", "CLIENT", "get /audit", "frontend",
             T0 + 7500, 2000, remote="audit"),
        span(TA, "00f067aa0ba902b7", None, "SERVER", "get /", "frontend", T0, 10000,
             {"http.path": "/"}),
        span(TA, "1111111111111111", "00f067aa0ba902b7", "CLIENT", "get /users", "frontend",
             T0 + 1000, 6000, remote="users"),
    ],
    TB: [
        span(TB, "bbbbbbbbbbbbbbb2", "bbbbbbbbbbbbbbb1", "CLIENT", "post /bank", "billing",
             T0 + 60000300, 2500, remote="bank"),
        span(TB, "bbbbbbbbbbbbbbb1", None, "SERVER", "post /charge", "billing",
             T0 + 60000000, 3000),
    ],
}

METRICS = {
    "meshagent/spans/received": 42, "meshagent/spans/shipped": 37,
    "meshagent/spans/dropped": 5, "meshagent/spans/dropped/queue_full": 3,
    "meshagent/spans/dropped/unsampled": 2, "meshagent/spans/dropped/budget": 0,
    "meshagent/spans/pending": 0, "meshagent/queue/spans": 7, "meshagent/queue/bytes": 2048,
    "meshagent/spool/spans": 11, "meshagent/spool/bytes": 4096,
    "meshagent/collector/reachable": 0, "meshagent/store/traces": 0,
    "meshagent/records/invalid": 1, "stats/overflow": 0,
}
SETTINGS = {"zipkin.url": "http://zipkin.example:9411/api/v2/spans", "admin.port": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def answer(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        if url.path == "/admin/ping":
            return self.answer(200, "pong", "text/plain")
        if url.path == "/admin/metrics.json":
            return self.answer(200, json.dumps(METRICS, sort_keys=True))
        if url.path == "/admin/settings.json":
            return self.answer(200, json.dumps(SETTINGS))
        if url.path == "/api/v2/services":
            names = sorted({s["localEndpoint"]["serviceName"]
                            for t in TRACES.values() for s in t})
            return self.answer(200, json.dumps(names))
        if url.path == "/api/v2/traces":
            service = q.get("serviceName", [None])[0]
            limit = int(q.get("limit", ["10"])[0])
            hits = [t for t in TRACES.values()
                    if service is None
                    or any(s["localEndpoint"]["serviceName"] == service for s in t)]
            hits.sort(key=lambda t: -min(s["timestamp"] for s in t))
            return self.answer(200, json.dumps(hits[:limit]))
        if url.path.startswith("/api/v2/trace/"):
            tid = url.path[len("/api/v2/trace/"):].lower().rjust(32, "0")
            if tid in TRACES:
                return self.answer(200, json.dumps(TRACES[tid]))
            return self.answer(404, "trace %s not found\n" % tid, "text/plain")
        return self.answer(404, "not found\n", "text/plain")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

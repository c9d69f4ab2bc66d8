#!/usr/bin/env python3
"""tests/tools/fake_k8s.py - a fake Kubernetes API server for meshd's io.l5d.k8s tests.

    fake_k8s.py --port PORT

Speaks the API's real JSON shapes for Endpoints and Services, the way a `kubectl proxy`
sidecar passes them on (plain HTTP/1.1):

  GET /api/v1/namespaces/NS/RESOURCE?fieldSelector=metadata.name%3DNAME
        a List (kind EndpointsList/ServiceList) with the list's resourceVersion
  ... &watch=true&resourceVersion=RV[&timeoutSeconds=T]
        a chunked stream, one JSON watch event a line (ADDED, MODIFIED, DELETED, ERROR),
        starting after RV; 410 Gone (as an HTTP status, or as an ERROR event carrying a
        Status with code 410, see /control/gone_mode) when RV is older than the history
  GET /api/v1/namespaces/NS/RESOURCE/NAME    the object itself, or 404

The tests drive it with POST /control/... (JSON bodies):
  endpoints {ns, name, subsets}    create or replace an Endpoints object (ADDED/MODIFIED)
  service   {ns, name, ports}      create or replace a Service
  delete    {resource, ns, name}   DELETED
  error     {code, message}        an ERROR event to every open stream (not kept)
  drop      {}                     cut every open stream without ending it (no last chunk)
  expire    {}                     forget the history (watches from older versions get
                                   410) and cut the streams
  gone_mode {mode: status|event}   how a 410 is told
  down      {down: true|false}     API requests get their connection closed at once
  stats     (GET)                  {"lists": n, "watches": n, "gone": n, "open": n}
It prints "listening on 127.0.0.1:PORT" once ready.

In-cluster mode (HTTPS, as the API server a pod reaches):
    fake_k8s.py --port PORT --tls-cert CERT --tls-key KEY --token TOKEN --control-port CPORT
serves the API over TLS on PORT, answering 401 (a Status) unless the request carries
"Authorization: Bearer TOKEN", and the same API and /control/ over plain HTTP on CPORT.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Condition()
STATE = {
    "rv": 100,
    "objects": {},  # (resource, ns, name) -> object
    "history": [],  # (rv, resource, ns, name, event)
    "min_rv": 0,  # watches from a version below this get 410
    "generation": 0,  # bumped by drop/expire: streams of older generations end
    "gone_mode": "status",
    "down": False,
    "errors": [],  # (seq, event) ERROR events for open streams
    "error_seq": 0,
    "stats": {"lists": 0, "watches": 0, "gone": 0, "open": 0, "unauthorized": 0},
}
KINDS = {"endpoints": "Endpoints", "services": "Service"}


def next_rv():
    STATE["rv"] += 1
    return STATE["rv"]


def put_object(resource, ns, name, body):
    key = (resource, ns, name)
    rv = next_rv()
    obj = {
        "kind": KINDS[resource],
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": str(rv),
                     "selfLink": "/api/v1/namespaces/%s/%s/%s" % (ns, resource, name),
                     "uid": "uid-%s-%s-%s" % (resource, ns, name)},
    }
    obj.update(body)
    ev_type = "MODIFIED" if key in STATE["objects"] else "ADDED"
    STATE["objects"][key] = obj
    STATE["history"].append((rv, resource, ns, name, {"type": ev_type, "object": obj}))
    LOCK.notify_all()


def delete_object(resource, ns, name):
    key = (resource, ns, name)
    obj = STATE["objects"].pop(key, None)
    if obj is None:
        return
    rv = next_rv()
    obj = json.loads(json.dumps(obj))
    obj["metadata"]["resourceVersion"] = str(rv)
    STATE["history"].append((rv, resource, ns, name, {"type": "DELETED", "object": obj}))
    LOCK.notify_all()


def gone_status(rv):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "too old resource version: %s (%d)" % (rv, STATE["rv"]),
            "reason": "Expired", "code": 410}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_k8s: " + (fmt % args) + "\n")

    def send_json(self, code, obj, close=False):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        if close:
            self.close_connection = True

    # ---- control ------------------------------------------------------------------
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        what = urlsplit(self.path).path
        with LOCK:
            if what == "/control/endpoints":
                put_object("endpoints", body["ns"], body["name"],
                           {"subsets": body.get("subsets", [])})
            elif what == "/control/service":
                put_object("services", body["ns"], body["name"],
                           {"spec": {"ports": body.get("ports", []), "type": "ClusterIP"}})
            elif what == "/control/delete":
                delete_object(body.get("resource", "endpoints"), body["ns"], body["name"])
            elif what == "/control/error":
                STATE["error_seq"] += 1
                status = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                          "status": "Failure", "message": body.get("message", "boom"),
                          "reason": "InternalError", "code": body.get("code", 500)}
                STATE["errors"].append((STATE["error_seq"], {"type": "ERROR", "object": status}))
                LOCK.notify_all()
            elif what == "/control/drop":
                STATE["generation"] += 1
                LOCK.notify_all()
            elif what == "/control/expire":
                STATE["history"] = []
                STATE["min_rv"] = STATE["rv"] + 1
                STATE["generation"] += 1
                LOCK.notify_all()
            elif what == "/control/gone_mode":
                STATE["gone_mode"] = body["mode"]
            elif what == "/control/down":
                STATE["down"] = bool(body.get("down", True))
                STATE["generation"] += 1
                LOCK.notify_all()
            else:
                self.send_json(404, {"error": "no such control"})
                return
        self.send_json(200, {"ok": True, "rv": STATE["rv"]})

    # ---- API ----------------------------------------------------------------------
    def do_GET(self):
        want = getattr(self.server, "token", None)
        if want is not None and self.headers.get("Authorization") != "Bearer " + want:
            with LOCK:
                STATE["stats"]["unauthorized"] = STATE["stats"].get("unauthorized", 0) + 1
            self.send_json(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                 "message": "Unauthorized", "reason": "Unauthorized",
                                 "code": 401})
            return
        url = urlsplit(self.path)
        if url.path == "/control/stats":
            with LOCK:
                self.send_json(200, STATE["stats"])
            return
        with LOCK:
            down = STATE["down"]
        if down:
            self.close_connection = True
            return  # closed without an answer, as a proxy whose upstream is gone
        parts = url.path.strip("/").split("/")
        q = parse_qs(url.query)
        # /api/v1/namespaces/NS/RESOURCE[/NAME]
        if len(parts) not in (5, 6) or parts[:3] != ["api", "v1", "namespaces"] or \
                parts[4] not in KINDS:
            self.send_json(404, {"kind": "Status", "code": 404, "message": "not found"})
            return
        ns, resource = parts[3], parts[4]
        if len(parts) == 6:
            with LOCK:
                obj = STATE["objects"].get((resource, ns, parts[5]))
            if obj is None:
                self.send_json(404, {"kind": "Status", "code": 404, "reason": "NotFound",
                                     "message": "%s \"%s\" not found" % (resource, parts[5])})
            else:
                self.send_json(200, obj)
            return
        name = None
        for sel in q.get("fieldSelector", []):
            if sel.startswith("metadata.name="):
                name = sel[len("metadata.name="):]
        if q.get("watch", ["false"])[0] == "true":
            self.watch(ns, resource, name, q)
            return
        with LOCK:
            STATE["stats"]["lists"] += 1
            items = [o for (r, n, nm), o in sorted(STATE["objects"].items())
                     if r == resource and n == ns and (name is None or nm == name)]
            self.send_json(200, {"kind": KINDS[resource] + "List", "apiVersion": "v1",
                                 "metadata": {"resourceVersion": str(STATE["rv"])},
                                 "items": items})

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, ns, resource, name, q):
        rv = int(q.get("resourceVersion", ["0"])[0] or 0)
        timeout = float(q.get("timeoutSeconds", ["300"])[0])
        with LOCK:
            STATE["stats"]["watches"] += 1
            gone = rv != 0 and rv < STATE["min_rv"]
            if gone:
                STATE["stats"]["gone"] += 1
            mode = STATE["gone_mode"]
            if rv == 0:
                rv = STATE["rv"]
        if gone and mode == "status":
            self.send_json(410, gone_status(rv), close=True)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if gone:
            self.chunk(json.dumps({"type": "ERROR", "object": gone_status(rv)}).encode() + b"\n")
            self.chunk(b"")
            self.close_connection = True
            return
        deadline = time.monotonic() + timeout
        with LOCK:
            gen = STATE["generation"]
            err_seq = STATE["error_seq"]
            STATE["stats"]["open"] += 1
        try:
            while True:
                with LOCK:
                    if STATE["generation"] != gen:
                        break  # dropped: no last chunk, as a connection that dies
                    events = [ev for (erv, r, n, nm, ev) in STATE["history"]
                              if erv > rv and r == resource and n == ns and
                              (name is None or nm == name)]
                    errors = [ev for (seq, ev) in STATE["errors"] if seq > err_seq]
                    err_seq = STATE["error_seq"]
                    if STATE["history"]:
                        rv = max(rv, STATE["history"][-1][0])
                    if not events and not errors:
                        if time.monotonic() >= deadline:
                            self.chunk(b"")  # a normal end of the watch
                            return
                        LOCK.wait(0.2)
                        continue
                for ev in events + errors:
                    self.chunk(json.dumps(ev).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            return
        finally:
            with LOCK:
                STATE["stats"]["open"] -= 1
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--token")
    ap.add_argument("--control-port", type=int)
    args = ap.parse_args()
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        srv.token = args.token
        ctl = ThreadingHTTPServer(("127.0.0.1", args.control_port), Handler)
        threading.Thread(target=ctl.serve_forever, daemon=True).start()
    print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tests/tools/zipkin_http_sink.py - a Zipkin HTTP collector for the tests: accepts
POST /api/v2/spans (JSON v2, plain or gzip) as Zipkin's collector does (202), checks that
the body is a JSON list of span objects with traceId and id (400 otherwise), and appends
every span, one JSON object a line, to OUT_FILE ("-": keep nothing, only check; the
fault scenarios, whose load outruns writing every span from Python).

    zipkin_http_sink.py IP PORT OUT_FILE

Prints "ready" once listening. Faults for tests/faults/: POST /control?mode=ok|500|slow
makes the next answers 202 (default), 500, or 202 after 5 s."""
import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ip, port, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    out = open(out_path, "a", buffering=1) if out_path != "-" else None
    state = {"mode": "ok"}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, code, text=""):
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            if self.path.startswith("/control?mode="):
                state["mode"] = self.path.split("=", 1)[1]
                return self.answer(200, "mode %s\n" % state["mode"])
            if self.path != "/api/v2/spans":
                return self.answer(404, "no such path\n")
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            try:
                spans = json.loads(body)
                if not isinstance(spans, list) or not all(
                        isinstance(s, dict) and "traceId" in s and "id" in s for s in spans):
                    raise ValueError("not a list of spans")
            except ValueError as e:
                return self.answer(400, "bad spans: %s\n" % e)
            if state["mode"] == "500":
                return self.answer(500, "injected failure\n")
            if state["mode"] == "slow":
                import time
                time.sleep(5)
            if out is not None:
                out.write("".join(json.dumps(s) + "\n" for s in spans))
            self.answer(202)

    server = ThreadingHTTPServer((ip, port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

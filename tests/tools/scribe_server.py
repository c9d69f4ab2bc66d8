#!/usr/bin/env python3
"""A real Scribe collector for the tests, built from Apache Thrift's own Python library
(Debian python3-thrift) and code that the Thrift compiler (Debian thrift-compiler) generates
at start from the spec's scribe.thrift and zipkinCore.thrift.

    scribe_server.py SPEC_DIR PORT OUT_FILE

Serves Log(list<LogEntry>) over framed binary transport. Every message is base64-decoded and
read as a zipkinCore Span with the generated classes; one line per span goes to OUT_FILE:
"<category> <trace_id_high hex><trace_id hex> <id hex> <parent hex|-> <name>". Answers OK.
Prints "ready" once listening. Exits 77 when thrift-compiler or python3-thrift is missing."""

import base64
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    spec, port, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    thrift = shutil.which("thrift")
    if thrift is None:
        print("SKIP: no thrift compiler")
        return 77
    gen = tempfile.mkdtemp(prefix="scribe-gen-")
    for idl in ("scribe.thrift", "zipkinCore.thrift"):
        subprocess.run([thrift, "--gen", "py", "-out", gen, os.path.join(spec, idl)], check=True)
    sys.path.insert(0, gen)
    try:
        from thrift.protocol import TBinaryProtocol
        from thrift.server import TServer
        from thrift.transport import TSocket, TTransport
    except ImportError:
        print("SKIP: no python3-thrift")
        return 77
    # the generated packages follow the IDL's "namespace py" (or the file name)
    import importlib
    import pkgutil

    mods = {m.name for m in pkgutil.iter_modules([gen])}
    scribe_pkg = next(m for m in mods if "scribe" in m.lower())
    core_pkg = next(m for m in mods if "zipkin" in m.lower() or "core" in m.lower())
    scribe_mod = importlib.import_module(scribe_pkg + ".scribe")
    scribe_types = importlib.import_module(scribe_pkg + ".ttypes")
    core_types = importlib.import_module(core_pkg + ".ttypes")

    out = open(out_path, "a", buffering=1)

    class Handler:
        def Log(self, messages):
            for entry in messages:
                raw = base64.b64decode(entry.message, validate=True)
                span = core_types.Span()
                span.read(TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(raw)))
                hi = span.trace_id_high or 0
                parent = "-" if span.parent_id is None else "%016x" % (span.parent_id & (2**64 - 1))
                out.write("%s %016x%016x %016x %s %s\n" % (
                    entry.category, hi & (2**64 - 1), span.trace_id & (2**64 - 1),
                    span.id & (2**64 - 1), parent, span.name))
            return scribe_types.ResultCode.OK

    server = TServer.TSimpleServer(
        scribe_mod.Processor(Handler()),
        TSocket.TServerSocket(host="127.0.0.1", port=port),
        TTransport.TFramedTransportFactory(),
        TBinaryProtocol.TBinaryProtocolFactory())
    print("ready", flush=True)
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())

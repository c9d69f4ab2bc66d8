#!/usr/bin/env python3
"""tests/tools/zipkin_check.py - checks proto/zipkin.c's output with decoders that are not ours.

Usage: zipkin_check.py DIR, where tests/unit/test_zipkin.c (test_zipkin_real_decoders) wrote:
  expect.json    the raw input of every span (strings in hex, 64-bit numbers as strings)
  v2.json        zipkin_json_v2_list() of all spans;  v2_span0.json  zipkin_json_v2_span(span 0)
  v1.json        zipkin_json_v1_list() of all spans
  thrift.bin     zipkin_thrift_v1_list() of all spans; span0.thrift  zipkin_thrift_v1_span(span 0)
  scribe.bin     scribe_log_call(seqid, all spans)

What it does:
  1. JSON v2 is validated against the Span schema of zipkin2-api.yaml (and v1 against
     zipkin-api.yaml) with jsonschema, made strict (no unknown members; anchored id patterns,
     which the spec leaves unanchored; ipv4/ipv6 formats checked).
  2. Thrift and Scribe are decoded with Apache Thrift's own Python library, using code that
     the `thrift` compiler generates at run time from the spec's zipkinCore.thrift and
     scribe.thrift; every field is also walked against the IDL's types (generated readers
     skip unknown or mistyped fields silently).
  3. Every decoded span is compared, field by field, with what this file's own model of the
     mapping (docs/zipkin-encoding.md) expects from the raw input. The model is written here
     independently of the C code: UTF-8 repair is Python's decode(errors="replace"), IPv6
     text is a port of Zipkin's Endpoint.writeIpV6.
  4. It writes Scribe replies with the Thrift library, as a generated scribe server would
     (reply_ok.bin, reply_try_later.bin, reply_exception.bin, reply_ok_old.bin with the old
     non-strict header), for the C test to parse.

The spec is <repo>/../shared/spec/zipkin (as in CI), or $ZIPKIN_SPEC_DIR.
Exit status: 0 all good, 1 a mismatch (printed), 77 a dependency is missing: Debian packages
python3-jsonschema python3-yaml python3-thrift thrift-compiler.
"""

import base64
import copy
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77
INT64_MAX = (1 << 63) - 1

try:
    import jsonschema
    import yaml
    from thrift.protocol import TBinaryProtocol
    from thrift.Thrift import TApplicationException, TMessageType, TType
    from thrift.transport import TTransport
except ImportError as e:
    print(f"zipkin_check: SKIP: {e} (Debian: python3-jsonschema python3-yaml python3-thrift)")
    sys.exit(SKIP)

# proto/span.h, enum span_tag: written here again so a wrong table in C shows.
TAG_NAMES = {
    1: "http.method", 2: "http.path", 3: "http.url", 4: "http.status_code", 5: "http.host",
    6: "router.label", 7: "service", 8: "client", 9: "residual", 10: "dtab.local",
    11: "http.request.size", 12: "http.response.size", 13: "error", 14: "dtab.base",
    15: "l5d.success",
}
SPAN_KIND_SERVER = 1
SPAN_F_DEBUG = 1 << 1
SPAN_F_SHARED = 1 << 2

errors = []


def fail(msg):
    errors.append(msg)
    if len(errors) >= 30:
        report_and_exit()


def report_and_exit():
    for e in errors:
        print("zipkin_check: " + e)
    print(f"zipkin_check: FAILED ({len(errors)} problem(s))")
    sys.exit(1)


# ---- the model: what each encoding should hold for a raw span ------------------------------

ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def text(hex_bytes, lower=False):
    s = bytes.fromhex(hex_bytes).decode("utf-8", errors="replace")
    return s.translate(ASCII_LOWER) if lower else s


def zipkin_ipv6_text(b):
    """Port of zipkin2.Endpoint.writeIpV6 (its decoder re-spells every IPv6 this way)."""
    groups = [b[i] << 8 | b[i + 1] for i in range(0, 16, 2)]
    best, best_len, run = -1, -1, -1
    for g in range(8):
        if groups[g] == 0:
            if run < 0:
                run = g
            continue
        if run >= 0:
            if g - run > best_len:
                best, best_len = run, g - run
            run = -1
    if best < 0 and run >= 0:
        best, best_len = run, 8 - run
    out, i = "", 0
    while i < 8:
        if i == best:
            out += ":"
            i += best_len
            if i == 8:
                out += ":"
            continue
        if i != 0:
            out += ":"
        out += format(groups[i], "x")
        i += 1
    return out


def address(ep):
    """None, ("ipv4", text, 4 bytes) or ("ipv6", text, 16 bytes), by the documented rules."""
    if not ep["has_ip"]:
        return None
    b = bytes.fromhex(ep["ip"])
    if not ep["ipv6"]:
        return None if b == bytes(4) else ("ipv4", str(ipaddress.IPv4Address(b)), b)
    if b == bytes(16):
        return None
    if b[:10] == bytes(10) and b[10:12] in (b"\0\0", b"\xff\xff") and \
            not (b[10:12] == b"\0\0" and b[12:] == b"\0\0\0\1"):
        v4 = b[12:]
        return None if v4 == bytes(4) else ("ipv4", str(ipaddress.IPv4Address(v4)), v4)
    return ("ipv6", zipkin_ipv6_text(b), b)


class Model:
    """One raw span from expect.json with every rule of docs/zipkin-encoding.md applied."""

    def __init__(self, raw):
        self.raw = raw
        self.trace_hi = int(raw["trace_hi"])
        self.trace_lo = int(raw["trace_lo"])
        self.span_id = int(raw["span_id"])
        parent = int(raw["parent_id"])
        self.parent_id = parent if parent != self.span_id else 0
        self.server = raw["kind"] == SPAN_KIND_SERVER
        self.debug = bool(raw["flags"] & SPAN_F_DEBUG)
        self.shared = self.server and bool(raw["flags"] & SPAN_F_SHARED)
        self.name = text(raw["name"], lower=True)
        ts, dur = int(raw["timestamp"]), int(raw["duration"])
        self.has_time = 1 <= ts < INT64_MAX  # the end, ts + dur, must be an int64 too
        self.ts = ts
        self.dur = min(max(dur, 1), INT64_MAX - ts) if self.has_time else dur
        self.local, self.remote = raw["local"], raw["remote"]
        self.local_ip, self.remote_ip = address(self.local), address(self.remote)
        self.local_service = text(self.local["service"], lower=True)
        self.remote_service = text(self.remote["service"], lower=True)
        self.has_local = bool(self.local_service or self.local_ip or self.local["port"])
        self.has_remote = bool(self.remote_service or self.remote_ip)
        tags = []
        for t in raw["tags"]:
            if t["key"] != 0:
                if t["key"] not in TAG_NAMES:
                    continue  # a key from a newer encoder: dropped
                name = TAG_NAMES[t["key"]]
            else:
                name = text(t["name"])
            value = t["num"] if "num" in t else text(t["value"])
            tags.append((name, value))
        # a repeated name keeps its last value, at the position of that last entry
        self.tags = [(n, v) for i, (n, v) in enumerate(tags)
                     if all(n2 != n for n2, _ in tags[i + 1:])]

    def trace_id_hex(self):
        if self.trace_hi:
            return f"{self.trace_hi:016x}{self.trace_lo:016x}"
        return f"{self.trace_lo:016x}"

    # -- JSON v2
    def endpoint_v2(self, ep, service, ip):
        d = {}
        if service:
            d["serviceName"] = service
        if ip:
            d[ip[0]] = ip[1]
        if ep["port"]:
            d["port"] = ep["port"]
        return d

    def v2(self):
        d = {"traceId": self.trace_id_hex()}
        if self.parent_id:
            d["parentId"] = f"{self.parent_id:016x}"
        d["id"] = f"{self.span_id:016x}"
        d["kind"] = "SERVER" if self.server else "CLIENT"
        if self.name:
            d["name"] = self.name
        if self.has_time:
            d["timestamp"] = self.ts
            d["duration"] = self.dur
        if self.has_local:
            d["localEndpoint"] = self.endpoint_v2(self.local, self.local_service, self.local_ip)
        if self.has_remote:
            d["remoteEndpoint"] = self.endpoint_v2(self.remote, self.remote_service,
                                                   self.remote_ip)
        if self.tags:
            d["tags"] = dict(self.tags)
        if self.debug:
            d["debug"] = True
        if self.shared:
            d["shared"] = True
        return d

    # -- JSON v1
    def endpoint_v1(self, ep, service, ip):
        d = {"serviceName": service}
        if ip:
            d[ip[0]] = ip[1]
        if ep["port"]:
            d["port"] = ep["port"]
        return d

    def core_annotations(self):
        """[(timestamp, value)]: sr/ss or cs/cr, when the timestamp is known."""
        if not self.has_time:
            return []
        first, last = ("sr", "ss") if self.server else ("cs", "cr")
        return [(self.ts, first), (self.ts + self.dur, last)]

    def lc(self):
        return not self.has_time and not self.tags and not self.has_remote

    def v1(self):
        local = self.endpoint_v1(self.local, self.local_service, self.local_ip)
        d = {"traceId": self.trace_id_hex()}
        if self.parent_id:
            d["parentId"] = f"{self.parent_id:016x}"
        d["id"] = f"{self.span_id:016x}"
        d["name"] = self.name
        if self.has_time and not self.shared:
            d["timestamp"] = self.ts
            d["duration"] = self.dur
        d["annotations"] = [{"timestamp": ts, "value": v, "endpoint": local}
                            for ts, v in self.core_annotations()]
        bins = [{"key": n, "value": v, "endpoint": local} for n, v in self.tags]
        if self.has_remote:
            bins.append({"key": "ca" if self.server else "sa", "value": True,
                         "endpoint": self.endpoint_v1(self.remote, self.remote_service,
                                                      self.remote_ip)})
        if self.lc():
            bins.append({"key": "lc", "value": "", "endpoint": local})
        d["binaryAnnotations"] = bins
        if self.debug:
            d["debug"] = True
        return d

    # -- Thrift v1
    def thrift(self, zc):
        def i64(v):
            return v - (1 << 64) if v >= 1 << 63 else v

        def endpoint(ep, service, ip):
            v4 = int.from_bytes(ip[2], "big") if ip and ip[0] == "ipv4" else 0
            port = ep["port"]
            return zc.Endpoint(ipv4=v4 - (1 << 32) if v4 >= 1 << 31 else v4,
                               port=port - (1 << 16) if port >= 1 << 15 else port,
                               service_name=service,
                               ipv6=ip[2] if ip and ip[0] == "ipv6" else None)

        local = endpoint(self.local, self.local_service, self.local_ip)
        anns = [zc.Annotation(timestamp=ts, value=v, host=local)
                for ts, v in self.core_annotations()]
        bins = [zc.BinaryAnnotation(key=n, value=v.encode("utf-8"),
                                    annotation_type=zc.AnnotationType.STRING, host=local)
                for n, v in self.tags]
        if self.has_remote:
            bins.append(zc.BinaryAnnotation(
                key="ca" if self.server else "sa", value=b"\x01",
                annotation_type=zc.AnnotationType.BOOL,
                host=endpoint(self.remote, self.remote_service, self.remote_ip)))
        if self.lc():
            bins.append(zc.BinaryAnnotation(key="lc", value=b"",
                                            annotation_type=zc.AnnotationType.STRING,
                                            host=local))
        timed = self.has_time and not self.shared
        return zc.Span(trace_id=i64(self.trace_lo), name=self.name, id=i64(self.span_id),
                       parent_id=i64(self.parent_id) if self.parent_id else None,
                       annotations=anns, binary_annotations=bins, debug=self.debug,
                       timestamp=self.ts if timed else None,
                       duration=self.dur if timed else None,
                       trace_id_high=i64(self.trace_hi) if self.trace_hi else None)


# ---- comparison ---------------------------------------------------------------------------

def diff(path, got, want):
    """Reports every difference between two JSON-like values."""
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(got) | set(want)):
            if k not in got:
                fail(f"{path}.{k}: missing, want {want[k]!r}")
            elif k not in want:
                fail(f"{path}.{k}: unexpected {got[k]!r}")
            else:
                diff(f"{path}.{k}", got[k], want[k])
    elif isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            fail(f"{path}: {len(got)} items, want {len(want)}: {got!r} vs {want!r}")
        for i, (g, w) in enumerate(zip(got, want)):
            diff(f"{path}[{i}]", g, w)
    elif type(got) is not type(want) or got != want:
        fail(f"{path}: got {got!r}, want {want!r}")


def thrift_dict(obj):
    """A generated Thrift struct as nested dicts, for diff()."""
    if isinstance(obj, list):
        return [thrift_dict(x) for x in obj]
    if hasattr(obj, "thrift_spec"):
        return {k: thrift_dict(v) for k, v in obj.__dict__.items()}
    return obj


def no_dup_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        fail(f"duplicate JSON keys in {keys!r}")
    return dict(pairs)


def reject_constant(name):
    raise ValueError(f"JSON constant {name} is not JSON")


def load_json(path):
    body = path.read_bytes()
    if not body.startswith(b"["):
        fail(f"{path.name}: Zipkin needs the body to start with '['")
    try:
        body.decode("utf-8")  # strict: no invalid UTF-8 anywhere
    except UnicodeDecodeError as e:
        fail(f"{path.name}: not UTF-8: {e}")
        return body, None
    return body, json.loads(body, object_pairs_hook=no_dup_keys, parse_constant=reject_constant)


def strict_schema(definitions, root, patch=None):
    defs = copy.deepcopy(definitions)
    for name in ("Span", "Endpoint", "Annotation", "BinaryAnnotation"):
        if name in defs:
            defs[name]["additionalProperties"] = False
    if patch:
        patch(defs)
    return jsonschema.Draft4Validator({"$ref": f"#/definitions/{root}", "definitions": defs},
                                      format_checker=jsonschema.FormatChecker())


def validate(name, validator, doc):
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        fail(f"{name}: schema: {'/'.join(map(str, e.absolute_path))}: {e.message}")


HEX16 = re.compile(r"[a-f0-9]{16}")
TRACE = re.compile(r"[a-f0-9]{16}|[a-f0-9]{32}")


def check_json_common(name, spans):
    """What the spec says but its schema does not enforce."""
    for i, s in enumerate(spans):
        if not TRACE.fullmatch(s.get("traceId", "")):
            fail(f"{name}[{i}].traceId {s.get('traceId')!r}: not 16 or 32 lower-hex")
        for k in ("id", "parentId"):
            if k in s and not HEX16.fullmatch(s[k]):
                fail(f"{name}[{i}].{k} {s[k]!r}: not 16 lower-hex")
        for k in ("timestamp", "duration"):
            if k in s and not 1 <= s[k] <= INT64_MAX:
                fail(f"{name}[{i}].{k} {s[k]}: not a positive int64")
        for a in s.get("annotations", []):
            if not 1 <= a["timestamp"] <= INT64_MAX:
                fail(f"{name}[{i}]: annotation timestamp {a['timestamp']} not a positive int64")
        eps = [s.get("localEndpoint"), s.get("remoteEndpoint")]
        eps += [a.get("endpoint") for a in s.get("annotations", [])]
        eps += [a.get("endpoint") for a in s.get("binaryAnnotations", [])]
        for ep in filter(None, eps):
            if "port" in ep and not 1 <= ep["port"] <= 65535:
                fail(f"{name}[{i}]: port {ep['port']} out of 1..65535")
            if "ipv6" in ep and ipaddress.IPv6Address(ep["ipv6"]).ipv4_mapped:
                fail(f"{name}[{i}]: mapped IPv4 {ep['ipv6']} should be sent as ipv4")


# ---- Thrift -------------------------------------------------------------------------------

def walk_struct(prot, cls, path):
    """Reads one struct, checking every field id and type against the IDL's spec."""
    spec = {f[0]: f for f in cls.thrift_spec if f}
    seen = set()
    prot.readStructBegin()
    while True:
        _, ftype, fid = prot.readFieldBegin()
        if ftype == TType.STOP:
            break
        f = spec.get(fid)
        if f is None:
            fail(f"{path}: field id {fid} is not in the IDL of {cls.__name__}")
            return
        if f[1] != ftype:
            fail(f"{path}.{f[2]}: type {ftype}, IDL says {f[1]}")
            return
        if fid in seen:
            fail(f"{path}.{f[2]}: written twice")
        seen.add(fid)
        walk_value(prot, ftype, f[3], f"{path}.{f[2]}")
        prot.readFieldEnd()
    prot.readStructEnd()


def walk_value(prot, ttype, args, path):
    if ttype == TType.STRUCT:
        walk_struct(prot, args[0], path)
    elif ttype == TType.LIST:
        etype, size = prot.readListBegin()
        if etype != args[0]:
            fail(f"{path}: element type {etype}, IDL says {args[0]}")
            return
        for i in range(size):
            walk_value(prot, etype, args[1], f"{path}[{i}]")
        prot.readListEnd()
    elif ttype == TType.STRING:
        if args == "UTF8":
            prot.readString()  # raises on invalid UTF-8
        else:
            prot.readBinary()
    elif ttype == TType.BOOL:
        v = prot.readByte()
        if v not in (0, 1):
            fail(f"{path}: bool byte {v}")
    elif ttype == TType.I16:
        prot.readI16()
    elif ttype == TType.I32:
        prot.readI32()
    elif ttype == TType.I64:
        prot.readI64()
    else:
        fail(f"{path}: unexpected type {ttype}")


def read_span(zc, data, path):
    """Decodes one TBinaryProtocol Span that must fill <data> exactly."""
    mem = TTransport.TMemoryBuffer(data)
    walk_struct(TBinaryProtocol.TBinaryProtocol(mem), zc.Span, path)
    if mem.cstringio_buf.tell() != len(data):
        fail(f"{path}: {len(data) - mem.cstringio_buf.tell()} bytes after the span")
    mem = TTransport.TMemoryBuffer(data)
    span = zc.Span()
    span.read(TBinaryProtocol.TBinaryProtocol(mem))
    return span


def check_thrift_list(zc, data, models):
    if data[:1] != b"\x0c":
        fail("thrift.bin: POST /api/v1/spans needs first byte 0x0c (list<struct>)")
    mem = TTransport.TMemoryBuffer(data)
    prot = TBinaryProtocol.TBinaryProtocol(mem)
    etype, size = prot.readListBegin()
    if etype != TType.STRUCT or size != len(models):
        fail(f"thrift.bin: list header ({etype}, {size}), want (12, {len(models)})")
        return
    start = mem.cstringio_buf.tell()
    for i in range(size):
        walk_struct(prot, zc.Span, f"thrift.bin[{i}]")
    if mem.cstringio_buf.tell() != len(data):
        fail(f"thrift.bin: {len(data) - mem.cstringio_buf.tell()} bytes after the list")
    mem.cstringio_buf.seek(start)
    for i, m in enumerate(models):
        span = zc.Span()
        span.read(prot)
        diff(f"thrift.bin[{i}]", thrift_dict(span), thrift_dict(m.thrift(zc)))


def check_scribe(zc, sc, data, models, seqid):
    if len(data) < 4 or int.from_bytes(data[:4], "big") != len(data) - 4:
        fail("scribe.bin: frame length is not the length of the rest")
        return
    # the message, read through Thrift's framed transport and strict binary protocol
    trans = TTransport.TFramedTransport(TTransport.TMemoryBuffer(data))
    prot = TBinaryProtocol.TBinaryProtocol(trans, strictRead=True)
    name, mtype, got_seqid = prot.readMessageBegin()
    if (name, mtype, got_seqid) != ("Log", TMessageType.CALL, seqid):
        fail(f"scribe.bin: message ({name!r}, {mtype}, {got_seqid}), want ('Log', CALL, {seqid})")
    args = sc.scribe.Log_args()
    args.read(prot)
    prot.readMessageEnd()
    # and walked against the IDL over the frame's payload, which it must fill exactly
    mem = TTransport.TMemoryBuffer(data[4:])
    p2 = TBinaryProtocol.TBinaryProtocol(mem, strictRead=True)
    p2.readMessageBegin()
    walk_struct(p2, sc.scribe.Log_args, "scribe.bin")
    if mem.cstringio_buf.tell() != len(data) - 4:
        fail(f"scribe.bin: {len(data) - 4 - mem.cstringio_buf.tell()} bytes after Log_args")
    entries = args.messages or []
    if len(entries) != len(models):
        fail(f"scribe.bin: {len(entries)} LogEntry, want {len(models)}")
        return
    for i, (entry, m) in enumerate(zip(entries, models)):
        if entry.category != "zipkin":
            fail(f"scribe.bin[{i}]: category {entry.category!r}")
        try:
            raw = base64.b64decode(entry.message, validate=True)
        except ValueError as e:
            fail(f"scribe.bin[{i}]: message is not strict base64: {e}")
            continue
        if base64.b64encode(raw).decode("ascii") != entry.message:
            fail(f"scribe.bin[{i}]: base64 not in the canonical padded form")
        if raw[:1] == b"\x0c":
            fail(f"scribe.bin[{i}]: a message is one Span, not a list")
        span = read_span(zc, raw, f"scribe.bin[{i}]")
        diff(f"scribe.bin[{i}]", thrift_dict(span), thrift_dict(m.thrift(zc)))


def write_reply(sc, path, seqid, success=None, exc=None, strict=True):
    """Writes a framed reply exactly as a generated scribe Processor does (process_Log)."""
    mem = TTransport.TMemoryBuffer()
    framed = TTransport.TFramedTransport(mem)
    prot = TBinaryProtocol.TBinaryProtocol(framed, strictWrite=strict)
    if exc is not None:
        prot.writeMessageBegin("Log", TMessageType.EXCEPTION, seqid)
        exc.write(prot)
    else:
        prot.writeMessageBegin("Log", TMessageType.REPLY, seqid)
        sc.scribe.Log_result(success=success).write(prot)
    prot.writeMessageEnd()
    framed.flush()
    path.write_bytes(mem.getvalue())


# ---- main ---------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    work = Path(sys.argv[1])
    repo = Path(__file__).resolve().parents[2]
    spec = Path(os.environ.get("ZIPKIN_SPEC_DIR", repo.parent / "shared" / "spec" / "zipkin"))
    for f in ("zipkin2-api.yaml", "zipkin-api.yaml", "zipkinCore.thrift", "scribe.thrift"):
        if not (spec / f).is_file():
            print(f"zipkin_check: SKIP: no {spec / f} (set ZIPKIN_SPEC_DIR)")
            return SKIP
    thrift = shutil.which("thrift")
    if thrift is None:
        print("zipkin_check: SKIP: no thrift compiler (Debian: thrift-compiler)")
        return SKIP

    expect = json.loads((work / "expect.json").read_text())
    models = [Model(raw) for raw in expect["spans"]]
    seqid = expect["seqid"]

    # 1. JSON v2 and v1: schema, then the model
    v2_spec = yaml.safe_load((spec / "zipkin2-api.yaml").read_text())
    v1_spec = yaml.safe_load((spec / "zipkin-api.yaml").read_text())
    v2_list = strict_schema(v2_spec["definitions"], "ListOfSpans")
    v2_one = strict_schema(v2_spec["definitions"], "Span")

    def v1_patch(defs):
        # v1 address annotations ("ca", "sa") carry the JSON value true, as Zipkin's own v1
        # writer and reader do; the v1 spec's schema only lists string values.
        defs["BinaryAnnotation"]["properties"]["value"] = {"type": ["string", "boolean"]}

    v1_list = strict_schema(v1_spec["definitions"], "ListOfSpans", v1_patch)

    body, doc = load_json(work / "v2.json")
    if b'yAnnotations"' in body:
        fail("v2.json holds `yAnnotations\"`: Zipkin would refuse it as v1")
    if doc is not None:
        validate("v2.json", v2_list, doc)
        check_json_common("v2.json", doc)
        diff("v2.json", doc, [m.v2() for m in models])
        for i, s in enumerate(doc):
            for k in ("localEndpoint", "remoteEndpoint"):
                if "ipv6" in s.get(k, {}):
                    raw = models[i].local if k == "localEndpoint" else models[i].remote
                    if ipaddress.IPv6Address(s[k]["ipv6"]).packed != bytes.fromhex(raw["ip"]):
                        fail(f"v2.json[{i}].{k}.ipv6 {s[k]['ipv6']}: not the address sent")
    one = json.loads((work / "v2_span0.json").read_bytes(), object_pairs_hook=no_dup_keys)
    validate("v2_span0.json", v2_one, one)
    diff("v2_span0.json", one, models[0].v2())

    body, doc = load_json(work / "v1.json")
    for pattern in (b'Endpoint"', b'"tags"'):
        if pattern in body:
            fail(f"v1.json holds `{pattern.decode()}`: Zipkin would refuse it as v2")
    if doc is not None:
        validate("v1.json", v1_list, doc)
        check_json_common("v1.json", doc)
        diff("v1.json", doc, [m.v1() for m in models])

    # 2. Thrift and Scribe, with code generated from the spec's IDL
    with tempfile.TemporaryDirectory(prefix="zipkin_check.") as gen:
        for idl in ("zipkinCore.thrift", "scribe.thrift"):
            r = subprocess.run([thrift, "--gen", "py", "-out", gen, str(spec / idl)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                fail(f"thrift --gen py {idl}: {r.stderr.strip()}")
                report_and_exit()
        sys.path.insert(0, gen)
        import zipkinCore.ttypes as zc  # noqa: E402 (generated just now)
        import scribe.scribe  # noqa: E402,F401
        import scribe.ttypes  # noqa: E402,F401
        import scribe as sc  # noqa: E402

        check_thrift_list(zc, (work / "thrift.bin").read_bytes(), models)
        span = read_span(zc, (work / "span0.thrift").read_bytes(), "span0.thrift")
        diff("span0.thrift", thrift_dict(span), thrift_dict(models[0].thrift(zc)))
        check_scribe(zc, sc, (work / "scribe.bin").read_bytes(), models, seqid)

        # 4. replies for the C parser
        ok_code = sc.ttypes.ResultCode.OK
        write_reply(sc, work / "reply_ok.bin", seqid, success=ok_code)
        write_reply(sc, work / "reply_try_later.bin", seqid + 1,
                    success=sc.ttypes.ResultCode.TRY_LATER)
        write_reply(sc, work / "reply_exception.bin", seqid + 2,
                    exc=TApplicationException(TApplicationException.INTERNAL_ERROR,
                                              "Internal error processing Log"))
        write_reply(sc, work / "reply_ok_old.bin", seqid + 3, success=ok_code, strict=False)

    if errors:
        report_and_exit()
    print(f"zipkin_check: {len(models)} spans OK: JSON v2 and v1 (strict schema + model), "
          f"Thrift list, span and Scribe Log call (Apache Thrift, IDL-generated code); "
          f"replies written")
    return 0


if __name__ == "__main__":
    sys.exit(main())

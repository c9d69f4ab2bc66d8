#!/usr/bin/env python3
"""Turn one bench/run session (bench/results/raw/<stamp>/*.tsv) into a Markdown report.

    report.py --raw DIR --out bench/results/<name>.md [--docs docs/benchmarks.md]

Prints the report, writes it to --out and, with --docs, replaces or appends this session's
summary section in the docs file (sections are keyed by the report name).
"""

import argparse
import csv
import os
import re
import statistics
import sys

PEERS = ("nginx", "haproxy")
LAYOUT_TITLE = {
    "A": "Layout A, fair peak: proxy on CPU 0; backend and wrk on CPU 1 "
         "(direct: backend and wrk on CPU 1, CPU 0 idle)",
    "B": "Layout B, single core: everything on CPU 1",
    "C": "Layout C, physical limit: direct only, backend on CPU 0, wrk on CPU 1 "
         "(reported, not used for ratios)",
}
MESHD_WORKER_TARGET_KB = 8 * 1024
NOISY_PCT = 10.0  # CPU used by others during a point, % of one CPU, above which it is flagged


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def med(xs):
    return statistics.median(xs) if xs else None


def esc(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def f_rps(v):
    if v is None:
        return "—"
    return "%.1fk" % (v / 1000) if v >= 10000 else "%.0f" % v


def f_us(v):
    if v is None:
        return "—"
    if v >= 1e6:
        return "%.2f s" % (v / 1e6)
    if v >= 1000:
        return "%.2f ms" % (v / 1000)
    return "%.0f µs" % v


def f_mib(kb):
    return "—" if kb is None else "%.1f MiB" % (kb / 1024)


def f_kb(v):
    return "—" if v is None else "%.1f" % v


def f_pct(v):
    if v is None:
        return "—"
    return ("**%.0f%%**" if v >= NOISY_PCT else "%.0f%%") % v


def f_ratio(v):
    return "—" if v is None else "%.2f" % v


def spread(xs, fmt):
    """median (min–max), or just the median for one value or no spread."""
    if not xs:
        return "—"
    m = fmt(med(xs))
    lo, hi = fmt(min(xs)), fmt(max(xs))
    if len(xs) == 1 or lo == hi:
        return m
    return "%s (%s–%s)" % (m, lo, hi)


class Session:
    def __init__(self, raw):
        self.raw = raw
        self.meta = {}
        meta_path = os.path.join(raw, "meta.tsv")
        with open(meta_path) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                self.meta[k] = v
        self.runs = read_tsv(os.path.join(raw, "runs.tsv"))
        for r in self.runs:
            r["valid"] = r["valid"] == "1"
            for k in ("rps", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us",
                      "cpu_us_per_req", "rss_load_kb", "pss_load_kb", "requests",
                      "other_cpu_pct", "steal_pct"):
                r[k] = num(r[k])
        self.rows_status = {r["row"]: r for r in read_tsv(os.path.join(raw, "rows.tsv"))}
        self.mem = {r["row"]: r for r in read_tsv(os.path.join(raw, "mem.tsv"))}
        self.lat = read_tsv(os.path.join(raw, "latency.tsv"))  # bench/run --latency
        for r in self.lat:
            r["valid"] = r["valid"] == "1"
            for k in ("rate", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "lag_p99_us",
                      "late_sends", "scheduled"):
                r[k] = num(r[k])
        self.layouts = self.meta.get("layouts", "").split()
        self.rows = self.meta.get("rows", "direct").split()
        self.quick = self.meta.get("quick") == "1"
        self.short = (int(self.meta.get("duration", 30)) < 30 or int(self.meta.get("reps", 3)) < 3
                      or int(self.meta.get("warmup", 3)) < 3)

    # -- selection -------------------------------------------------------------------------

    def points(self, kind, layout, row, valid=True):
        return [r for r in self.runs if r["kind"] == kind and r["layout"] == layout
                and r["row"] == row and (r["valid"] or not valid)]

    def by_rep(self, kind, layout, row):
        return {r["rep"]: r for r in self.points(kind, layout, row)}

    def failed(self, row):
        st = self.rows_status.get(row)
        if st and st["status"] == "failed":
            return st["reason"]
        if row == "direct":
            return None
        return None

    # -- figures ---------------------------------------------------------------------------

    def figures(self, layout, row):
        """All figures of one row in one layout, or None when it has no valid run."""
        pts = self.points("load", layout, row)
        allpts = self.points("load", layout, row, valid=False)
        if not pts:
            return None
        d = self.by_rep("load", layout, "direct")
        peers = {p: self.by_rep("load", layout, p) for p in PEERS if p in self.rows}
        to_direct, to_peer = [], []
        for r in pts:
            if row != "direct" and r["rep"] in d:
                to_direct.append(r["rps"] / d[r["rep"]]["rps"])
            best = [peers[p][r["rep"]]["rps"] for p in peers if r["rep"] in peers[p]]
            if best and row != "direct":
                to_peer.append(r["rps"] / max(best))
        rt = self.points("rt", layout, row)
        rt_direct = self.by_rep("rt", layout, "direct")
        added = [r["p50_us"] - rt_direct[r["rep"]]["p50_us"] for r in rt
                 if row != "direct" and r["rep"] in rt_direct]
        return {
            "rps": [r["rps"] for r in pts],
            "to_direct": to_direct,
            "to_peer": to_peer,
            "cpu": [r["cpu_us_per_req"] for r in pts if r["cpu_us_per_req"] is not None],
            "p50": med([r["p50_us"] for r in pts]),
            "p90": med([r["p90_us"] for r in pts]),
            "p99": med([r["p99_us"] for r in pts]),
            "p999": med([r["p999_us"] for r in pts]),
            "max": max(r["max_us"] for r in pts),
            "rt": [r["p50_us"] for r in rt],
            "rt_added": added,
            "valid": "%d/%d" % (len(pts), len(allpts)),
            "other": max([r["other_cpu_pct"] for r in pts + rt
                          if r["other_cpu_pct"] is not None], default=None),
            "rss_load": max([r["rss_load_kb"] for r in pts if r["rss_load_kb"] is not None],
                            default=None),
            "pss_load": max([r["pss_load_kb"] for r in pts if r["pss_load_kb"] is not None],
                            default=None),
        }

    def no_data_reason(self, layout, row):
        reason = self.failed(row)
        if reason:
            return "failed: " + reason
        bad = self.points("load", layout, row, valid=False)
        if bad:
            return "failed: no valid run (%s)" % bad[0]["reason"]
        return "not run"

    def idle(self, row):
        m = self.mem.get(row)
        if not m:
            return None
        ok = int(m["ok"] or 0)
        rb, rw = num(m["rss_before_kb"]), num(m["rss_with_kb"])
        pb, pw = num(m["pss_before_kb"]), num(m["pss_with_kb"])
        out = {
            "conns": int(m["conns"]), "ok": ok, "closed": m["closed_by_peer"],
            "rss_with": rw, "pss_with": pw, "worker_with": num(m["worker_rss_with_kb"]),
            "rss_before": rb, "pss_before": pb,
            "worker_before": num(m["worker_rss_before_kb"]), "procs": m["procs"],
            "note": m["note"], "kb_conn_rss": None, "kb_conn_pss": None,
        }
        if ok and rb is not None and rw is not None:
            out["kb_conn_rss"] = (rw - rb) / ok
        if ok and pb is not None and pw is not None:
            out["kb_conn_pss"] = (pw - pb) / ok
        return out

    def kb_active(self, row):
        act = self.points("active", "A", row)
        i = self.idle(row)
        if not act or not i or i["rss_before"] is None or act[0]["rss_load_kb"] is None:
            return None
        return (act[0]["rss_load_kb"] - i["rss_before"]) / int(act[0]["conns"])

    # -- text ------------------------------------------------------------------------------

    def status_line(self):
        if self.quick:
            return ("**QUICK run** (%s s points, %s repetition): a smoke test of the harness, "
                    "not a result." % (self.meta["duration"], self.meta["reps"]))
        if self.short:
            return ("**Short run** (%s s points, %s s warm-up, %s repetitions): not final; "
                    "the method asks for 30 s points and at least 3 repetitions."
                    % (self.meta["duration"], self.meta["warmup"], self.meta["reps"]))
        return "Full run (%s s points, %s repetitions)." % (self.meta["duration"], self.meta["reps"])

    def environment(self):
        m = self.meta
        meshd = m.get("meshd", "")
        if m.get("meshd_note"):
            meshd += " (%s)" % m["meshd_note"]
        return [
            "- Command: `%s`" % m["command"],
            "- Machine: Linux %s, %s CPUs (%s)" % (m["kernel"], m["nproc"], m["cpu"]),
            "- Tools: %s, nginx %s, HAProxy %s, %s" % (m["wrk"], m["nginx"], m["haproxy"],
                                                        m["python"]),
            "- meshd: `%s` at git %s" % (meshd, m["git"]),
            "- Load: `wrk -t1 -c%s`, %s s warm-up then %s s a point, %s repetition(s), each "
            "running every layout and row in turn (%s); 1-connection round trip %s s a point."
            % (m["conns"], m["warmup"], m["duration"], m["reps"], " ".join(m["layouts"].split()),
               m["rt_duration"]),
            "- Load average: %s" % m.get("loadavg", "?"),
            "- Raw wrk output and TSVs: `%s/` (not committed)" % m["raw"],
        ]

    def layout_table(self, layout):
        rows = ["direct"] if layout == "C" else self.rows
        lines = []
        if layout == "C":
            lines.append("| row | req/s median (min–max) | p50 | p90 | p99 | p99.9 | max "
                         "| 1-conn round trip p50 | valid runs | other CPU load |")
            lines.append("|---|---|---|---|---|---|---|---|---|---|")
        else:
            lines.append("| row | req/s median (min–max) | ratio to direct | ratio to best peer "
                         "| proxy CPU µs/req | p50 | p90 | p99 | p99.9 | max "
                         "| 1-conn round trip p50 (added) | valid runs | other CPU load |")
            lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for row in rows:
            f = self.figures(layout, row)
            if f is None:
                cells = 9 if layout == "C" else 12
                lines.append("| %s | %s |%s" % (row, esc(self.no_data_reason(layout, row)),
                                                " — |" * (cells - 1)))
                continue
            rt = f_us(med(f["rt"]))
            if f["rt_added"]:
                rt += " (+%s)" % f_us(med(f["rt_added"]))
            if layout == "C":
                lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    row, spread(f["rps"], f_rps), f_us(f["p50"]), f_us(f["p90"]),
                    f_us(f["p99"]), f_us(f["p999"]), f_us(f["max"]), rt, f["valid"],
                    f_pct(f["other"])))
            else:
                lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    row, spread(f["rps"], f_rps),
                    "1" if row == "direct" else spread(f["to_direct"], f_ratio),
                    "—" if row == "direct" else spread(f["to_peer"], f_ratio),
                    spread(f["cpu"], lambda v: "%.1f" % v) if row != "direct" else "—",
                    f_us(f["p50"]), f_us(f["p90"]), f_us(f["p99"]), f_us(f["p999"]),
                    f_us(f["max"]), rt, f["valid"], f_pct(f["other"])))
        return lines

    def memory_table(self):
        n = self.meta.get("idle_conns", "0")
        c = self.meta["conns"]
        lines = [
            "| row | RSS idle | PSS idle | RSS at %s conns (load) | RSS with %s idle conns "
            "| KB/conn idle, RSS / PSS | worker RSS with %s idle | RSS at %s active conns "
            "| KB/conn active, RSS / PSS | processes | idle conns held (closed by proxy) |"
            % (c, n, n, n),
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        notes = []
        for row in self.rows:
            if row == "direct":
                continue
            st = self.rows_status.get(row, {})
            loads = [r for r in self.runs if r["kind"] == "load" and r["row"] == row]
            if st.get("status") == "failed" and not self.mem.get(row) and not loads:
                lines.append("| %s | failed: %s |%s" % (row, esc(st.get("reason", "")),
                                                         " — |" * 9))
                continue
            rss_load = max([r["rss_load_kb"] for r in loads if r["rss_load_kb"] is not None],
                           default=None)
            i = self.idle(row)
            cells = [row, f_mib(num(st.get("rss_idle_kb"))), f_mib(num(st.get("pss_idle_kb"))),
                     f_mib(rss_load)]
            if i:
                cells += [f_mib(i["rss_with"]), "%s / %s" % (f_kb(i["kb_conn_rss"]),
                                                             f_kb(i["kb_conn_pss"])),
                          f_mib(i["worker_with"])]
                if i["note"]:
                    notes.append("- %s idle run: %s" % (row, i["note"]))
            else:
                cells += ["—"] * 3
            act = self.points("active", "A", row, valid=False)
            if act and i and i["rss_before"] is not None and act[0]["rss_load_kb"] is not None:
                a = act[0]
                conns = int(a["conns"])
                cells += [f_mib(a["rss_load_kb"]), "%s / %s" % (
                    f_kb((a["rss_load_kb"] - i["rss_before"]) / conns),
                    f_kb((a["pss_load_kb"] - i["pss_before"]) / conns
                         if a["pss_load_kb"] is not None and i["pss_before"] is not None
                         else None))]
                notes.append("- %s at %d active connections: %s req/s, backend accepted %s new "
                             "connections%s." % (row, conns, f_rps(a["rps"]),
                                                 a["backend_new_conns"],
                                                 "" if a["valid"] else
                                                 "; INVALID: " + a["reason"]))
            else:
                cells += ["—"] * 2
            cells += [i["procs"] if i else "—",
                      "%d/%d (%s)" % (i["ok"], i["conns"], i["closed"]) if i else "—"]
            lines.append("| " + " | ".join(esc(x) for x in cells) + " |")
        i = self.idle("meshd")
        if "meshd" in self.rows:
            if i and i["worker_with"] is not None and i["ok"]:
                verdict = "met" if i["worker_with"] < MESHD_WORKER_TARGET_KB else "NOT met"
                notes.append("- meshd target, a worker under 8 MiB with %d idle keep-alive "
                             "connections: %s (%s with %d held)."
                             % (i["conns"], verdict, f_mib(i["worker_with"]), i["ok"]))
            else:
                notes.append("- meshd target, a worker under 8 MiB with 1,000 idle keep-alive "
                             "connections: not measured (meshd row failed).")
        return lines, notes

    def invalid_runs(self):
        out = []
        for r in self.runs:
            if not r["valid"]:
                out.append("- %s rep %s %s (%s): %s — `%s`" % (
                    r["layout"], r["rep"], r["row"], r["kind"], r["reason"], r["raw"]))
        for r in self.lat:
            if not r["valid"]:
                out.append("- B rep %s %s (latency at %s%%): %s — `%s`" % (
                    r["rep"], r["row"], r["pct"], r["reason"], r["raw"]))
        return out

    def latency_table(self):
        """bench/run --latency: open-loop latency at fixed loads in layout B, per row, and
        what each proxy adds to direct (per repetition, then the median)."""
        m = self.meta
        if m.get("latency_fail"):
            return ["Not measured: %s." % esc(m["latency_fail"])]
        L = ["mesh-openloop (`%s`), %s connections, %s s after %s s of warm-up, pinned with "
             "everything else on CPU 1. Loads are fractions of the lowest proxy peak of layout B "
             "in this session: %s req/s (%s). Latency is counted from each request's scheduled "
             "time, so stalls are not hidden; medians over valid repetitions. *Added* is the "
             "row minus direct at the same load and repetition (median). A point with any error "
             "or more than 1%% of its sends late (the load was not applied) is invalid."
             % (m.get("openloop", "?"), m["conns"], m["duration"], m["warmup"],
                m.get("latency_peak", "?"), m.get("latency_peak_row", "?")), "",
             "| load | rate | row | p50 | p90 | p99 | p99.9 | max | added p50 | added p99 "
             "| added p99.9 | late sends | valid runs |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        pcts = sorted({int(r["pct"]) for r in self.lat})
        for pct in pcts:
            direct = {r["rep"]: r for r in self.lat
                      if int(r["pct"]) == pct and r["row"] == "direct" and r["valid"]}
            for row in self.rows:
                pts = [r for r in self.lat if int(r["pct"]) == pct and r["row"] == row]
                if not pts:
                    continue
                ok = [r for r in pts if r["valid"]]
                rate = pts[0]["rate"]

                def mk(key):
                    return med([r[key] for r in ok if r[key] is not None])

                def added(key):
                    if row == "direct":
                        return "—"
                    d = [r[key] - direct[r["rep"]][key] for r in ok
                         if r["rep"] in direct and r[key] is not None
                         and direct[r["rep"]][key] is not None]
                    if not d:
                        return "—"
                    v = med(d)
                    return ("+" if v >= 0 else "−") + f_us(abs(v))

                late = sum(int(r["late_sends"] or 0) for r in ok)
                sched = sum(int(r["scheduled"] or 0) for r in ok)
                L.append("| %d%% | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |"
                         % (pct, f_rps(rate), row, f_us(mk("p50_us")), f_us(mk("p90_us")),
                            f_us(mk("p99_us")), f_us(mk("p999_us")), f_us(mk("max_us")),
                            added("p50_us"), added("p99_us"), added("p999_us"),
                            "%d/%d" % (late, sched) if ok else "—", len(ok), len(pts)))
        return L

    def report(self, name):
        L = ["# meshd benchmark %s" % name, "", self.status_line(), ""]
        L += self.environment()
        L += ["", "Ratios are medians of per-repetition ratios (each row against direct, or the "
              "best of nginx and haproxy, of the same layout and repetition). Latencies are "
              "wrk's closed-loop figures at %s connections, i.e. at saturation: they are not "
              "the fixed-load latencies of the method. Proxy CPU is utime+stime of all the "
              "proxy's processes over the measured %s s, divided by requests. Other CPU load "
              "is the CPU time the machine spent outside this session during a row's points (worst "
              "of the load and round-trip points, %% of one CPU; bold from %.0f%%: the figures "
              "are disturbed). See "
              "bench/README.md." % (self.meta["conns"], self.meta["duration"], NOISY_PCT)]
        failed = [(r, s["reason"]) for r, s in self.rows_status.items() if s["status"] == "failed"]
        if failed:
            L += [""] + ["- **%s failed**: %s" % (r, esc(why)) for r, why in failed]
        downs = ["%s %s" % (r, st["shutdown"]) for r, st in self.rows_status.items()
                 if st.get("shutdown")]
        if downs:
            L += ["", "Shutdown at the end of the session: %s." % "; ".join(downs)]
        for layout in self.layouts:
            L += ["", "## %s" % LAYOUT_TITLE[layout], ""]
            L += self.layout_table(layout)
        if int(self.meta.get("idle_conns", "0")) > 0:
            L += ["", "## Memory", "",
                  "RSS and PSS summed over all the proxy's processes (smaps_rollup). KB/conn = "
                  "(with the connections − before them) / connections. Idle: held by "
                  "bench/idle_conns.py after one request each. Active: the same number of wrk "
                  "connections under load, sampled halfway through a %s s run. Layout A pinning."
                  % self.meta.get("active_duration", "?"), ""]
            lines, notes = self.memory_table()
            L += lines
            if notes:
                L += [""] + notes
        if self.meta.get("latency") == "1":
            L += ["", "## Latency at fixed load (layout B, open-loop)", ""]
            L += self.latency_table()
        bad = self.invalid_runs()
        if bad:
            L += ["", "## Invalid runs (left out of the figures)", ""] + bad
        return "\n".join(L) + "\n"

    def docs_section(self, name, report_path, report_link=None):
        kind = "quick — harness smoke test, not a result" if self.quick else (
            "short — not final" if self.short else "full")
        m = self.meta
        L = ["## %s (%s)" % (name, kind), "",
             "`%s` — Linux %s, %s CPUs (%s); %s, nginx %s, HAProxy %s; meshd git %s. "
             "Full report: [%s](%s)." % (m["command"], m["kernel"], m["nproc"], m["cpu"],
                                            m["wrk"], m["nginx"], m["haproxy"], m["git"],
                                            os.path.basename(report_path),
                                            report_link or report_path), ""]
        if self.quick or self.short:
            L += ["> %s" % self.status_line(), ""]
        noisy = [r for r in self.runs if r["valid"] and r["other_cpu_pct"] is not None
                 and r["other_cpu_pct"] >= NOISY_PCT]
        if noisy:
            L += ["> Other processes used up to %.0f%% of a CPU during %d of %d points "
                  "(load average %s): those figures may be depressed; see the full report."
                  % (max(r["other_cpu_pct"] for r in noisy), len(noisy),
                     len([r for r in self.runs if r["valid"]]), m.get("loadavg", "?")), ""]
        L += ["| layout | row | req/s | ratio to direct | ratio to best peer | proxy CPU µs/req "
              "| p50 | p99 | p99.9 | 1-conn RT added | KB/conn idle / active "
              "| worker RSS at %s idle |"
              % m.get("idle_conns", "0"),
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for layout in self.layouts:
            for row in (["direct"] if layout == "C" else self.rows):
                f = self.figures(layout, row)
                if f is None:
                    L.append("| %s | %s | %s |%s" % (layout, row,
                                                     esc(self.no_data_reason(layout, row)),
                                                     " — |" * 9))
                    continue
                i = self.idle(row) if row != "direct" else None
                kb = "—" if not i else "%s / %s" % (f_kb(i["kb_conn_rss"]),
                                                    f_kb(self.kb_active(row)))
                wk = "—" if not i else f_mib(i["worker_with"])
                L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    layout, row, spread(f["rps"], f_rps),
                    "1" if row == "direct" else spread(f["to_direct"], f_ratio),
                    "—" if row == "direct" else spread(f["to_peer"], f_ratio),
                    "—" if row == "direct" else spread(f["cpu"], lambda v: "%.1f" % v),
                    f_us(f["p50"]), f_us(f["p99"]), f_us(f["p999"]),
                    "—" if not f["rt_added"] else "+" + f_us(med(f["rt_added"])),
                    kb if layout == "A" else "—", wk if layout == "A" else "—"))
        return "\n".join(L) + "\n"


DOCS_HEADER = """# Benchmarks

Sessions recorded by `bench/run` (how to run it and what each figure means: `bench/README.md`).
Every figure is from one session with the rows run interleaved; compare ratios, not absolute
req/s, across sessions: this 2-vCPU VM drifts 5–15% from run to run. Sections marked *quick* or
*short* only show that the harness works; they are not results. Newest last.
"""


def update_docs(path, name, section):
    begin, end = "<!-- bench:%s -->" % name, "<!-- /bench:%s -->" % name
    block = "%s\n%s%s\n" % (begin, section, end)
    text = open(path).read() if os.path.exists(path) else DOCS_HEADER
    pat = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pat.search(text):
        text = pat.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--docs")
    args = ap.parse_args()

    s = Session(args.raw)
    name = os.path.splitext(os.path.basename(args.out))[0]
    text = s.report(name)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    if args.docs:
        link = os.path.relpath(args.out, os.path.dirname(os.path.abspath(args.docs)))
        update_docs(args.docs, name, s.docs_section(name, args.out, link))
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

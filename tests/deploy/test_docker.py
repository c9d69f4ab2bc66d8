#!/usr/bin/env python3
"""tests/deploy/test_docker.py - static checks of deploy/docker/Dockerfile*.

No container engine runs here, so the Dockerfiles are checked without building images:

  1. stages: the build stage is debian:12, the runtime stage debian:12-slim; the runtime
     stage ends as a numeric non-root USER (Kubernetes can only check runAsNonRoot
     against a number);
  2. every package an `apt-get install` names exists in Debian 12 (`apt-cache show`, when
     this machine is Debian 12 itself);
  3. the runtime packages cover the shared libraries of the built binaries (ldd, then
     dpkg -S), apart from what every Debian image has (Essential packages and libc6);
  4. the build packages cover tools/lib/deps.sh's build dependencies (not the test-only
     ones) and zlib when agent/meson.build uses it;
  5. every COPY source exists in the repo (the build context is the repo root); every
     subdir() of the top-level meson.build is copied; every COPY --from=build source is
     made by the build stage's install lines; the ninja targets named exist;
  6. with --build: the build stage's COPY set alone configures and builds those targets
     (copied to a temporary directory, meson setup + ninja there).

  MESHD=... [MESHAGENT=...] [TESTSRV=...] [BUILD_ROOT=...] test_docker.py [--build]
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DOCKER = os.path.join(ROOT, "deploy", "docker")

fails = 0


def ok(msg):
    print(f"ok: {msg}")


def bad(msg):
    global fails
    fails += 1
    print(f"FAIL: {msg}")


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def parse(path):
    """Returns the stages: [{from, name, instrs: [(INSTR, args)]}], continuations joined."""
    lines, cur = [], ""
    for raw in open(path):
        s = raw.rstrip("\n")
        if not cur and (s.strip().startswith("#") or not s.strip()):
            continue
        if cur and s.strip().startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        lines.append(cur + s)
        cur = ""
    stages = []
    for line in lines:
        instr, _, args = line.strip().partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I)
            stages.append({"from": m.group(1), "name": m.group(2), "instrs": []})
        elif stages:
            stages[-1]["instrs"].append((instr, args.strip()))
    return stages


def apt_packages(stage):
    pkgs = []
    for instr, args in stage["instrs"]:
        if instr != "RUN":
            continue
        for part in re.split(r"&&|;", args):
            words = shlex.split(part)
            if "apt-get" in words and "install" in words:
                pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return pkgs


def copies(stage):
    out = []
    for instr, args in stage["instrs"]:
        if instr != "COPY":
            continue
        words = shlex.split(args)
        frm = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
        words = [w for w in words if not w.startswith("--")]
        out.append((frm, words[:-1], words[-1]))
    return out


def is_debian12():
    try:
        return open("/etc/debian_version").read().startswith("12")
    except OSError:
        return False


_apt = {}


def apt_info(pkgs):
    """Package -> its apt-cache record (Debian 12 candidate), for those that exist; one
    apt-cache call for all of them (each call reads the whole cache)."""
    want = [p for p in set(pkgs) if p not in _apt]
    if want:
        r = run("apt-cache", "show", "--no-all-versions", *sorted(want))
        for rec in r.stdout.split("\n\n"):
            m = re.search(r"^Package: (\S+)$", rec, re.M)
            if m:
                _apt[m.group(1)] = rec
        for p in want:
            _apt.setdefault(p, None)
    return {p: _apt[p] for p in pkgs}


def in_every_image(pkg):
    """Essential packages, and libc6 which they all depend on: in debian:12-slim for sure."""
    if pkg == "libc6":
        return True
    rec = apt_info([pkg])[pkg]
    return rec is not None and re.search(r"^Essential: yes$", rec, re.M) is not None


def lib_packages(binary):
    """Debian packages of the shared libraries <binary> loads."""
    paths = re.findall(r"=> (/\S+)", run("ldd", binary).stdout)
    paths += [os.path.realpath(p) for p in paths]
    owners = {}
    for line in run("dpkg", "-S", *paths).stdout.splitlines():
        pkg, _, path = line.partition(": ")
        owners[path.strip()] = pkg.split(":")[0].strip()
    pkgs = set()
    for p in paths[: len(paths) // 2]:
        pkg = owners.get(p) or owners.get(os.path.realpath(p))
        if pkg:
            pkgs.add(pkg)
        else:
            bad(f"{binary}: no Debian package owns {p}")
    return pkgs


def main():
    build = "--build" in sys.argv[1:]
    binaries = {
        "meshd": os.environ.get("MESHD"),
        "meshagent": os.environ.get("MESHAGENT"),
        "mesh-testsrv": os.environ.get("TESTSRV"),
    }
    deb12 = is_debian12()
    if not deb12:
        print("note: this machine is not Debian 12: package names are not checked against the archive")
    deps_sh = open(os.path.join(ROOT, "tools", "lib", "deps.sh")).read()
    m = re.search(r'MESH_BUILD_PKGS="([^"]*)"', deps_sh)
    test_only = {"check", "curl", "python3"}
    build_deps = set(m.group(1).split()) - test_only if m else set()
    if "dependency('zlib'" in open(os.path.join(ROOT, "agent", "meson.build")).read():
        build_deps.add("zlib1g-dev")
    top_subdirs = re.findall(r"^subdir\('([^']+)'\)", open(os.path.join(ROOT, "meson.build")).read(), re.M)
    targets_all = None
    if os.environ.get("BUILD_ROOT") and shutil.which("ninja"):
        r = run("ninja", "-C", os.environ["BUILD_ROOT"], "-t", "targets", "all")
        if r.returncode == 0:
            targets_all = {line.split(":")[0] for line in r.stdout.splitlines()}

    images = {
        "Dockerfile": ["meshd", "meshagent"],
        "Dockerfile.demo": ["mesh-testsrv"],
    }
    uids = set()
    builds = {}
    for name, bins in images.items():
        path = os.path.join(DOCKER, name)
        stages = parse(path)
        if len(stages) != 2:
            bad(f"{name}: expected two stages (build, runtime), found {len(stages)}")
            continue
        b, rt = stages
        # 1. stages and user
        if b["from"] != "debian:12" or not b["name"]:
            bad(f"{name}: build stage should be 'FROM debian:12 AS <name>', is {b['from']}")
        if rt["from"] != "debian:12-slim":
            bad(f"{name}: runtime stage should be FROM debian:12-slim, is {rt['from']}")
        users = [a for i, a in rt["instrs"] if i == "USER"]
        if not users or not re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]):
            bad(f"{name}: the runtime stage must end as a numeric non-root USER (got {users[-1:] or 'none'})")
        else:
            uids.add(int(users[-1].split(":")[0]))
            ok(f"{name}: {b['from']} -> {rt['from']}, USER {users[-1]}")
        # 2. packages exist
        bpk, rpk = apt_packages(b), apt_packages(rt)
        if deb12:
            missing = [p for p, rec in apt_info(bpk + rpk).items() if rec is None]
            if missing:
                bad(f"{name}: no such Debian 12 package: {' '.join(missing)}")
            else:
                ok(f"{name}: {len(bpk) + len(rpk)} apt packages exist in Debian 12")
        # 3. runtime libraries
        need = set()
        for bin_name in bins:
            bp = binaries.get(bin_name)
            if bp and os.path.exists(bp):
                need |= lib_packages(bp)
            else:
                print(f"note: {name}: {bin_name} not built here, its libraries are not checked")
        sanitizer = any(re.match(r"lib(a|ub|t|l)san", p) or "sanitizer" in p for p in need)
        if sanitizer:
            print(f"note: {name}: the binaries are a sanitizer build, runtime libraries not checked")
        elif need:
            uncovered = sorted(p for p in need - set(rpk) if not in_every_image(p))
            if uncovered:
                bad(f"{name}: the runtime stage lacks packages the binaries load: {' '.join(uncovered)}")
            else:
                ok(f"{name}: runtime packages cover {', '.join(sorted(need))}")
        # 4. build dependencies
        lacking = sorted(build_deps - set(bpk))
        if lacking:
            bad(f"{name}: the build stage lacks build dependencies: {' '.join(lacking)}")
        else:
            ok(f"{name}: build stage has every build dependency ({' '.join(sorted(build_deps))})")
        # 5. COPY sources, subdirs, --from, targets
        srcs = []
        for frm, sources, dest in copies(b) + copies(rt):
            for s in sources:
                if frm is None:
                    if not glob.glob(os.path.join(ROOT, s)):
                        bad(f"{name}: COPY {s}: not in the repo")
                    srcs.append(s.rstrip("/"))
        copied_b = [s for frm, ss, _ in copies(b) if frm is None for s in ss]
        for sd in top_subdirs:
            if not any(sd == c.rstrip("/") or sd.startswith(c.rstrip("/") + "/") for c in copied_b):
                bad(f"{name}: meson.build's subdir('{sd}') is not copied into the build stage")
        runs = " ".join(a for i, a in b["instrs"] if i == "RUN")
        for frm, sources, dest in copies(rt):
            if frm is not None:
                for s in sources:
                    if s.rstrip("/") not in runs:
                        bad(f"{name}: COPY --from={frm} {s}: the build stage makes no such path")
        targets = re.findall(r"ninja -C \S+ ((?:[\w./-]+ ?)+)", runs)
        targets = targets[0].split() if targets else []
        if not targets:
            bad(f"{name}: no 'ninja -C DIR TARGET...' in the build stage")
        elif targets_all is not None:
            unknown = [t for t in targets if t not in targets_all]
            if unknown:
                bad(f"{name}: ninja targets not in this build: {' '.join(unknown)}")
        ok(f"{name}: COPY sources exist, subdirs copied, targets {' '.join(targets)}")
        for frm, sources, dest in copies(rt):
            if frm is None and sources[0].endswith(".yaml") and binaries.get("meshd"):
                r = run(binaries["meshd"], "--check", os.path.join(ROOT, sources[0]))
                if r.returncode != 0:
                    bad(f"{name}: the image's default config {sources[0]} fails meshd --check: {r.stdout}{r.stderr}")
                else:
                    ok(f"{name}: the image's default config {sources[0]} passes meshd --check")
        # 6. (collected here, built below: Dockerfiles with the same COPY set build once)
        if targets:
            key = tuple(sorted(c.rstrip("/") for c in copied_b))
            builds.setdefault(key, {"names": [], "targets": []})
            builds[key]["names"].append(name)
            builds[key]["targets"] += [t for t in targets if t not in builds[key]["targets"]]
    # 6. the COPY set builds
    for copied, job in builds.items() if build else []:
        names, targets = " and ".join(job["names"]), job["targets"]
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "src")
            os.makedirs(src)
            for s in copied:
                dst = os.path.join(src, s)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                if os.path.isdir(os.path.join(ROOT, s)):
                    shutil.copytree(os.path.join(ROOT, s), dst, dirs_exist_ok=True,
                                    ignore=shutil.ignore_patterns("*.o", "build", "build-*"))
                else:
                    shutil.copy(os.path.join(ROOT, s), dst)
            r = run("meson", "setup", os.path.join(tmp, "build"), "--buildtype=release", cwd=src)
            if r.returncode == 0:
                r = run("ninja", "-C", os.path.join(tmp, "build"), *targets)
            if r.returncode != 0:
                bad(f"{names}: the build stage's sources do not build {' '.join(targets)}:\n"
                    f"{r.stdout[-2000:]}{r.stderr[-2000:]}")
            else:
                ok(f"{names}: the COPY'd sources alone configure and build {' '.join(targets)}")
    if len(uids) > 1:
        bad(f"the images run as different uids: {sorted(uids)}")
    if uids:
        print(f"uid: {uids.pop()}")
    if fails:
        print(f"{fails} check(s) failed")
        return 1
    print("all Dockerfile checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

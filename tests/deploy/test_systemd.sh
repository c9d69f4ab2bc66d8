#!/usr/bin/env bash
# tests/deploy/test_systemd.sh - checks deploy/systemd/: the two units, the sysusers.d file
# and the example config they run.
#
#   MESHD=build/proxy/meshd MESHAGENT=build/agent/meshagent [TESTSRV=build/tools/mesh-testsrv] \
#       tests/deploy/test_systemd.sh
#
# 1. The units agree with each other and with deploy/systemd/meshd.yaml (user, group,
#    RuntimeDirectory = meshd.runDir, the agent socket inside it, the config path).
# 2. `systemd-analyze verify` on copies whose Exec* lines point at the built binaries
#    (verify also checks that those binaries exist); any warning fails the test.
# 3. `systemd-analyze security --offline=yes`: overall exposure at most 2.0 for each unit.
# 4. `systemd-sysusers --root=TMP` creates the meshd user and group from meshd.conf.
# 5. `meshd --check` and `meshagent --check` accept deploy/systemd/meshd.yaml.
# 6. When run as root with unshare(1) and strace(1) (not under systemd, which this
#    machine may not run as PID 1): both daemons start with that config in private
#    network, mount and PID namespaces (/run a fresh tmpfs, /run/meshd owned by an
#    unprivileged uid, as RuntimeDirectory= makes it; whatever is left when the script
#    ends dies with its PID namespace), as that uid with no_new_privs, under strace.
#    It checks what the hardening options assume:
#      - Type=notify: meshd's main process sends READY=1 to $NOTIFY_SOCKET, and
#        RELOADING=1 then READY=1 around a SIGHUP (NotifyAccess=main);
#      - the span socket appears in /run/meshd and spans reach the agent;
#      - SIGTERM: both exit 0;
#      - every system call made after exec is allowed by
#        SystemCallFilter=@system-service ~@privileged @resources;
#      - socket families are within RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX;
#      - no mapping is both writable and executable (MemoryDenyWriteExecute=yes);
#      - /proc is only read under /proc/self or /proc/<pid> (ProcSubset=pid);
#      - nothing is created or written outside /run/meshd (ProtectSystem=strict).
#
# If meshagent is not built, the copies for step 2 run MESHD for both units (said on
# stdout) and the agent is left out of step 6. Exit 77 (skip) only if systemd-analyze is
# missing and cannot be installed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
units=$root/deploy/systemd

fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# ---- inside the namespaces (step 6), re-executed by the outer script ----------------------
if [ "${1:-}" = "--in-namespace" ]; then
    tmp=$2 run_uid=10001
    ip link set lo up
    mount -t tmpfs -o mode=0755 tmpfs /run
    install -d -o "$run_uid" -g "$run_uid" -m 0750 /run/meshd
    install -d -m 0777 /run/notify
    python3 - /run/notify/sock "$tmp/notify.log" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
        f.flush()
EOF
    for _ in $(seq 50); do [ -S /run/notify/sock ] && break; sleep 0.1; done

    as_user=(setpriv --reuid="$run_uid" --regid="$run_uid" --clear-groups --no-new-privs env -i
        ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} ${UBSAN_OPTIONS:+UBSAN_OPTIONS=$UBSAN_OPTIONS})
    # strace, except for sanitizer builds (LeakSanitizer cannot run under a tracer)
    # (run with &: exec makes $! the pid of strace, or of the daemon itself)
    tracer() { if [ "$TRACE" = 1 ]; then exec strace -f -qq -o "$@"; else shift; exec "$@"; fi; }
    if [ -n "${TESTSRV:-}" ]; then
        "$TESTSRV" --name hello 7777 >"$tmp/testsrv.log" 2>&1 &
    fi
    agent_pid=""
    if [ "$AGENT_REAL" = 1 ]; then
        tracer "$tmp/agent.strace" "${as_user[@]}" "$MESHAGENT" "$tmp/meshd.yaml" \
            >"$tmp/agent.log" 2>&1 &
        agent_strace=$!
        for _ in $(seq 100); do [ -S /run/meshd/spans.ipc ] && break; sleep 0.1; done
        agent_pid=$agent_strace
        [ "$TRACE" = 1 ] && agent_pid=$(pgrep -P "$agent_strace" || true)
    fi
    tracer "$tmp/meshd.strace" "${as_user[@]}" NOTIFY_SOCKET=/run/notify/sock \
        "$MESHD" "$tmp/meshd.yaml" >"$tmp/meshd.log" 2>&1 &
    meshd_strace=$!
    for _ in $(seq 100); do grep -q READY=1 "$tmp/notify.log" 2>/dev/null && break; sleep 0.1; done
    meshd_pid=$meshd_strace
    [ "$TRACE" = 1 ] && meshd_pid=$(pgrep -P "$meshd_strace" || true)
    echo "$meshd_pid" >"$tmp/meshd.pid"

    if grep -q READY=1 "$tmp/notify.log" 2>/dev/null; then
        ok "Type=notify: meshd sent READY=1 to \$NOTIFY_SOCKET"
    else
        bad "Type=notify: no READY=1 on \$NOTIFY_SOCKET within 10 s (meshd.log: $(tail -3 "$tmp/meshd.log"))"
    fi
    if [ "$(curl -s --max-time 5 127.0.0.1:9990/admin/ping)" = pong ]; then ok "meshd admin /admin/ping"; else bad "meshd admin /admin/ping"; fi
    if [ -n "$agent_pid" ]; then
        if [ -S /run/meshd/spans.ipc ]; then ok "meshagent made /run/meshd/spans.ipc"; else bad "no /run/meshd/spans.ipc"; fi
        if [ "$(curl -s --max-time 5 127.0.0.1:9991/admin/ping)" = pong ]; then ok "meshagent admin /admin/ping"; else bad "meshagent admin /admin/ping"; fi
    fi
    if [ -n "${TESTSRV:-}" ]; then
        code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H 'Host: hello' 127.0.0.1:4140/ || true)
        if [ "$code" = 200 ]; then ok "request through the outgoing router: 200"; else bad "request through the outgoing router: $code"; fi
        if [ -n "$agent_pid" ]; then
            got=0
            for _ in $(seq 50); do
                if curl -s --max-time 5 127.0.0.1:9991/admin/metrics.json |
                    python3 -c 'import json,sys; m=json.load(sys.stdin); sys.exit(0 if any(k.endswith("spans/received") and v>0 for k,v in m.items()) else 1)'; then
                    got=1
                    break
                fi
                sleep 0.1
            done
            if [ $got = 1 ]; then ok "spans reached meshagent through /run/meshd"; else bad "no span reached meshagent"; fi
        fi
    fi

    if [ -z "$meshd_pid" ] || { [ -n "$AGENT_REAL" ] && [ "$AGENT_REAL" = 1 ] && [ -z "$agent_pid" ]; }; then
        bad "a daemon did not start (meshd pid '$meshd_pid', meshagent pid '$agent_pid')"
        exit 1
    fi

    # reload, as ExecReload does
    : >"$tmp/notify.log"
    kill -HUP "$meshd_pid"
    for _ in $(seq 100); do grep -q READY=1 "$tmp/notify.log" && break; sleep 0.1; done
    if grep -q RELOADING=1 "$tmp/notify.log" && grep -q READY=1 "$tmp/notify.log"; then
        ok "SIGHUP: RELOADING=1 then READY=1"
    else
        bad "SIGHUP: expected RELOADING=1 and READY=1, got: $(tr '\n' ' ' <"$tmp/notify.log")"
    fi

    kill -TERM "$meshd_pid"
    if wait "$meshd_strace"; then ok "meshd: SIGTERM, exit 0"; else bad "meshd: SIGTERM, exit $?"; fi
    if [ -n "$agent_pid" ]; then
        kill -TERM "$agent_pid"
        if wait "$agent_strace"; then ok "meshagent: SIGTERM, exit 0"; else bad "meshagent: SIGTERM, exit $?"; fi
    fi
    exit $((fails > 0))
fi

# ---- outside -----------------------------------------------------------------------------
MESHD=${MESHD:-${1:-}}
MESHAGENT=${MESHAGENT:-${2:-}}
if [ -z "$MESHD" ] || [ ! -x "$MESHD" ]; then
    echo "MESHD must name the built meshd (got '${MESHD}')" >&2
    exit 1
fi
MESHD=$(readlink -f "$MESHD")
AGENT_REAL=1
if [ -z "$MESHAGENT" ] || [ ! -x "$MESHAGENT" ]; then
    echo "note: meshagent is not built: the verified copy of meshagent.service runs MESHD, and the runtime check leaves the agent out"
    MESHAGENT=$MESHD
    AGENT_REAL=0
fi
MESHAGENT=$(readlink -f "$MESHAGENT")

if ! command -v systemd-analyze >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing systemd (for systemd-analyze)"
        (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd ||
            { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd; }) \
            >/dev/null 2>&1 || true
    fi
    if ! command -v systemd-analyze >/dev/null; then
        echo "SKIP: systemd-analyze is not installed and could not be installed"
        exit 77
    fi
fi

tmp=$(mktemp -d)
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# key VALUE of a unit file (last assignment wins, as systemd reads it)
unit_get() { sed -n "s/^$2=//p" "$1" | tail -1; }
yaml_get() { # KEY under meshd: in the example config, e.g. yaml_get runDir
    python3 -c 'import sys,yaml; print((yaml.safe_load(open(sys.argv[1])).get("meshd") or {}).get(sys.argv[2],""))' \
        "$units/meshd.yaml" "$1" 2>/dev/null ||
        sed -n "s/^  $1: *\([^ #]*\).*/\1/p" "$units/meshd.yaml"
}

# ---- 1. the units agree ------------------------------------------------------------------
d=$units/meshd.service a=$units/meshagent.service
[ "$(unit_get "$d" Type)" = notify ] && ok "meshd.service: Type=notify" || bad "meshd.service: Type is not notify"
[ "$(unit_get "$a" Type)" = simple ] && ok "meshagent.service: Type=simple" || bad "meshagent.service: Type is not simple"
for k in User Group RuntimeDirectory RuntimeDirectoryMode RuntimeDirectoryPreserve; do
    if [ -n "$(unit_get "$d" $k)" ] && [ "$(unit_get "$d" $k)" = "$(unit_get "$a" $k)" ]; then
        ok "both units: $k=$(unit_get "$d" $k)"
    else
        bad "$k differs or is missing: meshd '$(unit_get "$d" $k)', meshagent '$(unit_get "$a" $k)'"
    fi
done
[ "$(unit_get "$d" RuntimeDirectoryPreserve)" = yes ] ||
    bad "RuntimeDirectoryPreserve must be yes: the directory is shared, stopping one unit must not remove it"
user=$(unit_get "$d" User)
grep -Eq "^u[[:space:]]+${user}[[:space:]]" "$units/meshd.conf" && ok "meshd.conf declares user $user" ||
    bad "meshd.conf does not declare user $user"
rundir=/run/$(unit_get "$d" RuntimeDirectory)
cfg_rundir=$(yaml_get runDir)
cfg_socket=$(yaml_get agentSocket)
[ "$cfg_rundir" = "$rundir" ] && ok "meshd.yaml: meshd.runDir = $rundir (RuntimeDirectory)" ||
    bad "meshd.yaml: meshd.runDir is '$cfg_rundir', the units' RuntimeDirectory is $rundir"
case "${cfg_socket:-ipc://$cfg_rundir/spans.ipc}" in
ipc://"$rundir"/*) ok "meshd.yaml: agentSocket inside $rundir" ;;
*) bad "meshd.yaml: meshd.agentSocket '$cfg_socket' is not an ipc:// socket in $rundir" ;;
esac
for f in "$d" "$a"; do
    bin=/usr/local/bin/$(basename "$f" .service)
    start=$(unit_get "$f" ExecStart)
    [ "$start" = "$bin /etc/meshd/meshd.yaml" ] && ok "$(basename "$f"): ExecStart=$start" ||
        bad "$(basename "$f"): ExecStart is '$start', expected '$bin /etc/meshd/meshd.yaml'"
    [ "$(unit_get "$f" ExecStartPre)" = "$bin --check /etc/meshd/meshd.yaml" ] ||
        bad "$(basename "$f"): ExecStartPre should run $bin --check"
    grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$f" || bad "$(basename "$f"): no ExecReload=/bin/kill -HUP \$MAINPID"
    [ "$(unit_get "$f" CapabilityBoundingSet)" = "" ] && grep -q '^CapabilityBoundingSet=$' "$f" ||
        bad "$(basename "$f"): CapabilityBoundingSet= should be empty"
    [ "$(unit_get "$f" RestrictAddressFamilies)" = "AF_INET AF_INET6 AF_UNIX" ] ||
        bad "$(basename "$f"): RestrictAddressFamilies should be AF_INET AF_INET6 AF_UNIX"
done

# ---- 2. systemd-analyze verify -----------------------------------------------------------
mkdir "$tmp/units"
for f in meshd.service meshagent.service; do
    sed -e "s#/usr/local/bin/meshd\\b#$MESHD#g" -e "s#/usr/local/bin/meshagent\\b#$MESHAGENT#g" \
        "$units/$f" >"$tmp/units/$f"
done
if grep -q '^Exec.*/usr/local/bin' "$tmp/units/"*.service; then
    bad "a /usr/local/bin path was not rewritten in the copies"
fi
if out=$(cd "$tmp/units" && systemd-analyze verify --man=no meshd.service meshagent.service 2>&1) &&
    [ -z "$out" ]; then
    ok "systemd-analyze verify: no warnings"
else
    bad "systemd-analyze verify:"
    echo "$out" | sed 's/^/    /'
fi

# ---- 3. systemd-analyze security ---------------------------------------------------------
for f in meshd.service meshagent.service; do
    out=$(cd "$tmp/units" && systemd-analyze security --offline=yes --no-pager "$f" 2>&1 || true)
    level=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
        ok "systemd-analyze security $f: exposure $level"
    else
        bad "systemd-analyze security $f: exposure '${level:-?}' (at most 2.0 expected)"
        echo "$out" | grep '✗' | sed 's/^/    /' || true
    fi
done

# ---- 4. sysusers.d -----------------------------------------------------------------------
if command -v systemd-sysusers >/dev/null; then
    mkdir -p "$tmp/root/etc"
    if systemd-sysusers --root="$tmp/root" "$units/meshd.conf" >/dev/null 2>&1 &&
        grep -q "^$user:" "$tmp/root/etc/passwd" && grep -q "^$user:" "$tmp/root/etc/group"; then
        ok "systemd-sysusers creates user and group $user"
    else
        bad "systemd-sysusers did not create $user from meshd.conf"
    fi
else
    echo "note: no systemd-sysusers here, meshd.conf only checked by grep"
fi

# ---- 5. the example config ---------------------------------------------------------------
# One change: the io.l5d.fs root (/etc/meshd/disco on the unit's host; meshd --check wants
# it to exist) becomes a directory of ours.
mkdir "$tmp/disco"
echo "127.0.0.1 7777" >"$tmp/disco/hello"
sed "s#rootDir: /etc/meshd/disco#rootDir: $tmp/disco#" "$units/meshd.yaml" >"$tmp/meshd.yaml"
chmod -R a+rX "$tmp"
cmp -s "$units/meshd.yaml" "$tmp/meshd.yaml" && bad "meshd.yaml: no 'rootDir: /etc/meshd/disco' to point at a test directory"
if out=$("$MESHD" --check "$tmp/meshd.yaml" 2>&1); then ok "meshd --check meshd.yaml"; else
    bad "meshd --check meshd.yaml:"
    echo "$out" | sed 's/^/    /'
fi
if [ $AGENT_REAL = 1 ]; then
    if out=$("$MESHAGENT" --check "$tmp/meshd.yaml" 2>&1); then ok "meshagent --check meshd.yaml"; else
        bad "meshagent --check meshd.yaml:"
        echo "$out" | sed 's/^/    /'
    fi
fi

# ---- 6. the daemons under the hardening's assumptions ------------------------------------
TRACE=1
if grep -qa __asan_init "$MESHD" "$MESHAGENT"; then
    TRACE=0
    echo "note: sanitizer build: the daemons run without strace, the system call checks are skipped"
fi
missing=""
tools=(unshare setpriv python3 curl ip pgrep)
[ $TRACE = 1 ] && tools+=(strace)
for t in "${tools[@]}"; do command -v $t >/dev/null || missing="$missing $t"; done
if [ "$(id -u)" != 0 ]; then
    echo "note: not root, runtime checks skipped"
elif [ -n "$missing" ]; then
    echo "note: runtime checks skipped, missing:$missing"
elif ! unshare -n -m -p -f true 2>/dev/null; then
    echo "note: unshare -n -m -p not permitted here, runtime checks skipped"
else
    export MESHD MESHAGENT AGENT_REAL TRACE TESTSRV="${TESTSRV:-}"
    if [ -n "$TESTSRV" ]; then TESTSRV=$(readlink -f "$TESTSRV"); fi
    if ! timeout 120 unshare -n -m -p -f --kill-child --mount-proc --propagation private \
        "$0" --in-namespace "$tmp"; then
        fails=$((fails + 1))
        echo "--- meshd.log"
        tail -20 "$tmp/meshd.log" 2>/dev/null || true
        echo "--- agent.log"
        tail -20 "$tmp/agent.log" 2>/dev/null || true
    fi
    traces=("$tmp/meshd.strace")
    [ $AGENT_REAL = 1 ] && traces+=("$tmp/agent.strace")
    if [ $TRACE = 1 ] && ! python3 - "$rundir" "$MESHD" "$MESHAGENT" "${traces[@]}" <<'EOF'; then
import re, subprocess, sys

rundir, binaries, files = sys.argv[1], set(sys.argv[2:4]), sys.argv[4:]

def expand(group, seen=set()):
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", group],
                         capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        names |= expand(line) if line.startswith("@") else {line}
    return names

allowed = expand("@system-service") - expand("@privileged") - expand("@resources")
fails = 0
line_re = re.compile(r"^(\d+) +(.*)$")
for f in files:
    name = f.rsplit("/", 1)[-1].split(".")[0]
    # strace -f: "PID call(args) = ret", or split in "<unfinished ...>" / "<... call resumed>"
    calls, pending, started, main_pid = [], {}, False, None
    for raw in open(f, errors="replace"):
        m = line_re.match(raw.rstrip("\n"))
        if not m:
            continue
        pid, rest = m.group(1), m.group(2)
        if rest.endswith("<unfinished ...>"):
            pending[pid] = rest[: -len("<unfinished ...>")]
            continue
        r = re.match(r"<\.\.\. (\w+) resumed>(.*)", rest)
        if r:
            rest = pending.pop(pid, r.group(1) + "(") + r.group(2)
        c = re.match(r"(\w+)\((.*)\)\s+= (-?\d+|\?|0x[0-9a-f]+)(.*)$", rest)
        if not c:
            continue
        call, args, ret = c.group(1), c.group(2), c.group(3)
        if not started:  # setpriv and env run first; count from the daemon's exec on
            if call == "execve" and ret == "0" and args.split('"')[1] in binaries:
                started, main_pid = True, pid
            continue
        calls.append((pid, call, args, ret))
    if not started:
        print(f"FAIL: {name}: no execve of the daemon in {f}")
        fails += 1
        continue
    used = {c for _, c, _, _ in calls}
    denied = sorted(used - allowed)
    if denied:
        print(f"FAIL: {name}: system calls outside SystemCallFilter=@system-service ~@privileged @resources: {' '.join(denied)}")
        fails += 1
    else:
        print(f"ok: {name}: {len(used)} distinct system calls, all allowed by the unit's SystemCallFilter")
    fams = {a.split(",")[0] for _, c, a, _ in calls if c in ("socket", "socketpair")}
    if fams - {"AF_INET", "AF_INET6", "AF_UNIX"}:
        print(f"FAIL: {name}: socket families outside RestrictAddressFamilies: {' '.join(sorted(fams))}")
        fails += 1
    else:
        print(f"ok: {name}: socket families {' '.join(sorted(fams))}")
    wx = [a for _, c, a, _ in calls if c in ("mmap", "mprotect", "pkey_mprotect")
          and "PROT_WRITE" in a and "PROT_EXEC" in a]
    if wx:
        print(f"FAIL: {name}: writable and executable mapping (MemoryDenyWriteExecute=yes): {wx[0]}")
        fails += 1
    else:
        print(f"ok: {name}: no writable+executable mapping")
    procs = sorted({p for _, c, a, _ in calls for p in re.findall(r'"(/proc/[^"]*)"', a)
                    if not re.match(r"/proc/(self|thread-self|\d+)(/|$)", p)})
    if procs:
        print(f"FAIL: {name}: reads /proc outside the process subset (ProcSubset=pid): {' '.join(procs)}")
        fails += 1
    else:
        print(f"ok: {name}: /proc only under /proc/self or /proc/<pid>")
    writes = []
    for _, c, a, ret in calls:
        if ret.startswith("-"):
            continue
        paths = re.findall(r'"(/[^"]*)"', a)
        if c in ("open", "openat", "creat") and re.search(r"O_(WRONLY|RDWR|CREAT|TRUNC)", a) or \
           c in ("mkdir", "mkdirat", "unlink", "unlinkat", "rename", "renameat", "renameat2",
                 "link", "linkat", "symlink", "symlinkat", "chmod", "fchmodat", "truncate", "mknod",
                 "mknodat") or c == "bind" and "AF_UNIX" in a:
            for p in paths[:1] or ["?"]:
                if not (p == rundir or p.startswith(rundir + "/") or p in ("/dev/null", "/dev/tty")):
                    writes.append(f"{c} {p}")
    if writes:
        print(f"FAIL: {name}: writes outside {rundir} (ProtectSystem=strict, read-only root): {' '.join(sorted(set(writes)))}")
        fails += 1
    else:
        print(f"ok: {name}: writes only under {rundir}")
    if name == "meshd":
        senders = {p for p, c, a, _ in calls
                   if c in ("sendto", "sendmsg", "connect") and "/run/notify/sock" in a}
        if senders and senders != {main_pid}:
            print(f"FAIL: meshd: sd_notify from pids {sorted(senders)}, not only the main pid {main_pid} (NotifyAccess=main)")
            fails += 1
        elif senders:
            print("ok: meshd: sd_notify only from the main process (NotifyAccess=main)")
sys.exit(1 if fails else 0)
EOF
        fails=$((fails + 1))
    fi
fi

if [ $fails -gt 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all systemd checks passed"

#!/usr/bin/env bash
# tests/deploy/test_k8s.sh - offline checks of deploy/k8s/*.yml.
#
#   MESHD=build/proxy/meshd [MESHAGENT=build/agent/meshagent] [NODE_CACHE=DIR] \
#       tests/deploy/test_k8s.sh
#
# 1. validate_k8s.mjs: every object against the Kubernetes API schema (npm package
#    kubernetes-models), unknown fields included, then our own checks that the ConfigMap's
#    mesh config and the pod agree (validate_k8s.mjs says which).
# 2. `meshd --check` on the ConfigMap's config.yaml, and `meshagent --check` on it with
#    the meshagent container's environment.
# 3. As root with unshare(1): meshd and meshagent start from that config the way the pod
#    runs them: uid from deploy/docker/Dockerfile, no_new_privs, private network, mount
#    and PID namespaces, an empty world-writable /run/meshd (the emptyDir), NODE_NAME /
#    POD_IP set; both admin
#    ports answer /admin/ping (the probes), the span socket appears in the shared
#    directory, the routers answer HTTP, and both exit 0 on SIGTERM (the pod's stop).
#
# The npm packages are installed once into NODE_CACHE (default: a directory in the meson
# build tree, or ~/.cache/meshd-deploy-test). Exit 77 (skip) if node or npm is missing, or
# if the packages are not there and the npm registry cannot be reached.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

MESHD=${MESHD:-${1:-}}
MESHAGENT=${MESHAGENT:-${2:-}}
if [ -z "$MESHD" ] || [ ! -x "$MESHD" ]; then
    echo "MESHD must name the built meshd (got '${MESHD}')" >&2
    exit 1
fi
MESHD=$(readlink -f "$MESHD")
if [ -n "$MESHAGENT" ] && [ -x "$MESHAGENT" ]; then
    MESHAGENT=$(readlink -f "$MESHAGENT")
else
    echo "note: meshagent is not built: its config check and start are skipped"
    MESHAGENT=""
fi

fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "SKIP: node and npm are needed (Debian: apt-get install nodejs npm)"
    exit 77
fi

# ---- the npm packages ----------------------------------------------------------------------
cache=${NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshd-deploy-test}
mods=$cache/node_modules
pkgs=(kubernetes-models@4.5.1 yaml@2.9.1)
if [ ! -f "$mods/kubernetes-models/package.json" ] || [ ! -f "$mods/yaml/package.json" ]; then
    mkdir -p "$cache"
    echo "installing ${pkgs[*]} into $cache"
    # --prefer-offline: npm's own cache serves when it can; bounded retries keep an offline
    # machine from waiting minutes for the registry
    if ! npm install --prefix "$cache" --no-audit --no-fund --no-save --loglevel=error \
        --prefer-offline --fetch-retries=1 --fetch-retry-mintimeout=2000 \
        --fetch-retry-maxtimeout=10000 --fetch-timeout=30000 "${pkgs[@]}" \
        >"$cache/npm.log" 2>&1; then
        tail -5 "$cache/npm.log"
        echo "SKIP: npm install failed (registry unreachable?)"
        exit 77
    fi
fi

tmp=$(mktemp -d)
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# the image's user, which the pod's runAsUser must be
uid=$(sed -n 's/^USER \([0-9]*\).*/\1/p' "$root/deploy/docker/Dockerfile" | tail -1)

# ---- 1. schema and cross checks ------------------------------------------------------------
if node "$here/validate_k8s.mjs" --modules "$mods" ${uid:+--uid "$uid"} \
    --config-out "$tmp/config.yaml" --agent-env-out "$tmp/agent.env" "$root"/deploy/k8s/*.yml; then
    :
else
    fails=$((fails + 1))
fi
if [ ! -s "$tmp/config.yaml" ]; then
    bad "no mesh config extracted from the ConfigMap"
    exit 1
fi

# ---- 2. the daemons accept the config ------------------------------------------------------
if out=$("$MESHD" --check "$tmp/config.yaml" 2>&1); then ok "meshd --check on the ConfigMap's config.yaml"; else
    bad "meshd --check on the ConfigMap's config.yaml:"
    echo "$out" | sed 's/^/    /'
fi
agent_env=()
while IFS= read -r line; do agent_env+=("$line"); done <"$tmp/agent.env"
if [ -n "$MESHAGENT" ]; then
    if out=$(env -i "${agent_env[@]}" "$MESHAGENT" --check "$tmp/config.yaml" 2>&1); then
        ok "meshagent --check on it, with the container's environment"
    else
        bad "meshagent --check (container environment ${agent_env[*]}):"
        echo "$out" | sed 's/^/    /'
    fi
fi

# ---- 3. start them as the pod does ---------------------------------------------------------
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
    command -v setpriv >/dev/null && command -v curl >/dev/null && command -v ip >/dev/null &&
    unshare -n -m -p -f true 2>/dev/null; then
    rundir=$(sed -n 's/^ *runDir: *\([^ #]*\).*/\1/p' "$tmp/config.yaml" | head -1)
    cat >"$tmp/pod.sh" <<'EOF'
set -u
tmp=$1 rundir=$2 uid=$3
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
ip link set lo up
mount -t tmpfs -o mode=0755 tmpfs /run
install -d -m 0777 "$rundir"          # an emptyDir: world-writable, owned by root
as_pod=(setpriv --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs env -i
    ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} ${UBSAN_OPTIONS:+UBSAN_OPTIONS=$UBSAN_OPTIONS})
"${as_pod[@]}" NODE_NAME=node-a POD_IP=10.1.1.5 "$MESHD" "$tmp/config.yaml" >"$tmp/meshd.log" 2>&1 &
mp=$!
ap=""
if [ -n "$MESHAGENT" ]; then
    mapfile -t agent_env <"$tmp/agent.env"
    "${as_pod[@]}" "${agent_env[@]}" "$MESHAGENT" "$tmp/config.yaml" >"$tmp/agent.log" 2>&1 &
    ap=$!
fi
for _ in $(seq 100); do   # up to 10 s for both to answer
    curl -sf --max-time 5 127.0.0.1:9990/admin/ping >/dev/null &&
        { [ -z "$ap" ] || curl -sf --max-time 5 127.0.0.1:9991/admin/ping >/dev/null; } && break
    sleep 0.1
done
[ "$(curl -s --max-time 5 127.0.0.1:9990/admin/ping)" = pong ] && ok "pod: meshd answers its probe (/admin/ping on 9990)" || bad "pod: meshd /admin/ping"
if [ -n "$ap" ]; then
    [ "$(curl -s --max-time 5 127.0.0.1:9991/admin/ping)" = pong ] && ok "pod: meshagent answers its probe (/admin/ping on 9991)" || bad "pod: meshagent /admin/ping"
    [ -S "$rundir/spans.ipc" ] && ok "pod: span socket $rundir/spans.ipc in the shared emptyDir" || bad "pod: no $rundir/spans.ipc"
fi
# Without a cluster every name stays unresolved (503 after bindingTimeoutMs); a request
# with no Host header gets its 400 from the identifier at once: the router answers.
for port in 4140 4141; do
    code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' --http1.0 -H 'Host:' "127.0.0.1:$port/" || true)
    case "$code" in 400) ok "pod: router on $port answers HTTP (400 for a request without Host)" ;;
    *) bad "pod: router on $port: expected 400 for a request without Host, got '$code'" ;; esac
done
kill -TERM "$mp"
wait "$mp" && ok "pod: meshd exits 0 on SIGTERM" || bad "pod: meshd exit status $? on SIGTERM"
if [ -n "$ap" ]; then
    kill -TERM "$ap"
    wait "$ap" && ok "pod: meshagent exits 0 on SIGTERM" || bad "pod: meshagent exit status $? on SIGTERM"
fi
exit $((fails > 0))
EOF
    if ! MESHD=$MESHD MESHAGENT=$MESHAGENT timeout 120 \
        unshare -n -m -p -f --kill-child --mount-proc --propagation private \
        bash "$tmp/pod.sh" "$tmp" "${rundir:-/run/meshd}" "${uid:-10001}"; then
        fails=$((fails + 1))
        echo "--- meshd.log"
        tail -n 20 "$tmp/meshd.log" 2>/dev/null || true
        echo "--- agent.log"
        tail -n 20 "$tmp/agent.log" 2>/dev/null || true
    fi
else
    echo "note: not root or no unshare/setpriv/curl/ip here: the pod start is skipped"
fi

if [ $fails -gt 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all Kubernetes checks passed"

# tools/lib/deps.sh - installs what the build and the tests need on Debian 12, quietly
# and only when something is missing. Sourced by tools/test, tools/demo and bench/run.

MESH_BUILD_PKGS="meson ninja-build pkg-config gcc libev-dev libnanomsg-dev libmsgpack-dev libyaml-dev libjson-c-dev zlib1g-dev libssl-dev check curl python3"
# The demo and the end-to-end test make network namespaces and a bridge (ip).
MESH_DEMO_PKGS="iproute2"
# tools/soak draws its plot with matplotlib.
MESH_SOAK_PKGS="python3-matplotlib"
# Only the tests need these: real Zipkin decoders (JSON schema, Apache Thrift) for what we send;
# headless Chromium, its WebDriver and Selenium for the dashboard's browser test;
# libhttp-parser for the differential HTTP/1 check (tests/fuzz/fuzz_http1_diff.c).
MESH_TEST_PKGS="python3-jsonschema python3-yaml python3-thrift thrift-compiler chromium chromium-driver python3-selenium libhttp-parser-dev wrk"

mesh_missing_pkgs() {
    local p missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    echo "$missing"
}

# mesh_ensure_pkgs PKG... : apt-get installs the missing ones (as root, or through sudo).
mesh_ensure_pkgs() {
    local missing sudo=""
    missing=$(mesh_missing_pkgs "$@")
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null; then sudo="sudo"; else
            echo "missing packages:$missing (run as root or install them)" >&2
            return 1
        fi
    fi
    echo "installing:$missing" >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# mesh_build DIR [meson options...] : configures DIR once, then builds it.
mesh_build() {
    local dir=$1
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >/dev/null
    fi
    ninja -C "$dir" >/dev/null
}

#!/usr/bin/env bash
# Installs the toolchains that build detections in other languages, for the
# polyglot tests (tests/tests/polyglot.rs) and the SDK templates, into a cache
# under target/ (nothing global but Debian's packages):
#   python  componentize-py (PyPI), in a venv:          $cache/py/bin/componentize-py
#   js      componentize-js (npm):                       $cache/js/node_modules/.bin/componentize-js
#   c       clang, lld, wasi-libc, compiler-rt for wasm32 (Debian 12 packages),
#           wit-bindgen's C generator (crates.io),       $cache/cargo/bin/wit-bindgen
#
# Usage: install.sh [--check] [python|js|c|all]...   (default: all)
#   --check  install nothing: exit 0 when everything asked for is there, 3 when not.
#
# On success prints, one per line, KEY=VALUE for what is installed (the last
# lines of stdout), e.g. COMPONENTIZE_PY=/…/componentize-py. Idempotent: what
# is installed at the pinned version is kept. Exit status: 0 ready; 3 missing
# (--check) or a registry could not be reached; 4 Debian packages missing and
# not root to install them (they are named). Several callers at once are
# fine: the cache is locked.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${OKTAWATCH_TOOLCHAINS:-${CARGO_TARGET_DIR:-$root/target}/toolchains}

# Pinned versions (the host's tests are written against their output).
COMPONENTIZE_PY_VERSION=0.25.1
COMPONENTIZE_JS_VERSION=0.23.0
WIT_BINDGEN_VERSION=0.63.0
DEBS=(clang lld wasi-libc libclang-rt-14-dev-wasm32)

say() { echo "toolchains: $*" >&2; }
die() { local code=$1; shift; say "$*"; exit "$code"; }

check=0
langs=()
for a in "$@"; do
    case $a in
        --check) check=1 ;;
        python | js | c) langs+=("$a") ;;
        all) langs+=(python js c) ;;
        *) die 2 "unknown argument: $a (python, js, c, all, --check)" ;;
    esac
done
[[ ${#langs[@]} -gt 0 ]] || langs=(python js c)
want() { [[ " ${langs[*]} " == *" $1 "* ]]; }

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9

out=()
missing=()

# --- Python: componentize-py ------------------------------------------------
py_ok() { [[ -x $cache/py/bin/componentize-py ]] && [[ $("$cache/py/bin/pip" show componentize-py 2>/dev/null) == *$'\nVersion: '"$COMPONENTIZE_PY_VERSION"$'\n'* ]]; }
if want python; then
    if ! py_ok; then
        if ((check)); then
            missing+=("componentize-py $COMPONENTIZE_PY_VERSION")
        else
            say "installing componentize-py $COMPONENTIZE_PY_VERSION (PyPI) into $cache/py"
            command -v python3 >/dev/null || die 3 "python3 is needed (Debian: python3 python3-venv)"
            [[ -x $cache/py/bin/pip ]] || python3 -m venv "$cache/py" || die 3 "python3 -m venv failed (Debian: python3-venv)"
            "$cache/py/bin/pip" install -q --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION" >&2 \
                || die 3 "pip install componentize-py==$COMPONENTIZE_PY_VERSION failed"
        fi
    fi
    py_ok && out+=("COMPONENTIZE_PY=$cache/py/bin/componentize-py")
fi

# --- JavaScript: componentize-js ---------------------------------------------
js_ok() {
    [[ -x $cache/js/node_modules/.bin/componentize-js ]] &&
        grep -q "\"version\": \"$COMPONENTIZE_JS_VERSION\"" "$cache/js/node_modules/@bytecodealliance/componentize-js/package.json"
}
if want js; then
    if ! js_ok; then
        if ((check)); then
            missing+=("componentize-js $COMPONENTIZE_JS_VERSION")
        else
            say "installing componentize-js $COMPONENTIZE_JS_VERSION (npm) into $cache/js"
            command -v npm >/dev/null || die 3 "node and npm are needed (Debian: nodejs npm)"
            mkdir -p "$cache/js"
            [[ -f $cache/js/package.json ]] || echo '{"name":"oktawatch-toolchains","private":true}' >"$cache/js/package.json"
            (cd "$cache/js" && npm install --no-audit --no-fund --loglevel=error -E \
                "@bytecodealliance/componentize-js@$COMPONENTIZE_JS_VERSION" >&2) \
                || die 3 "npm install componentize-js failed"
        fi
    fi
    js_ok && out+=("COMPONENTIZE_JS=$cache/js/node_modules/.bin/componentize-js")
fi

# --- C: Debian's clang and wasi-libc, wit-bindgen ---------------------------
debs_ok() { [[ $(dpkg-query -W -f='${Status}\n' "${DEBS[@]}" 2>/dev/null | grep -c "install ok installed") == "${#DEBS[@]}" ]]; }
wb_ok() { [[ -x $cache/cargo/bin/wit-bindgen && $("$cache/cargo/bin/wit-bindgen" --version 2>/dev/null) == *" $WIT_BINDGEN_VERSION"* ]]; }
if want c; then
    if ! debs_ok; then
        if ((check)); then
            missing+=("Debian packages ${DEBS[*]}")
        elif [[ $(id -u) -ne 0 ]]; then
            die 4 "missing Debian packages; as root: apt-get install ${DEBS[*]}"
        else
            say "installing Debian packages: ${DEBS[*]}"
            export DEBIAN_FRONTEND=noninteractive
            apt-get install -y -q "${DEBS[@]}" >&2 || { apt-get update -q >&2 && apt-get install -y -q "${DEBS[@]}" >&2; } \
                || die 3 "apt-get install ${DEBS[*]} failed"
        fi
    fi
    if ! wb_ok; then
        if ((check)); then
            missing+=("wit-bindgen $WIT_BINDGEN_VERSION")
        else
            say "building wit-bindgen-cli $WIT_BINDGEN_VERSION (crates.io) into $cache/cargo (a few minutes)"
            cargo install -q --locked --root "$cache/cargo" --version "$WIT_BINDGEN_VERSION" --no-default-features --features c wit-bindgen-cli >&2 \
                || die 3 "cargo install wit-bindgen-cli $WIT_BINDGEN_VERSION failed"
        fi
    fi
    if debs_ok && wb_ok; then
        out+=("WIT_BINDGEN=$cache/cargo/bin/wit-bindgen" "CLANG=$(command -v clang)" "WASI_SYSROOT=/usr")
    fi
fi

if [[ ${#missing[@]} -gt 0 ]]; then
    die 3 "not installed: $(IFS=';'; echo "${missing[*]}") (run tests/toolchains/install.sh)"
fi
printf '%s\n' "${out[@]}"

#!/usr/bin/env bash
# Builds one detection written in Python, JavaScript or C into a component with
# that language's standard toolchain and its default flags (installed by
# tests/toolchains/install.sh):
#   python  componentize-py -d WIT -w detection componentize app     (SRC/app.py)
#   js      componentize-js SRC/app.js --wit WIT -n detection         (all WASI features on)
#   c       wit-bindgen c WIT; clang --target=wasm32-wasi -mexec-model=reactor
#           (Debian's wasi-libc); jco new --wasi-reactor (the preview1 adapter)
#
# Usage: build.sh python|js|c SRC-DIR WIT-DIR OUT.wasm
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# -eq 4 ]] || { echo "usage: build.sh python|js|c SRC-DIR WIT-DIR OUT.wasm" >&2; exit 2; }
lang=$1
src=$(cd "$2" && pwd)
wit=$(cd "$3" && pwd)
out=$(cd "$(dirname "$4")" && pwd)/$(basename "$4")

eval "$("$here/../toolchains/install.sh" --check "$lang" | sed 's/^/export /')"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

case $lang in
    python)
        (cd "$src" && "$COMPONENTIZE_PY" -d "$wit" -w detection componentize app -o "$tmp/out.wasm" >&2)
        ;;
    js)
        (cd "$src" && "$COMPONENTIZE_JS" app.js --wit "$wit" -n detection -o "$tmp/out.wasm" >&2)
        ;;
    c)
        "$WIT_BINDGEN" c "$wit" --world detection --out-dir "$tmp/gen" >&2
        "$CLANG" --target=wasm32-wasi --sysroot="$WASI_SYSROOT" -O2 -mexec-model=reactor \
            -I"$tmp/gen" "$src"/*.c "$tmp/gen"/*.c "$tmp/gen"/*_component_type.o -o "$tmp/core.wasm"
        "$JCO" new "$tmp/core.wasm" --wasi-reactor -o "$tmp/out.wasm" >&2
        ;;
    *)
        echo "build.sh: unknown language $lang" >&2
        exit 2
        ;;
esac
mv "$tmp/out.wasm" "$out"

#!/usr/bin/env bash
# Builds Wazuh's own wazuh-analysisd (v4.12.0) once, for the real-Wazuh tests
# (tests/tests/wazuh.rs), into a cache under target/. Nothing of Wazuh is kept in
# this repository (GPL-2.0): the source is read at test time, from the first of
#   1. $OKTAWATCH_WAZUH_SRC: a Wazuh source tarball or an unpacked source folder;
#   2. ../shared/wazuh/wazuh-4.12.0.tar.gz beside the repository;
#   3. the v4.12.0 tarball from GitHub (kept in the cache once downloaded).
# It links against Debian's libraries (no `make deps`, which needs Wazuh's own
# package server); missing Debian packages are installed when run as root,
# named otherwise.
#
# Prints the built tree on its last stdout line: bin/wazuh-analysisd,
# lib/libwazuhext.so, ruleset/, etc/ (Wazuh's stock files and CDB lists) and the
# wazuh-logtest script under framework/. A cache whose key (the source's sha256
# and this script's) matches is used as it is.
#
# Exit status: 0 built or fresh; 3 no Wazuh source found; 4 Debian packages
# missing and not root to install them; anything else a failed build (its log
# is named). Several callers at once are fine: the cache is locked.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${OKTAWATCH_WAZUH_CACHE:-${CARGO_TARGET_DIR:-$root/target}/wazuh-analysisd}
version=4.12.0
url="https://github.com/wazuh/wazuh/archive/refs/tags/v$version.tar.gz"

say() { echo "build-analysisd: $*" >&2; }
die() { local code=$1; shift; say "$*"; exit "$code"; }

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9

# --- the source -------------------------------------------------------------
src=${OKTAWATCH_WAZUH_SRC:-}
# Beside the repository; for a git worktree, also beside its main checkout.
shared=$root/../shared/wazuh/wazuh-$version.tar.gz
main=$(git -C "$root" worktree list --porcelain 2>/dev/null | sed -n '1s/^worktree //p' || true)
if [[ ! -f $shared && -n $main ]]; then
    shared=$main/../shared/wazuh/wazuh-$version.tar.gz
fi
if [[ -n $src ]]; then
    [[ -e $src ]] || die 1 "OKTAWATCH_WAZUH_SRC=$src does not exist"
elif [[ -f $shared ]]; then
    src=$shared
elif [[ -f $cache/download/wazuh-$version.tar.gz ]]; then
    src=$cache/download/wazuh-$version.tar.gz
elif command -v curl >/dev/null; then
    say "no local Wazuh source; downloading $url"
    mkdir -p "$cache/download"
    if curl -fsSL --connect-timeout 10 --retry 2 -o "$cache/download/part" "$url"; then
        mv "$cache/download/part" "$cache/download/wazuh-$version.tar.gz"
        src=$cache/download/wazuh-$version.tar.gz
    else
        rm -f "$cache/download/part"
        die 3 "no Wazuh source: set OKTAWATCH_WAZUH_SRC, or put wazuh-$version.tar.gz in ../shared/wazuh/ (download of $url failed)"
    fi
else
    die 3 "no Wazuh source: set OKTAWATCH_WAZUH_SRC (a Wazuh $version tarball or folder)"
fi
src=$(realpath "$src")

script_sum=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)
if [[ -d $src ]]; then
    [[ -d $src/src/analysisd ]] || die 1 "$src is not a Wazuh source folder (no src/analysisd)"
    key="dir:$src:$( (cat "$src/VERSION.json" 2>/dev/null || true) | sha256sum | cut -d' ' -f1):$script_sum"
else
    key="tar:$(sha256sum "$src" | cut -d' ' -f1):$script_sum"
fi
dist=$cache/dist
if [[ -f $cache/key && $(cat "$cache/key") == "$key" && -x $dist/bin/wazuh-analysisd ]]; then
    echo "$dist"
    exit 0
fi

# --- Debian packages --------------------------------------------------------
packages=(build-essential pkg-config libcjson-dev libpcre2-dev libcurl4-openssl-dev libmsgpack-dev
    libaudit-dev libyaml-dev libsqlite3-dev libssl-dev zlib1g-dev libbz2-dev liblzma-dev libffi-dev)
missing=()
if command -v dpkg-query >/dev/null; then
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    command -v python3 >/dev/null || missing+=(python3)   # runs the wazuh-logtest script
else
    say "not a Debian system: the build needs the equivalents of ${packages[*]} and python3"
fi
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        say "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$cache/apt.log" 2>&1; then
            tail -n 20 "$cache/apt.log" >&2
            die 1 "apt-get install failed; the whole log: $cache/apt.log"
        fi
    else
        die 4 "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    fi
fi

# --- unpack -----------------------------------------------------------------
build=$cache/build
rm -rf "$build" "$dist.tmp"
mkdir -p "$build"
log=$cache/build.log
: >"$log"
say "building wazuh-analysisd $version from $src (about 2 minutes; log: $log)"
if [[ -d $src ]]; then
    for part in LICENSE src ruleset etc framework/scripts/wazuh_logtest.py framework/wazuh/core/common.py; do
        mkdir -p "$build/$(dirname "$part")"
        cp -a "$src/$part" "$build/$part"
    done
else
    # The whole GitHub tree holds much more (tests, the 40 MB MITRE bundle): only what is used.
    tar -xzf "$src" -C "$build" --strip-components=1 --wildcards --no-wildcards-match-slash \
        --exclude='*/unit_tests' --exclude='*/tests' --exclude='*/ruleset/mitre' \
        '*/LICENSE' '*/src' '*/ruleset' '*/etc' '*/framework/scripts/wazuh_logtest.py' '*/framework/wazuh/core/common.py'
fi
cd "$build/src"

# --- headers by their bundled paths, pointing at Debian's -------------------
triplet=$(gcc -dumpmachine)
ext=external
mkdir -p $ext/cJSON $ext/zlib $ext/sqlite $ext/libyaml/include $ext/libpcre2/include $ext/curl/include \
    $ext/msgpack/include $ext/bzip2 $ext/audit-userspace/lib
ln -sf /usr/include/cjson/cJSON.h $ext/cJSON/cJSON.h
ln -sf /usr/include/zlib.h $ext/zlib/zlib.h
ln -sf /usr/include/zconf.h $ext/zlib/zconf.h
ln -sf /usr/include/sqlite3.h $ext/sqlite/sqlite3.h
ln -sf /usr/include/sqlite3ext.h $ext/sqlite/sqlite3ext.h
ln -sf /usr/include/yaml.h $ext/libyaml/include/yaml.h
ln -sf /usr/include/pcre2.h $ext/libpcre2/include/pcre2.h
ln -sfn "/usr/include/$triplet/curl" $ext/curl/include/curl
ln -sf /usr/include/msgpack.h $ext/msgpack/include/msgpack.h
ln -sfn /usr/include/msgpack $ext/msgpack/include/msgpack
ln -sf /usr/include/bzlib.h $ext/bzip2/bzlib.h
ln -sf /usr/include/libaudit.h $ext/audit-userspace/lib/libaudit.h
echo 'int audit_send(int fd, int type, const void *data, unsigned int size);' >$ext/audit-userspace/lib/private.h

# wm_syscollector.c includes two headers Wazuh's CMake generates: each schema as a C string.
fb=shared_modules/utils/flatbuffers
mkdir -p $fb/include
for schema in syscollector_synchronization:syscollectorRsync syscollector_deltas:syscollectorDeltas; do
    name=${schema%%:*}
    fbs=$fb/schemas/${schema#*:}/$name.fbs
    {
        echo "#ifndef ${name}_HEADER"
        echo "#define ${name}_HEADER"
        printf '#define %s_SCHEMA "' "$name"
        sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/$/\\n/' "$fbs" | tr -d '\n'
        echo '"'
        echo "#endif"
    } >$fb/include/${name}_schema.h
done

# --- build ------------------------------------------------------------------
libs="-lcjson -lz -lssl -lcrypto -lsqlite3 -lyaml -lpcre2-8 -lcurl -lmsgpackc -lbz2 -llzma -lffi -laudit"
if ! make -j"$(nproc)" TARGET=server EXTERNAL_LIBS= JEMALLOC_LIB= LIBS="$libs" \
    WAZUH_USER=root WAZUH_GROUP=root wazuh-analysisd >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die 1 "make failed; the whole log: $log"
fi

# --- install ----------------------------------------------------------------
mkdir -p "$dist.tmp"/{bin,lib,ruleset,etc,framework/scripts,framework/wazuh/core}
cp wazuh-analysisd "$dist.tmp/bin/"
cp libwazuhext.so "$dist.tmp/lib/"
cp -a ../ruleset/rules ../ruleset/decoders "$dist.tmp/ruleset/"
cp ../etc/internal_options.conf ../etc/local_internal_options.conf ../etc/local_rules.xml \
    ../etc/local_decoder.xml "$dist.tmp/etc/"
cp -a ../ruleset/lists "$dist.tmp/etc/lists"   # the CDB lists a manager's ossec.conf names
cp ../framework/scripts/wazuh_logtest.py "$dist.tmp/framework/scripts/"
cp ../framework/wazuh/core/common.py "$dist.tmp/framework/wazuh/core/"
cp ../LICENSE "$dist.tmp/" 2>/dev/null || true
cd "$cache"
rm -rf "$dist" "$build"
mv "$dist.tmp" "$dist"
echo "$key" >"$cache/key"
say "built $dist/bin/wazuh-analysisd"
echo "$dist"

#!/usr/bin/env bash
# Run the unit and integration test tiers on another Node.js major (default 24), without touching
# this checkout's node_modules (built for the Node that runs the rest of CI):
#
#   bash scripts/test-node.sh 24 [jest pattern...]
#
# 1. Node <major> comes from the npm registry: the `node-<os>-<arch>` package (what the `node@<major>`
#    package installs) ships the binary and its C++ headers. Cached in $MIMI_NODE_CACHE
#    (default ~/.cache/mimi-gateway).
# 2. The project is copied into that cache (sources only; the openmls peer binaries are linked), with
#    a copy of node_modules in which better-sqlite3 (the one native module on V8's ABI; the others
#    are N-API) is rebuilt from source against those headers (npm_config_nodedir), offline.
#    The copy of node_modules is reused while package-lock.json is unchanged.
# 3. The unit tier, then the integration tier, run on that Node.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
major=${1:-24}
shift || true

step() { printf '\n==> [node %s] %s\n' "$major" "$*"; }

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "test-node.sh: unsupported OS $(uname -s)" >&2; exit 2 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "test-node.sh: unsupported CPU $(uname -m)" >&2; exit 2 ;;
esac

cache=${MIMI_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mimi-gateway}
toolchain=$cache/node-$major
nodedir=$toolchain/node_modules/node-$os-$arch
if [ ! -x "$nodedir/bin/node" ] || [ ! -f "$nodedir/include/node/node.h" ]; then
  step "installing Node $major (npm package node-$os-$arch@$major)"
  rm -rf "$toolchain"
  mkdir -p "$toolchain"
  npm install --prefix "$toolchain" --no-save --no-audit --no-fund --loglevel=error "node-$os-$arch@$major"
fi
node_bin=$nodedir/bin/node
version=$("$node_bin" --version)

work=$cache/project-node$major
step "copying the project to $work (Node $version)"
mkdir -p "$work"
# A fresh copy each run (a file deleted here must not linger there); node_modules is kept.
find "$work" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
# Sources only: no node_modules, VCS data, build output, test servers or Rust build folders.
tar -C "$root" -cf - \
  --exclude=./node_modules --exclude=./.git --exclude=./dist --exclude=./.test-servers \
  --exclude=./coverage --exclude=./data --exclude=./test/interop/openmls-peer/target . |
  tar -C "$work" -xf -
ln -sfn "$(readlink -f "$root/test/interop/openmls-peer/target")" "$work/test/interop/openmls-peer/target"

lock_hash=$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)
stamp=$work/node_modules/.mimi-node-$major-$lock_hash
if [ ! -f "$stamp" ]; then
  step "node_modules for Node $version (a copy; better-sqlite3 rebuilt from source)"
  rm -rf "$work/node_modules"
  cp -a "$(readlink -f "$root/node_modules")" "$work/node_modules"
  # npm's bundled node-gyp, run by the new Node, with that Node's headers from the package (no
  # download, no prebuilt binary).
  node_gyp=$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js
  build_log=$work/better-sqlite3-build.log
  if ! (
    cd "$work/node_modules/better-sqlite3"
    PATH="$nodedir/bin:$PATH" "$node_bin" "$node_gyp" rebuild --release --nodedir="$nodedir" --loglevel=warn -j 2
  ) >"$build_log" 2>&1; then
    tail -n 50 "$build_log" >&2
    echo "test-node.sh: building better-sqlite3 for Node $version failed (log: $build_log)" >&2
    exit 1
  fi
  touch "$stamp"
fi
"$node_bin" -e "const D = require('$work/node_modules/better-sqlite3'); new D(':memory:').prepare('select 1').get();" ||
  { echo "better-sqlite3 does not load on Node $version" >&2; exit 1; }

cd "$work"
export PATH="$nodedir/bin:$PATH"
step "unit tests"
"$node_bin" node_modules/jest/bin/jest.js --config test/jest-unit.config.js --ci --passWithNoTests "$@"
step "integration tests (SQLite + a throwaway PostgreSQL, the openmls interop peer)"
"$node_bin" node_modules/jest/bin/jest.js --config test/jest-integration.config.js --ci --passWithNoTests "$@"
step "passed on Node $version"

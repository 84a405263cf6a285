#!/usr/bin/env bash
# Builds the openmls interop peer (test/interop/openmls-peer, Rust) in two variants:
#   target/bin/openmls-peer      plain RFC 9420 openmls 0.9.2
#   target/bin/openmls-peer-ext  openmls with its `extensions-draft` feature (AppDataUpdate, app_data_dictionary)
# Both share one cargo target dir (dependencies compiled per feature set, kept side by side), so a
# second run with nothing changed takes a second or two. Needs cargo (rustup); crates come from
# crates.io, pinned by the committed Cargo.lock (--locked).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
crate="$here/openmls-peer"

if ! command -v cargo >/dev/null 2>&1; then
  for d in "${CARGO_HOME:-}/bin" "$HOME/.cargo/bin" /root/.cargo/bin; do
    if [ -n "$d" ] && [ -x "$d/cargo" ]; then
      export PATH="$d:$PATH"
      break
    fi
  done
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "test/interop/build.sh: cargo not found (looked in PATH, \$HOME/.cargo/bin, /root/.cargo/bin)." >&2
  echo "Install Rust with rustup (https://rustup.rs) or put cargo on PATH, then run: bash test/interop/build.sh" >&2
  exit 1
fi

bindir="$crate/target/bin"
mkdir -p "$bindir"
build() { # $1 = output name, rest = extra cargo args
  local out="$1"
  shift
  echo "==> openmls-peer: cargo build --release --locked $* ($(cargo --version))"
  local start=$SECONDS
  (cd "$crate" && cargo build --release --locked "$@")
  # Copy rather than leave the shared target/release/openmls-peer, which the other variant overwrites.
  cp -f "$crate/target/release/openmls-peer" "$bindir/$out.tmp"
  mv -f "$bindir/$out.tmp" "$bindir/$out"
  echo "==> $bindir/$out ($((SECONDS - start))s)"
}
build openmls-peer
build openmls-peer-ext --features extensions

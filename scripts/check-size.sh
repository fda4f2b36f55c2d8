#!/usr/bin/env bash
# Builds both flavours in release and checks their stripped sizes against
# the budget in docs/PERFORMANCE.md. Prints the figures it measured.
#   full:    default features (HTTP transport: ureq + rustls + gzip)
#   no-http: --no-default-features (batch callback only)
set -euo pipefail
cd "$(dirname "$0")/.."
# Budgets in bytes; the goals of issue 10 are 1 900 000 and 600 000 (see
# docs/PERFORMANCE.md for where the bytes go and what is left to cut).
FULL_BUDGET=${KINO_SIZE_BUDGET_FULL:-2300000}
NOHTTP_BUDGET=${KINO_SIZE_BUDGET_NOHTTP:-800000}
# As shipped (make lib): cdylib + staticlib, without the rlib.
cargo rustc --release --quiet --lib --crate-type cdylib,staticlib
cargo rustc --release --quiet --lib --crate-type cdylib,staticlib --no-default-features --target-dir target/nohttp
status=0
check() {
  local name=$1 lib=$2 budget=$3 tmp
  tmp=$(mktemp)
  cp "$lib" "$tmp"
  strip "$tmp"
  local size
  size=$(stat -c %s "$tmp")
  rm -f "$tmp"
  printf 'check-size: %-8s stripped libkino.so %8d bytes (budget %d)\n' "$name" "$size" "$budget"
  if [ "$size" -gt "$budget" ]; then
    echo "check-size: $name is over its budget" >&2
    status=1
  fi
}
check full target/release/libkino.so "$FULL_BUDGET"
check no-http target/nohttp/release/libkino.so "$NOHTTP_BUDGET"
exit $status

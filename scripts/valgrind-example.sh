#!/usr/bin/env bash
# Runs the C example player under valgrind against a local collector:
# fails on any memory error or definite leak.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${collector_pid:-}" ] && kill "$collector_pid" 2>/dev/null || true' EXIT
cargo build --release --quiet --example collector
./target/release/examples/collector --url-file "$work/url" --exit-after-end --timeout-s 120 >"$work/collector.log" &
collector_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite ./examples-c/build/player "$(cat "$work/url")" >"$work/player.log" 2>&1 || {
  status=$?
  cat "$work/player.log"
  echo "valgrind-example: the player failed under valgrind (status $status)" >&2
  exit 1
}
wait "$collector_pid" || { cat "$work/collector.log"; echo "valgrind-example: collector saw problems" >&2; exit 1; }
collector_pid=
tail -n 1 "$work/player.log"
grep 'collector:.*problems' "$work/collector.log"
echo "valgrind-example: 1 passed, 0 failed"

#!/usr/bin/env bash
# The demo: a C player sends real beacons to a local collector; both print
# what happened. Run through `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${collector_pid:-}" ] && kill "$collector_pid" 2>/dev/null || true' EXIT

cargo build --release --quiet --example collector
./target/release/examples/collector --url-file "$work/url" --exit-after-end --timeout-s 60 >"$work/collector.log" 2>&1 &
collector_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(cat "$work/url")

echo "== player (examples-c/player.c) -> $url"
KINO_BEACON_URL="$url" ./examples-c/build/player
status=0
wait "$collector_pid" || status=$?
collector_pid=
echo
echo "== what the collector (examples/collector.rs) received"
cat "$work/collector.log"
exit $status

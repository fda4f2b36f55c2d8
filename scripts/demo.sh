#!/usr/bin/env bash
# The demo: a C player sends real beacons to a local collector; both print
# what happened. Run through `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${collector_pid:-}" ] && kill "$collector_pid" 2>/dev/null || true' EXIT

cargo build --release --quiet --example collector
./target/release/examples/collector --url-file "$work/url" --exit-after-end --timeout-s 60 &
collector_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(cat "$work/url")

echo "== player (examples-c/player.c) -> $url"
KINO_BEACON_URL="$url" ./examples-c/build/player
echo "== collector"
wait "$collector_pid"
collector_pid=

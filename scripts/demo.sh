#!/usr/bin/env bash
# The demo: a C player sends real beacons to kino-inspect (the development
# collector); both print what happened, and kino-inspect writes its HTML
# report, whose path is the last line. Run through `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${collector_pid:-}" ] && kill "$collector_pid" 2>/dev/null || true' EXIT

report="$PWD/target/kino-inspect/demo-report.html"
mkdir -p "$(dirname "$report")"
cargo build --release --quiet --bin kino-inspect
./target/release/kino-inspect --url-file "$work/url" --exit-after-end --timeout-s 60 \
  --report "$report" >"$work/collector.log" 2>&1 &
collector_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(cat "$work/url")

echo "== player (examples-c/player.c) -> $url"
KINO_BEACON_URL="$url" ./examples-c/build/player
status=0
wait "$collector_pid" || status=$?
collector_pid=
echo
echo "== what kino-inspect (src/bin/kino-inspect) received, and what it checked"
cat "$work/collector.log"
echo
echo "== report (open it in a browser): $report"
exit $status

#!/usr/bin/env bash
# The GStreamer demo: a real player engine (examples-c/gst_player.c, playbin)
# plays a generated multi-rendition HLS stream served on 127.0.0.1 and
# reports it through kino to a local collector, which shows what arrived.
#
#   scripts/gst-demo.sh                       dev collector (examples/collector.rs)
#   KINO_BEACON_URL=http://... scripts/gst-demo.sh   send to that collector instead
#
# Needs ffmpeg, the GStreamer runtime and headers, cc, pkg-config, python3
# (.ci/run installs them). Exits non-zero if anything fails: the build, the
# stream, playback, delivery, or the collector's checks.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "gst-demo: $*" >&2
  exit 1
}
need() { command -v "$1" >/dev/null || die "$1 not found (apt-get install $2)"; }
need cc gcc
need pkg-config pkg-config
need python3 python3
need ffmpeg ffmpeg
pkg-config --exists gstreamer-1.0 || die "GStreamer headers not found (apt-get install libgstreamer1.0-dev)"
if command -v gst-inspect-1.0 >/dev/null; then
  for element in playbin fakesink hlsdemux tsdemux h264parse avdec_h264 avdec_aac; do
    gst-inspect-1.0 --exists "$element" || die "GStreamer element $element missing (apt-get install" \
      "gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav)"
  done
fi

work=$(mktemp -d -t kino-gst-demo.XXXXXX)
http_pid=
collector_pid=
cleanup() {
  [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null
  [ -n "$collector_pid" ] && kill "$collector_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "== build: libkino (release), examples-c/gst_player.c"
cargo build --release --quiet --lib
ln -sf libkino.so target/release/libkino.so.0
mkdir -p examples-c/build
# shellcheck disable=SC2046 # pkg-config output is a list of flags
cc -std=c99 -O2 -g -Wall -Wextra -Wpedantic -Werror -D_POSIX_C_SOURCE=200809L \
  -Iinclude examples-c/gst_player.c $(pkg-config --cflags --libs gstreamer-1.0) \
  -Ltarget/release -lkino -Wl,-rpath,'$ORIGIN/../../target/release' -o "$work/gst_player"
mv -f "$work/gst_player" examples-c/build/gst_player # atomic: concurrent runs never see half a file

echo "== stream: scripts/make-hls.sh"
scripts/make-hls.sh "$work/hls" 8 >/dev/null
sed -n 's/^#EXT-X-STREAM-INF:/   variant /p' "$work/hls/master.m3u8"

# Ports are chosen by the servers themselves (port 0) and handed over
# through FIFOs: no fixed port, no polling.
mkfifo "$work/port"
python3 - "$work/hls" "$work/port" >"$work/http.log" 2>&1 <<'EOF' &
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
with open(sys.argv[2], "w") as f:
    f.write(f"{server.server_address[1]}\n")
server.serve_forever()
EOF
http_pid=$!
port=$(timeout 30 cat "$work/port") || die "the HTTP server did not start: $(cat "$work/http.log")"
stream="http://127.0.0.1:$port/master.m3u8"

if [ -n "${KINO_BEACON_URL:-}" ]; then
  url=$KINO_BEACON_URL
else
  cargo build --release --quiet --example collector
  mkfifo "$work/url"
  ./target/release/examples/collector --url-file "$work/url" --exit-after-end --timeout-s 120 \
    >"$work/collector.log" 2>&1 &
  collector_pid=$!
  url=$(timeout 30 cat "$work/url") || die "the collector did not start: $(cat "$work/collector.log")"
fi

echo "== player: $stream -> $url"
status=0
timeout 150 ./examples-c/build/gst_player --heartbeat-ms 1000 --timeout-s 120 "$stream" "$url" || status=$?

if [ -n "$collector_pid" ]; then
  echo "== collector"
  collector_status=0
  wait "$collector_pid" || collector_status=$?
  collector_pid=
  cat "$work/collector.log"
  [ "$collector_status" -eq 0 ] || die "the collector saw problems (status $collector_status)"
fi
[ "$status" -eq 0 ] || die "the player failed (status $status)"
echo "gst-demo: ok"

#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust, gcc and make, when it is
# missing: valgrind, g++, python3 + chDB (NDJSON into ClickHouse), cmake and
# pkg-config (install tests), ffmpeg, GStreamer and libmpv (the real player
# engines), clickhouse-server (a real ClickHouse over HTTP), chromium
# (headless), node + npm's @svta/cml-cmcd (an independent CMCD decoder).
# Quick when everything is present. Uses sudo when not run as root.
set -euo pipefail
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v valgrind >/dev/null || need+=(valgrind)
command -v cc >/dev/null || need+=(gcc)
command -v c++ >/dev/null || need+=(g++)
command -v python3 >/dev/null || need+=(python3)
# chDB comes with pip: Debian's python3 has no pip until python3-pip is installed
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
command -v make >/dev/null || need+=(make)
# make install + tests/install.rs: pkg-config and CMake builds of an outside program
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v cmake >/dev/null || need+=(cmake)
command -v readelf >/dev/null || need+=(binutils)
# tests/gst_player.rs (scripts/gst-demo.sh): ffmpeg makes the HLS stream,
# GStreamer plays it (playbin, hlsdemux/tsdemux, avdec_h264/avdec_aac, headers)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
# tests/clickhouse_server.rs: a real ClickHouse server (Debian's 18.16)
[ -x /usr/sbin/clickhouse-server ] || command -v clickhouse-server >/dev/null || need+=(clickhouse-server)
# tests/inspect.rs: kino-inspect's HTML report in a real headless browser
command -v chromium >/dev/null || need+=(chromium)
# tests/cmcd.rs: node runs npm's @svta/cml-cmcd on kino's CMCD output
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# tests/gst_adapter.rs, tests/mpv_adapter.rs: the engine adapters on the real
# engines (GStreamer as above; libmpv and its headers; the players run under
# ASan, which gcc brings)
for pkg in gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
  gstreamer1.0-plugins-bad gstreamer1.0-libav libgstreamer1.0-dev libmpv-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "test-deps: installing ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
# tests/clickhouse.rs: chDB, the embedded ClickHouse engine, from PyPI.
if ! python3 -c 'import chdb' 2>/dev/null; then
  echo "test-deps: installing chdb (pip)"
  python3 -m pip install -q chdb 2>/dev/null || python3 -m pip install -q --break-system-packages chdb
fi
# tests/cmcd.rs: @svta/cml-cmcd (the CTA-5004 library hls.js and dash.js
# use), pinned by tests/js/package-lock.json.
js_dir="$(dirname "$0")/../tests/js"
if [ ! -d "$js_dir/node_modules/@svta/cml-cmcd" ]; then
  echo "test-deps: installing @svta/cml-cmcd (npm ci in tests/js)"
  (cd "$js_dir" && npm ci --no-audit --no-fund --silent)
fi

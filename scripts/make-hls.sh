#!/usr/bin/env bash
# Generates a short multi-rendition HLS stream from ffmpeg's test sources
# (testsrc2 video + a sine tone): three renditions, 320x180 / 640x360 /
# 1280x720, 2 s MPEG-TS segments, and a master playlist that lists the
# lowest rendition first (so an engine starts low and switches up).
#
#   scripts/make-hls.sh [OUT_DIR] [SECONDS]
#
# OUT_DIR defaults to a new temporary directory; SECONDS to 8. Prints the
# directory; the master playlist is OUT_DIR/master.m3u8.
set -euo pipefail

out=${1:-$(mktemp -d -t kino-hls.XXXXXX)}
seconds=${2:-8}
command -v ffmpeg >/dev/null || {
  echo "make-hls: ffmpeg not found (apt-get install ffmpeg)" >&2
  exit 1
}
mkdir -p "$out"
for v in 0 1 2; do mkdir -p "$out/v$v"; done

# One encode, three scaled outputs; a keyframe every second (25 frames) so
# every 2 s segment starts with one and renditions can switch at any segment.
# Bitrates are capped (-maxrate) so each rendition's BANDWIDTH is distinct.
ffmpeg -hide_banner -loglevel error -nostdin -y \
  -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=$seconds" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$seconds" \
  -filter_complex "[0:v]split=3[a][b][c];[a]scale=320:180[v0];[b]scale=640:360[v1];[c]null[v2]" \
  -map "[v0]" -map "[v1]" -map "[v2]" -map 1:a -map 1:a -map 1:a \
  -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p \
  -g 25 -keyint_min 25 -sc_threshold 0 \
  -b:v:0 300k -maxrate:v:0 300k -bufsize:v:0 600k \
  -b:v:1 800k -maxrate:v:1 800k -bufsize:v:1 1600k \
  -b:v:2 2500k -maxrate:v:2 2500k -bufsize:v:2 5000k \
  -c:a aac -b:a 64k -ac 2 \
  -f hls -hls_time 2 -hls_playlist_type vod -hls_flags independent_segments \
  -hls_segment_filename "$out/v%v/seg_%03d.ts" \
  -master_pl_name master.m3u8 \
  -var_stream_map "v:0,a:0 v:1,a:1 v:2,a:2" \
  "$out/v%v/index.m3u8"

test -s "$out/master.m3u8" || {
  echo "make-hls: no master playlist in $out" >&2
  exit 1
}
echo "$out"

#!/usr/bin/env bash
# Fails unless the shared library exports only kino_* functions and has a SONAME.
set -euo pipefail
lib=${1:-target/release/libkino.so}
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^kino_' || true)
if [ -n "$bad" ]; then
  echo "check-symbols: $lib exports symbols outside kino_*:" >&2
  echo "$bad" >&2
  exit 1
fi
count=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^kino_')
soname=$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
if [ "$soname" != "libkino.so.0" ]; then
  echo "check-symbols: SONAME is '$soname', expected libkino.so.0" >&2
  exit 1
fi
echo "check-symbols: $count kino_* symbols exported, nothing else; SONAME $soname"

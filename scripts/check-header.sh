#!/usr/bin/env bash
# Fails when include/kino.h differs from the header a fresh build generates.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=$(cargo build --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    pid = m.get("package_id", "")
    if m.get("reason") == "build-script-executed" and pid.startswith("path+") and "#kino@" in pid:
        print(m["out_dir"])
')
generated="$out_dir/kino.h"
if [ ! -f "$generated" ]; then
  echo "check-header: could not find the generated header (out_dir='$out_dir')" >&2
  exit 1
fi
if ! diff -u include/kino.h "$generated"; then
  echo "check-header: include/kino.h is stale; run 'make header' and commit it" >&2
  exit 1
fi
echo "check-header: include/kino.h matches the generated header"

"""Loads kino NDJSON beacons into ClickHouse (chDB, the embedded engine) as
JSONEachRow and prints QoE aggregates as one JSON object.

    python3 tests/py/clickhouse_query.py beacons.ndjson
"""
import json
import sys

import chdb

path = sys.argv[1]
src = f"file('{path}', 'JSONEachRow')"


def rows(sql):
    out = chdb.query(sql, "JSONEachRow")
    text = out.bytes().decode() if hasattr(out, "bytes") else str(out)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


result = {
    "events_per_type": {
        r["event"]: int(r["n"])
        for r in rows(f"SELECT event, count() AS n FROM {src} GROUP BY event ORDER BY event")
    },
    "views": int(
        rows(f"SELECT uniqExact(view_id) AS v FROM {src} WHERE view_id IS NOT NULL AND view_id != ''")[0]["v"]
    ),
    "sessions": int(rows(f"SELECT uniqExact(session_id) AS s FROM {src}")[0]["s"]),
    "rebuffer_events": int(rows(f"SELECT countIf(event = 'rebuffer') AS n FROM {src}")[0]["n"]),
    "qoe_rebuffer_count": int(
        rows(f"SELECT sum(rebuffer_count) AS n FROM {src} WHERE event = 'qoe'")[0]["n"]
    ),
    "qoe_rebuffer_duration": float(
        rows(f"SELECT sum(rebuffer_duration) AS d FROM {src} WHERE event = 'qoe'")[0]["d"]
    ),
    "max_sequence": int(rows(f"SELECT max(sequence) AS m FROM {src}")[0]["m"]),
}
print(json.dumps(result))

"""The A/B question in one query: kino's NDJSON beacons loaded into ClickHouse
(chDB, the embedded engine) as JSONEachRow, the qoe records grouped by their
metadata's experiment_variant. Prints the rows as a JSON array.

    python3 tests/py/ab_query.py beacons.ndjson
"""
import json
import sys

import chdb

path = sys.argv[1]
structure = (
    "event String, score Nullable(Float64), rebuffer_duration Nullable(Float64), "
    "watch_time Nullable(Float64), metadata Map(String, String)"
)
sql = f"""
SELECT
    metadata['experiment_variant']             AS variant,
    count()                                    AS views,
    avg(score)                                 AS mean_score,
    sum(rebuffer_duration) / sum(watch_time)   AS rebuffer_ratio
FROM file('{path}', 'JSONEachRow', '{structure}')
WHERE event = 'qoe'
GROUP BY variant
ORDER BY variant
SETTINGS input_format_skip_unknown_fields = 1
"""
out = chdb.query(sql, "JSONEachRow")
text = out.bytes().decode() if hasattr(out, "bytes") else str(out)
print(json.dumps([json.loads(line) for line in text.splitlines() if line.strip()]))

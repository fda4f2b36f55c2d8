"""Runs sql/clickhouse/ (a schema and the example queries) against ClickHouse
and prints what the queries return, as one JSON object.

    clickhouse_schema.py chdb SCHEMA QUERIES NDJSON
        chDB (ClickHouse in-process): applies SCHEMA, inserts NDJSON the two
        documented ways (JSONEachRow into kino.records; JSONAsString into
        kino.beacons, which also keeps the raw lines), runs every query after
        each, and prints {"each_row": {...}, "as_string": {...},
        "raw_lines": N, "records": N}.
    clickhouse_schema.py http URL USER KEY apply SCHEMA
        A real server over HTTP: drops the kino database, applies SCHEMA.
    clickhouse_schema.py http URL USER KEY queries QUERIES
        Runs every query; prints {name: [rows]}.

Statements are separated by a `;` at the end of a line; each query in
QUERIES starts with a `-- name: NAME` line.
"""
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

# The settings docs/CLICKHOUSE.md puts in the insert URL for a current server.
INSERT_SETTINGS = {
    "date_time_input_format": "best_effort",
    "input_format_skip_unknown_fields": "1",
    "async_insert": "1",
    "wait_for_async_insert": "1",
}
OUTPUT_SETTINGS = {"output_format_json_quote_64bit_integers": "0"}


def statements(path):
    out, current = [], []
    for line in open(path, encoding="utf-8").read().splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            text = "\n".join(current).strip().rstrip(";")
            current = []
            if re.sub(r"--[^\n]*", "", text).strip():
                out.append(text)
    return out


def named_queries(path):
    queries = {}
    for text in statements(path):
        m = re.search(r"^-- name: (\w+)", text, re.M)
        if not m:
            raise SystemExit(f"a query without a '-- name:' line in {path}:\n{text}")
        queries[m.group(1)] = text
    return queries


def parse_rows(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Chdb:
    def __init__(self):
        from chdb import session

        # chDB reads config.xml from the working directory; run where there
        # is none.
        self.dir = tempfile.mkdtemp(prefix="kino-chdb-")
        os.chdir(self.dir)
        self.s = session.Session(os.path.join(self.dir, "db"))

    def close(self):
        self.s.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, sql, fmt="TSV"):
        res = self.s.query(sql, fmt)
        return res.bytes().decode() if hasattr(res, "bytes") else str(res)

    def settings_clause(self, settings):
        return ", ".join(f"{k} = '{v}'" for k, v in settings.items())

    def insert(self, table, fmt, data):
        self.run(
            f"INSERT INTO {table} SETTINGS {self.settings_clause(INSERT_SETTINGS)} "
            f"FORMAT {fmt}\n{data}"
        )

    def queries(self, queries):
        return {
            name: parse_rows(
                self.run(f"{q} SETTINGS {self.settings_clause(OUTPUT_SETTINGS)}", "JSONEachRow")
            )
            for name, q in queries.items()
        }


def chdb_main(schema, queries_path, ndjson):
    db = Chdb()
    queries = named_queries(queries_path)
    data = open(ndjson, encoding="utf-8").read()
    result = {}
    for way, table, fmt in (
        ("each_row", "kino.records", "JSONEachRow"),
        ("as_string", "kino.beacons", "JSONAsString"),
    ):
        db.run("DROP DATABASE IF EXISTS kino")
        for s in statements(schema):
            db.run(s)
        db.insert(table, fmt, data)
        result[way] = db.queries(queries)
    result["raw_lines"] = int(db.run("SELECT countIf(raw != '') FROM kino.records").strip())
    result["records"] = int(db.run("SELECT count() FROM kino.records").strip())
    # The raw line is the record as sent, byte for byte.
    sent = sorted(line for line in data.splitlines() if line.strip())
    kept = sorted(db.run("SELECT raw FROM kino.records FORMAT TSVRaw").splitlines())
    result["raw_equals_sent"] = sent == kept
    db.close()
    print(json.dumps(result))


def http(url, user, key, sql, params=None):
    query = dict(params or {})
    req = urllib.request.Request(
        url + "/?" + urllib.parse.urlencode(query),
        data=sql.encode(),
        headers={"X-ClickHouse-User": user, "X-ClickHouse-Key": key},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read().decode()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"HTTP {e.code} for:\n{sql}\n{e.read().decode()}")


def http_main(url, user, key, command, path):
    if command == "apply":
        http(url, user, key, "DROP DATABASE IF EXISTS kino")
        for s in statements(path):
            http(url, user, key, s)
        print("{}")
    elif command == "queries":
        out = {
            name: parse_rows(http(url, user, key, q + "\nFORMAT JSONEachRow", OUTPUT_SETTINGS))
            for name, q in named_queries(path).items()
        }
        print(json.dumps(out))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    if sys.argv[1] == "chdb":
        chdb_main(*sys.argv[2:5])
    elif sys.argv[1] == "http":
        http_main(*sys.argv[2:7])
    else:
        raise SystemExit(__doc__)

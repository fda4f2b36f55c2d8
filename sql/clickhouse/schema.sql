-- kino records in ClickHouse, for a current server (tested with ClickHouse
-- 26.9 through chDB; uses Map, DateTime64, Bool, column TTL, JSONAsString).
-- For Debian's clickhouse-server 18.16 use schema-18.16.sql instead.
-- docs/CLICKHOUSE.md says how kino posts to it. Every statement is
-- idempotent; run the file with
--   clickhouse-client --multiquery < sql/clickhouse/schema.sql
--
-- Two ways in, same rows:
--   INSERT INTO kino.records FORMAT JSONEachRow   (kino's NDJSON as is)
--   INSERT INTO kino.beacons FORMAT JSONAsString  (also keeps each raw line)
-- Then kino.records_to_qoe copies every `qoe` record into kino.qoe.

CREATE DATABASE IF NOT EXISTS kino;

-- One row per record (CONTRACT.md §3): the common fields typed, every
-- event's own fields as columns (empty or NULL where an event has none).
-- ReplacingMergeTree: a batch that was retried after a lost answer arrives
-- twice with the same ids; merges keep one (query with FINAL, or count
-- uniqExact(id), for exact numbers before a merge).
CREATE TABLE IF NOT EXISTS kino.records
(
    id                      UUID,
    session_id              UUID,
    timestamp               DateTime64(6, 'UTC'),
    sequence                UInt64,
    view_id                 Nullable(UUID),
    event                   LowCardinality(String),
    -- issue 9: on load and qoe (on every record with
    -- kino_config_set_metadata_on_every_record); sample_rate beside it.
    metadata                Map(LowCardinality(String), String),
    sample_rate             Nullable(Float64),
    -- load
    url                     String,
    is_live                 Nullable(Bool),
    -- play, pause, rebuffer, rebuffer_end, state_change, end, error, heartbeat
    position                Nullable(Float64),
    buffer_level            Nullable(Float64),
    duration                Nullable(Float64),
    -- `from` / `to` are numbers (seconds) in seek and strings (player
    -- states) in state_change: kept as text here, typed by the ALIAS
    -- columns below. A Float64 or a String column alone would make the
    -- server refuse every batch holding the other kind.
    `from`                  String,
    `to`                    String,
    -- quality_change; a resolution is its JSON text, '' when unknown
    from_bitrate            Nullable(UInt64),
    to_bitrate              Nullable(UInt64),
    from_resolution         String,
    to_resolution           String,
    reason                  LowCardinality(String),
    -- end (and qoe)
    watch_time              Nullable(Float64),
    -- error
    code                    String,
    message                 String,
    fatal                   Nullable(Bool),
    -- heartbeat
    bitrate                 Nullable(UInt64),
    dropped_frames          Nullable(UInt64),
    decoded_frames          Nullable(UInt64),
    -- custom: the caller's JSON as text ('' for null)
    name                    String,
    data                    String,
    -- qoe (docs/EVENTS.md, "How the figures are derived")
    score                   Nullable(Float64),
    initial_buffer_time     Nullable(Float64),
    rebuffer_count          Nullable(UInt32),
    rebuffer_duration       Nullable(Float64),
    quality_switches        Nullable(UInt32),
    average_bitrate         Nullable(UInt64),
    started                 Nullable(Bool),
    playback_failed         Nullable(Bool),
    exit_before_video_start Nullable(Bool),
    seek_count              Nullable(UInt32),
    average_seek_latency    Nullable(Float64),
    playing_time            Nullable(Float64),
    view_time               Nullable(Float64),
    rebuffer_ratio          Nullable(Float64),
    rebuffer_frequency      Nullable(Float64),
    upshifts                Nullable(UInt32),
    downshifts              Nullable(UInt32),
    error_count             Nullable(UInt32),
    startup_score           Nullable(Float64),
    smoothness_score        Nullable(Float64),
    playback_success_score  Nullable(Float64),
    -- the record as received (JSONAsString path; '' through JSONEachRow),
    -- kept for 30 days for re-processing fields this schema does not know
    raw                     String DEFAULT '' CODEC(ZSTD(3)) TTL toDateTime(timestamp) + INTERVAL 30 DAY,
    inserted_at             DateTime DEFAULT now(),

    seek_from               Nullable(Float64) ALIAS if(event = 'seek', toFloat64OrNull(`from`), NULL),
    seek_to                 Nullable(Float64) ALIAS if(event = 'seek', toFloat64OrNull(`to`), NULL),
    from_state              String ALIAS if(event = 'state_change', `from`, ''),
    to_state                String ALIAS if(event = 'state_change', `to`, ''),
    to_height               Nullable(UInt32) ALIAS if(to_resolution = '', NULL, JSONExtractUInt(to_resolution, 'height'))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (session_id, sequence, id)
TTL toDateTime(timestamp) + INTERVAL 180 DAY;

-- The JSONAsString entrance: nothing is stored here; the view below turns
-- each line into a kino.records row (raw included).
CREATE TABLE IF NOT EXISTS kino.beacons
(
    raw String
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS kino.beacons_to_records TO kino.records AS
SELECT
    toUUID(JSONExtractString(raw, 'id'))                                  AS id,
    toUUID(JSONExtractString(raw, 'session_id'))                          AS session_id,
    parseDateTime64BestEffort(JSONExtractString(raw, 'timestamp'), 6, 'UTC') AS timestamp,
    JSONExtractUInt(raw, 'sequence')                                      AS sequence,
    toUUIDOrNull(JSONExtractString(raw, 'view_id'))                       AS view_id,
    JSONExtractString(raw, 'event')                                       AS event,
    JSONExtract(raw, 'metadata', 'Map(String, String)')                   AS metadata,
    JSONExtract(raw, 'sample_rate', 'Nullable(Float64)')                  AS sample_rate,
    JSONExtractString(raw, 'url')                                         AS url,
    JSONExtract(raw, 'is_live', 'Nullable(Bool)')                         AS is_live,
    JSONExtract(raw, 'position', 'Nullable(Float64)')                     AS position,
    JSONExtract(raw, 'buffer_level', 'Nullable(Float64)')                 AS buffer_level,
    JSONExtract(raw, 'duration', 'Nullable(Float64)')                     AS duration,
    if(JSONType(raw, 'from') = 'String', JSONExtractString(raw, 'from'),
       if(JSONHas(raw, 'from'), JSONExtractRaw(raw, 'from'), ''))         AS `from`,
    if(JSONType(raw, 'to') = 'String', JSONExtractString(raw, 'to'),
       if(JSONHas(raw, 'to'), JSONExtractRaw(raw, 'to'), ''))             AS `to`,
    JSONExtract(raw, 'from_bitrate', 'Nullable(UInt64)')                  AS from_bitrate,
    JSONExtract(raw, 'to_bitrate', 'Nullable(UInt64)')                    AS to_bitrate,
    if(JSONType(raw, 'from_resolution') = 'Object', JSONExtractRaw(raw, 'from_resolution'), '') AS from_resolution,
    if(JSONType(raw, 'to_resolution') = 'Object', JSONExtractRaw(raw, 'to_resolution'), '')     AS to_resolution,
    JSONExtractString(raw, 'reason')                                      AS reason,
    JSONExtract(raw, 'watch_time', 'Nullable(Float64)')                   AS watch_time,
    JSONExtractString(raw, 'code')                                        AS code,
    JSONExtractString(raw, 'message')                                     AS message,
    JSONExtract(raw, 'fatal', 'Nullable(Bool)')                           AS fatal,
    JSONExtract(raw, 'bitrate', 'Nullable(UInt64)')                       AS bitrate,
    JSONExtract(raw, 'dropped_frames', 'Nullable(UInt64)')                AS dropped_frames,
    JSONExtract(raw, 'decoded_frames', 'Nullable(UInt64)')                AS decoded_frames,
    JSONExtractString(raw, 'name')                                        AS name,
    if(JSONType(raw, 'data') IN ('Null', ''), '', JSONExtractRaw(raw, 'data')) AS data,
    JSONExtract(raw, 'score', 'Nullable(Float64)')                        AS score,
    JSONExtract(raw, 'initial_buffer_time', 'Nullable(Float64)')          AS initial_buffer_time,
    JSONExtract(raw, 'rebuffer_count', 'Nullable(UInt32)')                AS rebuffer_count,
    JSONExtract(raw, 'rebuffer_duration', 'Nullable(Float64)')            AS rebuffer_duration,
    JSONExtract(raw, 'quality_switches', 'Nullable(UInt32)')              AS quality_switches,
    JSONExtract(raw, 'average_bitrate', 'Nullable(UInt64)')               AS average_bitrate,
    JSONExtract(raw, 'started', 'Nullable(Bool)')                         AS started,
    JSONExtract(raw, 'playback_failed', 'Nullable(Bool)')                 AS playback_failed,
    JSONExtract(raw, 'exit_before_video_start', 'Nullable(Bool)')         AS exit_before_video_start,
    JSONExtract(raw, 'seek_count', 'Nullable(UInt32)')                    AS seek_count,
    JSONExtract(raw, 'average_seek_latency', 'Nullable(Float64)')         AS average_seek_latency,
    JSONExtract(raw, 'playing_time', 'Nullable(Float64)')                 AS playing_time,
    JSONExtract(raw, 'view_time', 'Nullable(Float64)')                    AS view_time,
    JSONExtract(raw, 'rebuffer_ratio', 'Nullable(Float64)')               AS rebuffer_ratio,
    JSONExtract(raw, 'rebuffer_frequency', 'Nullable(Float64)')           AS rebuffer_frequency,
    JSONExtract(raw, 'upshifts', 'Nullable(UInt32)')                      AS upshifts,
    JSONExtract(raw, 'downshifts', 'Nullable(UInt32)')                    AS downshifts,
    JSONExtract(raw, 'error_count', 'Nullable(UInt32)')                   AS error_count,
    JSONExtract(raw, 'startup_score', 'Nullable(Float64)')                AS startup_score,
    JSONExtract(raw, 'smoothness_score', 'Nullable(Float64)')             AS smoothness_score,
    JSONExtract(raw, 'playback_success_score', 'Nullable(Float64)')       AS playback_success_score,
    raw
FROM kino.beacons;

-- One row per view: its qoe record's figures as columns, and the metadata
-- dimensions a team groups by ('' when not set). Sorted by day and view.
CREATE TABLE IF NOT EXISTS kino.qoe
(
    timestamp               DateTime64(6, 'UTC'),
    session_id              UUID,
    view_id                 UUID,
    id                      UUID,
    -- dimensions (issue 9 well-known keys), and the whole map
    env                     LowCardinality(String),
    app_name                LowCardinality(String),
    app_version             LowCardinality(String),
    player_name             LowCardinality(String),
    player_version          LowCardinality(String),
    os_name                 LowCardinality(String),
    kino_version            LowCardinality(String),
    video_id                String,
    video_stream_type       LowCardinality(String),
    video_cdn               LowCardinality(String),
    experiment_name         LowCardinality(String),
    experiment_variant      LowCardinality(String),
    metadata                Map(LowCardinality(String), String),
    -- 1 unless the session was sampled (issue 9): weigh a view by 1/sample_rate
    sample_rate             Float64,
    -- figures
    score                   Float64,
    initial_buffer_time     Nullable(Float64),
    rebuffer_count          UInt32,
    rebuffer_duration       Float64,
    quality_switches        UInt32,
    average_bitrate         UInt64,
    started                 Bool,
    playback_failed         Bool,
    exit_before_video_start Bool,
    seek_count              UInt32,
    average_seek_latency    Nullable(Float64),
    playing_time            Float64,
    watch_time              Float64,
    view_time               Float64,
    rebuffer_ratio          Float64,
    rebuffer_frequency      Float64,
    upshifts                UInt32,
    downshifts              UInt32,
    error_count             UInt32,
    startup_score           Nullable(Float64),
    smoothness_score        Nullable(Float64),
    playback_success_score  Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (toDate(timestamp), view_id)
TTL toDateTime(timestamp) + INTERVAL 400 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS kino.records_to_qoe TO kino.qoe AS
SELECT
    timestamp,
    session_id,
    assumeNotNull(view_id)                       AS view_id,
    id,
    metadata['env']                              AS env,
    metadata['app_name']                         AS app_name,
    metadata['app_version']                      AS app_version,
    metadata['player_name']                      AS player_name,
    metadata['player_version']                   AS player_version,
    metadata['os_name']                          AS os_name,
    metadata['kino_version']                     AS kino_version,
    metadata['video_id']                         AS video_id,
    metadata['video_stream_type']                AS video_stream_type,
    metadata['video_cdn']                        AS video_cdn,
    metadata['experiment_name']                  AS experiment_name,
    metadata['experiment_variant']               AS experiment_variant,
    metadata,
    ifNull(sample_rate, 1)                       AS sample_rate,
    ifNull(score, 0)                             AS score,
    initial_buffer_time,
    ifNull(rebuffer_count, 0)                    AS rebuffer_count,
    ifNull(rebuffer_duration, 0)                 AS rebuffer_duration,
    ifNull(quality_switches, 0)                  AS quality_switches,
    ifNull(average_bitrate, 0)                   AS average_bitrate,
    ifNull(started, false)                       AS started,
    ifNull(playback_failed, false)               AS playback_failed,
    ifNull(exit_before_video_start, false)       AS exit_before_video_start,
    ifNull(seek_count, 0)                        AS seek_count,
    average_seek_latency,
    ifNull(playing_time, 0)                      AS playing_time,
    ifNull(watch_time, 0)                        AS watch_time,
    ifNull(view_time, 0)                         AS view_time,
    ifNull(rebuffer_ratio, 0)                    AS rebuffer_ratio,
    ifNull(rebuffer_frequency, 0)                AS rebuffer_frequency,
    ifNull(upshifts, 0)                          AS upshifts,
    ifNull(downshifts, 0)                        AS downshifts,
    ifNull(error_count, 0)                       AS error_count,
    startup_score,
    smoothness_score,
    ifNull(playback_success_score, 0)            AS playback_success_score
FROM kino.records
WHERE event = 'qoe';

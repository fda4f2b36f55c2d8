-- kino records in ClickHouse 18.16 (Debian's clickhouse-server package).
-- The same tables and column names as schema.sql, within what 18.16 has:
--
--  * 18.16 cannot read a JSON number into a String column, nor a string into
--    a number: `from`/`to` (numbers in seek, strings in state_change) make
--    any typed JSONEachRow table refuse a whole batch (HTTP 500). It has no
--    JSONAsString, no JSON* functions, no Map, no Bool, no DateTime64, no
--    TTL, and a materialized view does not fire for rows another view
--    writes.
--  * So each NDJSON line enters whole, as one String, through the CSV
--    format with a delimiter JSON never holds unescaped (\x01, sent as
--    format_csv_delimiter=%01): kino.beacons. Two materialized views pick
--    the fields with the visitParam* functions into kino.records and
--    kino.qoe. Nothing is refused for its type, and the raw line is kept.
--  * visitParam* find the first `"key":` anywhere in the line: kino writes
--    id, session_id, timestamp, sequence, view_id and event before any
--    nested object, so those are exact; an event field is looked up only
--    for the events that have it, but a custom event's data or a metadata
--    map holding a key of the same name can shadow a later top-level key.
--    metadata is kept as its JSON text; the well-known dimensions are
--    extracted by name.
--  * Retention without TTL: drop old months, e.g.
--      ALTER TABLE kino.records DROP PARTITION 202601
--
-- Post with (docs/CLICKHOUSE.md):
--   /?query=INSERT%20INTO%20kino.beacons%20FORMAT%20CSV&format_csv_delimiter=%01
-- Run this file one statement at a time (18.16's client has --multiquery).

CREATE DATABASE IF NOT EXISTS kino;

CREATE TABLE IF NOT EXISTS kino.beacons
(
    line String
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS kino.records
(
    id                      UUID,
    session_id              UUID,
    timestamp               DateTime,
    sequence                UInt64,
    view_id                 UUID,
    event                   String,
    metadata                String,
    sample_rate             Nullable(Float64),
    url                     String,
    is_live                 Nullable(UInt8),
    position                Nullable(Float64),
    buffer_level            Nullable(Float64),
    duration                Nullable(Float64),
    `from`                  String,
    `to`                    String,
    from_bitrate            Nullable(UInt64),
    to_bitrate              Nullable(UInt64),
    from_resolution         String,
    to_resolution           String,
    reason                  String,
    watch_time              Nullable(Float64),
    code                    String,
    message                 String,
    fatal                   Nullable(UInt8),
    bitrate                 Nullable(UInt64),
    dropped_frames          Nullable(UInt64),
    decoded_frames          Nullable(UInt64),
    name                    String,
    data                    String,
    raw                     String,
    inserted_at             DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (session_id, sequence, id);

CREATE MATERIALIZED VIEW IF NOT EXISTS kino.beacons_to_records TO kino.records AS
SELECT
    toUUID(visitParamExtractString(line, 'id'))                            AS id,
    toUUID(visitParamExtractString(line, 'session_id'))                    AS session_id,
    parseDateTimeBestEffort(visitParamExtractString(line, 'timestamp'))    AS timestamp,
    visitParamExtractUInt(line, 'sequence')                                AS sequence,
    toUUID(if(visitParamHas(line, 'view_id'), visitParamExtractString(line, 'view_id'),
              '00000000-0000-0000-0000-000000000000'))                     AS view_id,
    visitParamExtractString(line, 'event')                                 AS event,
    visitParamExtractRaw(line, 'metadata')                                 AS metadata,
    if(visitParamExtractRaw(line, 'sample_rate') IN ('', 'null'), NULL, visitParamExtractFloat(line, 'sample_rate')) AS sample_rate,
    if(event = 'load', visitParamExtractString(line, 'url'), '')           AS url,
    if(event = 'load', visitParamExtractBool(line, 'is_live'), NULL)       AS is_live,
    if(event IN ('play', 'pause', 'rebuffer', 'rebuffer_end', 'state_change', 'end', 'error', 'heartbeat'),
       visitParamExtractFloat(line, 'position'), NULL)                     AS position,
    if(event IN ('rebuffer', 'heartbeat'), visitParamExtractFloat(line, 'buffer_level'), NULL) AS buffer_level,
    if(event = 'rebuffer_end', visitParamExtractFloat(line, 'duration'), NULL) AS duration,
    if(event = 'seek', visitParamExtractRaw(line, 'from'),
       if(event = 'state_change', visitParamExtractString(line, 'from'), '')) AS `from`,
    if(event = 'seek', visitParamExtractRaw(line, 'to'),
       if(event = 'state_change', visitParamExtractString(line, 'to'), ''))   AS `to`,
    if(event = 'quality_change', visitParamExtractUInt(line, 'from_bitrate'), NULL) AS from_bitrate,
    if(event = 'quality_change', visitParamExtractUInt(line, 'to_bitrate'), NULL)   AS to_bitrate,
    if(event = 'quality_change' AND visitParamExtractRaw(line, 'from_resolution') != 'null',
       visitParamExtractRaw(line, 'from_resolution'), '')                  AS from_resolution,
    if(event = 'quality_change' AND visitParamExtractRaw(line, 'to_resolution') != 'null',
       visitParamExtractRaw(line, 'to_resolution'), '')                    AS to_resolution,
    if(event = 'quality_change', visitParamExtractString(line, 'reason'), '') AS reason,
    if(event IN ('end', 'qoe'), visitParamExtractFloat(line, 'watch_time'), NULL) AS watch_time,
    if(event = 'error', visitParamExtractString(line, 'code'), '')         AS code,
    if(event = 'error', visitParamExtractString(line, 'message'), '')      AS message,
    if(event = 'error', visitParamExtractBool(line, 'fatal'), NULL)        AS fatal,
    if(event = 'heartbeat', visitParamExtractUInt(line, 'bitrate'), NULL)  AS bitrate,
    if(event = 'heartbeat', visitParamExtractUInt(line, 'dropped_frames'), NULL) AS dropped_frames,
    if(event = 'heartbeat', visitParamExtractUInt(line, 'decoded_frames'), NULL) AS decoded_frames,
    if(event = 'custom', visitParamExtractString(line, 'name'), '')        AS name,
    if(event = 'custom' AND visitParamExtractRaw(line, 'data') != 'null', visitParamExtractRaw(line, 'data'), '') AS data,
    line                                                                   AS raw,
    -- 18.16 fills no DEFAULT column through a view's TO table
    now()                                                                  AS inserted_at
FROM kino.beacons;

CREATE TABLE IF NOT EXISTS kino.qoe
(
    timestamp               DateTime,
    session_id              UUID,
    view_id                 UUID,
    id                      UUID,
    env                     String,
    app_name                String,
    app_version             String,
    player_name             String,
    player_version          String,
    os_name                 String,
    kino_version            String,
    video_id                String,
    video_stream_type       String,
    video_cdn               String,
    experiment_name         String,
    experiment_variant      String,
    metadata                String,
    sample_rate             Float64,
    score                   Float64,
    initial_buffer_time     Nullable(Float64),
    rebuffer_count          UInt32,
    rebuffer_duration       Float64,
    quality_switches        UInt32,
    average_bitrate         UInt64,
    started                 UInt8,
    playback_failed         UInt8,
    exit_before_video_start UInt8,
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
ORDER BY (toDate(timestamp), view_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS kino.beacons_to_qoe TO kino.qoe AS
SELECT
    parseDateTimeBestEffort(visitParamExtractString(line, 'timestamp'))    AS timestamp,
    toUUID(visitParamExtractString(line, 'session_id'))                    AS session_id,
    toUUID(visitParamExtractString(line, 'view_id'))                       AS view_id,
    toUUID(visitParamExtractString(line, 'id'))                            AS id,
    visitParamExtractString(line, 'env')                                   AS env,
    visitParamExtractString(line, 'app_name')                              AS app_name,
    visitParamExtractString(line, 'app_version')                           AS app_version,
    visitParamExtractString(line, 'player_name')                           AS player_name,
    visitParamExtractString(line, 'player_version')                        AS player_version,
    visitParamExtractString(line, 'os_name')                               AS os_name,
    visitParamExtractString(line, 'kino_version')                          AS kino_version,
    visitParamExtractString(line, 'video_id')                              AS video_id,
    visitParamExtractString(line, 'video_stream_type')                     AS video_stream_type,
    visitParamExtractString(line, 'video_cdn')                             AS video_cdn,
    visitParamExtractString(line, 'experiment_name')                       AS experiment_name,
    visitParamExtractString(line, 'experiment_variant')                    AS experiment_variant,
    visitParamExtractRaw(line, 'metadata')                                 AS metadata,
    if(visitParamExtractRaw(line, 'sample_rate') IN ('', 'null'), 1, visitParamExtractFloat(line, 'sample_rate')) AS sample_rate,
    visitParamExtractFloat(line, 'score')                                  AS score,
    if(visitParamExtractRaw(line, 'initial_buffer_time') = 'null', NULL, visitParamExtractFloat(line, 'initial_buffer_time')) AS initial_buffer_time,
    toUInt32(visitParamExtractUInt(line, 'rebuffer_count'))                AS rebuffer_count,
    visitParamExtractFloat(line, 'rebuffer_duration')                      AS rebuffer_duration,
    toUInt32(visitParamExtractUInt(line, 'quality_switches'))              AS quality_switches,
    visitParamExtractUInt(line, 'average_bitrate')                         AS average_bitrate,
    visitParamExtractBool(line, 'started')                                 AS started,
    visitParamExtractBool(line, 'playback_failed')                         AS playback_failed,
    visitParamExtractBool(line, 'exit_before_video_start')                 AS exit_before_video_start,
    toUInt32(visitParamExtractUInt(line, 'seek_count'))                    AS seek_count,
    if(visitParamExtractRaw(line, 'average_seek_latency') = 'null', NULL, visitParamExtractFloat(line, 'average_seek_latency')) AS average_seek_latency,
    visitParamExtractFloat(line, 'playing_time')                           AS playing_time,
    visitParamExtractFloat(line, 'watch_time')                             AS watch_time,
    visitParamExtractFloat(line, 'view_time')                              AS view_time,
    visitParamExtractFloat(line, 'rebuffer_ratio')                         AS rebuffer_ratio,
    visitParamExtractFloat(line, 'rebuffer_frequency')                     AS rebuffer_frequency,
    toUInt32(visitParamExtractUInt(line, 'upshifts'))                      AS upshifts,
    toUInt32(visitParamExtractUInt(line, 'downshifts'))                    AS downshifts,
    toUInt32(visitParamExtractUInt(line, 'error_count'))                   AS error_count,
    if(visitParamExtractRaw(line, 'startup_score') = 'null', NULL, visitParamExtractFloat(line, 'startup_score')) AS startup_score,
    if(visitParamExtractRaw(line, 'smoothness_score') = 'null', NULL, visitParamExtractFloat(line, 'smoothness_score')) AS smoothness_score,
    visitParamExtractFloat(line, 'playback_success_score')                 AS playback_success_score
FROM kino.beacons
WHERE visitParamExtractString(line, 'event') = 'qoe';

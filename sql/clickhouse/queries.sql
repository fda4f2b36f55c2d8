-- Example queries over the kino schema. They run unchanged on schema.sql
-- (current ClickHouse) and schema-18.16.sql. Each starts with a
-- `-- name:` line; tests/py/clickhouse_schema.py and tests/clickhouse_server.rs
-- run every one of them against the scripted sessions.
--
-- kino.qoe has one row per view (its `qoe` record); FINAL drops the copies a
-- retried batch may have left before a merge. A view counts 1/sample_rate
-- views when the session was sampled (issue 9).

-- name: qoe_by_experiment_variant
-- A/B: did variant b cut rebuffering? One row per experiment and variant.
SELECT
    experiment_name,
    experiment_variant,
    count()                                   AS views,
    round(sum(1 / sample_rate))               AS estimated_views,
    avg(score)                                AS mean_score,
    avg(initial_buffer_time)                  AS mean_startup_s,
    sum(rebuffer_count)                       AS stalls,
    sum(rebuffer_duration)                    AS stall_s,
    if(sum(watch_time) > 0, sum(rebuffer_duration) / sum(watch_time), 0) AS rebuffer_ratio,
    countIf(playback_failed = 1) / count()    AS failure_rate
FROM kino.qoe FINAL
WHERE timestamp >= now() - INTERVAL 7 DAY
GROUP BY experiment_name, experiment_variant
ORDER BY experiment_name, experiment_variant;

-- name: qoe_by_video_cdn
-- Is one CDN slower to start or stall more?
SELECT
    video_cdn,
    count()                                   AS views,
    avg(initial_buffer_time)                  AS mean_startup_s,
    avg(score)                                AS mean_score,
    sum(rebuffer_count)                       AS stalls,
    if(sum(watch_time) > 0, sum(rebuffer_duration) / sum(watch_time), 0) AS rebuffer_ratio
FROM kino.qoe FINAL
WHERE timestamp >= now() - INTERVAL 7 DAY
GROUP BY video_cdn
ORDER BY video_cdn;

-- name: qoe_by_player_version
-- Which player build broke playback? Failures and exits before start too.
SELECT
    player_version,
    count()                                   AS views,
    avg(score)                                AS mean_score,
    sum(rebuffer_count)                       AS stalls,
    if(sum(watch_time) > 0, sum(rebuffer_duration) / sum(watch_time), 0) AS rebuffer_ratio,
    countIf(playback_failed = 1)              AS failed_views,
    countIf(exit_before_video_start = 1)      AS exits_before_start,
    sum(error_count)                          AS errors
FROM kino.qoe FINAL
WHERE timestamp >= now() - INTERVAL 7 DAY
GROUP BY player_version
ORDER BY player_version;

-- name: rebuffer_ratio_by_hour
-- Rebuffer ratio over time: stall time over watch time, per hour.
SELECT
    toStartOfHour(timestamp)                  AS hour,
    count()                                   AS views,
    sum(rebuffer_count)                       AS stalls,
    sum(rebuffer_duration)                    AS stall_s,
    sum(watch_time)                           AS watch_s,
    if(sum(watch_time) > 0, sum(rebuffer_duration) / sum(watch_time), 0) AS rebuffer_ratio
FROM kino.qoe FINAL
WHERE timestamp >= now() - INTERVAL 2 DAY
GROUP BY hour
ORDER BY hour;

-- name: sequence_gaps
-- Records that never arrived, per session: numbers missing between the
-- lowest and highest sequence received (a QUEUE_FULL call uses up its
-- number; a dropped view-closing call, two). Gaps before the first or after
-- the last record received are not visible here. Sessions without gaps are
-- left out.
SELECT
    session_id,
    min(sequence)                             AS first_sequence,
    max(sequence)                             AS last_sequence,
    uniqExact(sequence)                       AS received,
    max(sequence) - min(sequence) + 1 - uniqExact(sequence) AS missing
FROM kino.records
WHERE timestamp >= now() - INTERVAL 7 DAY
GROUP BY session_id
HAVING missing > 0
ORDER BY missing DESC, session_id;

-- name: events_per_type
-- What arrived, by event (distinct records, so retried copies count once).
SELECT
    event,
    uniqExact(id)                             AS records
FROM kino.records
WHERE timestamp >= now() - INTERVAL 7 DAY
GROUP BY event
ORDER BY event;

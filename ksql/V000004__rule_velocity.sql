-- Rule velocity: at least velocity_min_count transactions of one account in a 1-minute
-- tumbling window (the default count is in ksql-defines.properties).
--
-- ksqlDB cannot INSERT INTO a stream from a table, so the window rules take three steps: a
-- windowed table counts per account (its changelog topic carries every window update), a
-- keyless stream reads that topic back, and an INSERT INTO with the threshold feeds
-- fraud_alerts. A window that keeps growing updates the same alert (same RULE_ID, ACCOUNT_ID,
-- WINDOW_START).
--
-- The threshold sits in the INSERT, so a change leaves the windows' counts alone:
-- `streamguard rules change velocity --define velocity_min_count=N` writes a migration with a
-- cut-over C on a minute boundary. A window is judged by the count in force at its start:
-- windows starting before C by the old count (a copy of the INSERT bounded by
-- window_start < C), the others by the new one (window_start >= C). C on a window boundary
-- means no window straddles it. Both copies read the window updates from the start, so no
-- update is missed; re-read ones upsert the same row. Then it TERMINATEs RULE_VELOCITY. Apply
-- it before C.

CREATE TABLE velocity_windows
  WITH (KAFKA_TOPIC = 'streamguard_velocity_windows', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON')
  AS SELECT
    account_id,
    AS_VALUE(account_id)        AS alert_account_id,
    COUNT(*)                    AS txn_count,
    SUM(amount)                 AS total_amount,
    LATEST_BY_OFFSET(card_id)   AS card_id,
    LATEST_BY_OFFSET(merchant_id) AS merchant_id,
    LATEST_BY_OFFSET(country)   AS country,
    MAX(event_time)             AS event_time,
    WINDOWSTART                 AS window_start,
    WINDOWEND                   AS window_end
  FROM transactions
  WINDOW TUMBLING (SIZE 1 MINUTE)
  GROUP BY account_id
  EMIT CHANGES;

CREATE STREAM velocity_window_changes (
  alert_account_id VARCHAR,
  txn_count        BIGINT,
  total_amount     DECIMAL(12, 2),
  card_id          VARCHAR,
  merchant_id      VARCHAR,
  country          VARCHAR,
  event_time       BIGINT,
  window_start     BIGINT,
  window_end       BIGINT
) WITH (KAFKA_TOPIC = 'streamguard_velocity_windows', VALUE_FORMAT = 'JSON');

INSERT INTO fraud_alerts WITH (QUERY_ID = 'RULE_VELOCITY')
  SELECT
    alert_account_id                AS account_key,
    'velocity'                      AS rule_id,
    'MEDIUM'                        AS severity,
    AS_VALUE(alert_account_id)      AS account_id,
    CAST(NULL AS VARCHAR)           AS transaction_id,
    card_id                         AS card_id,
    CAST(NULL AS DECIMAL(12, 2))    AS amount,
    txn_count                       AS txn_count,
    total_amount                    AS total_amount,
    CAST(NULL AS BIGINT)            AS country_count,
    window_start                    AS window_start,
    window_end                      AS window_end,
    merchant_id                     AS merchant_id,
    country                         AS country,
    event_time                      AS event_time,
    'too many transactions in 1 minute' AS reason
  FROM velocity_window_changes
  WHERE txn_count >= ${velocity_min_count}
  PARTITION BY alert_account_id
  EMIT CHANGES;

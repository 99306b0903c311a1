-- Rule amount_velocity: one account's amounts adding up past amount_velocity_total in a
-- 5-minute tumbling window (the table-changelog-stream pattern of the velocity rule).

CREATE TABLE amount_velocity_windows
  WITH (KAFKA_TOPIC = 'streamguard_amount_velocity_windows', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON')
  AS SELECT
    account_id,
    AS_VALUE(account_id)          AS alert_account_id,
    COUNT(*)                      AS txn_count,
    SUM(amount)                   AS total_amount,
    LATEST_BY_OFFSET(card_id)     AS card_id,
    LATEST_BY_OFFSET(merchant_id) AS merchant_id,
    LATEST_BY_OFFSET(country)     AS country,
    MAX(event_time)               AS event_time,
    WINDOWSTART                   AS window_start,
    WINDOWEND                     AS window_end
  FROM transactions
  WINDOW TUMBLING (SIZE 5 MINUTES)
  GROUP BY account_id
  EMIT CHANGES;

CREATE STREAM amount_velocity_window_changes (
  alert_account_id VARCHAR,
  txn_count        BIGINT,
  total_amount     DECIMAL(12, 2),
  card_id          VARCHAR,
  merchant_id      VARCHAR,
  country          VARCHAR,
  event_time       BIGINT,
  window_start     BIGINT,
  window_end       BIGINT
) WITH (KAFKA_TOPIC = 'streamguard_amount_velocity_windows', VALUE_FORMAT = 'JSON');

INSERT INTO fraud_alerts WITH (QUERY_ID = 'RULE_AMOUNT_VELOCITY')
  SELECT
    alert_account_id                AS account_key,
    'amount_velocity'               AS rule_id,
    'HIGH'                          AS severity,
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
    'amounts in 5 minutes add up past the total' AS reason
  FROM amount_velocity_window_changes
  WHERE total_amount > ${amount_velocity_total}
  PARTITION BY alert_account_id
  EMIT CHANGES;

-- Rule card_testing: card_testing_min_count or more small amounts (under
-- card_testing_max_amount) on one card within a 5-minute tumbling window (the
-- table-changelog-stream pattern of the velocity rule). The amount filter counts only small
-- amounts, so it sits in the table; changing it means a new table.

CREATE TABLE card_testing_windows
  WITH (KAFKA_TOPIC = 'streamguard_card_testing_windows', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON')
  AS SELECT
    card_id,
    AS_VALUE(card_id)             AS alert_card_id,
    LATEST_BY_OFFSET(account_id)  AS alert_account_id,
    COUNT(*)                      AS txn_count,
    SUM(amount)                   AS total_amount,
    LATEST_BY_OFFSET(merchant_id) AS merchant_id,
    LATEST_BY_OFFSET(country)     AS country,
    MAX(event_time)               AS event_time,
    WINDOWSTART                   AS window_start,
    WINDOWEND                     AS window_end
  FROM transactions
  WINDOW TUMBLING (SIZE 5 MINUTES)
  WHERE amount < ${card_testing_max_amount}
  GROUP BY card_id
  EMIT CHANGES;

CREATE STREAM card_testing_window_changes (
  alert_card_id    VARCHAR,
  alert_account_id VARCHAR,
  txn_count        BIGINT,
  total_amount     DECIMAL(12, 2),
  merchant_id      VARCHAR,
  country          VARCHAR,
  event_time       BIGINT,
  window_start     BIGINT,
  window_end       BIGINT
) WITH (KAFKA_TOPIC = 'streamguard_card_testing_windows', VALUE_FORMAT = 'JSON');

INSERT INTO fraud_alerts WITH (QUERY_ID = 'RULE_CARD_TESTING')
  SELECT
    alert_account_id                AS account_key,
    'card_testing'                  AS rule_id,
    'HIGH'                          AS severity,
    AS_VALUE(alert_account_id)      AS account_id,
    CAST(NULL AS VARCHAR)           AS transaction_id,
    alert_card_id                   AS card_id,
    CAST(NULL AS DECIMAL(12, 2))    AS amount,
    txn_count                       AS txn_count,
    total_amount                    AS total_amount,
    CAST(NULL AS BIGINT)            AS country_count,
    window_start                    AS window_start,
    window_end                      AS window_end,
    merchant_id                     AS merchant_id,
    country                         AS country,
    event_time                      AS event_time,
    'small amounts in a row on one card' AS reason
  FROM card_testing_window_changes
  WHERE txn_count >= ${card_testing_min_count}
  PARTITION BY alert_account_id
  EMIT CHANGES;

-- The one stream every rule inserts into, with one schema. Keyed by the account (ACCOUNT_KEY)
-- so an account's alerts stay in order on one partition; ACCOUNT_ID repeats it in the value,
-- which is all the consumer reads. Per-transaction rules leave the window columns null, window
-- rules leave TRANSACTION_ID null: an alert's identity is RULE_ID + TRANSACTION_ID or
-- RULE_ID + ACCOUNT_ID + WINDOW_START (epoch ms).

CREATE STREAM fraud_alerts (
  account_key      VARCHAR KEY,
  rule_id          VARCHAR,
  severity         VARCHAR,
  account_id       VARCHAR,
  transaction_id   VARCHAR,
  card_id          VARCHAR,
  amount           DECIMAL(12, 2),
  txn_count        BIGINT,
  total_amount     DECIMAL(12, 2),
  country_count    BIGINT,
  window_start     BIGINT,
  window_end       BIGINT,
  merchant_id      VARCHAR,
  country          VARCHAR,
  event_time       BIGINT,
  reason           VARCHAR
) WITH (
  KAFKA_TOPIC = 'fraud_alerts',
  KEY_FORMAT = 'KAFKA',
  VALUE_FORMAT = 'JSON',
  PARTITIONS = ${fraud_alerts_partitions}
);

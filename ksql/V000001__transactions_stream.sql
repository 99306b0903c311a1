-- The card transactions the producer writes: keyed by account, timed by the card event itself.
-- transactions_partitions only matters when the topic does not exist yet; it must match an
-- existing topic's partition count (ksql-defines.properties, or --define transactions_partitions=N).

CREATE STREAM transactions (
  account_id        VARCHAR KEY,
  transaction_id    VARCHAR,
  card_id           VARCHAR,
  amount            DECIMAL(12, 2),
  currency          VARCHAR,
  merchant_id       VARCHAR,
  merchant_name     VARCHAR,
  merchant_category VARCHAR,
  country           VARCHAR,
  city              VARCHAR,
  latitude          DOUBLE,
  longitude         DOUBLE,
  channel           VARCHAR,
  event_time        BIGINT
) WITH (
  KAFKA_TOPIC = 'transactions',
  KEY_FORMAT = 'KAFKA',
  VALUE_FORMAT = 'JSON',
  TIMESTAMP = 'event_time',
  PARTITIONS = ${transactions_partitions}
);

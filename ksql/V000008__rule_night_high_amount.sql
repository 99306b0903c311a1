-- Rule night_high_amount: a transaction above night_min_amount between night_start_hour and
-- night_end_hour (UTC; event_time is epoch milliseconds, so the time of day is its remainder
-- modulo one day).

INSERT INTO fraud_alerts WITH (QUERY_ID = 'RULE_NIGHT_HIGH_AMOUNT')
  SELECT
    account_id                                  AS account_key,
    'night_high_amount'                         AS rule_id,
    'MEDIUM'                                    AS severity,
    AS_VALUE(account_id)                        AS account_id,
    transaction_id                              AS transaction_id,
    card_id                                     AS card_id,
    amount                                      AS amount,
    CAST(NULL AS BIGINT)                        AS txn_count,
    CAST(NULL AS DECIMAL(12, 2))                AS total_amount,
    CAST(NULL AS BIGINT)                        AS country_count,
    CAST(NULL AS BIGINT)                        AS window_start,
    CAST(NULL AS BIGINT)                        AS window_end,
    merchant_id                                 AS merchant_id,
    country                                     AS country,
    event_time                                  AS event_time,
    'large amount in the small hours (UTC)'     AS reason
  FROM transactions
  WHERE amount > ${night_min_amount}
    AND (event_time % 86400000) >= ${night_start_hour} * 3600000
    AND (event_time % 86400000) < ${night_end_hour} * 3600000
  EMIT CHANGES;

-- Rule high_amount: a single transaction above high_amount_threshold. To change the threshold
-- once this file is applied, add a migration: `TERMINATE RULE_HIGH_AMOUNT;` and the INSERT
-- again with the new number (an applied file must not be edited: `validate` would name it).

INSERT INTO fraud_alerts WITH (QUERY_ID = 'RULE_HIGH_AMOUNT')
  SELECT
    account_id                                  AS account_key,
    'high_amount'                               AS rule_id,
    'HIGH'                                      AS severity,
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
    'one amount above the threshold'    AS reason
  FROM transactions
  WHERE amount > ${high_amount_threshold}
  EMIT CHANGES;

-- Rule high_amount: a single transaction above high_amount_threshold (its default is in
-- ksql-defines.properties; --define replaces it when this file is applied).
--
-- To change the threshold once this file is applied, do not edit it (`validate` would name it)
-- and do not TERMINATE the query and start it again: a terminated query's consumer group is
-- deleted, so the new one starts from auto.offset.reset and misses or re-judges transactions.
-- Run `streamguard rules change high_amount --define high_amount_threshold=N`: it writes a
-- migration with a cut-over C a minute or so ahead, by event_time. Transactions before C are
-- judged by the old threshold (a copy of this query bounded by event_time < C), the others by
-- the new one (event_time >= C); both read from the start of the topic, so nothing is missed
-- whatever they re-read, and what this query wrote is written again identically (PostgreSQL
-- keeps one row per rule_id + transaction_id). Then it TERMINATEs RULE_HIGH_AMOUNT. Apply it
-- before C: `migrate apply` refuses after.

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

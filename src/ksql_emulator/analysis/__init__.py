"""Names, types and ksqlDB's typing rules for statements and expressions."""

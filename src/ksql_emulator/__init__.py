"""A ksqlDB-compatible engine and REST server, for machines without a ksqlDB server."""

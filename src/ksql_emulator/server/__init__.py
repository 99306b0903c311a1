"""ksqlDB's REST API over the engine; a route module per endpoint (imports nothing eagerly)."""

"""One module per REST endpoint of ksqlDB."""

"""The composition root: the `ksql-emulator` command and the wiring of one emulator (Kafka
gateway, the ksqlDB backend, command topic replay, query runner, REST state)."""

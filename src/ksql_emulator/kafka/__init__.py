"""Real Kafka for the emulator: topics, the command topic, feeding queries, writing sinks."""

"""What the emulator's parts agree on, importable from every layer: the record on a topic
(`message`), the backend the REST server and the Kafka layer drive (`backend`), what the server
needs from the Kafka layer (`hosting`) and Kafka's key partitioning (`partitioner`)."""

"""Tests of the emulator's REST server and Kafka layer."""

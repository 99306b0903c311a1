"""Operators over records, state stores and the topology that chains them."""

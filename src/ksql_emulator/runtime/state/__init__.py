"""State stores for stateful operators."""

"""Logical plans: the steps a persistent query runs, built from an analysis."""

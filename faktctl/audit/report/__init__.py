"""Audit reports: pure functions from findings to text, and the exit-code policy."""

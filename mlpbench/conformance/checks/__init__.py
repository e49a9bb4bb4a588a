"""Conformance checks: one module per capability area, run by `engine`."""

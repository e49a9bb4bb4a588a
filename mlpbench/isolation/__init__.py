"""Isolation: the implementation under test runs in a worker process that the gate supervises."""

"""Subcommands of the mlpbench command line."""

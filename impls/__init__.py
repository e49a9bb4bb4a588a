"""Implementations under test: the adapter interface, the registry, the PyTorch implementation and mutants."""

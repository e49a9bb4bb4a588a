"""mlpbench: a conformance and benchmark suite for multilayer-perceptron implementations."""

__version__ = "0.1.0"

"""The oracle: a pure-NumPy multilayer perceptron, float64 by default, readable as a textbook.

Nothing under this package imports PyTorch. All randomness comes from an explicit `numpy.random.Generator`.
"""

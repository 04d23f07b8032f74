"""What the test suite and the benchmarks share, needing NumPy alone beyond
what `import spatial_ops` needs (the GPU machines have no TensorFlow): the activation
catalogue every test and benchmark runs (activation_catalogue.py) and the
pass criteria, with the per-dtype tolerances stated once (criteria.py)."""

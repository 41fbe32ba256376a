"""voxref benchmarks (not part of the installed package)."""

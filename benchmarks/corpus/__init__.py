"""Synthetic and real speech corpora for voxref benchmarks and tests."""

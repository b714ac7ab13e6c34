"""Benchmarks: a load generator and a side-by-side run against ngircd (see README.md)."""

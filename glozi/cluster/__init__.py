"""Cluster mode: several servers sharing their sessions through PostgreSQL (the record) and Redis (the stream)."""

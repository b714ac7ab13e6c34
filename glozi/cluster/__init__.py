"""Cluster mode (issue 15): several servers sharing sessions through PostgreSQL (the record) and Redis (the wire)."""

"""Use cases: one module per area, each function one thing a caller can ask of the service."""

"""Where sessions and messages are kept: the store contract, its engines, and password hashes."""

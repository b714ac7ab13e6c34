"""How a session's events reach its members: the fan-out contract and its engines."""

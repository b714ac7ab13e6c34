"""Where messages enter and leave: one door per wire protocol, and what the doors share."""

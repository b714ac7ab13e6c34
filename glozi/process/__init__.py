"""The chat server as a twistd process: its services, its memory housekeeping."""

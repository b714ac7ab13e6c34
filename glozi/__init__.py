"""GloziChat: a LAN chat-room server and desktop client built on Twisted."""

__version__ = "0.1.0"
DESCRIPTION = "GloziChat LAN chat server"
"""The server's one-line description unless ``--description`` gives another (IRC LINKS and INFO, the native welcome)."""

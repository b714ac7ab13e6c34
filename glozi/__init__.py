"""GloziChat: a LAN chat-room server and desktop client built on Twisted."""

__version__ = "0.1.0"

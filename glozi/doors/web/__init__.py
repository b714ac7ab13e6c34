"""The web door: the page over HTTP and the native protocol over a WebSocket (docs/web.md)."""

"""The rules of the chat: sessions, members, commands and the events they produce; no sockets."""

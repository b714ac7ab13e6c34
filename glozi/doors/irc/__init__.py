"""The IRC door: any IRC client joins the same sessions as native clients (docs/irc.md)."""

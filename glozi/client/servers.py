"""Finding GloziChat servers for the client: the one seam to discovery."""

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorCore

from glozi.client.viewmodel import ServerAddress


def find_servers(reactor: IReactorCore) -> "Deferred[list[ServerAddress]]":
    """Look for servers on the local network; fires with those that answered.

    Discovery (``glozi.discovery``) is built on another branch; until it is
    merged this finds nothing, so the client shows its "no server found"
    screen where the user types a host and port (or starts it with --host).
    """
    return succeed([])

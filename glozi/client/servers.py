"""Finding GloziChat servers for the client: the one seam to ``glozi.discovery``."""

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from glozi.client.state import ServerAddress
from glozi.discovery.client import FoundServer, NoServerFound, discover


def find_servers(
    reactor: Any, *, search: Callable[..., "Deferred[list[FoundServer]]"] = discover, **options: Any
) -> "Deferred[list[ServerAddress]]":
    """Look for servers on the local network; fires with those that answered.

    Runs ``glozi.discovery.client.discover`` on the reactor (``options`` go
    to it, e.g. ``targets``) and fires with an empty list when nothing
    answered; other failures pass through. Cancelling stops the search.
    """

    def addresses(found: list[FoundServer]) -> list[ServerAddress]:
        return [ServerAddress(server.host, server.port, server.name, server.tls) for server in found]

    def none_found(reason: Failure) -> list[ServerAddress]:
        reason.trap(NoServerFound)
        return []

    return search(reactor, **options).addCallbacks(addresses, none_found)

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
    The nodes of one cluster come as one server (``servers_of``).
    """

    def none_found(reason: Failure) -> list[ServerAddress]:
        reason.trap(NoServerFound)
        return []

    return search(reactor, **options).addCallbacks(servers_of, none_found)


def servers_of(found: list[FoundServer]) -> list[ServerAddress]:
    """One address per server, in the order they answered: the nodes of a
    cluster (answers that name each other, directly or through another node)
    are one server, reached at its node that answered first, with the others
    as its ``nodes`` (those heard first, at the address they answered with).

    The nodes share their sessions and people, so a row per node would show
    the same server several times; the first to answer is usually the nearest.
    """
    groups: list[tuple[list[int], set[tuple[str, int]]]] = []
    for index, server in enumerate(found):
        named = {(server.host, server.port), *((node.host, node.port) for node in server.nodes)}
        touching = [group for group in groups if group[1] & named]
        members = sorted([index, *(member for group in touching for member in group[0])])
        groups = [group for group in groups if not any(group is other for other in touching)]
        groups.append((members, named.union(*(group[1] for group in touching))))
    groups.sort(key=lambda group: group[0][0])
    return [_one_server([found[member] for member in members]) for members, _ in groups]


def _one_server(answers: list[FoundServer]) -> ServerAddress:
    first = answers[0]
    nodes = [ServerAddress(answer.host, answer.port, answer.name, answer.tls) for answer in answers[1:]]
    seen = {(answer.host, answer.port) for answer in answers}
    for answer in answers:
        for node in answer.nodes:
            if (node.host, node.port) not in seen:
                seen.add((node.host, node.port))
                nodes.append(ServerAddress(node.host, node.port, node.name, node.tls))
    return ServerAddress(first.host, first.port, first.name, first.tls, nodes=tuple(nodes))

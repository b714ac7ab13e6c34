"""Links in chat text: where they are (a pure function) and opening one with the desktop's browser.

A link starts with ``http://``, ``https://`` or ``www.`` (any case) at the start of a
word and runs to the next space. As in chat apps, punctuation that ends the
sentence (``.``, ``,``, ``!``, ``?``, quotes...) is not part of it, and neither is a
closing bracket the link did not open: in "(see https://example.org/a_(b))" the
link is ``https://example.org/a_(b)``.
"""

import os
import re
import shutil
from dataclasses import dataclass

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone
from twisted.internet.interfaces import IReactorProcess
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

_CANDIDATE = re.compile(r"(?<!\w)(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\"*_~"
_BRACKETS = {")": "(", "]": "[", "}": "{"}
_WWW = re.compile(r"www\.", re.IGNORECASE)
BROWSER_OPENER = "xdg-open"
"""The freedesktop command that opens a URL in the user's preferred browser (Debian: xdg-utils)."""


@dataclass(frozen=True)
class Link:
    """A link in a text: ``text[start:end]``, opened at ``url``."""

    start: int
    end: int
    url: str


def link_url(written: str) -> str:
    """The address to open for a link written as ``written``: a ``www.`` link gets ``http://``
    (the browser moves on to https where the site does)."""
    return f"http://{written}" if _WWW.match(written) else written


def _trimmed(candidate: str) -> str:
    while candidate:
        last = candidate[-1]
        unopened = last in _BRACKETS and candidate.count(last) > candidate.count(_BRACKETS[last])
        if last not in _TRAILING and not unopened:
            break
        candidate = candidate[:-1]
    return candidate


def find_links(text: str) -> list[Link]:
    """The links in ``text``, in order; a bare ``https://`` or ``www.`` with nothing after it is none."""
    links = []
    for match in _CANDIDATE.finditer(text):
        written = _trimmed(match.group())
        prefix = re.match(r"(?:https?://|www\.)", written, re.IGNORECASE)
        if prefix is None or len(written) == prefix.end():
            continue
        links.append(Link(match.start(), match.start() + len(written), link_url(written)))
    return links


class LinkNotOpened(Exception):
    """The browser could not be started; the message says why, for the user."""


class _Opening(ProcessProtocol):
    """Waits for ``xdg-open`` to exit: it hands the URL over and ends, the browser lives on.

    ``processExited`` rather than ``processEnded``: a browser started by it may
    keep its output pipes open long after it exited.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.done: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.transport.closeStdin()

    def processExited(self, reason: Failure) -> None:
        if reason.check(ProcessDone):
            self.done.callback(None)
        else:
            code = getattr(reason.value, "exitCode", None)
            self.done.errback(
                LinkNotOpened(f"Could not open {self.url}: {BROWSER_OPENER} failed (exit code {code}).")
            )


def open_in_browser(reactor: IReactorProcess, url: str) -> "Deferred[None]":
    """Start ``xdg-open url`` (no shell, never waiting): the Deferred fires once it exited, or fails
    with ``LinkNotOpened`` when it is missing or says it could not open the link."""
    program = shutil.which(BROWSER_OPENER)
    if program is None:
        failed: Deferred[None] = Deferred()
        failed.errback(LinkNotOpened(f"Could not open {url}: {BROWSER_OPENER} is not installed (xdg-utils)."))
        return failed
    opening = _Opening(url)
    try:
        reactor.spawnProcess(opening, program, [program, url], env=dict(os.environ))
    except OSError as error:
        opening.done.errback(LinkNotOpened(f"Could not open {url}: {error.strerror}."))
    return opening.done

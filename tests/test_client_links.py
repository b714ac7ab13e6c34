"""Links in chat text (``glozi.client.links``): which characters are the link, and opening one."""

import os
import stat
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from glozi.client.links import Link, LinkNotOpened, find_links, link_url, open_in_browser


def written(text: str) -> list[str]:
    """The links of ``text`` as they are written in it."""
    return [text[link.start : link.end] for link in find_links(text)]


class FindLinksTests(TestCase):
    def test_http_https_and_www_links_are_found_with_their_offsets(self) -> None:
        """Each of the three beginnings makes a link; www. opens as http://."""
        text = "see http://a.example/x and https://b.example, or www.c.example"
        self.assertEqual(
            find_links(text),
            [
                Link(4, 22, "http://a.example/x"),
                Link(27, 44, "https://b.example"),
                Link(49, 62, "http://www.c.example"),
            ],
        )

    def test_trailing_punctuation_is_not_part_of_the_link(self) -> None:
        """A full stop, comma, question or exclamation mark, colon or quote ending a sentence stays out."""
        for end in (".", ",", "!", "?", ":", ";", "'", '"', "...", "?!"):
            with self.subTest(end=end):
                self.assertEqual(
                    written(f"go to https://example.org/page{end}"), ["https://example.org/page"]
                )

    def test_punctuation_inside_the_link_is_kept(self) -> None:
        """Dots, queries and fragments inside a link are part of it."""
        url = "https://example.org/a.b/c?d=1&e=2,3#f.g"
        self.assertEqual(written(f"{url} is it"), [url])

    def test_a_closing_bracket_the_link_did_not_open_is_not_part_of_it(self) -> None:
        """(see https://x) keeps the bracket out; a Wikipedia-style (b) inside the link stays in."""
        self.assertEqual(written("(see https://example.org/a)"), ["https://example.org/a"])
        self.assertEqual(written("(see https://example.org/a_(b))."), ["https://example.org/a_(b)"])
        self.assertEqual(written("[www.example.org]"), ["www.example.org"])
        self.assertEqual(written("{https://example.org/}"), ["https://example.org/"])

    def test_a_bare_beginning_or_a_beginning_inside_a_word_is_no_link(self) -> None:
        """ "https://" and "www." alone, and "xhttp://..." (not at a word's start) are not links."""
        self.assertEqual(find_links("https:// and www. and http://."), [])
        self.assertEqual(find_links("xhttp://example.org notawww.example.org"), [])

    def test_case_is_ignored_and_angle_brackets_and_quotes_end_a_link(self) -> None:
        """HTTPS:// and WWW. work; <...> and "..." around a link stay out of it."""
        self.assertEqual(
            written('<HTTPS://Example.org/A> "WWW.example.org"'), ["HTTPS://Example.org/A", "WWW.example.org"]
        )
        self.assertEqual(link_url("WWW.example.org"), "http://WWW.example.org")
        self.assertEqual(link_url("https://www.example.org"), "https://www.example.org")

    def test_text_without_links_has_none(self) -> None:
        self.assertEqual(find_links("no links here, not even example.org"), [])


class FakeProcessReactor:
    """Records ``spawnProcess`` calls instead of starting anything."""

    def __init__(self) -> None:
        self.spawned: list[tuple[Any, str, list[str], dict[str, str] | None]] = []

    def spawnProcess(self, protocol: Any, executable: str, args: Any, env: Any = None, **kwargs: Any) -> None:
        self.spawned.append((protocol, executable, list(args), env))


class OpenInBrowserTests(TestCase):
    def fake_xdg_open(self, script: str) -> str:
        """A folder holding an ``xdg-open`` shell script, put alone on PATH for this test."""
        folder = self.mktemp()
        os.makedirs(folder)
        program = os.path.join(folder, "xdg-open")
        with open(program, "w") as stream:
            stream.write(f"#!/bin/sh\n{script}\n")
        os.chmod(program, stat.S_IRWXU)
        self.use_path(folder)
        return program

    def use_path(self, folder: str) -> None:
        previous = os.environ["PATH"]
        os.environ["PATH"] = folder
        self.addCleanup(os.environ.__setitem__, "PATH", previous)

    def test_xdg_open_is_started_with_the_url_as_its_one_argument(self) -> None:
        """No shell: the program and the URL, as two arguments; it succeeds when xdg-open exits 0."""
        program = self.fake_xdg_open("exit 0")
        fake = FakeProcessReactor()
        done = open_in_browser(fake, "https://example.org/?a=1;b=$(x)")  # type: ignore[arg-type]
        [(protocol, executable, args, env)] = fake.spawned
        self.assertEqual((executable, args), (program, [program, "https://example.org/?a=1;b=$(x)"]))
        self.assertEqual(
            env["PATH"], os.environ["PATH"], "the desktop's environment (DISPLAY, D-Bus) is passed on"
        )
        self.assertNoResult(done)
        protocol.processExited(Failure(ProcessDone(0)))
        self.assertIsNone(self.successResultOf(done))

    def test_xdg_open_failing_says_which_link_and_the_exit_code(self) -> None:
        """xdg-open exiting 4 ("the action failed") fails with a message for the user."""
        self.fake_xdg_open("exit 4")
        fake = FakeProcessReactor()
        done = open_in_browser(fake, "https://example.org/")  # type: ignore[arg-type]
        fake.spawned[0][0].processExited(Failure(ProcessTerminated(exitCode=4)))
        self.assertEqual(
            str(self.failureResultOf(done, LinkNotOpened).value),
            "Could not open https://example.org/: xdg-open failed (exit code 4).",
        )

    def test_a_missing_xdg_open_says_so_and_starts_nothing(self) -> None:
        """Without xdg-open on PATH the result fails at once, naming the package to install."""
        empty = self.mktemp()
        os.makedirs(empty)
        self.use_path(empty)
        fake = FakeProcessReactor()
        done = open_in_browser(fake, "https://example.org/")  # type: ignore[arg-type]
        self.assertEqual(fake.spawned, [])
        self.assertEqual(
            str(self.failureResultOf(done, LinkNotOpened).value),
            "Could not open https://example.org/: xdg-open is not installed (xdg-utils).",
        )

    @inlineCallbacks
    def test_a_real_xdg_open_gets_the_url_untouched(self) -> Any:
        """Started for real (a script standing in for xdg-open), it receives the URL byte for byte."""
        received = os.path.abspath(self.mktemp())
        self.fake_xdg_open(f'printf %s "$1" > {received}')
        url = "https://example.org/a b?c=$(id)&d=`x`;e"
        yield open_in_browser(reactor, url)  # type: ignore[arg-type]
        with open(received) as stream:
            self.assertEqual(stream.read(), url)

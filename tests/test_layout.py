"""The layout of glozi/ (docs/architecture.md): no import circles, and each folder
imports only what its layer may.

Every module is parsed with ``ast``, so an import counts wherever it stands: at
the top, inside a function, or under ``if TYPE_CHECKING:`` (a circle only a type
checker follows is still a circle; the shared type belongs in the lower module).
"""

import ast
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from twisted.trial import unittest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "glozi"


@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to the module it loads."""

    source: str
    target: str
    where: str

    def __str__(self) -> str:
        return f"{self.where}: {self.source} imports {self.target}"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def glozi_modules() -> dict[str, Path]:
    """Every module under glozi/, by dotted name."""
    return {module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def shown(path: Path) -> str:
    """A module's path as a reader finds it: from the checkout's root when it is in glozi/."""
    return str(path.relative_to(PACKAGE_ROOT.parent)) if path.is_relative_to(PACKAGE_ROOT) else str(path)


def _resolve(name: str, modules: dict[str, Path]) -> str:
    """The module an imported dotted name loads: itself, or the longest module it is inside."""
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    """Every module ``name`` imports, at any depth of its code; names outside glozi/ stay as written."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        where = f"{shown(path)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            # ``from package import module`` loads the module (and, through it, the package);
            # ``from module import name`` loads the module.
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] != "glozi":
                yield Import(name, target, where)
            elif (resolved := _resolve(target, modules)) in modules:
                yield Import(name, resolved, where)


@functools.cache
def all_imports() -> tuple[Import, ...]:
    """Every import of every module under glozi/, and each module's import of its own package."""
    modules = glozi_modules()
    found: list[Import] = []
    for name, path in modules.items():
        found.extend(imports_of(name, path, modules))
        # Importing glozi.a.b runs glozi/a/__init__.py first: a package is imported by its modules.
        parent = name.rsplit(".", 1)[0]
        if parent != name:
            found.append(Import(name, parent, f"{shown(path)} (its package)"))
    return tuple(found_import for found_import in found if found_import.source != found_import.target)


def find_circles(edges: Sequence[Import]) -> list[list[str]]:
    """Import circles as the modules along them (the first repeated at the end): at
    least one through every group of modules that import each other."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if edge.target.startswith("glozi."):
            graph.setdefault(edge.source, set()).add(edge.target)
    circles: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in path:
                circle = path[path.index(target):] + [target]
                if not any(set(circle) == set(known) for known in circles):
                    circles.append(circle)
            elif target not in done:
                visit(target, path + [target])
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    return circles


def breaking(
    sources: Callable[[str], bool], forbidden: Callable[[str], bool], edges: Sequence[Import] | None = None
) -> list[str]:
    """The imports from a module ``sources`` accepts of a module ``forbidden`` refuses, named."""
    return [str(edge) for edge in (all_imports() if edges is None else edges)
            if sources(edge.source) and forbidden(edge.target)]


def within(*prefixes: str) -> Callable[[str], bool]:
    """Whether a module is one of ``prefixes`` or inside one of them."""
    return lambda name: any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


class ImportCircleTests(unittest.TestCase):
    def test_no_module_imports_itself_through_others(self) -> None:
        """No import circle between modules under glozi/, counting imports in functions and TYPE_CHECKING."""
        circles = find_circles(all_imports())
        self.assertEqual([" -> ".join(circle) for circle in circles], [])

    def test_a_circle_is_named(self) -> None:
        """A circle is reported with the modules along it, so a failure says what to move."""
        edges = [
            Import("glozi.domain.chat", "glozi.domain.commands", "glozi/domain/chat.py:1"),
            Import("glozi.domain.commands", "glozi.domain.sessions", "glozi/domain/commands.py:1"),
            Import("glozi.domain.sessions", "glozi.domain.chat", "glozi/domain/sessions.py:1"),
        ]
        self.assertEqual(
            find_circles(edges),
            [["glozi.domain.chat", "glozi.domain.commands", "glozi.domain.sessions", "glozi.domain.chat"]],
        )

    def test_imports_inside_functions_and_type_checking_count(self) -> None:
        """The parser sees an import in a function body and under ``if TYPE_CHECKING:``."""
        source = self.mktemp()
        Path(source).write_text(
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from glozi.domain.events import Event\n"
            "def later():\n"
            "    from twisted.internet import reactor\n",
            encoding="utf-8",
        )
        targets = {edge.target for edge in imports_of("glozi.domain.example", Path(source), glozi_modules())}
        self.assertLessEqual({"glozi.domain.events", "twisted.internet.reactor"}, targets)


class LayerTests(unittest.TestCase):
    """Each folder's place: a message enters through a door, the rules live in the
    domain, it is kept by the store and leaves through the fan-out and the doors."""

    def test_domain_imports_no_door_engine_or_reactor(self) -> None:
        """The domain touches no socket: no door, client, discovery, cluster, twistd wiring,
        database engine, reactor, socket or Tk."""
        self.assertEqual(
            breaking(
                within("glozi.domain"),
                within(
                    "glozi.doors", "glozi.client", "glozi.discovery", "glozi.cluster", "glozi.process", "glozi.tap",
                    "glozi.storage.sqlitestore", "glozi.storage.pgstore", "glozi.storage.groupcommit",
                    "twisted.internet.reactor", "socket", "tkinter",
                ),
            ),
            [],
        )

    def test_doors_never_import_each_other(self) -> None:
        """The native and IRC doors meet only in the domain and the shared door modules."""
        doors = ("glozi.doors.native", "glozi.doors.irc")
        found = []
        for door in doors:
            others = tuple(other for other in doors if other != door)
            found += breaking(within(door), within(*others))
        shared = [name for name in glozi_modules() if name.count(".") == 2 and name.startswith("glozi.doors.")]
        found += breaking(lambda name: name in shared, within(*doors))
        self.assertEqual(found, [])

    def test_the_web_door_builds_on_the_native_door_only(self) -> None:
        """The web door is the native protocol over a WebSocket: it uses the native door, never
        the IRC door, and neither of them (nor a shared door module) imports it."""
        doors = ("glozi.doors.native", "glozi.doors.irc", "glozi.doors.web")
        found = breaking(within("glozi.doors.web"), within("glozi.doors.irc"))
        shared = [
            name for name in glozi_modules()
            if name.count(".") == 2 and name.startswith("glozi.doors.") and name not in doors
        ]  # fmt: skip
        found += breaking(within("glozi.doors.native", "glozi.doors.irc", *shared), within("glozi.doors.web"))
        self.assertEqual(found, [])

    def test_client_imports_no_door_protocol_and_no_server_side(self) -> None:
        """The desktop client shares only the native wire format, the name rules and
        the small limits with the server; never a door's protocol or the server's state."""
        allowed = within(
            "glozi.client", "glozi.doors.native.wire", "glozi.domain.names", "glozi.limits",
            "glozi.discovery.client", "glozi.discovery.nodes",
        )
        self.assertEqual(
            breaking(within("glozi.client"), lambda name: name.startswith("glozi.") and not allowed(name)),
            [],
        )

    def test_image_code_imports_nothing_of_glozi(self) -> None:
        """glozi/files/ (pictures, Pillow) is pure: it imports nothing of the server, so a thread may run it."""
        outside = lambda name: name.startswith("glozi.") and not within("glozi.files")(name)
        self.assertEqual(breaking(within("glozi.files"), outside), [])

    def test_storage_imports_nothing_outside_it(self) -> None:
        """The store is a leaf: a second engine (PostgreSQL) needs only glozi/storage/store.py."""
        self.assertEqual(
            breaking(within("glozi.storage"), lambda name: name.startswith("glozi.") and not within("glozi.storage")(name)),
            [],
        )

    def test_cluster_builds_only_on_the_domain_the_store_and_the_fanout(self) -> None:
        """The cluster (its record in PostgreSQL, the replica, the node) knows sessions, the store and the
        fan-out; never a door, the client, discovery or the twistd wiring. The store never imports it back."""
        self.assertEqual(
            breaking(
                within("glozi.cluster"),
                lambda name: name.startswith("glozi.")
                and not within("glozi.cluster", "glozi.domain", "glozi.storage", "glozi.fanout")(name),
            ),
            [],
        )

    def test_fanout_imports_only_the_domain(self) -> None:
        """A fan-out engine (local now, Redis later) knows sessions and events, not doors or the store."""
        self.assertEqual(
            breaking(
                within("glozi.fanout"),
                lambda name: name.startswith("glozi.") and not within("glozi.fanout", "glozi.domain")(name),
            ),
            [],
        )

    def test_limits_import_only_limits_and_the_error_type(self) -> None:
        """The limits are small objects on an injected clock: they raise the domain's one error type, nothing more."""
        self.assertEqual(
            breaking(
                within("glozi.limits"),
                lambda name: name.startswith("glozi.") and not within("glozi.limits", "glozi.domain.errors")(name),
            ),
            [],
        )

    def test_only_the_twistd_wiring_imports_the_process_services(self) -> None:
        """glozi/tap.py puts the process together; nothing under glozi/ imports it or its services back."""
        self.assertEqual(
            breaking(lambda name: not within("glozi.tap", "glozi.process")(name), within("glozi.tap", "glozi.process")),
            [],
        )

    def test_a_bad_import_is_named(self) -> None:
        """A layer test names the file, line and import that break it."""
        edges = [Import("glozi.domain.chat", "glozi.doors.irc.protocol", "glozi/domain/chat.py:7")]
        self.assertEqual(
            breaking(within("glozi.domain"), within("glozi.doors"), edges),
            ["glozi/domain/chat.py:7: glozi.domain.chat imports glozi.doors.irc.protocol"],
        )


class PackagingTests(unittest.TestCase):
    def test_every_folder_is_a_package(self) -> None:
        """Every folder under glozi/ holding Python has an __init__.py, so setup.py's find_packages ships it."""
        folders = {path.parent for path in PACKAGE_ROOT.rglob("*.py")}
        self.assertEqual(sorted(str(f) for f in folders if not (f / "__init__.py").exists()), [])

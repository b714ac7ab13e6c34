"""The mutants of one source file: small changes a wrong edit could make.

Each mutant is the module's syntax tree with one node changed, compiled with
the original file name and line numbers, so a failing test's traceback still
points at the right line. The operators are the classic ones: a comparison
flipped at its edge (``<`` for ``<=``) or negated, an integer constant one off,
an arithmetic operator swapped (``**`` for ``*``), ``and`` for ``or``, a
``not`` dropped, ``True`` for ``False``, a ``raise``, a ``return`` value or a
bare call statement removed, and a short code-like string (an error code, a
field name) changed.

Not mutated, since no test could or should notice: docstrings, annotations,
``__slots__`` and ``__all__``, log calls and their messages, and code under
``if TYPE_CHECKING:``.
"""

import ast
import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

_FLIPPED_AT_EDGE: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
_NEGATED: dict[type, type] = {ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Gt: ast.LtE, ast.GtE: ast.Lt}
_ARITHMETIC: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.LShift: ast.RShift,
    ast.RShift: ast.LShift, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
}  # fmt: skip
_SYMBOL = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.Add: "+",
    ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
    ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|", ast.And: "and", ast.Or: "or",
}  # fmt: skip
# An error code, a field or frame name: what a client reads. Prose is not mutated.
_CODE_LIKE = re.compile(r"[a-z][a-z0-9_]{1,39}")
_LOGGER_NAMES = {"log", "_log", "logger"}


@dataclass(frozen=True)
class Mutant:
    """One change to one file."""

    path: Path
    index: int
    line: int
    end_line: int
    at_import: bool
    """Whether the changed code runs when the module is imported (module or
    class level, default values), not when a function is called."""
    label: str
    """What changed, e.g. ``< → <=`` or ``raise removed``."""
    source_line: str
    """The original line, stripped, as the equivalents files name it."""

    def describe(self) -> str:
        return f"{self.path}:{self.line}: {self.label}: {self.source_line}"


def _is_log_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    target = node.func
    if isinstance(target, ast.Attribute):
        owner = target.value
        if isinstance(owner, ast.Name) and owner.id in _LOGGER_NAMES:
            return True
        if isinstance(owner, ast.Attribute) and owner.attr in _LOGGER_NAMES:
            return True
    return False


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Mutator(ast.NodeTransformer):
    """Walks a tree and counts mutation points; applies the one numbered ``target``.

    With ``target`` None it only records the points (line, label), so that
    listing and applying number them the same way.
    """

    def __init__(self, target: int | None) -> None:
        self.target = target
        self.points: list[tuple[int, int, bool, str]] = []
        self._functions = 0

    def _point(self, node: ast.AST, label: str) -> bool:
        """Record a point; True when it is the one to apply."""
        line = getattr(node, "lineno", 0)
        self.points.append((line, getattr(node, "end_lineno", line) or line, self._functions == 0, label))
        return len(self.points) - 1 == self.target

    # What is never mutated.
    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_arguments(self, node: ast.arguments) -> ast.AST:
        node.defaults = [self.visit(d) for d in node.defaults]
        node.kw_defaults = [self.visit(d) if d is not None else None for d in node.kw_defaults]
        return node

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        start = 1 if body and _is_docstring(body[0]) else 0
        return body[:start] + [self._statement(s) for s in body[start:]]

    def visit_Module(self, node: ast.Module) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.args = self.visit(node.args)
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        self._functions += 1
        node.body = self._body(node.body)
        self._functions -= 1
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node.args = self.visit(node.args)
        self._functions += 1
        node.body = self.visit(node.body)
        self._functions -= 1
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        names = {t.id for t in node.targets if isinstance(t, ast.Name)}
        if names & {"__slots__", "__all__"}:
            return node
        node.value = self.visit(node.value)
        return node

    def visit_If(self, node: ast.If) -> ast.AST:
        if _is_type_checking(node):
            return node
        node.test = self.visit(node.test)
        node.body = [self._statement(s) for s in node.body]
        node.orelse = [self._statement(s) for s in node.orelse]
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        # Statement lists inside loops, with, try: each statement may be removed.
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if isinstance(statements, list) and statements and isinstance(statements[0], ast.stmt):
                setattr(node, field, [self._statement(s) for s in statements])
        for field, value in ast.iter_fields(node):
            if (
                field in ("body", "orelse", "finalbody")
                and isinstance(value, list)
                and value
                and isinstance(value[0], ast.stmt)
            ):
                continue
            if isinstance(value, list):
                setattr(node, field, [self.visit(v) if isinstance(v, ast.AST) else v for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, field, self.visit(value))
        return node

    def _statement(self, node: ast.stmt) -> ast.stmt:
        """A statement: maybe removed whole, else its parts visited."""
        if isinstance(node, ast.Expr) and _is_log_call(node.value):
            return node
        if isinstance(node, ast.Raise):
            if self._point(node, "raise removed"):
                return ast.copy_location(ast.Pass(), node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await)):
            if self._point(node, "call removed"):
                return ast.copy_location(ast.Pass(), node)
        elif (
            isinstance(node, ast.Return)
            and node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            if self._point(node, "returns None"):
                return ast.copy_location(ast.Return(value=None), node)
        elif isinstance(node, (ast.Break, ast.Continue)):
            other = ast.Continue if isinstance(node, ast.Break) else ast.Break
            if self._point(node, f"{type(node).__name__.lower()} → {other.__name__.lower()}"):
                return ast.copy_location(other(), node)
        return self.visit(node)

    # What is mutated.
    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        for position, op in enumerate(node.ops):
            for table in (_FLIPPED_AT_EDGE, _NEGATED):
                replacement = table.get(type(op))
                if replacement is None:
                    continue
                if self._point(node, f"{_SYMBOL[type(op)]} → {_SYMBOL[replacement]}"):
                    node.ops[position] = replacement()
        node.left = self.visit(node.left)
        node.comparators = [self.visit(c) for c in node.comparators]
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        replacement = _ARITHMETIC.get(type(node.op))
        if replacement is not None and self._point(
            node, f"{_SYMBOL[type(node.op)]} → {_SYMBOL[replacement]}"
        ):
            node.op = replacement()
        node.left = self.visit(node.left)
        node.right = self.visit(node.right)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        replacement = _ARITHMETIC.get(type(node.op))
        if replacement is not None and self._point(
            node, f"{_SYMBOL[type(node.op)]}= → {_SYMBOL[replacement]}="
        ):
            node.op = replacement()
        node.value = self.visit(node.value)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._point(node, f"{_SYMBOL[type(node.op)]} → {_SYMBOL[other]}"):
            node.op = other()
        node.values = [self.visit(v) for v in node.values]
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if isinstance(node.op, ast.Not) and self._point(node, "not removed"):
            return self.visit(node.operand)
        node.operand = self.visit(node.operand)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if _is_log_call(node):
            return node
        return self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        # Formatted text: its values are code, its literal parts prose.
        node.values = [self.visit(v) if isinstance(v, ast.FormattedValue) else v for v in node.values]
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._point(node, f"{value} → {not value}"):
                return ast.copy_location(ast.Constant(value=not value), node)
        elif isinstance(value, int):
            for changed in (value + 1, value - 1):
                if self._point(node, f"{value} → {changed}"):
                    return ast.copy_location(ast.Constant(value=changed), node)
        elif isinstance(value, float):
            if self._point(node, f"{value} → {value * 2}"):
                return ast.copy_location(ast.Constant(value=value * 2), node)
        elif (
            isinstance(value, str)
            and _CODE_LIKE.fullmatch(value)
            and self._point(node, f"{value!r} → {'X' + value!r}")
        ):
            return ast.copy_location(ast.Constant(value="X" + value), node)
        return node


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def mutants(path: Path) -> Iterator[Mutant]:
    """Every mutant of ``path`` (relative to the repository root), in order."""
    mutator = _Mutator(None)
    mutator.visit(_parse(path))
    lines = path.read_text().splitlines()
    for index, (line, end_line, at_import, label) in enumerate(mutator.points):
        source_line = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        yield Mutant(path, index, line, end_line, at_import, label, source_line)


def compiled(mutant: Mutant) -> CodeType:
    """The module with ``mutant`` applied, compiled as ``mutant.path``."""
    tree = _parse(mutant.path)
    mutator = _Mutator(mutant.index)
    tree = mutator.visit(copy.deepcopy(tree))
    ast.fix_missing_locations(tree)
    return compile(tree, str(mutant.path.resolve()), "exec")

"""The mutants a module's tests are not expected to kill, with the reason.

One file per module, ``equivalent/<dotted module>.txt``: a line per mutant,
``<label> | <original line, stripped> | <reason>``; ``#`` starts a comment. A
reason starting with ``not worth a test:`` marks a mutant that could change
behaviour but is left unpinned (it still counts as a survivor, named); any
other reason marks an equivalent mutant (it cannot change behaviour), which
is not counted. Matching is by label and line text, not line number, so an
entry survives edits elsewhere in the file.
"""

from dataclasses import dataclass
from pathlib import Path

from benchmarks.mutation.execute import module_name
from benchmarks.mutation.mutants import Mutant

HERE = Path(__file__).parent / "equivalent"
NOT_WORTH = "not worth a test:"


@dataclass(frozen=True)
class Excuse:
    label: str
    source_line: str
    reason: str

    @property
    def equivalent(self) -> bool:
        return not self.reason.startswith(NOT_WORTH)


def excuses_for(path: Path) -> dict[tuple[str, str], Excuse]:
    """The module's entries, keyed by (label, line text)."""
    listing = HERE / f"{module_name(path)}.txt"
    if not listing.exists():
        return {}
    entries: dict[tuple[str, str], Excuse] = {}
    for number, raw in enumerate(listing.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split(" | ")]
        if len(parts) < 3 or not parts[2]:
            raise ValueError(f"{listing}:{number}: expected '<label> | <line> | <reason>'")
        label, source_line, reason = parts[0], " | ".join(parts[1:-1]), parts[-1]
        entries[(label, source_line)] = Excuse(label, source_line, reason)
    return entries


def excuse(entries: dict[tuple[str, str], Excuse], mutant: Mutant) -> Excuse | None:
    return entries.get((mutant.label, mutant.source_line))

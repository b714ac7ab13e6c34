"""IRCv3 batches and labeled responses (extensions/batch.md,
extensions/labeled-response.md): pure functions and one small object, no sockets.

A batch is ``BATCH +ref type params…``, lines tagged ``batch=ref``, then
``BATCH -ref``; ``batch_lines`` builds one around lines already encoded.
A ``LabeledResponse`` gathers what one labeled command answers and, once
complete, gives it back labeled: one line carries the label, several come in a
``labeled-response`` batch whose start carries it, and none is an ``ACK``.
"""

from glozi.doors.irc import tags
from glozi.doors.irc.wire import line

LABELED_RESPONSE = "labeled-response"


def batch_lines(server: str, ref: str, kind: str, data: bytes, *params: str, start_tags: str = "") -> bytes:
    """``data`` (whole lines) as the batch ``ref`` of type ``kind``: each line
    not in a batch of its own is tagged ``batch=ref`` (so a batch nests whole);
    ``start_tags`` go on the ``BATCH +ref`` line (a ``label``)."""
    inner = b"".join(
        raw + b"\r\n" if tags.has_tag(raw, b"batch") else tags.with_tags(raw + b"\r\n", f"batch={ref}")
        for raw in data.split(b"\r\n")[:-1]
    )
    start = tags.with_tags(line(server, "BATCH", f"+{ref}", kind, *params), start_tags)
    return start + inner + line(server, "BATCH", f"-{ref}")


class LabeledResponse:
    """What one command with a ``label`` tag answers, gathered until it is
    complete (``finish``); ``send`` takes lines as a connection's ``send`` does."""

    def __init__(self, label: str, server: str) -> None:
        self.label = label
        self.server = server
        self._lines: list[bytes] = []

    def send(self, data: bytes) -> None:
        self._lines.append(data)

    def finish(self, ref: str) -> bytes:
        """The answer, labeled; ``ref`` names its batch when it needs one."""
        data = b"".join(self._lines)
        self._lines = []
        label = f"label={tags.escape(self.label)}"
        count = data.count(b"\r\n")
        if count == 0:
            return tags.with_tags(line(self.server, "ACK"), label)
        if count == 1:
            return tags.with_tags(data, label)
        return batch_lines(self.server, ref, LABELED_RESPONSE, data, start_tags=label)

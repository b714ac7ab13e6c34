"""Session passwords as salted scrypt hashes, computed off the reactor thread.

A hash is one self-describing string, ``scrypt$N$r$p$SALT$HASH`` (salt and
hash in URL-safe base64), so the parameters can change later without
breaking hashes already stored. ``ScryptPasswords`` runs ``hashlib.scrypt``
through a ``runner`` (one thread of its own by default): with the default
parameters one hash costs about 40 ms of CPU and 16 MiB, which would freeze
every connection if it ran on the reactor. Tests pass a synchronous runner
and cheap parameters.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

SCRYPT_N = 2**14
"""CPU/memory cost: 16 MiB with r=8; about 40 ms a hash on a 2020s laptop core."""
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MAX_SCRYPT_N = 2**20
"""The largest N a stored hash may ask for (a tampered database must not make a join cost a second)."""
_PREFIX = "scrypt"

Runner = Callable[..., "Deferred[Any]"]


class PasswordHasher(Protocol):
    """Hashes and checks session passwords without blocking the caller."""

    def hash(self, password: str) -> "Deferred[str]":
        """A new salted hash of ``password``."""

    def verify(self, password: str, encoded: str) -> "Deferred[bool]":
        """Whether ``password`` matches ``encoded`` (compared in constant time)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A salted scrypt hash of ``password`` (blocking: call it in a thread)."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_maxmem(n, r), dklen=HASH_BYTES)
    return f"{_PREFIX}${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (blocking: call it in a thread).

    Raises ``ValueError`` when ``encoded`` is not a hash this module wrote.
    """
    try:
        prefix, n_text, r_text, p_text, salt_text, digest_text = encoded.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt, expected = _unb64(salt_text), _unb64(digest_text)
    except ValueError:
        raise ValueError("not a GloziChat password hash") from None
    if prefix != _PREFIX or not (1 < n <= MAX_SCRYPT_N) or not (0 < r <= 32) or not (0 < p <= 16):
        raise ValueError("not a GloziChat password hash")
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_maxmem(n, r), dklen=len(expected)
    )
    return hmac.compare_digest(digest, expected)


def _maxmem(n: int, r: int) -> int:
    # scrypt needs 128 * N * r bytes; OpenSSL's default cap (32 MiB) is just too tight.
    return 128 * n * r + 1024 * 1024


class OneHashingThread:
    """Runs every hash on one thread of its own, started on first use and
    stopped with the reactor.

    One scrypt hash takes 16 MiB: several at once on the reactor's shared
    pool (up to 10 threads, each with its own malloc arena) made the server
    keep ~200 MiB after a wrong-password storm. One at a time they reuse the
    same memory; at ~40 ms a hash that is 25 joins a second with a password,
    and the guessing limits keep a storm far below that.
    """

    def __init__(self) -> None:
        self._pool: ThreadPool | None = None

    def __call__(self, function: Callable[..., Any], *args: Any) -> "Deferred[Any]":
        from twisted.internet import reactor

        if self._pool is None:
            self._pool = ThreadPool(minthreads=0, maxthreads=1, name="glozichat-passwords")
            self._pool.start()
            reactor.addSystemEventTrigger("during", "shutdown", self._pool.stop)
        return deferToThreadPool(reactor, self._pool, function, *args)


_in_thread = OneHashingThread()


class ScryptPasswords:
    """The server's ``PasswordHasher``: scrypt on one hashing thread."""

    def __init__(
        self, runner: Runner = _in_thread, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
    ) -> None:
        self._run = runner
        self.n, self.r, self.p = n, r, p

    def hash(self, password: str) -> "Deferred[str]":
        return self._run(lambda: hash_password(password, n=self.n, r=self.r, p=self.p))

    def verify(self, password: str, encoded: str) -> "Deferred[bool]":
        return self._run(verify_password, password, encoded)

"""Session password hashes (glozi/storage/passwords.py), as docs/history.md ("Password hashing") states them."""

import base64
import hashlib
import threading
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks, maybeDeferred
from twisted.trial.unittest import SynchronousTestCase, TestCase

from glozi.storage.passwords import OneHashingThread, ScryptPasswords, hash_password, verify_password

# "scrypt$N$r$p$salt$hash" for a 16-byte salt and a 32-byte key (base64 without padding: 22 and 43 characters).
CHEAP = "scrypt$2$1$1$" + "A" * 22 + "$" + "A" * 43


def with_parameters(n: int | str, r: int | str, p: int | str) -> str:
    return f"scrypt${n}${r}${p}$" + "A" * 22 + "$" + "A" * 43


class HashFormatTests(SynchronousTestCase):
    def test_default_hash_is_scrypt_n_2_14_r_8_p_1_with_a_16_byte_salt_and_32_byte_key(self) -> None:
        """The stored form is scrypt$16384$8$1$salt$hash; salt and key are URL-safe base64 of 16 and 32 bytes."""
        prefix, n, r, p, salt, digest = hash_password("12345").split("$")
        self.assertEqual((prefix, n, r, p), ("scrypt", "16384", "8", "1"))
        self.assertEqual((len(salt), len(digest)), (22, 43))
        self.assertEqual(len(base64.urlsafe_b64decode(salt + "==")), 16)
        self.assertEqual(len(base64.urlsafe_b64decode(digest + "=")), 32)

    def test_the_hash_is_scrypt_of_the_password_with_its_salt(self) -> None:
        """The key is hashlib's scrypt of the password's UTF-8 with the stored salt and parameters: another
        implementation reading the database can check it."""
        _, n, r, p, salt, digest = hash_password("12345", n=4, r=2, p=1).split("$")
        salt_bytes = base64.urlsafe_b64decode(salt + "==")
        expected = hashlib.scrypt(b"12345", salt=salt_bytes, n=4, r=2, p=1, dklen=32)
        self.assertEqual((n, r, p), ("4", "2", "1"))
        self.assertEqual(base64.urlsafe_b64decode(digest + "="), expected)

    def test_each_hash_has_its_own_salt(self) -> None:
        """Hashing one password twice gives two different hashes, both of which verify."""
        first, second = hash_password("12345", n=2, r=1, p=1), hash_password("12345", n=2, r=1, p=1)
        self.assertNotEqual(first, second)
        self.assertTrue(verify_password("12345", first))
        self.assertTrue(verify_password("12345", second))

    def test_only_the_password_verifies(self) -> None:
        """Another password, one digit off, does not match."""
        encoded = hash_password("12345", n=2, r=1, p=1)
        self.assertTrue(verify_password("12345", encoded))
        self.assertFalse(verify_password("12346", encoded))
        self.assertFalse(verify_password("", encoded))


class StoredHashBoundsTests(SynchronousTestCase):
    """A stored hash is checked before it is used: a tampered database cannot make a join cost seconds."""

    def setUp(self) -> None:
        self.asked: list[tuple[int, int, int]] = []

        def recording_scrypt(password: bytes, *, salt: bytes, n: int, r: int, p: int, maxmem: int, dklen: int) -> bytes:
            self.asked.append((n, r, p))
            return bytes(dklen)

        self.patch(hashlib, "scrypt", recording_scrypt)

    def assert_used(self, encoded: str) -> None:
        self.assertTrue(verify_password("12345", encoded), "the all-zero key matches the patched scrypt")

    def assert_refused(self, encoded: str) -> None:
        error = self.assertRaises(ValueError, verify_password, "12345", encoded)
        self.assertEqual(str(error), "not a GloziChat password hash")
        self.assertEqual(self.asked, [], "refused before any hashing")

    def test_n_from_2_to_2_20_is_used(self) -> None:
        """N = 2 and N = 2^20 (1,048,576) are hashes to check."""
        self.assert_used(with_parameters(2, 1, 1))
        self.assert_used(with_parameters(2**20, 1, 1))
        self.assertEqual(self.asked, [(2, 1, 1), (2**20, 1, 1)])

    def test_n_of_1_is_refused(self) -> None:
        self.assert_refused(with_parameters(1, 1, 1))

    def test_n_of_2_21_is_refused(self) -> None:
        """N = 2^21 (2,097,152) would take seconds and 256 MiB a join: refused."""
        self.assert_refused(with_parameters(2**21, 1, 1))

    def test_r_from_1_to_32_is_used(self) -> None:
        self.assert_used(with_parameters(2, 1, 1))
        self.assert_used(with_parameters(2, 32, 1))
        self.assertEqual(self.asked, [(2, 1, 1), (2, 32, 1)])

    def test_r_of_0_is_refused(self) -> None:
        self.assert_refused(with_parameters(2, 0, 1))

    def test_r_of_33_is_refused(self) -> None:
        self.assert_refused(with_parameters(2, 33, 1))

    def test_p_from_1_to_16_is_used(self) -> None:
        self.assert_used(with_parameters(2, 1, 1))
        self.assert_used(with_parameters(2, 1, 16))
        self.assertEqual(self.asked, [(2, 1, 1), (2, 1, 16)])

    def test_p_of_0_is_refused(self) -> None:
        self.assert_refused(with_parameters(2, 1, 0))

    def test_p_of_17_is_refused(self) -> None:
        self.assert_refused(with_parameters(2, 1, 17))

    def test_another_scheme_is_refused(self) -> None:
        self.assert_refused(CHEAP.replace("scrypt", "bcrypt", 1))

    def test_a_malformed_hash_is_refused(self) -> None:
        """Too few or too many fields, a parameter that is no number, or a salt that is no base64: refused."""
        bad_salt = "scrypt$2$1$1$" + "A" * 21 + "$" + "A" * 43
        for malformed in (CHEAP.rsplit("$", 1)[0], CHEAP + "$A", with_parameters("two", 1, 1), bad_salt):
            self.assert_refused(malformed)

    def test_the_key_length_is_the_stored_one(self) -> None:
        """The key compared has the stored key's length, not this module's 32 bytes: a 64-byte key checks too."""
        lengths: list[int] = []

        def recording_scrypt(password: bytes, *, salt: bytes, n: int, r: int, p: int, maxmem: int, dklen: int) -> bytes:
            lengths.append(dklen)
            return bytes(dklen)

        self.patch(hashlib, "scrypt", recording_scrypt)
        self.assert_used("scrypt$2$1$1$" + "A" * 22 + "$" + "A" * 86)
        self.assertEqual(lengths, [64])


class ScryptPasswordsTests(SynchronousTestCase):
    def test_hashes_with_its_parameters_through_its_runner(self) -> None:
        """The hasher hands both hashing and checking to its runner and hashes with the parameters it was given."""
        ran: list[Any] = []

        def runner(function: Any, *args: Any) -> "Deferred[Any]":
            ran.append(function)
            return maybeDeferred(function, *args)

        passwords = ScryptPasswords(runner, n=4, r=2, p=3)
        encoded = self.successResultOf(passwords.hash("54321"))
        self.assertEqual(encoded.split("$")[:4], ["scrypt", "4", "2", "3"])
        self.assertTrue(self.successResultOf(passwords.verify("54321", encoded)))
        self.assertFalse(self.successResultOf(passwords.verify("54320", encoded)))
        self.assertEqual(len(ran), 3)


class OneHashingThreadTests(TestCase):
    """Hashes run on one thread of their own, started on first use and stopped with the reactor
    (docs/security.md, "Soak run": one scrypt's 16 MiB at a time, no thread kept while idle)."""

    @inlineCallbacks
    def test_work_runs_on_one_thread_of_its_own_stopped_at_shutdown(self) -> Any:
        triggers: list[tuple[str, str, Any]] = []
        self.patch(reactor, "addSystemEventTrigger", lambda phase, event, call: triggers.append((phase, event, call)))
        runner = OneHashingThread()
        self.addCleanup(lambda: runner._pool.stop() if runner._pool is not None else None)
        self.assertEqual(triggers, [], "nothing is started before the first hash")
        first = yield runner(lambda: threading.current_thread().name)
        second = yield runner(lambda x, y: (threading.current_thread().name, x + y), 2, 3)
        self.assertIn("glozichat-passwords", first)
        self.assertNotEqual(first, threading.current_thread().name)
        self.assertEqual(second[1], 5)
        pool = runner._pool
        self.assertEqual((pool.min, pool.max), (0, 1))
        self.assertEqual(triggers, [("during", "shutdown", pool.stop)], "one pool, stopped with the reactor")

"""The rules of sharing files (docs/files.md): upload tokens, quotas, who may download, private chats' files."""

from twisted.internet.defer import fail
from twisted.trial.unittest import SynchronousTestCase

from glozi.domain.errors import ChatError, TransferError
from glozi.domain.events import LeaveReason, Message, PrivateMessage
from glozi.domain.files import FileSharing, download_path, valid_file_name
from glozi.domain.names import format_size, share_text
from glozi.storage.store import SharedFile, StoreError
from tests.helpers import connect, done, make_server

MIB_100 = 104_857_600


def shared(name: str = "a.bin", size: int = 5, file_hash: str = "ab" * 32, source: str = "192.0.2.1") -> SharedFile:
    return SharedFile(name, size, "application/octet-stream", file_hash, source=source)


class FilesTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.server, self.clock = make_server()
        self.swept: list[set[str]] = []
        self.files = self.server.files = FileSharing(self.server, self.clock, sweep=self.swept.append)
        self.alice, self.alice_conn = connect(self.server, "192.0.2.1")
        self.bob, self.bob_conn = connect(self.server, "192.0.2.2")
        done(self.alice.join(2, "alice"))
        done(self.bob.join(2, "bob"))

    def upload(self, participant, size: int = 5, session_id: int | None = 2, to: str | None = None, name: str = "a.bin"):  # type: ignore[no-untyped-def]
        return done(self.files.request_upload(participant, session_id, to, name, size, "application/octet-stream"))

    def refused(self, code: str, participant, size: int = 5, session_id: int | None = 2, to: str | None = None) -> ChatError:  # type: ignore[no-untyped-def]
        error = self.assertRaises(ChatError, self.upload, participant, size, session_id, to)
        self.assertEqual(error.code, code)
        return error

    def share(self, participant, shared_file: SharedFile, session_id: int | None = 2, to: str | None = None) -> dict:  # type: ignore[no-untyped-def]
        grant = self.upload(participant, shared_file.size, session_id, to, shared_file.name)
        self.files.spend(grant)
        return done(self.files.announce(grant, shared_file))


class TextTests(SynchronousTestCase):
    def test_sizes_read_as_documented(self) -> None:
        """512 B, 48.2 kB, 2.1 MB, 26.2 MB, and a file's announcement text."""
        self.assertEqual(
            [format_size(n) for n in (512, 999, 1000, 48_213, 2_146_304, 26_214_400, 1_073_741_824)],
            ["512 B", "999 B", "1.0 kB", "48.2 kB", "2.1 MB", "26.2 MB", "1.1 GB"],
        )
        self.assertEqual(share_text("holiday.jpg", 2_146_304), "shared holiday.jpg (2.1 MB)")

    def test_each_unit_starts_at_1000_of_the_one_before(self) -> None:
        """999.9 kB then 1.0 MB at 1,000,000 bytes; 999.9 MB then 1.0 GB at 1,000,000,000; GB is the largest unit."""
        self.assertEqual(
            [format_size(n) for n in (999_900, 1_000_000, 999_900_000, 1_000_000_000, 5_000_000_000_000)],
            ["999.9 kB", "1.0 MB", "999.9 MB", "1.0 GB", "5000.0 GB"],
        )

    def test_file_names_and_their_paths(self) -> None:
        """1 to 200 characters without / \\ or control characters; the path percent-encodes the name."""
        self.assertTrue(valid_file_name("x" * 200))
        for bad in ("", "x" * 201, "a/b", "a\\b", "a\nb", ".", "..", "   "):
            self.assertFalse(valid_file_name(bad), bad)
        self.assertEqual(download_path("ab" * 32, "été 1.jpg"), f"/files/{'ab' * 32}/%C3%A9t%C3%A9%201.jpg")


class UploadTokenTests(FilesTestCase):
    def test_max_file_size_is_26214400_bytes(self) -> None:
        """26,214,400 bytes get a token; 26,214,401 are file_too_large, with the documented message."""
        self.assertEqual(self.upload(self.alice, 26_214_400).size, 26_214_400)
        error = self.refused("file_too_large", self.bob, 26_214_401)
        self.assertEqual(error.message, "The file is 26,214,401 bytes; this server takes files up to 26,214,400 bytes.")

    def test_only_members_and_connected_users(self) -> None:
        """A session you are not in: not_in_session; nobody of that name: no_such_user; no name: wrong_state."""
        self.refused("not_in_session", self.alice, session_id=3)
        self.refused("no_such_user", self.alice, session_id=None, to="nobody")
        self.refused("bad_field", self.alice, session_id=None, to="alice")
        carol, _ = connect(self.server)
        self.refused("wrong_state", carol, session_id=None, to="alice")

    def test_four_tokens_at_once(self) -> None:
        """A connection holds 4 upload tokens at once; the 5th is too_many_uploads until one is done."""
        grants = [self.upload(self.alice) for _ in range(4)]
        self.refused("too_many_uploads", self.alice)
        self.files.spend(grants[0])
        self.refused("too_many_uploads", self.alice)
        self.files.abandon(grants[0])
        self.upload(self.alice)

    def test_a_token_lasts_300_seconds_and_serves_once(self) -> None:
        """An unused token is gone after 300 s; a spent one is no longer found."""
        grant = self.upload(self.alice)
        self.clock.advance(299)
        self.assertIs(self.files.grant_for(grant.token), grant)
        self.clock.advance(1)
        self.assertIsNone(self.files.grant_for(grant.token))
        # alice timed out of kiwi meanwhile (240 s): a private chat's token then.
        other = self.upload(self.alice, session_id=None, to="bob")
        self.files.spend(other)
        self.assertIsNone(self.files.grant_for(other.token))

    def test_a_closed_connection_takes_its_tokens(self) -> None:
        """When the uploader disconnects, its unspent token stops working."""
        grant = self.upload(self.alice)
        self.alice.disconnected()
        self.assertIsNone(self.files.grant_for(grant.token))


class QuotaTests(FilesTestCase):
    def test_user_quota_edge(self) -> None:
        """With 100 MiB, a user at 104,856,600 bytes gets 1,000 more, not 1,001 (the documented message)."""
        self.files.max_file_size = MIB_100
        self.share(self.alice, shared(size=104_856_600))
        error = self.refused("user_quota_exceeded", self.alice, 1_001)
        self.assertEqual(
            error.message,
            "You have 104,856,600 bytes of files kept; a file of 1,001 bytes would pass your quota of 104,857,600 bytes.",
        )
        self.upload(self.alice, 1_000)
        # Another address has a quota of its own.
        self.upload(self.bob, 1_001)

    def test_the_same_user_is_the_same_address_or_ipv6_64(self) -> None:
        """Two connections from one address share one quota; so do two addresses of one IPv6 /64."""
        self.files.user_quota = 10
        carol, _ = connect(self.server, "2001:db8::1")
        dave, _ = connect(self.server, "2001:db8::2")
        done(carol.join(2, "carol"))
        done(dave.join(2, "dave"))
        self.upload(carol, 10)
        self.refused("user_quota_exceeded", dave, 1)

    def test_pending_tokens_count(self) -> None:
        """A token not yet used counts toward the quotas: two tokens cannot pass one together."""
        self.files.user_quota = 10
        self.upload(self.alice, 6)
        self.refused("user_quota_exceeded", self.alice, 5)

    def test_total_quota_edge(self) -> None:
        """The total counts each kept content once: 1,073,741,824 is reached, never passed."""
        self.files.max_file_size = self.files.user_quota = self.files.files_quota = 3_000_000_000
        self.share(self.alice, shared(size=1_073_741_000, file_hash="cd" * 32))
        self.share(self.bob, shared(size=1_073_741_000, file_hash="cd" * 32, source="192.0.2.2"))
        self.files.files_quota = 1_073_741_824
        error = self.refused("files_quota_exceeded", self.bob, 825)
        self.assertEqual(
            error.message,
            "The server keeps 1,073,741,000 bytes of files; a file of 825 bytes would pass its quota of"
            " 1,073,741,824 bytes.",
        )
        self.upload(self.bob, 824)


class AnnouncementTests(FilesTestCase):
    def test_members_but_the_uploader_get_the_announcement(self) -> None:
        """bob gets an action message with the file; alice's answer is its id and time; the history keeps it."""
        answer = self.share(self.alice, shared())
        message = self.bob_conn.of_type(Message)[-1]
        self.assertEqual((message.text, message.action, message.file), ("shared a.bin (5 B)", True, shared()))
        self.assertEqual(answer, {"session": 2, "msgid": message.msgid, "ts": message.sent_at})
        self.assertEqual(self.alice_conn.of_type(Message), [])
        self.assertEqual(self.server.store.messages[2][-1].file, shared())

    def test_an_upload_whose_sender_left_is_refused(self) -> None:
        """Kicked or gone before the body ended: not_in_session, and nothing is announced."""
        grant = self.upload(self.alice)
        self.files.spend(grant)
        done(self.alice.run_command("quit", ""))
        error = self.assertRaises(ChatError, self.files.announce, grant, shared())
        self.assertEqual(error.code, "not_in_session")
        self.assertEqual(self.bob_conn.of_type(Message), [])

    def test_a_private_file_reaches_the_recipient_alone(self) -> None:
        """A private chat's file is a private_message to the recipient, never stored."""
        answer = self.share(self.alice, shared(), session_id=None, to="BOB")
        private = self.bob_conn.of_type(PrivateMessage)[-1]
        self.assertEqual((private.sender, private.file, answer["to"]), ("alice", shared(), "BOB"))
        self.assertEqual(self.server.store.messages.get(2, []), type(self.server.store.messages.get(2, []))())


class DownloadTests(FilesTestCase):
    def refused_download(self, code: str, token: str, name: str | None = "a.bin") -> None:
        def read() -> object:
            return done(self.files.may_read(token, "ab" * 32, name))

        self.assertEqual(self.assertRaises(TransferError, read).code, code)

    def test_members_read_others_are_refused(self) -> None:
        """A member reads the session's file; a connection in no session gets not_allowed; an unknown
        hash or name no_such_file; an unknown token bad_token."""
        self.share(self.alice, shared())
        bob_token = self.files.download_token(self.bob)
        self.assertEqual(done(self.files.may_read(bob_token, "ab" * 32, "a.bin")), shared())
        carol, _ = connect(self.server)
        self.refused_download("not_allowed", self.files.download_token(carol))
        self.refused_download("no_such_file", bob_token, "b.bin")
        self.refused_download("no_such_file", bob_token, None)
        self.refused_download("bad_token", "x" * 43)

    def test_a_kicked_members_token_stops_working_at_once(self) -> None:
        """After a kick, the member's token reads nothing of the session's files."""
        token = self.files.download_token(self.bob)
        self.share(self.alice, shared())
        self.assertEqual(done(self.files.may_read(token, "ab" * 32, "a.bin")), shared())
        self.server.remove_member(self.bob.members[2], LeaveReason.KICKED, by="alice")
        self.refused_download("not_allowed", token)

    def test_a_departed_connections_token_is_dead(self) -> None:
        """A disconnected connection's token is bad_token: a later holder of the nick reads nothing."""
        token = self.files.download_token(self.bob)
        self.share(self.alice, shared())
        self.bob.disconnected()
        self.refused_download("bad_token", token)

    def test_a_private_file_is_read_by_its_two_connections_only(self) -> None:
        """The recipient and the uploader read it; another member of a shared session does not; when either
        leaves it is gone and the directory is swept."""
        carol, _ = connect(self.server, "192.0.2.3")
        done(carol.join(2, "carol"))
        self.share(self.alice, shared(), session_id=None, to="bob")
        for reader in (self.alice, self.bob):
            self.assertEqual(done(self.files.may_read(self.files.download_token(reader), "ab" * 32, "a.bin")), shared())
        self.refused_download("not_allowed", self.files.download_token(carol))
        bob_token = self.files.download_token(self.bob)
        self.alice.disconnected()
        self.refused_download("no_such_file", bob_token)
        self.assertEqual(self.swept, [set()])


class SweepTests(FilesTestCase):
    def test_kept_and_pinned_files_are_spared(self) -> None:
        """A sweep keeps every hash a kept message names and every pinned one (being written)."""
        self.share(self.alice, shared())
        self.files.pin("cd" * 32)
        done(self.files.sweep())
        self.assertEqual(self.swept, [{"ab" * 32, "cd" * 32}])

    def test_an_unreadable_store_sweeps_nothing(self) -> None:
        """When the store cannot be read, nothing is deleted (the failure is logged)."""
        self.patch(self.server.store, "kept_files", lambda file_hash=None: fail(StoreError("disk I/O error")))
        done(self.files.sweep())
        self.assertEqual(self.swept, [])
        self.assertEqual(len(self.flushLoggedErrors(StoreError)), 1)


class IRCLinkTests(SynchronousTestCase):
    def test_irc_users_see_the_link_live_in_scrollback_and_chathistory(self) -> None:
        """A file's message reads "shared a.bin (5 B) http://HOST:PORT/files/HASH/a.bin" in each IRC form."""
        from glozi.doors.irc import wire
        from glozi.doors.irc.history import history_lines

        message = Message(session_id=2, sender="alice", text="shared a.bin (5 B)", sent_at=1.0, action=True,
                          msgid="m1", file=shared())  # fmt: skip
        link = f"http://192.168.1.10:8080/files/{'ab' * 32}/a.bin"
        expected = f"\x01ACTION shared a.bin (5 B) {link}\x01".encode()
        web = "http://192.168.1.10:8080"
        self.assertIn(expected, wire.encode_event(message, "#kiwi", "lanbox", web))
        self.assertIn(expected, history_lines([message], "#kiwi", 0, web))
        self.assertIn(f"* alice shared a.bin (5 B) {link}".encode(), wire.encode_history([message], "#kiwi", "lanbox", web))


class NativeFramesTests(SynchronousTestCase):
    def setUp(self) -> None:
        from glozi.doors.native.protocol import NativeFactory

        self.server, self.clock = make_server()
        self.server.files = FileSharing(self.server, self.clock)
        self.factory = NativeFactory(self.server, "testbox")

    def client(self, host: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
        from tests.test_native_protocol import Client

        client = Client(self.factory, host)
        client.test_case = self
        return client

    def test_the_file_object_in_message_history_and_messages(self) -> None:
        """A shared file's `file` object, exactly as docs/files.md shows it, in the live message, a later
        joiner's history frame and a history request's page; the welcome carries the download token."""
        alice, bob = self.client(), self.client("127.0.0.2")
        self.assertEqual(alice.welcome["files"], {"download_token": self.server.files.download_token(
            alice.protocol.participant), "max_file_size": 26_214_400})  # fmt: skip
        alice.one({"type": "join", "session": 2, "username": "alice"})
        bob.send({"type": "join", "session": 2, "username": "bob"})
        ready = alice.send({"type": "upload", "session": 2, "name": "été.jpg", "size": 2_146_304,
                            "media_type": "IMAGE/JPEG", "id": 5})[-1]  # fmt: skip
        self.assertEqual(
            {key: ready[key] for key in ("type", "session", "path", "expires_in", "id")},
            {"type": "upload_ready", "session": 2, "path": "/upload", "expires_in": 300, "id": 5},
        )
        grant = self.server.files.grant_for(ready["token"])
        self.assertEqual(grant.media_type, "image/jpeg")
        self.server.files.spend(grant)
        picture = SharedFile("été.jpg", 2_146_304, "image/jpeg", "ab" * 32, 4032, 3024, 320, 240, "127.0.0.1")
        done(self.server.files.announce(grant, picture))
        expected = {
            "name": "été.jpg", "size": 2_146_304, "media_type": "image/jpeg", "hash": "ab" * 32,
            "url": f"/files/{'ab' * 32}/%C3%A9t%C3%A9.jpg", "width": 4032, "height": 3024,
            "thumbnail": {"url": f"/thumbnails/{'ab' * 32}", "width": 320, "height": 240},
        }  # fmt: skip
        [message] = bob.frames()
        self.assertEqual((message["type"], message["text"], message["action"], message["file"]),
                         ("message", "shared été.jpg (2.1 MB)", True, expected))  # fmt: skip
        carol = self.client("127.0.0.3")
        frames = carol.send({"type": "join", "session": 2, "username": "carol"})
        self.assertEqual([f["type"] for f in frames], ["joined", "history"])
        self.assertEqual(frames[-1].get("file"), expected, frames[-1])
        [page] = carol.send({"type": "history", "session": 2, "direction": "latest", "limit": 10})
        self.assertEqual(page["messages"][-1]["file"], expected)

    def test_bad_upload_frames(self) -> None:
        """Both or neither of session and to, a bad name, size or media type: bad_field; a missing one: missing_field."""
        alice = self.client()
        alice.one({"type": "join", "session": 2, "username": "alice"})
        good = {"type": "upload", "session": 2, "name": "a.bin", "size": 1, "media_type": "text/plain"}
        for change in ({"to": "bob"}, {"session": None}, {"name": "a/b"}, {"size": 0}, {"size": 1.5},
                       {"media_type": "text"}, {"media_type": "text/plain; charset=utf-8"}):  # fmt: skip
            self.assertEqual(alice.error_code({**good, **change}), "bad_field", change)
        for key in ("name", "size", "media_type"):
            self.assertEqual(alice.error_code({k: v for k, v in good.items() if k != key}), "missing_field", key)

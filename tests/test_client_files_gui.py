"""Files and pictures between two real desktop windows (Xvfb, the real server, docs/files.md):
a 10 MB file attached in Alice's window is saved from Bob's card byte for byte; a GPS-tagged
photo shows as a thumbnail and opens full size, served without its GPS data; a fake PNG, a
decompression bomb, a file over the limit and a non-member's download are refused with the
server's words, and the chat goes on."""

import hashlib
import io
import os
from typing import Any

from PIL import Image
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from glozi.client.app import ClientWindow
from glozi.client.filecards import FileCard
from glozi.client.state import Delivery, TransferState
from glozi.client.transfers import TransferFailed, WebFiles
from tests.guitools import GuiTestCase, insert, text_of, transcript_of
from tests.realserver import FrameClient, close_at_cleanup

TEN_MB = 10 * 1000 * 1000
GPS_IFD = 0x8825


def gps_photo(path: str) -> None:
    """A 1200 x 900 JPEG whose EXIF holds a GPS position (Paris), as a phone writes one."""
    image = Image.new("RGB", (1200, 900), (40, 120, 200))
    for x in range(0, 1200, 100):
        image.paste((240, 200, 40), (x, 300, x + 50, 600))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    image.save(path, "JPEG", exif=exif.tobytes())
    with Image.open(path) as check:
        assert check.getexif().get_ifd(GPS_IFD), "the test photo has GPS data"


def bomb(path: str) -> None:
    """A small PNG of 8000 x 6000 pixels (48,000,000, over the 40,000,000 limit): docs/files.md's example."""
    Image.new("1", (8000, 6000)).save(path, "PNG")


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for piece in iter(lambda: file.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


class FilesGuiTests(GuiTestCase):
    timeout = 120

    @inlineCallbacks
    def join(self, window: ClientWindow, name: str) -> Any:
        rows = window.widget("body.lobby.table.sessions")
        yield self.wait_for("the session list", lambda: rows.exists("1"))
        window.model.open_join(1)
        dialog = yield self.wait_for("the join dialog", lambda: window.top.children.get("join"))
        insert(dialog.nametowidget("body.username"), name)
        dialog.nametowidget("body.buttons.submit").invoke()
        yield self.wait_for(f"{name} in avocado", lambda: window.model.current == "session:1")

    def attach(self, window: ClientWindow, path: str) -> None:
        """Click *Attach* and pick ``path`` in the file chooser."""
        window.chat.choose_file = lambda: path  # type: ignore[method-assign]
        window.widget("body.chat.main.compose.attach").invoke()

    def last_own_file(self, window: ClientWindow) -> Any:
        return next(line for line in reversed(window.model.chat.lines) if line.upload)

    def cards(self, window: ClientWindow) -> list[FileCard]:
        transcript = window.chat.transcript
        return [card for card in transcript._cards if card.frame.winfo_exists()]

    @inlineCallbacks
    def test_files_and_a_photo_go_from_alice_to_bob_and_refusals_are_said(self) -> Any:
        """The whole path in real windows, then each refusal in Alice's transcript, then a chat line."""
        files = self.mktemp_dir()
        alice = self.open_client("alice", 0, address=self.address)
        bob = self.open_client("bob", 990, address=self.address)
        yield self.join(alice, "alice")
        yield self.join(bob, "bob")

        big = os.path.join(files, "big.bin")
        with open(big, "wb") as out:
            out.write(os.urandom(TEN_MB))
        self.attach(alice, big)
        line = self.last_own_file(alice)
        self.assertEqual(line.text, "shared big.bin (10.0 MB)")
        yield self.wait_for("the 10 MB upload", lambda: self.last_own_file(alice).delivery is Delivery.SENT, 60)
        yield self.wait_for("Bob's card", lambda: self.cards(bob))
        (card,) = self.cards(bob)
        self.assertEqual(text_of(card.frame.nametowidget("name")), "big.bin")
        saved = os.path.join(files, "saved.bin")
        card.ask_target = lambda: saved  # type: ignore[method-assign]
        card.download.invoke()
        transfer = bob.model.transfers[card.transfer_id]
        yield self.wait_for("Bob's download", lambda: transfer.state is TransferState.DONE, 60)
        self.assertEqual(sha256_of(saved), sha256_of(big))
        self.assertEqual(text_of(card.status), f"Saved as {saved}.")

        photo = os.path.join(files, "paris.jpg")
        gps_photo(photo)
        self.attach(alice, photo)
        yield self.wait_for("Bob's photo card", lambda: len(self.cards(bob)) == 2)
        photo_card = self.cards(bob)[1]
        self.assertEqual((photo_card.file.width, photo_card.file.height), (1200, 900))
        self.assertEqual((photo_card.file.thumbnail.width, photo_card.file.thumbnail.height), (320, 240))
        yield self.wait_for(
            "the thumbnail drawn", lambda: photo_card._photo is not None and photo_card._photo.width() == 320
        )
        picture = photo_card.picture
        bob.top.update_idletasks()
        yield self.wait_for("the thumbnail on screen", picture.winfo_viewable)
        x, y = picture.winfo_rootx() + picture.winfo_width() // 2, picture.winfo_rooty() + picture.winfo_height() // 2
        yield self.xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
        image_window = yield self.wait_for("the full-size window", lambda: bob.top.children.get("image"))
        shown = image_window.nametowidget("picture")
        yield self.wait_for("the full-size image", lambda: shown.cget("image"))
        web = WebFiles(reactor, bob.model.files.base)
        served = yield web.fetch(photo_card.file.url, bob.model.files.download_token, 10_000_000)
        with Image.open(io.BytesIO(served)) as image:
            self.assertEqual((image.format, image.size), ("JPEG", (1200, 900)))
            self.assertFalse(image.getexif().get_ifd(GPS_IFD), "no GPS position served")
            self.assertNotIn(b"PhoneMaker", served)

        fake = os.path.join(files, "fake.png")
        with open(fake, "wb") as out:
            out.write(b"this is not a picture at all\n" * 10)
        self.attach(alice, fake)
        yield self.wait_for("the fake PNG refused", lambda: self.last_own_file(alice).delivery is Delivery.FAILED)
        self.assertEqual(self.last_own_file(alice).note, "Not sent: The file is not a PNG image.")

        huge = os.path.join(files, "bomb.png")
        bomb(huge)
        self.attach(alice, huge)
        yield self.wait_for("the bomb refused", lambda: self.last_own_file(alice).delivery is Delivery.FAILED)
        self.assertEqual(
            self.last_own_file(alice).note,
            "Not sent: The image is larger than 40,000,000 pixels; this server takes no more.",
        )

        over = os.path.join(files, "over.bin")
        with open(over, "wb") as out:
            out.truncate(26214401)
        self.attach(alice, over)
        self.assertIn(
            "Not sent: The file is 26,214,401 bytes; this server takes files up to 26,214,400 bytes.",
            text_of(transcript_of(alice)),
        )

        carol = FrameClient()
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", self.server.port), carol)
        close_at_cleanup(self, carol)
        stranger = yield carol.next()
        token = stranger["files"]["download_token"]
        try:
            yield web.fetch(photo_card.file.url, token, 10_000_000)
        except TransferFailed as refused:
            self.assertEqual(refused.code, "not_allowed")
        else:
            self.fail("a stranger read the photo")

        alice.chat.message.entry.insert(0, "still chatting")
        alice.chat.send()
        yield self.wait_for("the chat goes on", lambda: "still chatting" in text_of(transcript_of(bob)))
        self.assertEqual(len(self.cards(bob)), 2, "refused files reach nobody")

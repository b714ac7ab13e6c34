"""Files from the desktop client to the browser client and back (Xvfb, headless Chromium, the real
server): a 10 MB file attached in Alice's window is downloaded by Bob's page byte for byte; a GPS photo
shows as a thumbnail on the page and opens full size; the page's uploads go to Alice's window, and a
fake PNG is refused on the page with the server's words."""

import os
from typing import Any

from PIL import Image
from twisted.internet import threads
from twisted.internet.defer import inlineCallbacks

from glozi.client.state import Delivery
from tests.guitools import GuiTestCase, insert
from tests.realbrowser import Browser, PageUser
from tests.test_client_files_gui import TEN_MB, gps_photo, sha256_of

BOB_FILES = """
const input = document.getElementById('file-input');
input.hidden = false;
return input;
"""


class DesktopToBrowserTests(GuiTestCase):
    timeout = 180

    @inlineCallbacks
    def test_a_file_and_a_photo_from_the_desktop_reach_the_page_and_the_pages_reach_the_desktop(self) -> Any:
        """10 MB desktop → page, same sha256; the photo's thumbnail and full size on the page; the page's PNG
        reaches Alice's window as a card; the page's fake PNG is refused there with the server's sentence."""
        # Chromium takes absolute paths only.
        files = os.path.abspath(self.mktemp_dir())
        downloads = os.path.abspath(self.mktemp_dir())
        alice = self.open_client("alice", 0, address=self.address)
        rows = alice.widget("body.lobby.table.sessions")
        yield self.wait_for("the session list", lambda: rows.exists("1"))
        alice.model.open_join(1)
        dialog = yield self.wait_for("the join dialog", lambda: alice.top.children.get("join"))
        insert(dialog.nametowidget("body.username"), "alice")
        dialog.nametowidget("body.buttons.submit").invoke()
        yield self.wait_for("alice in avocado", lambda: alice.model.current == "session:1")
        url = alice.model.files.base + "/"

        browser = yield threads.deferToThread(Browser)
        self.addCleanup(lambda: threads.deferToThread(browser.quit))
        bob = yield threads.deferToThread(PageUser, browser, url, first_tab=True)
        yield threads.deferToThread(bob.join, "avocado", "bob")
        yield self.wait_for("bob in Alice's list", lambda: len(alice.model.chat.members) == 2)

        big = os.path.join(files, "big.bin")
        with open(big, "wb") as out:
            out.write(os.urandom(TEN_MB))
        photo = os.path.join(files, "paris.jpg")
        gps_photo(photo)
        for path in (big, photo):
            alice.chat.choose_file = lambda chosen=path: chosen  # type: ignore[method-assign]
            alice.widget("body.chat.main.compose.attach").invoke()
            yield self.wait_for(
                "the upload", lambda: alice.model.chat.lines[-1].delivery is Delivery.SENT, 60
            )

        def on_the_page() -> dict[str, Any]:
            page = bob.front()
            page.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
            page.wait_text("#transcript .file-card .file-name", "paris.jpg")
            page.wait(
                "the thumbnail",
                lambda: page.driver.execute_script(
                    "const img = document.querySelector('.file-card .thumbnail');"
                    "return img && img.complete && img.naturalWidth === 320 && img.naturalHeight === 240"
                ),
            )
            link = next(
                card.find_element("css selector", ".download")
                for card in page.find_all(".file-card")
                if "big.bin" in card.text
            )
            link.click()
            done = os.path.join(downloads, "big.bin")
            page.wait("the download", lambda: os.path.exists(done) and not os.path.exists(done + ".crdownload"), 60)
            page.find(".file-card .thumbnail").click()
            page.wait(
                "the full-size image",
                lambda: page.driver.execute_script(
                    "const img = document.getElementById('image-full');"
                    "return document.getElementById('image-view').open && img.complete && img.naturalWidth"
                ),
            )
            full = page.driver.execute_script("return document.getElementById('image-full').naturalWidth")
            page.find("#image-close").click()

            chooser = page.driver.execute_script(BOB_FILES)
            fake = os.path.join(files, "fake.png")
            with open(fake, "wb") as out:
                out.write(b"not a picture\n" * 20)
            chooser.send_keys(fake)
            page.wait_text("#transcript .line.own.failed", "Not sent: The file is not a PNG image.")
            chooser = page.driver.execute_script(BOB_FILES)
            chooser.send_keys(os.path.join(files, "dot.png"))
            page.wait("the page's upload", lambda: "dot.png" in " ".join(page.texts("#transcript .line.own.sent")))
            return {"saved": done, "full": full}

        Image.new("RGB", (64, 48), (200, 30, 60)).save(os.path.join(files, "dot.png"))
        seen = yield threads.deferToThread(on_the_page)
        self.assertEqual(sha256_of(seen["saved"]), sha256_of(big))
        self.assertEqual(seen["full"], 1200)
        yield self.wait_for(
            "the page's picture in Alice's window",
            lambda: any(line.file and line.file.name == "dot.png" for line in alice.model.chat.lines),
        )
        self.assertFalse(any(line.file and line.file.name == "fake.png" for line in alice.model.chat.lines))

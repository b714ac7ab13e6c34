"""Take the README's screenshots of the client: ``PYTHONPATH=. python tools/screenshots.py [light]``.

With ``light`` the client uses the light theme and every file is named
``NAME-light.png``, with one more of the preferences dialog. With ``files`` it takes only
``files-desktop.png`` and ``files-image.png`` (a photo and a file shared in a session), and
``files-web.png`` and ``files-web-image.png`` on the page (needs chromium, chromium-driver, selenium).

Starts its own Xvfb (``Xvfb``, from the xvfb package) and a real
``twistd glozichat`` on 127.0.0.1, fills it with a few sessions and people,
drives two client windows and saves PNGs with ImageMagick's ``import`` into
docs/screenshots/. Needs: xvfb, imagemagick.
"""

import os
import shutil
import sys
import tempfile
import tkinter as tk
from pathlib import Path
from typing import Any

from twisted.internet import task, threads, tksupport
from twisted.internet.defer import inlineCallbacks
from twisted.internet.utils import getProcessOutputAndValue

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from glozi.client import palette
from glozi.client.app import ClientWindow, start_client
from glozi.client.protocol import ClientProtocol, connect
from glozi.client.state import Older, ServerAddress
from tests.realthings import mark_display_used, shared_display, start_server, use_display

OUTPUT = REPO_ROOT / "docs" / "screenshots"
WINDOW_SIZE = (980, 700)
STEP_SECONDS = 0.05
STEPS = 200
PLANTS = ("tomatoes", "basil", "beans", "courgettes", "marigolds")


class Extra:
    """A headless member, speaking the protocol directly, to make the server look lived-in."""

    def frame_received(self, protocol: ClientProtocol, frame: dict[str, Any]) -> None:
        """Events are not needed here."""

    def connection_lost(self, protocol: ClientProtocol, clean: bool) -> None:
        """Nothing to do."""

    def queue_changed(self, protocol: ClientProtocol) -> None:
        """Nothing waits here."""


@inlineCallbacks
def wait_for(reactor: Any, what: str, predicate: Any) -> Any:
    for _ in range(STEPS):
        result = predicate()
        if result:
            return result
        yield task.deferLater(reactor, STEP_SECONDS, lambda: None)
    raise RuntimeError(f"gave up waiting for {what}")


@inlineCallbacks
def pause(reactor: Any, seconds: float = 0.3) -> Any:
    yield task.deferLater(reactor, seconds, lambda: None)


@inlineCallbacks
def capture(reactor: Any, window: ClientWindow, name: str) -> Any:
    """Save the screen area of ``window`` (with any dialog over it) as docs/screenshots/NAME.png."""
    window.top.update_idletasks()
    yield pause(reactor)
    x, y = window.top.winfo_rootx(), window.top.winfo_rooty()
    width, height = window.top.winfo_width(), window.top.winfo_height()
    suffix = "" if palette.theme == "dark" else f"-{palette.theme}"
    target = OUTPUT / f"{name}{suffix}.png"
    _out, err, code = yield getProcessOutputAndValue(
        shutil.which("import") or "import",
        ["-window", "root", "-crop", f"{width}x{height}+{x}+{y}", "+repage", str(target)],
        env=dict(os.environ),
    )
    if code != 0:
        raise RuntimeError(f"import failed: {err.decode(errors='replace')}")
    print(f"saved {target.relative_to(REPO_ROOT)}")


@inlineCallbacks
def focus(reactor: Any, window: ClientWindow) -> Any:
    """Give ``window`` the keyboard focus, as the person looking at it has."""
    window.chat.message.entry.focus_force()
    yield pause(reactor, 0.2)


@inlineCallbacks
def extra_member(reactor: Any, port: int, action: str, **fields: Any) -> Any:
    protocol = yield connect(reactor, "127.0.0.1", port, Extra())
    yield protocol.request(action, **fields)
    return protocol


@inlineCallbacks
def make(reactor: Any) -> Any:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    restore = use_display(shared_display())
    workdir = tempfile.mkdtemp(prefix="glozi-shots-")
    # A short scrollback, so a late joiner has older messages to load (the other joins see everything).
    server = yield start_server(workdir, extra=("--name", "lab", "--scrollback", "20"))
    extras: list[ClientProtocol] = []
    root = tk.Tk(className="GloziChatShots")
    mark_display_used()
    root.withdraw()
    tksupport.install(root)
    windows: list[ClientWindow] = []
    try:
        address = ServerAddress("127.0.0.1", server.port, "lab")
        for action, fields in (
            ("create", {"name": "bookclub", "username": "carol"}),
            ("join", {"session": 2, "username": "dave"}),
            ("join", {"session": 2, "username": "erin"}),
            ("create", {"name": "standup", "username": "frank", "password": "24680"}),
        ):
            extras.append((yield extra_member(reactor, server.port, action, **fields)))

        alice = start_client(tk.Toplevel(root, name="alice"), reactor, address)
        alice.top.geometry("{}x{}+0+0".format(*WINDOW_SIZE))
        bob = start_client(tk.Toplevel(root, name="bob"), reactor, address)
        bob.top.geometry("{}x{}+1000+0".format(*WINDOW_SIZE))
        windows += [alice, bob]

        yield wait_for(reactor, "alice's list", lambda: alice.lobby.sessions.get_children())
        alice.model.open_create()
        alice.model.submit_create("garden", "alice", "12345")
        yield wait_for(reactor, "alice in garden", lambda: alice.model.chat)
        extras.append(
            (
                yield extra_member(
                    reactor,
                    server.port,
                    "join",
                    session=alice.model.chat.session.id,
                    username="gina",
                    password="12345",
                )
            )
        )

        bob.model.reload()
        yield wait_for(
            reactor,
            "garden in bob's list",
            lambda: bob.lobby.sessions.exists(str(alice.model.chat.session.id)),
        )
        rows = bob.lobby.sessions
        rows.selection_set(str(alice.model.chat.session.id))
        rows.focus(str(alice.model.chat.session.id))
        rows.see(str(alice.model.chat.session.id))
        yield capture(reactor, bob, "session-list")

        bob.lobby.join_selected()
        dialog = yield wait_for(reactor, "the join dialog", lambda: bob.dialog)
        dialog.fields["username"].var.set("bob")
        dialog.fields["password"].var.set("12345")
        dialog.fields["username"].entry.icursor("end")
        yield capture(reactor, bob, "join-dialog")

        dialog.submit.invoke()
        yield wait_for(reactor, "bob in garden", lambda: bob.model.chat)
        gina = extras[-1]
        script = [
            (alice, "Hi bob, welcome to the garden!"),
            (bob, "Thanks! Is the tomato bed still free?"),
            (gina, "It is, I planted basil next to it yesterday."),
            (alice, "Take it. Watering rota is on the shed door."),
            (bob, "/time"),
            (gina, "/me waves from the greenhouse"),
            (bob, "Great, I'll come by on Saturday morning. 👍🏽"),
            (gina, "🎉 🌱 🍅 Bring the 👨\u200d👩\u200d👧\u200d👦, we sing 𝄞 after 🇫🇷 lunch 😀"),
        ]
        for speaker, text in script:
            if isinstance(speaker, ClientProtocol):
                action = text.startswith("/me ")
                yield speaker.request("say", text=text.removeprefix("/me "), **({"action": True} if action else {}))
            else:
                speaker.chat.message.var.set(text)
                speaker.chat.send()
            yield pause(reactor, 0.15)
        alice.chat.message.var.set("See you then")
        yield focus(reactor, alice)
        yield capture(reactor, alice, "chat")
        if palette.theme != "dark":
            alice.show_preferences()
            yield capture(reactor, alice, "preferences")
            assert alice.preferences is not None
            alice.preferences.destroy()
        else:
            alice.chat.emoji_picker.toggle()
            yield capture(reactor, alice, "emoji")
            alice.chat.emoji_picker.close()

        # Bob pastes a planting list of 40 lines; Alice scrolls up to read while it arrives.
        alice.chat.message.var.set("")
        bob.model.send_lines("\n".join(f"Row {n}: {plant}" for n, plant in enumerate(PLANTS * 8, 1)))
        yield pause(reactor, 0.4)
        alice.chat.transcript._scroll_by_user("moveto", "0.2")
        yield pause(reactor, 1.0)
        yield focus(reactor, bob)
        yield capture(reactor, bob, "sending")
        yield focus(reactor, alice)
        yield capture(reactor, alice, "new-messages")

        # Alice joins two more sessions and goes back to garden; the others talk to her meanwhile.
        yield wait_for(reactor, "bob's paste sent", lambda: not bob.model.sending)
        alice.chat.transcript.scroll_to_end()
        garden = alice.model.current
        carol, dave, erin = extras[0], extras[1], extras[2]
        for session_id in (10, 2):
            alice.model.show_sessions()
            yield wait_for(reactor, "the session list", lambda sid=session_id: alice.model.session_by_id(sid))
            alice.model.open_join(session_id)
            alice.model.submit_join("alice")
            yield wait_for(reactor, "alice in the session", lambda sid=session_id: alice.model.current == f"session:{sid}")
        alice.model.switch_to(garden)
        for speaker, frame, fields in (
            (carol, "say", {"text": "Chapter 3 is a slow burn."}),
            (carol, "say", {"text": "Still worth it though 📚"}),
            (dave, "say", {"text": "alice, can you bring the seed trays?"}),
            (erin, "private", {"to": "alice", "text": "Are you coming on Saturday?"}),
            (erin, "private", {"to": "alice", "text": "I can give you a lift 🚲"}),
        ):
            yield speaker.request(frame, **fields)
            yield pause(reactor, 0.1)
        yield focus(reactor, alice)
        yield capture(reactor, alice, "sidebar")

        # Hana joins garden late, with its last 20 messages; at the top she loads the ones before.
        garden_id = bob.model.chat.session.id
        hana = start_client(tk.Toplevel(root, name="hana"), reactor, address)
        hana.top.geometry("{}x{}+0+0".format(*WINDOW_SIZE))
        windows.append(hana)
        yield wait_for(reactor, "hana's list", lambda: hana.lobby.sessions.get_children())
        hana.model.open_join(garden_id)
        hana.model.submit_join("hana", "12345")
        yield wait_for(reactor, "hana in garden", lambda: hana.model.chat and not hana.model.chat.history_left)
        yield pause(reactor)
        hana.chat.transcript._scroll_by_user("moveto", "0")
        yield wait_for(reactor, "the older messages", lambda: hana.model.chat.older is Older.START)
        hana.chat.transcript.text.yview_moveto(0)
        yield focus(reactor, hana)
        yield capture(reactor, hana, "older-messages")
    finally:
        for window in windows:
            window.close()
        for protocol in extras:
            protocol.disconnect()
        tksupport.uninstall()
        root.destroy()
        yield server.stop()
        restore()
        shutil.rmtree(workdir, ignore_errors=True)


def landscape(path: str) -> None:
    """A made-up holiday photo (sky, sun, hills, a lake) as a phone's JPEG, with a GPS position."""
    from PIL import Image, ImageDraw

    width, height = 1600, 1200
    photo = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(photo)
    for y in range(height):
        shade = min(1.0, y / (height / 2))
        draw.line([(0, y), (width, y)], fill=(int(90 + 120 * shade), int(150 + 70 * shade), int(230 - 20 * shade)))
    draw.ellipse((1120, 140, 1320, 340), fill=(255, 214, 120))
    draw.polygon([(0, 640), (380, 380), (760, 620), (1100, 420), (1600, 660), (1600, 1200), (0, 1200)], fill=(70, 130, 80))
    draw.polygon([(0, 760), (500, 560), (1000, 780), (1600, 600), (1600, 1200), (0, 1200)], fill=(50, 105, 60))
    draw.rectangle((0, 900, width, height), fill=(60, 120, 170))
    for x in range(0, width, 90):
        draw.line([(x, 960), (x + 50, 960)], fill=(200, 225, 240), width=4)
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (45.0, 55.0, 1.0), 3: "E", 4: (6.0, 52.0, 2.0)})
    photo.save(path, "JPEG", quality=90, exif=exif.tobytes())


def page_joins(url: str) -> tuple[Any, Any]:
    """Carol on the page (in Chromium), in avocado before the files are shared."""
    from tests.realbrowser import Browser, PageUser

    browser = Browser(1280, 800)
    carol = PageUser(browser, url, first_tab=True)
    carol.join("avocado", "carol")
    return browser, carol


def shoot_page(carol: Any) -> None:
    """docs/screenshots/files-web.png: the session on Carol's page, and files-web-image.png, the photo
    opened full size there."""
    page = carol.front()
    page.wait(
        "the thumbnail",
        lambda: page.driver.execute_script(
            "const img = document.querySelector('.file-card .thumbnail'); return img && img.complete && img.naturalWidth"
        ),
    )
    page.driver.execute_script("document.getElementById('message').value = 'Lovely! Is that the lake from last year?'")
    for name in ("files-web", "files-web-image"):
        if name == "files-web-image":
            page.find(".file-card .thumbnail").click()
            page.wait(
                "the full image",
                lambda: page.driver.execute_script("return document.getElementById('image-full').naturalWidth"),
            )
        page.driver.execute_async_script("requestAnimationFrame(() => requestAnimationFrame(arguments[0]))")
        page.driver.save_screenshot(str(OUTPUT / f"{name}.png"))
        print(f"saved docs/screenshots/{name}.png")


@inlineCallbacks
def make_files(reactor: Any) -> Any:
    """docs/screenshots/files-desktop.png (a photo and a file shared in a session, as Bob sees them) and
    files-image.png (the photo opened full size)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    restore = use_display(shared_display())
    workdir = tempfile.mkdtemp(prefix="glozi-shots-")
    server = yield start_server(workdir, extra=("--name", "lab"))
    root = tk.Tk(className="GloziChatShots")
    mark_display_used()
    root.withdraw()
    tksupport.install(root)
    windows: list[ClientWindow] = []
    browser = None
    try:
        address = ServerAddress("127.0.0.1", server.port, "lab")
        alice = start_client(tk.Toplevel(root, name="alice"), reactor, address)
        alice.top.geometry("{}x{}+0+0".format(*WINDOW_SIZE))
        bob = start_client(tk.Toplevel(root, name="bob"), reactor, address)
        bob.top.geometry("{}x{}+1000+0".format(*WINDOW_SIZE))
        windows += [alice, bob]
        for window, name in ((alice, "alice"), (bob, "bob")):
            yield wait_for(reactor, f"{name}'s list", lambda w=window: w.model.session_by_id(1))
            window.model.open_join(1)
            window.model.submit_join(name)
            yield wait_for(reactor, f"{name} in avocado", lambda w=window: w.model.chat)
        browser, carol = yield threads.deferToThread(page_joins, alice.model.files.base + "/")
        yield wait_for(reactor, "carol in avocado", lambda: len(alice.model.chat.members) == 3)
        alice.chat.message.var.set("Back from the lakes! Photos and the route:")
        alice.chat.send()
        photo = os.path.join(workdir, "lake.jpg")
        landscape(photo)
        route = os.path.join(workdir, "route-notes.pdf")
        with open(route, "wb") as out:
            out.write(b"%PDF-1.4\n" + b"0" * 48213)
        for path in (photo, route):
            alice.model.attach(path)
            yield wait_for(reactor, "the upload", lambda: all(not t.active for t in alice.model.transfers.values()))
        bob.chat.message.var.set("")
        yield wait_for(reactor, "bob's cards", lambda: len(bob.chat.transcript._cards) == 2)
        photo_card = bob.chat.transcript._cards[0]
        yield wait_for(reactor, "the thumbnail", lambda: photo_card._photo is not None and photo_card._photo.width() > 1)
        bob.chat.message.var.set("Wow, which lake is that?")
        yield focus(reactor, bob)
        yield capture(reactor, bob, "files-desktop")
        photo_card.picture.event_generate("<Button-1>")
        image = yield wait_for(reactor, "the image window", lambda: bob.top.children.get("image"))
        yield wait_for(reactor, "the full image", lambda: image.nametowidget("picture").cget("image"))
        image.geometry("+0+0")
        yield pause(reactor, 0.5)
        fake = type("Shown", (), {"top": image})()
        yield capture(reactor, fake, "files-image")
        yield threads.deferToThread(shoot_page, carol)
    finally:
        if browser is not None:
            yield threads.deferToThread(browser.quit)
        for window in windows:
            window.close()
        tksupport.uninstall()
        root.destroy()
        yield server.stop()
        restore()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    if sys.argv[1:] == ["files"]:
        task.react(lambda reactor: make_files(reactor))
        return
    if sys.argv[1:] == ["light"]:
        palette.use("light")
    task.react(lambda reactor: make(reactor))


if __name__ == "__main__":
    main()

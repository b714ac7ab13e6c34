"""Take docs/web.md's screenshots of the page: ``PYTHONPATH=. python tools/web_screenshots.py``.

Starts a real ``twistd glozichat`` on free 127.0.0.1 ports (in a temporary
directory, removed after), fills it with a few people (two on the page in a
real headless Chromium, one over IRC), and saves docs/screenshots/web-*.png at
a phone's width (390x844) and a desktop's (1280x800), light and dark. Needs
Debian's chromium and chromium-driver and PyPI selenium, as the tests do.
"""

import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.realbrowser import Browser, PageUser
from tests.realserver import twistd_command
from tests.test_web_page import IrcUser

OUTPUT = REPO_ROOT / "docs" / "screenshots"
STARTUP_SECONDS = 30.0
PHONE = (390, 844)
DESKTOP = (1280, 800)
PORTS = {
    "native": re.compile(r"native protocol listening on 127\.0\.0\.1:(\d+)"),
    "irc": re.compile(r"GloziChat IRC listening on [^:\s]+:(\d+)"),
    "web": re.compile(r"GloziChat web listening on [^:\s]+:(\d+)"),
}


def start_server(workdir: str) -> tuple[subprocess.Popen, dict[str, int]]:
    """``twistd -n glozichat`` on free loopback ports; its ports once it listens on all three."""
    loopback = "tcp:0:interface=127.0.0.1"
    argv = [
        *twistd_command(),
        "-n",
        "--pidfile=",
        "glozichat",
        "--name",
        "lanbox",
        "--port",
        loopback,
        "--irc-port",
        loopback,
        "--web-port",
        loopback,
        "--exit-code-file",
        f"{workdir}/exit-code",
        "--no-sniff",
        "--discovery-port",
        "0",
    ]
    env = {"PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output, ports = "", {}
    deadline = time.monotonic() + STARTUP_SECONDS
    while len(ports) < len(PORTS):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"the server did not start:\n{output}")
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            output += process.stdout.read1(65536).decode(errors="replace")
        for name, pattern in PORTS.items():
            if name not in ports and (match := pattern.search(output)):
                ports[name] = int(match.group(1))
    return process, ports


def shoot(browser: Browser, name: str) -> None:
    # Let the fonts and the scroll settle: one animation frame, then the picture.
    browser.driver.execute_async_script("requestAnimationFrame(() => requestAnimationFrame(arguments[0]))")
    path = OUTPUT / f"web-{name}.png"
    browser.driver.save_screenshot(str(path))
    print(f"wrote {path.relative_to(REPO_ROOT)}")


def say(user: PageUser, text: str) -> None:
    """Type ``text`` (emoji too, which chromedriver cannot type) and send it."""
    page = user.front()
    page.driver.execute_script("document.getElementById('message').value = arguments[0]", text)
    page.find("#send").click()
    page.wait("the line to be sent", lambda: text in " ".join(page.texts("#transcript .line.own.sent")))


def main() -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="glozichat-web-shots-")
    server, ports = start_server(workdir)
    browser = Browser(*DESKTOP)
    people: list[IrcUser] = []
    try:
        url = f"http://127.0.0.1:{ports['web']}/"
        bob = PageUser(browser, url, first_tab=True)
        bob.create("garden", "bob", password="24680")
        alice = PageUser(browser, url)
        alice.create("mango", "alice")
        page = alice.front()
        page.set_size(*DESKTOP)
        alice.session_row("garden").click()
        page.wait("the join dialog", lambda: page.find("#dialog").get_attribute("open") is not None)
        page.find("#dialog-password").send_keys("2468")
        shoot(page, "desktop-join")
        alice.fill_dialog("alice", password="24680")
        alice.wait_chat("garden")
        carol = IrcUser(ports["irc"], "carol")
        people.append(carol)
        carol.send("JOIN #garden 24680")
        carol.expect(lambda line: " 366 carol #garden " in line)
        erin = IrcUser(ports["irc"], "erin")
        people.append(erin)
        erin.send("JOIN #kiwi")
        erin.expect(lambda line: " 366 erin #kiwi " in line)
        alice.wait_line("carol joined.")
        carol.send("JOIN #mango")
        carol.expect(lambda line: " 366 carol #mango " in line)
        carol.send("PRIVMSG #mango :who wants the last mango?")
        carol.send("PRIVMSG #mango :alice, you said you liked them")
        say(bob, "Morning! The tomatoes are finally red 🍅🍅")
        alice.wait_line("tomatoes are finally red")
        carol.send("PRIVMSG #garden :Great, I'll bring the basil 🌿 on Saturday")
        alice.wait_line("bring the basil")
        say(alice, "Perfect 👍 see https://example.org/planting-guide for the beans")
        say(bob, "@alice can you water them on Friday?")
        alice.type("/time")
        alice.wait_line("Server time")
        erin.send("PRIVMSG alice :are you coming to the garden on Saturday?")
        alice.front().wait("erin's chat", lambda: "@erin" in alice.sidebar())
        page = alice.front()
        page.set_size(*DESKTOP)
        page.set_dark(False)
        shoot(page, "desktop-chat")
        page.set_dark(True)
        shoot(page, "desktop-chat-dark")
        page.find("#join-create").click()
        page.wait("the list", lambda: page.visible("#lobby"))
        shoot(page, "desktop-list-dark")
        page.set_dark(False)
        shoot(page, "desktop-list")

        page.set_size(*PHONE)
        shoot(page, "phone-list")
        page.find("#menu").click()
        page.wait("the drawer", lambda: "open" in page.find("#sidebar").get_attribute("class"))
        shoot(page, "phone-sidebar")
        page.find('#sidebar .conversation[data-key="session:10"]').click()
        page.wait("garden", lambda: page.visible("#chat"))
        page.set_dark(True)
        shoot(page, "phone-chat-dark")
        page.find("#members-toggle").click()
        page.wait("the members", lambda: "open" in page.find("#members-panel").get_attribute("class"))
        shoot(page, "phone-members-dark")
    finally:
        for person in people:
            person.close()
        browser.quit()
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

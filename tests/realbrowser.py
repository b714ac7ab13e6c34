"""A real headless Chromium driven through Selenium, for the page's end-to-end tests.

Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``), never Selenium Manager (it would try the internet).
Each browser has a new empty profile, removed when it is closed. Waits are on
conditions (``WebDriverWait``), bounded, never sleeps.
"""

import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 20.0
# The machine's network is closed: without these Chromium floods refused connections.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # A page in a background tab must keep its timers (reconnection) running at their pace.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
)

RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.__notifications = [];
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notifications.push({title: String(title), body: String((options || {}).body || "")});
    }
  }
  Object.defineProperty(Recorded, "permission", {get: () => Real.permission});
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
})();
"""
"""Wraps ``window.Notification`` before any page script runs, so a test reads the notifications the page made."""


class Browser:
    """One Chromium with its own temporary profile; ``quit`` ends it and removes the profile."""

    def __init__(self, width: int = 1280, height: int = 800, dark: bool = False) -> None:
        self.profile = tempfile.mkdtemp(prefix="glozichat-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.add_argument(f"--window-size={width},{height}")
        try:
            self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        except Exception:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.set_dark(dark)

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def set_dark(self, dark: bool) -> None:
        """Make the page see ``prefers-color-scheme`` dark (or light), and reduced motion (no drawer slides
        half-way through a screenshot)."""
        scheme = "dark" if dark else "light"
        features = [
            {"name": "prefers-color-scheme", "value": scheme},
            {"name": "prefers-reduced-motion", "value": "reduce"},
        ]
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": features})

    def set_size(self, width: int, height: int) -> None:
        """The page's viewport size (what CSS media queries see), for screenshots at a phone's width."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )

    def record_notifications(self) -> None:
        """From the next page loaded on, record every ``new Notification(...)`` (``notifications()``)."""
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_NOTIFICATIONS})

    def grant_notifications(self, origin: str) -> None:
        """Grant ``origin`` (the page's) the notifications permission, as a click on *Allow* would."""
        self.driver.execute_cdp_cmd(
            "Browser.grantPermissions", {"origin": origin, "permissions": ["notifications"]}
        )

    def notifications(self) -> list[dict[str, str]]:
        return self.driver.execute_script("return window.__notifications || []")

    def open_tab(self) -> str:
        """Open a new tab, make it the one driven, and return its handle."""
        self.driver.switch_to.new_window("tab")
        return self.driver.current_window_handle

    def use(self, handle: str) -> None:
        """Drive (and bring to the front) the tab ``handle``."""
        self.driver.switch_to.window(handle)

    def wait(self, what: str, condition: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
        """Wait until ``condition()`` is true (retrying through a re-rendered element), and return it."""

        def check(_driver: Any) -> Any:
            try:
                return condition()
            except StaleElementReferenceException:
                return False

        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(check, f"waited for {what}")

    def click(self, what: str, find: Callable[[], WebElement]) -> None:
        """Click the element ``find()`` gives, finding it again if the page redrew it meanwhile."""
        self.wait(what, lambda: find().click() is None)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def texts(self, css: str) -> list[str]:
        """The text of every element ``css`` matches, read in one script (no stale elements)."""
        return self.driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map((node) => node.textContent)", css
        )

    def visible(self, css: str) -> bool:
        return bool(
            self.driver.execute_script(
                "const n = document.querySelector(arguments[0]); return Boolean(n && n.offsetParent !== null)",
                css,
            )
        )

    def wait_text(self, css: str, text: str, timeout: float = WAIT_SECONDS) -> None:
        """Wait until an element ``css`` matches has ``text`` in its text."""
        self.wait(f"{text!r} in {css}", lambda: any(text in found for found in self.texts(css)), timeout)


class PageUser:
    """One person on the page, in a tab of ``browser``: joins, types and reads as they would.

    Every method first brings the person's tab to the front (the others' pages are then hidden).
    """

    def __init__(self, browser: Browser, url: str, *, first_tab: bool = False) -> None:
        self.browser = browser
        self.url = url
        self.handle = browser.driver.current_window_handle if first_tab else browser.open_tab()
        browser.driver.get(url)
        self.wait_for_list()

    def front(self) -> Browser:
        self.browser.use(self.handle)
        return self.browser

    def wait_for_list(self) -> None:
        browser = self.front()
        browser.wait("the session list", lambda: browser.find_all(".session-row"))

    def session_row(self, name: str) -> WebElement:
        browser = self.front()
        if not browser.visible("#lobby"):
            browser.find("#join-create").click()
        return browser.wait(
            f"session {name} in the list",
            lambda: next(
                (
                    row
                    for row in browser.find_all(".session-row")
                    if row.find_element(By.CSS_SELECTOR, ".name").text == name
                ),
                None,
            ),
        )

    def fill_dialog(self, username: str, password: str | None = None, name: str | None = None) -> None:
        browser = self.front()
        browser.wait("the dialog", lambda: browser.find("#dialog").get_attribute("open") is not None)
        for css, value in (
            ("#dialog-name", name),
            ("#dialog-password", password),
            ("#dialog-username", username),
        ):
            if value is not None:
                field = browser.find(css)
                field.clear()
                field.send_keys(value)
        browser.find("#dialog-username").send_keys("\n")

    def join(self, session: str, username: str, password: str | None = None) -> None:
        """Join ``session`` from the list (Enter in the dialog) and wait for its chat."""
        self.front().click(f"session {session}", lambda: self.session_row(session))
        self.fill_dialog(username, password)
        self.wait_chat(session)

    def create(self, session: str, username: str, password: str | None = None) -> None:
        browser = self.front()
        browser.find("#join-create").click()
        browser.find("#create").click()
        self.fill_dialog(username, password, name=session)
        self.wait_chat(session)

    def wait_chat(self, session: str) -> None:
        browser = self.front()
        browser.wait(
            f"the chat of {session}",
            lambda: browser.visible("#chat") and session in browser.find("#chat-title").text,
        )

    def type(self, text: str) -> None:
        """Type ``text`` in the message field and press Enter."""
        browser = self.front()
        field = browser.find("#message")
        field.send_keys(text)
        field.send_keys("\n")

    def lines(self) -> list[str]:
        return self.front().texts("#transcript .line")

    def wait_line(self, text: str, timeout: float = WAIT_SECONDS) -> None:
        self.front().wait_text("#transcript .line", text, timeout)

    def members(self) -> list[str]:
        return self.front().texts("#members .member")

    def sidebar(self) -> dict[str, str]:
        """Each conversation in the sidebar with its badge: ``{"kiwi": "", "@bob": "1"}``."""
        browser = self.front()
        titles = browser.texts("#sidebar .conversation .title")
        badges = browser.texts("#sidebar .conversation .badge")
        return dict(zip(titles, badges, strict=True))

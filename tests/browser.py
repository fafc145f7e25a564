"""Headless Chromium for the report's browser tests, driven over the DevTools protocol on a pipe.

Debian's ``chromium`` (``./test.sh`` installs it where it is missing) runs with
``--remote-debugging-pipe``: commands go in on its file descriptor 3 and answers and events
come out on 4, each a JSON text ended by a NUL byte. So the standard library is enough to load
a page, ask the rendered DOM questions (``evaluate``), see every request the page makes (the
``Network`` domain reports even the ones the page's Content-Security-Policy blocks), take a
screenshot, print it to PDF as a person would on A4 or Letter (``Page.pdf``: the page's own
print style sheet decides orientation and margins) or lay it out for print at a given width
(``Page.emulate_print``). The browser also gets a proxy on a closed local port and a resolver that resolves
nothing, so a page that tried to reach the network could not reach anything.

Also a command: ``python tests/browser.py PAGE.html SHOT.png`` screenshots a page (the README's
picture of the report is made so, see ``scripts/screenshot.sh``).
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-component-update",
    "--disable-sync",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


A4 = (8.27, 11.69)  # paper sizes, in inches
LETTER = (8.5, 11.0)


class BrowserError(RuntimeError):
    pass


def chromium_path() -> str:
    """Debian's Chromium (or ``LEDGER_TEST_CHROMIUM``); an error saying how to get it otherwise."""
    found = os.environ.get("LEDGER_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(found, os.X_OK):
        raise BrowserError(
            f"Chromium is not installed ({found} is missing): run ./test.sh, which installs Debian's "
            "chromium package, or as root: apt-get install chromium"
        )
    return found


def _high(fd: int) -> int:
    """The same pipe end on a descriptor above 9, so it cannot collide with 3 and 4."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Chromium:
    """One headless Chromium; ``open`` loads a page in a new tab of ``width`` x ``height``."""

    def __init__(self, width: int = 1280, height: int = 900, timeout: float = 60.0) -> None:
        self.width, self.height, self.timeout = width, height, timeout
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._profile = tempfile.mkdtemp(prefix="ledger-chromium-")
        to_browser_r, to_browser_w = (_high(fd) for fd in os.pipe())
        from_browser_r, from_browser_w = (_high(fd) for fd in os.pipe())
        # bash puts the pipe ends on 3 and 4 and closes the rest before chromium starts.
        wiring = (
            f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w} '
            f"{to_browser_r}<&- {from_browser_w}>&- {to_browser_w}>&- {from_browser_r}<&-"
        )
        self._log = open(Path(self._profile) / "chromium.log", "wb")  # noqa: SIM115 (closed in close())
        command = [
            chromium_path(),
            *FLAGS,
            f"--window-size={width},{height}",
            f"--user-data-dir={self._profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            ["bash", "-c", wiring, "chromium", *command],
            pass_fds=(to_browser_r, to_browser_w, from_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._out = to_browser_w
        self._in = from_browser_r
        try:
            self.version = self.call("Browser.getVersion")["product"]
        except BaseException:
            self.close()
            raise

    # --- the protocol ------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._out, data) :]
        return self._next_id

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"Chromium did not answer within {self.timeout}s{self._log_tail()}")
            ready, _, _ = select.select([self._in], [], [], left)
            if ready:
                chunk = os.read(self._in, 1 << 16)
                if not chunk:
                    raise BrowserError(f"Chromium exited{self._log_tail()}")
                self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        """Send one command and wait for its answer; events meanwhile are kept for ``wait_for``."""
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._read(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for index, event in enumerate(self._events):
                if event["method"] == method and event.get("sessionId") == session:
                    del self._events[index]
                    return event
            message = self._read(deadline)
            if "method" in message:
                self._events.append(message)

    def events(self, session: str, method: str) -> list[dict[str, Any]]:
        return [e for e in self._events if e.get("sessionId") == session and e["method"] == method]

    # --- pages ---------------------------------------------------------------------------

    def open(self, path: Path) -> Page:
        """Load a local file in a new tab and wait until it has loaded and laid out."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Network.enable", {}, session)
        self.call("Page.enable", {}, session)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        url = path.resolve().as_uri()
        navigated = self.call("Page.navigate", {"url": url}, session)
        if navigated.get("errorText"):
            raise BrowserError(f"cannot load {url}: {navigated['errorText']}")
        self.wait_for("Page.loadEventFired", session)
        page = Page(self, target, session, url)
        page.evaluate("document.fonts.ready.then(() => true)")
        return page

    def _log_tail(self) -> str:
        try:
            self._log.flush()
            tail = (Path(self._profile) / "chromium.log").read_bytes()[-1500:].decode(errors="replace")
        except OSError:
            return ""
        return f"; its log ends:\n{tail}"

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.send("Browser.close")
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # the browser's own process group
            self.process.wait(timeout=10)
        for fd in (self._out, self._in):
            with suppress(OSError):
                os.close(fd)
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One loaded tab."""

    def __init__(self, browser: Chromium, target: str, session: str, url: str) -> None:
        self.browser, self.target, self.session, self.url = browser, target, session, url

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (run by DevTools: the page's own
        Content-Security-Policy, which forbids scripts, does not apply to it)."""
        answer = self.browser.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            self.session,
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression[:80]}…: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def requests(self) -> list[str]:
        """Every URL the page asked for, its own included (blocked ones too)."""
        self.evaluate("1")  # let pending events arrive
        sent = self.browser.events(self.session, "Network.requestWillBeSent")
        return [e["params"]["request"]["url"] for e in sent]

    def screenshot(self, path: Path, full_page: bool = True) -> bytes:
        """A PNG of the page (the whole page's height when ``full_page``)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.browser.call("Page.getLayoutMetrics", {}, self.session)["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            params["captureBeyondViewport"] = True
        data = base64.b64decode(self.browser.call("Page.captureScreenshot", params, self.session)["data"])
        path.write_bytes(data)
        return data

    def pdf(self, paper: tuple[float, float]) -> bytes:
        """The page printed to PDF as a person would print it on ``paper`` (width, height in
        inches: ``A4``, ``LETTER``), with its backgrounds, the page's own print style sheet
        deciding the orientation and margins (``@page``)."""
        params = {
            "paperWidth": paper[0],
            "paperHeight": paper[1],
            "preferCSSPageSize": True,
            "printBackground": True,
        }
        return base64.b64decode(self.browser.call("Page.printToPDF", params, self.session)["data"])

    def emulate_print(self, width: int) -> None:
        """Lay the page out as for print (``@media print``), ``width`` CSS pixels wide."""
        self.browser.call("Emulation.setEmulatedMedia", {"media": "print"}, self.session)
        metrics = {"width": width, "height": self.browser.height, "deviceScaleFactor": 1, "mobile": False}
        self.browser.call("Emulation.setDeviceMetricsOverride", metrics, self.session)

    def close(self) -> None:
        self.browser.call("Target.closeTarget", {"targetId": self.target})


@contextmanager
def page(path: Path, width: int = 1280, height: int = 900) -> Iterator[Page]:
    with Chromium(width, height) as browser:
        yield browser.open(path)


def main() -> None:
    parser = argparse.ArgumentParser(description="Screenshot a local HTML page with headless Chromium.")
    parser.add_argument("page", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900, help="the viewport's height")
    parser.add_argument("--viewport-only", action="store_true", help="not the whole page's height")
    args = parser.parse_args()
    with page(args.page, args.width, args.height) as loaded:
        data = loaded.screenshot(args.png, full_page=not args.viewport_only)
    print(f"{args.png}: {len(data)} bytes")


if __name__ == "__main__":
    main()

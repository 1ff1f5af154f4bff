"""A few Chrome DevTools Protocol calls over headless Chromium: open a page, wait until
Streamlit has finished running it, click and type like a person, take a screenshot.

Uses the ``websockets`` client that Streamlit already depends on.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1400,1000",
)

READY = """(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || !document.querySelector('h1')) return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  return !(status && /Running/i.test(status.innerText));
})()"""


class Browser:
    """One headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(self, chromium: str, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.is_file() or not port_file.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError("Chromium did not open its DevTools port")
            time.sleep(0.2)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(
            connect(pages[0]["webSocketDebuggerUrl"], max_size=2**26)
        )
        self._id = 0
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=1400,
            height=1000,
            deviceScaleFactor=1,
            mobile=False,
        )

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise AssertionError(f"DevTools {method} failed")
                return dict(msg.get("result", {}))

    def js(self, expression: str) -> Any:
        out = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return out.get("result", {}).get("value")

    def settle(self, timeout: float = 60.0, quiet: float = 1.5) -> None:
        """Wait until the script has run and the page stopped changing."""
        deadline = time.monotonic() + timeout
        time.sleep(0.8)
        while time.monotonic() < deadline:
            if self.js(READY):
                time.sleep(quiet)
                if self.js(READY):
                    return
            time.sleep(0.3)
        raise AssertionError("the page did not finish rendering in time")

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        """Wait until ``text`` is on the page and the page has settled."""
        deadline = time.monotonic() + timeout
        while text not in str(self.js("document.body.innerText")):
            if time.monotonic() > deadline:
                raise AssertionError("expected text did not appear")
            time.sleep(0.3)
        self.settle()

    def open(self, url: str) -> None:
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        self.settle()

    def click(self, label: str) -> None:
        found = self.js(
            "(() => { const b = [...document.querySelectorAll('button')]"
            f".find(x => x.innerText.trim() === {json.dumps(label)});"
            " if (!b) return false; b.click(); return true; })()"
        )
        if not found:
            self.screenshot(Path(__file__).resolve().parent / "_artifacts" / "failed.png")
            raise AssertionError(f"no button labelled {label}")
        self.settle()

    def mouse_click(self, find: str) -> None:
        """Click with the mouse (press and release) in the middle of the element that the
        JavaScript expression ``find`` returns, as a person would."""
        box = self.js(
            f"(() => {{ const e = {find}; if (!e) return null; e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];"
            " })()"
        )
        if not box:
            raise AssertionError("nothing to click there")
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def choose(self, label: str, option: str) -> None:
        """Pick ``option`` in the select box labelled ``label`` (type, then click it)."""
        self.mouse_click(f"document.querySelector('input[aria-label={json.dumps(label)}]')")
        self.call("Input.insertText", text=option)
        find = (
            "[...document.querySelectorAll('[role=option]')]"
            f".find(o => o.innerText.trim() === {json.dumps(option)})"
        )
        deadline = time.monotonic() + 20
        while not self.js(f"!!({find})"):
            if time.monotonic() > deadline:
                raise AssertionError("the option did not appear")
            time.sleep(0.2)
        self.mouse_click(find)
        self.settle()

    def fill(self, label: str, text: str) -> None:
        """Click into the text field labelled ``label`` and type ``text``."""
        self.mouse_click(f"document.querySelector('input[aria-label={json.dumps(label)}]')")
        self.call("Input.insertText", text=text)

    def press_enter(self) -> None:
        """Press and release Enter in the focused element."""
        key = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        self.call("Input.dispatchKeyEvent", type="keyDown", text="\r", **key)
        self.call("Input.dispatchKeyEvent", type="keyUp", **key)
        self.settle()

    def tab(self, label: str) -> None:
        """Open the tab labelled ``label``."""
        self.mouse_click(
            "[...document.querySelectorAll('[role=tab]')]"
            f".find(t => t.innerText.trim() === {json.dumps(label)})"
        )
        self.settle()

    def has_button(self, label: str) -> bool:
        return bool(
            self.js(
                "[...document.querySelectorAll('button')]"
                f".some(x => x.innerText.trim() === {json.dumps(label)})"
            )
        )

    def type_into(self, selector: str, text: str) -> None:
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def screenshot(self, out: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        out.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

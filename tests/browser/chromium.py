"""Headless Chromium driven over the DevTools protocol: open a page with a basic login and read
what it rendered.

A login in the URL (``https://user:pass@host/``) is no use for a single-page app such as
MLflow's UI: the Fetch standard refuses to build a request from a URL with credentials, so the
page's own API calls would fail. The login goes in an ``Authorization`` header the browser adds
to every request instead (``Network.setExtraHTTPHeaders``), which is what a browser sends after
its basic-auth prompt.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import websockets

_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


class BrowserMissing(RuntimeError):
    pass


def executable() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise BrowserMissing("no Chromium on this machine: `apt-get install -y chromium` (Debian)")


class Page:
    def __init__(self, ws: Any) -> None:
        self.ws, self.ids = ws, itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        await self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:  # events arrive in between; the answer carries our id
            msg = json.loads(await self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))

    async def text(self) -> str:
        result = await self.call("Runtime.evaluate", expression="document.body.innerText",
                                 returnByValue=True)
        return str(result.get("result", {}).get("value") or "")

    async def wait_for(self, ready: Callable[[str], bool], timeout: float) -> str:
        """The page's visible text once ``ready`` accepts it (the app fetches, then renders)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = await self.text()
            if ready(text):
                return text
            await asyncio.sleep(0.5)
        raise TimeoutError(f"the page never showed what was expected; it shows: {text[:2000]}")

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))


@contextlib.asynccontextmanager
async def open_page(url: str, login: tuple[str, str], profile: Path,
                    width: int = 1400, height: int = 1000) -> AsyncIterator[Page]:
    proc = subprocess.Popen(
        [executable(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--remote-debugging-port=0", f"--user-data-dir={profile}",
         f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stderr is not None
        browser_ws = ""
        for line in proc.stderr:  # Chromium prints its endpoint once it listens
            if match := _LISTENING.search(line):
                browser_ws = match.group(1)
                break
        if not browser_ws:
            raise RuntimeError(f"Chromium exited ({proc.wait()}) without a DevTools endpoint")
        port = browser_ws.split("/")[2].rsplit(":", 1)[1]
        async with httpx.AsyncClient() as http:
            targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
        target = next(t for t in targets if t["type"] == "page")
        async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as ws:
            page = Page(ws)
            token = base64.b64encode(":".join(login).encode()).decode()
            await page.call("Network.enable")
            await page.call("Network.setExtraHTTPHeaders",
                            headers={"Authorization": f"Basic {token}"})
            await page.call("Page.enable")
            await page.call("Page.navigate", url=url)
            yield page
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

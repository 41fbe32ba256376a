"""Render a report in headless Chromium: a screenshot and the DOM after the page has loaded.

Used by the tests (do the images load in a real browser?) and by ``voxref inspect --screenshot``.
Chromium runs with networking features off and a throw-away profile; nothing else is started.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import VoxrefError

__all__ = [
    "find_chromium",
    "render",
    "chromium_command",
    "BrowserRender",
    "BrowserNotFoundError",
    "CHROMIUM_NAMES",
]

log = logging.getLogger(__name__)

#: Executables tried, in order (``$VOXREF_CHROMIUM`` first when set).
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)


class BrowserNotFoundError(VoxrefError):
    """No Chromium/Chrome executable was found (install one, or set ``VOXREF_CHROMIUM``)."""

    def __init__(self) -> None:
        super().__init__(
            "rendering the report in a browser needs Chromium: install it (Debian/Ubuntu: "
            "`apt-get install chromium`) or set VOXREF_CHROMIUM to a Chrome/Chromium executable."
        )


@dataclass(frozen=True)
class BrowserRender:
    """What headless Chromium made of a page: the DOM after load and, if asked, a screenshot."""

    dom: str
    screenshot: Path | None


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or ``None``."""
    env = os.environ.get("VOXREF_CHROMIUM")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() else None)
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_command(
    executable: str,
    url: str,
    profile: str,
    *extra: str,
    window_size: tuple[int, int] = (1280, 2000),
) -> list[str]:
    """The command line of one headless run (``extra``: ``--dump-dom``, ``--screenshot=...``).

    Examples
    --------
    >>> cmd = chromium_command("chromium", "file:///srv/r.html", "profile", "--dump-dom")
    >>> cmd[1], cmd[-1], "--window-size=1280,2000" in cmd
    ('--headless', 'file:///srv/r.html', True)
    """
    return [
        executable,
        *_FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={window_size[0]},{window_size[1]}",
        *extra,
        url,
    ]


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    log.debug("running %s", " ".join(cmd[:-1]))
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise VoxrefError(f"Chromium did not finish within {timeout:g} s ({cmd[0]}).") from exc


def render(
    html_path: str | os.PathLike,
    *,
    screenshot: str | os.PathLike | None = None,
    window_size: tuple[int, int] = (1280, 2000),
    timeout: float = 60.0,
    executable: str | None = None,
) -> BrowserRender:
    """Load ``html_path`` in headless Chromium; return the DOM after load (and save a screenshot).

    Parameters
    ----------
    html_path
        The page.
    screenshot
        PNG to write of the top ``window_size`` of the page (skipped when ``None``).
    window_size
        Viewport ``(width, height)`` in CSS pixels.
    timeout
        Seconds allowed for the Chromium run.
    executable
        Chromium to use (default: :func:`find_chromium`).

    Raises
    ------
    BrowserNotFoundError
        No Chromium is installed (Debian: ``apt-get install chromium``).
    VoxrefError
        Chromium failed or timed out.
    """
    exe = executable or find_chromium()
    if exe is None:
        raise BrowserNotFoundError()
    url = Path(html_path).resolve().as_uri()
    shot = None
    extra = ["--virtual-time-budget=3000", "--dump-dom"]  # lets the load handler run first
    if screenshot is not None:
        shot = Path(screenshot).resolve()
        shot.parent.mkdir(parents=True, exist_ok=True)
        if shot.exists():
            shot.unlink()
        extra.append(f"--screenshot={shot}")
    with tempfile.TemporaryDirectory(prefix="voxref-chromium-") as profile:
        proc = _run(chromium_command(exe, url, profile, *extra, window_size=window_size), timeout)
    dom = proc.stdout.decode("utf-8", errors="replace")
    if proc.returncode != 0 or "<html" not in dom or (shot is not None and not shot.exists()):
        raise VoxrefError(
            f"Chromium could not render {html_path} (exit {proc.returncode}): "
            f"{proc.stderr.decode('utf-8', errors='replace')[-500:]}"
        )
    return BrowserRender(dom, shot)

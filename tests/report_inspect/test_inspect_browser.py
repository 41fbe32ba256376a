"""The report in a real browser: headless Chromium loads it, every image decodes, the table has one
row per reference, the audio players read their WAVs, and the screenshot shows a drawn page."""

from __future__ import annotations

import re

import numpy as np
import pytest

from voxref.inspection.browser import find_chromium, render

pytestmark = pytest.mark.browser

if find_chromium() is None:  # pragma: no cover - depends on the machine
    pytest.skip(
        "Chromium not found: install it (Debian: apt-get install chromium) or set VOXREF_CHROMIUM",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def rendered(built_report, tmp_path_factory):
    shot = tmp_path_factory.mktemp("shot") / "screenshot.png"
    return render(built_report.report.path, screenshot=shot, window_size=(1280, 2000))


def _body(dom: str) -> dict[str, str]:
    tag = re.search(r"<body([^>]*)>", dom)
    assert tag, "no <body> in the dumped DOM"
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(1)))


def test_all_images_load(rendered, built_report):
    body = _body(rendered.dom)
    n_img = len(built_report.report.figures)
    assert body["data-images-total"] == str(n_img) == "7"
    assert body["data-images-ok"] == str(n_img)
    assert body["data-images-loaded"] == "true"


def test_table_has_one_row_per_reference(rendered, built_report):
    rows = re.findall(r'<tr class="reference-row"', rendered.dom)
    assert len(rows) == len(built_report.files)


def test_hostile_file_name_stays_text(rendered):
    # the name holds "<img src=x onerror=...>": had it become markup, the DOM would hold an
    # element with an onerror attribute (and the page an 8th image)
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

    parsed = Tags()
    parsed.feed(rendered.dom)
    assert "onerror=alert(1)" in rendered.dom  # present, as text
    assert not [t for t, a in parsed.tags if "onerror" in a]
    assert sum(t == "img" for t, _ in parsed.tags) == 7


def test_audio_players_read_their_wav(rendered, built_report):
    body = _body(rendered.dom)
    used = sum(v.embedding is not None for v in built_report.report.inspection.references)
    assert body["data-audio-total"] == str(used)
    assert body["data-audio-ok"] == str(used)


def test_screenshot_shows_the_page(rendered):
    from PIL import Image

    img = Image.open(rendered.screenshot)
    assert img.size == (1280, 2000)
    px = np.asarray(img.convert("L"), dtype=np.float64)
    assert px.std() > 20  # text, tables and plots, not an empty page
    # the top of the page (title, table) is drawn on white
    assert np.median(px[:200]) > 240

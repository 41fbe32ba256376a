"""The report as a file: well-formed HTML, one row per reference, embedded PNGs and WAVs that decode,
nothing loaded from outside, file names escaped, numbers that match the quality reports."""

from __future__ import annotations

import base64
import io
import math
from html.parser import HTMLParser

import numpy as np
import pytest
import soundfile as sf

from .conftest import HOSTILE_NAME

VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "area", "base", "wbr"}


class Page(HTMLParser):
    """Tags with their attributes, table rows with their cell texts, and a tag-balance check."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.stack: list[str] = []
        self.errors: list[str] = []
        self._row: list[str] | None = None
        self._row_class = ""
        self._cell: list[str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "tr":
            self._row, self._row_class = [], a.get("class", "")
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.setdefault(self._row_class, []).append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def page(built_report) -> Page:
    p = Page()
    p.feed(built_report.html)
    p.close()
    return p


def _data(uri: str, mime: str) -> bytes:
    head = f"data:{mime};base64,"
    assert uri.startswith(head), uri[:40]
    return base64.b64decode(uri[len(head) :], validate=True)


def test_html_is_well_formed(page):
    assert page.errors == []
    assert page.stack == []
    assert page.tags[0][0] == "html"


def test_one_table_row_per_reference_in_input_order(page, built_report):
    rows = page.rows["reference-row"]
    assert len(rows) == len(built_report.files) == 4
    names = [r[1] for r in rows]
    assert names == [f.name for f in built_report.files]
    assert built_report.report.num_references == 4


def test_row_values_are_the_quality_reports(page, built_report):
    views = built_report.report.inspection.references
    header = page.rows[""][0]
    col = {
        name: header.index(name) for name in ("verdict", "pooling", "weight", "speech s", "SNR dB")
    }
    for row, view in zip(page.rows["reference-row"], views):
        q = view.report
        assert row[col["verdict"]] == q.verdict
        assert row[col["pooling"]] == view.status
        assert row[col["speech s"]] == f"{q.speech_s:.1f}"
        snr = "–" if q.snr_db is None or not math.isfinite(q.snr_db) else f"{q.snr_db:.1f}"
        assert row[col["SNR dB"]] == snr
    weights = [float(r[col["weight"]]) for r in page.rows["reference-row"]]
    assert sum(weights) == pytest.approx(1.0, abs=0.02)
    # the noise clip is rejected, with a reason, and gets no weight
    noise = page.rows["reference-row"][3]
    assert noise[col["verdict"]] == "reject" and noise[col["pooling"]] == "rejected"
    assert weights[3] == 0.0 and noise[-1]


def test_file_names_are_escaped(built_report, page):
    html = built_report.html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;.wav" in html
    imgs = [a for t, a in page.tags if t == "img"]
    assert all(a["src"].startswith("data:image/png;base64,") for a in imgs)
    assert HOSTILE_NAME in "".join(page.text)  # shown to the reader as text


def test_no_external_urls(page, built_report):
    links = [(t, k, v) for t, a in page.tags for k, v in a.items() if k in ("src", "href")]
    assert links
    for tag, key, value in links:
        assert value.startswith(("data:", "#")), (tag, key, value[:60])
    assert "http://" not in built_report.html and "https://" not in built_report.html
    csp = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    assert csp and "default-src 'none'" in csp[0]


def test_images_decode_as_png_and_match_the_files_beside(page, built_report):
    from PIL import Image

    figures = built_report.report.figures
    by_name = {a["data-figure"]: a["src"] for t, a in page.tags if t == "img"}
    assert set(by_name) == set(figures)
    # 4 references + weights + similarity + map
    assert len(by_name) == 7
    for name, uri in by_name.items():
        data = _data(uri, "image/png")
        assert data == figures[name].read_bytes()
        img = Image.open(io.BytesIO(data))
        img.load()
        assert img.format == "PNG" and img.width >= 400 and img.height >= 200
        px = np.asarray(img.convert("L"), dtype=np.float64)
        assert px.std() > 10  # something is drawn, not a blank canvas


def test_audio_players_hold_the_cleaned_target_speech(page, built_report):
    views = built_report.report.inspection.references
    audios = [a["src"] for t, a in page.tags if t == "audio"]
    used = [v for v in views if v.embedding is not None]
    assert len(audios) == len(used) == 3
    for uri, view in zip(audios, used):
        x, sr = sf.read(io.BytesIO(_data(uri, "audio/wav")), dtype="float32")
        assert sr == 16000 and x.ndim == 1
        # the cleaned speech of the windows judged target (all of it when none is), <= 30 s
        expected = view.target_audio(max_seconds=30.0)
        if not len(expected):
            expected = view.speech[: 30 * sr]
        assert 0 < len(x) == len(expected) <= min(len(view.speech), 30 * sr)
        # the speech the encoder heard (levelled to the default speech level: peaks may pass full scale,
        # then the player scales it down as a whole)
        expected = expected / max(1.0, float(np.max(np.abs(expected))))
        np.testing.assert_allclose(x, expected, atol=1.5 / 32768)  # 16-bit quantisation only
        assert np.sqrt(np.mean(x**2)) > 0.01
        if view.activity is None:  # without activity the player holds all the cleaned speech
            assert len(x) == min(len(view.speech), 30 * sr)


def test_target_mask_lives_on_the_speech_regions(built_report):
    sample = built_report.report.inspection.references[0]
    t, mask = sample.weight_mask()
    on = np.isfinite(mask)
    inside = np.zeros_like(on)
    for s, e in sample.regions:
        inside |= (t >= s) & (t < e)
    assert not on[~inside].any()  # never off speech
    assert on[inside].mean() > 0.97  # and covers (nearly) all of it
    # weights are drawn relative to the largest window weight; with attention pooling windows
    # differ, and overlapping windows are averaged, so the drawn maximum is at most 1
    assert 0.5 < np.nanmax(mask) <= 1.0 + 1e-9


def test_diarization_turns(built_report):
    sample = built_report.report.inspection.references[0]
    # pyannote's sample holds two speakers; turns stay inside the recording
    assert len({lab for _, _, lab in sample.turns}) >= 2
    assert all(0 <= s < e <= sample.duration + 1e-6 for s, e, _ in sample.turns)

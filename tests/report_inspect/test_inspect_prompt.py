"""A reference prompt in the inspect report: its pieces on the right reference's timeline (HTML
spans and hatched spans in the figure), the table of pieces and the player of the prompt audio.

The prompt is built here from real speech (flite awb fixture clips) and written with
:meth:`PromptResult.write`, the writer of ``voxref prompt``, so no diarization runs; the end-to-end
path (``voxref prompt`` then ``voxref inspect --prompt-sidecar``) is in tests/prompting.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import warnings

import numpy as np
import pytest
import soundfile as sf

from voxref.errors import BatchReport, ConfigError
from voxref.prompting.result import PromptPiece, PromptResult

from .conftest import SPEECH_DIR
from .test_inspect_html import Page

SR = 16000
CLIPS = ["flite-awb_0.wav", "flite-awb_1.wav", "flite-awb_2.wav"]
#: (reference index, start, end): two pieces of the first clip, one of the third, none of the second.
SPANS = [(0, 0.30, 1.20), (0, 1.50, 2.40), (2, 0.40, 1.60)]


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("prompt_refs")
    out = []
    for name in CLIPS:
        shutil.copy(SPEECH_DIR / name, folder / name)
        out.append(str(folder / name))
    return out


@pytest.fixture(scope="module")
def result(references) -> PromptResult:
    """A prompt of real speech (one flite voice): the three spans cut from their clips, 0.2 s pauses between."""
    pieces, parts = [], []
    for k, (i, s, e) in enumerate(SPANS):
        x, sr = sf.read(references[i], dtype="float32")
        assert sr == SR
        parts += [x[int(s * SR) : int(e * SR)], np.zeros(SR // 5, np.float32)]
        pieces.append(
            PromptPiece(
                references[i],
                i,
                s,
                e,
                snr_db=30.0 - 5 * k,
                similarity=0.9 - 0.1 * k,
                kept=True,
                actions=[f"cut P{k + 1}", "fade 10 ms"],
            )
        )
    audio = np.concatenate(parts[:-1])
    return PromptResult(
        audio, SR, {"name": "generic"}, pieces, list(pieces), BatchReport(), actions=["levelled"]
    )


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory, result) -> str:
    return str(result.write(tmp_path_factory.mktemp("prompt") / "prompt.wav"))


@pytest.fixture(scope="module")
def report(tmp_path_factory, references, sidecar, embedder):
    from voxref.inspection.report import inspect

    out = tmp_path_factory.mktemp("prompt_report") / "report.html"
    return inspect(references, out, embedder=embedder, diarize=False, prompt=sidecar)


def _articles(html: str) -> dict[int, str]:
    """Reference number -> the HTML of its article."""
    chunks = re.split(r'<article class="reference" id="ref-', html)[1:]
    return {int(c.split('"', 1)[0]): c.split("</article>", 1)[0] for c in chunks}


def _spans(chunk: str) -> set[tuple[int, int, float, float]]:
    p = Page()
    p.feed(chunk)
    return {
        (
            int(a["data-piece"]),
            int(a["data-reference"]),
            float(a["data-start"]),
            float(a["data-end"]),
        )
        for t, a in p.tags
        if t == "span" and "prompt-span" in a.get("class", "")
    }


EXPECTED = {(k + 1, i + 1, s, e) for k, (i, s, e) in enumerate(SPANS)}


def _check_page(html: str, prompt_audio: np.ndarray) -> None:
    page = Page()
    page.feed(html)
    page.close()
    assert page.errors == []
    # each piece on its own reference's timeline, and nowhere else
    arts = _articles(html)
    assert set(arts) == {1, 2, 3}
    for n, chunk in arts.items():
        assert _spans(chunk) == {x for x in EXPECTED if x[1] == n}, n
    assert "No piece of the prompt comes from this reference" in arts[2]
    # the table: one row per piece, in prompt order, with its numbers and what was done
    rows = [a for t, a in page.tags if t == "tr" and a.get("class") == "prompt-piece-row"]
    got = [(int(a["data-piece"]), int(a["data-reference"]), float(a["data-start"])) for a in rows]
    assert got == [(k + 1, i + 1, s) for k, (i, s, _) in enumerate(SPANS)]
    assert all(a["data-source"].endswith(CLIPS[i]) for a, (i, _, _) in zip(rows, SPANS))
    cells = page.rows["prompt-piece-row"]
    assert [c[5] for c in cells] == ["30.0", "25.0", "20.0"]  # SNR dB
    assert [c[6] for c in cells] == ["0.90", "0.80", "0.70"]  # similarity
    assert "cut P2" in cells[1][7] and "fade 10 ms" in cells[1][7]
    assert cells[2][3] == "0.40–1.60"
    # the player holds the prompt itself
    players = [a for t, a in page.tags if t == "audio" and a.get("id") == "prompt-player"]
    assert len(players) == 1
    head = "data:audio/wav;base64,"
    assert players[0]["src"].startswith(head)
    y, sr = sf.read(io.BytesIO(base64.b64decode(players[0]["src"][len(head) :])), dtype="float32")
    assert sr == SR and len(y) == len(prompt_audio)
    assert np.max(np.abs(y - prompt_audio)) < 1e-3
    assert '<a href="#prompt">prompt</a>' in html


def test_sidecar_pieces_on_their_timelines(report, result):
    html = report.path.read_text(encoding="utf-8")
    _check_page(html, result.audio)
    assert report.inspection.prompt.origin.endswith("prompt.json")


def test_figure_hatches_the_pieces_of_its_reference(report):
    from voxref.inspection.figures import reference_figure

    refs = report.inspection.references
    pv = report.inspection.prompt
    assert report.figures["reference-01"].is_file()
    for r in refs:
        spans = [(s.start, s.end, s.order + 1) for s in pv.spans_of(r.index)]
        fig = reference_figure(r, prompt_spans=spans)
        drawn = {}
        for ax in fig.axes:
            for patch in ax.patches:
                gid = patch.get_gid() or ""
                if gid.startswith("prompt-piece-"):
                    drawn[int(gid.rsplit("-", 1)[1])] = (
                        round(patch.get_x(), 3),
                        round(patch.get_x() + patch.get_width(), 3),
                    )
        want = {k + 1: (s, e) for k, (i, s, e) in enumerate(SPANS) if i == r.index}
        assert drawn == want, r.index


def test_prompt_result_passed_in(tmp_path, references, result, embedder):
    from voxref.inspection.report import inspect

    rep = inspect(references, tmp_path / "r.html", embedder=embedder, diarize=False, prompt=result)
    _check_page(rep.path.read_text(encoding="utf-8"), result.audio)
    assert rep.inspection.prompt.origin == "passed in"


def test_sidecar_of_other_references_is_an_error(tmp_path, references, sidecar):
    from voxref.inspection.report import inspect

    # the references without the third clip: its piece has no timeline to go on (fails before
    # any model runs)
    with pytest.raises(ConfigError, match=r"piece 3 comes from .*flite-awb_2\.wav.*not among"):
        inspect(references[:2], tmp_path / "r.html", diarize=False, prompt=sidecar)
    assert not (tmp_path / "r.html").exists()


def test_piece_past_the_end_of_its_recording_is_an_error(references, sidecar):
    from voxref.inspection.prompt_view import attach_prompt, load_prompt_sidecar

    view = load_prompt_sidecar(sidecar)
    with pytest.raises(ConfigError, match=r"piece 2 ends at 2\.40 s but .* lasts 2\.00 s"):
        attach_prompt(view, references, durations=[2.0, 3.0, 3.0])
    attach_prompt(view, references, durations=[3.0, 3.0, 3.0])
    assert [s.reference for s in view.spans] == [0, 0, 2]


def test_broken_sidecars_are_errors(tmp_path, sidecar, references):
    from voxref.inspection.prompt_view import load_prompt_sidecar
    from voxref.inspection.report import inspect

    alone = tmp_path / "alone.json"
    shutil.copy(sidecar, alone)  # no prompt audio beside it
    with pytest.raises(ConfigError, match="no prompt audio beside"):
        load_prompt_sidecar(alone)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not a prompt sidecar"):
        load_prompt_sidecar(bad)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"pieces": []}))
    with pytest.raises(ConfigError, match="lists no prompt pieces"):
        load_prompt_sidecar(empty)
    with pytest.raises(ConfigError, match="prompt_preset only applies"):
        inspect(references, tmp_path / "r.html", prompt=sidecar, prompt_preset="f5")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--preset", "f5"], "--preset needs --prompt"),
        (["--prompt", "--prompt-sidecar", "x.json"], "not both"),
        (["--prompt", "--preset", "nope"], "choose one of"),
    ],
)
def test_cli_prompt_option_errors(tmp_path, references, capsys, extra, message):
    from voxref.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["inspect", *references, "-o", str(tmp_path / "r.html"), *extra])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_prompt_true_makes_one_with_the_preset(tmp_path, monkeypatch, references, result, embedder):
    """``prompt=True`` calls :func:`voxref.prompt` on the files with the preset and the report's
    embedder (stubbed here: the real call diarizes for minutes; tests/prompting runs it)."""
    import voxref.prompting.make as make
    from voxref.inspection.report import inspect

    calls = []

    def fake_prompt(files, **kwargs):
        calls.append((list(files), kwargs))
        return result

    monkeypatch.setattr(make, "prompt", fake_prompt)
    rep = inspect(
        references,
        tmp_path / "r.html",
        embedder=embedder,
        diarize=False,
        prompt=True,
        prompt_preset="f5",
    )
    assert calls == [(references, {"preset": "f5", "embedder": embedder})]
    assert rep.inspection.prompt.origin == "made for this report"
    _check_page(rep.path.read_text(encoding="utf-8"), result.audio)


@pytest.mark.browser
def test_prompt_player_plays_in_chromium(report):
    """Headless Chromium reads every player's audio, the prompt's included (4 players: the prompt
    and one per reference), and keeps the pieces' spans in the DOM."""
    from voxref.inspection.browser import find_chromium, render

    if find_chromium() is None:  # pragma: no cover - depends on the machine
        pytest.skip("Chromium not found: install it (Debian: apt-get install chromium)")
    dom = render(report.path, window_size=(1280, 2000)).dom
    body = dict(re.findall(r'([\w-]+)="([^"]*)"', re.search(r"<body([^>]*)>", dom).group(1)))
    assert body["data-audio-total"] == "4" and body["data-audio-ok"] == "4"
    assert 'id="prompt-player"' in dom
    assert len(re.findall(r'class="prompt-span"', dom)) == len(SPANS)


def test_prompt_true_diarizes_each_reference_once(tmp_path, monkeypatch, references, embedder):
    """``prompt=True`` with diarization on: the prompt and the turns drawn share one diarization
    per reference (the real prompt and diarizer, on the flite clips), and the turns drawn are
    the prompt's diarizer's."""
    from voxref.inspection.report import inspect
    from voxref.separation.diarization import Diarizer

    seen = []
    original = Diarizer.__call__

    def counting(self, audio, *args, **kwargs):
        res = original(self, audio, *args, **kwargs)
        seen.append(res)
        return res

    monkeypatch.setattr(Diarizer, "__call__", counting)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a prompt of three short clips is short
        rep = inspect(references, tmp_path / "r.html", embedder=embedder, prompt=True)
    assert len(seen) == len(references)
    drawn = [r.turns for r in rep.inspection.references]
    assert all(drawn), drawn
    made = sorted(
        [
            (round(s.start, 3), round(s.end, 3))
            for s, _, _ in res.annotation.itertracks(yield_label=True)
        ]
        for res in seen
    )
    assert made == sorted([(round(s, 3), round(e, 3)) for s, e, _ in t] for t in drawn)
    assert rep.inspection.prompt.origin == "made for this report"

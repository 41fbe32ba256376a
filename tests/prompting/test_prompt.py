"""``voxref.prompt`` on real signals: the pyannote sample (truth: sample.rttm) and synthetic
espeak-ng / flite conversations with seeded noise (truth: the turns they were built from)."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
import soundfile as sf

from voxref.errors import NoTargetVoiceError
from voxref.prompting import PromptTooShortWarning, prompt
from voxref.prompting.render import CUT_MARGIN_S

SR = 16000


def _cut_span(piece) -> tuple[float, float]:
    """The stretch of the reference the prompt holds for a piece (its cut margins included)."""
    return (
        piece.start - min(CUT_MARGIN_S, 0.5 * piece.pause_before),
        piece.end + min(CUT_MARGIN_S, 0.5 * piece.pause_after),
    )


def _minus(segments, cuts):
    out = []
    for s, e in segments:
        parts = [(s, e)]
        for a, b in cuts:
            nxt = []
            for u, v in parts:
                if b <= u or a >= v:
                    nxt.append((u, v))
                    continue
                if a > u:
                    nxt.append((u, a))
                if b < v:
                    nxt.append((b, v))
            parts = nxt
        out += [(u, v) for u, v in parts if v - u > 0.3]
    return out


def _embed(x: np.ndarray, sr: int) -> np.ndarray:
    import voxref

    return np.asarray(voxref.embed([(x, sr)]), dtype=np.float64)


# --------------------------------------------------------------------------- pyannote sample
@pytest.fixture(scope="module")
def sample_prompts(pyannote_sample, pyannote_turns):
    """A prompt per speaker of the sample, guided by that speaker's turns where nobody else
    speaks (per sample.rttm)."""
    out = {}
    speakers = sorted({w for _, _, w in pyannote_turns})
    for spk in speakers:
        mine = [(s, e) for s, e, w in pyannote_turns if w == spk]
        others = [(s, e) for s, e, w in pyannote_turns if w != spk]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = prompt([str(pyannote_sample[0])], guide=_minus(mine, others))
        out[spk] = (res, caught)
    return out


@pytest.mark.parametrize("speaker", ["speaker90", "speaker91"])
def test_sample_prompt_holds_no_other_speaker(sample_prompts, pyannote_turns, speaker):
    res, _ = sample_prompts[speaker]
    assert res.pieces, res.summary()
    others = [(s, e) for s, e, w in pyannote_turns if w != speaker]
    for piece in res.pieces:
        a, b = _cut_span(piece)
        hit = [(s, e) for s, e in others if s < b and e > a]
        assert not hit, f"{piece.start}-{piece.end} holds the other speaker's turn {hit}"
        assert piece.kept and not piece.reason
    # the dropped pieces that do hold the other speaker are said to be dropped, with a reason
    mixed = [c for c in res.candidates if any(s < c.end and e > c.start for s, e in others)]
    assert mixed and all(c.reason and not c.kept for c in mixed)


@pytest.mark.parametrize("speaker", ["speaker90", "speaker91"])
def test_cli_prompt_guided_by_turns_holds_no_other_speaker(
    tmp_path, pyannote_sample, pyannote_turns, speaker
):
    """``voxref prompt`` on the sample, guided by one speaker's turns (``--segments``): every
    stretch the written prompt holds, as its sidecar says it was cut (``cut A-B s``, widened by
    the rounding), is free of the other speaker per sample.rttm, and the wav is those stretches
    joined by the join pauses (nothing else is in it)."""
    from voxref.cli.main import main
    from voxref.prompting.render import JOIN_PAUSE_S

    mine = [(s, e) for s, e, w in pyannote_turns if w == speaker]
    others = [(s, e) for s, e, w in pyannote_turns if w != speaker]
    segments = ",".join(f"{s:.3f}-{e:.3f}" for s, e in _minus(mine, others))
    out = tmp_path / f"{speaker}.wav"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PromptTooShortWarning)
        assert (
            main(["prompt", str(pyannote_sample[0]), "--segments", segments, "-o", str(out)]) == 0
        )
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["pieces"], side
    cuts = []
    for piece in side["pieces"]:
        found = [re.fullmatch(r"cut ([\d.]+)-([\d.]+) s.*", a) for a in piece["actions"]]
        ((a, b),) = [(float(m[1]), float(m[2])) for m in found if m]
        if (a, b) not in cuts:
            cuts.append((a, b))
        assert a - 0.006 <= piece["start"] < piece["end"] <= b + 0.006
    for a, b in cuts:
        hit = [(s, e) for s, e in others if s < b + 0.006 and e > a - 0.006]
        assert not hit, f"the cut {a}-{b} s holds the other speaker's turn {hit}"
    y, sr = sf.read(out)
    expected = sum(b - a for a, b in cuts) + JOIN_PAUSE_S * (len(cuts) - 1)
    assert abs(len(y) / sr - expected) < 0.02 * len(cuts) + 0.01, (len(y) / sr, expected)


def test_sample_prompt_is_closer_to_its_speaker(sample_prompts, pyannote_sample, pyannote_turns):
    x, sr = sf.read(str(pyannote_sample[0]), dtype="float32")
    refs = {}
    for spk in ("speaker90", "speaker91"):
        mine = [(s, e) for s, e, w in pyannote_turns if w == spk]
        others = [(s, e) for s, e, w in pyannote_turns if w != spk]
        clean = _minus(mine, others)
        refs[spk] = _embed(np.concatenate([x[int(s * sr) : int(e * sr)] for s, e in clean]), sr)
    for spk, other in (("speaker90", "speaker91"), ("speaker91", "speaker90")):
        res, _ = sample_prompts[spk]
        e = _embed(res.audio, res.sample_rate)
        assert e @ refs[spk] > e @ refs[other] + 0.05, (spk, e @ refs[spk], e @ refs[other])


def test_sample_prompt_is_short_and_says_why(sample_prompts):
    # the sample's speakers hardly ever pause between turns: little clean speech per speaker
    for res, caught in sample_prompts.values():
        assert res.sample_rate == 24000 and res.preset["name"] == "generic"
        if res.duration < 5.0:
            msgs = [str(w.message) for w in caught if w.category is PromptTooShortWarning]
            assert msgs and "wants at least 5 s" in msgs[0]
            assert res.warnings == msgs[:1]


# --------------------------------------------------------------------------- synthetic voices
@pytest.fixture(scope="module")
def voices():
    from voxref.separation.synthetic import VOICES

    by = {v.name: v for v in VOICES}
    return by["espeak-us-m3"], by["flite-slt"], by["flite-awb"], by["espeak-gb-m7"]


@pytest.fixture(scope="module")
def noisy_conversations(voices):
    """Two references: the target talking with a different interferer each, in white noise at
    20 dB SNR (seeded)."""
    from voxref.separation.synthetic import synthetic_conversation

    target, a, b, _ = voices
    rng = np.random.default_rng(7)
    refs = []
    for k, other in enumerate((a, b)):
        conv = synthetic_conversation((target, other), num_turns=6, overlap_prob=0.4, seed=10 + k)
        x = conv.samples.astype(np.float64)
        p = float(np.mean(x[np.abs(x) > 1e-4] ** 2))
        x = x + np.sqrt(p / 100.0) * rng.standard_normal(len(x))
        refs.append(((x.astype(np.float32), conv.sample_rate), conv))
    return refs


def test_synthetic_prompt_is_target_only(noisy_conversations, voices):
    from voxref.separation.synthetic import SENTENCES, synthesize

    target, a, b, _ = voices
    res = prompt([r for r, _ in noisy_conversations], preset="xtts")
    assert res.sample_rate == 22050 and res.pieces
    for piece in res.pieces:
        conv = noisy_conversations[piece.reference][1]
        lo, hi = _cut_span(piece)
        who = {t.speaker for t in conv.turns if t.start < hi and t.end > lo}
        assert who == {target.name}, (piece.start, piece.end, who)
    e = _embed(res.audio, res.sample_rate)
    sims = {v.name: float(e @ _embed(synthesize(v, SENTENCES[-1]), SR)) for v in (target, a, b)}
    assert sims[target.name] > max(sims[a.name], sims[b.name]) + 0.05, sims
    # the 20 dB noise stays (auto denoises stationary noise only below 15 dB)
    assert all(not any("denoised" in s for s in p.actions) for p in res.pieces)
    assert abs(20 * np.log10(np.abs(res.audio).max()) - -1.0) < 3.0  # levelled, limited


def test_no_target_voice_is_an_error(voices):
    from voxref.separation.synthetic import SENTENCES, synthesize

    target, a, *_ = voices
    guide = _embed(
        np.concatenate([synthesize(target, SENTENCES[0]), synthesize(target, SENTENCES[1])]), SR
    )
    other = np.concatenate([synthesize(a, s) for s in SENTENCES[2:4]])
    with pytest.raises(NoTargetVoiceError, match="not in any reference") as excinfo:
        prompt([(other, SR)], guide=guide.astype(np.float32))
    # one except serves prompts and extraction: the prompt's error is a TargetNotFoundError
    from voxref.errors import TargetNotFoundError

    assert isinstance(excinfo.value, TargetNotFoundError)


def test_too_short_reference_gives_best_prompt_and_warning(voices):
    from voxref.separation.synthetic import SENTENCES, synthesize

    target = voices[0]
    x = np.concatenate([np.zeros(SR // 2, np.float32), synthesize(target, SENTENCES[5])])
    with pytest.warns(PromptTooShortWarning, match=r"holds \d\.\d s of speech; preset 'f5'"):
        res = prompt([(x, SR)], preset="f5")
    assert 1.5 < res.duration < 5.0 and res.sample_rate == 24000
    assert len(res.pieces) >= 1 and "wants at least 5 s" in res.warnings[0]


def _sentences_with_gaps(voice, indices, gap_s):
    from voxref.separation.synthetic import SENTENCES, synthesize

    gap = np.zeros(int(gap_s * SR), np.float32)
    parts, spans, pos = [gap], [], len(gap)
    for i in indices:
        u = synthesize(voice, SENTENCES[i]).astype(np.float32)
        parts += [u, gap]
        spans.append((pos / SR, (pos + len(u)) / SR))
        pos += len(u) + len(gap)
    return np.concatenate(parts), spans


def _active_power(x):
    return float(np.mean(x[np.abs(x) > 1e-4].astype(np.float64) ** 2))


@pytest.fixture(scope="module")
def quiet_interferer(voices):
    """The target (espeak-ng) and, under a stretch of it, another espeak-ng voice 5 dB quieter
    (SIR 5 dB, active speech power): the diarizer finds one speaker, the counter hears two."""
    target, other = voices[0], voices[3]
    x, _ = _sentences_with_gaps(target, range(8, 15), 0.5)
    y, _ = _sentences_with_gaps(other, range(15, 18), 0.3)
    start = int(0.35 * len(x))
    y = y[: len(x) - start]
    gain = np.sqrt(_active_power(x) / _active_power(y) / 10 ** (5 / 10))
    mix = x.astype(np.float64)
    mix[start : start + len(y)] += gain * y
    rng = np.random.default_rng(3)
    mix += np.sqrt(_active_power(x) / 10**4) * rng.standard_normal(len(mix))  # 40 dB SNR
    # the interferer's truth: its 10 ms frames within 40 dB of its loudest (not the padding)
    hop = SR // 100
    frames = (gain * y[: len(y) // hop * hop]).reshape(-1, hop).astype(np.float64)
    power = np.mean(frames**2, axis=1)
    loud = power > power.max() * 1e-4
    on = [start / SR + k / 100 for k in np.flatnonzero(loud)]
    return mix.astype(np.float32), [(t, t + 0.01) for t in on]


def test_piece_with_a_quieter_voice_underneath_is_not_kept(quiet_interferer):
    x, spans = quiet_interferer
    res = prompt([(x, SR)], preset="generic")
    assert res.pieces, res.summary()
    # the diarizer hears one voice in this reference: the speaker counter's evidence decides
    under = []
    for c in res.candidates:
        lo, hi = _cut_span(c)
        shared = sum(max(0.0, min(hi, e) - max(lo, s)) for s, e in spans)
        if shared > 0.1:
            under.append(c)
            assert not c.usable and not c.kept, (c.start, c.end, shared, c.overlap)
    assert under, "no piece of the reference holds the interferer: the test checks nothing"
    assert any("overlap" in c.reason for c in under)


def test_babble_reference_gets_the_babble_denoiser():
    """Babble (four other voices at 5 dB SNR, the prompt benchmark's tuning-voice set) fills the
    pauses, so the SNR estimate finds no noise; the speaker counter hears the background of
    voices and the chosen pieces get the ``auto`` policy's babble denoiser."""
    from benchmarks.prompt.sets import reference_set

    ref = reference_set("espeak-us-m3", "babble-5dB")[0]
    res = prompt([(ref.samples, SR)], preset="generic")
    assert res.pieces, res.summary()
    for p in res.pieces:
        assert any("background of voices" in a for a in p.actions), p.actions


def test_piece_longer_than_the_maximum_is_cut_at_energy_dips(voices, monkeypatch):
    """A reference with no pause to cut at (here: every pause found is ignored, as babble that
    never stops hides them) gives one usable piece longer than the preset's maximum: it is cut
    at its deepest energy dips (here the short silent gaps between sentences, never inside a
    sentence), and the warning says so."""
    import voxref.prompting.pieces as pieces
    from voxref.prompting import PromptCutAtDipWarning
    from voxref.separation.diarization import Diarizer

    target = voices[0]
    x, spans = _sentences_with_gaps(target, range(6), 0.25)
    assert len(x) / SR > 15.0
    found = pieces.pieces_between_pauses

    def one_piece(pause):
        runs = found(pause)
        return [(runs[0][0], runs[-1][1], runs[0][2], runs[-1][3])]

    monkeypatch.setattr(pieces, "pieces_between_pauses", one_piece)

    class OneVoice(Diarizer):  # the reference holds one voice: do not let it be split in two
        def __call__(self, audio, sample_rate=None, **options):
            return super().__call__(audio, sample_rate, num_speakers=1)

    with pytest.warns(PromptCutAtDipWarning, match="deepest energy dips inside the speech"):
        res = prompt([(x, SR)], preset="generic", diarizer=OneVoice())  # at most 15 s
    whole = [c for c in res.candidates if not (c.dip_before or c.dip_after)]
    assert len(whole) == 1 and whole[0].usable and whole[0].duration > 15.0
    assert res.pieces and 5.0 <= res.duration <= 15.0, res.summary()
    assert any(p.dip_before or p.dip_after for p in res.pieces)
    assert "not at pauses" in res.warnings[0]
    cuts = [p.start for p in res.pieces if p.dip_before] + [
        p.end for p in res.pieces if p.dip_after
    ]
    assert cuts
    for t in cuts:  # between two sentences, not inside one
        inside = [(s, e) for s, e in spans if s - 0.02 < t < e + 0.02]
        assert not inside, (t, inside)
        assert any("energy dip" in a for p in res.pieces for a in p.actions)


# --------------------------------------------------------------------------- CLI
def test_cli_writes_wav_and_sidecar(tmp_path, voices, capsys):
    from voxref.cli.main import main
    from voxref.separation.synthetic import SENTENCES, synthesize

    target = voices[0]
    gap = np.zeros(SR // 2, np.float32)
    x = np.concatenate(
        [gap] + [np.concatenate([synthesize(target, s), gap]) for s in SENTENCES[:3]]
    )
    ref = tmp_path / "ref.wav"
    sf.write(ref, x, SR)
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    out = tmp_path / "prompt.wav"
    assert main(["prompt", str(ref), str(bad), "-o", str(out), "--preset", "cosyvoice"]) == 0
    y, sr = sf.read(out)
    assert sr == 16000 and 3.0 < len(y) / sr <= 30.0
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["preset"]["name"] == "cosyvoice" and side["pieces"]
    fates = {f["source"]: f["status"] for f in side["references"]}
    assert fates[str(bad)] == "rejected" and fates[str(ref)] == "used"
    captured = capsys.readouterr()
    assert "prompt " in captured.out and "skipped" in captured.err
    # the report of the reference shows the pieces the sidecar lists, on its timeline
    report = tmp_path / "report.html"
    side_path = str(out.with_suffix(".json"))
    args = ["inspect", str(ref), "--prompt-sidecar", side_path, "--no-diarize", "-o", str(report)]
    assert main(args) == 0
    html = report.read_text(encoding="utf-8")
    spans = re.findall(
        r'class="prompt-span" data-piece="(\d+)" data-reference="1" '
        r'data-start="([\d.]+)" data-end="([\d.]+)"',
        html,
    )
    want = [(str(k + 1), p["start"], p["end"]) for k, p in enumerate(side["pieces"])]
    assert [(n, float(s), float(e)) for n, s, e in spans] == want
    assert html.count('class="prompt-piece-row"') == len(side["pieces"])
    assert html.count('<audio id="prompt-player"') == 1


@pytest.mark.parametrize(
    "name, message",
    [("dir", "is a directory"), ("prompt.mp4", "cannot write"), ("ref.wav", "is one of the")],
)
def test_cli_output_path_errors(tmp_path, capsys, name, message):
    from voxref.cli.main import main

    ref = tmp_path / "ref.wav"
    sf.write(ref, np.zeros(SR, np.float32), SR)
    (tmp_path / "dir").mkdir()
    assert main(["prompt", str(ref), "-o", str(tmp_path / name)]) == 1
    assert message in capsys.readouterr().err

"""The HTML page of a ``voxref inspect`` report (a :class:`string.Template`; no template engine).

Placeholders receive HTML fragments that the caller has already escaped with :func:`html.escape`.
The page loads nothing from the network: a Content-Security-Policy allows only ``data:`` images and
audio and the inline style and script, so a browser refuses anything else. The inline script marks
``<body>`` with ``data-images-loaded="true"`` once every ``<img>`` has decoded (``naturalWidth > 0``),
which the browser test reads back from the DOM.
"""

from __future__ import annotations

from string import Template

__all__ = ["PAGE", "CSP", "CSS", "IMAGES_LOADED_SCRIPT"]

#: Content-Security-Policy of the page: nothing but inline data may load.
CSP = (
    "default-src 'none'; img-src data:; media-src data:; "
    "style-src 'unsafe-inline'; script-src 'unsafe-inline'"
)

#: Sets ``data-images-loaded`` / ``data-images-ok`` / ``data-images-total`` on ``<body>`` after
#: load, and ``data-audio-ok`` / ``data-audio-total`` as the players read their audio's metadata.
IMAGES_LOADED_SCRIPT = """
(function () {
  function ready(el) { return el.readyState >= 1 && isFinite(el.duration) && el.duration > 0; }
  function markAudio() {
    var audios = Array.prototype.slice.call(document.getElementsByTagName("audio"));
    document.body.setAttribute("data-audio-total", String(audios.length));
    document.body.setAttribute("data-audio-ok", String(audios.filter(ready).length));
  }
  function mark() {
    var imgs = Array.prototype.slice.call(document.images);
    var ok = imgs.filter(function (img) { return img.complete && img.naturalWidth > 0; });
    document.body.setAttribute("data-images-total", String(imgs.length));
    document.body.setAttribute("data-images-ok", String(ok.length));
    document.body.setAttribute("data-images-loaded", ok.length === imgs.length ? "true" : "false");
    markAudio();
  }
  Array.prototype.forEach.call(document.getElementsByTagName("audio"), function (a) {
    a.addEventListener("loadedmetadata", markAudio);
  });
  if (document.readyState === "complete") { mark(); } else { window.addEventListener("load", mark); }
})();
"""

CSS = """
:root { --ok: #1b7f3b; --weak: #b36b00; --reject: #b3261e; --muted: #5f6368; --line: #dadce0; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #202124;
       margin: 0 auto; max-width: 1240px; padding: 18px 24px 48px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
p.meta, p.note, .muted { color: var(--muted); }
p.meta { margin: 0 0 6px; }
nav a { margin-right: 14px; color: #1a73e8; text-decoration: none; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 6px; text-align: left; vertical-align: top; }
th { background: #f1f3f4; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.file { min-width: 150px; max-width: 260px; overflow-wrap: anywhere; }
td.reasons { min-width: 190px; }
.scroll { overflow-x: auto; }
td ul { margin: 0; padding-left: 16px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
          margin-right: 6px; vertical-align: -1px; border: 1px solid rgba(0,0,0,.3); }
.pill { display: inline-block; white-space: nowrap; padding: 0 8px; border-radius: 9px; font-size: 12px; color: #fff; }
.pill.ok, .pill.used { background: var(--ok); }
.pill.weak, .pill.down-weighted { background: var(--weak); }
.pill.reject, .pill.rejected, .pill.failed { background: var(--reject); }
.pill.unknown { background: var(--muted); }
figure { margin: 8px 0 14px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 3px; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.row figure { flex: 1 1 440px; }
article.reference { border-top: 1px dashed var(--line); padding-top: 4px; }
audio { width: 100%; max-width: 640px; }
.timeline-bar { position: relative; height: 18px; max-width: 1100px; background: #f1f3f4;
                border: 1px solid var(--line); margin-bottom: 10px; }
.prompt-span { position: absolute; top: 0; bottom: 0; overflow: hidden; font-size: 11px;
               color: #202124; text-align: center; background: rgba(255,127,14,.55);
               border-left: 1px solid #ff7f0e; border-right: 1px solid #ff7f0e; }
code { background: #f1f3f4; padding: 0 3px; border-radius: 3px; }
"""

#: The page. Placeholders: title, csp, css, summary, nav, sections, script.
PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="$csp">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="$generator">
<title>$title</title>
<style>$css</style>
</head>
<body data-images-loaded="pending">
<header>
<h1>$title</h1>
$summary
<nav>$nav</nav>
</header>
<main>
$sections
</main>
<footer><p class="muted">Made by <code>voxref inspect</code> ($generator). Self-contained: images and audio
are embedded in this file; the PNGs are also saved beside it.</p></footer>
<script>$script</script>
</body>
</html>
"""
)

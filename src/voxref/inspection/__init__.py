"""``voxref inspect``: a self-contained HTML report of what voxref saw in the references.

:func:`voxref.inspect` (defined in :mod:`voxref.inspection.report`) writes the page. The stages:
:mod:`.collect` runs the models and reduces their results to the plain arrays of :mod:`.views`
(spread on each recording's timeline by :mod:`.timeline`), :mod:`.figures` draws them with
matplotlib, :mod:`.page` writes the HTML, :mod:`.media` embeds PNGs and WAVs as ``data:`` URIs,
:mod:`.template` holds the page's frame, :mod:`.prompt_view` places a reference prompt's pieces on the references' timelines, and
:mod:`.browser` renders it in headless Chromium (tests, screenshots).

The package is ``voxref.inspection`` and the function ``voxref.inspect``: two names, so importing
the package never replaces the function. Importing it is cheap: matplotlib, scikit-learn and the
models load on first use.
"""

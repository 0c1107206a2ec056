"""`churn report`: one self-contained HTML page per batch for the marketing team, in five
sections: this week's sends, what the last campaigns earned, why customers leave, who is at risk
and the value at stake, and whether the scores are right (the data scientist's details folded).

Layout: `inputs` reads every file once (paths from paths.yaml); `week`, `earned`, `leave`,
`risk` and `accuracy` are pure functions from those inputs to each section's numbers; `words`
holds every plain-word name and number format; `svg` draws the charts; `page` renders the
template in `templates/` with the style and script in `assets/` inlined.
"""

from __future__ import annotations

from pathlib import Path

from common.params import Params, load_params
from pipeline.io import write_with
from pipeline.paths import Paths
from pipeline.report.inputs import load_inputs
from pipeline.report.page import render


def build_report(paths: Paths, params: Params | None = None) -> str:
    """The page's HTML for the batch exports/latest.json names."""
    params = params or load_params()
    return render(load_inputs(paths, params.export), params, paths.report)


def write_report(paths: Paths, params: Params | None = None) -> Path:
    html = build_report(paths, params)
    return write_with(paths.report, lambda tmp: tmp.write_text(html, encoding="utf-8"))

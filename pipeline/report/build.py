"""The report's entry point: read the inputs, render the page, write it atomically."""

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

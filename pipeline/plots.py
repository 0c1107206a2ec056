"""Static images of the evaluation curves, the product matrix and the campaign results, logged
to MLflow by the stages (the HTML report draws its own charts, pipeline/report/svg.py). Built on
matplotlib's Figure directly: no pyplot state, no backend chosen at import."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from models.actions.product_matrix import CLASSES

#: a measured uplift's colour: its whole 95% interval above zero, below zero, or across it
VERDICT_COLOURS = {"works": "#1a7f37", "hurts": "#cf222e", "unclear": "#8c959f"}


def verdict_colours(ci_low: pd.Series, ci_high: pd.Series) -> list[str]:
    return [VERDICT_COLOURS["works" if lo > 0 else "hurts" if hi < 0 else "unclear"]
            for lo, hi in zip(ci_low, ci_high, strict=True)]

AXES = {"roc": ("fpr", "tpr", "ROC"),
        "precision_recall": ("recall", "precision", "Precision-recall"),
        "gains": ("share_contacted", "share_of_churners", "Cumulative gains"),
        "calibration": ("mean_predicted", "observed_rate", "Calibration")}


def curve_figure(kind: str, data: pd.DataFrame) -> Figure:
    x, y, title = AXES[kind]
    fig = Figure(figsize=(4.5, 4))
    ax = fig.subplots()
    for model, part in data.groupby("model", sort=False):
        ax.plot(part[x], part[y], label=model, lw=1.6 if model == "lightgbm" else 1.0)
    if kind in ("roc", "gains", "calibration"):
        ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=0.8)
    ax.set(xlabel=x.replace("_", " "), ylabel=y.replace("_", " "), title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def matrix_figure(matrix: pd.DataFrame) -> Figure:
    """Units sold against margin (or repeat-buyer share without costs), one colour per class."""
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    if matrix.empty:
        ax.text(0.5, 0.5, "no item data: no product matrix", ha="center", va="center")
        ax.set_axis_off()
        return fig
    y = matrix["margin"] if matrix["margin"].notna().any() else matrix["repeat_buyer_share"]
    for cls in CLASSES:
        part = matrix["product_class"] == cls
        ax.scatter(matrix.loc[part, "units"], y[part], s=12, label=cls, alpha=0.7)
    ax.set(xscale="log", xlabel="units sold (window)", ylabel=str(y.name).replace("_", " "),
           title="Product matrix")
    ax.legend()
    fig.tight_layout()
    return fig


def uplift_figure(results: pd.DataFrame) -> Figure:
    """Measured uplift with its 95% interval per action (all customers) and per reason x
    action, newest batch first; zero marked."""
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    rows = results[~results["pooled"].astype(bool)] if len(results) else results
    rows = rows[rows["segment"].eq("all") | rows["segment"].str.startswith("reason:")]
    if rows.empty:
        ax.text(0.5, 0.5, "no campaign with a closed response window yet", ha="center",
                va="center")
        ax.set_axis_off()
        return fig
    rows = rows.sort_values(["batch", "action", "segment"]).tail(30)
    labels = (rows["action"].str.replace("_", " ") + " · " + rows["segment"] + " ("
              + rows["batch"].astype(str) + ")").tolist()
    fig.set_size_inches(7.5, max(3.0, 0.9 + 0.28 * len(rows)))
    y = list(range(len(rows)))
    colours = verdict_colours(rows["ci_low"], rows["ci_high"])
    for i, (est, lo, hi, colour) in enumerate(zip(rows["uplift"], rows["ci_low"],
                                                  rows["ci_high"], colours, strict=True)):
        ax.errorbar([est], [i], xerr=[[est - lo], [hi - est]], fmt="o", ms=5, capsize=2,
                    color=colour)
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set(xlabel="uplift: treated minus control response rate (95% interval)",
           title="What the contacts did (green: works, red: hurts, grey: unclear)")
    fig.tight_layout()
    return fig


def qini_figure(curve: pd.DataFrame) -> Figure:
    """Qini curves of the learned uplift per action on held-out contacts, against random."""
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    if curve.empty:
        ax.text(0.5, 0.5, "not enough contact history to learn from yet", ha="center",
                va="center")
        ax.set_axis_off()
        return fig
    for action, part in curve.groupby("action", sort=True):
        line = ax.plot(part["fraction"], part["qini"], label=f"{action}")[0]
        ax.plot(part["fraction"], part["random"], ls=":", lw=0.8, color=line.get_color())
    ax.set(xlabel="share of contacts targeted, by predicted uplift",
           ylabel="incremental responses", title="Qini: learned uplift vs random (dotted)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig

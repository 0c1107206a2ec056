"""Static images of the evaluation curves (for MLflow and the HTML report)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

AXES = {"roc": ("fpr", "tpr", "ROC"),
        "precision_recall": ("recall", "precision", "Precision-recall"),
        "gains": ("share_contacted", "share_of_churners", "Cumulative gains"),
        "calibration": ("mean_predicted", "observed_rate", "Calibration")}


def curve_figure(kind: str, data: pd.DataFrame) -> plt.Figure:
    x, y, title = AXES[kind]
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for model, part in data.groupby("model", sort=False):
        ax.plot(part[x], part[y], label=model, lw=1.6 if model == "lightgbm" else 1.0)
    if kind in ("roc", "gains", "calibration"):
        ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=0.8)
    ax.set(xlabel=x.replace("_", " "), ylabel=y.replace("_", " "), title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig

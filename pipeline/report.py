"""`churn report`: one self-contained HTML file (plots embedded) for the marketing team."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from jinja2 import Environment, select_autoescape
from markupsafe import Markup
from matplotlib.figure import Figure

from common.errors import ChurnError
from pipeline.export import LATEST
from pipeline.io import read_json, write_with
from pipeline.paths import Paths
from pipeline.plots import curve_figure

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Churn report {{ as_of }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{margin-bottom:0}.sub{color:#666;margin-top:.2rem}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:8px;
padding:.8rem 1.2rem;min-width:150px}.card b{display:block;font-size:1.6rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;
font-size:.9rem;text-align:right}th{background:#f4f4f4}td.l,th.l{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:1rem}img{max-width:100%}.alert{color:#b00}
</style></head><body>
<h1>Churn report</h1>
<p class="sub">as of {{ as_of }} · model {{ model.name }} v{{ model.version }} ·
generated {{ generated }}</p>
<h2>Headline</h2>
<div class="cards">
<div class="card"><b id="customers">{{ "{:,}".format(score.customers) }}</b>customers scored</div>
<div class="card"><b id="at-risk">{{ "{:,}".format(score.at_risk) }}</b>at risk</div>
<div class="card"><b id="in-budget">{{ "{:,}".format(score.in_budget) }}</b>in this batch</div>
<div class="card"><b>{{ "{:,.0f}".format(score.value_at_stake_in_budget) }}</b>value at stake
in batch</div>
<div class="card"><b>{{ "%.3f"|format(model_auc) }}</b>validation ROC-AUC
(best baseline {{ "%.3f"|format(best_baseline_auc) }})</div>
</div>
<h2>Does the score find churners?</h2>
<div class="grid">{% for img in curve_images %}<img src="data:image/png;base64,{{ img }}"
alt="curve" width="420">{% endfor %}</div>
<h2>Why customers leave</h2>
<img src="data:image/png;base64,{{ reason_image }}" alt="reason mix" width="520">
{% if truth %}<p>Synthetic shop backtest: reason accuracy {{ "%.2f"|format(truth.accuracy) }},
macro-F1 {{ "%.2f"|format(truth.macro_f1) }} among {{ "{:,}".format(truth.n) }} lapsed
customers.</p>{% endif %}
<h2>Risk × value, and who is contacted</h2>
{{ grid_html }}
<h2>Product matrix</h2>
{% if products_image %}<img src="data:image/png;base64,{{ products_image }}" alt="product
matrix" width="520">{% endif %}
<p>{% for k, v in products.classes.items() %}{{ k }}: {{ v }}{% if not loop.last %} · {% endif
%}{% endfor %} {{ products.note }}</p>
<h2>Drift</h2>
{% if drift %}<p>Status: <b class="{{ 'alert' if drift.status == 'alert' else '' }}">
{{ drift.status }}</b>; score PSI {{ drift.score_psi }}.
{% for a in drift.alerts %}<br><span class="alert">{{ a }}</span>{% endfor %}</p>
{{ drift_html }}{% else %}<p>No drift check yet: run <code>churn drift</code>.</p>{% endif %}
<h2>What worked: campaigns measured against their control groups</h2>
{% if campaign_html %}<p>Source: {{ campaigns.source }}; {{ campaigns.batches_measured }}
batch(es) with a closed {{ campaigns.response_days }}-day response window. Uplift = response
rate of the contacted minus that of the random control group, with its 95% interval.</p>
{{ campaign_html }}{% else %}<p>No campaign with a closed response window yet: every batch
keeps a random control group, so the next runs will show what each action did.</p>{% endif %}
<div class="grid">{% for img in campaign_images %}<img src="data:image/png;base64,{{ img }}"
alt="campaigns" width="520">{% endfor %}</div>
{% if policy_html %}<p>The learned policy on held-out contacts (response rate if customers had
got the policy's action, inverse-propensity estimate):</p>{{ policy_html }}{% endif %}
<h2>The 20 most valuable customers at risk</h2>
{{ top_html }}
</body></html>
"""


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()


def _reason_figure(score: dict, confusion: pd.DataFrame) -> Figure:
    mix = pd.Series(score["reason_mix"], name="at risk now")
    frames = [mix]
    if not confusion.empty:
        frames.append(confusion["actual"].value_counts(normalize=True).rename(
            "backtest: true cause"))
        frames.append(confusion["predicted"].value_counts(normalize=True).rename(
            "backtest: reason given"))
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    pd.concat(frames, axis=1).fillna(0).plot.bar(ax=ax, rot=0)
    ax.set(ylabel="share of customers", title="Reason mix")
    fig.tight_layout()
    return fig


def _lift_figure(gains: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(4.5, 4))
    ax = fig.subplots()
    for model, part in gains.groupby("model", sort=False):
        part = part[part["share_contacted"] > 0.02]
        ax.plot(part["share_contacted"], part["share_of_churners"] / part["share_contacted"],
                label=model)
    ax.set(xlabel="share contacted", ylabel="lift", title="Lift")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def risk_value_grid(export: pd.DataFrame) -> pd.DataFrame:
    value = pd.qcut(export["value_at_stake"].rank(method="first"), 3,
                    labels=["low value", "mid value", "high value"])
    grid = pd.crosstab(export["risk_tier"], value)
    batch = pd.crosstab(export["risk_tier"], value, values=export["in_budget"], aggfunc="sum")
    cells = grid.astype(str) + " (" + batch.fillna(0).astype(int).astype(str) + " in batch)"
    return cells.reindex([t for t in ("high", "medium", "low") if t in cells.index])


def build_report(paths: Paths) -> str:
    exports = paths.exports
    for needed in (paths.evaluation, paths.score_report, exports / LATEST):
        if not needed.exists():
            raise ChurnError(f"{needed} not found: run `churn run` first")
    metrics, score = read_json(paths.evaluation), read_json(paths.score_report)
    latest = read_json(exports / LATEST)
    export = pd.read_parquet(exports / next(f for f in latest["files"]
                                             if f.endswith(".parquet")))
    plots = paths.curves
    short = metrics.get("score_source") == "btyd"  # no labelled snapshot: no curves
    curve_images = [] if short else [_png(curve_figure(kind, pd.read_csv(plots / f"{kind}.csv")))
                                     for kind in ("gains", "calibration")]
    if not short:
        curve_images.insert(1, _png(_lift_figure(pd.read_csv(plots / "gains.csv"))))
    confusion_path = plots / "reason_confusion.csv"
    confusion = pd.read_csv(confusion_path) if confusion_path.exists() and not short \
        else pd.DataFrame()
    products = read_json(paths.products_report) if paths.products_report.exists() \
        else {"classes": {}, "note": "no product matrix"}
    product_png = paths.matrix_plot
    drift = read_json(paths.drift) if paths.drift.exists() else None
    top = export[export["risk_tier"] != "low"].nlargest(20, "value_at_stake")[
        ["customer_id", "churn_probability", "value_at_stake", "reason", "top_drivers",
         "action", "channel", "offer"]]
    baselines = [b["all"]["roc_auc"] for b in metrics.get("baselines", {}).values()]
    campaigns = read_json(paths.campaigns_report) if paths.campaigns_report.exists() \
        else {}
    results_path = paths.results
    results = pd.read_csv(results_path) if results_path.exists() else pd.DataFrame()
    overall = results[results["segment"] == "all"] if len(results) else results
    policy = read_json(paths.policy_report) if paths.policy_report.exists() else {}
    values = dict(policy.get("policy_value") or {})
    gain = policy.get("learned_minus_best_single")
    if values and gain:
        values["learned − best single (95% interval)"] = \
            f"{gain['gain']:+.4f} ({gain['ci_low']:+.4f} to {gain['ci_high']:+.4f})"
    campaign_images = [base64.b64encode(png.read_bytes()).decode()
                       for png in (paths.uplift_plot, paths.qini_plot) if png.exists()]
    env = Environment(autoescape=select_autoescape(default=True))
    return env.from_string(TEMPLATE).render(
        as_of=score["as_of"], model=score["model"], score=score,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        model_auc=metrics["model"]["all"]["roc_auc"] if not short else float("nan"),
        best_baseline_auc=max(baselines, default=float("nan")),
        curve_images=curve_images, reason_image=_png(_reason_figure(score, confusion)),
        truth=read_json(paths.reasons) if paths.reasons.exists() else None,
        grid_html=Markup(risk_value_grid(export).to_html(classes="grid-table")),
        products=products,
        products_image=base64.b64encode(product_png.read_bytes()).decode()
        if product_png.exists() else None,
        drift=drift,
        drift_html=Markup(pd.DataFrame(drift["features"]).head(15).to_html(index=False))
        if drift else "",
        top_html=Markup(top.to_html(index=False, float_format=lambda v: f"{v:,.2f}",
                                    table_id="top-customers")),
        campaigns=campaigns, campaign_images=campaign_images,
        campaign_html=Markup(overall.drop(columns=["segment", "pooled"]).to_html(
            index=False, float_format=lambda v: f"{v:,.3f}", table_id="campaign-results"))
        if len(overall) else "",
        policy_html=Markup(pd.DataFrame({"policy": list(values), "response rate":
                                         list(values.values())}).to_html(
            index=False, float_format=lambda v: f"{v:.4f}")) if values else "",
    )


def write_report(paths: Paths) -> Path:
    html = build_report(paths)
    return write_with(paths.report, lambda tmp: tmp.write_text(html))

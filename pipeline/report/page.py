"""The page: each section's numbers (week, earned, leave, risk, accuracy) turned into text,
tables and charts for the template, then rendered into one self-contained HTML file (CSS,
script and charts inline; nothing to fetch)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from common.params import Params
from pipeline.report import accuracy, earned, leave, risk, svg, week, words
from pipeline.report.inputs import Inputs

HERE = Path(__file__).parent


def _week(i: Inputs, p: Params, report_path: Path) -> dict:
    cur = p.report.currency
    n = week.counts(i.export)
    rows = week.plan(i.export, p.report.contact_costs)
    wide = week.by_action(rows)
    chart = svg.stacked_bars(
        "Customers to contact this week, per action and channel",
        [(words.action(a), [(words.channel(c), float(v), svg.CHANNEL_COLOURS.get(c, svg.MUTED))
                            for c, v in r.items() if v]) for a, r in wide.iterrows()],
        words.count, legend=[(words.channel(c), svg.CHANNEL_COLOURS.get(c, svg.MUTED))
                             for c in wide.columns]) if len(wide) else None
    listed, total = week.send_list(i.export, p.report.send_list_rows)
    data = {"rows": week.send_rows(listed, cur), "total": total, "held_out": n["held_out"],
            "batch": i.score["as_of"]}
    files = [{"name": f.name, "href": Path(os.path.relpath(f, report_path.parent)).as_posix()}
             for f in i.export_files]
    return {"n": n, "plan": rows, "chart": chart, "data": data, "files": files,
            "cost": float(rows["cost"].sum()) if len(rows) else 0.0,
            "send_day": week.send_day(i.score["as_of"]),
            "holdout_share": p.campaigns.holdout_share, "listed": len(listed)}


def _earned(i: Inputs, p: Params) -> dict:
    cur = p.report.currency
    rows = earned.measured(i.results, i.campaign_dates)
    out: dict = {"any": not rows.empty, "source": i.campaigns.get("source"),
                 "response_days": i.campaigns.get("response_days", p.campaigns.response_days)}
    if rows.empty:
        return out
    last = earned.latest(rows)
    by_reason = earned.latest_by_reason(rows)
    first = last.iloc[0]
    name = earned.campaign_name(first["batch"], first["date"])
    together = earned.combined(rows)
    shown = earned.chart_rows(together)
    forest = svg.forest(
        "Extra customers who bought per 100 contacted, all closed campaigns together",
        [{"label": words.action(r.action) + ("" if r.segment == "all" else
                                             f" · {words.segment(r.segment)}"),
          "est": r.uplift, "lo": r.ci_low, "hi": r.ci_high, "verdict": r.verdict,
          "verdict_text": words.VERDICTS[r.verdict],
          "note": f"{words.signed(r.extra)} customers, {words.money(r.net, cur)} net"}
         for r in shown.itertuples()],
        "extra buyers per 100 contacted, against the control group (95% interval)")
    tr = earned.trend(rows)
    dates = sorted(tr["date"].unique())
    series = []
    for k, (act, g) in enumerate(tr.groupby("action", sort=True)):
        by = g.set_index("date")
        series.append({"name": words.action(act), "colour": svg.SERIES[k % len(svg.SERIES)],
                       "values": [float(by.loc[d, "uplift"]) if d in by.index else None
                                  for d in dates],
                       "lo": [float(by.loc[d, "ci_low"]) if d in by.index else None
                              for d in dates],
                       "hi": [float(by.loc[d, "ci_high"]) if d in by.index else None
                              for d in dates]})
    trend = svg.lines("Extra customers per 100 contacted, campaign by campaign",
                      words.day_labels(dates), series,
                      words.points, width=900, zero=True) \
        if len(dates) > 1 else None
    table = earned.campaigns(rows)
    table["name"] = [earned.campaign_name(b, None) for b in table["batch"]]
    overall = rows[rows["segment"] == "all"].copy()
    overall["name"] = [earned.campaign_name(b, None) for b in overall["batch"]]
    return {**out, "latest_name": name, "latest_date": first["date"],
            "latest": [{"row": r, "text": earned.sentence(r, cur),
                        "by_reason": [earned.sentence(s, cur) for _, s in
                                      by_reason[by_reason["action"] == r["action"]].iterrows()]}
                       for _, r in last.iterrows()],
            "latest_net": float(last["net"].sum()), "latest_extra": float(last["extra"].sum()),
            "total_net": float(rows.loc[rows["segment"] == "all", "net"].sum()),
            "total_extra": float(rows.loc[rows["segment"] == "all", "extra"].sum()),
            "campaigns": table, "forest": forest, "trend": trend, "detail": overall,
            "by_reason": bool(shown["segment"].ne("all").any()),
            "together": shown}


def _leave(i: Inputs, p: Params) -> dict:
    mix = leave.mix_now(i.export, i.score.get("reason_mix") or {})
    chart = svg.bars("Why the customers at risk may leave",
                     [(words.reason(r.reason), r.share, svg.REASON_COLOURS.get(r.reason,
                                                                               svg.MUTED))
                      for r in mix.itertuples()], words.pct) if len(mix) else None
    hist = leave.mix_trend(i.reason_history)
    trend = svg.lines(
        "Reason mix among the customers at risk, batch by batch",
        words.day_labels(list(hist.index)),
        [{"name": words.reason(c), "colour": svg.REASON_COLOURS.get(c, svg.MUTED),
          "values": [float(v) for v in hist[c]]} for c in hist.columns],
        words.pct, width=900, y_range=(0.0, 1.0)) if len(hist) > 1 else None
    conf = leave.confidence(i.export, i.reasons)
    return {"mix": mix, "chart": chart, "trend": trend, "batches": len(hist),
            "headline": leave.headline(mix), "evidence": leave.evidence(i.export),
            "confidence": conf, "backtest": i.reasons, "apart": leave.telling_apart(i.tables),
            "similar_only": leave.similar_only(i.export),
            "tables": sorted({t.split(".")[0] for t in i.tables})}


def _risk(i: Inputs, p: Params) -> dict:
    cur = p.report.currency
    tiers = risk.tiers(i.export, dict(p.score.risk_tiers))
    cells, upper = risk.grid(i.export)
    labels = risk.band_labels(upper, cur)
    tier_names = [t for t in risk.TIER_ORDER if t in set(cells["risk_tier"])] + sorted(
        set(cells["risk_tier"]) - set(risk.TIER_ORDER))
    top = float(cells["value"].max()) if len(cells) else 1.0
    grid = {(tier_names.index(r.risk_tier), int(r.band)): (
        r.value / top if top else 0.0,
        [f"{words.count(r.customers)} customers", f"{words.money(r.value, cur)} at stake",
         f"{words.count(r.sends)} contacted"]) for r in cells.itertuples()}
    heat = svg.heatmap("Customers by risk and value at stake", [words.risk_tier(t) for t in
                                                                tier_names],
                       [f"value at stake {lab}" for lab in labels], grid) if len(cells) else None
    adv, n_adv = risk.advocates(i.export, top=10)
    risky = i.export[i.export["risk_tier"].astype(str) != "low"]
    return {"tiers": tiers, "heat": heat, "membership": risk.membership(i.export),
            "advocates": adv, "n_advocates": n_adv, "at_risk": int(len(risky)),
            "customers": int(len(i.export)), "value": float(risky["value_at_stake"].sum()),
            "listed_value": float(i.export.loc[i.export["send"], "value_at_stake"].sum()),
            "floors": dict(p.score.risk_tiers), "membership_floors":
            dict(p.features.membership_tiers)}


def _accuracy(i: Inputs, p: Params, horizon: int) -> dict:
    closed = accuracy.realised(i.campaigns)
    rules = accuracy.model_vs_rules(i.evaluation)
    pending = accuracy.first_close(i.score_dates, horizon, closed)
    picture = None
    title = "Predicted against actual share who stopped buying, per past batch"
    if len(closed) > 3:
        picture = svg.lines(
            title, words.day_labels(list(closed["as_of"])),
            [{"name": "predicted", "colour": svg.SERIES[0],
              "values": closed["mean_predicted"].astype(float).tolist()},
             {"name": "what happened", "colour": svg.SERIES[1],
              "values": closed["churn_rate"].astype(float).tolist()}],
            words.pct, y_range=(0.0, 1.0))
    elif len(closed):
        picture = svg.bars(title, [
            (f"{label}, {what}", float(r[col]), colour)
            for label, (_, r) in zip(words.day_labels(list(closed["as_of"])),
                                     closed.iterrows(), strict=True)
            for what, col, colour in (("predicted", "mean_predicted", svg.SERIES[0]),
                                      ("what happened", "churn_rate", svg.SERIES[1]))],
            words.pct)
    elif rules:
        auc = {"lightgbm": rules["model"]} | {k: v["all"]["roc_auc"] for k, v in
                                              i.evaluation["baselines"].items()}
        picture = svg.bars("How often each method puts a leaver above a stayer (in 100)",
                           [(words.model(k), v * 100, svg.SERIES[0] if k == "lightgbm"
                             else svg.MUTED) for k, v in sorted(auc.items(),
                                                                key=lambda kv: -kv[1])],
                           lambda v: words.count(v))
    names = ["lightgbm", *(i.evaluation.get("baselines") or {})]
    colours = {words.model(n): svg.SERIES[k % len(svg.SERIES)] for k, n in enumerate(names)}
    curves = {}
    for kind, (x, y, xt, yt) in {
            "roc": ("fpr", "tpr", "share of stayers flagged", "share of leavers flagged"),
            "calibration": ("mean_predicted", "observed_rate", "predicted chance of leaving",
                            "share who actually left")}.items():
        pts = accuracy.curve(i.curves.get(kind), x, y)
        pts = {words.model(k): v for k, v in pts.items()}
        if pts:
            curves[kind] = svg.xy({"roc": "Leavers found against stayers flagged (ROC)",
                                   "calibration": "Predicted against actual (calibration)"}[
                kind], pts, colours, xt, yt)
    return {"closed": closed, "rules": rules, "pending": pending, "picture": picture,
            "headline": accuracy.headline(closed, rules, horizon, pending),
            "metrics": accuracy.metrics_table(i.evaluation), "curves": curves,
            "drift": i.drift, "drift_rows": accuracy.drift(i.drift),
            "drift_batch": ((i.drift or {}).get("as_of_compared") or [None])[0],
            "retrained": accuracy.retrained_now(i.evaluation, i.score),
            "gate": i.evaluation.get("promotion") or {},
            "rolling": (i.evaluation.get("rolling") or {}).get("folds") or [],
            "source": i.evaluation.get("score_source"), "note": i.evaluation.get("note")}


def _environment(currency: str) -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    say = words.lookup
    env.filters.update(
        count=words.count, pct=words.pct, small_pct=words.small_pct, points=words.points,
        day=words.day, signed=words.signed, money=partial(words.money, currency=currency),
        action=words.action, channel=words.channel, channel_noun=words.channel_noun,
        offer=words.offer, reason=words.reason, tier=words.risk_tier, member=words.membership,
        model=words.model, table=words.table, need=words.need, segment=words.segment,
        group=partial(say, words.CUSTOMER_GROUPS), meaning=partial(say, words.REASON_MEANING),
        source=partial(say, words.ACTION_SOURCES), verdict=partial(say, words.VERDICTS),
        drift_level=partial(say, words.DRIFT_LEVELS),
        capitalize_first=lambda s: s[:1].upper() + s[1:])
    return env


def _script_json(data: object) -> Markup:
    """JSON safe inside a <script> element (no `</script>` can end it early)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def render(i: Inputs, p: Params, report_path: Path) -> str:
    horizon = int(i.features.get("horizon_days") or p.churn.horizon_days)
    context = {
        "as_of": i.score["as_of"], "score": i.score, "horizon": horizon,
        "currency": p.report.currency,
        "generated": datetime.now(UTC).strftime("%d %B %Y, %H:%M UTC").lstrip("0"),
        "week": _week(i, p, report_path), "earned": _earned(i, p), "leave": _leave(i, p),
        "risk": _risk(i, p), "acc": _accuracy(i, p, horizon),
        "css": Markup((HERE / "assets" / "report.css").read_text()),
        "js": Markup((HERE / "assets" / "report.js").read_text()),
        "colours": svg.VERDICT_COLOURS, "reason_colours": svg.REASON_COLOURS,
    }
    context["send_json"] = _script_json(context["week"]["data"])
    return _environment(p.report.currency).get_template("report.html.j2").render(context)

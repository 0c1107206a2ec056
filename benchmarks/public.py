"""Public benchmark on CDNOW: score every customer as of a date and check against what they did
next, for the pipeline and the simple baselines, on exactly the same customers.

CDNOW (23,570 customers who first bought in Q1 1997, their orders up to 1998-06-30) comes from
the archived `lifetimes` package: `pip download lifetimes==0.11.3` at benchmark time, into a
cache folder (never at pipeline run time, nothing else is downloaded). The pipeline reads it
through a params.yaml mapping (data.tables.orders), no conversion code, in a throw-away copy of
the project, with `python -m pipeline.cli run --as-of ... --horizon-days ...`.

Protocols (as_of, horizon): 1997-12-31 / 182 days and 1997-09-30 / 273 days. Truth: churned =
no purchase in (as_of, as_of + horizon]. Models: the pipeline's export; days since the last
order (a one-feature logistic fit at as_of - horizon when that cutoff has customers); logistic
regression on log R, F, M fitted at as_of - horizon; BG/NBD and Pareto/NBD (pymc-marketing, MAP,
in weeks, on the distinct purchase days up to as_of) as P(no purchase in the horizon); BG/NBD
from models.churn.btyd (maximum likelihood, the pipeline's feature code). Metrics from
models.churn.metrics, overall and for one-time vs repeat buyers (one purchase day by as_of).

    .venv/bin/python benchmarks/public.py [--out reports/public_benchmark.json]
        [--cache .cache/public] [--protocols 1997-12-31:182 1997-09-30:273] [--no-pareto]
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script: the project root, not benchmarks/ (its features.py), comes first
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import json
import logging
import os
import shutil
import subprocess
import tarfile
import time
import warnings
import zipfile
from datetime import date, timedelta

import numpy as np
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from common.ids import canonical_ids
from models.churn.btyd import BgnbdFit, btyd_features, btyd_inputs, predict
from models.churn.metrics import sliced_metrics
from pipeline.project import copy_project

ROOT = Path(__file__).resolve().parents[1]
LIFETIMES = "lifetimes==0.11.3"
MEMBER = "lifetimes/datasets/CDNOW_master.txt"
DATA_FILE = "CDNOW_master.txt"
PROTOCOLS = ("1997-12-31:182", "1997-09-30:273")
#: the whole conversion: the file has a header line (customer_id date number_of_cds
#: dollar_value), which `names` replaces
ORDERS_MAPPING = {
    "format": "whitespace", "header": True, "names": ["cust", "day", "qty", "paid"],
    "date_format": "%Y%m%d",
    "columns": {"customer_id": "cust", "order_ts": "day", "quantity": "qty", "amount": "paid"},
}
COPY_MARKER = ".public_benchmark_copy"
REFERENCE = {"1997-12-31:182": {"recency": 0.7955, "Pareto/NBD": 0.7998, "pipeline": 0.804,
                                "logistic regression, 31 RFM/timing features": 0.806},
             "1997-09-30:273": {"Pareto/NBD": 0.763}}


# --- data ------------------------------------------------------------------------------------

def fetch_cdnow(cache: Path) -> Path:
    """CDNOW_master.txt from the lifetimes distribution, downloaded once into `cache`."""
    target = cache / DATA_FILE
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    found = subprocess.run([*pip, "index", "versions", "lifetimes"], capture_output=True,
                           text=True)
    line = next((s for s in found.stdout.splitlines() if s.startswith("lifetimes")), "")
    print(f"pip index versions lifetimes: {line or 'not listed'}; downloading {LIFETIMES}")
    download = cache / "download"
    subprocess.run([*pip, "download", LIFETIMES, "--no-deps", "-d", str(download)], check=True,
                   capture_output=True, text=True)
    for archive in sorted(download.iterdir()):
        if archive.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(archive) as zf:
                name = next((n for n in zf.namelist() if n.endswith(MEMBER)), None)
                if name:
                    target.write_bytes(zf.read(name))
                    return target
        elif archive.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(archive) as tf:
                member = next((m for m in tf.getmembers() if m.name.endswith(MEMBER)), None)
                if member:
                    target.write_bytes(tf.extractfile(member).read())
                    return target
    raise SystemExit(f"{MEMBER} not found in {sorted(p.name for p in download.iterdir())}")


def read_cdnow(path: Path) -> pd.DataFrame:
    """The raw file as (customer_id, day, amount), ids in the pipeline's one spelling."""
    raw = pd.read_csv(path, sep=r"\s+", header=0, names=ORDERS_MAPPING["names"], dtype=str)
    return pd.DataFrame({"customer_id": canonical_ids(raw["cust"]),
                         "day": pd.to_datetime(raw["day"], format="%Y%m%d"),
                         "amount": pd.to_numeric(raw["paid"], errors="coerce").fillna(0.0)})


def state(orders: pd.DataFrame, cutoff: date) -> pd.DataFrame:
    """Per customer who bought at or before the cutoff: R, F, M (orders), purchase days and
    the BTYD summary on distinct purchase days (x, t_x, T in days)."""
    cut = pd.Timestamp(cutoff)
    past = orders[orders["day"] <= cut]
    g = past.groupby("customer_id")
    out = pd.DataFrame({
        "first": g["day"].min(), "last": g["day"].max(), "orders": g.size(),
        "monetary_total": g["amount"].sum(), "purchase_days": g["day"].nunique()})
    out["recency_days"] = (cut - out["last"]).dt.days.astype(float)
    out["tenure_days"] = (cut - out["first"]).dt.days.astype(float)
    out["frequency"] = out["orders"].astype(float)
    return out.reset_index()


def truth(orders: pd.DataFrame, cutoff: date, horizon: int) -> pd.DataFrame:
    """churned = no purchase in (cutoff, cutoff + horizon], for everyone who bought by then."""
    now = state(orders, cutoff)[["customer_id", "purchase_days"]]
    lo, hi = pd.Timestamp(cutoff), pd.Timestamp(cutoff + timedelta(days=horizon))
    buyers = set(orders.loc[(orders["day"] > lo) & (orders["day"] <= hi), "customer_id"])
    now["churned"] = (~now["customer_id"].isin(buyers)).astype(int)
    return now


# --- the pipeline, in a throw-away copy ------------------------------------------------------

def make_project(dest: Path) -> Path:
    """A fresh copy of the project in its own git repo (pipeline/project.py)."""
    if dest.exists():
        if not (dest / COPY_MARKER).exists():
            raise SystemExit(f"{dest} exists and is not a copy made by this script")
        shutil.rmtree(dest)
    copy_project(dest)
    (dest / COPY_MARKER).write_text("made by benchmarks/public.py; safe to delete\n")
    return dest


def point_at(project: Path, data_file: Path) -> None:
    """params.yaml of the copy: the CDNOW file and its mapping, nothing else changed."""
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params.setdefault("data", {})["input"] = str(data_file.resolve())
    params["data"]["tables"] = {"orders": ORDERS_MAPPING}
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def run_pipeline(project: Path, as_of: str, horizon: int) -> dict:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--as-of", as_of,
         "--horizon-days", str(horizon)], cwd=project, env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    export = project / "exports" / f"churn_scores_{as_of}.parquet"
    if proc.returncode != 0 or not export.exists():
        lines = [s.strip() for s in (proc.stdout + "\n" + proc.stderr).splitlines() if s.strip()]
        errors = [s for s in lines if "error" in s.lower()]
        return {"ok": False, "seconds": seconds, "returncode": proc.returncode,
                "error": (errors or lines or ["no output"])[0][:400]}
    reports = {}
    for name in ("metrics.json", "features.json", "train.json", "evaluation.json"):
        path = project / "reports" / name
        if path.exists():
            reports[name] = json.loads(path.read_text())
    return {"ok": True, "seconds": seconds, "export": str(export), "reports": reports}


# --- baselines -------------------------------------------------------------------------------

def _logistic():
    return make_pipeline(FunctionTransformer(np.log1p), StandardScaler(),
                         LogisticRegression(max_iter=1000))


def earlier_fits(orders: pd.DataFrame, now: pd.DataFrame, as_of: date, horizon: int) -> dict:
    """Recency-only and RFM logistic regressions fitted at as_of - horizon (labels in
    (as_of - horizon, as_of], all known at as_of), applied to the customers at as_of."""
    before = as_of - timedelta(days=horizon)
    fit = state(orders, before).merge(truth(orders, before, horizon)[["customer_id", "churned"]],
                                      on="customer_id")
    out: dict[str, np.ndarray | str] = {}
    if len(fit) < 50 or fit["churned"].nunique() < 2:
        note = (f"no fit: {len(fit)} customers had bought by {before} (the data starts "
                f"{orders['day'].min().date()})")
        out["recency (days since last order)"] = now["recency_days"].to_numpy(float)
        out["_note"] = note + "; recency is ranked by raw days (no probability: Brier n/a)"
        out["RFM logistic"] = note
        return out
    for name, cols in (("recency (days since last order)", ["recency_days"]),
                       ("RFM logistic", ["recency_days", "frequency", "monetary_total"])):
        model = _logistic().fit(fit[cols], fit["churned"])
        out[name] = model.predict_proba(now[cols])[:, 1]
    return out


def _btyd_weeks(now: pd.DataFrame) -> pd.DataFrame:
    """pymc-marketing's (customer_id, frequency, recency, T) on distinct purchase days, in
    weeks (its default priors assume a unit of about that size)."""
    return pd.DataFrame({
        "customer_id": np.arange(len(now)),
        "frequency": (now["purchase_days"] - 1).to_numpy(float),
        "recency": ((now["tenure_days"] - now["recency_days"]) / 7.0).to_numpy(float),
        "T": (now["tenure_days"] / 7.0).to_numpy(float)})


def _squeeze(values) -> np.ndarray:
    arr = np.asarray(values, float)
    return arr.reshape(-1, arr.shape[-1]).mean(axis=0) if arr.ndim > 1 else arr


def _days_view(now: pd.DataFrame) -> pd.DataFrame:
    """The same customers as models.churn.btyd sees them: frequency = distinct purchase days."""
    return pd.DataFrame({"customer_id": now["customer_id"], "cutoff": pd.Timestamp("2000-01-01"),
                         "frequency": now["purchase_days"].astype(float),
                         "recency_days": now["recency_days"], "tenure_days": now["tenure_days"]})


def btyd_baselines(now: pd.DataFrame, horizon: int, pareto: bool) -> tuple[dict, dict]:
    """P(no purchase in the horizon) from BG/NBD (pymc-marketing MAP; both its own
    expected_probability_no_purchase and the closed form of models.churn.btyd on its parameters),
    BG/NBD from models.churn.btyd, and Pareto/NBD (pymc-marketing MAP)."""
    scores: dict[str, np.ndarray | str] = {}
    info: dict[str, dict] = {}
    start = time.perf_counter()
    ours = btyd_features(_days_view(now), horizon)
    scores["BG/NBD (models.churn.btyd, MLE)"] = ours["btyd_p_no_purchase"].to_numpy()
    info["BG/NBD (models.churn.btyd, MLE)"] = {**next(iter(ours.attrs["btyd_fits"].values())),
                                         "seconds": time.perf_counter() - start}
    data = _btyd_weeks(now)
    logging.getLogger("pymc").setLevel(logging.ERROR)
    logging.getLogger("pytensor").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymc_marketing.clv import BetaGeoModel, ParetoNBDModel

        try:
            start = time.perf_counter()
            bg = BetaGeoModel(data=data)
            bg.fit(method="map", progressbar=False)
            params = {k: float(np.asarray(bg.fit_result[k]).squeeze())
                      for k in ("r", "alpha", "a", "b")}
            lib = _squeeze(bg.expected_probability_no_purchase(t=horizon / 7.0, data=data))
            fit = BgnbdFit("bgnbd", r=params["r"], alpha=params["alpha"] * 7.0, a=params["a"],
                           b=params["b"], rows=len(data))
            closed = predict(fit, btyd_inputs(_days_view(now)), horizon)["btyd_p_no_purchase"]
            scores["BG/NBD (pymc-marketing MAP)"] = closed.to_numpy()
            scores["BG/NBD (pymc-marketing's own P(no purchase))"] = np.clip(lib, 0, 1)
            info["BG/NBD (pymc-marketing MAP)"] = {**params, "unit": "weeks",
                                                   "seconds": time.perf_counter() - start}
        except Exception as exc:  # noqa: BLE001 - a failed baseline is a row, not a crash
            scores["BG/NBD (pymc-marketing MAP)"] = f"failed: {exc}"
        if pareto:
            try:
                start = time.perf_counter()
                pn = ParetoNBDModel(data=data)
                pn.fit(method="map", progressbar=False)
                params = {k: float(np.asarray(pn.fit_result[k]).squeeze())
                          for k in ("r", "alpha", "s", "beta")}
                p0 = _squeeze(pn.expected_purchase_probability(
                    data=data, n_purchases=0, future_t=horizon / 7.0))
                bad = int((~np.isfinite(p0)).sum())
                scores["Pareto/NBD (pymc-marketing MAP)"] = np.clip(np.nan_to_num(p0, nan=1.0),
                                                                    0, 1)
                info["Pareto/NBD (pymc-marketing MAP)"] = {
                    **params, "unit": "weeks", "non_finite": bad,
                    "seconds": time.perf_counter() - start}
            except Exception as exc:  # noqa: BLE001
                scores["Pareto/NBD (pymc-marketing MAP)"] = f"failed: {exc}"
    return scores, info


# --- evaluation ------------------------------------------------------------------------------

def evaluate(protocol: str, orders: pd.DataFrame, project: Path, pareto: bool) -> dict:
    as_of_text, horizon_text = protocol.split(":")
    as_of, horizon = date.fromisoformat(as_of_text), int(horizon_text)
    result: dict = {"as_of": as_of_text, "horizon_days": horizon, "rows": {}, "notes": []}
    print(f"\n== protocol: as of {as_of}, horizon {horizon} days ==", flush=True)
    run = run_pipeline(project, as_of_text, horizon)
    result["pipeline_run"] = {k: v for k, v in run.items() if k != "reports"}
    result["pipeline_reports"] = run.get("reports", {})
    print(f"pipeline: {'ok' if run['ok'] else 'FAILED'} in {run['seconds']:.0f} s"
          + ("" if run["ok"] else f": {run['error']}"), flush=True)

    now = state(orders, as_of).merge(truth(orders, as_of, horizon)[["customer_id", "churned"]],
                                     on="customer_id")
    scores: dict[str, np.ndarray | str] = {}
    if run["ok"]:
        export = pd.read_parquet(run["export"], columns=["customer_id", "churn_probability",
                                                         "score_source"])
        source = "LightGBM, calibrated" if (export["score_source"] == "model").all() else \
            "short-history BTYD fallback"
        merged = now.merge(export.drop(columns="score_source"), on="customer_id", how="left")
        missing = int(merged["churn_probability"].isna().sum())
        if missing:
            result["notes"].append(f"{missing} customers not in the pipeline's export")
        now = merged[merged["churn_probability"].notna()].reset_index(drop=True)
        scores[f"pipeline ({source})"] = now["churn_probability"].to_numpy(float)
    else:
        scores["pipeline"] = f"failed: {run['error']}"

    earlier = earlier_fits(orders, now, as_of, horizon)
    raw_recency = "_note" in earlier
    if raw_recency:
        result["notes"].append(earlier.pop("_note"))
    scores.update(earlier)
    btyd, info = btyd_baselines(now, horizon, pareto)
    scores.update(btyd)
    result["btyd_fits"] = info

    y = now["churned"].to_numpy(int)
    one_time = now["purchase_days"].to_numpy() == 1
    result["customers"] = int(len(now))
    result["churn_rate"] = float(y.mean())
    result["one_time_share"] = float(one_time.mean())
    for name, score in scores.items():
        if isinstance(score, str):
            result["rows"][name] = {"error": score}
            continue
        metrics = sliced_metrics(y, np.asarray(score, float), one_time)
        if name.startswith("recency") and raw_recency:
            for part in metrics.values():  # raw days: a ranking, not a probability
                for key in ("brier", "ece"):
                    part.pop(key, None)
        result["rows"][name] = metrics
    print(markdown(result), flush=True)
    return result


def _fmt(value) -> str:
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) \
        else f"{value:.4f}" if abs(value) < 10 else f"{value:,.0f}"


def markdown(result: dict) -> str:
    head = (f"as of {result['as_of']}, horizon {result['horizon_days']} days: "
            f"{result.get('customers', 0):,} customers, churn rate "
            f"{result.get('churn_rate', float('nan')):.3f}, one-time buyers "
            f"{result.get('one_time_share', float('nan')):.3f}")
    lines = [head, "",
             "| model | ROC-AUC | PR-AUC | top-decile lift | Brier | ROC-AUC one-time | "
             "ROC-AUC repeat | Brier one-time | Brier repeat |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, row in result["rows"].items():
        if "error" in row:
            lines.append(f"| {name} | {row['error']} ||||||||")
            continue
        a, o, r = row["all"], row["one_time_buyers"], row["repeat_buyers"]
        lines.append("| " + " | ".join([name] + [_fmt(v) for v in (
            a.get("roc_auc"), a.get("pr_auc"), a.get("top_decile_lift"), a.get("brier"),
            o.get("roc_auc"), r.get("roc_auc"), o.get("brier"), r.get("brier"))]) + " |")
    for note in result.get("notes", []):
        lines.append(f"\nnote: {note}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "public")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the project copy goes (default: <cache>/project)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON report (default: <project copy>/reports/public_benchmark.json)")
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS))
    parser.add_argument("--no-pareto", action="store_true", help="skip Pareto/NBD (slow fit)")
    args = parser.parse_args()

    data_file = fetch_cdnow(args.cache)
    orders = read_cdnow(data_file)
    print(f"CDNOW: {len(orders):,} rows, {orders['customer_id'].nunique():,} customers, "
          f"{orders['day'].min().date()} .. {orders['day'].max().date()}")
    project = make_project(args.workdir or args.cache / "project")
    point_at(project, data_file)
    report = {"data": str(data_file), "source": LIFETIMES, "mapping": ORDERS_MAPPING,
              "reference_roc_auc": REFERENCE, "protocols": {}}
    for protocol in args.protocols:
        try:
            report["protocols"][protocol] = evaluate(protocol, orders, project,
                                                     not args.no_pareto)
        except Exception as exc:  # noqa: BLE001 - one protocol failing is a row, not a crash
            report["protocols"][protocol] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"protocol {protocol} failed: {exc}")
    out = args.out or project / "reports" / "public_benchmark.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()

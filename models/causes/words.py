"""The cause model in words: what a labelling function saw ("returned 2 of 4 orders, last one
as poor quality"), joined per customer for the reason given, and which tables that came from."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from common.causes import IDX
from models.causes.signals import col, days_since, orders, text


def n_text(values: np.ndarray | pd.Series) -> pd.Series:
    """Whole numbers as text, vectorised."""
    return pd.Series(np.round(np.nan_to_num(np.asarray(values, float))).astype(np.int64)
                     ).astype(str)


def f1(values: np.ndarray | pd.Series) -> pd.Series:
    return pd.Series(np.round(np.asarray(values, float), 1)).astype(str)


def pct(values: np.ndarray | pd.Series) -> pd.Series:
    return n_text(np.asarray(values, float) * 100) + "%"


def plural(count: pd.Series, word: str) -> pd.Series:
    return count + " " + word + np.where(count == "1", "", "s")



def say_returns(f: pd.DataFrame) -> pd.Series:
    reason = text(f, "last_return_reason").to_numpy()
    base = ("returned " + n_text(col(f, "ev_returned_orders")) + " of " + n_text(orders(f))
            + " orders")
    return base + pd.Series(np.where(reason != "", ", last one as " + reason, ""))


def say_rating(f: pd.DataFrame) -> pd.Series:
    low = col(f, "min_rating_in_episode")
    low = np.where(np.isnan(low), col(f, "last_rating"), low)
    return "rated " + plural(n_text(low), "star") + " lately"


def say_complaint(f: pd.DataFrame) -> pd.Series:
    topic = text(f, "last_complaint_detail").to_numpy()
    return pd.Series(np.where(topic != "", "complained about " + topic,
                              "complained after a recent order"))


def say_reason(cause: str) -> Callable[[pd.DataFrame], pd.Series]:
    def say(f: pd.DataFrame) -> pd.Series:
        reason = text(f, "last_return_reason").to_numpy()
        return pd.Series(np.where(reason != "", "returned an order: \"" + reason + "\"",
                                  f"a return reason points at {cause}"))
    return say


def say_topic(cause: str, what: str) -> Callable[[pd.DataFrame], pd.Series]:
    def say(f: pd.DataFrame) -> pd.Series:
        topic = text(f, "last_complaint_detail").to_numpy()
        k = col(f, f"post_detail_{cause}")
        pages = plural(n_text(k), "visit") + f" to {what} pages since the last order"
        return pd.Series(np.where((col(f, f"complaint_{cause}") >= 1) & (topic != ""),
                                  "complained about " + topic, pages.to_numpy()))
    return say



def _index(reason: np.ndarray) -> np.ndarray:
    """Cause names as indices (-2 for anything else, never equal to a vote)."""
    return pd.Series(np.asarray(reason, dtype=object)).map(IDX).fillna(-2).to_numpy(np.int64)


def evidence_sentences(frame: pd.DataFrame, reason: np.ndarray, L: np.ndarray,
                       lfs: list) -> pd.Series:
    """What the reason's fired functions saw, in words, "; "-joined, each sentence once
    (vectorised per function). Without a fired function: what is known and that the cause was
    inferred."""
    f = frame.reset_index(drop=True)
    reason = np.asarray(reason, dtype=object)
    want = _index(reason)
    out = np.full(len(f), "", dtype=object)
    said: list[np.ndarray] = []
    for j, lf in enumerate(lfs):
        rows = np.where((L[:, j] >= 0) & (L[:, j] == want))[0]
        if len(rows) == 0:
            continue
        said_now = pd.Series(np.asarray(lf.say(f.iloc[rows].reset_index(drop=True)),
                                        dtype=object)).fillna("").astype(str).to_numpy(object)
        for earlier in said:  # a sentence another function already gave
            said_now = np.where(said_now == earlier[rows], "", said_now)
        column = np.full(len(f), "", dtype=object)
        column[rows] = said_now
        said.append(column)
        now = out[rows]
        out[rows] = np.where(said_now == "", now,
                             np.where(now == "", said_now, now + "; " + said_now))
    empty = out == ""
    if empty.any():
        e = f[empty].reset_index(drop=True)
        n_orders, days = orders(e), days_since(e)
        n_txt = np.where(n_orders == 1, "bought once",
                         (n_text(n_orders) + " orders").to_numpy())
        d_txt = np.where(np.isnan(days), "", (", last " + n_text(days) + " days ago").to_numpy())
        tail = np.where(reason[empty] == "other",
                        "; no sign of forgetting, dissatisfaction, choice or price",
                        "; no direct sign, inferred from similar leavers")
        out[empty] = n_txt.astype(object) + d_txt.astype(object) + tail.astype(object)
    return pd.Series(out, index=frame.index, dtype="string")


def reason_basis(reason: np.ndarray, L: np.ndarray, lfs: list, tables: Iterable[str],
                 indistinct: tuple[str, ...], missing: Iterable[str] = ()) -> pd.Series:
    """The tables whose evidence voted for the reason; the causes these tables can't tell
    apart, when there are any, and the `missing` tables that would tell them apart
    (vectorised: one bit per source)."""
    tables = set(tables)
    want = _index(reason)
    sources = sorted({t for lf in lfs for t in lf.tables(tables)})
    bit = {t: 1 << i for i, t in enumerate(sources)}
    mask = np.zeros(len(want), dtype=np.int64)
    for j, lf in enumerate(lfs):
        b = sum(bit[t] for t in set(lf.tables(tables)))
        if b:
            mask[(L[:, j] >= 0) & (L[:, j] == want)] |= b
    note = ""
    if indistinct:
        missing = sorted(missing)
        what = (f"{indistinct[0]} cannot be told from the other causes" if len(indistinct) == 1
                else f"{', '.join(indistinct)} cannot be told apart")
        note = (f"; {what} with these tables"
                + (f" (needs {', '.join(missing)})" if missing else ""))
    words = {m: (", ".join(t for t in sources if m & bit[t])
                 or "similar leavers (no direct evidence)") + note for m in np.unique(mask)}
    return pd.Series(pd.Series(mask).map(words).to_numpy(dtype=object), dtype="string")


"""The five causes of churn, in the order every table and model uses, and their typical shares
among leavers (the domain notes): the label model's prior and the demo shops' default mix."""

from __future__ import annotations

CAUSES: tuple[str, ...] = ("forgot", "satisfaction", "choice", "price", "other")
#: causes a churn model's SHAP values can point at (a feature family each); "other" is what
#: is left when none stands out
SHAP_CAUSES: tuple[str, ...] = CAUSES[:-1]
DEFAULT_PRIOR: dict[str, float] = {"forgot": 0.50, "satisfaction": 0.10, "choice": 0.15,
                                   "price": 0.20, "other": 0.05}
K = len(CAUSES)
IDX = {c: i for i, c in enumerate(CAUSES)}

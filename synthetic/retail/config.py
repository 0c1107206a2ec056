"""What a retail shop looks like: size, time span, catalogue, and the causes' shares."""

from __future__ import annotations

from dataclasses import dataclass, field

CATEGORIES = ("bags", "shoes", "accessories", "outerwear", "tops", "bottoms", "beauty", "home",
              "sports", "kids")


@dataclass(frozen=True)
class ShopConfig:
    customers: int = 20_000
    seed: int = 42
    start: str = "2023-01-01"
    days: int = 3 * 365
    products: int = 300
    loyal_share: float = 0.22
    cause_shares: dict[str, float] = field(default_factory=lambda: {
        "forgot": 0.50, "satisfaction": 0.10, "choice": 0.15, "price": 0.20, "other": 0.05})

"""Write docs/features.md from the registry: `python -m features.docs`."""

from pathlib import Path

from features.registry import markdown_table

HEADER = """# Features

Generated from `features/registry.py` by `python -m features.docs`; do not edit by hand.
Every feature at cutoff T uses only events at or before T. `needs` lists the optional tables or
columns it requires (`a|b`: either); a shop without them simply doesn't get the feature.
The cause family decides which reason a feature's SHAP contribution votes for; `general`
features (RFM state) drive the risk but never the reason.

"""


def main() -> None:
    out = Path("docs/features.md")
    out.parent.mkdir(exist_ok=True)
    out.write_text(HEADER + markdown_table())


if __name__ == "__main__":
    main()

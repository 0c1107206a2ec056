"""What a batch export holds: every column once, with its type and meaning, and which columns a
CRM's send list carries. docs/export.md is generated from here: `python -m pipeline.columns`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    meaning: str


#: the score file, in this order (new columns are only ever appended: CRMs import by position)
SCORE_COLUMNS: tuple[Column, ...] = (
    Column("customer_id", "text", "The shop's customer id, as the shop writes it."),
    Column("as_of", "date", "The batch's cutoff: nothing after this day was read."),
    Column("churn_probability", "number 0-1", "Calibrated P(no purchase within the horizon): "
           "0.3 means about 30 in 100 such customers stop buying."),
    Column("risk_tier", "text", "high / medium / low, by `score.risk_tiers`."),
    Column("value_at_stake", "money", "churn_probability x the customer's expected yearly "
           "spend: what losing them would cost."),
    Column("reason", "text", "Why they are leaving (or would leave): forgot, satisfaction, "
           "choice, price or other."),
    Column("reason_confidence", "number 0-1", "How often a reason given with this confidence "
           "is right (calibrated on the shop's own customers)."),
    Column("top_drivers", "text", "The three facts raising this customer's risk most, in "
           "words (customers at risk only)."),
    Column("membership_tier", "text", "gold / silver / bronze by the RFM score "
           "(`features.membership_tiers`)."),
    Column("action", "text", "What to send: a rule's action, a learned one, an exploring "
           "one, or none."),
    Column("channel", "text", "How to send it: email, sms, phone (none: nothing to send)."),
    Column("offer", "text", "The concrete offer that goes with the action (none: no offer)."),
    Column("product_ids", "text", "Up to `recommend.products_per_customer` products to "
           "feature, comma-separated."),
    Column("in_budget", "true/false", "Within this batch's contact budget."),
    Column("model_name", "text", "The MLflow registered model that scored the batch."),
    Column("model_version", "text", "Its version."),
    Column("run_id", "text", "The MLflow run that trained it."),
    Column("scored_at", "timestamp", "When the batch was scored (UTC)."),
    Column("product_note", "text", "Why a customer has no product suggestions, when so."),
    Column("holdout", "true/false", "Held out as this batch's control group: must NOT be "
           "contacted (the measurement of what the batch did depends on it)."),
    Column("expected_uplift", "number", "The policy's expected gain in response probability "
           "from the action (empty: no measured evidence)."),
    Column("action_source", "text", "Where the action came from: rules, learned (measured "
           "evidence) or explore (testing an action)."),
    Column("p_forgot", "number 0-1", "Probability the cause is forgetting the shop."),
    Column("p_satisfaction", "number 0-1", "Probability the cause is dropped satisfaction."),
    Column("p_choice", "number 0-1", "Probability the cause is too many choices / switching."),
    Column("p_price", "number 0-1", "Probability the cause is price."),
    Column("p_other", "number 0-1", "Probability of another cause."),
    Column("reason_evidence", "text", "What the customer's data shows for the reason, in "
           "words."),
    Column("reason_basis", "text", "Which of the shop's tables the reason rests on, and "
           "which causes these tables cannot tell apart."),
    Column("score_source", "text", "model (the churn model) or btyd (a short history scored "
           "by a BTYD model)."),
    Column("horizon_days", "integer", "Churn means no purchase within this many days after "
           "as_of; a batch of another horizon is another file."),
    Column("send", "true/false", "To be contacted in this batch: in budget, with an action, "
           "and not held out. The only rows a CRM should contact."),
)

#: a CRM's send list: who to contact and with what, nothing a CRM should not see (no scores)
SEND_COLUMNS: tuple[Column, ...] = (
    Column("customer_id", "text", "The customer to contact."),
    Column("as_of", "date", "The batch."),
    Column("channel", "text", "The file's channel."),
    Column("action", "text", "What to send."),
    Column("offer", "text", "The offer that goes with it."),
    Column("product_ids", "text", "Products to feature, comma-separated."),
    Column("why", "text", "One line for the person writing the message: the reason and what "
           "the customer's data shows."),
)

#: who must not be contacted in this batch (the control group), for a CRM to suppress
HOLDOUT_COLUMNS: tuple[Column, ...] = (
    Column("customer_id", "text", "A customer held out of this batch: do not contact."),
    Column("as_of", "date", "The batch."),
)

EXPORT_COLUMNS = [c.name for c in SCORE_COLUMNS]


def score_stem(as_of: str, horizon_days: int | str) -> str:
    return f"churn_scores_{as_of}_h{horizon_days}"


def send_file(as_of: str, horizon_days: int | str, channel: str) -> str:
    return f"send_{as_of}_h{horizon_days}_{channel}.csv"


def holdout_file(as_of: str, horizon_days: int | str) -> str:
    return f"holdout_{as_of}_h{horizon_days}.csv"


FILES = (
    (f"exports/{score_stem('<as_of>', '<horizon>')}.parquet` / `.csv",
     "every scored customer, every column below (the CSV leaves held-out customers out when "
     "`export.include_holdout` is false)"),
    (f"exports/{send_file('<as_of>', '<horizon>', '<channel>')}",
     "the CRM: only the customers to contact through that channel"),
    (f"exports/{holdout_file('<as_of>', '<horizon>')}",
     "the CRM: who must not be contacted this batch (suppress them)"),
    ("the `export.table` table of `export.database_url`",
     "the scores, one batch per (as_of, horizon)"),
    ("the `export.contacts_table` table, and `exports/contacts.parquet`",
     "the contact log: every batch's targets, their group (treatment / control), propensity"),
    ("exports/latest.json", "the manifest of the newest batch: its files, rows and token"),
)


def _table(columns: tuple[Column, ...]) -> str:
    rows = [f"| `{c.name}` | {c.type} | {c.meaning} |" for c in columns]
    return "\n".join(["| column | type | meaning |", "|---|---|---|", *rows]) + "\n"


def _files() -> str:
    rows = [f"| `{name}` | {who} |" if not name.startswith("the ") else f"| {name} | {who} |"
            for name, who in FILES]
    return "\n".join(["| file | who it is for |", "|---|---|", *rows]) + "\n"


def markdown() -> str:
    return f"""# Exports: what a batch writes

Generated from `pipeline/columns.py` by `python -m pipeline.columns`; do not edit by hand.

Every batch (one `churn run` or `churn score` on the committed params) publishes, as one unit:

{_files()}
Text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`) get a
leading `'` in the CSV files only; Parquet and the database keep the exact value.

## The score file

{_table(SCORE_COLUMNS)}
## A send list

{_table(SEND_COLUMNS)}
## The holdout list

{_table(HOLDOUT_COLUMNS)}"""


def main() -> None:
    out = Path("docs/export.md")
    out.parent.mkdir(exist_ok=True)
    out.write_text(markdown())


if __name__ == "__main__":
    main()

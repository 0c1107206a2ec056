"""The closing summary of `churn run` / `churn score`: customers scored, at risk, the reason
mix, the batch (who to contact, through which channel, what the loop still has to learn), the
model against the baselines, and where the files are."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from pipeline.io import read_json
from pipeline.paths import load_paths


def loop_rows(table: Table, loop: dict) -> None:
    """The batch's design in a few lines: where its actions come from, what it should earn,
    which questions are open and what it takes to close them."""
    from models.campaigns.design import question_line

    if not loop:
        return
    table.add_row("this batch", f"{loop['contacts']:,} contacts: {loop['from_evidence']:,} from "
                  f"evidence, {loop['from_prior']:,} from the prior, {loop['exploring']:,} "
                  f"exploring; {loop['held_out']:,} held out (the shared control)")
    table.add_row("expected incremental orders",
                  f"{loop['expected_incremental_orders']:,.1f} (95% lower bound "
                  f"{loop['expected_incremental_orders_low']:,.1f})")
    questions = loop.get("open_questions") or []
    if questions:
        table.add_row("open questions", "\n".join(question_line(q) for q in questions))
        need = max(q["customers_per_batch_needed"] for q in questions)
        table.add_row("to decide within 3 batches", f"about {need:,} customers to contact "
                      "per batch")


def print_summary(out: Console) -> None:
    """What happened, in a few lines: customers scored, at risk, reasons, actions, the model
    against the baselines, where the exports and the report are."""
    paths = load_paths()
    try:
        score = read_json(paths.score_report)
        details = read_json(paths.evaluation)
    except (OSError, ValueError):
        return
    backtest = read_json(paths.backtest) if paths.backtest.exists() else {}
    table = Table(title=f"churn scores as of {score['as_of']}", show_header=False)
    table.add_row("customers scored", f"{score['customers']:,}")
    share = score["at_risk"] / max(1, score["customers"])
    table.add_row("at risk", f"{score['at_risk']:,} ({share:.0%})")
    table.add_row("reasons (at risk)", ", ".join(
        f"{k} {v:.0%}" for k, v in score["reason_mix"].items()) or "-")
    table.add_row(f"actions in budget ({score['in_budget']:,})", ", ".join(
        f"{k} {v:,}" for k, v in score["actions"].items()) or "-")
    loop_rows(table, score.get("loop") or {})
    model = f"{score['model']['name']} v{score['model']['version']}"
    if details.get("score_source") == "btyd":
        table.add_row("model", f"{model}: short history, scores from BTYD P(no purchase "
                      f"in the horizon) ({details['note']})")
    else:
        ours = details["model"]["all"]["roc_auc"]
        name, best = max(((k, v["all"]["roc_auc"]) for k, v in details["baselines"].items()),
                         key=lambda kv: kv[1])
        table.add_row("model", f"{model}: validation ROC-AUC {ours:.3f} vs {name} {best:.3f}")
    if backtest.get("reason_acc") is not None:
        table.add_row("reason backtest (demo shop)",
                      f"accuracy {backtest['reason_acc']:.2f} among customers who lapsed")
    held = f"{score['held_out']:,} held out as the control group"
    if score.get("model", {}).get("note"):
        table.add_row("note", score["model"]["note"])
    published = read_json(paths.publish_report) if paths.publish_report.exists() else {}
    if published.get("published"):
        sends = ", ".join(f"{k} {v:,}" for k, v in published["send"].items()) or "nobody"
        table.add_row("to send", f"{sends}; {held}")
        table.add_row("exports", "\n".join(published["exports"])
                      + f"\ntable {published['database_rows']:,} rows")
    else:
        table.add_row("not published", published.get("why", "the publish stage did not run"))
    table.add_row("report", f"churn report → {paths.report}")
    out.print(table)



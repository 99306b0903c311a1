"""A backtest's numbers for people and machines: Rich tables, JSON, and an HTML page with a chart
(inline SVG, nothing fetched from the internet)."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from streamguard.rules.backtest import RuleScore, Score


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _signed(value: int) -> str:
    return f"{value:+,}" if value else "0"


def _numbers_table(title: str) -> Table:
    """A table of figures that fits 80 columns, the width of a pipe or a log: a rule under the
    header only, a space between columns (this box's divider) and headers of two short lines.
    With borders and padding, Rich cut the figures to fit ("1.0…")."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=0,
        pad_edge=False,
    )


def _add_column(table: Table, header: str, *, text: bool = False) -> None:
    """A column of figures (right-aligned), or with `text` the row's name (left, never wrapped).
    A header's lines are given (see `_numbers_table`): left to Rich on a narrow terminal,
    single words were cut instead ("precis…") while others kept room to spare."""
    table.add_column(header, justify="left" if text else "right", no_wrap=text)


def print_score(console: Console, score: Score, title: str) -> None:
    table = _numbers_table(title)
    for name in (
        "rule",
        "alerts",
        "TP",
        "FP",
        "precision",
        "prec.\nown",
        "recall\nown",
        "recall\nany",
        "per\n10k",
        "blacklist",
    ):
        _add_column(table, name, text=name == "rule")
    for r in score.rules:
        table.add_row(*_rule_cells(r, score.frauds))
    table.add_section()
    table.add_row(
        "[bold]all rules[/bold]",
        f"{score.alerts:,}",
        f"{score.true_positives:,}",
        f"{score.false_positives:,}",
        _ratio(score.precision),
        "",
        "",
        _ratio(score.recall),
        f"{score.alerts * 10_000 / max(score.transactions, 1):.1f}",
        f"{score.blacklist_hits:,}",
    )
    console.print(table)
    console.print(
        f"{score.transactions:,} transactions, {score.frauds:,} of them fraud; "
        f"{score.caught:,} frauds caught by some rule."
    )
    missed = _numbers_table("frauds no rule caught, by scenario")
    for name in ("scenario", "frauds", "missed", "the rule meant for it"):
        missed.add_column(
            name, justify="left" if name != "frauds" and name != "missed" else "right"
        )
    owners = {s: r.rule_id for r in score.rules for s in r.scenarios}
    for scenario, total in score.frauds_by_scenario.items():
        missed.add_row(
            scenario,
            f"{total:,}",
            f"{score.missed_by_scenario[scenario]:,}",
            owners.get(scenario, "(none selected)"),
        )
    console.print(missed)
    if score.false_by_case:
        parts = ", ".join(f"{case} {n:,}" for case, n in sorted(score.false_by_case.items()))
        console.print(f"false alerts were about: {parts}")


def print_compare(
    console: Console, scores: list[Score], variable: str, rules: list[str], base_value: str | None
) -> None:
    base = scores[0]
    table = _numbers_table(f"what if: {variable} (the rules it changes: {', '.join(rules)})")
    names = (variable, "alerts", "false", "precision", "recall\nown", "caught\n(all rules)",
             "Δ\ncaught", "Δ\nfalse")  # fmt: skip
    for name in names:
        _add_column(table, name, text=name == variable)
    for score in scores[1:]:
        mine = [r for r in score.rules if r.rule_id in rules]
        alerts = sum(r.alerts for r in mine)
        false = sum(r.false_positives for r in mine)
        own = sum(r.own_frauds for r in mine)
        own_caught = sum(r.own_caught for r in mine)
        value = dict(score.setting.values).get(variable, "?")
        table.add_row(
            value + (" (base)" if value == base_value else ""),
            f"{alerts:,}",
            f"{false:,}",
            _ratio((alerts - false) / alerts if alerts else None),
            _ratio(own_caught / own if own else None),
            f"{score.caught:,}",
            _signed(score.caught - base.caught),
            _signed(score.false_positives - base.false_positives),
        )
    console.print(table)
    console.print(f"changes are against the base setting ({base.setting.label}).")


def _rule_json(r: RuleScore, frauds: int) -> dict[str, Any]:
    return {
        "rule_id": r.rule_id,
        "scenarios": r.scenarios,
        "alerts": r.alerts,
        "true_positives": r.true_positives,
        "false_positives": r.false_positives,
        "precision": r.precision,
        "own_true_positives": r.own_true_positives,
        "own_precision": r.own_precision,
        "own_frauds": r.own_frauds,
        "own_caught": r.own_caught,
        "recall": r.recall,
        "any_fraud_caught": r.any_caught,
        "any_fraud_recall": r.any_recall(frauds),
        "alerts_per_10k": round(r.alerts_per_10k, 3),
        "blacklist_hits": r.blacklist_hits,
        "false_positives_by_case": r.false_by_case,
    }


def score_json(score: Score) -> dict[str, Any]:
    return {
        "setting": dict(score.setting.values),
        "label": score.setting.label,
        "transactions": score.transactions,
        "frauds": score.frauds,
        "rules": [_rule_json(r, score.frauds) for r in score.rules],
        "overall": {
            "alerts": score.alerts,
            "true_positives": score.true_positives,
            "false_positives": score.false_positives,
            "precision": score.precision,
            "frauds_caught": score.caught,
            "recall": score.recall,
            "alerts_per_10k": round(score.alerts * 10_000 / max(score.transactions, 1), 3),
            "blacklist_hits": score.blacklist_hits,
            "false_positives_by_case": score.false_by_case,
        },
        "frauds_by_scenario": score.frauds_by_scenario,
        "missed_by_scenario": score.missed_by_scenario,
    }


def document(
    source: str, scores: list[Score], compare: tuple[str, list[str]] | None, seconds: float
) -> dict[str, Any]:
    """The whole backtest as JSON: the base setting's score, then each what-if setting's."""
    base = scores[0]
    out: dict[str, Any] = {
        "traffic": source,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        **score_json(base),
    }
    if compare is not None:
        variable, rules = compare
        out["compare"] = {
            "variable": variable,
            "rules": rules,
            "settings": [
                {
                    **score_json(s),
                    "change_in_frauds_caught": s.caught - base.caught,
                    "change_in_false_positives": s.false_positives - base.false_positives,
                }
                for s in scores[1:]
            ],
        }
    return out


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc, indent=2) + "\n")


# -- HTML -----------------------------------------------------------------------------------

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
.note { color: #666; }
"""
_PRECISION, _RECALL = "#3b6fb6", "#e08a2c"


def _bars(groups: list[tuple[str, float | None, float | None]], title: str) -> str:
    """A grouped bar chart (precision and recall, 0 to 1) as inline SVG."""
    width_each, height, left, top = 90, 220, 40, 30
    width = left + width_each * len(groups) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 80}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<text x="{left}" y="16" font-weight="bold">{html.escape(title)}</text>',
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + height * (1 - tick)
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y}" y2="{y}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4}" font-size="11" text-anchor="end">{tick:g}</text>'
        )
    for n, (label, precision, recall) in enumerate(groups):
        x = left + n * width_each + 12
        for k, (value, colour, name) in enumerate(
            ((precision, _PRECISION, "precision"), (recall, _RECALL, "recall"))
        ):
            shown = value or 0.0
            bar = height * shown
            parts.append(
                f'<rect x="{x + k * 30}" y="{top + height - bar}" width="26" height="{bar}" '
                f'fill="{colour}"><title>{html.escape(label)} {name}: {_ratio(value)}</title>'
                f"</rect>"
            )
            parts.append(
                f'<text x="{x + k * 30 + 13}" y="{top + height - bar - 3}" font-size="10" '
                f'text-anchor="middle">{_ratio(value)}</text>'
            )
        parts.append(
            f'<text x="{x + 28}" y="{top + height + 16}" font-size="11" '
            f'text-anchor="middle">{html.escape(label)}</text>'
        )
    legend_y = top + height + 40
    parts.append(
        f'<rect x="{left}" y="{legend_y}" width="12" height="12" fill="{_PRECISION}"/>'
        f'<text x="{left + 18}" y="{legend_y + 11}">precision</text>'
        f'<rect x="{left + 100}" y="{legend_y}" width="12" height="12" fill="{_RECALL}"/>'
        f'<text x="{left + 118}" y="{legend_y + 11}">recall on its own scenario</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _rule_cells(r: RuleScore, frauds: int) -> list[str]:
    """One rule's figures as the terminal table and the HTML report both show them."""
    return [
        r.rule_id,
        f"{r.alerts:,}",
        f"{r.true_positives:,}",
        f"{r.false_positives:,}",
        _ratio(r.precision),
        _ratio(r.own_precision),
        _ratio(r.recall),
        _ratio(r.any_recall(frauds)),
        f"{r.alerts_per_10k:.1f}",
        f"{r.blacklist_hits:,}",
    ]


def write_html(path: Path, doc: dict[str, Any], scores: list[Score]) -> None:
    base = scores[0]
    rule_rows = [
        [
            *_rule_cells(r, base.frauds),
            ", ".join(f"{k} {v}" for k, v in sorted(r.false_by_case.items())) or "-",
        ]
        for r in base.rules
    ]
    rule_rows.append(
        [
            "all rules",
            f"{base.alerts:,}",
            f"{base.true_positives:,}",
            f"{base.false_positives:,}",
            _ratio(base.precision),
            "",
            "",
            _ratio(base.recall),
            f"{base.alerts * 10_000 / max(base.transactions, 1):.1f}",
            f"{base.blacklist_hits:,}",
            ", ".join(f"{k} {v}" for k, v in sorted(base.false_by_case.items())) or "-",
        ]
    )
    sections = [
        f"<h1>StreamGuard rules backtest</h1><p class=note>{html.escape(doc['traffic'])}; "
        f"setting: {html.escape(base.setting.label)}; {doc['generated_at']}, "
        f"{doc['seconds']} s</p>",
        _bars(
            [(r.rule_id, r.precision, r.recall) for r in base.rules],
            "precision and recall per rule",
        ),
        _table(
            [
                "rule",
                "alerts",
                "true",
                "false",
                "precision",
                "precision (own)",
                "recall (own)",
                "recall (any fraud)",
                "alerts /10k",
                "blacklist hits",
                "false alerts were about",
            ],
            rule_rows,
        ),
        f"<p>{base.transactions:,} transactions, {base.frauds:,} of them fraud, "
        f"{base.caught:,} caught by some rule.</p>",
        "<h2>Frauds no rule caught</h2>",
        _table(
            ["scenario", "frauds", "missed"],
            [
                [s, f"{n:,}", f"{base.missed_by_scenario[s]:,}"]
                for s, n in base.frauds_by_scenario.items()
            ],
        ),
    ]
    if "compare" in doc:
        variable = doc["compare"]["variable"]
        rules = doc["compare"]["rules"]
        groups = []
        rows = []
        for score in scores[1:]:
            mine = [r for r in score.rules if r.rule_id in rules]
            alerts = sum(r.alerts for r in mine)
            false = sum(r.false_positives for r in mine)
            own = sum(r.own_frauds for r in mine)
            caught = sum(r.own_caught for r in mine)
            value = dict(score.setting.values).get(variable, "?")
            precision = (alerts - false) / alerts if alerts else None
            recall = caught / own if own else None
            groups.append((f"{variable}={value}", precision, recall))
            rows.append(
                [
                    score.setting.label,
                    f"{alerts:,}",
                    f"{false:,}",
                    _ratio(precision),
                    _ratio(recall),
                    f"{score.caught:,}",
                    _signed(score.caught - base.caught),
                    _signed(score.false_positives - base.false_positives),
                ]
            )
        sections += [
            f"<h2>What if: {html.escape(variable)}</h2>",
            _bars(groups, f"{', '.join(rules)}: precision and recall per setting"),
            _table(
                [
                    "setting",
                    "alerts",
                    "false alerts",
                    "precision",
                    "recall (own)",
                    "frauds caught (all rules)",
                    "change in caught",
                    "change in false alerts",
                ],
                rows,
            ),
            "<p class=note>Changes are against the base setting "
            f"({html.escape(base.setting.label)}).</p>",
        ]
    sections.append(
        "<p class=note>An alert is true when it is about a fraud transaction (a per-transaction "
        "alert: its transaction; a window alert: the account's transactions in its window); "
        "precision (own) and recall (own) count only the scenarios the rule is meant for.</p>"
    )
    page = (
        "<!doctype html><html><head><meta charset=utf-8><title>StreamGuard backtest</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")

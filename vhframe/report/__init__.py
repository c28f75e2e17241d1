"""Reporters: the analysis document as JSON and as a self-contained HTML page."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from vhframe.context import RunContext
from vhframe.files import write_atomic, write_json


class JsonReporter:
    """``vhframe:json``: writes ``report.json`` (the analysis document as is)."""

    def fingerprint(self) -> dict[str, Any]:
        return {"reporter": "json"}

    def write(self, ctx: RunContext, results: dict[str, Any], out_dir: Path) -> list[Path]:
        path = out_dir / "report.json"
        write_json(path, results, default=str)
        return [path]


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1200px;color:#1b1f24;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
h3{font-size:1.05rem;margin-top:1.6rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #d8dee4;padding:.25rem .5rem;text-align:right}
th{background:#f6f8fa;text-align:center}td.l,th.l{text-align:left}
td.pos{background:#fde2e1}td.neg{background:#dff3e4}td.na{color:#8c959f}
.sig{font-weight:700}.note{color:#57606a;font-size:.85rem}
code{background:#f6f8fa;padding:0 .2rem;border-radius:3px}
.scroll{overflow-x:auto;max-width:100%}
"""


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return html.escape(str(x))


def _ols_table(entry: dict[str, Any], alpha: float) -> str:
    ols = entry["ols"]
    if "skipped" in ols and "by_category" not in ols:
        return f"<p class=note>Regression skipped: {html.escape(ols['skipped'])}</p>"
    by_cat = ols["by_category"]
    cats = [c for c in entry["categories"] if c in by_cat]
    values = entry["values"]
    rows = []
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cats)
    rows.append(f"<tr><th class=l>value \\ category</th>{head}</tr>")
    for vi, value in enumerate(values, start=1):
        cells = []
        for c in cats:
            res = by_cat[c]
            if "coef" not in res:
                cells.append("<td class=na>–</td>")
                continue
            coef, p = res["coef"][vi], res["p"][vi]
            sig = p <= alpha
            cls = ("pos" if coef > 0 else "neg") if sig else ""
            title = (
                f"coef {coef:.4f}, t-CI [{res['ci_low'][vi]:.4f}, "
                f"{res['ci_high'][vi]:.4f}], p={p:.3g}"
            )
            if "boot_low" in res:
                title += f", bootstrap CI [{res['boot_low'][vi]:.4f}, {res['boot_high'][vi]:.4f}]"
            if "p_adj" in res:
                title += f", adjusted p={res['p_adj'][vi]:.3g}"
            mark = "*" if sig else ""
            cells.append(
                f"<td class='{cls}' title='{html.escape(title)}'>"
                f"<span class='{'sig' if sig else ''}'>{coef:+.3f}{mark}</span></td>"
            )
        rows.append(f"<tr><td class=l>{html.escape(value)}</td>{''.join(cells)}</tr>")
    fit = "".join(
        f"<td>{_fmt(by_cat[c].get('r2'))}</td>" if "r2" in by_cat[c] else "<td class=na>–</td>"
        for c in cats
    )
    rows.append(f"<tr><td class=l>R²</td>{fit}</tr>")
    skipped = [
        f"{html.escape(c)}: {html.escape(by_cat[c]['skipped'])}"
        for c in cats
        if "skipped" in by_cat[c]
    ]
    method = ols.get("method", {})
    note = (
        f"<p class=note>{html.escape(method.get('model', ''))}; "
        f"{html.escape(method.get('test', ''))}; n = {method.get('n')}; "
        f"* p ≤ {alpha:g}; red = more harm, green = less. Hover a cell for its CI and "
        f"p-value. Computed by {html.escape(method.get('implementation', ''))}.</p>"
    )
    extra = []
    if "adjustment" in method:
        extra.append(f"Adjusted p-values: {method['adjustment']}.")
    boot = method.get("bootstrap")
    if isinstance(boot, dict):
        extra.append(
            f"Bootstrap: {boot['skipped']}."
            if "skipped" in boot
            else f"Bootstrap CIs: {boot['ci']}, {boot['n_resamples']} resamples, "
            f"seed {boot['seed']}."
        )
    if extra:
        note += "<p class=note>" + html.escape(" ".join(extra)) + "</p>"
    if skipped:
        note += "<p class=note>Not fitted — " + "; ".join(skipped) + "</p>"
    return f"<div class=scroll><table>{''.join(rows)}</table></div>{note}"


def _rates_table(entry: dict[str, Any]) -> str:
    cats = entry["categories"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cats)
    rows = [f"<tr><th class=l>subject</th>{head}</tr>"]
    for s in entry["subjects"]:
        cells = "".join(f"<td>{_fmt(entry['rates'][s].get(c), 2)}</td>" for c in cats)
        rows.append(f"<tr><td class=l>{html.escape(s)}</td>{cells}</tr>")
    n = "".join(f"<td>{_fmt(entry['n_items'].get(c))}</td>" for c in cats)
    rows.append(f"<tr><td class=l><i>answers per subject</i></td>{n}</tr>")
    return f"<div class=scroll><table>{''.join(rows)}</table></div>"


def _check_section(check: dict[str, Any]) -> str:
    """The alignment check: how far each kind of subject's survey answers are from its
    target profile (lower is closer)."""
    rows = [
        "<tr><th class=l>subjects</th><th>n</th><th>mean NMSE (answered values)</th>"
        "<th>mean NMSE (unanswered at midpoint)</th><th>answer rate</th></tr>"
    ]
    for r in check["summary"]:
        nm = _fmt(r["mean_nmse"], 4)
        if r["mean_nmse"] is not None and r["subjects_with_nmse"] < r["subjects"]:
            nm += f" <span class=note>({r['subjects_with_nmse']} of {r['subjects']})</span>"
        rows.append(
            f"<tr><td class=l>{html.escape(r['role'])}</td><td>{r['subjects']}</td>"
            f"<td>{nm}</td><td>{_fmt(r['mean_nmse_imputed'], 4)}</td>"
            f"<td>{_fmt(r['answer_rate'], 3)}</td></tr>"
        )
    out = [
        f"<h2>Alignment check: {html.escape(check['instrument'])} ({check['items']} items)</h2>",
        f"<div class=scroll><table>{''.join(rows)}</table></div>",
        f"<p class=note>{html.escape(check['method'])}. The study reports 0.0759 for "
        "value-aligned models and 0.1079 for the role-play prompt.</p>",
    ]
    per = check.get("by_profile", [])
    if per:
        cols = sorted({k for e in per for k in e if k != "profile"})
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = [f"<tr><th class=l>profile</th>{head}</tr>"]
        for e in per:
            cells = "".join(f"<td>{_fmt(e.get(c), 4)}</td>" for c in cols)
            body.append(f"<tr><td class=l>{html.escape(e['profile'])}</td>{cells}</tr>")
        out.append("<h3>NMSE by target profile (unanswered at midpoint)</h3>")
        out.append(f"<div class=scroll><table>{''.join(body)}</table></div>")
    return "\n".join(out)


def render_html(results: dict[str, Any]) -> str:
    prov = results.get("provenance", {})
    alpha = float(results.get("alpha", 0.05))
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>vhframe report — {html.escape(str(prov.get('run', '')))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Value-aligned models and harm — {html.escape(str(prov.get('run', '')))}</h1>",
        "<p class=note>Harm rate = share of answers a judge marks harmful. Each regression "
        "relates a category's harm rate to the 10 Schwartz value scores of the subjects' "
        "target profiles.</p>",
    ]
    check = results.get("alignment_check")
    if check:
        parts.append(_check_section(check))
    for entry in results.get("analyses", []):
        title = (
            f"{entry['benchmark']} · judge {entry['judge']} · mitigation "
            f"{entry['mitigation']} · {entry['role']} subjects ({len(entry['subjects'])})"
        )
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append("<h3>Value × category: OLS coefficients</h3>")
        parts.append(_ols_table(entry, alpha))
        parts.append("<h3>Harm rates</h3>")
        parts.append(_rates_table(entry))
    mits = results.get("mitigations", [])
    if mits:
        names = sorted({m for row in mits for m in row["mean_rate"]})
        head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
        rows = [
            f"<tr><th class=l>benchmark</th><th class=l>role</th><th class=l>category</th>"
            f"{head}</tr>"
        ]
        for row in mits:
            cells = "".join(f"<td>{_fmt(row['mean_rate'].get(n), 2)}</td>" for n in names)
            rows.append(
                f"<tr><td class=l>{html.escape(row['benchmark'])}</td>"
                f"<td class=l>{html.escape(row['role'])}</td>"
                f"<td class=l>{html.escape(row['category'])}</td>{cells}</tr>"
            )
        parts.append("<h2>Mitigations: mean harm rate</h2>")
        parts.append(f"<div class=scroll><table>{''.join(rows)}</table></div>")
    parts.append("<h2>Provenance</h2>")
    parts.append(f"<pre>{html.escape(json.dumps(prov, indent=2, sort_keys=True))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


class HtmlReporter:
    """``vhframe:html``: writes ``report.html``, one self-contained page."""

    def fingerprint(self) -> dict[str, Any]:
        return {"reporter": "html"}

    def write(self, ctx: RunContext, results: dict[str, Any], out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "report.html"
        write_atomic(path, render_html(results))
        return [path]

"""The comparison's report in markdown: OUT/README.md with every table, and the short results block
a README may carry (results_section). Pure: reads the report (comparison.json's data) only, so the
report can be written again from its JSON."""
from __future__ import annotations

import os

from lsntp.paths import from_project, project_relative

from .systems import REFERENCE_ROWS

# The paper's Table 3: LS-NTP's parameters on its ERA5 and NCEP set-ups (ours are matched to a far
# smaller LS-NTP; model-export/README.md, "Size: matched, not the paper's").
PAPER_LSNTP_PARAMETERS = {"era5-uk-0p25": 5.99e6, "ncep-na-2p5": 19.48e6}


def _pm(stat: dict | None, digits: int) -> str:
    if not stat:
        return "-"
    s = f"{stat['mean']:.{digits}f}"
    return s + (f" +- {stat['sd']:.{digits}f}" if stat.get("sd") is not None else "")


def _diff(row: dict) -> str:
    d = row.get("vs_lsntp")
    if row.get("reference"):
        return "(reference)"
    if not d:
        return "-"
    mark = " *" if d["lo"] > 0 or d["hi"] < 0 else ""
    return f"{d['diff']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]{mark}"


TABLES = (("3", "Table 3: every system at a matched size, and the references"),
          ("4", "Table 4: ablations of LS-NTP (and DAGG-ConvLSTM)"),
          ("5", "Table 5 / Q1: the LSI kernel k and the LAGC distance threshold d"),
          ("6", "Our variants, not in the paper's tables: the LSI's ReLU, the sparse graph, resolution"))


def _table(rows: list, table: str, ref_row: dict | None) -> list[str]:
    sizes = table == "3"
    head = ["row", "kind", "parameters"] + (["within +-20% of LS-NTP"] if sizes else []) + \
        ["seeds", "MAE (K)", "RMSE (K)", "SSIM (ours)", "SSIM (paper-style)", "PSNR (dB)", "MAE minus LS-NTP's (K) [95% interval]"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" + ("---|" if sizes else "") + "---:|" * 7]
    members = [r for r in rows if r["table"] == table and not r.get("reference")]
    if table != "3" and ref_row is not None:  # the variant tables: LS-NTP first, for reference
        members = [ref_row] + members
    elif ref_row is not None:
        members = [ref_row] + [r for r in members if r["system"] not in REFERENCE_ROWS] + [r for r in members if r["system"] in REFERENCE_ROWS]
    for r in members:
        m = r.get("metrics")
        name = r["row"] + (" (k = 3, no threshold)" if r.get("reference") and table == "5" else "")
        kind = r["kind"] if r["kind"] != "reference" else "-"
        params = f"{r['parameters']:,}" if r.get("parameters") else "-"
        cells = [name, kind, params]
        if sizes:
            cells.append("-" if r["system"] in REFERENCE_ROWS else ("yes" if r["within_20pct_of_lsntp"] else f"no ({r['parameters_vs_lsntp']:.2f} x)"))
        if not r.get("seeds"):
            cells += [f"0 of {r.get('queued_seeds', '?')}", f"missing: {r.get('why_missing', '')}", "", "", "", "", ""]
        else:
            seeds = "-" if r["system"] in REFERENCE_ROWS else str(r["seeds"])
            cells += [seeds, _pm(m["mae"], 3), _pm(m["rmse"], 3), _pm(m["ssim"], 3), _pm(m["ssim_paper"], 3),
                      _pm(m["psnr"], 2), _diff(r)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _shown(path: str) -> str:
    """A recorded path as a command run from the project root takes it (reports before paths were
    recorded relative to the project hold absolute ones)."""
    return project_relative(from_project(path))


def markdown(report: dict) -> str:
    b = report["bootstrap"]
    n_rows = sum(1 for d in report["datasets"].values() for r in d["rows"] if r.get("seeds") and r["system"] not in REFERENCE_ROWS)
    lines = ["# The comparison: every system on both data sets", "",
             f"Generated {report['generated']} by `./lsntp compare {_shown(report['queue'])} "
             f"--runs-dir {_shown(report['runs_dir'])}` from the runs finished then ({n_rows} system rows with at least one seed; "
             f"{len(report['missing'])} queued runs missing, listed at the end).", "",
             "Conventions (model-export/README.md, Comparison): every number is on the held-out test part; each run is "
             "its best-validation checkpoint; a row's value is the mean +- sd over its seeds (sd from 2 seeds on). "
             "SSIM (ours): 7x7 window, data range = the training range, every cell; SSIM (paper-style): as the paper's "
             "SimVP/OpenSTL lineage computes it on kelvin frames (skimage's old defaults: data range 2.0, border strip "
             "cropped) - nearly a 7x7 correlation, not comparable with ours. PSNR: 10 log10(255^2/MSE) on kelvin errors, as "
             "the paper's tables. 'MAE minus LS-NTP's': the row's MAE minus LS-NTP's on the same windows (seeds averaged per "
             f"window); 95% block-bootstrap interval with calendar days (UTC date of the issue time) as blocks, "
             f"{b['resamples']:,} resamples, seed {b['seed']}; * marks an interval that excludes zero. Parameters are "
             "counted on the data set's grid.", ""]
    for grid, d in report["datasets"].items():
        data = d["data"]
        rows = d["rows"]
        ref_row = next((r for r in rows if r.get("reference")), None)
        lines += [f"## {grid}", "",
                  f"`{data['file']}`, {data['grid']['height']} x {data['grid']['width']} cells every {data['step_hours']:g} h, "
                  f"{data['alpha']} frames in, {data['beta']} out; train {data['train']}, held-out test {data['test']} "
                  f"({data['test_windows']} windows issued on {data['test_days']} days; masked cells {data['masked_cells']}).",
                  "", d["climatology_note"], "", f"**Headline.** {d['headline']['statement']}", ""]
        if data["test_days"] < 10:
            lines += [f"With only {data['test_days']} test days as bootstrap blocks, the intervals are coarse and, if anything, "
                      "too narrow (a percentile interval from n blocks is narrower by about sqrt((n-1)/n)); read them as a "
                      "lower bound of the uncertainty.", ""]
        for table, title in TABLES:
            if not any(r["table"] == table for r in rows if not r.get("reference")) and table != "3":
                continue
            lines += [f"### {title}", ""] + _table(rows, table, ref_row) + [""]
            if table == "3" and ref_row and ref_row.get("parameters"):
                paper = PAPER_LSNTP_PARAMETERS.get(grid)
                t3 = [r for r in rows if r["table"] == "3" and not r.get("reference") and r["system"] not in REFERENCE_ROWS]
                within = sum(1 for r in t3 if r.get("within_20pct_of_lsntp"))
                lines += [f"Size: {within} of the {len(t3)} other systems of Table 3 are within 20% of this LS-NTP's "
                          f"{ref_row['parameters']:,} parameters"
                          + (f"; the paper's LS-NTP on this data set has {paper / 1e6:.2f}M, "
                             f"{paper / ref_row['parameters']:.0f} times as many, and no row here is at that size "
                             "(model-export/README.md, \"Size: matched, not the paper's\")" if paper else "") + ".", ""]
        lines += ["### Training of each row", "",
                  "| row | table | runs (seed: best validation MAE K, epochs run, best epoch, minutes) | where trained |",
                  "|---|---|---|---|"]
        for r in rows:
            if r["system"] in REFERENCE_ROWS or not r.get("seeds"):
                continue
            runs = "; ".join(f"{x['run']} (s{x['seed']}: {x['validation_mae']:.4f}, {x['epochs']}, {x['best_epoch']}, {x['train_minutes']})"
                             for x in r["runs"])
            where = "; ".join(sorted({x["trained_on"] for x in r["runs"]}))
            lines.append(f"| {r['row']} | {r['table']} | {runs} | {where} |")
        lines.append("")
        per_lead = [r for r in rows if r.get("seeds")]
        lines += ["### MAE (K) per lead", "", "| row | " + " | ".join(f"+{(i + 1) * data['step_hours']:g} h" for i in range(data["beta"])) + " |",
                  "|---|" + "---:|" * data["beta"]]
        lines += [f"| {r['row']} | " + " | ".join(f"{v:.3f}" for v in r["per_lead"]["mae"]) + " |" for r in per_lead]
        lines.append("")
    lines += ["## Rows still missing", ""]
    if report["missing"]:
        lines += ["| run | data set | row | why |", "|---|---|---|---|"]
        lines += [f"| {m['run']} | {m['grid_id']} | {m.get('row', '-')} | {m['why']} |" for m in report["missing"]]
    else:
        lines.append("None: every queued run is in the tables.")
    paper = [f"{PAPER_LSNTP_PARAMETERS[g] / 1e6:.2f}M on {g}" for g in report["datasets"] if g in PAPER_LSNTP_PARAMETERS]
    if paper:
        lines += ["", f"Not queued: a row at the paper's size (its LS-NTP has {' and '.join(paper)} parameters). A training "
                  "step of such a model costs far more than this CPU machine can give every row; the measurement and the "
                  "command are in model-export/README.md, \"Size: matched, not the paper's\"."]
    lines += ["", "## Plots", "",
              "- `plots/mae_bars.png`: test MAE of every row per data set; each bar's error bar is LS-NTP's MAE plus the 95% "
              "interval of the row's difference from it (a bar whose error bar crosses the dashed LS-NTP line cannot be told apart from it);",
              "- `plots/lead_mae.png`: MAE per lead of LS-NTP, ConvLSTM, the best other system (by its lowest seed's validation MAE, never test), "
              "persistence and climatology, per data set.", ""]
    return "\n".join(lines)


# The project README's results block lies between these markers; `--readme` rewrites only what is
# between them, so the prose around it stays the author's.
README_BEGIN = "<!-- comparison results: written by ./lsntp compare --readme from models/comparison/comparison.json -->"
README_END = "<!-- end of comparison results -->"


def _machines(report: dict) -> str:
    """The machines the report's runs trained on, with how many runs each ("AMD EPYC, 2 cores, ... (49 runs)")."""
    counts = {}
    for d in report["datasets"].values():
        for r in d["rows"]:
            for x in r.get("runs", []):
                counts[x.get("trained_on", "?")] = counts.get(x.get("trained_on", "?"), 0) + 1
    return "; ".join(f"{m} ({n} run{'s' if n != 1 else ''})" for m, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "-"


def results_section(report: dict, report_link: str = "models/comparison/README.md") -> str:
    """The short form of the report for a README: per data set one table of every queued row
    (parameters, seeds, test MAE, its difference to LS-NTP with the interval, training minutes; the
    reason where it has no finished run) and the headline. report_link: the full report, relative to
    that README."""
    lines = [f"From `./lsntp compare` ([{report_link}]({report_link}), generated "
             f"{report['generated']}): each row's best-validation checkpoint per seed, mean +- sd over seeds, and the "
             "95% block-bootstrap interval (one-day blocks) of its MAE minus LS-NTP's on the same windows; * marks an "
             "interval that excludes zero. Table 3's sizes are within +-20% of LS-NTP's parameters; minutes of training "
             f"per run (mean over its seeds), on {_machines(report)}; 'seeds' says how many of the "
             "queued seeds have finished where not all have. Every queued row is listed, one with no finished run with "
             "the reason.", ""]
    for grid, d in report["datasets"].items():
        data = d["data"]
        lines += [f"**{grid}**: `{data['file']}`, test {data['test']}, {data['beta'] * data['step_hours']:g} h ahead", "",
                  "| row | table | parameters | seeds | test MAE (K) | minus LS-NTP's (K) [95%] | training min/run |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        seen = set()
        # Table 3 with its references last, then the ablation and variant tables; a row with no
        # finished run stays in its place, saying why
        for r in sorted(d["rows"], key=lambda r: (r["table"], r["system"] in REFERENCE_ROWS)):
            if r["system"] in seen:
                continue
            seen.add(r["system"])
            params = f"{r['parameters']:,}" if r.get("parameters") else "-"
            queued = r.get("queued_seeds") or r["seeds"]
            seeds = "-" if r["system"] in REFERENCE_ROWS else str(r["seeds"]) if r["seeds"] >= queued else f"{r['seeds']} of {queued}"
            if not r.get("seeds"):
                lines.append(f"| {r['row']} | {r['table']} | {params} | {seeds} | no result: {r.get('why_missing', 'no finished run')} | - | - |")
                continue
            mins = [x["train_minutes"] for x in r.get("runs", []) if x.get("train_minutes") is not None]
            minutes = f"{sum(mins) / len(mins):.0f}" if mins else "-"
            lines.append(f"| {r['row']} | {r['table']} | {params} | {seeds} | {_pm(r['metrics']['mae'], 3)} | "
                         f"{_diff(r)} | {minutes} |")
        lines += ["", d["headline"]["statement"], ""]
    return "\n".join(lines)


def check_readme(path: str) -> str:
    """The README's text, if it has exactly one results block (README_BEGIN, then README_END)."""
    with open(path) as f:
        text = f.read()
    if text.count(README_BEGIN) != 1 or text.count(README_END) != 1 or text.index(README_BEGIN) > text.index(README_END):
        raise ValueError(f"{path} needs exactly one results block, the lines\n  {README_BEGIN}\n  {README_END}\n"
                         "in this order, for --readme to write between them")
    return text


def update_readme(path: str, report: dict, comparison_dir: str) -> None:
    """Rewrites the results block of the README at path (between README_BEGIN and README_END); the
    block links the full report in comparison_dir."""
    text = check_readme(path)
    head, rest = text.split(README_BEGIN)
    _, tail = rest.split(README_END)
    link = os.path.relpath(os.path.join(comparison_dir, "README.md"), os.path.dirname(os.path.abspath(path)))
    with open(path + ".tmp", "w") as f:
        f.write(head + README_BEGIN + "\n" + results_section(report, link) + "\n" + README_END + tail)
    os.replace(path + ".tmp", path)


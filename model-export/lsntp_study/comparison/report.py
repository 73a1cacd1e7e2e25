"""The comparison's report in markdown, OUT/README.md: every table, the headline of each data set and
the part written by hand about what the tables show, which a rerun keeps (hand_written). The one
place the comparison's tables are published (the project README links it). Pure: reads the report
(comparison.json's data) only, so the README can be written again from its JSON."""
from __future__ import annotations

import os

from lsntp.paths import from_project, project_relative

from .systems import REFERENCE_ROWS

# The paper's Table 3: LS-NTP's parameters on its ERA5 and NCEP set-ups (ours are matched to a far
# smaller LS-NTP, so that the comparison weighs systems, not sizes).
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


# What lies between these two lines of OUT/README.md is written by hand (what the tables show, why the
# protocol is as it is) and kept as it is when compare writes the README again.
HAND_BEGIN = "<!-- written by hand; ./lsntp compare keeps what lies between this line and the next marker -->"
HAND_END = "<!-- end of the part written by hand; the rest is generated from comparison.json -->"


def hand_written(readme_text: str) -> str:
    """The part written by hand of an earlier README (between HAND_BEGIN and HAND_END), or "" where it
    has none; a README with a broken pair of markers is refused, so no hand-written text is dropped."""
    begins, ends = readme_text.count(HAND_BEGIN), readme_text.count(HAND_END)
    if begins == ends == 0:
        return ""
    if begins != 1 or ends != 1 or readme_text.index(HAND_BEGIN) > readme_text.index(HAND_END):
        raise ValueError(f"the comparison's README.md has a broken pair of markers around its hand-written part "
                         f"(each must appear once, in this order):\n  {HAND_BEGIN}\n  {HAND_END}")
    return readme_text.split(HAND_BEGIN, 1)[1].split(HAND_END, 1)[0].strip("\n")


def _shown(path: str) -> str:
    """A recorded path as a command run from the project root takes it (reports before paths were
    recorded relative to the project hold absolute ones)."""
    return project_relative(from_project(path))


def markdown(report: dict, hand: str = "") -> str:
    """The report's README; hand: its part written by hand (hand_written of the README it replaces)."""
    b = report["bootstrap"]
    n_rows = sum(1 for d in report["datasets"].values() for r in d["rows"] if r.get("seeds") and r["system"] not in REFERENCE_ROWS)
    lines = ["# The comparison: every system on both data sets", "",
             f"Generated {report['generated']} by `./lsntp compare {_shown(report['queue'])} "
             f"--runs-dir {_shown(report['runs_dir'])}` from the runs finished then ({n_rows} system rows with at least one seed; "
             f"{len(report['missing'])} queued runs missing, listed at the end).", "",
             "Conventions (model-export/README.md, \"Compare\"): every number is on the held-out test part; each run is "
             "its best-validation checkpoint; a row's value is the mean +- sd over its seeds (sd from 2 seeds on). "
             "SSIM (ours): 7x7 window, data range = the training range, every cell; SSIM (paper-style): as the paper's "
             "SimVP/OpenSTL lineage computes it on kelvin frames (skimage's old defaults: data range 2.0, border strip "
             "cropped) - nearly a 7x7 correlation, not comparable with ours. PSNR: 10 log10(255^2/MSE) on kelvin errors, as "
             "the paper's tables. 'MAE minus LS-NTP's': the row's MAE minus LS-NTP's on the same windows (seeds averaged per "
             f"window); 95% block-bootstrap interval with calendar days (UTC date of the issue time) as blocks, "
             f"{b['resamples']:,} resamples, seed {b['seed']}; * marks an interval that excludes zero. Parameters are "
             "counted on the data set's grid.", ""]
    lines += [HAND_BEGIN] + ([hand] if hand else []) + [HAND_END, ""]
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
                             f"{paper / ref_row['parameters']:.0f} times as many, and no row here is at that size"
                             if paper else "") + ".", ""]
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
                  "step of such a model costs far more than a CPU machine can give every row."]
    lines += ["", "## Plots", "",
              "- `plots/mae_bars.png`: test MAE of every row per data set; each bar's error bar is LS-NTP's MAE plus the 95% "
              "interval of the row's difference from it (a bar whose error bar crosses the dashed LS-NTP line cannot be told apart from it);",
              "- `plots/lead_mae.png`: MAE per lead of LS-NTP, ConvLSTM, the best other system (by its lowest seed's validation MAE, never test), "
              "persistence and climatology, per data set.", ""]
    return "\n".join(lines)

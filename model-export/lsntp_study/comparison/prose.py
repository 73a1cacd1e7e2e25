"""The headline of a data set in words, from the decisions rules.py took and the rows they rest on.

Reads only the report's data (a headline dict and its data set's rows, as comparison.json holds
them), so a report's statement can be written again from its JSON.
"""
from __future__ import annotations

from .rules import verdict

RESOLUTION_RULE = "LS-NTP at full resolution is the reference if it scores better on validation than downsampled"


def _and(names: list[str]) -> str:
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def statement(headline: dict, rows: list) -> str:
    """LS-NTP against the aim and against ConvLSTM, then the resolution rule where it applies."""
    if "lsntp_over_persistence" not in headline:
        return "LS-NTP has no finished run on this data set yet: no headline."
    ratio, aim = headline["lsntp_over_persistence"], headline["aim_fraction_of_persistence"]
    lines = []
    if aim is not None:
        lines.append(f"LS-NTP's test MAE is {ratio['ratio']:.3f} x persistence's (95% interval {ratio['lo']:.3f}-{ratio['hi']:.3f}); "
                     f"the aim is <= {aim:.2f} x: " + ("met." if headline["aim_met"] else "NOT met.") +
                     ("" if headline["aim_met"] == headline["aim_met_with_interval"] else " (the interval reaches past the aim)"))
    d = headline.get("convlstm_minus_lsntp")
    if d is None:
        lines.append("ConvLSTM has no finished run on this data set yet: no comparison with it.")
    elif d["lo"] > 0:
        lines.append(f"LS-NTP is ahead of ConvLSTM: ConvLSTM's MAE minus LS-NTP's is {d['diff']:+.4f} K, 95% interval "
                     f"[{d['lo']:+.4f}, {d['hi']:+.4f}] K over {d['blocks']} days, above zero.")
    elif d["hi"] < 0:
        lines.append(f"LS-NTP is NOT ahead of ConvLSTM: ConvLSTM is better, by {-d['diff']:.4f} K (ConvLSTM minus LS-NTP "
                     f"{d['diff']:+.4f} K, 95% interval [{d['lo']:+.4f}, {d['hi']:+.4f}] K over {d['blocks']} days, below zero).")
    else:
        lines.append(f"LS-NTP is NOT ahead of ConvLSTM by more than the interval: ConvLSTM's MAE minus LS-NTP's is "
                     f"{d['diff']:+.4f} K with a 95% interval [{d['lo']:+.4f}, {d['hi']:+.4f}] K over {d['blocks']} days, "
                     "which contains zero: on this test part the two cannot be told apart.")
    if "resolution" in headline:
        lines.append(resolution(headline["resolution"], rows))
    return " ".join(lines)


def resolution(res: dict, rows: list) -> str:
    """The resolution rule's decision (rules.resolution_rule) in words."""
    if not res["decided"]:
        return (f"Resolution ({RESOLUTION_RULE}) is undecided: `{res['full_resolution']}` has no finished run yet.")
    by_name = {r["system"]: r for r in rows}
    full_row = by_name[res["full_resolution"]]
    ref_row = next(r for r in rows if r.get("reference"))
    text = (f"Resolution ({RESOLUTION_RULE}): LS-NTP at full "
            f"resolution (`{res['full_resolution']}`, {full_row['seeds']} seed(s), {full_row['parameters']:,} parameters) has a mean "
            f"validation MAE of {res['validation_mae_full']:.4f} K against {res['validation_mae_reference']:.4f} K downsampled "
            f"({ref_row['seeds']} seeds)")
    if not res["full_better_on_validation"]:
        return text + ": the downsampled reference stays."
    ratio = res["full_over_persistence"]
    text += (f", better. On test it is {ratio['ratio']:.3f} x persistence (95% interval {ratio['lo']:.3f}-{ratio['hi']:.3f})")
    d = res.get("convlstm_minus_full")
    if d is not None:
        text += (f"; the downsampled ConvLSTM's MAE minus its MAE is {d['diff']:+.4f} K, 95% interval "
                 f"[{d['lo']:+.4f}, {d['hi']:+.4f}] K ({verdict(d)})")
    peers = res.get("peers_minus_full") or {}
    labels = [by_name[name]["label"] for name in peers]
    if peers:
        parts, ahead, behind = [], [], []
        for (name, p), label in zip(peers.items(), labels):
            size = p["parameters"] / full_row["parameters"]
            parts.append(f"{label} ({p['seeds']} seed(s), {p['parameters']:,} parameters, {size:.2f} x its; validation "
                         f"{p['validation_mae']:.4f} K) {p['diff']:+.4f} K [{p['lo']:+.4f}, {p['hi']:+.4f}] ({verdict(p)})")
            (ahead if p["lo"] > 0 else behind if p["hi"] < 0 else []).append(label)
        text += (". The other systems trained at full resolution too, at their configs' sizes (MAE minus the full-resolution "
                 "LS-NTP's, 95% interval): " + "; ".join(parts) + ". At full resolution LS-NTP is "
                 + (f"ahead of {_and(ahead)}" if ahead else "ahead of none of them beyond the interval")
                 + (f" and behind {_and(behind)}" if behind else ""))
    missing = max(0, 3 - full_row["seeds"])
    text += ". It is not the reference of these tables: " + (
        f"the protocol asks 3 seeds of the reference and it has {full_row['seeds']}; " if missing else "") + (
        f"its {full_row['parameters']:,} parameters are {full_row['parameters'] / ref_row['parameters']:.1f} x the "
        "downsampled LS-NTP's, to which every other system's size is matched (the graph's node embedding and the "
        "peephole ConvLSTM's per-cell peephole weights grow with the number of cells it runs on). " + (
            f"Of the other systems only {_and(labels)} ran at full resolution (above); the rest "
            "run downsampled as the reference does." if peers else
            "Every other system, ConvLSTM included, runs downsampled as the reference does: whether they gain as much at "
            "full resolution is untested."))
    return text

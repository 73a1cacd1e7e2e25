"""The comparison's decision rules, as data: what the headline of a data set says and why.

- The aim: LS-NTP's test MAE as a fraction of persistence's, with its block-bootstrap interval,
  against the fraction the replication aims at on that data set (AIMS).
- LS-NTP against ConvLSTM, the system it extends: ahead only when the interval of ConvLSTM's MAE
  minus LS-NTP's lies above zero.
- Resolution: where the data set's LS-NTP runs downsampled and the queue also holds it at full
  resolution, full resolution should be the reference if it scores better on VALIDATION (never
  test); the rule says whether it does and, where it does, how it fares on test against
  persistence, the downsampled ConvLSTM and every other system run at full resolution.
- The best other system (best_other): chosen by validation MAE, never test.
Nothing here writes prose; prose.py says these decisions in words.
"""
from __future__ import annotations

import numpy as np

from .. import bootstrap
from .systems import System

# LS-NTP's test MAE as a fraction of persistence's that the replication aims at, per data set (grid_id prefix)
AIMS = {"era5": 0.62, "ncep": 0.70}
# Table 3 matches sizes: every other system within this fraction of LS-NTP's parameter count
SIZE_TOLERANCE = 0.2


def find(rows, kind=None, system=None):
    """The row of a system by name, or the Table 3 row of a kind with a finished run."""
    for r in rows:
        if (system and r["system"] == system) or (kind and r["kind"] == kind and r["table"] == "3" and r.get("seeds")):
            return r
    return None


def verdict(d: dict) -> str:
    """Where a difference's interval lies: above zero, below zero, or across it."""
    return "above zero" if d["lo"] > 0 else "below zero" if d["hi"] < 0 else "contains zero"


def mean_validation_mae(row: dict) -> float:
    return float(np.mean([x["validation_mae"] for x in row["runs"]]))


def resolution_rule(ref: System, full: System, rows: list, window_mae: dict, blocks, n_resamples: int,
                    seed: int, peers: list[System] = ()) -> dict:
    """Whether full resolution should be the reference: compares mean validation MAE (never test);
    where full resolution wins, its test ratio to persistence, the downsampled ConvLSTM's difference
    to it, and each other system's trained at full resolution too (peers, systems.full_resolution_peers)."""
    by_name = {r["system"]: r for r in rows}
    ref_row, full_row = by_name.get(ref.name), by_name.get(full.name)
    if not full_row or not full_row.get("seeds") or not ref_row or not ref_row.get("seeds"):
        return {"full_resolution": full.name, "decided": False}
    v_full, v_ref = mean_validation_mae(full_row), mean_validation_mae(ref_row)
    out = {"full_resolution": full.name, "decided": True, "validation_mae_full": v_full, "validation_mae_reference": v_ref,
           "full_better_on_validation": v_full < v_ref, "full_seeds": full_row["seeds"]}
    if v_full >= v_ref:
        return out
    out["full_over_persistence"] = bootstrap.ratio_of_means(window_mae[full.name], window_mae["Persistence"], blocks,
                                                            n_resamples, seed)
    conv = find(rows, kind="convlstm")
    if conv is not None and conv["system"] in window_mae:
        out["convlstm_minus_full"] = bootstrap.mean_difference(window_mae[conv["system"]], window_mae[full.name], blocks,
                                                               n_resamples, seed)
    peer_rows = [by_name[p.name] for p in peers if by_name.get(p.name, {}).get("seeds")]
    if peer_rows:
        out["peers_minus_full"] = {}
        for r in peer_rows:
            d = bootstrap.mean_difference(window_mae[r["system"]], window_mae[full.name], blocks, n_resamples, seed)
            out["peers_minus_full"][r["system"]] = {
                **d, "seeds": r["seeds"], "validation_mae": mean_validation_mae(r), "parameters": r["parameters"],
                "parameters_vs_full": round(r["parameters"] / full_row["parameters"], 3)}
    return out


def headline(grid: str, ref: System, rows: list, window_mae: dict, blocks, n_resamples: int, seed: int,
             full_resolution: System | None = None, full_resolution_peers: list[System] = ()) -> dict:
    """The data set's headline decisions: LS-NTP against the aim and against ConvLSTM, and the
    resolution rule where it applies (prose.statement says them)."""
    out = {"aim_fraction_of_persistence": next((v for k, v in AIMS.items() if grid.startswith(k)), None)}
    if ref.name not in window_mae:
        return out
    ratio = bootstrap.ratio_of_means(window_mae[ref.name], window_mae["Persistence"], blocks, n_resamples, seed)
    aim = out["aim_fraction_of_persistence"]
    out["lsntp_over_persistence"] = ratio
    out["aim_met"] = None if aim is None else bool(ratio["ratio"] <= aim)
    out["aim_met_with_interval"] = None if aim is None else bool(ratio["hi"] <= aim)
    conv = find(rows, kind="convlstm")
    if conv is not None and "vs_lsntp" in conv:
        out["convlstm_minus_lsntp"] = conv["vs_lsntp"]
        out["lsntp_ahead_of_convlstm"] = conv["vs_lsntp"]["lo"] > 0
    if full_resolution is not None:
        out["resolution"] = resolution_rule(ref, full_resolution, rows, window_mae, blocks, n_resamples, seed,
                                            full_resolution_peers)
    return out


def best_other(rows: list) -> dict | None:
    """The best Table 3 system other than LS-NTP and ConvLSTM by the validation MAE (never test) of its
    lowest seed, the one every system has: the rule that chose which system gets the protocol's three
    seeds, so it is not undone by the extra seeds (a mean over three against one seed's value)."""
    cands = [r for r in rows if r["table"] == "3" and r.get("seeds") and not r.get("reference")
             and r["kind"] not in ("convlstm", "reference")]
    if not cands:
        return None
    return min(cands, key=lambda r: min(r["runs"], key=lambda x: x["seed"])["validation_mae"])

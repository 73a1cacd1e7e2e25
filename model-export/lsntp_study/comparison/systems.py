"""The queue's runs grouped into systems, and each system's place in the tables.

A system is one queue entry (a config with its overrides) with all its seeds: one row of the
comparison. Its table and row name come from what differs from its data set's LS-NTP, the
reference every row is compared with:
- Table 3: LS-NTP and every other system at a matched size, plus Persistence and Climatology;
- Table 4: the paper's ablations (w/o NSA, w/o LAGC, both, w/o LSI) and DAGG-ConvLSTM;
- Table 5 / Q1: the paper's LSI kernel and LAGC distance sweeps;
- Table 6: variants that are in none of the paper's tables (the LSI's ReLU switched, the sparse
  graph, full resolution), and other systems at the resolution the reference does not run at.
"""
from __future__ import annotations

import dataclasses
import os

from lsntp.config import load as load_config

from .. import queue

# The comparison's tables, in the order the report shows them.
TABLE_IDS = ("3", "4", "5", "6")
# Rows computed from the data set, not trained: they sit at the end of Table 3.
REFERENCE_ROWS = ("Persistence", "Climatology")
# The rows of an LS-NTP whose LSI differs from its data set's reference only in its activation: the
# choice between the two forms, settled per data set on validation (zoo.is_ablation leaves them out).
LSI_LINEAR_ROW = "LSI without ReLU (linear)"
LSI_RELU_ROW = "LSI with ReLU (the seed's)"
FULL_RESOLUTION = "full resolution (no downsampling)"


@dataclasses.dataclass
class System:
    """One row of the comparison: a queue entry (a config with its overrides), all its seeds."""
    name: str  # the queue's run name without -sN, e.g. era5-lsntp, era5-lsntp-no-nsa
    runs: list  # queue.QueuedRun, one per seed
    cfg: object  # the RunConfig of its first run (the queue's config with its overrides)
    table: str = "3"
    row: str = ""  # the row's name in the tables
    folder: str = ""  # lowercase folder name without the data set prefix (the zoo's)
    reference: bool = False  # the data set's LS-NTP: what every row is compared with

    @property
    def grid_id(self) -> str:
        return self.cfg.data.grid_id


def _base_name(r: queue.QueuedRun) -> str:
    seed = r.overrides.get("train.seed")
    suffix = f"-s{seed}"
    return r.name[: -len(suffix)] if seed is not None and r.name.endswith(suffix) else r.name


def _resolution(model) -> str:
    return FULL_RESOLUTION if not model.downsample else "downsampled by 2"


def _variant(ref_model, model) -> tuple[str, str]:
    """(table, row name) of an LS-NTP variant, named by what differs from the data set's LS-NTP.
    Table 4 when one of the paper's ablations is in it (NSA, LAGC, LSI removed), else Table 6 when one
    of our own settings differs (the LSI's ReLU, the sparse graph, resolution, sizes), else Table 5
    (the paper's kernel and distance sweeps)."""
    if model.kind != "lsntp":
        return "4", model.label
    parts, ablation, ours = [], False, False
    if not model.nsa and not model.lagc and (ref_model.nsa or ref_model.lagc):
        parts.append("w/o NSA & LAGC")
    elif model.nsa != ref_model.nsa:
        parts.append("w/o NSA" if not model.nsa else "with NSA")
    elif model.lagc != ref_model.lagc:
        parts.append("w/o LAGC" if not model.lagc else "with LAGC")
    if model.lsi != ref_model.lsi:
        parts.append("w/o LSI" if not model.lsi else "with LSI")
    ablation = bool(parts)
    if model.lsi and model.lsi_relu != ref_model.lsi_relu:
        parts.append(LSI_LINEAR_ROW if not model.lsi_relu else LSI_RELU_ROW)
        ours = True
    if model.kernel != ref_model.kernel:
        parts.append(f"k = {model.kernel}")
    if model.distance_km != ref_model.distance_km:
        parts.append("no threshold" if model.distance_km is None else f"d = {model.distance_km:g} km")
    for field in ("hidden", "embed_dim", "graph", "graph_k", "downsample", "layers", "nsa_hidden", "residual"):
        if getattr(model, field) != getattr(ref_model, field):
            if field == "downsample":
                parts.append(_resolution(model))
            else:
                parts.append(f"{field} = {getattr(model, field)}")
            ours = True
    table = "4" if ablation else "6" if ours else "5"
    return table, ", ".join(parts) or "LS-NTP (same settings)"


def systems(queue_file: str) -> list[System]:
    """The queue's runs grouped into systems (seeds together), each with its table, row name and folder."""
    groups: dict[str, System] = {}
    for r in queue.read(queue_file):
        name = _base_name(r)
        if name in groups:
            groups[name].runs.append(r)
            continue
        path = r.config if os.path.isabs(r.config) else os.path.join(queue.MODEL_EXPORT, r.config)
        cfg = load_config(path, {"name": r.name, **r.overrides})
        groups[name] = System(name, [r], cfg)
    out = list(groups.values())
    refs = {}
    for s in out:  # the data set's LS-NTP: kind lsntp, no model setting changed by the queue, most seeds
        model_overrides = [k for k in s.runs[0].overrides if k.startswith("model.")]
        if s.cfg.model.kind == "lsntp" and not model_overrides:
            if s.grid_id not in refs or len(s.runs) > len(refs[s.grid_id].runs):
                refs[s.grid_id] = s
    for s in out:
        ref = refs.get(s.grid_id)
        prefix = (ref.name.split("-")[0] + "-") if ref else ""
        s.folder = (s.name[len(prefix):] if prefix and s.name.startswith(prefix) else s.name).lower()
        if s is ref:
            s.reference, s.table, s.row = True, "3", "LS-NTP"
        elif s.cfg.model.kind == "lsntp":
            s.table, s.row = _variant(ref.cfg.model, s.cfg.model) if ref else ("4", s.cfg.model.label)
        elif ref is not None and s.cfg.model.downsample != ref.cfg.model.downsample:
            # another system at the other resolution: a measurement for the resolution rule, not Table 3's row
            s.table, s.row = "6", f"{s.cfg.model.label} at {_resolution(s.cfg.model)}"
        elif s.cfg.model.kind == "daggconvlstm":
            s.table, s.row = "4", s.cfg.model.label
        else:
            s.table, s.row = "3", s.cfg.model.label
    return out


def references(systems_: list[System]) -> dict[str, System]:
    """grid_id -> the data set's LS-NTP system."""
    return {s.grid_id: s for s in systems_ if s.reference}


def full_resolution_of(ref: System, members: list[System]) -> System | None:
    """The queued LS-NTP that differs from the data set's reference only in running at full resolution
    (no downsampling), as the paper's reference configuration does; None where there is none."""
    if not ref.cfg.model.downsample:
        return None
    target = dataclasses.replace(ref.cfg.model, downsample=False)
    return next((s for s in members if s.cfg.model == target and s.cfg.data == ref.cfg.data), None)


def full_resolution_peers(ref: System, members: list[System]) -> list[System]:
    """The other systems (not LS-NTP) queued at full resolution on the reference's data, where the
    reference runs downsampled: what the full-resolution LS-NTP is compared with, like with like."""
    if not ref.cfg.model.downsample:
        return []
    return [s for s in members if s.cfg.model.kind != "lsntp" and not s.cfg.model.downsample and s.cfg.data == ref.cfg.data]

"""Every model kind (a config's `model.kind`): its label and the builder of one layer's cell.

The one table of kinds: ModelConfig checks names and takes labels from it, EncoderDecoder builds
its layers from it, and it says which kinds read the network's shared AdaptiveGraph.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from torch import nn

from . import cells
from .baselines import agcrn, crevnet, daggconvlstm, dconvlstm, mim, phydnet, predrnnpp, saconvlstm, trajgru


@dataclasses.dataclass(frozen=True)
class Kind:
    label: str  # the system's name in reports and in the ONNX metadata
    make_cell: Callable[[cells.LayerSpec], nn.Module]
    graph: bool = False  # its cells read the network's one AdaptiveGraph (built over the coarse grid's nodes)


KINDS: dict[str, Kind] = {
    "lsntp": Kind("LS-NTP", cells.lsntp_cell, graph=True),  # unless model.lagc is false
    "convlstm": Kind("ConvLSTM", cells.convlstm_cell),
    "convgru": Kind("ConvGRU", cells.convgru_cell),
    "predrnn": Kind("PredRNN", cells.predrnn_cell),
    "trajgru": Kind("TrajGRU", trajgru.make_cell),
    "predrnnpp": Kind("PredRNN++", predrnnpp.make_cell),
    "mim": Kind("MIM", mim.make_cell),
    "phydnet": Kind("PhyDNet", phydnet.make_cell),
    "crevnet": Kind("CrevNet", crevnet.make_cell),
    "agcrn": Kind("AGCRN", agcrn.make_cell, graph=True),
    "saconvlstm": Kind("SA-ConvLSTM", saconvlstm.make_cell),
    "dconvlstm": Kind("D-ConvLSTM", dconvlstm.make_cell),
    "daggconvlstm": Kind("DAGG-ConvLSTM", daggconvlstm.make_cell, graph=True),
}


def make_cell(kind: str, spec: cells.LayerSpec) -> nn.Module:
    return KINDS[kind].make_cell(spec)

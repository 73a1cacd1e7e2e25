"""The encoder-decoder forecaster (LS-NTP and its baselines) and the wrappers composed around it.

    Normalised( PersistenceResidual( EncoderDecoder(cells) ) )

EncoderDecoder: optional stride-2 downsampling, two encoder layers read the alpha frames, two
decoder layers start from the encoder's states with zero input and emit beta steps, optional
transposed-convolution upsampling, and a 1x1 convolution to the one temperature channel.
PersistenceResidual: the core predicts the change from the newest input frame.
Normalised: min-max normalisation in, its inverse out, so the exported graph speaks kelvin.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from .cells import LayerSpec
from .data import MinMax, cell_distances_km, coarse_grid, nearest_cells
from .kinds import KINDS, make_cell
from .ls_conv import GRAPH_FORMS, AdaptiveGraph, LSConvSettings, SparseAdaptiveGraph


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    kind: str = "lsntp"  # a key of kinds.KINDS: lsntp, or one of the comparison's systems
    hidden: int = 16
    layers: int = 2  # per side: encoder and decoder
    kernel: int = 3  # LSI kernel for lsntp; convolution kernel for the baselines
    downsample: bool = True  # stride-2 conv before the encoder, transposed conv after the decoder
    down_channels: int = 8
    nsa: bool = True
    lagc: bool = True
    lsi: bool = True
    lsi_relu: bool = True  # the reference's ReLU after the LSI convolution
    nsa_hidden: int = 16
    embed_dim: int = 64  # the adaptive graph's node embedding (LS-NTP's LAGC; AGCRN's and DAGG-ConvLSTM's E)
    distance_km: float | None = None  # LAGC limited to cells at most this far apart (the paper's Q1)
    graph: str = "dense"  # LAGC's form: dense (every pair of nodes) or sparse (graph_k nearest nodes each)
    graph_k: int | None = None  # sparse: neighbours per node, itself included (capped at the node count)
    residual: bool = True  # predict the change from the newest frame, seeing each frame's tendency too

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"model.kind '{self.kind}' is not one of {', '.join(KINDS)}")
        if self.hidden < 1 or self.layers < 1:
            raise ValueError("model.hidden and model.layers must be at least 1")
        if self.distance_km is not None and self.distance_km < 0:
            raise ValueError(f"model.distance_km must be >= 0, got {self.distance_km}")
        if self.graph not in GRAPH_FORMS:
            raise ValueError(f"model.graph must be one of {', '.join(GRAPH_FORMS)}, got '{self.graph}'")
        if self.graph == "sparse":
            if self.kind != "lsntp":
                raise ValueError(f"model.graph: sparse is implemented for kind lsntp only, not {self.kind}")
            if self.graph_k is None or isinstance(self.graph_k, bool) or not isinstance(self.graph_k, int) or self.graph_k < 1:
                raise ValueError(f"model.graph: sparse needs model.graph_k, a whole number of neighbours >= 1, got {self.graph_k!r}")
        elif self.graph_k is not None:
            raise ValueError("model.graph_k applies to the sparse graph only: set model.graph: sparse too")

    @property
    def ls_settings(self) -> LSConvSettings:
        return LSConvSettings(kernel=self.kernel, nsa=self.nsa, lagc=self.lagc, lsi=self.lsi, lsi_relu=self.lsi_relu,
                              nsa_hidden=self.nsa_hidden, graph=self.graph)

    @property
    def uses_graph(self) -> bool:
        """The network holds one AdaptiveGraph over the coarse grid's nodes, shared by its cells."""
        return self.lagc if self.kind == "lsntp" else KINDS[self.kind].graph

    @property
    def label(self) -> str:
        if self.kind != "lsntp":
            return KINDS[self.kind].label
        parts = []
        if not self.nsa and not self.lagc:
            parts.append("w/o NSA&LAGC")
        elif not self.nsa:
            parts.append("w/o NSA")
        elif not self.lagc:
            parts.append("w/o LAGC")
        if not self.lsi:
            parts.append("w/o LSI")
        elif not self.lsi_relu:
            parts.append("linear LSI")
        if self.kernel != 3:
            parts.append(f"k={self.kernel}")
        if self.distance_km is not None:
            parts.append(f"d={self.distance_km:g} km")
        if self.graph == "sparse" and self.lagc:
            parts.append(f"sparse graph ({self.graph_k} nearest)")
        if self.hidden != ModelConfig.hidden:
            parts.append(f"hidden {self.hidden}")
        return "LS-NTP" + (" " + ", ".join(parts) if parts else "")


def coarse_shape(h: int, w: int, downsample: bool) -> tuple[int, int]:
    return ((h + 1) // 2, (w + 1) // 2) if downsample else (h, w)


def build_graph(cfg: ModelConfig, gh: int, gw: int, lats: np.ndarray | None, lons: np.ndarray | None) -> AdaptiveGraph:
    """The network's one adaptive graph over the gh x gw graph nodes, in the form `cfg.graph` names.
    The dense form needs the grid's coordinates only for a distance threshold; the sparse form always
    (its neighbours are the nearest nodes), and never builds anything N x N."""
    sparse = cfg.graph == "sparse"
    if (sparse or cfg.distance_km is not None) and (lats is None or lons is None):
        raise ValueError(("the sparse graph" if sparse else "a distance threshold") + " needs the grid's latitudes and longitudes")
    if lats is not None and lons is not None:
        clat, clon = coarse_grid(np.asarray(lats), np.asarray(lons), 2) if cfg.downsample else (lats, lons)
    if sparse:
        index, km = nearest_cells(clat, clon, cfg.graph_k)
        return SparseAdaptiveGraph(gh * gw, cfg.embed_dim, index, km, cfg.distance_km)
    distances = cell_distances_km(clat, clon) if cfg.distance_km is not None else None
    return AdaptiveGraph(gh * gw, cfg.embed_dim, distances, cfg.distance_km)


class EncoderDecoder(nn.Module):
    """Maps normalised frames (B, alpha, H, W), or (B, alpha, C, H, W) with C features per frame,
    to outputs (B, beta, H, W)."""

    def __init__(self, cfg: ModelConfig, height: int, width: int, beta: int,
                 lats: np.ndarray | None = None, lons: np.ndarray | None = None, frame_channels: int = 1):
        super().__init__()
        self.cfg, self.height, self.width, self.beta = cfg, height, width, beta
        gh, gw = coarse_shape(height, width, cfg.downsample)
        self.grid = (gh, gw)
        in_ch = cfg.down_channels if cfg.downsample else frame_channels
        self.down = nn.Sequential(nn.Conv2d(frame_channels, in_ch, 3, stride=2, padding=1), nn.ReLU()) if cfg.downsample else None
        self.graph = build_graph(cfg, gh, gw, lats, lons) if cfg.uses_graph else None
        settings = cfg.ls_settings

        def stack(first_in):
            return nn.ModuleList(
                make_cell(cfg.kind, LayerSpec(first_in if i == 0 else cfg.hidden, cfg.hidden, self.grid, cfg.kernel, i,
                                              settings, self.graph))
                for i in range(cfg.layers))

        self.encoder = stack(in_ch)
        self.decoder = stack(in_ch)
        self.in_channels = in_ch
        self.up = nn.Sequential(nn.ConvTranspose2d(cfg.hidden, cfg.hidden, 4, stride=2, padding=1), nn.ReLU()) if cfg.downsample else None
        self.head = nn.Conv2d(cfg.hidden, 1, 1)

    def _run_stack(self, cells, x, states, memory):
        for i, cell in enumerate(cells):
            x, states[i], memory = cell(x, states[i], memory)
        return x, memory

    def forward(self, frames):
        if self.graph is None:
            return self._forward(frames)
        with self.graph.one_operator_per_pass():
            return self._forward(frames)

    def _forward(self, frames):
        if frames.dim() == 4:
            frames = frames.unsqueeze(2)
        alpha = frames.shape[1]
        xs = [frames[:, t] for t in range(alpha)]
        if self.down is not None:
            xs = [self.down(x) for x in xs]
        states = [cell.init_state(xs[0]) for cell in self.encoder]
        memory = None
        for x in xs:
            _, memory = self._run_stack(self.encoder, x, states, memory)
        zero = torch.zeros_like(xs[0])
        outs = []
        for _ in range(self.beta):
            h, memory = self._run_stack(self.decoder, zero, states, memory)
            if self.up is not None:
                h = self.up(h)[:, :, :self.height, :self.width]
            outs.append(self.head(h))
        return torch.cat(outs, dim=1)


class PersistenceResidual(nn.Module):
    """The core predicts the change from the newest input frame; persistence is where it starts.

    Hour-to-hour changes are about 1% of the min-max range, too faint for the network to find in
    the frames alone, so the core sees each frame with its tendency (the change from the frame
    before), and both the tendencies and the predicted changes are in units of the training
    part's typical one-step change (`change_scale`).
    """

    FRAME_CHANNELS = 2

    def __init__(self, core: nn.Module, change_scale: float):
        super().__init__()
        self.core = core
        self.register_buffer("change_scale", torch.tensor(change_scale, dtype=torch.float32))

    def forward(self, frames):
        last = frames[:, -1:]
        tendency = torch.cat([torch.zeros_like(last), frames[:, 1:] - frames[:, :-1]], dim=1) * self.change_scale
        return last + self.core(torch.stack([frames, tendency], dim=2)) / self.change_scale


class Normalised(nn.Module):
    """Min-max normalisation fitted on the training part; inputs and outputs in kelvin."""

    def __init__(self, inner: nn.Module, norm: MinMax):
        super().__init__()
        self.inner = inner
        self.register_buffer("lo", torch.tensor(norm.lo, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(norm.hi - norm.lo, dtype=torch.float32))

    def normalise(self, kelvin):
        return (kelvin - self.lo) / self.scale

    def forward(self, kelvin):
        return self.inner(self.normalise(kelvin)) * self.scale + self.lo


def build_forecaster(cfg: ModelConfig, height: int, width: int, beta: int, norm: MinMax,
                     lats=None, lons=None, step_change_k: float = 1.0) -> Normalised:
    """step_change_k: typical one-step change in kelvin on the training part (std of the tendency)."""
    if cfg.residual:
        core = EncoderDecoder(cfg, height, width, beta, lats, lons, PersistenceResidual.FRAME_CHANNELS)
        inner = PersistenceResidual(core, (norm.hi - norm.lo) / step_change_k)
    else:
        inner = EncoderDecoder(cfg, height, width, beta, lats, lons)
    return Normalised(inner, norm)


def predict(model: nn.Module, xs: torch.Tensor, batch: int = 16) -> np.ndarray:
    """The model's forecasts (S, beta, H, W) for windows xs (S, alpha, H, W), in eval mode, batch by batch."""
    model.eval()
    device = next(model.parameters()).device
    outs = []
    with torch.no_grad():
        for i in range(0, len(xs), batch):
            outs.append(model(xs[i:i + batch].to(device)).cpu())
    return torch.cat(outs).numpy()


def core_of(model: Normalised) -> EncoderDecoder:
    inner = model.inner
    return inner.core if isinstance(inner, PersistenceResidual) else inner

"""Shapes of every model kind, and the wrappers composed around the core."""
import numpy as np
import pytest
import torch

from .data import MinMax
from .forecaster import EncoderDecoder, ModelConfig, Normalised, PersistenceResidual, build_forecaster, core_of
from .kinds import KINDS

LATS = np.linspace(55.0, 53.0, 9)
LONS = np.linspace(-3.0, 0.0, 11)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("downsample", [True, False])
def test_every_kind_maps_alpha_frames_to_beta_frames(kind, downsample):
    cfg = ModelConfig(kind=kind, hidden=4, embed_dim=4, down_channels=4, nsa_hidden=4, downsample=downsample)
    model = build_forecaster(cfg, 9, 11, beta=5, norm=MinMax(260.0, 290.0), lats=LATS, lons=LONS)
    out = model(torch.full((3, 4, 9, 11), 275.0))
    assert out.shape == (3, 5, 9, 11)
    assert torch.isfinite(out).all()


def test_one_node_embedding_is_shared_by_every_layer():
    cfg = ModelConfig(hidden=4, embed_dim=4, down_channels=4, nsa_hidden=4)
    core = EncoderDecoder(cfg, 9, 11, beta=2, frame_channels=2)
    graphs = {id(cell.gates.graph[0]) for cell in list(core.encoder) + list(core.decoder)}
    assert graphs == {id(core.graph)}
    assert sum(1 for n, _ in core.named_parameters() if n.endswith("embedding")) == 1
    assert core.graph.n_nodes == 5 * 6  # the stride-2 grid


def test_distance_threshold_needs_coordinates():
    with pytest.raises(ValueError, match="latitudes"):
        EncoderDecoder(ModelConfig(distance_km=100.0, hidden=4, embed_dim=4, nsa_hidden=4), 9, 11, beta=2)


def test_normalisation_and_persistence_wrappers_compose():
    cfg = ModelConfig(kind="convgru", hidden=4, down_channels=4)
    model = build_forecaster(cfg, 9, 11, beta=3, norm=MinMax(250.0, 300.0), step_change_k=0.5)
    assert isinstance(model, Normalised) and isinstance(model.inner, PersistenceResidual)
    head = core_of(model).head
    with torch.no_grad():  # a core that predicts no change makes the forecaster persistence, in kelvin
        head.weight.zero_()
        head.bias.zero_()
        x = 270.0 + torch.randn(2, 4, 9, 11)
        torch.testing.assert_close(model(x), x[:, -1:].expand(2, 3, 9, 11))
        assert torch.isclose(model.inner.change_scale, torch.tensor(100.0))


def test_unknown_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="'transformer'"):
        ModelConfig(kind="transformer")


def test_sparse_graph_settings_are_checked():
    with pytest.raises(ValueError, match="graph_k"):
        ModelConfig(graph="sparse")
    with pytest.raises(ValueError, match="sparse graph only"):
        ModelConfig(graph_k=9)
    with pytest.raises(ValueError, match="model.graph must be one of"):
        ModelConfig(graph="csr", graph_k=9)
    with pytest.raises(ValueError, match="lsntp only"):
        ModelConfig(kind="agcrn", graph="sparse", graph_k=9)
    with pytest.raises(ValueError, match="latitudes"):
        EncoderDecoder(ModelConfig(graph="sparse", graph_k=4, hidden=4, embed_dim=4, nsa_hidden=4), 9, 11, beta=2)
    assert ModelConfig().label == "LS-NTP" and "sparse graph (9 nearest)" in ModelConfig(graph="sparse", graph_k=9).label


def test_sparse_graph_model_trains_one_step():
    cfg = ModelConfig(hidden=4, embed_dim=4, down_channels=4, nsa_hidden=4, graph="sparse", graph_k=7)
    model = build_forecaster(cfg, 9, 11, beta=2, norm=MinMax(260.0, 290.0), lats=LATS, lons=LONS)
    graph = core_of(model).graph
    assert graph.form == "sparse" and tuple(graph.neighbours.shape) == (30, 7)
    assert not any(n.endswith(("neighbours", "neighbour_km", "keep")) for n in model.state_dict())  # rebuilt from geometry
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = 275.0 + torch.randn(2, 4, 9, 11), 275.0 + torch.randn(2, 2, 9, 11)
    before = graph.embedding.detach().clone()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and not torch.equal(before, graph.embedding.detach())

"""The recurrent cells: shapes of each, and each one's gate equations checked by hand on a 1 x 1 grid."""
import math

import pytest
import torch
from torch import nn

from .cells import (ConvGRUCell, LayerSpec, PeepholeLSTMCell, SpatioTemporalLSTMCell, convgru_cell, convlstm_cell,
                    lsntp_cell, predrnn_cell)
from .ls_conv import AdaptiveGraph, LSConv, LSConvSettings


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def _spec(**kw):
    graph = AdaptiveGraph(3 * 4, 4)
    base = dict(in_channels=2, hidden=5, grid=(3, 4), kernel=3, layer=0, settings=LSConvSettings(nsa_hidden=4), graph=graph)
    return LayerSpec(**{**base, **kw})


@pytest.mark.parametrize("build", [lsntp_cell, convlstm_cell, convgru_cell, predrnn_cell])
def test_each_cell_keeps_the_grid_and_gives_hidden_channels(build):
    torch.manual_seed(0)
    cell = build(_spec())
    x = torch.randn(2, 2, 3, 4)
    state = cell.init_state(x)
    memory = None
    for _ in range(2):  # a second step reads the state the first one wrote
        h, state, memory = cell(x, state, memory)
    assert h.shape == (2, 5, 3, 4)
    parts = state if isinstance(state, tuple) else (state,)
    assert all(p.shape == (2, 5, 3, 4) for p in parts)
    if build is predrnn_cell:
        assert memory.shape == (2, 5, 3, 4)
    else:
        assert memory is None  # only PredRNN's cell carries the zigzag memory


def test_lsntp_cell_gates_are_one_ls_conv_over_input_and_hidden_state():
    cell = lsntp_cell(_spec())
    assert isinstance(cell, PeepholeLSTMCell) and isinstance(cell.gates, LSConv)
    assert (cell.gates.conv.in_channels, cell.gates.conv.out_channels) == (2 + 5, 4 * 5)
    assert isinstance(convlstm_cell(_spec()).gates, nn.Conv2d)


class FixedGates(nn.Module):
    """A gate operator returning given pre-activations (i, f, c~, o) whatever its input."""

    def __init__(self, values):
        super().__init__()
        self.values = torch.tensor(values, dtype=torch.float64).reshape(1, 4, 1, 1)

    def forward(self, x):
        return self.values.expand(x.shape[0], 4, 1, 1)


def test_peephole_lstm_gates_by_hand():
    gi, gf, gc, go = 0.3, -0.2, 0.5, 0.1
    cell = PeepholeLSTMCell(FixedGates([gi, gf, gc, go]), hidden=1, grid=(1, 1)).double()
    w_ci, w_cf, w_co = 0.4, -0.6, 0.8
    with torch.no_grad():
        cell.peephole.copy_(torch.tensor([w_ci, w_cf, w_co], dtype=torch.float64).reshape(3, 1, 1, 1))
        cell.bias.copy_(torch.tensor([0.1, 1.0, -0.2, 0.05], dtype=torch.float64).reshape(4, 1, 1, 1))
    c_prev, h_prev = 0.7, -0.3
    x = torch.zeros(1, 1, 1, 1, dtype=torch.float64)
    state = (torch.full((1, 1, 1, 1), h_prev, dtype=torch.float64), torch.full((1, 1, 1, 1), c_prev, dtype=torch.float64))
    h, (h2, c), _ = cell(x, state)
    i = sig(gi + w_ci * c_prev + 0.1)
    f = sig(gf + w_cf * c_prev + 1.0)
    c_want = f * c_prev + i * math.tanh(gc - 0.2)
    o = sig(go + w_co * c_want + 0.05)  # the output gate peeks at the new cell state
    assert c.item() == pytest.approx(c_want, abs=1e-12)
    assert h.item() == pytest.approx(o * math.tanh(c_want), abs=1e-12) and h2 is h


def test_convgru_gates_by_hand():
    cell = ConvGRUCell(in_channels=1, hidden=1, kernel=1).double()
    with torch.no_grad():  # [x, h] -> z, r; [x, r h] -> candidate
        cell.zr.weight.copy_(torch.tensor([[0.5, -1.0], [2.0, 0.3]], dtype=torch.float64).reshape(2, 2, 1, 1))
        cell.zr.bias.copy_(torch.tensor([0.1, -0.2], dtype=torch.float64))
        cell.cand.weight.copy_(torch.tensor([0.7, 1.5], dtype=torch.float64).reshape(1, 2, 1, 1))
        cell.cand.bias.copy_(torch.tensor([0.05], dtype=torch.float64))
    xv, hv = 0.8, -0.4
    h, state, _ = cell(torch.full((1, 1, 1, 1), xv, dtype=torch.float64), torch.full((1, 1, 1, 1), hv, dtype=torch.float64))
    z = sig(0.5 * xv - 1.0 * hv + 0.1)
    r = sig(2.0 * xv + 0.3 * hv - 0.2)
    cand = math.tanh(0.7 * xv + 1.5 * r * hv + 0.05)
    assert h.item() == pytest.approx((1 - z) * cand + z * hv, abs=1e-12) and state is h


def test_st_lstm_memories_by_hand():
    cell = SpatioTemporalLSTMCell(in_channels=1, hidden=1, kernel=1).double()
    with torch.no_grad():  # every convolution zero except conv_last = [1, 1]: h = o tanh(c + m)
        for p in cell.parameters():
            p.zero_()
        cell.conv_last.weight.fill_(1.0)
    c_prev, m_prev = 0.6, -0.9
    x = torch.full((1, 1, 1, 1), 0.5, dtype=torch.float64)
    state = (torch.zeros(1, 1, 1, 1, dtype=torch.float64), torch.full((1, 1, 1, 1), c_prev, dtype=torch.float64))
    h, (_, c), m = cell(x, state, torch.full((1, 1, 1, 1), m_prev, dtype=torch.float64))
    # zero pre-activations: forget gates sigmoid(0 + 1), input gates 0.5 times tanh(0) = 0, output gate 0.5
    assert c.item() == pytest.approx(sig(1.0) * c_prev, abs=1e-12)
    assert m.item() == pytest.approx(sig(1.0) * m_prev, abs=1e-12)
    assert h.item() == pytest.approx(0.5 * math.tanh(sig(1.0) * (c_prev + m_prev)), abs=1e-12)

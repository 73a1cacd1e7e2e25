"""Prediction intervals: the hand-worked example the Java verifier's test works too, coverage that comes
back after the errors grow, the identity behind the long-run guarantee, masked cells left out, the
export-time fit and its JSON, and the calibration written into an exported model."""
import json

import numpy as np
import onnx
import pytest

from . import calibration as C


def hand_calibration(eta=0.1, rate=0.5):
    """As ForecastVerifierTest.calibration: 2 leads, 2 x 2 cells, scale 1 K, q 1 at 80% and 2 at 95%."""
    return C.Calibration(levels=(0.5, 0.8, 0.95, 0.99), q=np.array([[0.5, 1, 2, 3], [0.5, 1, 2, 3]], dtype=float),
                         scale=np.ones((2, 2, 2), np.float32), floor=np.array([0.1, 0.1]), eta=eta, scale_rate=rate)


def test_the_hand_worked_example_of_the_java_verifier():
    t = C.Tracker(hand_calibration())
    point = np.array([[[280, 282], [283, 283]], [[281, 282], [283, 284]]], np.float32)
    q = t.intervals(point)
    assert C.quantile_levels((0.8, 0.95)) == [0.025, 0.1, 0.9, 0.975]
    np.testing.assert_array_equal(q[:, 0, 0, 0], [278, 279, 281, 282])
    obs = np.array([[281, 281], [283, 285]], np.float32)  # errors 1, -1, 0, 2
    s = C.interval_scores(q[None, :, :1], obs[None, None], None, (0.8, 0.95), median=point[None, :1])
    assert s["coverage"][0] == [0.75, 1.0] and s["width"][0] == [2.0, 4.0]
    assert s["interval_score"][0] == pytest.approx([4.5, 4.0]) and s["crps"][0] == pytest.approx(0.42)
    t.update(0, point[0], q[:, 0], obs, np.ones((2, 2), bool))
    assert t.q[0] == pytest.approx([1.005, 1.995]) and list(t.q[1]) == [1.0, 2.0]
    np.testing.assert_array_equal(t.scale[0], [1, 1, 0.5, 1.5])
    assert t.updates == 1


def test_masked_cells_take_part_in_nothing():
    t = C.Tracker(hand_calibration())
    point = np.full((2, 2, 2), 280, np.float32)
    q = t.intervals(point)
    obs = np.array([[280.5, 279.5], [280, 999]], np.float32)
    valid = np.array([[True, True], [True, False]])
    t.update(0, point[0], q[:, 0], obs, valid)
    assert t.q[0, 0] == pytest.approx(1 - 0.02)  # no miss among the 3 valid cells
    assert t.scale[0, 3] == 1.0 and t.scale[0, 2] == 0.5
    s = C.interval_scores(q[None, :, :1], obs[None, None], ~valid, (0.8, 0.95), median=point[None, :1])
    assert s["coverage"][0] == [1.0, 1.0]


def synthetic(steps, shift_at, cells=200, seed=42):
    rng = np.random.default_rng(seed)
    sigma = 0.2 + 0.01 * np.arange(cells)
    grow = np.where(np.arange(steps) >= shift_at, 1.8, 1.0)[:, None]
    return (rng.standard_normal((steps, cells)) * sigma * grow).astype(np.float32), sigma


def gaussian_calibration(sigma, eta, rate):
    to_mae = np.sqrt(np.pi / 2)
    z = np.array([0.6745, 1.2816, 1.96, 2.5758])
    return C.Calibration(levels=(0.5, 0.8, 0.95, 0.99), q=(z * to_mae)[None], scale=(sigma / to_mae).astype(np.float32).reshape(1, 1, -1),
                         floor=np.array([0.01]), eta=eta, scale_rate=rate)


def test_coverage_comes_back_after_the_errors_grow_and_stays_off_without_tracking():
    err, sigma = synthetic(1400, 200)
    truths = (280 + err)[:, None, None, :]  # (N, beta 1, H 1, W cells)
    preds = np.full_like(truths, 280)
    cov = {}
    for name, eta, rate in (("tracked", 0.05, 0.0), ("scaled", 0.05, 0.05), ("fixed", 0.0, 0.0)):
        q = C.replay(gaussian_calibration(sigma, eta, rate), preds, truths, None)
        cov[name] = C.interval_scores(q[700:], truths[700:], None, (0.8, 0.95), median=preds[700:])["coverage"][0]
    assert cov["tracked"] == pytest.approx([0.8, 0.95], abs=0.02)
    assert cov["scaled"] == pytest.approx([0.8, 0.95], abs=0.02)
    assert cov["fixed"][0] < 0.6 and cov["fixed"][1] < 0.8


def test_the_long_run_miss_rate_is_alpha_plus_the_drift_of_q_over_eta_t():
    rng = np.random.default_rng(7)
    cal = gaussian_calibration(np.ones(50), 0.1, 0.02)
    t = C.Tracker(cal)
    q0 = t.q.copy()
    misses = np.zeros(2)
    point = np.zeros((1, 1, 50), np.float32)
    for step in range(300):
        q = t.intervals(point)
        obs = np.where(rng.random(50) < 0.1, 50, 1 + step / 100) * rng.standard_normal(50)
        obs = obs.astype(np.float32).reshape(1, 50)
        s = C.interval_scores(q[None], obs[None, None], None, (0.8, 0.95), median=point[None])
        misses += 1 - np.array(s["coverage"][0])
        t.update(0, point[0], q[:, 0], obs, np.ones((1, 50), bool))
    assert misses / 300 - np.array([0.2, 0.05]) == pytest.approx((t.q[0] - q0[0]) / (0.1 * 300), abs=1e-9)


def test_the_export_time_fit_its_json_and_the_starting_multipliers():
    rng = np.random.default_rng(1)
    truths = (280 + rng.standard_normal((40, 2, 3, 4))).astype(np.float32)
    preds = (truths + rng.standard_normal(truths.shape) * np.array([0.5, 1.0])[None, :, None, None]).astype(np.float32)
    mask = np.zeros((3, 4), bool)
    mask[0, 0] = True
    cal = C.fit(preds, truths, mask, eta=0.05, scale_rate=0.01, weights_sha256="ab" * 32)
    err = np.abs(preds - truths)
    np.testing.assert_allclose(cal.scale[1, 2, 3], err[:, 1, 2, 3].mean(), rtol=1e-6)
    assert cal.scale[0, 0, 0] == pytest.approx(err[:, 0][..., ~mask].mean(), rel=1e-6)  # a masked cell: the lead's mean
    s = (err[:, 0] / cal.scale[0])[..., ~mask].ravel()
    assert cal.q[0, 1] == pytest.approx(np.sort(s)[int(np.ceil(len(s) * 0.8 + 0.8)) - 1])
    back = C.Calibration.from_json(cal.to_json(), 2, 3, 4)
    np.testing.assert_array_equal(back.scale, cal.scale)
    assert back.eta == 0.05 and back.weights_sha256 == "ab" * 32 and back.levels == C.LADDER
    mid = back.initial_q((0.85,))
    assert mid[0, 0] == pytest.approx((back.q[0, 1] + back.q[0, 2]) / 2, rel=1e-6)
    with pytest.raises(ValueError, match="outside the calibrated levels"):
        back.initial_q((0.999,))


def test_the_baselines_quantiles():
    preds = np.full((3, 2, 1, 1), 280, np.float32)
    half = np.array([[1.0, 2.0], [3.0, 4.0]])
    q = C.static_quantiles(preds, half)
    np.testing.assert_array_equal(q[0, :, 1, 0, 0], [276, 277, 283, 284])
    last = np.full((3, 1, 1), 270, np.float32)
    errors = np.array([[-2, -1, 0.5, 1, 2], [-4, -3, 0.5, 3, 4]])
    p = C.persistence_quantiles(last, 2, errors)
    np.testing.assert_array_equal(p[1, :, 1, 0, 0], [266, 267, 270.5, 273, 274])


def test_export_carries_the_calibration_and_calibrate_writes_only_it(small_config, tmp_path):
    from . import export, train
    train.train(small_config, str(tmp_path / "run"), max_steps=2, quiet=True)
    out = str(tmp_path / "m" / "model.onnx")
    export.export(str(tmp_path / "run" / "best.pt"), out)
    proto = onnx.load(out)
    meta = {p.key: p.value for p in proto.metadata_props}
    cal = C.Calibration.from_json(meta[C.METADATA_KEY], 2, 9, 12)
    assert cal.weights_sha256 == meta["weights_sha256"] and cal.fitted_on["split"] == "validation"
    assert np.all(cal.scale > 0) and np.all(np.isfinite(cal.q)) and cal.q.shape == (2, len(C.LADDER))
    assert cal.fitted_on["period"].endswith("2019-03-02T11:00Z")  # the validation part ends before the test part (12:00)
    assert "too short" in json.loads(meta[C.METADATA_KEY])["selection"]["note"]  # the tiny part cannot choose: defaults
    # calibrate: the same calibration into the same model, the graph untouched
    proto_before = proto.graph.SerializeToString()
    again = export.add_calibration(out, str(tmp_path / "run" / "best.pt"))
    after = onnx.load(out)
    assert after.graph.SerializeToString() == proto_before
    assert [p.value for p in after.metadata_props if p.key == C.METADATA_KEY] == [again.to_json()]
    assert sum(1 for p in after.metadata_props if p.key == C.METADATA_KEY) == 1
    # another checkpoint's weights are refused
    train.train(small_config, str(tmp_path / "other"), max_steps=3, quiet=True)
    with pytest.raises(ValueError, match="calibrate a model from its own checkpoint"):
        export.add_calibration(out, str(tmp_path / "other" / "best.pt"))

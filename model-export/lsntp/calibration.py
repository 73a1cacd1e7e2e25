"""Prediction intervals around the point forecast, calibrated online by conformal quantile tracking.

The method (flink-job/README.md, "Intervals", gives the reasoning and the coverage guarantee; the
streaming job's ai.lsntp.calibration.Calibrator is the twin of `Tracker` below, step for step):

- nonconformity score of a verified cell: s = |y - forecast| / scale[lead, cell], where `scale` is
  the model's mean absolute error per lead and cell on the validation part (floored at
  FLOOR_FRACTION of the lead's mean, so a cell that happened to be easy is never given a zero width);
- per lead and central level l (alpha = 1 - l) a multiplier q; the published interval is
  forecast +- max(0, q) * scale, i.e. the quantiles (1 - l) / 2 and (1 + l) / 2 (level-major, the
  levels' quantiles in increasing order), with the multipliers made non-decreasing in l so that the
  quantiles never cross;
- after each verified frame of a lead: miss = the fraction of the frame's valid cells outside the
  PUBLISHED interval; q <- q + eta * (miss - alpha) (quantile tracking, Angelopoulos, Candes and
  Tibshirani 2023, on the cells' pooled miss rate); the scale moves as an exponentially weighted mean
  of |error|: scale <- max(floor, (1 - rate) * scale + rate * |y - forecast|) per valid cell (rate 0:
  the export-time scale stays);
- masked (missing) cells take part in nothing.

The export-time calibration (`fit`): scale and the starting q at every level of LADDER from the
validation part (q = the conformal quantile of the pooled validation scores of the lead), and eta,
rate and the scale's pooling chosen on the validation part too (`select`): fitted on its first half,
replayed on its second, the candidates with the lowest mean interval score win. Never the test part.
It travels in the model's ONNX metadata under METADATA_KEY as JSON (`Calibration.to_json`).

Scores of quantile forecasts (`interval_scores`): coverage of each central interval, its mean width,
the interval (Winkler) score (u - l) + 2/alpha (l - y)+ + 2/alpha (y - u)+, and CRPS approximated by
twice the mean pinball loss over the quantile levels with the point forecast as the median:
CRPS ~ 2/K sum_k rho_tau_k(y - q_k), rho_tau(u) = u (tau - 1{u < 0}).
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import math

import numpy as np

METHOD = "conformal-quantile-tracking/1"
METADATA_KEY = "calibration"
# central levels of the export-time calibration; the job's configured levels lie within them
LADDER = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
DEFAULT_LEVELS = (0.8, 0.95)
ETAS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
SCALE_RATES = (0.0, 0.01, 0.02, 0.05, 0.1)
POOLINGS = ("cell", "lead")
FLOOR_FRACTION = 0.1
# a half of the validation part shorter than this many windows cannot choose: the defaults serve
MIN_SELECTION_WINDOWS = 4
DEFAULT_ETA, DEFAULT_RATE, DEFAULT_POOLING = 0.05, 0.0, "cell"


def quantile_levels(levels) -> list[float]:
    """The quantile levels of central intervals at `levels`, increasing: (1 - l) / 2 of the widest
    first ... (1 + l) / 2 of the widest last, e.g. (0.8, 0.95) -> [0.025, 0.1, 0.9, 0.975]."""
    levels = sorted(levels)
    return [round((1 - l) / 2, 9) for l in reversed(levels)] + [round((1 + l) / 2, 9) for l in levels]


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ceil((n + 1) level)-th smallest score (split conformal's finite-sample quantile), the
    largest when that rank passes n."""
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    k = min(len(s), int(math.ceil((len(s) + 1) * level))) - 1
    return float(s[max(k, 0)])


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


@dataclasses.dataclass
class Calibration:
    """A model's export-time calibration (what the job starts each grid from)."""
    levels: tuple  # LADDER
    q: np.ndarray  # (beta, len(levels)) multipliers of the scale
    scale: np.ndarray  # (beta, H, W) float32, K
    floor: np.ndarray  # (beta,) K
    eta: float
    scale_rate: float
    weights_sha256: str = ""
    fitted_on: dict = dataclasses.field(default_factory=dict)
    selection: dict = dataclasses.field(default_factory=dict)
    references: dict = dataclasses.field(default_factory=dict)

    @property
    def beta(self) -> int:
        return int(self.scale.shape[0])

    def initial_q(self, levels) -> np.ndarray:
        """The starting multipliers at `levels` (beta, len(levels)): linear in the level between
        the ladder's levels (levels outside it are refused)."""
        lad = np.asarray(self.levels, dtype=np.float64)
        out = np.empty((self.beta, len(levels)))
        for j, l in enumerate(levels):
            if not lad[0] <= l <= lad[-1]:
                raise ValueError(f"level {l} is outside the calibrated levels {lad[0]}..{lad[-1]}")
            for lead in range(self.beta):
                out[lead, j] = float(np.interp(l, lad, self.q[lead]))
        return out

    def to_json(self) -> str:
        return json.dumps({
            "method": METHOD, "levels": list(self.levels),
            "q": [[round(float(v), 6) for v in row] for row in self.q],
            "scale": _b64(self.scale), "scale_floor": [round(float(v), 6) for v in self.floor],
            "eta": self.eta, "scale_rate": self.scale_rate, "weights_sha256": self.weights_sha256,
            "fitted_on": self.fitted_on, "selection": {k: v for k, v in self.selection.items() if k != "candidates"},
            "references": self.references,
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, beta: int, height: int, width: int) -> "Calibration":
        d = json.loads(text)
        if d.get("method") != METHOD:
            raise ValueError(f"calibration method {d.get('method')!r} is not {METHOD}")
        scale = np.frombuffer(base64.b64decode(d["scale"]), dtype="<f4").astype(np.float32)
        if scale.size != beta * height * width:
            raise ValueError(f"calibration scale holds {scale.size} values, the grid needs {beta}x{height}x{width}")
        # json rounding: the floats as the Java side reads them
        return cls(tuple(d["levels"]), np.asarray(d["q"], dtype=np.float64), scale.reshape(beta, height, width),
                   np.asarray(d["scale_floor"], dtype=np.float64), float(d["eta"]), float(d["scale_rate"]),
                   d.get("weights_sha256", ""), d.get("fitted_on", {}), d.get("selection", {}), d.get("references", {}))

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


class Tracker:
    """One grid's calibration state, as the job keeps it: q (beta, L) and scale (beta, cells)."""

    def __init__(self, cal: Calibration, levels=DEFAULT_LEVELS):
        self.levels = tuple(sorted(levels))
        self.alpha = np.array([1 - l for l in self.levels])
        self.q = cal.initial_q(self.levels)
        self.scale = cal.scale.reshape(cal.beta, -1).astype(np.float32).copy()
        self.floor = np.asarray(cal.floor, dtype=np.float64)
        self.eta, self.rate = float(cal.eta), float(cal.scale_rate)
        self.updates = 0

    def multipliers(self, lead: int) -> np.ndarray:
        """The multipliers used for lead (0-based): at least 0, non-decreasing with the level."""
        return np.maximum.accumulate(np.maximum(self.q[lead], 0.0))

    def intervals(self, point: np.ndarray) -> np.ndarray:
        """Quantiles (2L, beta, H, W) float32 of a point forecast (beta, H, W), levels increasing."""
        beta = point.shape[0]
        p = point.reshape(beta, -1).astype(np.float64)
        L = len(self.levels)
        out = np.empty((2 * L, beta, p.shape[1]), dtype=np.float32)
        for lead in range(beta):
            m = self.multipliers(lead)
            s = self.scale[lead].astype(np.float64)
            for j in range(L):
                w = m[j] * s
                out[L - 1 - j, lead] = (p[lead] - w).astype(np.float32)
                out[L + j, lead] = (p[lead] + w).astype(np.float32)
        return out.reshape((2 * L,) + point.shape)

    def update(self, lead: int, point: np.ndarray, quantiles: np.ndarray, obs: np.ndarray, valid: np.ndarray) -> None:
        """Folds in one verified lead (0-based): point (H, W), its published quantiles (2L, H, W), the
        observed frame (H, W) and its valid cells."""
        v = valid.ravel()
        if not v.any():
            return
        y = obs.ravel()[v]
        qs = quantiles.reshape(quantiles.shape[0], -1)[:, v]
        L = len(self.levels)
        for j in range(L):
            lo, hi = qs[L - 1 - j], qs[L + j]
            miss = float(np.count_nonzero((y < lo) | (y > hi))) / y.size
            self.q[lead, j] += self.eta * (miss - self.alpha[j])
        if self.rate > 0:
            e = np.abs(y.astype(np.float64) - point.ravel()[v].astype(np.float64))
            s = self.scale[lead]
            moved = (1 - self.rate) * s[v].astype(np.float64) + self.rate * e
            s[v] = np.maximum(moved, self.floor[lead]).astype(np.float32)
        self.updates += 1


def replay(cal: Calibration, preds: np.ndarray, truths: np.ndarray, mask: np.ndarray | None,
           levels=DEFAULT_LEVELS, tracker: Tracker | None = None) -> np.ndarray:
    """The stream's calibration over consecutive windows (issue times one step apart): at each issue
    time, first the leads verified by the frame of that time, then the window's own intervals.
    preds, truths (N, beta, H, W); returns the published quantiles (N, 2L, beta, H, W)."""
    t = tracker or Tracker(cal, levels)
    n, beta = preds.shape[:2]
    valid = np.ones(preds.shape[2:], dtype=bool) if mask is None else ~mask
    out = np.empty((n, 2 * len(t.levels)) + preds.shape[1:], dtype=np.float32)
    for i in range(n):
        for h in range(1, beta + 1):  # the frame at issue time i verifies lead h of window i - h
            j = i - h
            if j >= 0:
                t.update(h - 1, preds[j, h - 1], out[j, :, h - 1], truths[j, h - 1], valid)
        out[i] = t.intervals(preds[i])
    return out


def static_quantiles(preds: np.ndarray, halfwidth: np.ndarray) -> np.ndarray:
    """The fixed-width baseline: forecast +- halfwidth[lead, level] (levels increasing), (N, 2L, beta, H, W)."""
    L = halfwidth.shape[1]
    n, beta = preds.shape[:2]
    out = np.empty((n, 2 * L) + preds.shape[1:], dtype=np.float32)
    for j in range(L):
        w = halfwidth[:, j].reshape(1, beta, 1, 1)
        out[:, L - 1 - j] = preds - w
        out[:, L + j] = preds + w
    return out


def persistence_quantiles(last: np.ndarray, beta: int, errors: np.ndarray) -> np.ndarray:
    """The persistence baseline: the newest input frame (N, H, W) plus the validation part's empirical
    error quantiles errors[lead, k] at the quantile levels (levels increasing, the median included)."""
    base = np.repeat(last[:, None], beta, axis=1)  # (N, beta, H, W)
    return (base[:, None] + errors.T.reshape(1, errors.shape[1], beta, 1, 1)).astype(np.float32)


def interval_scores(quantiles: np.ndarray, truths: np.ndarray, mask: np.ndarray | None, levels,
                    median: np.ndarray | None = None) -> dict:
    """Per lead over the windows and valid cells: coverage, mean width and interval score of each
    central level, and the CRPS approximation from the quantiles (the median: `median` (N, beta, H, W)
    when given, e.g. the point forecast, or the middle plane of `quantiles` when it has an odd count)."""
    levels = sorted(levels)
    L = len(levels)
    valid = np.ones(truths.shape[2:], dtype=bool) if mask is None else ~mask
    y = truths[..., valid].astype(np.float64)  # (N, beta, C)
    qs = quantiles[..., valid].astype(np.float64)  # (N, K, beta, C)
    beta = truths.shape[1]
    if median is not None:
        planes, taus = np.concatenate([qs[:, :L], median[..., valid][:, None].astype(np.float64), qs[:, L:]], axis=1), \
            quantile_levels(levels)[:L] + [0.5] + quantile_levels(levels)[L:]
        inner = (planes[:, :L], planes[:, L + 1:])
    else:
        planes, taus = qs, None
        inner = (qs[:, :L], qs[:, -L:])
    out = {"levels": list(levels), "coverage": [], "width": [], "interval_score": [], "crps": []}
    for lead in range(beta):
        cov, wid, isc = [], [], []
        for j, l in enumerate(levels):
            lo, hi = inner[0][:, L - 1 - j, lead], inner[1][:, j, lead]
            yy = y[:, lead]
            a = 1 - l
            cov.append(float(((yy >= lo) & (yy <= hi)).mean()))
            wid.append(float((hi - lo).mean()))
            isc.append(float(((hi - lo) + 2 / a * np.maximum(lo - yy, 0) + 2 / a * np.maximum(yy - hi, 0)).mean()))
        out["coverage"].append(cov)
        out["width"].append(wid)
        out["interval_score"].append(isc)
        if taus is not None:
            out["crps"].append(crps_from_quantiles(planes[:, :, lead], y[:, lead], taus))
    return out


def crps_from_quantiles(planes: np.ndarray, y: np.ndarray, taus) -> float:
    """2/K sum_k pinball_tau_k(y - q_k), averaged: planes (N, K, C), y (N, C)."""
    total = 0.0
    for k, tau in enumerate(taus):
        u = y - planes[:, k]
        total += (u * (tau - (u < 0))).mean()
    return float(2 * total / len(taus))


# ---- the export-time calibration ---------------------------------------------------------------

def fit_scales(preds: np.ndarray, truths: np.ndarray, mask: np.ndarray | None, pooling: str = "cell"):
    """scale (beta, H, W) float32: the mean |error| per lead and cell (pooling 'cell') or per lead
    ('lead'), floored at FLOOR_FRACTION of the lead's mean; and the floors (beta,)."""
    valid = np.ones(truths.shape[2:], dtype=bool) if mask is None else ~mask
    err = np.abs(preds.astype(np.float64) - truths.astype(np.float64))  # (N, beta, H, W)
    lead_mae = err[..., valid].mean(axis=(0, 2))  # (beta,)
    floor = FLOOR_FRACTION * lead_mae
    if pooling == "cell":
        scale = err.mean(axis=0)
    elif pooling == "lead":
        scale = np.broadcast_to(lead_mae[:, None, None], err.shape[1:]).copy()
    else:
        raise ValueError(f"pooling {pooling!r}: cell or lead")
    scale = np.maximum(scale, floor[:, None, None])
    scale[:, ~valid] = np.maximum(lead_mae[:, None], floor[:, None])  # never seen: the lead's mean
    return scale.astype(np.float32), floor


def fit_q(preds, truths, mask, scale, levels=LADDER) -> np.ndarray:
    """Per lead, the conformal quantile of the pooled validation scores |y - forecast| / scale at each level."""
    valid = np.ones(truths.shape[2:], dtype=bool) if mask is None else ~mask
    s = np.abs(preds.astype(np.float64) - truths.astype(np.float64)) / scale[None].astype(np.float64)
    return np.array([[conformal_quantile(s[:, lead][..., valid], l) for l in levels] for lead in range(preds.shape[1])])


def fit(preds, truths, mask, eta=DEFAULT_ETA, scale_rate=DEFAULT_RATE, pooling=DEFAULT_POOLING, **info) -> Calibration:
    scale, floor = fit_scales(preds, truths, mask, pooling)
    return Calibration(LADDER, fit_q(preds, truths, mask, scale), scale, floor, float(eta), float(scale_rate), **info)


def select(first, second, mask, levels=DEFAULT_LEVELS) -> dict:
    """Chooses eta, the scale's rate and pooling on the validation part: each candidate is fitted on
    `first` (preds, truths) and replayed on `second`; the lowest interval score (mean over the
    levels and leads) wins. Returns the choice and every candidate's score."""
    (p1, y1), (p2, y2) = first, second
    if len(p1) < MIN_SELECTION_WINDOWS or len(p2) < MIN_SELECTION_WINDOWS:
        return {"chosen": {"eta": DEFAULT_ETA, "scale_rate": DEFAULT_RATE, "pooling": DEFAULT_POOLING},
                "note": f"validation halves of {len(p1)} and {len(p2)} windows are too short to choose: defaults"}
    rows = []
    for pooling in POOLINGS:
        for rate in SCALE_RATES:
            for eta in ETAS:
                cal = fit(p1, y1, mask, eta, rate, pooling)
                s = interval_scores(replay(cal, p2, y2, mask, levels), y2, mask, levels, median=p2)
                rows.append({"pooling": pooling, "scale_rate": rate, "eta": eta,
                             "interval_score": round(float(np.mean(s["interval_score"])), 5),
                             "coverage": [round(float(np.mean([c[j] for c in s["coverage"]])), 4) for j in range(len(levels))],
                             "crps": round(float(np.mean(s["crps"])), 5)})
    best = min(rows, key=lambda r: (r["interval_score"], r["eta"], r["scale_rate"]))
    return {"criterion": "lowest mean interval score over the levels " + ", ".join(f"{l:g}" for l in levels)
                         + " and every lead, fitted on the first half of the validation part and replayed on the second",
            "windows": [int(len(p1)), int(len(p2))],
            "chosen": {k: best[k] for k in ("eta", "scale_rate", "pooling")}, "candidates": rows}


def references(val_preds, val_truths, val_last, mask) -> dict:
    """What the two baselines take from the validation part: the point forecast's fixed half-width
    per lead and ladder level (the conformal quantile of its pooled |error|), and persistence's
    empirical error quantiles per lead at the ladder's quantile levels and the median."""
    valid = np.ones(val_truths.shape[2:], dtype=bool) if mask is None else ~mask
    beta = val_preds.shape[1]
    err = np.abs(val_preds.astype(np.float64) - val_truths.astype(np.float64))
    half = [[round(conformal_quantile(err[:, lead][..., valid], l), 5) for l in LADDER] for lead in range(beta)]
    taus = quantile_levels(LADDER)
    taus = taus[:len(LADDER)] + [0.5] + taus[len(LADDER):]
    pers = val_truths.astype(np.float64) - val_last[:, None].astype(np.float64)
    pq = [[round(float(np.quantile(pers[:, lead][..., valid], t)), 5) for t in taus] for lead in range(beta)]
    return {"levels": list(LADDER), "static_halfwidth": half, "persistence_taus": [round(t, 6) for t in taus],
            "persistence_error_quantiles": pq}


def halves(ds_values: np.ndarray, alpha: int, beta: int):
    """The validation frames split in two at their middle, each cut into its own windows (none straddles)."""
    from .data import window_starts
    n = len(ds_values)
    parts = []
    for a, b in ((0, n // 2), (n // 2, n)):
        v = ds_values[a:b]
        starts = window_starts(len(v), alpha, beta)
        xs = np.stack([v[s:s + alpha] for s in starts]) if len(starts) else np.zeros((0, alpha) + v.shape[1:], np.float32)
        ys = np.stack([v[s + alpha:s + alpha + beta] for s in starts]) if len(starts) else np.zeros((0, beta) + v.shape[1:], np.float32)
        parts.append((xs, ys))
    return parts


def calibrate(model, prepared, predict_fn, weights_sha256: str = "", levels=DEFAULT_LEVELS) -> Calibration:
    """The export-time calibration of a trained model from its validation part only: eta, rate and
    pooling chosen on its halves (`select`), then scale and q fitted on the whole of it."""
    from .data import iso_minutes
    alpha, beta = prepared.val.alpha, prepared.val.beta
    mask = prepared.series.mask
    (x1, y1), (x2, y2) = halves(prepared.val.values, alpha, beta)
    sel = select((predict_fn(model, x1), y1), (predict_fn(model, x2), y2), mask, levels) \
        if min(len(x1), len(x2)) >= MIN_SELECTION_WINDOWS else select((x1[:0], y1), (x2[:0], y2), mask, levels)
    xs, ys = prepared.val.arrays()
    preds = predict_fn(model, xs)
    t = prepared.val.times
    c = sel["chosen"]
    cal = fit(preds, ys, mask, c["eta"], c["scale_rate"], c["pooling"], weights_sha256=weights_sha256,
              fitted_on={"split": "validation", "period": f"{iso_minutes(t[0])}/{iso_minutes(t[-1])}",
                         "windows": int(len(xs))},
              selection=sel, references=references(preds, ys, xs[:, -1], mask))
    shipped = Calibration.from_json(cal.to_json(), beta, *mask.shape)  # the numbers as the model carries them
    shipped.selection = sel
    return shipped


def from_model(path: str) -> Calibration | None:
    """The calibration an exported model carries (None where it has none)."""
    import onnx
    proto = onnx.load(path, load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    if METADATA_KEY not in meta:
        return None
    return Calibration.from_json(meta[METADATA_KEY], int(meta["beta"]), int(meta["grid_height"]), int(meta["grid_width"]))


def selection_table(sel: dict) -> str:
    """The candidates of a selection as markdown, best first."""
    if "candidates" not in sel:
        return sel.get("note", "")
    rows = sorted(sel["candidates"], key=lambda r: r["interval_score"])
    lines = [f"Chosen on the validation part ({sel['criterion']}; halves of {sel['windows'][0]} and "
             f"{sel['windows'][1]} windows): eta {sel['chosen']['eta']}, scale rate {sel['chosen']['scale_rate']}, "
             f"scale per {sel['chosen']['pooling']}.", "",
             "| scale per | scale rate | eta | interval score (K) | coverage | CRPS (K) |", "|---|---:|---:|---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r['pooling']} | {r['scale_rate']} | {r['eta']} | {r['interval_score']:.4f} | "
                     f"{', '.join(f'{c:.3f}' for c in r['coverage'])} | {r['crps']:.4f} |")
    return "\n".join(lines)

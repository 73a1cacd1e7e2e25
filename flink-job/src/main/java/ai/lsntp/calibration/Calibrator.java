package ai.lsntp.calibration;

import java.util.Arrays;

/**
 * Conformal quantile tracking (flink-job/README.md, "Intervals"): the intervals of a forecast from
 * a grid's {@link CalibrationState}, and the state moved by each verified lead. Pure functions of
 * their arguments, so the job (ForecastVerifier), the offline score (./lsntp score) and the tests
 * run the very same steps. model-export's lsntp/calibration.py is its twin for ./lsntp evaluate.
 *
 * <ul>
 *   <li>interval of a cell at lead h and central level l: forecast +- m(h, l) * scale(h, cell),
 *       m = max(0, q) made non-decreasing in l (so that quantiles never cross);
 *   <li>after the frame at a lead's valid time: miss = the fraction of the frame's valid cells
 *       outside the interval the forecast PUBLISHED, q(h, l) += eta * (miss - (1 - l)); then, per
 *       valid cell, scale = max(floor(h), (1 - rate) * scale + rate * |observed - forecast|).
 *       Masked cells take part in neither.
 * </ul>
 */
public final class Calibrator {
  private Calibrator() {}

  /** A grid's state started from the model's export-time calibration at the configured levels. */
  public static CalibrationState start(Calibration c, double[] levels, long at) {
    CalibrationState s = new CalibrationState();
    s.basis = c.basis;
    s.method = c.method;
    s.levels = levels.clone();
    s.beta = c.beta;
    s.cells = c.scale.length / c.beta;
    s.q = c.initialQ(levels);
    s.scale = c.scale.clone();
    s.floor = c.floor.clone();
    s.eta = c.eta;
    s.scaleRate = c.scaleRate;
    s.since = at;
    s.updates = 0;
    return s;
  }

  /**
   * The roll-out rule: a grid's state goes on under a model only when that model carries the very
   * calibration the state started from (same weights, same export-time calibration: a new version
   * of the same weights) and the configured levels are unchanged; otherwise it starts again from
   * the new model's calibration.
   */
  public static boolean continues(CalibrationState s, Calibration c, double[] levels) {
    return s != null && c.basis.equals(s.basis) && Arrays.equals(s.levels, levels) && s.beta == c.beta
        && s.cells == c.scale.length / c.beta;
  }

  /**
   * The quantile levels of central intervals at {@code levels} (increasing): (1 - l)/2 of the widest
   * first, (1 + l)/2 of the widest last, to 1e-9 (0.025, not 0.025000000000000022).
   */
  public static double[] quantileLevels(double[] levels) {
    int n = levels.length;
    double[] out = new double[2 * n];
    for (int j = 0; j < n; j++) {
      out[n - 1 - j] = Math.round((1 - levels[j]) / 2 * 1e9) / 1e9;
      out[n + j] = Math.round((1 + levels[j]) / 2 * 1e9) / 1e9;
    }
    return out;
  }

  /** The multipliers of lead {@code lead} (1-based) the intervals use: max(0, q), non-decreasing in the level. */
  public static double[] multipliers(CalibrationState s, int lead) {
    int n = s.levels.length;
    double[] m = new double[n];
    double run = 0;
    for (int j = 0; j < n; j++) {
      run = Math.max(run, s.q[(lead - 1) * n + j]);
      m[j] = run;
    }
    return m;
  }

  /** The quantiles of a point forecast (beta * cells K): 2L * beta * cells, level-major, at {@link #quantileLevels}. */
  public static float[] quantiles(CalibrationState s, float[] point) {
    int n = s.levels.length;
    int plane = s.beta * s.cells;
    float[] out = new float[2 * n * plane];
    for (int lead = 1; lead <= s.beta; lead++) {
      double[] m = multipliers(s, lead);
      int base = (lead - 1) * s.cells;
      for (int j = 0; j < n; j++) {
        int lo = (n - 1 - j) * plane + base;
        int hi = (n + j) * plane + base;
        for (int c = 0; c < s.cells; c++) {
          double p = point[base + c];
          double w = m[j] * (double) s.scale[base + c];
          out[lo + c] = (float) (p - w);
          out[hi + c] = (float) (p + w);
        }
      }
    }
    return out;
  }

  /**
   * Folds one verified lead into the state.
   *
   * @param lead 1-based
   * @param point the forecast's values (beta * cells)
   * @param quantiles the quantiles it published with them (2L * beta * cells)
   * @param observed the frame observed at the lead's valid time (cells)
   * @param missing its missing cells (null: none)
   * @return whether any cell was valid (else nothing moved)
   */
  public static boolean update(CalibrationState s, int lead, float[] point, float[] quantiles, float[] observed,
      boolean[] missing) {
    return update(s, lead, point, (lead - 1) * s.cells, quantiles, s.beta * s.cells, observed, missing);
  }

  /**
   * As {@link #update(CalibrationState, int, float[], float[], float[], boolean[])} with the lead's
   * values at {@code base} of {@code point} and of each plane of {@code quantiles}, planes
   * {@code plane} apart: {@code (lead - 1) * cells} and {@code beta * cells} for whole forecasts, 0
   * and {@code cells} for one lead's slices.
   */
  public static boolean update(CalibrationState s, int lead, float[] point, int base, float[] quantiles, int plane,
      float[] observed, boolean[] missing) {
    int n = s.levels.length;
    int valid = 0;
    int[] misses = new int[n];
    for (int c = 0; c < s.cells; c++) {
      if (missing != null && missing[c]) {
        continue;
      }
      valid++;
      float y = observed[c];
      for (int j = 0; j < n; j++) {
        if (y < quantiles[(n - 1 - j) * plane + base + c] || y > quantiles[(n + j) * plane + base + c]) {
          misses[j]++;
        }
      }
    }
    if (valid == 0) {
      return false;
    }
    for (int j = 0; j < n; j++) {
      double miss = (double) misses[j] / valid;
      s.q[(lead - 1) * n + j] += s.eta * (miss - (1 - s.levels[j]));
    }
    if (s.scaleRate > 0) {
      double floor = s.floor[lead - 1];
      for (int c = 0; c < s.cells; c++) {
        if (missing != null && missing[c]) {
          continue;
        }
        int at = (lead - 1) * s.cells + c;
        double e = Math.abs((double) observed[c] - (double) point[base + c]);
        double moved = (1 - s.scaleRate) * (double) s.scale[at] + s.scaleRate * e;
        s.scale[at] = (float) Math.max(moved, floor);
      }
    }
    s.updates++;
    return true;
  }
}

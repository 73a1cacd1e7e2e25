package ai.lsntp.calibration;

/**
 * The forecast distribution of one cell from its quantiles, for probability alerts (deploy/OPERATIONS.md,
 * "Probability alerts"): the knots are the quantiles at their levels and the point forecast as the
 * median; the CDF is linear between neighbouring knots and, beyond the outermost ones, goes on with
 * the slope of the outermost segment until it reaches 0 or 1. Where knots coincide (a zero-width
 * interval) the CDF steps there.
 */
public final class QuantileCdf {
  private QuantileCdf() {}

  /** The knots' levels: the quantile levels with 0.5 (the point forecast) in the middle. */
  public static double[] knotLevels(java.util.List<Double> quantileLevels) {
    int k = quantileLevels.size();
    double[] t = new double[k + 1];
    for (int i = 0; i < k / 2; i++) {
      t[i] = quantileLevels.get(i);
    }
    t[k / 2] = 0.5;
    for (int i = k / 2; i < k; i++) {
      t[i + 1] = quantileLevels.get(i);
    }
    return t;
  }

  /**
   * The knots of one cell: quantile plane i of the forecast's quantiles at {@code offset} (lead and
   * cell), the point forecast in the middle, made non-decreasing.
   */
  public static void knots(float[] quantiles, int plane, int offset, float point, double[] into) {
    int k = into.length - 1;
    for (int i = 0; i < k / 2; i++) {
      into[i] = quantiles[i * plane + offset];
    }
    into[k / 2] = point;
    for (int i = k / 2; i < k; i++) {
      into[i + 1] = quantiles[i * plane + offset];
    }
    for (int i = 1; i < into.length; i++) {
      into[i] = Math.max(into[i], into[i - 1]);
    }
  }

  /** P(T <= x) for knots {@code v} (non-decreasing) at levels {@code t} (increasing). */
  public static double atMost(double x, double[] v, double[] t) {
    int n = v.length;
    if (x < v[0]) {
      double slope = n > 1 && v[1] > v[0] ? (t[1] - t[0]) / (v[1] - v[0]) : Double.POSITIVE_INFINITY;
      return Double.isInfinite(slope) ? 0 : Math.max(0, t[0] - slope * (v[0] - x));
    }
    if (x >= v[n - 1]) {
      double slope = n > 1 && v[n - 1] > v[n - 2] ? (t[n - 1] - t[n - 2]) / (v[n - 1] - v[n - 2]) : Double.POSITIVE_INFINITY;
      return Double.isInfinite(slope) ? 1 : Math.min(1, t[n - 1] + slope * (x - v[n - 1]));
    }
    int k = 0;
    while (k < n - 2 && v[k + 1] <= x) {
      k++;
    }
    return t[k] + (t[k + 1] - t[k]) * (x - v[k]) / (v[k + 1] - v[k]);
  }

  /** P(T >= x): 1 - P(T < x); the CDF is continuous except at coinciding knots, where T >= x includes the step. */
  public static double atLeast(double x, double[] v, double[] t) {
    return 1 - below(x, v, t);
  }

  /** P(T < x): the CDF's left limit at x. */
  static double below(double x, double[] v, double[] t) {
    int n = v.length;
    if (x <= v[0]) {
      double slope = n > 1 && v[1] > v[0] ? (t[1] - t[0]) / (v[1] - v[0]) : Double.POSITIVE_INFINITY;
      return Double.isInfinite(slope) ? 0 : Math.max(0, t[0] - slope * (v[0] - x));
    }
    if (x > v[n - 1]) {
      double slope = n > 1 && v[n - 1] > v[n - 2] ? (t[n - 1] - t[n - 2]) / (v[n - 1] - v[n - 2]) : Double.POSITIVE_INFINITY;
      return Double.isInfinite(slope) ? 1 : Math.min(1, t[n - 1] + slope * (x - v[n - 1]));
    }
    int k = 0;
    while (k < n - 2 && v[k + 1] < x) {
      k++;
    }
    return v[k + 1] > v[k] ? t[k] + (t[k + 1] - t[k]) * (x - v[k]) / (v[k + 1] - v[k]) : t[k];
  }
}

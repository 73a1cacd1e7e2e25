package ai.lsntp.calibration;

/**
 * How one lead's intervals fared against the frame observed at its valid time, over its valid
 * cells: per central level the coverage (fraction of cells inside), the mean width and the mean
 * interval (Winkler) score (u - l) + 2/a (l - y)+ + 2/a (y - u)+ for level 1 - a; and CRPS
 * approximated from the quantiles with the point forecast as the median, twice the mean pinball
 * loss rho_tau(y - q_tau) = (y - q_tau)(tau - 1{y < q_tau}) over their levels. The verifier
 * publishes these per lead; ./lsntp score sums them per lead. Sums, so that scores add up.
 */
public final class IntervalScores {
  public final double[] levels;
  public final int[] inside;
  public final double[] widthSum;
  public final double[] intervalScoreSum;
  public double crpsSum;
  public int cells;

  public IntervalScores(double[] levels) {
    this.levels = levels;
    inside = new int[levels.length];
    widthSum = new double[levels.length];
    intervalScoreSum = new double[levels.length];
  }

  /**
   * Scores lead {@code lead} (1-based) of a forecast against an observed frame.
   *
   * @param levels the central levels, increasing (the quantiles are at {@link Calibrator#quantileLevels} of them)
   * @param point beta * cells K
   * @param quantiles 2L * beta * cells K
   */
  public static IntervalScores of(double[] levels, int beta, int cells, int lead, float[] point, float[] quantiles,
      float[] observed, boolean[] missing) {
    IntervalScores s = new IntervalScores(levels);
    s.add(beta, cells, lead, point, quantiles, observed, missing);
    return s;
  }

  /** Adds one lead's cells to the sums. */
  public void add(int beta, int gridCells, int lead, float[] point, float[] quantiles, float[] observed, boolean[] missing) {
    int n = levels.length;
    int plane = beta * gridCells;
    int base = (lead - 1) * gridCells;
    double[] taus = Calibrator.quantileLevels(levels);
    for (int c = 0; c < gridCells; c++) {
      if (missing != null && missing[c]) {
        continue;
      }
      double y = observed[c];
      for (int j = 0; j < n; j++) {
        double lo = quantiles[(n - 1 - j) * plane + base + c];
        double hi = quantiles[(n + j) * plane + base + c];
        double a = 1 - levels[j];
        if (y >= lo && y <= hi) {
          inside[j]++;
        }
        widthSum[j] += hi - lo;
        intervalScoreSum[j] += (hi - lo) + 2 / a * Math.max(lo - y, 0) + 2 / a * Math.max(y - hi, 0);
      }
      double pinball = pinball(y - point[base + c], 0.5);
      for (int k = 0; k < 2 * n; k++) {
        pinball += pinball(y - quantiles[k * plane + base + c], taus[k]);
      }
      crpsSum += 2 * pinball / (2 * n + 1);
      cells++;
    }
  }

  /** Adds another's sums (same levels). */
  public void add(IntervalScores other) {
    for (int j = 0; j < levels.length; j++) {
      inside[j] += other.inside[j];
      widthSum[j] += other.widthSum[j];
      intervalScoreSum[j] += other.intervalScoreSum[j];
    }
    crpsSum += other.crpsSum;
    cells += other.cells;
  }

  static double pinball(double u, double tau) {
    return u * (tau - (u < 0 ? 1 : 0));
  }

  public double coverage(int j) {
    return (double) inside[j] / cells;
  }

  public double meanWidth(int j) {
    return widthSum[j] / cells;
  }

  public double intervalScore(int j) {
    return intervalScoreSum[j] / cells;
  }

  public double crps() {
    return crpsSum / cells;
  }
}

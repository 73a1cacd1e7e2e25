package ai.lsntp.job;

import ai.lsntp.config.LsntpConfig;
import java.io.Serializable;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * When a challenger has earned its grid: the promotion policy per grid (off, manual, automatic)
 * and, for automatic, the test of its paired evidence. The evidence is one number per verified
 * issue time: the challenger's MAE over every lead minus the serving model's, on the same
 * observed frames. A challenger is promoted when there are at least {@code minIssueTimes} of them,
 * their mean is at most {@code -marginK}, and the 95% moving-block-bootstrap interval of the mean
 * lies wholly below zero.
 *
 * <p>Why a block bootstrap: forecasts issued an hour apart share five of their six input frames and
 * most of their valid times, so their errors are serially correlated; resampling single issue
 * times would understate the spread and promote on chance. Blocks of {@code blockLength}
 * consecutive issue times keep that correlation. The resampling draws from a generator seeded with
 * {@code seed}, so the same evidence gives the same interval and decision every time (a run
 * resumed from a checkpoint decides as the run that stopped did).
 */
public final class PromotionRule implements Serializable {
  private static final long serialVersionUID = 1L;
  public static final String OFF = "off";
  public static final String MANUAL = "manual";
  public static final String AUTOMATIC = "automatic";

  private final LsntpConfig.Promotion cfg;

  public PromotionRule(LsntpConfig.Promotion cfg) {
    this.cfg = cfg;
  }

  /** Off for every grid: challengers are only scored. */
  public static PromotionRule off() {
    return new PromotionRule(new LsntpConfig.Promotion());
  }

  /** The policy of {@code gridId}: off, manual or automatic. */
  public String policy(String gridId) {
    return cfg.grids.getOrDefault(gridId, cfg.policy);
  }

  public LsntpConfig.Promotion settings() {
    return cfg;
  }

  /** The test of one challenger's evidence. */
  public record Evidence(int n, double meanDifference, double low, double high, boolean promote, String why) {}

  /**
   * Judges {@code diffs} (challenger minus serving model, per verified issue time, in issue-time
   * order): whether the challenger is to be promoted, and the figures behind it. With fewer than
   * two values there is no interval (NaN ends).
   */
  public Evidence judge(double[] diffs) {
    int n = diffs.length;
    double mean = mean(diffs, n);
    if (n < 2) {
      return new Evidence(n, mean, Double.NaN, Double.NaN, false, "fewer than 2 paired issue times");
    }
    double[] interval = bootstrap(diffs, cfg.blockLength, cfg.resamples, cfg.seed);
    boolean enough = n >= cfg.minIssueTimes;
    boolean better = mean <= -cfg.marginK;
    boolean clear = interval[1] < 0;
    String why = !enough ? n + " of the " + cfg.minIssueTimes + " paired issue times needed"
        : !better ? "mean difference " + mean + " K is not below -" + cfg.marginK + " K"
        : !clear ? "the 95% interval [" + interval[0] + ", " + interval[1] + "] K does not exclude zero"
        : "better by " + -mean + " K over " + n + " issue times, 95% interval [" + interval[0] + ", " + interval[1] + "] K";
    return new Evidence(n, mean, interval[0], interval[1], enough && better && clear, why);
  }

  /**
   * The 2.5% and 97.5% percentiles of the mean of {@code x} over {@code resamples} moving-block
   * bootstrap resamples: each resample joins blocks of {@code block} consecutive values starting at
   * uniformly drawn positions (0 .. n - block) until it holds n values.
   */
  static double[] bootstrap(double[] x, int block, int resamples, long seed) {
    int n = x.length;
    int b = Math.max(1, Math.min(block, n));
    SplittableRandom random = new SplittableRandom(seed);
    double[] means = new double[resamples];
    for (int r = 0; r < resamples; r++) {
      double sum = 0;
      int taken = 0;
      while (taken < n) {
        int start = random.nextInt(n - b + 1);
        for (int k = 0; k < b && taken < n; k++, taken++) {
          sum += x[start + k];
        }
      }
      means[r] = sum / n;
    }
    Arrays.sort(means);
    return new double[] {percentile(means, 0.025), percentile(means, 0.975)};
  }

  /** Linear interpolation between the closest ranks of a sorted array. */
  static double percentile(double[] sorted, double q) {
    double pos = q * (sorted.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(sorted.length - 1, lo + 1);
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
  }

  private static double mean(double[] x, int n) {
    double s = 0;
    for (double v : x) {
      s += v;
    }
    return n == 0 ? Double.NaN : s / n;
  }
}

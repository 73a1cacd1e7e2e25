package ai.lsntp.job;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.config.LsntpConfig;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The automatic promotion rule: enough issue times, a margin, an interval that excludes zero; the same evidence, the same answer. */
class PromotionRuleTest {
  static PromotionRule rule(int minIssueTimes, double margin) {
    return rule(minIssueTimes, margin, 4);
  }

  static PromotionRule rule(int minIssueTimes, double margin, int blockLength) {
    LsntpConfig.Promotion p = new LsntpConfig.Promotion();
    p.policy = PromotionRule.AUTOMATIC;
    p.minIssueTimes = minIssueTimes;
    p.marginK = margin;
    p.blockLength = blockLength;
    p.resamples = 1000;
    return new PromotionRule(p);
  }

  /** Serially correlated noise (AR(1), phi 0.8) around {@code mean}, as hourly forecasts' errors are. */
  static double[] series(int n, double mean, double sd, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    double[] x = new double[n];
    double e = 0;
    for (int i = 0; i < n; i++) {
      e = 0.8 * e + sd * Math.sqrt(1 - 0.64) * gaussian(r);
      x[i] = mean + e;
    }
    return x;
  }

  static double gaussian(SplittableRandom r) {
    return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
  }

  @Test
  void aClearlyBetterChallengerWithEnoughIssueTimesIsPromoted() {
    PromotionRule.Evidence e = rule(48, 0.01).judge(series(96, -0.1, 0.05, 1));
    assertThat(e.promote()).as(e.why()).isTrue();
    assertThat(e.n()).isEqualTo(96);
    assertThat(e.high()).isLessThan(0);
    assertThat(e.low()).isLessThan(e.meanDifference()).isLessThan(e.high());
  }

  @Test
  void tooFewIssueTimesNeverPromote() {
    PromotionRule.Evidence e = rule(48, 0.01).judge(series(47, -0.1, 0.05, 1));
    assertThat(e.promote()).isFalse();
    assertThat(e.why()).contains("47 of the 48");
  }

  @Test
  void aDifferenceBelowTheMarginDoesNotPromote() {
    PromotionRule.Evidence e = rule(48, 0.2).judge(series(200, -0.1, 0.01, 2));
    assertThat(e.high()).isLessThan(0); // clearly better, but not by the margin
    assertThat(e.promote()).isFalse();
    assertThat(e.why()).contains("is not below -0.2");
  }

  @Test
  void noDifferenceIsNotPromotedEvenWithManyIssueTimes() {
    int promoted = 0;
    for (long seed = 0; seed < 40; seed++) {
      // blocks as long as the correlation lasts (phi 0.8: about 10 steps); with blocks of 4 this
      // test saw 5 false promotions in 40, the reason block-length is a setting
      if (rule(48, 0.0, 12).judge(series(200, 0.0, 0.1, seed)).promote()) {
        promoted++;
      }
    }
    // a two-sided 95% interval excludes zero from above in about 2.5% of equal pairs; one in 40 is chance
    assertThat(promoted).isLessThanOrEqualTo(3);
  }

  @Test
  void aWorseChallengerIsNeverPromoted() {
    PromotionRule.Evidence e = rule(48, 0.0).judge(series(300, 0.1, 0.05, 3));
    assertThat(e.promote()).isFalse();
    assertThat(e.low()).isGreaterThan(0);
  }

  @Test
  void theSameEvidenceGivesTheSameIntervalEveryTime() {
    double[] x = series(60, -0.03, 0.1, 7);
    PromotionRule.Evidence a = rule(48, 0.01).judge(x);
    PromotionRule.Evidence b = rule(48, 0.01).judge(x.clone());
    assertThat(b).isEqualTo(a);
  }

  @Test
  void blocksWidenTheIntervalOfCorrelatedErrors() {
    // resampling single issue times understates the spread of serially correlated differences
    double[] x = series(200, 0.0, 0.1, 11);
    double[] single = PromotionRule.bootstrap(x, 1, 2000, 5);
    double[] blocks = PromotionRule.bootstrap(x, 12, 2000, 5);
    assertThat(blocks[1] - blocks[0]).isGreaterThan(1.5 * (single[1] - single[0]));
  }
}

package ai.lsntp.calibration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The calibrator on synthetic streams: coverage comes back to nominal after the errors grow (and
 * stays off without tracking); the long-run identity the guarantee rests on; quantiles never cross;
 * the CDF of probability alerts; the starting multipliers between the ladder's levels.
 */
class CalibratorTest {
  static final int CELLS = 200;
  static final double[] LEVELS = {0.8, 0.95};

  /** A calibration fitted to errors N(0, 1) scaled per cell: scale = the cell's MAE, q = |e| / MAE's quantiles. */
  static Calibration gaussian(double eta, double rate) {
    Calibration c = new Calibration();
    c.method = Calibration.METHOD;
    c.basis = "synthetic/" + eta + "/" + rate;
    c.beta = 1;
    c.levels = new double[] {0.5, 0.8, 0.95, 0.99};
    double toMae = Math.sqrt(Math.PI / 2); // |e| / MAE of a normal error
    c.q = new double[] {0.6745 * toMae, 1.2816 * toMae, 1.96 * toMae, 2.5758 * toMae};
    c.scale = new float[CELLS];
    for (int i = 0; i < CELLS; i++) {
      c.scale[i] = (float) (sigma(i) / toMae);
    }
    c.floor = new double[] {0.01};
    c.eta = eta;
    c.scaleRate = rate;
    return c;
  }

  /** Each cell's own error spread before the shift. */
  static double sigma(int cell) {
    return 0.2 + 0.01 * cell;
  }

  /** Coverage per level over the steps from {@code scoreFrom}, with the errors 1.8 times larger from step {@code shiftAt}. */
  static double[] coverageAfterShift(Calibration c, int steps, int shiftAt, int scoreFrom, CalibrationState[] end) {
    Random rnd = new Random(42);
    CalibrationState s = Calibrator.start(c, LEVELS, 0);
    int[] inside = new int[LEVELS.length];
    long scored = 0;
    float[] point = new float[CELLS];
    Arrays.fill(point, 280f);
    for (int t = 0; t < steps; t++) {
      float[] q = Calibrator.quantiles(s, point);
      float[] obs = new float[CELLS];
      for (int i = 0; i < CELLS; i++) {
        obs[i] = (float) (280 + rnd.nextGaussian() * sigma(i) * (t >= shiftAt ? 1.8 : 1.0));
      }
      if (t >= scoreFrom) {
        IntervalScores sc = IntervalScores.of(LEVELS, 1, CELLS, 1, point, q, obs, null);
        for (int j = 0; j < LEVELS.length; j++) {
          inside[j] += sc.inside[j];
        }
        scored += CELLS;
      }
      Calibrator.update(s, 1, point, q, obs, null);
    }
    end[0] = s;
    return new double[] {(double) inside[0] / scored, (double) inside[1] / scored};
  }

  @Test
  void coverageReturnsToNominalAfterTheErrorsGrowAndStaysOffWithoutTracking() {
    CalibrationState[] end = new CalibrationState[1];
    double[] tracked = coverageAfterShift(gaussian(0.05, 0.0), 1400, 200, 700, end);
    double[] scaled = coverageAfterShift(gaussian(0.05, 0.05), 1400, 200, 700, end);
    double[] fixed = coverageAfterShift(gaussian(0.0, 0.0), 1400, 200, 700, end);
    System.out.printf("coverage after a 1.8x shift: tracked %s, tracked with the scale moving %s, never updated %s%n",
        Arrays.toString(tracked), Arrays.toString(scaled), Arrays.toString(fixed));
    assertThat(tracked[0]).isCloseTo(0.80, within(0.02));
    assertThat(tracked[1]).isCloseTo(0.95, within(0.02));
    assertThat(scaled[0]).isCloseTo(0.80, within(0.02));
    assertThat(scaled[1]).isCloseTo(0.95, within(0.02));
    assertThat(fixed[0]).as("the export-time intervals after the shift").isLessThan(0.60);
    assertThat(fixed[1]).isLessThan(0.80);
  }

  @Test
  void theLongRunMissRateIsTheLevelsPlusTheMultipliersDriftOverEtaT() {
    // the identity behind the guarantee: q_T - q_0 = eta * sum_t (miss_t - alpha), whatever the errors
    Calibration c = gaussian(0.1, 0.02);
    CalibrationState s = Calibrator.start(c, LEVELS, 0);
    double[] q0 = s.q.clone();
    Random rnd = new Random(7);
    float[] point = new float[CELLS];
    double[] missSum = new double[LEVELS.length];
    int steps = 300;
    for (int t = 0; t < steps; t++) {
      float[] q = Calibrator.quantiles(s, point);
      float[] obs = new float[CELLS];
      for (int i = 0; i < CELLS; i++) {
        obs[i] = (float) (rnd.nextDouble() < 0.1 ? 50 * rnd.nextGaussian() : (1 + t / 100.0) * rnd.nextGaussian());
      }
      IntervalScores sc = IntervalScores.of(LEVELS, 1, CELLS, 1, point, q, obs, null);
      for (int j = 0; j < LEVELS.length; j++) {
        missSum[j] += 1 - sc.coverage(j);
      }
      Calibrator.update(s, 1, point, q, obs, null);
    }
    for (int j = 0; j < LEVELS.length; j++) {
      double alpha = 1 - LEVELS[j];
      assertThat(missSum[j] / steps - alpha).isCloseTo((s.q[j] - q0[j]) / (0.1 * steps), within(1e-9));
    }
    assertThat(s.updates).isEqualTo(steps);
  }

  @Test
  void quantilesNeverCrossAndNeverInvert() {
    CalibrationState s = Calibrator.start(gaussian(0.05, 0), LEVELS, 0);
    s.q[0] = 2.5; // 80% above 95%
    s.q[1] = -0.3; // and a negative one
    float[] q = Calibrator.quantiles(s, new float[CELLS]);
    for (int i = 0; i < CELLS; i++) {
      assertThat(q[i]).isLessThanOrEqualTo(q[CELLS + i]);
      assertThat(q[CELLS + i]).isLessThanOrEqualTo(q[2 * CELLS + i]);
      assertThat(q[2 * CELLS + i]).isLessThanOrEqualTo(q[3 * CELLS + i]);
      assertThat(q[i]).as("95%% as wide as 80%%").isEqualTo(q[CELLS + i]);
    }
    assertThat(Calibrator.quantileLevels(LEVELS)).containsExactly(0.025, 0.1, 0.9, 0.975);
  }

  @Test
  void theCdfIsLinearBetweenTheKnotsWithTheOutermostSlopeInTheTails() {
    double[] t = QuantileCdf.knotLevels(List.of(0.025, 0.1, 0.9, 0.975));
    assertThat(t).containsExactly(0.025, 0.1, 0.5, 0.9, 0.975);
    double[] v = new double[5];
    QuantileCdf.knots(new float[] {270, 272, 278, 280}, 1, 0, 275f, v);
    assertThat(v).containsExactly(270, 272, 275, 278, 280);
    assertThat(QuantileCdf.atMost(275, v, t)).isCloseTo(0.5, within(1e-12));
    assertThat(QuantileCdf.atMost(273.5, v, t)).isCloseTo(0.3, within(1e-12));
    assertThat(QuantileCdf.atMost(272, v, t)).isCloseTo(0.1, within(1e-12));
    // below 270 with the slope of 270..272 (0.075 / 2 K): 0 at 270 - 0.025 / 0.0375 K
    assertThat(QuantileCdf.atMost(269.6, v, t)).isCloseTo(0.025 - 0.4 * 0.0375, within(1e-12));
    assertThat(QuantileCdf.atMost(260, v, t)).isZero();
    assertThat(QuantileCdf.atLeast(279, v, t)).isCloseTo(1 - 0.9375, within(1e-12));
    assertThat(QuantileCdf.atLeast(290, v, t)).isZero();
    assertThat(QuantileCdf.atLeast(260, v, t)).isEqualTo(1.0);
    // a zero-width interval: a step at the point forecast
    double[] flat = {275, 275, 275, 275, 275};
    assertThat(QuantileCdf.atMost(274.9, flat, t)).isZero();
    assertThat(QuantileCdf.atMost(275, flat, t)).isEqualTo(1.0);
    assertThat(QuantileCdf.atLeast(275, flat, t)).isEqualTo(1.0);
    assertThat(QuantileCdf.atLeast(275.1, flat, t)).isZero();
  }

  @Test
  void theStartingMultipliersAreLinearInTheLevelBetweenTheLaddersLevels() {
    Calibration c = gaussian(0.05, 0);
    double[] q = c.initialQ(new double[] {0.8, 0.9, 0.95});
    assertThat(q[0]).isEqualTo(c.q[1]);
    assertThat(q[1]).isCloseTo((c.q[1] + c.q[2]) * 2 / 3 - c.q[1] / 3, within(1e-12)); // a third of the way from 0.8 to 0.95
    assertThat(q[2]).isEqualTo(c.q[2]);
    assertThatThrownBy(() -> c.initialQ(new double[] {0.995})).hasMessageContaining("outside the calibrated levels");
  }
}

package ai.lsntp.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.lsntp.alerts.AlertRule;
import ai.lsntp.alerts.Alerts;
import ai.lsntp.alerts.SkillDrop;
import ai.lsntp.avro.Alert;
import ai.lsntp.avro.AlertKind;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.Verification;
import ai.lsntp.calibration.Calibration;
import ai.lsntp.calibration.CalibrationReplay;
import ai.lsntp.calibration.CalibrationState;
import ai.lsntp.codec.PackedFloats;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.co.KeyedCoProcessOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Calibration and online verification on a 2 x 2 grid, worked out by hand: scores, masked cells
 * left out, the state bound, the skill alert rule; the intervals from the export-time calibration,
 * coverage, width, interval score and CRPS, the calibration moved by the published intervals'
 * misses, in the same order whichever input comes first, through a snapshot and restore, and
 * started again when a model with another calibration takes over.
 */
class ForecastVerifierTest {
  static final long HOUR = 3_600_000L;
  static final String GRID = "g";
  static final int BETA = 2;
  static final double[] LEVELS = {0.8, 0.95};

  ForecastVerifier verifier;
  KeyedTwoInputStreamOperatorTestHarness<String, WindowForecast, Frame, WindowForecast> h;

  @BeforeEach
  void open() throws Exception {
    verifier = verifier();
    h = harness(verifier);
    h.open();
  }

  static ForecastVerifier verifier() {
    return new ForecastVerifier(HOUR, 24 * HOUR,
        new SkillDrop(List.of(new AlertRule("drift", AlertRule.Kind.skill, 0.0, "24h", "*"))), LEVELS, true);
  }

  static KeyedTwoInputStreamOperatorTestHarness<String, WindowForecast, Frame, WindowForecast> harness(ForecastVerifier v)
      throws Exception {
    return new KeyedTwoInputStreamOperatorTestHarness<>(new KeyedCoProcessOperator<>(v), w -> w.forecast.getGridId(),
        f -> f.gridId, Types.STRING);
  }

  @AfterEach
  void close() throws Exception {
    h.close();
  }

  /**
   * A calibration by hand: scale 1 K everywhere, q 1 at 80% and 2 at 95% (0.5 and 3 at the ladder's
   * ends), eta 0.1, scale rate 0.5, floor 0.1 K.
   */
  static Calibration calibration(String basis) {
    Calibration c = new Calibration();
    c.method = Calibration.METHOD;
    c.basis = basis;
    c.beta = BETA;
    c.levels = new double[] {0.5, 0.8, 0.95, 0.99};
    c.q = new double[] {0.5, 1, 2, 3, 0.5, 1, 2, 3};
    c.scale = new float[BETA * 4];
    Arrays.fill(c.scale, 1f);
    c.floor = new double[] {0.1, 0.1};
    c.eta = 0.1;
    c.scaleRate = 0.5;
    return c;
  }

  static Forecast forecast(long issue, float[] lead1, float[] lead2) {
    float[] v = new float[8];
    System.arraycopy(lead1, 0, v, 0, 4);
    System.arraycopy(lead2, 0, v, 4, 4);
    return Forecast.newBuilder().setGridId(GRID).setIssueTime(Instant.ofEpochMilli(issue)).setModelName("LS-NTP")
        .setModelVersion("1.0.0").setStepMillis(HOUR).setBeta(BETA).setHeight(2).setWidth(2).setLat0(0).setLon0(0)
        .setDlat(-1).setDlon(1).setUnits("K").setValues(PackedFloats.encode(v))
        .setValidTimes(List.of(Instant.ofEpochMilli(issue + HOUR), Instant.ofEpochMilli(issue + 2 * HOUR)))
        .setProducedAt(Instant.EPOCH).build();
  }

  /** What inference emits: the forecast, its window's newest frame (none here unless given) and the model's calibration. */
  static WindowForecast element(Forecast f, Frame newest, Calibration c) {
    WindowForecast w = new WindowForecast();
    w.forecast = f;
    if (newest != null) {
      w.newestFrame = newest.values;
      w.newestMissing = newest.missing;
    }
    w.calibration = c;
    return w;
  }

  static WindowForecast element(long issue, float[] lead1, float[] lead2) {
    return element(forecast(issue, lead1, lead2), null, null);
  }

  static Frame frame(long t, float[] values, boolean[] missing) {
    Frame f = new Frame(GRID, t, t, values);
    f.missing = missing;
    return f;
  }

  static List<Verification> verifications(KeyedTwoInputStreamOperatorTestHarness<String, WindowForecast, Frame, WindowForecast> h) {
    List<Verification> out = new ArrayList<>();
    h.getSideOutput(ForecastVerifier.VERIFICATIONS).forEach(r -> out.add(r.getValue()));
    return out;
  }

  List<Verification> verifications() {
    return verifications(h);
  }

  static List<Forecast> forecasts(KeyedTwoInputStreamOperatorTestHarness<String, WindowForecast, Frame, WindowForecast> h) {
    List<Forecast> out = new ArrayList<>();
    for (Object o : h.getOutput()) {
      if (o instanceof StreamRecord<?> r) {
        out.add(((WindowForecast) r.getValue()).forecast);
      }
    }
    return out;
  }

  List<Alert> alerts() {
    List<Alert> out = new ArrayList<>();
    h.getSideOutput(Alerts.TAG).forEach(r -> out.add(r.getValue()));
    return out;
  }

  @Test
  void scoresEachLeadOnceWhicheverArrivesSecondOverTheValidCells() throws Exception {
    h.processElement2(new StreamRecord<>(frame(0, new float[] {280, 281, 282, 283}, null), 0));
    // the frame for lead 1 arrives before the forecast; the one for lead 2 after it, with a cell missing
    h.processElement2(new StreamRecord<>(frame(HOUR, new float[] {281, 281, 283, 285}, null), HOUR));
    h.processElement1(new StreamRecord<>(element(0, new float[] {280, 282, 283, 283}, new float[] {290, 282, 284, 284}), 0));
    h.processElement2(new StreamRecord<>(frame(2 * HOUR, new float[] {282, 282, 999, 286},
        new boolean[] {false, false, true, false}), 2 * HOUR));

    List<Verification> v = verifications();
    assertThat(v).hasSize(2);
    Verification l1 = v.get(0);
    assertThat(l1.getLead()).isEqualTo(1);
    assertThat(l1.getValidTime().toEpochMilli()).isEqualTo(HOUR);
    // errors -1, 1, 0, -2: MAE 1, RMSE sqrt(6/4); persistence 280 281 282 283 vs 281 281 283 285: 1, 0, 1, 2 -> 1
    assertThat(l1.getMae()).isCloseTo(1.0, within(1e-9));
    assertThat(l1.getRmse()).isCloseTo(Math.sqrt(1.5), within(1e-9));
    assertThat(l1.getPersistenceMae()).isCloseTo(1.0, within(1e-9));
    assertThat(l1.getCells()).isEqualTo(4);
    assertThat(l1.getIntervalLevels()).as("a forecast without intervals").isEmpty();
    assertThat(l1.getCrps()).isNull();
    Verification l2 = v.get(1);
    assertThat(l2.getLead()).isEqualTo(2);
    // the missing cell is left out: errors 8, 0, -2 -> MAE 10/3; persistence 2, 1, 3 -> 2
    assertThat(l2.getCells()).isEqualTo(3);
    assertThat(l2.getMae()).isCloseTo(10.0 / 3, within(1e-9));
    assertThat(l2.getRmse()).isCloseTo(Math.sqrt(68.0 / 3), within(1e-9));
    assertThat(l2.getPersistenceMae()).isCloseTo(2.0, within(1e-9));
    assertThat(l2.getModelVersion()).isEqualTo("1.0.0");

    // a corrected frame for a valid time already scored changes nothing
    h.processElement2(new StreamRecord<>(frame(HOUR, new float[] {300, 300, 300, 300}, null), HOUR));
    assertThat(verifications()).hasSize(2);
  }

  @Test
  void theFirstForecastCarriesTheExportTimeIntervalsAndItsVerificationScoresThem() throws Exception {
    Calibration c = calibration("w/c1");
    float[] p1 = {280, 282, 283, 283};
    h.processElement1(new StreamRecord<>(element(forecast(0, p1, new float[] {281, 282, 283, 284}),
        frame(0, new float[] {280, 281, 282, 283}, null), c), 0));
    Forecast f = forecasts(h).get(0);
    assertThat(f.getQuantileLevels()).containsExactly(0.025, 0.1, 0.9, 0.975);
    float[] q = PackedFloats.decode(f.getQuantiles());
    assertThat(q).hasSize(4 * BETA * 4);
    // plane k, lead 1, cell 0: 280 - 2, 280 - 1, 280 + 1, 280 + 2 (scale 1 K, q 2 at 95% and 1 at 80%)
    assertThat(new float[] {q[0], q[8], q[16], q[24]}).containsExactly(278f, 279f, 281f, 282f);
    assertThat(f.getCalibration().getBasis()).isEqualTo("w/c1");
    assertThat(f.getCalibration().getSince().toEpochMilli()).isZero();
    assertThat(f.getCalibration().getUpdates()).isZero();

    // lead 1 observed: errors 1, -1, 0, 2 -> the 80% interval (+-1) misses the last cell, the 95% one (+-2) none
    h.processElement2(new StreamRecord<>(frame(HOUR, new float[] {281, 281, 283, 285}, null), HOUR));
    Verification v = verifications().get(0);
    assertThat(v.getIntervalLevels()).containsExactly(0.8, 0.95);
    assertThat(v.getCoverage()).containsExactly(0.75, 1.0);
    assertThat(v.getMeanWidth()).containsExactly(2.0, 4.0);
    // interval score: width + 2/a above the interval: 80%: (2 + 2 + 2 + (2 + 10 * 1)) / 4; 95%: 4
    assertThat(v.getIntervalScore().get(0)).isCloseTo(4.5, within(1e-9));
    assertThat(v.getIntervalScore().get(1)).isCloseTo(4.0, within(1e-9));
    // CRPS: 2/5 of the pinball losses at 0.025, 0.1, 0.5, 0.9, 0.975 per cell: 0.8, 0.8, 0.3, 2.3 -> mean of 0.32 0.32 0.12 0.92
    assertThat(v.getCrps()).isCloseTo(0.42, within(1e-9));

    // folded in only once a forecast issued at or after the lead's valid time comes
    h.getOperator().setCurrentKey(GRID);
    assertThat(verifier.calibrationState().updates).isZero();
    float[] p2 = {281, 281, 283, 285};
    h.processElement1(new StreamRecord<>(element(forecast(HOUR, p2, p2), null, c), HOUR));
    CalibrationState s = verifier.calibrationState();
    assertThat(s.updates).isEqualTo(1);
    // q80 += 0.1 (1/4 - 0.2), q95 += 0.1 (0 - 0.05); scale = max(0.1, 0.5 * 1 + 0.5 |error|)
    assertThat(s.q[0]).isCloseTo(1.005, within(1e-12));
    assertThat(s.q[1]).isCloseTo(1.995, within(1e-12));
    assertThat(Arrays.copyOfRange(s.scale, 0, 4)).containsExactly(1f, 1f, 0.5f, 1.5f);
    assertThat(s.q[2]).as("lead 2 untouched").isEqualTo(1.0);
    Forecast second = forecasts(h).get(1);
    float[] q2 = PackedFloats.decode(second.getQuantiles());
    assertThat(q2[8 + 2]).as("lead 1, cell 2, 10%: 283 - 1.005 * 0.5").isCloseTo(283f - 0.5025f, within(1e-4f));
    assertThat(second.getCalibration().getUpdates()).isEqualTo(1);
  }

  @Test
  void maskedCellsAreLeftOutOfTheCoverageAndOfTheCalibration() throws Exception {
    Calibration c = calibration("w/c1");
    h.processElement1(new StreamRecord<>(element(forecast(0, new float[] {280, 280, 280, 280}, new float[4]),
        frame(0, new float[] {280, 280, 280, 280}, null), c), 0));
    // cell 3 missing (filled with a wild value): the three valid cells are all inside both intervals
    h.processElement2(new StreamRecord<>(frame(HOUR, new float[] {280.5f, 279.5f, 280, 999},
        new boolean[] {false, false, false, true}), HOUR));
    Verification v = verifications().get(0);
    assertThat(v.getCells()).isEqualTo(3);
    assertThat(v.getCoverage()).containsExactly(1.0, 1.0);
    h.processBothWatermarks(new Watermark(HOUR));
    h.getOperator().setCurrentKey(GRID);
    CalibrationState s = verifier.calibrationState();
    assertThat(s.updates).as("folded in once the watermark passed its valid time").isEqualTo(1);
    assertThat(s.q[0]).as("miss 0 of 3: q80 -= 0.1 * 0.2").isCloseTo(1 - 0.02, within(1e-12));
    assertThat(s.scale[3]).as("the masked cell's scale").isEqualTo(1f);
    assertThat(s.scale[2]).isEqualTo(0.5f);
  }

  /** Frames and forecasts of a stream over 12 h, one frame a cell of noise around a warming field. */
  static final int HOURS = 12;

  static float[] truth(int t) {
    float[] v = new float[4];
    for (int c = 0; c < 4; c++) {
      v[c] = 280 + 0.3f * t + (float) Math.sin(7 * t + 3 * c) * (1 + c);
    }
    return v;
  }

  static Forecast forecastAt(int t) {
    float[] l1 = truth(t).clone();
    float[] l2 = truth(t).clone();
    for (int c = 0; c < 4; c++) {
      l1[c] += 0.3f;
      l2[c] += 0.6f;
    }
    return forecast(t * HOUR, l1, l2);
  }

  /** The quantiles of every forecast, the frames fed all first (they run ahead) or each after its forecast. */
  static Map<Long, float[]> run(boolean framesAhead, boolean restoreHalfway) throws Exception {
    Calibration c = calibration("w/c1");
    ForecastVerifier v = verifier();
    KeyedTwoInputStreamOperatorTestHarness<String, WindowForecast, Frame, WindowForecast> hh = harness(v);
    hh.open();
    Map<Long, float[]> out = new HashMap<>();
    if (framesAhead) {
      for (int t = 0; t < HOURS; t++) {
        hh.processElement2(new StreamRecord<>(frame(t * HOUR, truth(t), null), t * HOUR));
      }
    }
    for (int t = 0; t < HOURS; t++) {
      if (restoreHalfway && t == HOURS / 2) {
        OperatorSubtaskState snapshot = hh.snapshot(1, t);
        for (Forecast f : forecasts(hh)) {
          out.put(f.getIssueTime().toEpochMilli(), PackedFloats.decode(f.getQuantiles()));
        }
        hh.close();
        v = verifier();
        hh = harness(v);
        hh.initializeState(snapshot);
        hh.open();
      }
      hh.processElement1(new StreamRecord<>(element(forecastAt(t), frame(t * HOUR, truth(t), null), c), t * HOUR));
      if (!framesAhead) {
        hh.processElement2(new StreamRecord<>(frame(t * HOUR, truth(t), null), t * HOUR));
      }
    }
    for (Forecast f : forecasts(hh)) {
      out.put(f.getIssueTime().toEpochMilli(), PackedFloats.decode(f.getQuantiles()));
    }
    hh.close();
    return out;
  }

  @Test
  void theIntervalsAreTheSameWhicheverInputRunsAheadThroughARestoreAndOffline() throws Exception {
    Map<Long, float[]> inStep = run(false, false);
    Map<Long, float[]> ahead = run(true, false);
    Map<Long, float[]> restored = run(false, true);
    CalibrationReplay offline = new CalibrationReplay(calibration("w/c1"), LEVELS, HOUR, 0,
        t -> t % HOUR == 0 && t / HOUR < HOURS ? new CalibrationReplay.Observed(truth((int) (t / HOUR)), null) : null);
    assertThat(inStep).hasSize(HOURS);
    for (int t = 0; t < HOURS; t++) {
      float[] expected = offline.forecast(t * HOUR, PackedFloats.decode(forecastAt(t).getValues()));
      assertThat(inStep.get(t * HOUR)).as("issue %d h, in step", t).containsExactly(expected);
      assertThat(ahead.get(t * HOUR)).as("issue %d h, frames ahead", t).containsExactly(expected);
      assertThat(restored.get(t * HOUR)).as("issue %d h, snapshot and restore halfway", t).containsExactly(expected);
    }
    assertThat(offline.state().updates).as("the calibration moved").isGreaterThan(10);
  }

  @Test
  void aModelWithAnotherCalibrationStartsTheGridAgainAndTheSameOneCarriesOn() throws Exception {
    Calibration a = calibration("w/c1");
    for (int t = 0; t < 4; t++) {
      h.processElement1(new StreamRecord<>(element(forecastAt(t), frame(t * HOUR, truth(t), null), a), t * HOUR));
    }
    // a new version of the same weights and calibration: the state carries on
    Forecast sameModel = forecastAt(4);
    sameModel.setModelVersion("1.0.1");
    h.processElement1(new StreamRecord<>(element(sameModel, frame(4 * HOUR, truth(4), null), calibration("w/c1")), 4 * HOUR));
    Forecast carried = forecasts(h).get(4);
    assertThat(carried.getCalibration().getSince().toEpochMilli()).isZero();
    assertThat(carried.getCalibration().getUpdates()).isPositive();
    // another calibration (other weights): started again from it at that forecast
    Calibration b = calibration("w2/c2");
    b.q = new double[] {0.5, 3, 4, 5, 0.5, 3, 4, 5};
    h.processElement1(new StreamRecord<>(element(forecastAt(5), frame(5 * HOUR, truth(5), null), b), 5 * HOUR));
    Forecast restarted = forecasts(h).get(5);
    assertThat(restarted.getCalibration().getBasis()).isEqualTo("w2/c2");
    assertThat(restarted.getCalibration().getSince().toEpochMilli()).isEqualTo(5 * HOUR);
    assertThat(restarted.getCalibration().getUpdates()).isZero();
    float[] q = PackedFloats.decode(restarted.getQuantiles());
    float p = PackedFloats.decode(restarted.getValues())[0];
    assertThat(q[8]).as("10%% quantile: the new model's q 3 times its scale 1").isEqualTo(p - 3f);
    // the old model's leads verified since no longer move the new state
    h.processElement1(new StreamRecord<>(element(forecastAt(6), frame(6 * HOUR, truth(6), null), b), 6 * HOUR));
    assertThat(forecasts(h).get(6).getCalibration().getUpdates()).as("only the new model's lead 1 of 5 h").isEqualTo(1);
  }

  @Test
  void aForecastIsHeldOnlyUntilItsLastLeadsValidTimePlusTheLateness() throws Exception {
    h.processElement1(new StreamRecord<>(element(0, new float[4], new float[4]), 0));
    h.processElement2(new StreamRecord<>(frame(0, new float[] {280, 280, 280, 280}, null), 0));
    h.getOperator().setCurrentKey(GRID);
    assertThat(verifier.heldForecasts()).isEqualTo(1);
    long lastLeadPlusLateness = BETA * HOUR + HOUR;
    h.processBothWatermarks(new Watermark(lastLeadPlusLateness - 1));
    assertThat(verifier.heldForecasts()).as("still within its last lead plus the lateness").isEqualTo(1);
    h.processBothWatermarks(new Watermark(lastLeadPlusLateness));
    assertThat(verifier.heldForecasts()).isZero();
    // frames: beta + 1 steps plus the lateness after their valid time
    assertThat(verifier.heldFrames()).isEqualTo(1);
    h.processBothWatermarks(new Watermark((BETA + 1) * HOUR + HOUR));
    assertThat(verifier.heldFrames()).isZero();
  }

  @Test
  void aForecastScoredAndFoldedInGoesWithoutWaitingForTheWatermark() throws Exception {
    // the watermark stays at its start throughout, as when another grid's backlog holds it back
    float[] cold = {280, 280, 280, 280};
    h.processElement2(new StreamRecord<>(frame(0, cold, null), 0));
    h.processElement1(new StreamRecord<>(element(forecast(0, new float[4], new float[4]), frame(0, cold, null),
        calibration("w/c")), 0));
    h.processElement2(new StreamRecord<>(frame(HOUR, cold, null), HOUR));
    h.getOperator().setCurrentKey(GRID);
    assertThat(verifier.heldForecasts()).as("lead 2 not scored yet").isEqualTo(1);
    h.processElement2(new StreamRecord<>(frame(2 * HOUR, cold, null), 2 * HOUR));
    h.getOperator().setCurrentKey(GRID);
    assertThat(verifier.heldForecasts()).as("both leads scored, not yet folded into the calibration").isEqualTo(1);
    // the next forecast folds them in before it is calibrated: the first is then done with
    h.processElement1(new StreamRecord<>(element(forecast(2 * HOUR, new float[4], new float[4]),
        frame(2 * HOUR, cold, null), calibration("w/c")), 2 * HOUR));
    h.getOperator().setCurrentKey(GRID);
    assertThat(verifier.heldForecasts()).as("only the new one, whose frames are still to come").isEqualTo(1);
    assertThat(forecasts(h).get(1).getCalibration().getUpdates()).as("the first one's two leads").isEqualTo(2);
    assertThat(verifications(h)).hasSize(2);
  }

  @Test
  void theSkillRuleRaisesOnDriftAndClearsOnRecovery() throws Exception {
    float[] truth = {280, 281, 282, 283};
    long t = 0;
    // forecasts 5 K off, against a persistence that is 1 K off: skill -4 -> raised once
    for (int i = 0; i < 3; i++, t += HOUR) {
      h.processElement2(new StreamRecord<>(frame(t, plus(truth, i), null), t));
      h.processElement1(new StreamRecord<>(element(t, plus(truth, i + 1 + 5), plus(truth, i + 2 + 5)), t));
    }
    assertThat(alerts()).singleElement().satisfies(a -> {
      assertThat(a.getKind()).isEqualTo(AlertKind.SKILL_DROP);
      assertThat(a.getCleared()).isFalse();
      assertThat(a.getValue()).isLessThan(0f);
      assertThat(a.getLead()).isZero();
      assertThat(a.getRow()).isEqualTo(-1);
    });
    // perfect forecasts from now on: the rolling skill climbs back above 0 -> cleared once
    for (int i = 3; i < 20; i++, t += HOUR) {
      h.processElement2(new StreamRecord<>(frame(t, plus(truth, i), null), t));
      h.processElement1(new StreamRecord<>(element(t, plus(truth, i + 1), plus(truth, i + 2)), t));
    }
    assertThat(alerts()).hasSize(2);
    assertThat(alerts().get(1).getCleared()).isTrue();
    assertThat(alerts().get(1).getValue()).isGreaterThanOrEqualTo(0f);
  }

  static float[] plus(float[] v, float d) {
    float[] out = v.clone();
    for (int i = 0; i < out.length; i++) {
      out[i] += d;
    }
    return out;
  }
}

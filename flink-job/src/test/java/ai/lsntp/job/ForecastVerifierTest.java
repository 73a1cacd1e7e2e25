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
import ai.lsntp.codec.PackedFloats;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.co.KeyedCoProcessOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Online verification on a 2 x 2 grid, scores worked out by hand; the state bound; the skill alert rule. */
class ForecastVerifierTest {
  static final long HOUR = 3_600_000L;
  static final String GRID = "g";
  static final int BETA = 2;

  ForecastVerifier verifier;
  KeyedTwoInputStreamOperatorTestHarness<String, Forecast, Frame, Verification> h;

  @BeforeEach
  void open() throws Exception {
    verifier = new ForecastVerifier(HOUR, 24 * HOUR,
        new SkillDrop(List.of(new AlertRule("drift", AlertRule.Kind.skill, 0.0, "24h", "*"))));
    h = new KeyedTwoInputStreamOperatorTestHarness<>(new KeyedCoProcessOperator<>(verifier), Forecast::getGridId,
        f -> f.gridId, Types.STRING);
    h.open();
  }

  @AfterEach
  void close() throws Exception {
    h.close();
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

  static Frame frame(long t, float[] values, boolean[] missing) {
    Frame f = new Frame(GRID, t, t, values);
    f.missing = missing;
    return f;
  }

  List<Verification> verifications() {
    List<Verification> out = new ArrayList<>();
    for (Object o : h.getOutput()) {
      if (o instanceof StreamRecord<?> r) {
        out.add((Verification) r.getValue());
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
    h.processElement1(new StreamRecord<>(forecast(0, new float[] {280, 282, 283, 283}, new float[] {290, 282, 284, 284}), 0));
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
  void aForecastIsHeldOnlyUntilItsLastLeadsValidTimePlusTheLateness() throws Exception {
    h.processElement1(new StreamRecord<>(forecast(0, new float[4], new float[4]), 0));
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
  void theSkillRuleRaisesOnDriftAndClearsOnRecovery() throws Exception {
    float[] truth = {280, 281, 282, 283};
    long t = 0;
    // forecasts 5 K off, against a persistence that is 1 K off: skill -4 -> raised once
    for (int i = 0; i < 3; i++, t += HOUR) {
      h.processElement2(new StreamRecord<>(frame(t, plus(truth, i), null), t));
      h.processElement1(new StreamRecord<>(forecast(t, plus(truth, i + 1 + 5), plus(truth, i + 2 + 5)), t));
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
      h.processElement1(new StreamRecord<>(forecast(t, plus(truth, i + 1), plus(truth, i + 2)), t));
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

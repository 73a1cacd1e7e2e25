package ai.lsntp.job;

import static ai.lsntp.job.ForecastVerifierTest.BETA;
import static ai.lsntp.job.ForecastVerifierTest.HOUR;
import static ai.lsntp.job.ForecastVerifierTest.forecast;
import static ai.lsntp.job.ForecastVerifierTest.frame;
import static ai.lsntp.job.ForecastVerifierTest.harness;
import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.alerts.SkillDrop;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.ModelEventKind;
import ai.lsntp.config.LsntpConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

/**
 * The promotion decision in the verifier's keyed state (Flink's operator harness): the grid's
 * model forecasts the truth + 1 K, challenger "c" the truth + 0.2 K. The same switch point and the
 * same evidence whether the frames run ahead of the forecasts or follow them, and through a
 * snapshot and restore taken between the decision and the switch (the state a crash leaves).
 */
class PromotionStateTest {
  static final int HOURS = 30;

  static float[] truth(long t) {
    return new float[] {280 + (t % 5), 281 - (t % 3), 279 + 0.5f * (t % 4), 282};
  }

  static float[] plus(float[] v, float k) {
    float[] o = v.clone();
    for (int i = 0; i < o.length; i++) {
      o[i] += k;
    }
    return o;
  }

  static ForecastVerifier verifier() {
    LsntpConfig.Promotion p = new LsntpConfig.Promotion();
    p.policy = PromotionRule.AUTOMATIC;
    p.minIssueTimes = 8;
    p.blockLength = 2;
    p.resamples = 300;
    return new ForecastVerifier(HOUR, 24 * HOUR, new SkillDrop(List.of()), new double[0], true, null, new PromotionRule(p));
  }

  static WindowForecast bundle(long t) {
    Forecast own = forecast(t * HOUR, plus(truth(t + 1), 1f), plus(truth(t + 2), 1f));
    Forecast challenger = forecast(t * HOUR, plus(truth(t + 1), 0.2f), plus(truth(t + 2), 0.2f));
    challenger.setModelVersion("2.0.0-c");
    WindowForecast w = ForecastVerifierTest.element(own, frame(t * HOUR, truth(t), null), null);
    WindowForecast.Contender c = new WindowForecast.Contender();
    c.slot = "c";
    c.modelPath = "models/g/challengers/c/model.onnx";
    c.forecast = challenger;
    w.challengers = new WindowForecast.Contender[] {c};
    return w;
  }

  record Run(TreeMap<Long, String> versionByIssue, List<ModelEvent> events) {}

  /** @param restoreAt the issue time (hours) before whose forecast a snapshot is taken and restored; -1: none */
  static Run run(boolean framesAhead, int restoreAt) throws Exception {
    KeyedTwoInputStreamOperatorTestHarness<String, WindowForecast, Frame, WindowForecast> h = harness(verifier());
    h.open();
    TreeMap<Long, String> versions = new TreeMap<>();
    List<ModelEvent> events = new ArrayList<>();
    if (framesAhead) {
      for (int t = 0; t < HOURS + BETA; t++) {
        h.processElement2(new StreamRecord<>(frame(t * HOUR, truth(t), null), t * HOUR));
      }
    }
    for (int t = 0; t < HOURS; t++) {
      if (t == restoreAt) {
        OperatorSubtaskState snapshot = h.snapshot(1, t);
        collect(h, versions, events);
        h.close();
        h = harness(verifier());
        h.initializeState(snapshot);
        h.open();
      }
      h.processElement1(new StreamRecord<>(bundle(t), t * HOUR));
      if (!framesAhead) {
        h.processElement2(new StreamRecord<>(frame(t * HOUR, truth(t), null), t * HOUR));
      }
    }
    collect(h, versions, events);
    h.close();
    return new Run(versions, events);
  }

  static void collect(KeyedTwoInputStreamOperatorTestHarness<String, WindowForecast, Frame, WindowForecast> h,
      TreeMap<Long, String> versions, List<ModelEvent> events) {
    for (Forecast f : ForecastVerifierTest.forecasts(h)) {
      assertThat(versions.put(f.getIssueTime().toEpochMilli(), f.getModelVersion())).as("one forecast per issue").isNull();
    }
    var side = h.getSideOutput(ForecastVerifier.MODEL_EVENTS); // null: none emitted
    if (side != null) {
      side.forEach(r -> events.add(r.getValue()));
      side.clear();
    }
  }

  /** The event without its wall-clock time, for comparing runs. */
  static String decision(List<ModelEvent> events) {
    List<String> out = new ArrayList<>();
    for (ModelEvent e : events) {
      out.add(e.getKind() + " " + e.getSlot() + " " + e.getNewVersion() + " " + e.getEvidence());
    }
    return String.join("\n", out);
  }

  @Test
  void theDecisionAndItsSwitchPointAreTheSameWhicheverInputRunsAheadAndThroughARestore() throws Exception {
    Run inStep = run(false, -1);
    assertThat(inStep.events).extracting(ModelEvent::getKind).containsExactly(ModelEventKind.PROMOTED, ModelEventKind.DEMOTED);
    long switchAt = inStep.events.get(0).getEvidence().getEffectiveFrom().toEpochMilli();
    assertThat(inStep.versionByIssue).hasSize(HOURS);
    assertThat(inStep.versionByIssue.headMap(switchAt).values()).isNotEmpty().containsOnly("1.0.0");
    assertThat(inStep.versionByIssue.tailMap(switchAt).values()).isNotEmpty().containsOnly("2.0.0-c");
    assertThat(inStep.events.get(0).getEvidence().getIssueTimes()).isEqualTo(8);

    Run ahead = run(true, -1);
    assertThat(decision(ahead.events)).isEqualTo(decision(inStep.events));
    assertThat(ahead.versionByIssue).isEqualTo(inStep.versionByIssue);

    // the frames ahead, a snapshot between the decision (at the evidence's newest issue time) and
    // the switch: the restored operator switches where the uninterrupted one did
    int between = (int) (switchAt / HOUR) - 1;
    Run restored = run(true, between);
    assertThat(decision(restored.events)).isEqualTo(decision(inStep.events));
    assertThat(restored.versionByIssue).isEqualTo(inStep.versionByIssue);
  }

  @Test
  void underTheManualOrOffPolicyNothingIsPromotedAutomatically() throws Exception {
    for (String policy : List.of(PromotionRule.OFF, PromotionRule.MANUAL)) {
      LsntpConfig.Promotion p = new LsntpConfig.Promotion();
      p.policy = policy;
      p.minIssueTimes = 8;
      KeyedTwoInputStreamOperatorTestHarness<String, WindowForecast, Frame, WindowForecast> h = harness(
          new ForecastVerifier(HOUR, 24 * HOUR, new SkillDrop(List.of()), new double[0], true, null, new PromotionRule(p)));
      h.open();
      for (int t = 0; t < HOURS; t++) {
        h.processElement1(new StreamRecord<>(bundle(t), t * HOUR));
        h.processElement2(new StreamRecord<>(frame(t * HOUR, truth(t), null), t * HOUR));
      }
      TreeMap<Long, String> versions = new TreeMap<>();
      List<ModelEvent> events = new ArrayList<>();
      collect(h, versions, events);
      h.close();
      assertThat(events).as(policy).isEmpty();
      assertThat(versions.values()).as(policy).containsOnly("1.0.0");
    }
  }
}

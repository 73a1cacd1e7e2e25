package ai.lsntp.alerts;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.job.Rejects;
import ai.lsntp.job.WindowForecast;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.streaming.api.operators.ProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The alert stage after inference (operator harness): alerts at their forecast's time, and a rule that throws. */
class ForecastAlertsTest {
  static final long ISSUE = AlertEvaluatorTest.ISSUE;

  OneInputStreamOperatorTestHarness<WindowForecast, Alert> h;

  @BeforeEach
  void open() throws Exception {
    AlertEvaluator rules = new AlertEvaluator(List.of(new AlertRule("hot", AlertRule.Kind.heat, 300.0, null, "g"),
        new AlertRule("jump", AlertRule.Kind.change, 9.0, "1h", "*"),
        new AlertRule("elsewhere", AlertRule.Kind.frost, 300.0, null, "other")));
    h = new OneInputStreamOperatorTestHarness<>(new ProcessOperator<>(new ForecastAlerts(rules, null)));
    h.open();
  }

  @AfterEach
  void close() throws Exception {
    h.close();
  }

  static WindowForecast element(float[] newestFrame) {
    WindowForecast f = new WindowForecast();
    f.forecast = AlertEvaluatorTest.forecast(AlertEvaluatorTest.FORECAST);
    f.newestFrame = newestFrame;
    f.topic = "frames";
    f.partition = 2;
    f.offset = 41;
    return f;
  }

  List<StreamRecord<Alert>> alerts() {
    List<StreamRecord<Alert>> out = new ArrayList<>();
    for (Object o : h.getOutput()) {
      if (o instanceof StreamRecord<?> r) {
        out.add(new StreamRecord<>((Alert) r.getValue(), r.getTimestamp()));
      }
    }
    return out;
  }

  @Test
  void theRulesOfTheForecastsGridRaiseAlertsAtItsIssueTimeWithTheNewestFrameAsLeadZero() throws Exception {
    h.processElement(new StreamRecord<>(element(AlertEvaluatorTest.OBSERVED), ISSUE));
    List<StreamRecord<Alert>> out = alerts();
    assertThat(out).extracting(r -> r.getValue().getRule() + "@" + r.getValue().getLead())
        .as("heat and change for every lead; the frost rule is another grid's")
        .containsExactly("hot@1", "hot@2", "hot@3", "jump@1", "jump@2", "jump@3");
    assertThat(out).allSatisfy(r -> assertThat(r.getTimestamp()).isEqualTo(ISSUE));
    assertThat(out.get(3).getValue().getValue()).as("lead 1 against the element's newest frame").isEqualTo(9f);

    // another newest frame, the same forecast: lead 1's change is measured from it
    h.getOutput().clear();
    h.processElement(new StreamRecord<>(element(new float[] {290, 300, 292, 293}), ISSUE));
    assertThat(alerts()).extracting(r -> r.getValue().getRule() + "@" + r.getValue().getLead())
        .as("lead 1 no longer changes by 9 K").doesNotContain("jump@1").contains("jump@2");
    assertThat(h.getSideOutput(Rejects.TAG)).isNull();
  }

  @Test
  void aRuleThatThrowsRejectsTheWindowAsInternalErrorAndTheNextForecastIsJudged() throws Exception {
    h.processElement(new StreamRecord<>(element(new float[1]), ISSUE)); // a newest frame of the wrong size
    assertThat(alerts()).as("no alert from an evaluation that failed half-way").isEmpty();
    List<RejectedFrame> rejects = new ArrayList<>();
    h.getSideOutput(Rejects.TAG).forEach(r -> rejects.add(r.getValue()));
    assertThat(rejects).hasSize(1);
    RejectedFrame r = rejects.get(0);
    assertThat(r.getReasonCode()).isEqualTo("INTERNAL_ERROR");
    assertThat(r.getReason()).contains("the forecast was published").contains("ArrayIndexOutOfBoundsException");
    assertThat(r.getGridId()).isEqualTo("g");
    assertThat(r.getValidTime().toEpochMilli()).isEqualTo(ISSUE);
    assertThat(List.of(r.getSourceTopic(), r.getSourcePartition(), r.getSourceOffset())).containsExactly("frames", 2, 41L);

    h.processElement(new StreamRecord<>(element(AlertEvaluatorTest.OBSERVED), ISSUE));
    assertThat(alerts()).hasSize(6);
  }
}

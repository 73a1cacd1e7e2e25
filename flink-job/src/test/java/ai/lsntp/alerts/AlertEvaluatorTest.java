package ai.lsntp.alerts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.AlertKind;
import ai.lsntp.avro.Forecast;
import ai.lsntp.codec.PackedFloats;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The heat, frost and change rules on a 2 x 2 grid with three leads, values chosen by hand; heat
 * and frost on a probability, from quantiles chosen by hand.
 */
class AlertEvaluatorTest {
  static final long HOUR = 3_600_000L;
  static final long ISSUE = Instant.parse("2024-07-01T12:00:00Z").toEpochMilli();
  static final float[] OBSERVED = {290, 291, 292, 293};
  /** lead 1, lead 2, lead 3; each row-major 2 x 2. */
  static final float[] FORECAST = {
    290, 300, 292, 293, // lead 1: cell 1 jumps +9 K in one hour
    303, 299, 292, 271, // lead 2: cell 0 is the warmest (303), cell 3 falls 22 K
    302, 304, 270, 271, // lead 3: cell 1 warmest (304), cell 2 falls 22 K from lead 2
  };

  /** Grid g: 2 x 2 cells from 50N 0E, rows southwards 1 degree, columns eastwards 2 degrees; hourly, 3 leads. */
  static Forecast forecast(float[] values) {
    return Forecast.newBuilder().setGridId("g").setIssueTime(Instant.ofEpochMilli(ISSUE)).setModelName("lsntp-test")
        .setModelVersion("2.1.0").setStepMillis(HOUR).setBeta(3).setHeight(2).setWidth(2).setLat0(50.0).setLon0(0.0)
        .setDlat(-1.0).setDlon(2.0).setUnits("K").setValues(PackedFloats.encode(values))
        .setValidTimes(List.of(Instant.ofEpochMilli(ISSUE + HOUR), Instant.ofEpochMilli(ISSUE + 2 * HOUR),
            Instant.ofEpochMilli(ISSUE + 3 * HOUR)))
        .setProducedAt(Instant.ofEpochMilli(ISSUE + 5000)).build();
  }

  private static List<Alert> evaluate(AlertRule... rules) {
    return new AlertEvaluator(List.of(rules)).evaluate(forecast(FORECAST), OBSERVED);
  }

  @Test
  void heatNamesTheWarmestCellAtOrAboveTheThresholdForEachLeadThatHasOne() {
    List<Alert> alerts = evaluate(new AlertRule("hot", AlertRule.Kind.heat, 300.0, null, "*"));
    assertThat(alerts).extracting(Alert::getLead).containsExactly(1, 2, 3);
    Alert lead1 = alerts.get(0);
    assertThat(lead1.getValue()).as("300 K meets a 300 K threshold").isEqualTo(300f);
    assertThat(lead1.getRow()).isEqualTo(0);
    assertThat(lead1.getCol()).isEqualTo(1);
    assertThat(lead1.getLat()).isEqualTo(50.0);
    assertThat(lead1.getLon()).isEqualTo(2.0);
    assertThat(alerts.get(1).getValue()).isEqualTo(303f);
    assertThat(alerts.get(1).getCol()).isEqualTo(0);
    assertThat(alerts.get(2).getValue()).isEqualTo(304f);
    for (Alert a : alerts) {
      assertThat(a.getKind()).isEqualTo(AlertKind.HEAT);
      assertThat(a.getRule().toString()).isEqualTo("hot");
      assertThat(a.getThreshold()).isEqualTo(300.0);
      assertThat(a.getValidTime().toEpochMilli()).isEqualTo(ISSUE + a.getLead() * HOUR);
      assertThat(a.getIssueTime().toEpochMilli()).isEqualTo(ISSUE);
      assertThat(a.getModelVersion().toString()).isEqualTo("2.1.0");
      assertThat(a.getProducedAt().toEpochMilli()).as("the forecast's").isEqualTo(ISSUE + 5000);
    }
  }

  @Test
  void frostNamesTheColdestCellAtOrBelowTheThreshold() {
    List<Alert> alerts = evaluate(new AlertRule("cold", AlertRule.Kind.frost, 271.0, null, "*"));
    assertThat(alerts).extracting(Alert::getLead).containsExactly(2, 3);
    assertThat(alerts.get(0).getValue()).isEqualTo(271f);
    assertThat(alerts.get(0).getRow()).isEqualTo(1);
    assertThat(alerts.get(0).getCol()).isEqualTo(1);
    assertThat(alerts.get(0).getLat()).isEqualTo(49.0);
    assertThat(alerts.get(1).getValue()).isEqualTo(270f);
    assertThat(alerts.get(1).getCol()).isEqualTo(0);
    assertThat(alerts).allMatch(a -> a.getKind() == AlertKind.FROST);
  }

  @Test
  void changeWithinOneStepComparesEachLeadWithThePreviousTimeTheObservationIncluded() {
    List<Alert> alerts = evaluate(new AlertRule("jump", AlertRule.Kind.change, 9.0, "1h", "*"));
    assertThat(alerts).extracting(Alert::getLead).containsExactly(1, 2, 3);
    assertThat(alerts.get(0).getValue()).as("lead 1 against the observed frame").isEqualTo(9f);
    assertThat(alerts.get(0).getCol()).isEqualTo(1);
    assertThat(alerts.get(1).getValue()).as("the largest |change| keeps its sign").isEqualTo(-22f);
    assertThat(alerts.get(1).getRow()).isEqualTo(1);
    assertThat(alerts.get(1).getCol()).isEqualTo(1);
    assertThat(alerts.get(2).getValue()).isEqualTo(-22f);
    assertThat(alerts.get(2).getCol()).isEqualTo(0);
    assertThat(alerts).allMatch(a -> a.getKind() == AlertKind.RAPID_CHANGE);
  }

  @Test
  void aLongerSpanFindsAChangeThatOneStepMisses() {
    // cell 1 warms 5 K an hour: 291 (observed), 296, 301, 306; only a 2 h span sees 10 K
    float[] steady = {290, 296, 292, 293, 290, 301, 292, 293, 290, 306, 292, 293};
    AlertEvaluator ev = new AlertEvaluator(List.of(new AlertRule("per-hour", AlertRule.Kind.change, 10.0, "1h", "*"),
        new AlertRule("two-hours", AlertRule.Kind.change, 10.0, "2h", "*")));
    List<Alert> alerts = ev.evaluate(forecast(steady), OBSERVED);
    assertThat(alerts).extracting(a -> a.getRule() + "@" + a.getLead() + "=" + a.getValue() + "@" + a.getCol())
        .containsExactly("two-hours@2=10.0@1", "two-hours@3=10.0@1");
  }

  @Test
  void aThresholdNoChangeReachesRaisesNothing() {
    assertThat(evaluate(new AlertRule("j", AlertRule.Kind.change, 25.0, "3h", "*"))).isEmpty();
  }

  /** The forecast with its 2.5%, 10%, 90% and 97.5% quantiles: +-2 K (80%) and +-4 K (95%) around every value. */
  static Forecast withIntervals(float[] values) {
    int n = values.length;
    float[] q = new float[4 * n];
    float[] offsets = {-4, -2, 2, 4};
    for (int k = 0; k < 4; k++) {
      for (int i = 0; i < n; i++) {
        q[k * n + i] = values[i] + offsets[k];
      }
    }
    Forecast f = forecast(values);
    f.setQuantileLevels(List.of(0.025, 0.1, 0.9, 0.975));
    f.setQuantiles(PackedFloats.encode(q));
    return f;
  }

  static AlertRule probable(String name, AlertRule.Kind kind, double threshold, double p) {
    AlertRule r = new AlertRule(name, kind, threshold, null, "*");
    r.probability = p;
    return r;
  }

  @Test
  void frostOnAProbabilityNamesTheMostProbableCellAndCarriesItsProbability() {
    List<Alert> alerts = new AlertEvaluator(List.of(probable("frost-likely", AlertRule.Kind.frost, 273.15, 0.8)))
        .evaluate(withIntervals(FORECAST), OBSERVED);
    assertThat(alerts).extracting(Alert::getLead).containsExactly(2, 3);
    // lead 2, cell 3 at 271 K: 273.15 lies between its 90% (273) and 97.5% (275) quantiles
    assertThat(alerts.get(0).getCol()).isEqualTo(1);
    assertThat(alerts.get(0).getRow()).isEqualTo(1);
    assertThat(alerts.get(0).getProbability()).isCloseTo(0.9 + 0.075 * 0.15 / 2, within(1e-4));
    assertThat(alerts.get(0).getValue()).isEqualTo(271f);
    // lead 3: cell 2 at 270 K (0.943) is more probable than cell 3 at 271 K (0.906)
    assertThat(alerts.get(1).getCol()).isEqualTo(0);
    assertThat(alerts.get(1).getProbability()).isCloseTo(0.9 + 0.075 * 1.15 / 2, within(1e-4));
    assertThat(alerts).allMatch(a -> a.getKind() == AlertKind.FROST && a.getThreshold() == 273.15);
  }

  @Test
  void aProbabilityRuleFiresWhereThePointForecastAloneWouldNot() {
    // 274 K is above a 273.15 K frost threshold, but P(T <= 273.15) = 0.1 + 0.4 * 1.15 / 2 = 0.33
    float[] mild = {274, 290, 290, 290, 290, 290, 290, 290, 290, 290, 290, 290};
    assertThat(new AlertEvaluator(List.of(new AlertRule("frost", AlertRule.Kind.frost, 273.15, null, "*")))
        .evaluate(withIntervals(mild), OBSERVED)).isEmpty();
    List<Alert> alerts = new AlertEvaluator(List.of(probable("frost-possible", AlertRule.Kind.frost, 273.15, 0.3)))
        .evaluate(withIntervals(mild), OBSERVED);
    assertThat(alerts).singleElement().satisfies(a -> {
      assertThat(a.getLead()).isEqualTo(1);
      assertThat(a.getProbability()).isCloseTo(0.33, within(1e-4));
    });
    assertThat(new AlertEvaluator(List.of(probable("frost-likely", AlertRule.Kind.frost, 273.15, 0.5)))
        .evaluate(withIntervals(mild), OBSERVED)).isEmpty();
  }

  @Test
  void heatOnAProbabilityCountsTheValueAtTheThresholdAndNothingWithoutQuantiles() {
    AlertEvaluator ev = new AlertEvaluator(List.of(probable("heat-even", AlertRule.Kind.heat, 303.0, 0.5)));
    List<Alert> alerts = ev.evaluate(withIntervals(FORECAST), OBSERVED);
    // lead 2: cell 0 at 303 K, P = 0.5; lead 3: cell 1 at 304 K, P = 1 - (0.1 + 0.4 * 1 / 2) = 0.7
    assertThat(alerts).extracting(Alert::getLead).containsExactly(2, 3);
    assertThat(alerts.get(0).getProbability()).isCloseTo(0.5, within(1e-6));
    assertThat(alerts.get(1).getProbability()).isCloseTo(0.7, within(1e-6));
    assertThat(alerts.get(1).getCol()).isEqualTo(1);
    assertThat(ev.evaluate(forecast(FORECAST), OBSERVED)).as("a forecast without intervals").isEmpty();
    assertThat(new AlertEvaluator(List.of(new AlertRule("hot", AlertRule.Kind.heat, 303.0, null, "*")))
        .evaluate(withIntervals(FORECAST), OBSERVED)).allMatch(a -> a.getProbability() == null);
  }

  @Test
  void rulesForOtherGridsAndSkillRulesRaiseNothingHere() {
    assertThat(evaluate(new AlertRule("hot", AlertRule.Kind.heat, 250.0, null, "other"))).isEmpty();
    assertThat(evaluate(new AlertRule("drift", AlertRule.Kind.skill, 0.1, "24h", "*")))
        .as("skill is judged on verified forecasts, by the verifier").isEmpty();
    assertThat(evaluate(new AlertRule("hot", AlertRule.Kind.heat, 305.0, null, "g"))).isEmpty();
  }
}

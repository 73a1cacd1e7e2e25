package ai.lsntp.job;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.AlertKind;
import ai.lsntp.config.AlertRule;
import ai.lsntp.model.ModelSpec;
import java.io.Serializable;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies the configured alert rules to one forecast. Per rule and lead, at most one alert: the
 * most extreme cell that meets the rule (heat: the warmest at or above the threshold; frost: the
 * coldest at or below; change: the largest |change| of at least the threshold between this lead
 * and any earlier time within the rule's span, the newest observed frame included).
 */
public class AlertEvaluator implements Serializable {
  private static final long serialVersionUID = 1L;
  private final List<AlertRule> rules;

  public AlertEvaluator(List<AlertRule> rules) {
    this.rules = new ArrayList<>(rules);
  }

  /**
   * @param observed the newest observed frame (H*W), lead 0
   * @param forecast beta*H*W forecast values
   */
  public List<Alert> evaluate(ModelSpec spec, String grid, long issueTime, float[] observed, float[] forecast,
      long producedAt) {
    List<Alert> out = new ArrayList<>();
    int cells = spec.cells();
    for (AlertRule rule : rules) {
      if (!rule.appliesTo(grid)) {
        continue;
      }
      double th = rule.threshold;
      for (int lead = 1; lead <= spec.beta; lead++) {
        int base = (lead - 1) * cells;
        int best = -1;
        float bestValue = 0;
        switch (rule.kind) {
          case heat:
            for (int i = 0; i < cells; i++) {
              float x = forecast[base + i];
              if (x >= th && (best < 0 || x > bestValue)) {
                best = i;
                bestValue = x;
              }
            }
            break;
          case frost:
            for (int i = 0; i < cells; i++) {
              float x = forecast[base + i];
              if (x <= th && (best < 0 || x < bestValue)) {
                best = i;
                bestValue = x;
              }
            }
            break;
          case change:
            int back = (int) Math.min(lead, rule.withinMillis() / spec.stepMillis);
            for (int j = lead - back; j < lead; j++) {
              for (int i = 0; i < cells; i++) {
                float before = j == 0 ? observed[i] : forecast[(j - 1) * cells + i];
                float d = forecast[base + i] - before;
                if (Math.abs(d) >= th && (best < 0 || Math.abs(d) > Math.abs(bestValue))) {
                  best = i;
                  bestValue = d;
                }
              }
            }
            break;
          default:
            break;
        }
        if (best >= 0) {
          int row = best / spec.width;
          int col = best % spec.width;
          out.add(Alert.newBuilder()
              .setGridId(grid)
              .setRule(rule.name)
              .setKind(kind(rule.kind))
              .setRow(row)
              .setCol(col)
              .setLat(spec.latOf(row))
              .setLon(spec.lonOf(col))
              .setIssueTime(Instant.ofEpochMilli(issueTime))
              .setValidTime(Instant.ofEpochMilli(issueTime + lead * spec.stepMillis))
              .setLead(lead)
              .setValue(bestValue)
              .setThreshold(th)
              .setModelName(spec.name)
              .setModelVersion(spec.version)
              .setProducedAt(Instant.ofEpochMilli(producedAt))
              .build());
        }
      }
    }
    return out;
  }

  private static AlertKind kind(AlertRule.Kind k) {
    switch (k) {
      case heat:
        return AlertKind.HEAT;
      case frost:
        return AlertKind.FROST;
      case change:
        return AlertKind.RAPID_CHANGE;
      default:
        return AlertKind.UNKNOWN;
    }
  }
}

package ai.lsntp.alerts;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.codec.PackedFloats;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies the configured heat, frost and change rules to one forecast. Per rule and lead, at most
 * one alert: the most extreme cell that meets the rule (heat: the warmest at or above the
 * threshold; frost: the coldest at or below; change: the largest |change| of at least the
 * threshold between this lead and any earlier time within the rule's span, the newest observed
 * frame included). Skill rules are judged on verified forecasts instead ({@link SkillDrop}).
 */
public class AlertEvaluator implements Serializable {
  private static final long serialVersionUID = 1L;
  private final List<AlertRule> rules;

  public AlertEvaluator(List<AlertRule> rules) {
    this.rules = new ArrayList<>(rules);
  }

  /**
   * @param newestFrame the newest observed frame of the forecast's window (H*W kelvin): lead 0 of
   *     the change rule
   */
  public List<Alert> evaluate(Forecast forecast, float[] newestFrame) {
    List<Alert> out = new ArrayList<>();
    float[] values = PackedFloats.decode(forecast.getValues());
    int cells = forecast.getHeight() * forecast.getWidth();
    for (AlertRule rule : rules) {
      if (!rule.appliesTo(forecast.getGridId())) {
        continue;
      }
      double th = rule.threshold;
      for (int lead = 1; lead <= forecast.getBeta(); lead++) {
        int base = (lead - 1) * cells;
        int best = -1;
        float bestValue = 0;
        switch (rule.kind) {
          case heat:
            for (int i = 0; i < cells; i++) {
              float x = values[base + i];
              if (x >= th && (best < 0 || x > bestValue)) {
                best = i;
                bestValue = x;
              }
            }
            break;
          case frost:
            for (int i = 0; i < cells; i++) {
              float x = values[base + i];
              if (x <= th && (best < 0 || x < bestValue)) {
                best = i;
                bestValue = x;
              }
            }
            break;
          case change:
            int back = (int) Math.min(lead, rule.withinMillis() / forecast.getStepMillis());
            for (int j = lead - back; j < lead; j++) {
              for (int i = 0; i < cells; i++) {
                float before = j == 0 ? newestFrame[i] : values[(j - 1) * cells + i];
                float d = values[base + i] - before;
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
          int row = best / forecast.getWidth();
          int col = best % forecast.getWidth();
          out.add(Alerts.of(rule, forecast)
              .setRow(row)
              .setCol(col)
              .setLat(forecast.getLat0() + row * forecast.getDlat())
              .setLon(forecast.getLon0() + col * forecast.getDlon())
              .setValidTime(forecast.getValidTimes().get(lead - 1))
              .setLead(lead)
              .setValue(bestValue)
              .setProducedAt(forecast.getProducedAt())
              .build());
        }
      }
    }
    return out;
  }
}

package ai.lsntp.alerts;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.calibration.QuantileCdf;
import ai.lsntp.codec.PackedFloats;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies the configured heat, frost and change rules to one forecast. Per rule and lead, at most
 * one alert: the most extreme cell that meets the rule (heat: the warmest at or above the
 * threshold; frost: the coldest at or below; change: the largest |change| of at least the
 * threshold between this lead and any earlier time within the rule's span, the newest observed
 * frame included). A heat or frost rule with a probability p fires where the forecast probability
 * of the cell being at or above (heat) or at or below (frost) the threshold is at least p, from
 * the forecast's quantiles ({@link QuantileCdf}); its alert is the most probable such cell (ties:
 * the most extreme value) and carries the probability; a forecast without quantiles raises none.
 * Skill rules are judged on verified forecasts instead ({@link SkillDrop}).
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
    float[] quantiles = null;
    for (AlertRule rule : rules) {
      if (!rule.appliesTo(forecast.getGridId())) {
        continue;
      }
      if (rule.onProbability()) {
        if (quantiles == null) {
          quantiles = forecast.getQuantileLevels().isEmpty() ? new float[0] : PackedFloats.decode(forecast.getQuantiles());
        }
        if (quantiles.length > 0) {
          probable(rule, forecast, values, quantiles, cells, out);
        }
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
          out.add(atCell(rule, forecast, lead, best).setValue(bestValue).build());
        }
      }
    }
    return out;
  }

  /** An alert of {@code rule} at one cell and lead of the forecast; the caller adds the value. */
  private static Alert.Builder atCell(AlertRule rule, Forecast forecast, int lead, int cell) {
    int row = cell / forecast.getWidth();
    int col = cell % forecast.getWidth();
    return Alerts.of(rule, forecast)
        .setRow(row)
        .setCol(col)
        .setLat(forecast.getLat0() + row * forecast.getDlat())
        .setLon(forecast.getLon0() + col * forecast.getDlon())
        .setValidTime(forecast.getValidTimes().get(lead - 1))
        .setLead(lead)
        .setProducedAt(forecast.getProducedAt());
  }

  /** A heat or frost rule with a probability: per lead the most probable cell at or over the rule's probability. */
  private static void probable(AlertRule rule, Forecast forecast, float[] values, float[] quantiles, int cells,
      List<Alert> out) {
    double[] taus = QuantileCdf.knotLevels(forecast.getQuantileLevels());
    double[] knots = new double[taus.length];
    int plane = forecast.getBeta() * cells;
    boolean frost = rule.kind == AlertRule.Kind.frost;
    double th = rule.threshold;
    for (int lead = 1; lead <= forecast.getBeta(); lead++) {
      int base = (lead - 1) * cells;
      int best = -1;
      double bestP = 0;
      for (int i = 0; i < cells; i++) {
        float x = values[base + i];
        QuantileCdf.knots(quantiles, plane, base + i, x, knots);
        double p = frost ? QuantileCdf.atMost(th, knots, taus) : QuantileCdf.atLeast(th, knots, taus);
        if (p >= rule.probability && (best < 0 || p > bestP
            || (p == bestP && (frost ? x < values[base + best] : x > values[base + best])))) {
          best = i;
          bestP = p;
        }
      }
      if (best >= 0) {
        out.add(atCell(rule, forecast, lead, best).setValue(values[base + best]).setProbability(bestP).build());
      }
    }
  }
}

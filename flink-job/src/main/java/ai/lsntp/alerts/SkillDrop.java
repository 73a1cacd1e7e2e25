package ai.lsntp.alerts;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import java.io.Serializable;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;

/**
 * The skill rules (model drift): when a grid's rolling skill over every lead (1 - MAE / MAE of
 * persistence of its verified forecasts) falls below a rule's threshold, one grid-wide SKILL_DROP
 * alert; when it is back at or above it, one with {@code cleared} set. The verifier, which keeps
 * the rolling scores, asks it after each score and keeps which rules are raised per grid in its
 * keyed state ({@link #RAISED}).
 */
public final class SkillDrop implements Serializable {
  private static final long serialVersionUID = 1L;
  /** Rule name -> whether it is raised, per grid (the verifier's keyed state of that name). */
  public static final MapStateDescriptor<String, Boolean> RAISED =
      new MapStateDescriptor<>("raised", Types.STRING, Types.BOOLEAN);

  private final List<AlertRule> rules = new ArrayList<>();

  /** The skill rules among {@code rules}; the others are judged per forecast ({@link AlertEvaluator}). */
  public SkillDrop(List<AlertRule> rules) {
    for (AlertRule r : rules) {
      if (r.kind == AlertRule.Kind.skill) {
        this.rules.add(r);
      }
    }
  }

  /**
   * The alerts a grid's new rolling skill raises or clears, and {@code raised} brought up to date.
   *
   * @param latest the forecast whose score moved the skill (it names the grid, issue time and model)
   * @param validTime the valid time that score verified
   */
  public List<Alert> judge(double skill, Forecast latest, long validTime, MapState<String, Boolean> raised)
      throws Exception {
    List<Alert> out = new ArrayList<>();
    for (AlertRule rule : rules) {
      if (!rule.appliesTo(latest.getGridId())) {
        continue;
      }
      boolean below = skill < rule.threshold;
      if (below == Boolean.TRUE.equals(raised.get(rule.name))) {
        continue;
      }
      raised.put(rule.name, below);
      out.add(Alerts.of(rule, latest)
          .setRow(-1)
          .setCol(-1)
          .setLat(Double.NaN)
          .setLon(Double.NaN)
          .setValidTime(Instant.ofEpochMilli(validTime))
          .setLead(0)
          .setValue((float) skill)
          .setProducedAt(Instant.now())
          .setCleared(!below)
          .build());
    }
    return out;
  }
}

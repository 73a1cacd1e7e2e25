package ai.lsntp.alerts;

import ai.lsntp.avro.AlertKind;
import ai.lsntp.config.ConfigException;
import ai.lsntp.config.Durations;
import java.io.Serializable;

/**
 * One alert rule from the configuration (the alerts list of lsntp-default.yaml, or --alert):
 * bound by the configuration, judged by {@link AlertEvaluator} (heat, frost, change) and
 * {@link SkillDrop} (skill).
 */
public class AlertRule implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The rule kinds, named as the configuration names them, each with the kind of the alerts it raises. */
  public enum Kind {
    heat(AlertKind.HEAT),
    frost(AlertKind.FROST),
    change(AlertKind.RAPID_CHANGE),
    /** rolling skill of the verified forecasts below the threshold over `within` (model drift) */
    skill(AlertKind.SKILL_DROP);

    private final AlertKind raises;

    Kind(AlertKind raises) {
      this.raises = raises;
    }

    /** The kind of the alerts a rule of this kind raises. */
    public AlertKind raises() {
      return raises;
    }
  }

  public String name;
  public Kind kind;
  /** K for heat and frost; the change in K for change; a skill (1 - MAE / MAE of persistence) for skill. */
  public Double threshold;
  /** change: the time span within which the change must happen; skill: the span of valid times the rolling skill covers. */
  public String within;
  /** A grid id, or "*" for every grid. */
  public String grid = "*";
  /**
   * heat and frost only: fire when the forecast probability of the cell being at or above (heat) or
   * at or below (frost) the threshold is at least this, from the forecast's calibrated quantiles;
   * null: fire on the point forecast (value >= or <= threshold).
   */
  public Double probability;

  public AlertRule() {}

  public AlertRule(String name, Kind kind, double threshold, String within, String grid) {
    this.name = name;
    this.kind = kind;
    this.threshold = threshold;
    this.within = within;
    this.grid = grid;
  }

  public boolean appliesTo(String gridId) {
    return grid == null || "*".equals(grid) || grid.equals(gridId);
  }

  public long withinMillis() {
    return within == null ? 0 : Durations.parse("alerts." + name + ".within", within).toMillis();
  }

  /** Whether this rule fires on a probability (heat or frost with a probability). */
  public boolean onProbability() {
    return probability != null;
  }

  /**
   * Parses the command-line form:
   * name=...,kind=heat|frost|change|skill,threshold=K[,within=6h][,grid=id][,probability=P].
   */
  public static AlertRule parse(String spec) {
    AlertRule r = new AlertRule();
    for (String part : spec.split(",")) {
      String[] kv = part.split("=", 2);
      if (kv.length != 2) {
        throw new ConfigException("--alert '" + spec + "': expected key=value pairs, got '" + part + "'");
      }
      String k = kv[0].trim();
      String v = kv[1].trim();
      switch (k) {
        case "name":
          r.name = v;
          break;
        case "kind":
          try {
            r.kind = Kind.valueOf(v);
          } catch (IllegalArgumentException e) {
            throw new ConfigException("--alert '" + spec + "': kind must be heat, frost, change or skill, got '" + v + "'");
          }
          break;
        case "threshold":
          try {
            r.threshold = Double.parseDouble(v);
          } catch (NumberFormatException e) {
            throw new ConfigException("--alert '" + spec + "': threshold '" + v + "' is not a number");
          }
          break;
        case "within":
          r.within = v;
          break;
        case "grid":
          r.grid = v;
          break;
        case "probability":
          try {
            r.probability = Double.parseDouble(v);
          } catch (NumberFormatException e) {
            throw new ConfigException("--alert '" + spec + "': probability '" + v + "' is not a number (0.8 for 80%)");
          }
          break;
        default:
          throw new ConfigException("--alert '" + spec + "': unknown key '" + k
              + "' (name, kind, threshold, within, grid, probability)");
      }
    }
    if (r.name == null && r.kind != null) {
      r.name = r.kind + "-" + r.threshold + (r.probability == null ? "" : "-p" + r.probability);
    }
    return r;
  }
}

package ai.lsntp.job;

import ai.lsntp.model.ModelSpec;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;
import org.apache.flink.metrics.MetricGroup;

/**
 * What an operator watching many grids needs per grid, as metrics of the inference stage: when
 * the grid's newest forecast was produced and which issue time it had, the grid's step (so an
 * alert can say "silent for three steps"), and which model serves it ({@code serving} is 1 for the
 * model name and version serving the grid now, 0 for one it served before). Groups are key/value
 * groups, so a label-based reporter (Prometheus) shows grid, model and version as labels.
 */
final class GridMetrics {
  private final MetricGroup operator;
  private final Function<String, ModelSpec> servingNow;
  private final Map<String, long[]> grids = new HashMap<>();
  private final Map<String, Boolean> models = new HashMap<>();

  /** @param servingNow the spec serving a grid now (null when none) */
  GridMetrics(MetricGroup operator, Function<String, ModelSpec> servingNow) {
    this.operator = operator;
    this.servingNow = servingNow;
  }

  /** A forecast of {@code spec}'s grid issued at {@code issueTime} left the operator at {@code producedAt}. */
  void forecast(ModelSpec spec, long issueTime, long producedAt) {
    long[] g = grids.get(spec.gridId);
    if (g == null) {
      long[] state = {0, 0, spec.stepMillis};
      g = state;
      grids.put(spec.gridId, state);
      MetricGroup grid = operator.addGroup("grid", spec.gridId);
      grid.gauge("lastForecastProducedAt", () -> state[0]);
      grid.gauge("lastForecastIssueTime", () -> state[1]);
      grid.gauge("stepMillis", () -> state[2]);
    }
    g[0] = producedAt;
    g[1] = issueTime;
    g[2] = spec.stepMillis;
    String model = spec.gridId + "\u0000" + spec.name + "\u0000" + spec.version;
    if (models.putIfAbsent(model, Boolean.TRUE) == null) {
      String grid = spec.gridId;
      String name = spec.name;
      String version = spec.version;
      operator.addGroup("grid", grid).addGroup("model", name).addGroup("version", version).gauge("serving", () -> {
        ModelSpec now = servingNow.apply(grid);
        return now != null && now.name.equals(name) && now.version.equals(version) ? 1 : 0;
      });
    }
  }
}

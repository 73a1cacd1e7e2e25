package ai.lsntp.serve;

import ai.lsntp.avro.Forecast;
import ai.lsntp.codec.PackedFloats;
import java.time.Instant;
import java.util.List;

/**
 * One forecast record decoded once for serving: its grid, model, times and beta x height x width
 * kelvin values, and its quantiles (the calibrated intervals' bounds) when it carries them.
 */
public final class ForecastField {
  public final String gridId;
  public final GridGeometry geometry;
  public final String modelName;
  public final String modelVersion;
  public final Instant issueTime;
  public final long stepMillis;
  public final List<Instant> validTimes;
  public final Instant producedAt;
  /** Kelvin, lead-major then row-major, as on the wire. */
  private final float[] values;
  /** The probability level of each quantile plane, increasing; empty when the forecast has no intervals. */
  public final List<Double> quantileLevels;
  /** Kelvin, level-major, then lead-major then row-major, as on the wire. */
  private final float[] quantiles;

  private ForecastField(Forecast f, float[] values, float[] quantiles) {
    this.gridId = f.getGridId();
    this.geometry = GridGeometry.of(f);
    this.modelName = f.getModelName();
    this.modelVersion = f.getModelVersion();
    this.issueTime = f.getIssueTime();
    this.stepMillis = f.getStepMillis();
    this.validTimes = List.copyOf(f.getValidTimes());
    this.producedAt = f.getProducedAt();
    this.values = values;
    this.quantileLevels = quantiles.length == 0 ? List.of() : List.copyOf(f.getQuantileLevels());
    this.quantiles = quantiles;
  }

  /** The forecast, or null when its values do not fill beta x height x width or its times are not one per lead. */
  public static ForecastField of(Forecast f) {
    if (f.getHeight() <= 0 || f.getWidth() <= 0 || f.getBeta() <= 0 || f.getValidTimes().size() != f.getBeta()
        || !"K".equals(f.getUnits())) {
      return null;
    }
    float[] v;
    try {
      v = PackedFloats.decode(f.getValues());
    } catch (IllegalArgumentException e) {
      return null;
    }
    long n = (long) f.getBeta() * f.getHeight() * f.getWidth();
    if (v.length != n) {
      return null;
    }
    // quantiles that do not fill their planes are left out rather than the forecast: the point
    // forecast is still right
    float[] q = new float[0];
    List<Double> levels = f.getQuantileLevels();
    if (levels != null && !levels.isEmpty() && f.getQuantiles() != null) {
      try {
        float[] read = PackedFloats.decode(f.getQuantiles());
        q = read.length == levels.size() * n ? read : q;
      } catch (IllegalArgumentException e) {
        q = new float[0];
      }
    }
    return new ForecastField(f, v, q);
  }

  public int leads() {
    return validTimes.size();
  }

  /** Lead {@code lead} (0-based) at cell (row, col), K. */
  public float value(int lead, int row, int col) {
    return values[lead * geometry.cells() + row * geometry.width() + col];
  }

  /** Quantile plane {@code level} (an index into {@link #quantileLevels}) of every lead at {@code p}, as {@link #at}. */
  public double[] quantileAt(int level, GridGeometry.Position p) {
    double[] out = new double[leads()];
    for (int l = 0; l < out.length; l++) {
      out[l] = geometry.at(quantiles, (level * leads() + l) * geometry.cells(), p);
    }
    return out;
  }

  /** Every lead at {@code p}, bilinearly interpolated, K (NaN where no surrounding cell is valid). */
  public double[] at(GridGeometry.Position p) {
    double[] out = new double[leads()];
    for (int l = 0; l < out.length; l++) {
      out[l] = geometry.at(values, l * geometry.cells(), p);
    }
    return out;
  }
}

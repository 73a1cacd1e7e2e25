package ai.lsntp.model;

import ai.lsntp.calibration.Calibration;
import ai.lsntp.config.ConfigException;
import java.io.Serializable;
import java.util.Map;

/**
 * What the job needs to know about one exported LS-NTP model, read from its ONNX metadata. The
 * runtime checks frames and windows against it.
 */
public final class ModelSpec implements Serializable {
  private static final long serialVersionUID = 1L;

  public static final String[] REQUIRED_KEYS = {
    "model_name", "model_version", "grid_id", "alpha", "beta", "step_hours", "grid_height",
    "grid_width", "grid_lat0", "grid_lon0", "grid_dlat", "grid_dlon", "units", "training_period",
    "validation_metrics", "weights_sha256", "architecture"
  };

  public final String path;
  public final String name;
  public final String version;
  public final String gridId;
  public final int alpha;
  public final int beta;
  public final long stepMillis;
  public final int height;
  public final int width;
  public final double lat0;
  public final double lon0;
  public final double dlat;
  public final double dlon;
  public final String units;
  public final String weightsSha256;
  /** Where its grids' intervals start: its export-time calibration, or a fallback where it carries none. */
  public final Calibration calibration;

  /** A spec put together by hand (tests): the fallback calibration (1 K per lead, Gaussian multipliers). */
  public ModelSpec(
      String path, String name, String version, String gridId, int alpha, int beta,
      long stepMillis, int height, int width, double lat0, double lon0, double dlat, double dlon,
      String units, String weightsSha256) {
    this(path, name, version, gridId, alpha, beta, stepMillis, height, width, lat0, lon0, dlat, dlon, units,
        weightsSha256, Calibration.fallback(null, weightsSha256, beta, height * width));
  }

  public ModelSpec(
      String path, String name, String version, String gridId, int alpha, int beta,
      long stepMillis, int height, int width, double lat0, double lon0, double dlat, double dlon,
      String units, String weightsSha256, Calibration calibration) {
    this.path = path;
    this.name = name;
    this.version = version;
    this.gridId = gridId;
    this.alpha = alpha;
    this.beta = beta;
    this.stepMillis = stepMillis;
    this.height = height;
    this.width = width;
    this.lat0 = lat0;
    this.lon0 = lon0;
    this.dlat = dlat;
    this.dlon = dlon;
    this.units = units;
    this.weightsSha256 = weightsSha256;
    this.calibration = calibration;
  }

  /** The same model serving another grid id (benchmarks: one model under many grid ids). */
  public ModelSpec forGrid(String otherGridId) {
    return new ModelSpec(path, name, version, otherGridId, alpha, beta, stepMillis, height, width, lat0, lon0, dlat, dlon,
        units, weightsSha256, calibration);
  }

  /**
   * Reads a spec from a model's custom metadata; a missing or malformed key names the file and key.
   * Its calibration ({@value Calibration#METADATA_KEY}) must fit it (Calibration#parse); a model
   * without one gets the fallback calibration.
   */
  public static ModelSpec fromMetadata(String path, Map<String, String> md) {
    for (String k : REQUIRED_KEYS) {
      if (!md.containsKey(k) || md.get(k) == null || md.get(k).isBlank()) {
        throw new ConfigException("model " + path + ": metadata key '" + k + "' is missing");
      }
    }
    double stepHours = num(path, md, "step_hours");
    int alpha = (int) integer(path, md, "alpha");
    int beta = (int) integer(path, md, "beta");
    int height = (int) integer(path, md, "grid_height");
    int width = (int) integer(path, md, "grid_width");
    long stepMillis = Math.round(stepHours * 3_600_000d);
    if (alpha < 1 || beta < 1 || height < 1 || width < 1 || stepMillis <= 0) {
      throw new ConfigException("model " + path + ": alpha, beta, grid size and step must be positive: alpha=" + alpha
          + " beta=" + beta + " " + height + "x" + width + " step=" + stepHours + "h");
    }
    if (!"K".equals(md.get("units"))) {
      throw new ConfigException("model " + path + ": units '" + md.get("units") + "' are not K");
    }
    String weights = md.get("weights_sha256");
    String calibration = md.get(Calibration.METADATA_KEY);
    Calibration c;
    if (calibration == null || calibration.isBlank()) {
      c = Calibration.fallback(md.get("validation_metrics"), weights, beta, height * width);
    } else {
      try {
        c = Calibration.parse(calibration, weights, beta, height * width);
      } catch (IllegalArgumentException e) {
        throw new ConfigException("model " + path + ": metadata '" + Calibration.METADATA_KEY + "': " + e.getMessage(), e);
      }
    }
    return new ModelSpec(path, md.get("model_name"), md.get("model_version"), md.get("grid_id"), alpha, beta, stepMillis,
        height, width, num(path, md, "grid_lat0"), num(path, md, "grid_lon0"), num(path, md, "grid_dlat"),
        num(path, md, "grid_dlon"), md.get("units"), weights, c);
  }

  public int cells() {
    return height * width;
  }

  public double latOf(int row) {
    return lat0 + row * dlat;
  }

  public double lonOf(int col) {
    return lon0 + col * dlon;
  }

  private static double num(String path, Map<String, String> md, String key) {
    try {
      return Double.parseDouble(md.get(key).trim());
    } catch (NumberFormatException e) {
      throw new ConfigException("model " + path + ": metadata '" + key + "' = '" + md.get(key) + "' is not a number");
    }
  }

  private static long integer(String path, Map<String, String> md, String key) {
    double d = num(path, md, key);
    if (d != Math.rint(d)) {
      throw new ConfigException("model " + path + ": metadata '" + key + "' = '" + md.get(key) + "' is not an integer");
    }
    return (long) d;
  }

  @Override
  public String toString() {
    return name + " v" + version + " grid=" + gridId + " alpha=" + alpha + " beta=" + beta
        + " step=" + stepMillis / 1000 + "s " + height + "x" + width + " (" + path + ")";
  }
}

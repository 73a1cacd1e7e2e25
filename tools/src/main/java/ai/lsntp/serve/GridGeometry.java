package ai.lsntp.serve;

import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.TemperatureFrame;

/**
 * Where a grid's cells are, as its records say: {@code height} rows from {@code lat0} in steps of
 * {@code dlat} (negative when rows run north to south), {@code width} columns from {@code lon0} in
 * steps of {@code dlon}. Values sit at the cell centres; a point is on the grid when it lies within
 * the centres (a point between the outermost centres and the grid's edge is not: nothing there to
 * interpolate between).
 */
public record GridGeometry(int height, int width, double lat0, double lon0, double dlat, double dlon) {
  /** Slack for a point exactly on the outermost centres, given in decimal degrees. */
  private static final double EPS = 1e-9;

  public static GridGeometry of(Forecast f) {
    return new GridGeometry(f.getHeight(), f.getWidth(), f.getLat0(), f.getLon0(), f.getDlat(), f.getDlon());
  }

  public static GridGeometry of(TemperatureFrame f) {
    return new GridGeometry(f.getHeight(), f.getWidth(), f.getLat0(), f.getLon0(), f.getDlat(), f.getDlon());
  }

  public int cells() {
    return height * width;
  }

  public double latMin() {
    return Math.min(lat0, lat0 + (height - 1) * dlat);
  }

  public double latMax() {
    return Math.max(lat0, lat0 + (height - 1) * dlat);
  }

  public double lonMin() {
    return Math.min(lon0, lon0 + (width - 1) * dlon);
  }

  public double lonMax() {
    return Math.max(lon0, lon0 + (width - 1) * dlon);
  }

  /** A point in cell units: fractional row and column (0 .. height-1, 0 .. width-1). */
  public record Position(double row, double col) {}

  /**
   * The point as fractional row and column, or null when no four cell centres surround it. The
   * longitude is taken modulo 360 into the grid's own range, so -100 finds a grid that runs 200..330
   * and 350 one that runs -10..2.
   */
  public Position locate(double lat, double lon) {
    double row = (lat - lat0) / dlat;
    double lonIn = lonMin() + mod360(lon - lonMin());
    if (lonIn > lonMax() + EPS && mod360(lon - lonMin()) > 360 - EPS) {
      lonIn -= 360; // a hair west of the first centre that the modulo sent round the globe
    }
    double col = (lonIn - lon0) / dlon;
    double rowEps = EPS / Math.abs(dlat);
    double colEps = EPS / Math.abs(dlon);
    if (row < -rowEps || row > height - 1 + rowEps || col < -colEps || col > width - 1 + colEps) {
      return null;
    }
    return new Position(clamp(row, height - 1), clamp(col, width - 1));
  }

  /** {@code values[offset ..]} (one height x width field, row-major) at {@code p}: see {@link #interpolate}. */
  public double at(float[] values, int offset, Position p) {
    return interpolate(values, offset, height, width, p.row(), p.col());
  }

  /**
   * Bilinear interpolation between the four cell centres around (row, col) of a row-major field.
   * A NaN corner (a missing cell) is left out and the other corners' weights renormalised; NaN
   * when no corner with a weight is valid (e.g. the point is exactly on a missing cell).
   */
  static double interpolate(float[] v, int offset, int height, int width, double row, double col) {
    int r0 = Math.min((int) Math.floor(row), Math.max(0, height - 2));
    int c0 = Math.min((int) Math.floor(col), Math.max(0, width - 2));
    int r1 = Math.min(r0 + 1, height - 1);
    int c1 = Math.min(c0 + 1, width - 1);
    double fr = row - r0;
    double fc = col - c0;
    double[] w = {(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc};
    float[] x = {v[offset + r0 * width + c0], v[offset + r0 * width + c1], v[offset + r1 * width + c0],
        v[offset + r1 * width + c1]};
    double sum = 0;
    double weights = 0;
    for (int i = 0; i < 4; i++) {
      if (w[i] > 0 && !Float.isNaN(x[i])) {
        sum += w[i] * x[i];
        weights += w[i];
      }
    }
    return weights > 0 ? sum / weights : Double.NaN;
  }

  private static double mod360(double x) {
    double m = x % 360;
    return m < 0 ? m + 360 : m;
  }

  private static double clamp(double x, int max) {
    return Math.max(0, Math.min(max, x));
  }
}

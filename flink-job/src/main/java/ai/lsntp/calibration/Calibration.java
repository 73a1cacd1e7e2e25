package ai.lsntp.calibration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Locale;

/**
 * A model's export-time calibration: where a grid's intervals start (model-export's
 * lsntp/calibration.py writes it into the model's ONNX metadata under {@value #METADATA_KEY}, as
 * JSON; flink-job/README.md, "Intervals", says what each part means). Per lead and cell the scale
 * (the validation part's mean absolute error, K) and its floor per lead; per lead and level of the
 * ladder {@link #levels} the starting multiplier q of the scale; the tracking step {@link #eta} and
 * the scale's rate; and what the offline baselines need ({@link #staticHalfwidth},
 * {@link #persistenceErrors}). Immutable once made (public fields only so that Flink serialises it
 * as a POJO beside the forecast that needs it).
 *
 * <p>A model without one (exported before calibrations existed, or the zoo's) gets a fallback
 * ({@link #fallback}): the scale is its validation MAE per lead from {@code validation_metrics}
 * (1 K where there is none), q the Gaussian one (|e| / MAE of a normal error at each level),
 * {@link #FALLBACK_ETA}; its basis says so.
 */
public class Calibration implements Serializable {
  private static final long serialVersionUID = 1L;
  public static final String METADATA_KEY = "calibration";
  public static final String METHOD = "conformal-quantile-tracking/1";
  /** The configured levels must lie in this range, and a model's ladder must span it. */
  public static final double MIN_LEVEL = 0.5;
  public static final double MAX_LEVEL = 0.99;
  static final double[] FALLBACK_LEVELS = {0.5, 0.8, 0.9, 0.95, 0.98, 0.99};
  /** Standard normal quantiles at (1 + l) / 2 of {@link #FALLBACK_LEVELS}. */
  private static final double[] NORMAL_Z = {0.6744897502, 1.2815515655, 1.6448536270, 1.9599639845, 2.3263478740,
      2.5758293035};
  public static final double FALLBACK_ETA = 0.05;
  private static final ObjectMapper JSON = new ObjectMapper();

  public String method;
  /** "weights/calibration", 12 hex digits of each SHA-256 ("weights/fallback" for a fallback). */
  public String basis;
  public boolean fallback;
  public int beta;
  /** The ladder of central levels q is given at, increasing. */
  public double[] levels;
  /** beta * levels.length multipliers, lead-major. */
  public double[] q;
  /** beta * cells, K. */
  public float[] scale;
  /** Per lead, the least the scale may fall to, K. */
  public double[] floor;
  public double eta;
  public double scaleRate;
  /** What it was fitted on, for people (e.g. "validation 2019-03-17T00:00Z/2019-03-19T23:00Z, 61 windows"). */
  public String fittedOn;
  /** The baselines' levels (central), increasing; empty when the calibration has no references. */
  public double[] referenceLevels = new double[0];
  /** beta * referenceLevels.length: the point forecast's fixed half-width per lead and level, K. */
  public double[] staticHalfwidth = new double[0];
  /** Quantile levels of {@link #persistenceErrors}, increasing, the median among them. */
  public double[] persistenceTaus = new double[0];
  /** beta * persistenceTaus.length: persistence's empirical error quantiles (observed - persistence), K. */
  public double[] persistenceErrors = new double[0];

  public Calibration() {}

  /**
   * Reads the JSON of a model's {@value #METADATA_KEY} metadata and checks it against the model:
   * method, a ladder of levels spanning {@link #MIN_LEVEL}..{@link #MAX_LEVEL}, q for every lead
   * and level, a positive finite scale for every lead and cell, the weights it was fitted for.
   *
   * @throws IllegalArgumentException naming what is wrong
   */
  public static Calibration parse(String json, String weightsSha256, int beta, int cells) {
    JsonNode d;
    try {
      d = JSON.readTree(json);
    } catch (IOException e) {
      throw new IllegalArgumentException("not JSON: " + e.getMessage());
    }
    if (d == null || !d.isObject()) {
      throw new IllegalArgumentException("not a JSON object");
    }
    Calibration c = new Calibration();
    c.method = text(d, "method");
    if (!METHOD.equals(c.method)) {
      throw new IllegalArgumentException("method '" + c.method + "' is not " + METHOD);
    }
    String weights = text(d, "weights_sha256");
    if (!weights.equals(weightsSha256)) {
      throw new IllegalArgumentException("it was fitted for weights " + abbreviate(weights) + ", the model's are "
          + abbreviate(weightsSha256));
    }
    c.beta = beta;
    c.levels = numbers(d, "levels", -1);
    checkLadder("levels", c.levels, true);
    JsonNode q = d.get("q");
    if (q == null || !q.isArray() || q.size() != beta) {
      throw new IllegalArgumentException("q must hold one row per lead (" + beta + ")");
    }
    c.q = new double[beta * c.levels.length];
    for (int lead = 0; lead < beta; lead++) {
      double[] row = numbers(q.get(lead), "q[" + lead + "]", c.levels.length);
      for (int j = 0; j < row.length; j++) {
        if (!(row[j] >= 0)) {
          throw new IllegalArgumentException("q[" + lead + "][" + j + "] = " + row[j] + " is not a finite number >= 0");
        }
      }
      System.arraycopy(row, 0, c.q, lead * c.levels.length, row.length);
    }
    byte[] bytes;
    try {
      bytes = Base64.getDecoder().decode(text(d, "scale"));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("scale is not base64: " + e.getMessage());
    }
    if (bytes.length != 4L * beta * cells) {
      throw new IllegalArgumentException("scale holds " + bytes.length / 4 + " values, the grid needs beta x cells = "
          + beta + " x " + cells);
    }
    c.scale = new float[beta * cells];
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(c.scale);
    for (int i = 0; i < c.scale.length; i++) {
      if (!(c.scale[i] > 0) || Float.isInfinite(c.scale[i])) {
        throw new IllegalArgumentException("scale at lead " + (i / cells + 1) + ", cell " + i % cells + " is "
            + c.scale[i] + ", not a finite number > 0");
      }
    }
    c.floor = numbers(d, "scale_floor", beta);
    for (double f : c.floor) {
      if (!(f > 0)) {
        throw new IllegalArgumentException("scale_floor " + f + " is not > 0");
      }
    }
    c.eta = number(d, "eta");
    c.scaleRate = number(d, "scale_rate");
    if (!(c.eta > 0) || !(c.scaleRate >= 0 && c.scaleRate < 1)) {
      throw new IllegalArgumentException("eta must be > 0 and scale_rate in [0, 1), got " + c.eta + " and " + c.scaleRate);
    }
    JsonNode on = d.get("fitted_on");
    c.fittedOn = on == null ? "" : on.path("split").asText("") + " " + on.path("period").asText("") + ", "
        + on.path("windows").asInt() + " windows";
    JsonNode ref = d.get("references");
    if (ref != null && ref.isObject() && ref.size() > 0) {
      c.referenceLevels = numbers(ref, "levels", -1);
      checkLadder("references.levels", c.referenceLevels, false);
      c.staticHalfwidth = rows(ref, "static_halfwidth", beta, c.referenceLevels.length);
      c.persistenceTaus = numbers(ref, "persistence_taus", -1);
      c.persistenceErrors = rows(ref, "persistence_error_quantiles", beta, c.persistenceTaus.length);
    }
    c.basis = abbreviate(weightsSha256) + "/" + abbreviate(sha256(json));
    c.fallback = false;
    return c;
  }

  /**
   * The calibration of a model that carries none: scale = its validation MAE per lead (the
   * {@code mae_per_lead} of {@code validation_metrics}, 1 K where that is missing), q = the
   * Gaussian multipliers, eta {@link #FALLBACK_ETA}, the scale fixed.
   */
  public static Calibration fallback(String validationMetrics, String weightsSha256, int beta, int cells) {
    double[] mae = new double[beta];
    java.util.Arrays.fill(mae, 1.0);
    try {
      JsonNode m = validationMetrics == null ? null : JSON.readTree(validationMetrics).get("mae_per_lead");
      if (m != null && m.isArray() && m.size() == beta) {
        for (int i = 0; i < beta; i++) {
          double v = m.get(i).asDouble(Double.NaN);
          if (v > 0 && !Double.isInfinite(v)) {
            mae[i] = v;
          }
        }
      }
    } catch (IOException e) {
      // not JSON: 1 K per lead
    }
    Calibration c = new Calibration();
    c.method = METHOD;
    c.fallback = true;
    c.basis = abbreviate(weightsSha256) + "/fallback";
    c.beta = beta;
    c.levels = FALLBACK_LEVELS.clone();
    c.q = new double[beta * c.levels.length];
    c.scale = new float[beta * cells];
    c.floor = new double[beta];
    for (int lead = 0; lead < beta; lead++) {
      for (int j = 0; j < c.levels.length; j++) {
        c.q[lead * c.levels.length + j] = NORMAL_Z[j] * Math.sqrt(Math.PI / 2); // |e| / MAE of a normal error
      }
      java.util.Arrays.fill(c.scale, lead * cells, (lead + 1) * cells, (float) mae[lead]);
      c.floor[lead] = 0.1 * mae[lead];
    }
    c.eta = FALLBACK_ETA;
    c.scaleRate = 0;
    c.fittedOn = "none (fallback from the validation MAE per lead)";
    return c;
  }

  /** The starting multipliers at {@code at} (levels within the ladder), linear in the level between ladder levels: beta * at.length. */
  public double[] initialQ(double[] at) {
    int n = levels.length;
    double[] out = new double[beta * at.length];
    for (int j = 0; j < at.length; j++) {
      double l = at[j];
      if (!(l >= levels[0] && l <= levels[n - 1])) {
        throw new IllegalArgumentException("level " + l + " is outside the calibrated levels " + levels[0] + ".." + levels[n - 1]);
      }
      int k = 0;
      while (k < n - 2 && l > levels[k + 1]) {
        k++;
      }
      double w = n == 1 ? 0 : (l - levels[k]) / (levels[k + 1] - levels[k]);
      for (int lead = 0; lead < beta; lead++) {
        double a = q[lead * n + k];
        double b = n == 1 ? a : q[lead * n + k + 1];
        out[lead * at.length + j] = a + w * (b - a);
      }
    }
    return out;
  }

  /** One line for a log or an event. */
  public String describe() {
    return String.format(Locale.ROOT, "%s %s, eta %s, scale rate %s, fitted on %s", method, basis, eta, scaleRate, fittedOn);
  }

  private static void checkLadder(String what, double[] ls, boolean spanning) {
    for (int i = 0; i < ls.length; i++) {
      if (!(ls[i] > 0 && ls[i] < 1) || (i > 0 && !(ls[i] > ls[i - 1]))) {
        throw new IllegalArgumentException(what + " must increase strictly within (0, 1)");
      }
    }
    if (ls.length == 0 || (spanning && (ls[0] > MIN_LEVEL || ls[ls.length - 1] < MAX_LEVEL))) {
      throw new IllegalArgumentException(what + " must span " + MIN_LEVEL + ".." + MAX_LEVEL);
    }
  }

  private static String text(JsonNode d, String key) {
    JsonNode n = d.get(key);
    if (n == null || !n.isTextual()) {
      throw new IllegalArgumentException("'" + key + "' is missing or not a string");
    }
    return n.asText();
  }

  private static double number(JsonNode d, String key) {
    JsonNode n = d.get(key);
    if (n == null || !n.isNumber()) {
      throw new IllegalArgumentException("'" + key + "' is missing or not a number");
    }
    return n.asDouble();
  }

  /** An array of finite numbers under {@code key} of {@code d} (or {@code d} itself when it is the array), of {@code size} when >= 0. */
  private static double[] numbers(JsonNode d, String key, int size) {
    JsonNode n = d.isArray() ? d : d.get(key);
    if (n == null || !n.isArray() || (size >= 0 && n.size() != size)) {
      throw new IllegalArgumentException("'" + key + "' must be an array" + (size >= 0 ? " of " + size + " numbers" : ""));
    }
    double[] out = new double[n.size()];
    for (int i = 0; i < out.length; i++) {
      if (!n.get(i).isNumber() || !Double.isFinite(n.get(i).asDouble())) {
        throw new IllegalArgumentException("'" + key + "'[" + i + "] is not a finite number");
      }
      out[i] = n.get(i).asDouble();
    }
    return out;
  }

  private static double[] rows(JsonNode d, String key, int rows, int cols) {
    JsonNode n = d.get(key);
    if (n == null || !n.isArray() || n.size() != rows) {
      throw new IllegalArgumentException("'" + key + "' must hold one row per lead (" + rows + ")");
    }
    double[] out = new double[rows * cols];
    for (int r = 0; r < rows; r++) {
      System.arraycopy(numbers(n.get(r), key + "[" + r + "]", cols), 0, out, r * cols, cols);
    }
    return out;
  }

  static String abbreviate(String hex) {
    return hex == null ? "none" : hex.substring(0, Math.min(12, hex.length()));
  }

  static String sha256(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}

package ai.lsntp.calibration;

/**
 * One grid's calibration as the job keeps it in keyed state (checkpointed, restored after a crash):
 * per lead and configured level the multiplier q, per lead and cell the scale, and the settings
 * and basis it started from. A POJO, so Flink's POJO serializer writes it and later versions may
 * add fields. {@link Calibrator} reads and moves it.
 */
public class CalibrationState {
  /** The export-time calibration it started from ({@link Calibration#basis}). */
  public String basis;
  public String method;
  /** The configured central levels, increasing. */
  public double[] levels;
  public int beta;
  public int cells;
  /** beta * levels.length, lead-major: the multipliers as tracked (may dip below 0; the intervals use max(0, q)). */
  public double[] q;
  /** beta * cells, K. */
  public float[] scale;
  /** Per lead, K. */
  public double[] floor;
  public double eta;
  public double scaleRate;
  /** Issue time of the forecast at which it (re)started from its basis. */
  public long since;
  /** Verified forecast leads folded in since. */
  public long updates;

  public CalibrationState() {}

  /** Bytes this state takes (its arrays; strings and scalars add under 200). */
  public long sizeBytes() {
    return 8L * (levels.length + q.length + floor.length) + 4L * scale.length;
  }
}

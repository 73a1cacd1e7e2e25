package ai.lsntp.calibration;

import java.util.HashMap;
import java.util.Map;
import java.util.function.LongFunction;

/**
 * A grid's calibration run offline over forecasts in order of issue time, as the job runs it
 * (ai.lsntp.job.ForecastVerifier): before each forecast's intervals are made, every lead verified at
 * or before its issue time is folded in, in order of valid time then lead. ./lsntp score replays a
 * frames file through it; tests use it as the reference of an uninterrupted run.
 */
public final class CalibrationReplay {
  /** One observed frame: its values (missing cells filled) and its missing cells (null: none). */
  public record Observed(float[] values, boolean[] missing) {}

  private final CalibrationState state;
  private final long stepMillis;
  private final LongFunction<Observed> observed;
  private final Map<Long, float[][]> issued = new HashMap<>(); // issue time -> {point, quantiles}
  private long foldedThrough = Long.MIN_VALUE;

  /**
   * @param start the issue time of the first forecast (the state's start)
   * @param observed the frame observed at a valid time, or null where there is none
   */
  public CalibrationReplay(Calibration calibration, double[] levels, long stepMillis, long start,
      LongFunction<Observed> observed) {
    this.state = Calibrator.start(calibration, levels, start);
    this.stepMillis = stepMillis;
    this.observed = observed;
  }

  /** The quantiles of the forecast issued at {@code issue} (issue times increasing); remembered for the leads they verify later. */
  public float[] forecast(long issue, float[] point) {
    long from = foldedThrough == Long.MIN_VALUE ? issue : foldedThrough + stepMillis;
    for (long v = from; v <= issue; v += stepMillis) {
      Observed obs = observed.apply(v);
      for (int lead = 1; lead <= state.beta && obs != null; lead++) {
        float[][] f = issued.get(v - lead * stepMillis);
        if (f != null) {
          Calibrator.update(state, lead, f[0], f[1], obs.values(), obs.missing());
        }
      }
    }
    foldedThrough = Math.max(foldedThrough, issue);
    issued.keySet().removeIf(t -> t + state.beta * stepMillis < issue);
    float[] q = Calibrator.quantiles(state, point);
    issued.put(issue, new float[][] {point, q});
    return q;
  }

  /** The state as it stands (tests compare it with the job's). */
  public CalibrationState state() {
    return state;
  }
}

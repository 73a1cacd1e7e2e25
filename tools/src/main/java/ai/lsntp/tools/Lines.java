package ai.lsntp.tools;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.codec.PackedFloats;
import java.util.Locale;

/** The one line format of forecasts, alerts and rejects: watch, the demo and the benchmark print these. */
public final class Lines {
  private Lines() {}

  public static String forecast(Forecast f) {
    float[] v = PackedFloats.decode(f.getValues());
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    double sum = 0;
    long n = 0;
    for (float x : v) {
      if (!Float.isNaN(x)) {
        min = Math.min(min, x);
        max = Math.max(max, x);
        sum += x;
        n++;
      }
    }
    long first = f.getValidTimes().isEmpty() ? 0 : f.getValidTimes().get(0).toEpochMilli() - f.getIssueTime().toEpochMilli();
    long last = f.getValidTimes().isEmpty() ? 0
        : f.getValidTimes().get(f.getValidTimes().size() - 1).toEpochMilli() - f.getIssueTime().toEpochMilli();
    return String.format(Locale.ROOT,
        "FORECAST %s issued %s  %d leads %s..%s  %dx%d  min %.1f K  mean %.1f K  max %.1f K  model %s %s%s",
        f.getGridId(), Stamp.readable(f.getIssueTime()), f.getBeta(), Stamp.lead(first), Stamp.lead(last),
        f.getHeight(), f.getWidth(), min, n > 0 ? sum / n : Double.NaN, max, f.getModelName(), f.getModelVersion(),
        intervals(f));
  }

  /**
   * The widest interval's mean half-width at the first and the last lead, e.g. "  95% +-0.5..2.3 K";
   * empty for a forecast without intervals.
   */
  static String intervals(Forecast f) {
    java.util.List<Double> q = f.getQuantileLevels();
    if (q == null || q.isEmpty() || !f.getQuantiles().hasRemaining()) {
      return "";
    }
    float[] v = PackedFloats.decode(f.getQuantiles());
    int plane = v.length / q.size();
    int cells = f.getHeight() * f.getWidth();
    int top = (q.size() - 1) * plane;
    double[] half = new double[2];
    int[] leads = {0, f.getBeta() - 1};
    for (int k = 0; k < 2; k++) {
      double sum = 0;
      for (int c = 0; c < cells; c++) {
        sum += v[top + leads[k] * cells + c] - v[leads[k] * cells + c];
      }
      half[k] = sum / cells / 2;
    }
    double level = q.get(q.size() - 1) - q.get(0);
    return String.format(Locale.ROOT, "  %s +-%.1f..%.1f K", VerificationTable.percent(level), half[0], half[1]);
  }

  public static String alert(Alert a) {
    return String.format(Locale.ROOT,
        "ALERT    %s %s (%s) issued %s  valid %s (lead %d)  cell r%d c%d (%.2f%s, %.2f%s)  value %.2f K  threshold %.2f K%s",
        a.getGridId(), a.getKind(), a.getRule(), Stamp.readable(a.getIssueTime()), Stamp.readable(a.getValidTime()),
        a.getLead(), a.getRow(), a.getCol(), Math.abs(a.getLat()), a.getLat() < 0 ? "S" : "N", Math.abs(a.getLon()),
        a.getLon() < 0 ? "W" : "E", a.getValue(), a.getThreshold(),
        a.getProbability() == null ? "" : String.format(Locale.ROOT, "  probability %.2f", a.getProbability()));
  }

  public static String reject(RejectedFrame r) {
    return String.format(Locale.ROOT, "REJECT   %s %s%s: %s", r.getReasonCode(),
        r.getGridId() == null ? "-" : r.getGridId(),
        r.getValidTime() == null ? "" : " " + Stamp.readable(r.getValidTime()), r.getReason());
  }

  /** An exception as one line: its type and message. */
  public static String cause(Throwable e) {
    return e.getClass().getSimpleName() + ": " + e.getMessage();
  }
}

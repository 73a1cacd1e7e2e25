package ai.lsntp.cli;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.codec.PackedFloats;
import java.time.format.DateTimeFormatter;
import java.time.ZoneOffset;
import java.util.Locale;

/** One line per forecast (per-lead mean/min/max), per alert, per reject. */
public final class Printer {
  private static final DateTimeFormatter T = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm'Z'").withZone(ZoneOffset.UTC);

  private Printer() {}

  public static String forecast(Forecast f, Long latencyMillis) {
    float[] v = PackedFloats.decode(f.getValues());
    int cells = f.getHeight() * f.getWidth();
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "FORECAST %s issued %s", f.getGridId(), T.format(f.getIssueTime())));
    for (int lead = 0; lead < f.getBeta(); lead++) {
      double sum = 0;
      float min = Float.MAX_VALUE;
      float max = -Float.MAX_VALUE;
      for (int i = lead * cells; i < (lead + 1) * cells; i++) {
        sum += v[i];
        min = Math.min(min, v[i]);
        max = Math.max(max, v[i]);
      }
      long hours = (lead + 1) * f.getStepMillis() / 3_600_000L;
      sb.append(String.format(Locale.ROOT, " | +%dh %.1f [%.1f..%.1f]", hours, sum / cells, min, max));
    }
    sb.append(" K");
    if (latencyMillis != null) {
      sb.append(String.format(Locale.ROOT, " (%d ms after its last frame was sent)", latencyMillis));
    }
    return sb.toString();
  }

  public static String alert(Alert a) {
    return String.format(Locale.ROOT, "ALERT    %s %s %s lead +%d valid %s cell (%d,%d) %.2f%s %.2f%s value %.1f K (threshold %.2f)",
        a.getRule(), a.getKind(), a.getGridId(), a.getLead(), T.format(a.getValidTime()), a.getRow(), a.getCol(),
        Math.abs(a.getLat()), a.getLat() < 0 ? "S" : "N", Math.abs(a.getLon()), a.getLon() < 0 ? "W" : "E",
        a.getValue(), a.getThreshold());
  }

  public static String reject(RejectedFrame r) {
    return String.format(Locale.ROOT, "REJECT   %s %s: %s", r.getReasonCode(),
        r.getGridId() == null ? "-" : r.getGridId(), r.getReason());
  }
}

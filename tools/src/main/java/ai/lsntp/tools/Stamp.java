package ai.lsntp.tools;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/** Time stamps for file names and lines. */
final class Stamp {
  private static final DateTimeFormatter COMPACT = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmm'Z'").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter READABLE = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm'Z'").withZone(ZoneOffset.UTC);

  private Stamp() {}

  static String compact(Instant t) {
    return COMPACT.format(t);
  }

  static String readable(Instant t) {
    return READABLE.format(t);
  }

  /** A lead time as +6h, or +90m when it is not a whole number of hours. */
  static String lead(long millis) {
    long m = millis / 60000;
    if (m % 60 != 0) {
      return "+" + m + "m";
    }
    return "+" + (m / 60) + "h";
  }

  /** A span as 24h, 90m or 3d (days from two on). */
  static String span(java.time.Duration d) {
    long m = d.toMinutes();
    if (m % (24 * 60) == 0 && m >= 48 * 60) {
      return m / (24 * 60) + "d";
    }
    return m % 60 == 0 ? m / 60 + "h" : m + "m";
  }
}

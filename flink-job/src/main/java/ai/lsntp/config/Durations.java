package ai.lsntp.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses durations written as 250ms, 30s, 10m, 1h, 2d or ISO-8601 (PT1H). */
public final class Durations {
  private static final Pattern SHORT = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");

  private Durations() {}

  public static Duration parse(String key, String text) {
    if (text == null || text.isBlank()) {
      throw new ConfigException(key + ": a duration is required (e.g. 30s, 10m, 1h)");
    }
    String t = text.trim();
    Matcher m = SHORT.matcher(t);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      switch (m.group(2)) {
        case "ms":
          return Duration.ofMillis(n);
        case "s":
          return Duration.ofSeconds(n);
        case "m":
          return Duration.ofMinutes(n);
        case "h":
          return Duration.ofHours(n);
        default:
          return Duration.ofDays(n);
      }
    }
    try {
      return Duration.parse(t);
    } catch (RuntimeException e) {
      throw new ConfigException(
          key + ": '" + text + "' is not a duration (use e.g. 250ms, 30s, 10m, 1h, 2d or PT1H)");
    }
  }
}

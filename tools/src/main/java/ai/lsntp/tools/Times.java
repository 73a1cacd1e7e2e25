package ai.lsntp.tools;

import ai.lsntp.config.ConfigException;
import ai.lsntp.config.Durations;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;

/** Command-line times (UTC) and durations with errors that name the option. */
public final class Times {
  private Times() {}

  static Instant parse(String option, String text) {
    try {
      return OffsetDateTime.parse(text).toInstant();
    } catch (DateTimeParseException e) {
      // no offset: UTC
    }
    try {
      return LocalDateTime.parse(text).toInstant(ZoneOffset.UTC);
    } catch (DateTimeParseException e) {
      // maybe a date only
    }
    try {
      return java.time.LocalDate.parse(text).atStartOfDay().toInstant(ZoneOffset.UTC);
    } catch (DateTimeParseException e) {
      throw ToolException.input(option + ": '" + text + "' is not an ISO-8601 time (e.g. 2019-03-20T00:00Z)");
    }
  }

  public static Duration duration(String option, String text) {
    try {
      Duration d = Durations.parse(option, text);
      if (d.isNegative() || d.isZero()) {
        throw ToolException.input(option + ": must be positive, got " + text);
      }
      return d;
    } catch (ConfigException e) {
      throw ToolException.input(e.getMessage());
    }
  }
}

package ai.lsntp.serve;

import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The point-forecast API in Open-Meteo's shape: {@code /v1/forecast?latitude=..&longitude=..}
 * answers the 2 m temperature of every lead of the newest forecast of the grid that covers the
 * point, bilinearly interpolated between the four surrounding cell centres, in °C; {@code
 * /v1/grids} lists what is served. Errors are {@code {"error": true, "reason": ...}} as
 * Open-Meteo's, with the parameter at fault.
 */
final class PointApi {
  /** Open-Meteo's hourly.time: ISO 8601 local time to the minute, here always GMT. */
  private static final DateTimeFormatter HOURLY_TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm", Locale.ROOT).withZone(ZoneOffset.UTC);
  /** A plain decimal number: no exponent, no NaN or Infinity, no hexadecimal or type suffix as Java would read. */
  private static final Pattern DECIMAL = Pattern.compile("[+-]?(\\d{1,12}(\\.\\d{0,15})?|\\.\\d{1,15})");
  static final String VARIABLE = "temperature_2m";

  private final LiveState state;

  PointApi(LiveState state) {
    this.state = state;
  }

  /**
   * The answer to /v1/forecast with this raw (still percent-encoded) query string, as JSON bytes;
   * an {@link ApiError} when the request cannot be answered.
   */
  byte[] forecast(String rawQuery) {
    long started = System.nanoTime();
    Map<String, List<String>> query = query(rawQuery);
    Function<String, List<String>> param = query::get;
    double lat = number(param, "latitude", -90, 90);
    double lon = number(param, "longitude", -180, 360);
    List<String> hourly = param.apply("hourly");
    if (hourly != null) {
      for (String h : hourly) {
        for (String v : h.split(",", -1)) {
          if (!VARIABLE.equals(v.trim()) && !v.trim().matches(VARIABLE + "_p\\d+(_\\d+)?")) {
            throw ApiError.badParameter("hourly", "names '" + shown(v) + "'; this API serves only " + VARIABLE
                + " and its quantiles (" + VARIABLE + "_p10, ...)");
          }
        }
      }
    }
    List<String> tz = param.apply("timezone");
    if (tz != null && !(tz.size() == 1 && (tz.get(0).equalsIgnoreCase("GMT") || tz.get(0).equalsIgnoreCase("UTC")))) {
      throw ApiError.badParameter("timezone", "must be GMT or UTC (the times are GMT), got '" + shown(String.join(",", tz)) + "'");
    }
    ForecastField best = null;
    GridGeometry.Position at = null;
    for (ForecastField f : state.forecasts()) {
      GridGeometry.Position p = f.geometry.locate(lat, lon);
      if (p != null && (best == null || finer(f, best))) {
        best = f;
        at = p;
      }
    }
    if (best == null) {
      throw new ApiError(404, null, "No grid covers latitude " + lat + ", longitude " + lon + "; " + extents());
    }
    double[] k = best.at(at);
    ForecastField f = best;
    List<double[]> q = new ArrayList<>();
    for (int j = 0; j < f.quantileLevels.size(); j++) {
      q.add(f.quantileAt(j, at));
    }
    return Json.bytes(512, g -> {
      g.writeStartObject();
      g.writeNumberField("latitude", lat);
      g.writeNumberField("longitude", lon);
      g.writeNumberField("utc_offset_seconds", 0);
      g.writeStringField("timezone", "GMT");
      g.writeStringField("timezone_abbreviation", "GMT");
      g.writeStringField("grid", f.gridId);
      g.writeObjectFieldStart("model");
      g.writeStringField("name", f.modelName);
      g.writeStringField("version", f.modelVersion);
      g.writeEndObject();
      g.writeStringField("issued", f.issueTime.toString());
      g.writeObjectFieldStart("hourly_units");
      g.writeStringField("time", "iso8601");
      g.writeStringField(VARIABLE, "°C");
      for (double level : f.quantileLevels) {
        g.writeStringField(quantileName(level), "°C");
      }
      g.writeEndObject();
      g.writeObjectFieldStart("hourly");
      g.writeArrayFieldStart("time");
      for (Instant t : f.validTimes) {
        g.writeString(HOURLY_TIME.format(t));
      }
      g.writeEndArray();
      writeCelsius(g, VARIABLE, k);
      for (int j = 0; j < q.size(); j++) {
        writeCelsius(g, quantileName(f.quantileLevels.get(j)), q.get(j));
      }
      g.writeEndObject();
      g.writeNumberField("generationtime_ms", Math.round((System.nanoTime() - started) / 1e3) / 1e3);
      g.writeEndObject();
    });
  }

  /**
   * The name of a quantile's series, as Open-Meteo names percentiles (its flood API's
   * river_discharge_p25): temperature_2m_p10 for the 10% quantile, temperature_2m_p2_5 for 2.5%.
   */
  static String quantileName(double level) {
    double pct = Math.round(level * 1000) / 10.0;
    String s = pct == Math.rint(pct) ? Long.toString((long) pct) : Double.toString(pct).replace('.', '_');
    return VARIABLE + "_p" + s;
  }

  private static void writeCelsius(JsonGenerator g, String name, double[] kelvin) throws IOException {
    g.writeArrayFieldStart(name);
    for (double x : kelvin) {
      if (Double.isNaN(x)) {
        g.writeNull();
      } else {
        // 1e-4 °C: far below the forecast's error, and plain numbers for the reader
        g.writeNumber(Math.round((x - 273.15) * 1e4) / 1e4);
      }
    }
    g.writeEndArray();
  }

  /** The answer to /v1/grids: every grid with a forecast, its extent, shape, step, model and newest issue time. */
  byte[] grids() {
    return Json.bytes(1024, g -> {
      g.writeStartObject();
      g.writeArrayFieldStart("grids");
      for (ForecastField f : sorted()) {
        GridGeometry geo = f.geometry;
        g.writeStartObject();
        g.writeStringField("grid", f.gridId);
        g.writeNumberField("latitude_min", geo.latMin());
        g.writeNumberField("latitude_max", geo.latMax());
        g.writeNumberField("longitude_min", geo.lonMin());
        g.writeNumberField("longitude_max", geo.lonMax());
        g.writeObjectFieldStart("shape");
        g.writeNumberField("height", geo.height());
        g.writeNumberField("width", geo.width());
        g.writeEndObject();
        g.writeObjectFieldStart("step");
        g.writeNumberField("latitude", geo.dlat());
        g.writeNumberField("longitude", geo.dlon());
        g.writeEndObject();
        g.writeObjectFieldStart("first_cell");
        g.writeNumberField("latitude", geo.lat0());
        g.writeNumberField("longitude", geo.lon0());
        g.writeEndObject();
        g.writeNumberField("leads", f.leads());
        g.writeNumberField("interval_seconds", f.stepMillis / 1000);
        g.writeObjectFieldStart("model");
        g.writeStringField("name", f.modelName);
        g.writeStringField("version", f.modelVersion);
        g.writeEndObject();
        g.writeStringField("issued", f.issueTime.toString());
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeEndObject();
    });
  }

  /** The finer grid wins where grids overlap; between equals, the first by id, so the answer does not flip. */
  private static boolean finer(ForecastField a, ForecastField b) {
    double ca = Math.abs(a.geometry.dlat() * a.geometry.dlon());
    double cb = Math.abs(b.geometry.dlat() * b.geometry.dlon());
    return ca < cb || (ca == cb && a.gridId.compareTo(b.gridId) < 0);
  }

  private List<ForecastField> sorted() {
    List<ForecastField> all = new ArrayList<>(state.forecasts());
    all.sort(Comparator.comparing(f -> f.gridId));
    return all;
  }

  private String extents() {
    List<ForecastField> all = sorted();
    if (all.isEmpty()) {
      return "no forecast has been read yet";
    }
    StringBuilder sb = new StringBuilder("the grids cover:");
    for (ForecastField f : all) {
      GridGeometry g = f.geometry;
      sb.append(String.format(Locale.ROOT, " %s latitude %s..%s, longitude %s..%s;", f.gridId, g.latMin(), g.latMax(),
          g.lonMin(), g.lonMax()));
    }
    sb.setLength(sb.length() - 1);
    return sb.toString();
  }

  /**
   * The query's parameters, each with its values in order. Decoded here rather than by the
   * framework, which drops a parameter it cannot decode: a malformed value must be named, not
   * reported missing.
   */
  static Map<String, List<String>> query(String raw) {
    Map<String, List<String>> out = new HashMap<>();
    if (raw == null || raw.isEmpty()) {
      return out;
    }
    for (String pair : raw.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name = decode(eq < 0 ? pair : pair.substring(0, eq), null);
      String value = eq < 0 ? "" : decode(pair.substring(eq + 1), name);
      out.computeIfAbsent(name, k -> new ArrayList<>(1)).add(value);
    }
    return out;
  }

  private static String decode(String s, String parameter) {
    try {
      return URLDecoder.decode(s, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      if (parameter == null) {
        throw new ApiError(400, null, "The query string is not valid percent-encoding near '" + shown(s) + "'");
      }
      throw ApiError.badParameter(parameter, "is not valid percent-encoding: '" + shown(s) + "'");
    }
  }

  private static double number(Function<String, List<String>> param, String name, double min, double max) {
    List<String> values = param.apply(name);
    if (values == null || values.isEmpty() || values.get(0).isBlank()) {
      throw ApiError.badParameter(name, "is required");
    }
    if (values.size() > 1) {
      throw ApiError.badParameter(name, "is given " + values.size() + " times; give it once");
    }
    String s = values.get(0).trim();
    if (!DECIMAL.matcher(s).matches()) {
      throw ApiError.badParameter(name, "must be a decimal number, got '" + shown(s) + "'");
    }
    double x = Double.parseDouble(s);
    if (x < min || x > max) {
      throw ApiError.badParameter(name, "must be within " + fmt(min) + ".." + fmt(max) + ", got " + s);
    }
    return x;
  }

  private static String fmt(double x) {
    return x == Math.rint(x) ? Long.toString((long) x) : Double.toString(x);
  }

  /** A value as given, cut short: an error message never carries a whole oversized parameter back. */
  private static String shown(String s) {
    return s.length() <= 40 ? s : s.substring(0, 40) + "...";
  }
}

package ai.lsntp.tools;

import ai.lsntp.avro.Forecast;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Writes each forecast as a CF NetCDF file (time = valid time, forecast_period = lead time,
 * forecast_reference_time = issue time) through one long-lived Python helper with xarray and
 * netCDF4 (Debian's python3-xarray, python3-netcdf4): netcdf-java has no current release on Maven
 * Central. The helper script ships inside the jar.
 */
final class ForecastNetcdf implements AutoCloseable {
  private final Path dir;
  private final Path work;
  private final Path log;
  private final Process process;
  private final BufferedWriter toPython;
  private final BufferedReader fromPython;
  private final ObjectMapper json = new ObjectMapper();

  ForecastNetcdf(Path dir, String python) {
    this.dir = dir;
    try {
      Files.createDirectories(dir);
      work = Files.createTempDirectory("lsntp-netcdf-");
      Path script = work.resolve("forecast_netcdf.py");
      try (InputStream in = ForecastNetcdf.class.getResourceAsStream("forecast_netcdf.py")) {
        Files.copy(in, script);
      }
      log = work.resolve("python.log");
      process = new ProcessBuilder(python, script.toString()).redirectError(log.toFile()).start();
    } catch (IOException e) {
      throw ToolException.failure("--netcdf-dir: cannot start the NetCDF writer (" + python + "): " + e.getMessage());
    }
    toPython = new BufferedWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8));
    fromPython = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
  }

  static String fileName(Forecast f) {
    return safe(f.getGridId()) + "_" + Stamp.compact(f.getIssueTime()) + ".nc";
  }

  static String safe(String s) {
    return s.replaceAll("[^A-Za-z0-9._-]", "_");
  }

  /** Writes one forecast; returns its path. A failure of this forecast is a ToolException (the watch goes on). */
  Path write(Forecast f) {
    Path out = dir.resolve(fileName(f)).toAbsolutePath();
    Path values = work.resolve("values.f32");
    try {
      ByteBuffer b = f.getValues().duplicate();
      byte[] raw = new byte[b.remaining()];
      b.get(raw);
      Files.write(values, raw);
      Map<String, Object> req = new LinkedHashMap<>();
      req.put("out", out.toString());
      req.put("values_path", values.toString());
      req.put("grid_id", f.getGridId());
      req.put("model_name", f.getModelName());
      req.put("model_version", f.getModelVersion());
      req.put("beta", f.getBeta());
      req.put("height", f.getHeight());
      req.put("width", f.getWidth());
      req.put("lat0", f.getLat0());
      req.put("lon0", f.getLon0());
      req.put("dlat", f.getDlat());
      req.put("dlon", f.getDlon());
      req.put("units", f.getUnits());
      req.put("issue_time_ms", f.getIssueTime().toEpochMilli());
      List<Long> vt = new ArrayList<>();
      for (Instant i : f.getValidTimes()) {
        vt.add(i.toEpochMilli());
      }
      req.put("valid_times_ms", vt);
      req.put("produced_at", f.getProducedAt().toString());
      toPython.write(json.writeValueAsString(req));
      toPython.newLine();
      toPython.flush();
      String reply = fromPython.readLine();
      if (reply == null) {
        throw ToolException.failure("the NetCDF writer stopped: " + pythonLog());
      }
      if (!reply.startsWith("ok ")) {
        throw new ToolException(1, "NetCDF for " + f.getGridId() + " " + f.getIssueTime() + ": "
            + reply.replaceFirst("^error ", ""));
      }
      return out;
    } catch (IOException e) {
      throw ToolException.failure("the NetCDF writer stopped (" + e.getMessage() + "): " + pythonLog());
    }
  }

  private String pythonLog() {
    try {
      String s = Files.readString(log).strip();
      return s.isEmpty() ? "no message" : s.substring(Math.max(0, s.length() - 800));
    } catch (IOException e) {
      return "no message";
    }
  }

  @Override
  public void close() {
    try {
      toPython.close();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroy();
      }
    } catch (IOException | InterruptedException e) {
      process.destroy();
    }
    try (var s = Files.list(work)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Files.deleteIfExists(p);
      }
      Files.deleteIfExists(work);
    } catch (IOException e) {
      // temporary files only
    }
  }
}

package ai.lsntp.tools;

import ai.lsntp.config.ConfigOptions;
import ai.lsntp.job.KafkaAccessException;
import ai.lsntp.job.KafkaPreflight;
import ai.lsntp.config.UserPaths;
import ai.lsntp.avro.Forecast;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.errors.WakeupException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Subscribes to the forecasts and alerts topics as a read_committed consumer (only output of
 * committed Flink checkpoints) and prints one line per record; optionally writes each forecast
 * as a CF NetCDF file and a PNG map per lead.
 */
@Command(name = "watch", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Print forecasts and alerts as they are committed, one line per record; optionally write NetCDF files and PNG maps.",
    footer = {"", "Examples:",
        "  ./lsntp watch                                  (new records from now on, until Ctrl-C)",
        "  ./lsntp watch --from-beginning --netcdf-dir out/nc --png-dir out/png",
        "  ./lsntp watch --from-beginning --max-records 10 --idle-timeout 30s",
        "", "Exit status: 0 normal end; 1 broker unreachable, topic missing or an output could not be written; 2 bad input."})
public class WatchCommand extends ToolCommand {

  @Mixin ConfigOptions connection = new ConfigOptions();

  @Option(names = "--from-beginning", description = "Read each topic from its beginning (default: only records committed from now on).")
  boolean fromBeginning;

  @Option(names = "--no-alerts", description = "Forecasts only.")
  boolean noAlerts;

  @Option(names = "--no-forecasts", description = "Alerts only.")
  boolean noForecasts;

  @Option(names = "--show-rejects", description = "Also print rejected frames (the dead letters) with their reasons.")
  boolean showRejects;

  @Option(names = "--verification", description = "Read the verification topic and print the rolling table of the "
      + "live forecasts' skill (MAE vs persistence per grid and lead over verification.window) every --table-every "
      + "of valid time and at the end.")
  boolean verification;

  @Option(names = "--table-every", paramLabel = "DURATION", defaultValue = "6h",
      description = "With --verification: print the table each time the verified valid times advance by this much (default ${DEFAULT-VALUE}).")
  String tableEvery;

  @Option(names = "--forecasts-topic", paramLabel = "TOPIC", description = "Forecasts topic (default: topics.forecasts of the configuration).")
  String forecastsTopic;

  @Option(names = "--alerts-topic", paramLabel = "TOPIC", description = "Alerts topic (default: topics.alerts of the configuration).")
  String alertsTopic;

  @Option(names = "--rejects-topic", paramLabel = "TOPIC", description = "Rejects topic (default: topics.rejects of the configuration).")
  String rejectsTopic;

  @Option(names = "--grid", paramLabel = "ID", description = "Only records of these grids (repeatable).")
  List<String> grids = new ArrayList<>();

  @Option(names = "--netcdf-dir", paramLabel = "DIR", description = "Write each forecast as DIR/<grid>_<issue>.nc (CF: time, forecast_period, forecast_reference_time).")
  Path netcdfDir;

  @Option(names = "--png-dir", paramLabel = "DIR", description = "Write a PNG map per forecast lead into DIR.")
  Path pngDir;

  @Option(names = {"--max-records", "--limit"}, paramLabel = "N", description = "Stop after N printed records.")
  Long maxRecords;

  @Option(names = "--idle-timeout", paramLabel = "DURATION", description = "Stop when no record arrived for this long (e.g. 30s).")
  String idleTimeout;

  @Option(names = "--connect-timeout", paramLabel = "DURATION",
      description = "How long to wait for the broker at start (default: kafka.connect-timeout, 15s).")
  String connectTimeout;

  @Option(names = "--group-id", paramLabel = "ID", description = "Consumer group (default: a fresh one per run; offsets are never committed).")
  String groupId;

  @Option(names = "--python", paramLabel = "PATH", defaultValue = "/usr/bin/python3",
      description = "Python with xarray + netCDF4 for --netcdf-dir (default ${DEFAULT-VALUE}).")
  String python;

  /** What the last run printed, with its counts (tests, summary). */
  public LinePrinter printed;
  public long outputFailures;
  public final List<Path> written = new ArrayList<>();
  private volatile TopicWatcher watcher;

  /** Stand-alone entry point (docker-compose, Kubernetes jobs); on a workstation use ./lsntp watch. */
  public static void main(String[] args) {
    launch(new WatchCommand(), args);
  }

  @Override
  protected int run() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (noAlerts && noForecasts && !verification && !showRejects) {
      throw ToolException.input("--no-alerts and --no-forecasts together leave nothing to watch");
    }
    if (maxRecords != null && maxRecords < 1) {
      throw ToolException.input("--max-records: must be at least 1, got " + maxRecords);
    }
    netcdfDir = netcdfDir == null ? null : UserPaths.output(netcdfDir);
    pngDir = pngDir == null ? null : UserPaths.output(pngDir);
    Duration idle = idleTimeout == null ? null : Times.duration("--idle-timeout", idleTimeout);
    Duration connect = connectTimeout == null ? connection.config().connectTimeout()
        : Times.duration("--connect-timeout", connectTimeout);
    String ft = forecastsTopic != null ? forecastsTopic : connection.config().topics.forecasts;
    String at = alertsTopic != null ? alertsTopic : connection.config().topics.alerts;
    String rt = rejectsTopic != null ? rejectsTopic : connection.config().topics.rejects;
    String vt = connection.config().topics.verification;
    long every = Times.duration("--table-every", tableEvery).toMillis();
    List<String> topics = new ArrayList<>();
    if (!noForecasts) {
      topics.add(ft);
    }
    if (!noAlerts) {
      topics.add(at);
    }
    if (showRejects) {
      topics.add(rt);
    }
    if (verification) {
      topics.add(vt);
    }
    checkTopics(topics, connect);

    // Ctrl-C: wake the consumer up and wait for the summary (not for this thread, which then
    // blocks in System.exit while the JVM shuts down)
    java.util.concurrent.CountDownLatch summarised = new java.util.concurrent.CountDownLatch(1);
    Thread hook = new Thread(() -> {
      TopicWatcher w = watcher;
      if (w != null) {
        w.wakeup();
      }
      try {
        summarised.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "lsntp-watch-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    ForecastNetcdf nc = netcdfDir == null ? null : new ForecastNetcdf(netcdfDir, python);
    VerificationTable table = verification ? new VerificationTable(connection.config().verificationWindow()) : null;
    printed = new LinePrinter("watch", out, err).grids(grids).maxLines(maxRecords).forecastNote(f -> outputs(f, nc, err));
    if (table != null) {
      printed.verification(table, every);
    }
    try (TopicWatcher w = new TopicWatcher(connection.clientProperties(), new TopicWatcher.Topics(noForecasts ? null : ft,
        noAlerts ? null : at, showRejects ? rt : null, verification ? vt : null), groupId, fromBeginning)) {
      watcher = w;
      err.println("watch: " + String.join(", ", topics) + " on " + connection.bootstrap() + " (read_committed, "
          + (fromBeginning ? "from the beginning" : "new records only") + ")");
      err.flush();
      long lastRecord = System.nanoTime();
      while (!printed.full()) {
        int n;
        try {
          n = w.poll(Duration.ofMillis(250), printed);
        } catch (WakeupException e) {
          break;
        }
        if (n > 0) {
          lastRecord = System.nanoTime();
        } else if (idle != null && System.nanoTime() - lastRecord > idle.toNanos()) {
          err.println("watch: no records for " + idleTimeout + ", stopping");
          break;
        }
      }
    } finally {
      watcher = null;
      if (table != null) {
        table.render().forEach(out::println);
        out.flush();
      }
      if (nc != null) {
        nc.close();
      }
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // shutting down already
      }
      err.println("watch summary: " + printed.forecasts + " forecasts, " + printed.alerts + " alerts"
          + (showRejects ? ", " + printed.rejects + " rejects" : "")
          + (verification ? ", " + printed.verifications + " verifications" : "")
          + (printed.undecodable > 0 ? ", " + printed.undecodable + " undecodable records" : "")
          + (netcdfDir != null || pngDir != null ? ", " + written.size() + " files written" : "")
          + (outputFailures > 0 ? ", " + outputFailures + " outputs failed" : ""));
      err.flush();
      summarised.countDown(); // after the summary: a Ctrl-C hook waits for it
    }
    return outputFailures > 0 ? 1 : 0;
  }

  private String outputs(Forecast f, ForecastNetcdf nc, PrintWriter err) {
    StringBuilder sb = new StringBuilder();
    if (nc != null) {
      try {
        Path p = nc.write(f);
        written.add(p);
        sb.append(" -> ").append(p.getFileName());
      } catch (ToolException e) {
        if (e.getMessage().startsWith("the NetCDF writer stopped")) {
          throw e;
        }
        outputFailures++;
        err.println("watch: " + e.getMessage());
      }
    }
    if (pngDir != null) {
      try {
        List<Path> ps = ForecastPng.write(f, pngDir);
        written.addAll(ps);
        sb.append(" + ").append(ps.size()).append(" PNG");
      } catch (IOException | RuntimeException e) {
        outputFailures++;
        err.println("watch: PNG maps of " + f.getGridId() + " " + f.getIssueTime() + " into " + pngDir + ": " + e.getMessage());
      }
    }
    return sb.toString();
  }

  private void checkTopics(List<String> topics, Duration connect) {
    try {
      KafkaPreflight.check(connection.clientProperties(), topics, connect);
    } catch (KafkaAccessException e) {
      throw ToolException.failure(e.getMessage());
    }
  }
}

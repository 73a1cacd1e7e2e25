package ai.lsntp.tools;

import ai.lsntp.config.ConfigOptions;
import ai.lsntp.job.KafkaAccessException;
import ai.lsntp.job.KafkaPreflight;
import ai.lsntp.config.UserPaths;
import ai.lsntp.avro.TemperatureFrame;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Publishes TemperatureFrame records to the frames topic, keyed by grid id, at real-time pace
 * (by valid time), accelerated, or as fast as possible. Idempotent producer with acks=all and
 * retries: a frame counts as sent only when the broker acknowledged it (send callback); the exit
 * status is non-zero when any frame was not acknowledged.
 */
@Command(name = "replay", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Publish temperature frames to the frames topic, keyed by grid id.",
        "FILE is an Avro container file of TemperatureFrame records (./lsntp ingest), or a GRIB/NetCDF",
        "file, converted on the fly by the Python ingest (needs --grid-id)."},
    footer = {"", "Examples:",
        "  ./lsntp replay data/frames/era5-uk-2019-03.avro --speed 3600     (one hour of data per second)",
        "  ./lsntp replay data/frames/*.avro --max-speed",
        "  ./lsntp replay data/raw/era5-t2m-uk-2019-03-01_24-hourly.grib --grid-id era5-uk-0p25 --real-time",
        "", "Exit status: 0 every frame acknowledged; 1 some frames failed or the broker is unreachable; 2 bad input."})
public class ReplayCommand extends ToolCommand {

  @Parameters(arity = "0..*", paramLabel = "FILE", description = "Avro, GRIB or NetCDF files, replayed in the order given.")
  List<Path> files = new ArrayList<>();

  @Mixin ConfigOptions connection = new ConfigOptions();

  @Option(names = "--frames", paramLabel = "FILE", description = "Another input file (same as a FILE argument).")
  List<Path> moreFiles = new ArrayList<>();

  @Option(names = {"--frames-topic", "--topic"}, paramLabel = "TOPIC", description = "Frames topic (default: topics.frames of the configuration).")
  String topic;

  @Option(names = "--real-time", description = "Pace frames by their valid times: one hour of data takes one hour.")
  boolean realTime;

  @Option(names = "--speed", paramLabel = "FACTOR", description = "Pace by valid time, accelerated: 3600 replays an hour of data per second.")
  Double speed;

  @Option(names = "--max-speed", description = "As fast as the broker acknowledges (the default).")
  boolean maxSpeed;

  @Option(names = "--pace", paramLabel = "DURATION", description = "A fixed wall-clock interval between frames (e.g. 200ms), whatever their valid times.")
  String pace;

  @Option(names = "--grid-id", paramLabel = "ID", description = "Grid id for GRIB/NetCDF input (Avro files carry their own).")
  String gridId;

  @Option(names = "--variable", paramLabel = "NAME", description = "Temperature variable in GRIB/NetCDF input (default: found by the ingest).")
  String variable;

  @Option(names = "--time-var", paramLabel = "NAME",
      description = "NetCDF input whose time axis has no CF units: the variable holding its times (with --time-units).")
  String timeVar;

  @Option(names = "--time-units", paramLabel = "UNITS",
      description = "The units of --time-var, e.g. \"hours since 1900-01-01 00:00\".")
  String timeUnits;

  @Option(names = "--start", paramLabel = "TIME", description = "Skip frames valid before this UTC time (ISO, e.g. 2019-03-20T00:00Z).")
  String start;

  @Option(names = "--end", paramLabel = "TIME", description = "Skip frames valid after this UTC time.")
  String end;

  @Option(names = "--limit", paramLabel = "N", description = "Stop after N frames.")
  Long limit;

  @Option(names = "--tile-bytes", paramLabel = "BYTES",
      description = "A frame whose Kafka record would be larger (key, value and Kafka's record overhead) goes out as tiles of at most this many bytes (default: records.max-record-bytes, 1048576, Kafka's default record limit).")
  Integer tileBytes;

  @Option(names = "--delivery-timeout", paramLabel = "DURATION", defaultValue = "120s",
      description = "How long the producer retries one frame through broker hiccups before it counts as failed (default ${DEFAULT-VALUE}).")
  String deliveryTimeout;

  @Option(names = "--connect-timeout", paramLabel = "DURATION",
      description = "How long to wait for the broker at start (default: kafka.connect-timeout, 15s).")
  String connectTimeout;

  @Option(names = "--python", paramLabel = "PATH", defaultValue = "/usr/bin/python3",
      description = "Python interpreter of the ingest (default ${DEFAULT-VALUE}).")
  String python;

  @Option(names = "--progress", paramLabel = "MODE", defaultValue = "auto",
      description = "Progress display: bar, lines, none or auto (bar on a terminal) (default ${DEFAULT-VALUE}).")
  String progressMode;

  /** The publisher of the current or last run: its counts are live while frames go out (tests). */
  private volatile FramePublisher publisher;

  public long sent() {
    return publisher == null ? 0 : publisher.sent();
  }

  public long acked() {
    return publisher == null ? 0 : publisher.acked();
  }

  public long failed() {
    return publisher == null ? 0 : publisher.failed();
  }

  /** Stand-alone entry point (docker-compose, Kubernetes jobs); on a workstation use ./lsntp replay. */
  public static void main(String[] args) {
    launch(new ReplayCommand(), args);
  }

  @Override
  protected int run() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    files.addAll(moreFiles);
    if (files.isEmpty()) {
      throw ToolException.input("no input: name Avro, GRIB or NetCDF files (e.g. data/frames/era5-uk-2019-03.avro)");
    }
    int modes = (realTime ? 1 : 0) + (speed != null ? 1 : 0) + (maxSpeed ? 1 : 0) + (pace != null ? 1 : 0);
    if (modes > 1) {
      throw ToolException.input("choose one of --real-time, --speed FACTOR, --pace DURATION, --max-speed");
    }
    if (speed != null && !(speed > 0 && speed < Double.POSITIVE_INFINITY)) {
      throw ToolException.input("--speed: must be a positive number, got " + speed);
    }
    Replay paced = pace != null ? Replay.everyInterval(Times.duration("--pace", pace))
        : realTime ? Replay.byValidTime(1.0) : speed != null ? Replay.byValidTime(speed) : Replay.asFastAsPossible();
    if (limit != null && limit < 1) {
      throw ToolException.input("--limit: must be at least 1, got " + limit);
    }
    Instant from = start == null ? null : Times.parse("--start", start);
    Instant to = end == null ? null : Times.parse("--end", end);
    if (from != null && to != null && to.isBefore(from)) {
      throw ToolException.input("--end " + end + " is before --start " + start);
    }
    Duration delivery = Times.duration("--delivery-timeout", deliveryTimeout);
    Duration connect = connectTimeout == null ? connection.config().connectTimeout()
        : Times.duration("--connect-timeout", connectTimeout);
    String t = topic != null ? topic : connection.config().topics.frames;
    int maxRecordBytes = tileBytes != null ? tileBytes : connection.config().records.maxRecordBytes;
    if (maxRecordBytes < 1024) {
      throw ToolException.input("--tile-bytes: must be at least 1024, got " + maxRecordBytes);
    }
    if (!List.of("auto", "bar", "lines", "none").contains(progressMode)) {
      throw ToolException.input("--progress: must be auto, bar, lines or none, got '" + progressMode + "'");
    }

    // check every input before anything is sent: a bad file fails the run up front
    Map<Path, FrameFiles.Kind> kinds = new LinkedHashMap<>();
    for (Path f : files) {
      Path in = UserPaths.input(f);
      kinds.put(in, FrameFiles.kindOf(in));
    }
    Path tmp = Files.createTempDirectory("lsntp-replay-");
    try {
      List<Path> avro = new ArrayList<>();
      for (Map.Entry<Path, FrameFiles.Kind> e : kinds.entrySet()) {
        if (e.getValue() == FrameFiles.Kind.AVRO) {
          avro.add(e.getKey());
        } else {
          err.println("replay: ingesting " + e.getKey() + " (" + e.getValue() + ") with the Python ingest ...");
          avro.add(FrameFiles.ingest(e.getKey(), gridId, variable, timeVar, timeUnits, from, to, python, tmp, err));
        }
      }
      long total = 0;
      for (Path a : avro) {
        total += FrameFiles.count(a);
      }
      if (limit != null) {
        total = Math.min(total, limit);
      }
      checkBroker(t, connect);
      return publish(paced, avro, t, from, to, total, delivery, connect, maxRecordBytes, out, err);
    } finally {
      try (var s = Files.list(tmp)) {
        for (Path p : (Iterable<Path>) s::iterator) {
          Files.deleteIfExists(p);
        }
      }
      Files.deleteIfExists(tmp);
    }
  }

  private void checkBroker(String t, Duration connect) {
    try {
      int partitions = KafkaPreflight.check(connection.clientProperties(), List.of(t), connect).get(t);
      spec.commandLine().getErr().println("replay: topic " + t + " on " + connection.bootstrap() + ", " + partitions
          + " partition(s)");
    } catch (KafkaAccessException e) {
      throw ToolException.failure(e.getMessage());
    }
  }

  private int publish(Replay paced, List<Path> avro, String t, Instant from, Instant to, long total, Duration delivery,
      Duration connect, int maxRecordBytes, PrintWriter out, PrintWriter err) throws InterruptedException {
    // Ctrl-C: stop sending, wait for the acknowledgements and the summary (not for this thread,
    // which then blocks in System.exit while the JVM shuts down)
    java.util.concurrent.CountDownLatch summarised = new java.util.concurrent.CountDownLatch(1);
    Thread hook = new Thread(() -> {
      paced.stop();
      try {
        summarised.await(delivery.toMillis() + 10_000, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "lsntp-replay-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      return send(paced, avro, t, from, to, total, delivery, connect, maxRecordBytes, out, err);
    } finally {
      summarised.countDown();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // already shutting down (Ctrl-C): the hook returns now that the summary is out
      }
    }
  }

  private int send(Replay paced, List<Path> avro, String t, Instant from, Instant to, long total, Duration delivery,
      Duration connect, int maxRecordBytes, PrintWriter out, PrintWriter err) throws InterruptedException {
    boolean terminal = progressMode.equals("bar") || (progressMode.equals("auto") && System.console() != null);
    Progress progress = progressMode.equals("none") ? null : new Progress(err, total, terminal);
    long startNanos = System.nanoTime();
    Instant[] validRange = new Instant[2];
    String[] at = {"-"};
    long sent;
    long acked;
    long failed;
    long tiled;
    long records;
    Map<String, Long> reasons;
    try (FramePublisher publisher = new FramePublisher(connection.clientProperties(), t, delivery, connect, paced.unpaced(),
        maxRecordBytes).plain(connection.config().records.writePlain())) {
      this.publisher = publisher;
      paced.run(FrameFiles.frames(avro, from, to), limit == null ? 0 : limit, publisher, f -> {
        Instant vt = f.getValidTime();
        at[0] = f.getGridId() + " " + vt;
        validRange[0] = validRange[0] == null || vt.isBefore(validRange[0]) ? vt : validRange[0];
        validRange[1] = validRange[1] == null || vt.isAfter(validRange[1]) ? vt : validRange[1];
        if (progress != null) {
          progress.update(publisher.sent(), publisher.acked(), publisher.failed(), at[0], false);
        }
      });
      publisher.flush(); // every callback has run once flush returns
      sent = publisher.sent();
      acked = publisher.acked();
      failed = publisher.failed();
      tiled = publisher.tiledFrames();
      records = publisher.records();
      reasons = publisher.failureReasons();
    }
    double secs = (System.nanoTime() - startNanos) / 1e9;
    if (progress != null) {
      progress.update(sent, acked, failed, at[0], true);
      progress.end();
    }
    long unacked = sent - acked - failed;
    out.println(String.format(Locale.ROOT,
        "replay summary%s: %d frames sent to %s, %d acknowledged, %d failed%s%s, in %.1f s (%.1f frames/s)%s",
        paced.stopped() ? " (stopped early)" : "", sent, t, acked, failed, unacked != 0 ? ", " + unacked + " unaccounted" : "",
        tiled == 0 ? "" : ", " + tiled + " of them as tiles (" + records + " records of at most " + maxRecordBytes + " bytes)",
        secs, secs > 0 ? acked / secs : 0.0,
        validRange[0] == null ? "" : ", valid times " + validRange[0] + " .. " + validRange[1]));
    out.flush();
    reasons.forEach((reason, n) -> err.println("replay: " + n + " frame(s) failed: " + reason));
    err.flush();
    if (sent == 0) {
      err.println("replay: no frames matched (check --start/--end)");
      return 1;
    }
    return failed == 0 && acked == sent ? 0 : 1;
  }
}

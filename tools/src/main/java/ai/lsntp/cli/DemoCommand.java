package ai.lsntp.cli;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.config.Durations;
import ai.lsntp.config.JobOptions;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.UserPaths;
import ai.lsntp.embedded.EmbeddedKafka;
import ai.lsntp.job.ForecastJob;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.serve.Live;
import ai.lsntp.serve.ServeException;
import ai.lsntp.tools.FrameFiles;
import ai.lsntp.tools.FramePublisher;
import ai.lsntp.tools.LinePrinter;
import ai.lsntp.tools.Replay;
import ai.lsntp.tools.TopicWatcher;
import ai.lsntp.tools.VerificationTable;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.errors.WakeupException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The embedded default: an in-process Kafka broker (KRaft, Kafka's KafkaClusterTestKit) and a
 * Flink MiniCluster in this JVM; replays the shipped ERA5 frames at a pace and prints every
 * forecast and alert, and serves the live page and point API on them. Ctrl-C stops it cleanly.
 *
 * <p>It also shows challengers: the zoo's ConvLSTM for the ERA5 grid runs beside the shipped LS-NTP,
 * scored on the same frames, and the league table (each model's rolling MAE, skill and count per
 * lead) is printed as the verification advances and at the end. The model directory is not
 * touched: the demo stages a copy of its grid folders in a temporary directory with the challenger
 * in the documented layout ({@code <grid-folder>/challengers/<name>/model.onnx}).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Embedded demo: in-process Kafka + Flink MiniCluster, replay real ERA5 frames, print live forecasts "
        + "and serve them on a live page.")
public class DemoCommand implements Callable<Integer> {
  /** The verification table is printed each time this much valid time has been verified. */
  private static final long TABLE_EVERY_MILLIS = 6 * 3_600_000L;

  @Mixin JobOptions options;
  @Spec CommandSpec spec;

  @Option(names = "--frames", paramLabel = "FILE", description = "Avro file of TemperatureFrame records (default: ${DEFAULT-VALUE}).")
  Path framesFile = Path.of("data/frames/era5-uk-2019-03.avro");

  @Option(names = "--pace", paramLabel = "DURATION", description = "Time between replayed frames (default: ${DEFAULT-VALUE}).")
  String pace = "200ms";

  @Option(names = "--limit", paramLabel = "N", description = "Stop after N forecasts (default: all the file gives).")
  int limit;

  @Option(names = "--show-rejects", description = "Also print rejected frames.")
  boolean showRejects;

  @Option(names = "--serve-port", paramLabel = "PORT", defaultValue = "" + Live.DEFAULT_PORT,
      description = "Port of the live page and point API on " + Live.DEFAULT_HOST
          + " (default ${DEFAULT-VALUE}; 0 picks a free one).")
  int servePort;

  @Option(names = "--no-serve", description = "No live page.")
  boolean noServe;

  @Option(names = "--challenger", paramLabel = "DIR", description = "Model folder (model.onnx and its parity files) run "
      + "as a challenger of the model serving its grid (default: ${DEFAULT-VALUE}).")
  Path challenger = Path.of("models/zoo/era5-uk-0p25/convlstm");

  @Option(names = "--no-challenger", description = "Run the served models alone.")
  boolean noChallenger;

  private volatile boolean stopping;
  private volatile TopicWatcher watcher;
  private PrintWriter out;

  @Override
  public Integer call() throws Exception {
    out = spec.commandLine().getOut();
    long paceMillis = Durations.parse("--pace", pace).toMillis();
    out.println("lsntp demo: starting an in-process Kafka broker (KRaft) ...");
    EmbeddedKafka kafka = EmbeddedKafka.start();
    Path checkpoints = Files.createTempDirectory("lsntp-demo-checkpoints-");
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(done), "lsntp-demo-shutdown"));
    LocalJob job = null;
    Path staged = null;
    Replay replay = Replay.everyInterval(Duration.ofMillis(paceMillis));
    FramePublisher publisher = null;
    Live live = null;
    try {
      LsntpConfig cfg = options.toConfig(settings(kafka, checkpoints));
      if (!noChallenger) {
        staged = stageChallenger(cfg);
      }
      kafka.createTopics(1, cfg.topicNames().toArray(String[]::new));
      ForecastJob forecastJob = ForecastJob.fromKafka(cfg, false);
      Plan plan = plan(FrameFiles.readAll(UserPaths.input(framesFile)), forecastJob.models(), limit);
      out.println("lsntp demo: Kafka at " + kafka.bootstrapServers() + "; models: " + forecastJob.models());
      live = noServe ? null : serve(cfg);
      out.println("lsntp demo: replaying " + plan.frames().size() + " frames from " + framesFile + " every "
          + paceMillis + " ms; expecting " + plan.expected() + " forecasts (" + cfg.delivery.guarantee
          + "). Ctrl-C stops.");

      job = LocalJob.start(forecastJob, cfg, () -> stopping); // so the printed latency is the pipeline's
      publisher = new FramePublisher(cfg.kafkaProperties(), cfg.topics.frames, Duration.ofSeconds(120),
          Duration.ofSeconds(30), false);
      replayInTheBackground(replay, plan.frames(), publisher);
      Latencies latencies = new Latencies();
      VerificationTable table = new VerificationTable(cfg.verificationWindow());
      LinePrinter printed = print(publisher, latencies, table);
      watch(cfg, printed, plan.expected(), job);
      if (cfg.verification.enabled) {
        out.println("lsntp demo: league table (every model of each grid, scored on the same observed frames; * published):");
        table.render().forEach(out::println);
      }
      out.println(String.format(Locale.ROOT,
          "lsntp demo: %d forecasts, %d alerts%s; latency frame sent -> forecast read: p50 %s ms, p99 %s ms",
          printed.forecasts, printed.alerts, showRejects ? ", " + printed.rejects + " rejects" : "",
          latencies.percentile(0.5), latencies.percentile(0.99)));
      return printed.forecasts >= plan.expected() ? 0 : 1;
    } finally {
      replay.stop();
      if (publisher != null) {
        publisher.close();
      }
      if (live != null) {
        live.close();
      }
      if (job != null) {
        job.close();
      }
      kafka.close();
      deleteTree(checkpoints);
      if (staged != null) {
        deleteTree(staged);
      }
      out.println("lsntp demo: stopped.");
      done.countDown();
    }
  }

  /**
   * Stages the configured model directory's grid folders (model.onnx and parity files, copied) in
   * a temporary directory, with {@link #challenger} as challenger of the grid its metadata names,
   * and points {@code cfg} at it; returns the directory (null, with a line saying why, when the
   * challenger has no grid to challenge here or fails its check).
   */
  private Path stageChallenger(LsntpConfig cfg) throws Exception {
    Path source = Path.of(cfg.models.directory);
    Path file = UserPaths.input(challenger).resolve("model.onnx");
    ModelSpec spec;
    try {
      spec = ai.lsntp.model.ModelCheck.check(file);
    } catch (ai.lsntp.model.ModelCheck.Refused r) {
      out.println("lsntp demo: no challenger: " + file + " fails its check: " + r.getMessage());
      return null;
    }
    ModelCatalog served = ModelCatalog.load(source);
    ModelSpec champion = served.forGrid(spec.gridId);
    String why = champion == null ? "no model in " + source + " serves its grid '" + spec.gridId + "'"
        : ModelCatalog.challengerRefusal(champion, spec);
    if (why != null) {
      out.println("lsntp demo: no challenger: " + file + ": " + why);
      return null;
    }
    Path staged = Files.createTempDirectory("lsntp-demo-models-");
    for (ModelSpec m : served.byGrid().values()) {
      Path folder = Path.of(m.path).getParent();
      if (Path.of(m.path).getFileName().toString().equals("model.onnx")) {
        copyModelFolder(folder, staged.resolve(folder.getFileName()));
      } else {
        Files.copy(Path.of(m.path), staged.resolve(Path.of(m.path).getFileName())); // a loose dir/*.onnx
      }
    }
    String name = challenger.getFileName().toString();
    Path grid = staged.resolve(Path.of(champion.path).getParent().getFileName());
    copyModelFolder(file.getParent(), grid.resolve(ModelCatalog.CHALLENGERS).resolve(name));
    cfg.models.directory = staged.toString();
    out.println("lsntp demo: challenger " + spec.name + " " + spec.version + " ('" + name + "') beside " + champion.name + " "
        + champion.version + " on grid " + spec.gridId + " (same grid id and geometry); models staged in " + staged);
    return staged;
  }

  /** model.onnx and its parity files, the way a grid folder holds them. */
  private static void copyModelFolder(Path from, Path to) throws java.io.IOException {
    Files.createDirectories(to);
    try (java.util.stream.Stream<Path> files = Files.list(from)) {
      for (Path f : files.filter(f -> f.getFileName().toString().matches("model\\.onnx|parity.*")).toList()) {
        Files.copy(f, to.resolve(f.getFileName()));
      }
    }
  }

  /** Ctrl-C: the watch loop ends, and the demo's own cleanup runs before the JVM goes. */
  private void stop(CountDownLatch done) {
    if (done.getCount() == 0) {
      return;
    }
    stopping = true;
    out.println("\nlsntp demo: stopping ...");
    TopicWatcher w = watcher;
    if (w != null) {
      w.wakeup();
    }
    try {
      done.await(30, TimeUnit.SECONDS);
    } catch (InterruptedException ignored) {
      Thread.currentThread().interrupt();
    }
  }

  /** The live page on the demo's topics; a port that is taken costs the page, not the demo. */
  private Live serve(LsntpConfig cfg) {
    try {
      Live live = Live.start(cfg, Live.DEFAULT_HOST, servePort);
      out.println("lsntp demo: live page at " + live.url() + " (point forecasts: " + live.url()
          + "v1/forecast?latitude=51.5&longitude=-0.12)");
      return live;
    } catch (ServeException e) {
      out.println("lsntp demo: no live page: " + e.getMessage() + " (--serve-port)");
      return null;
    }
  }

  /** The demo's own settings, under the command line's. */
  private static Map<String, String> settings(EmbeddedKafka kafka, Path checkpoints) {
    Map<String, String> base = new HashMap<>();
    base.put("kafka.bootstrap-servers", kafka.bootstrapServers());
    base.put("kafka.group-id", "lsntp-demo");
    base.put("delivery.guarantee", "at-least-once");
    base.put("delivery.checkpoint-interval", "5s");
    // a fresh embedded broker each run: its checkpoints are throw-away, never resumed
    base.put("checkpoints.directory", checkpoints.toString());
    // the production default frost rule (263.15 K) never fires on March 2019 in the UK; the demo
    // watches for air frost instead, so alerts show up, and for likely air frost by the calibrated
    // intervals: P(T <= 0 °C) >= 0.8 (--alert replaces these)
    base.put("alerts", "[{name: heat-30c, kind: heat, threshold: 303.15},"
        + " {name: air-frost, kind: frost, threshold: 273.15},"
        + " {name: frost-likely, kind: frost, threshold: 273.15, probability: 0.8},"
        + " {name: rapid-change-8k-6h, kind: change, threshold: 8.0, within: 6h}]");
    return base;
  }

  /** The frames to replay and the forecasts they make. */
  record Plan(List<TemperatureFrame> frames, int expected) {}

  /**
   * Every window of alpha frames of a served grid makes a forecast; with a {@code limit}, only as
   * many frames as that many forecasts need (counted for the largest alpha).
   */
  static Plan plan(List<TemperatureFrame> frames, ModelCatalog models, int limit) {
    Map<String, Integer> perGrid = new HashMap<>();
    for (TemperatureFrame f : frames) {
      perGrid.merge(f.getGridId(), 1, Integer::sum);
    }
    int expected = 0;
    for (Map.Entry<String, Integer> e : perGrid.entrySet()) {
      ModelSpec s = models.forGrid(e.getKey());
      if (s != null) {
        expected += Math.max(0, e.getValue() - s.alpha + 1);
      }
    }
    if (limit <= 0) {
      return new Plan(frames, expected);
    }
    int maxAlpha = models.byGrid().values().stream().mapToInt(s -> s.alpha).max().orElse(1);
    return new Plan(frames.subList(0, Math.min(frames.size(), limit + maxAlpha - 1)), Math.min(expected, limit));
  }

  private static void replayInTheBackground(Replay paced, List<TemperatureFrame> frames, FramePublisher pub) {
    Thread replayThread = new Thread(() -> {
      try {
        paced.run(frames, 0, pub, f -> { });
        pub.flush();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "lsntp-replay");
    replayThread.setDaemon(true);
    replayThread.start();
  }

  /** Watch's printer, each forecast's line saying how long after its newest frame was sent it was read. */
  private LinePrinter print(FramePublisher sent, Latencies latencies, VerificationTable table) {
    return new LinePrinter("lsntp demo", out, out)
        .verification(table, TABLE_EVERY_MILLIS)
        .forecastNote(f -> {
          Long ms = latencies.record(sent, f);
          return ms == null ? "" : "  (" + ms + " ms after its last frame was sent)";
        });
  }

  /** Prints the job's output until {@code expected} forecasts were printed, Ctrl-C, or the job ended. */
  private void watch(LsntpConfig cfg, LinePrinter printed, int expected, LocalJob job) throws Exception {
    try (TopicWatcher w = new TopicWatcher(cfg.kafkaProperties(), new TopicWatcher.Topics(cfg.topics.forecasts,
        cfg.topics.alerts, showRejects ? cfg.topics.rejects : null,
        cfg.verification.enabled ? cfg.topics.verification : null), null, true)) {
      watcher = w;
      while (!stopping && printed.forecasts < expected) {
        try {
          w.poll(Duration.ofMillis(200), printed);
        } catch (WakeupException e) {
          break;
        }
        if (job.status().isGloballyTerminalState()) {
          out.println("lsntp demo: the Flink job ended: " + job.status());
          break;
        }
      }
      // the last forecasts' leads are verified as the last frames arrive: a few seconds more for the table
      long until = System.currentTimeMillis() + 5_000;
      while (!stopping && cfg.verification.enabled && System.currentTimeMillis() < until) {
        try {
          w.poll(Duration.ofMillis(200), printed);
        } catch (WakeupException e) {
          break;
        }
      }
    } finally {
      watcher = null;
    }
  }

  private static void deleteTree(Path dir) {
    try (java.util.stream.Stream<Path> s = Files.walk(dir)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException e) {
      // a temporary directory: the system cleans it up eventually
    }
  }
}

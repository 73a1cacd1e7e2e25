package ai.lsntp.cli;

import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.config.JobOptions;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.config.UserPaths;
import ai.lsntp.embedded.EmbeddedKafka;
import ai.lsntp.job.ForecastJob;
import ai.lsntp.job.KafkaEndpoints;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.model.OnnxForecaster;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.tools.FrameFiles;
import ai.lsntp.tools.FramePublisher;
import ai.lsntp.tools.Replay;
import ai.lsntp.tools.TopicWatcher;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Benchmark harness (not a test): for 1, 10 and 100 grids, (a) sustained forecasts per second
 * through Kafka + Flink + ONNX Runtime with a backlog of frames, against raw ONNX Runtime
 * throughput of the same model at the same batch size, measured in the same run; (b) end-to-end
 * latency (frame produced -> forecast consumed) at one frame per second per grid. Grids beyond the
 * first are copies of the shipped ERA5 UK grid under other ids, served by the same model. An
 * unmeasured warm-up drain comes first: a cold JVM compiles the pipeline while it runs, and a
 * short cold drain measures the JIT compilers, not the pipeline (docs/benchmarks.md).
 */
@Command(name = "java-bench", mixinStandardHelpOptions = true,
    description = "Throughput and latency through Kafka + Flink vs raw ONNX Runtime, for 1, 10 and 100 grids.")
public class BenchCommand implements Callable<Integer> {
  @Mixin JobOptions options;

  @Option(names = "--frames", paramLabel = "FILE") Path framesFile = Path.of("data/frames/era5-uk-2019-03.avro");
  @Option(names = "--grids", split = ",", description = "Grid counts (default: ${DEFAULT-VALUE}).")
  List<Integer> grids = List.of(1, 10, 100);
  @Option(names = "--windows", description = "Forecasts per throughput run (default: ${DEFAULT-VALUE}).")
  int windows = 2000;
  @Option(names = "--latency-seconds", description = "Length of each 1 frame/s/grid latency run (default: ${DEFAULT-VALUE}).")
  int latencySeconds = 20;
  @Option(names = "--warmup-windows", description = "Forecasts of the unmeasured warm-up drain before the first "
      + "measured one, 0 for none (default: ${DEFAULT-VALUE}).")
  int warmupWindows = 2000;
  @Option(names = "--challengers", split = ",", paramLabel = "N", description = "Instead of --grids: one grid with "
      + "each of these numbers of challengers (e.g. 0,1,3), the cost of scoring challengers beside the served model.")
  List<Integer> challengerCounts;
  @Option(names = "--challenger-models", split = ",", paramLabel = "DIR", description = "The challengers, in order "
      + "(model folders for the ERA5 grid; default: ${DEFAULT-VALUE}).")
  List<Path> challengerModels = List.of(Path.of("models/zoo/era5-uk-0p25/convlstm"),
      Path.of("models/zoo/era5-uk-0p25/convgru"), Path.of("models/zoo/era5-uk-0p25/dconvlstm"));

  /** How many challengers each grid of the current run has (the first of {@link #challengerModels}). */
  private int challengersNow;

  @Override
  public Integer call() throws Exception {
    List<TemperatureFrame> all = FrameFiles.readAll(UserPaths.input(framesFile));
    System.out.println("lsntp java-bench: " + Runtime.getRuntime().availableProcessors() + " CPUs, "
        + all.size() + " real frames from " + framesFile);
    try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
      List<String> rows = new ArrayList<>();
      if (challengerCounts != null) {
        rows.add("| challengers | grids | batch N | forecasts | pipeline forecasts/s | raw ORT windows/s (every model of the grid in turn, batch N) | ratio | mean batch (approx.) | p50 latency ms | p99 latency ms | ORT latency ms (batch 1) | heap after GC MB |");
        rows.add("|---|---|---|---|---|---|---|---|---|---|---|---|");
        warmUp(kafka, all);
        for (int c : challengerCounts) {
          if (c < 0 || c > challengerModels.size()) {
            throw new IllegalArgumentException("--challengers: " + c + " is more than the " + challengerModels.size()
                + " --challenger-models");
          }
          challengersNow = c;
          rows.add("| " + c + " " + run(kafka, all, 1));
        }
        System.out.println();
        rows.forEach(System.out::println);
        return 0;
      }
      rows.add("| grids | batch N | forecasts | pipeline forecasts/s | raw ORT windows/s (batch N) | ratio | mean batch (approx.) | p50 latency ms | p99 latency ms | ORT latency ms (batch 1) | heap after GC MB |");
      rows.add("|---|---|---|---|---|---|---|---|---|---|---|");
      warmUp(kafka, all);
      for (int g : grids) {
        rows.add(run(kafka, all, g));
      }
      System.out.println();
      rows.forEach(System.out::println);
    }
    return 0;
  }

  /** One bounded job draining a backlog of frames for {@code g} grids: its settings, models and forecasts. */
  private record Drained(LsntpConfig cfg, Map<String, String> base, ModelSpec uk, ModelCatalog models, int expected,
      List<Forecast> forecasts, double perSecond, double meanBatch) {}

  private Drained drain(EmbeddedKafka kafka, List<TemperatureFrame> all, int g, int forecasts, String p) throws Exception {
    kafka.createTopics(1, Topic.namesUnder(p));
    Map<String, String> base = new LinkedHashMap<>();
    base.put("kafka.bootstrap-servers", kafka.bootstrapServers());
    base.put("kafka.group-id", p);
    base.putAll(Topic.settingsUnder(p));
    base.put("delivery.guarantee", "at-least-once"); // --delivery exactly-once overrides
    base.put("delivery.checkpoint-interval", "10s");
    // a fresh embedded broker each run: its checkpoints are throw-away, never resumed
    base.put("checkpoints.directory", java.nio.file.Files.createTempDirectory("lsntp-demo-checkpoints-").toString());
    base.put("stream.future-tolerance", "3650d");
    base.put("alerts", "[]");
    LsntpConfig cfg = options.toConfig(base);

    ModelCatalog shipped = ModelCatalog.load(Path.of(cfg.models.directory));
    ModelSpec uk = shipped.forGrid(all.get(0).getGridId());
    Map<String, ModelSpec> byGrid = new HashMap<>();
    for (int k = 0; k < g; k++) {
      String id = gridId(uk, k);
      byGrid.put(id, uk.forGrid(id));
    }
    // challengers (checked as the job checks them), the same for every grid
    Map<String, Map<String, ModelSpec>> challengers = new HashMap<>();
    for (int c = 0; c < challengersNow; c++) {
      Path file = UserPaths.input(challengerModels.get(c)).resolve("model.onnx");
      ModelSpec spec = ModelCatalog.admitChallenger(file, uk);
      for (String id : byGrid.keySet()) {
        challengers.computeIfAbsent(id, x -> new java.util.TreeMap<>())
            .put(challengerModels.get(c).getFileName().toString(), spec.forGrid(id));
      }
    }
    ModelCatalog models = new ModelCatalog(byGrid, challengers, 0);
    int perGrid = Math.max(uk.alpha + 1, (forecasts + g - 1) / g + uk.alpha - 1);

    List<TemperatureFrame> backlog = new ArrayList<>();
    for (int i = 0; i < perGrid; i++) {
      for (int k = 0; k < g; k++) {
        backlog.add(TemperatureFrame.newBuilder(frameAt(all, i, uk.stepMillis)).setGridId(gridId(uk, k)).build());
      }
    }
    try (FramePublisher pub = publisher(cfg, true)) {
      Replay.asFastAsPossible().run(backlog, 0, pub, f -> { });
      pub.flush();
    }
    int expected = g * (perGrid - uk.alpha + 1);
    ForecastJob job = new ForecastJob(cfg, ModelCatalog.Scan.of(models), KafkaEndpoints.frames(cfg, true),
        ForecastJob.Outputs.kafka(cfg), false);
    job.execute(ForecastJob.localEnvironment(cfg));
    List<Forecast> out = readForecasts(cfg, expected, Duration.ofSeconds(60));
    long first = Long.MAX_VALUE;
    long last = Long.MIN_VALUE;
    for (Forecast f : out) {
      first = Math.min(first, f.getProducedAt().toEpochMilli());
      last = Math.max(last, f.getProducedAt().toEpochMilli());
    }
    long distinctProducedAt = out.stream().map(f -> f.getProducedAt().toEpochMilli()).distinct().count();
    double meanBatch = distinctProducedAt == 0 ? Double.NaN : (double) out.size() / distinctProducedAt;
    double perSecond = out.size() > 1 && last > first ? (out.size() - 1) * 1000.0 / (last - first) : Double.NaN;
    return new Drained(cfg, base, uk, models, expected, out, perSecond, meanBatch);
  }

  /**
   * Warms the JVM up with an unmeasured drain of {@code warmupWindows} forecasts at one grid: the
   * first seconds of a fresh JVM run the pipeline interpreted while the JIT compilers take most of
   * a core (measured: C1/C2 at 0.4-0.8 of the 2 cores during a cold 4 s drain), which is start-up
   * cost, not the sustained throughput the table reports. Printed, so the cold figure is seen.
   */
  private void warmUp(EmbeddedKafka kafka, List<TemperatureFrame> all) throws Exception {
    if (warmupWindows <= 0) {
      return;
    }
    Drained d = drain(kafka, all, 1, warmupWindows, "warmup-" + UUID.randomUUID().toString().substring(0, 6));
    System.out.printf(Locale.ROOT, "warm-up (not in the table): 1 grid, %d forecasts, %.1f/s in a cold JVM%n",
        d.forecasts().size(), d.perSecond());
  }

  private String run(EmbeddedKafka kafka, List<TemperatureFrame> all, int g) throws Exception {
    String p = "bench" + g + "-" + UUID.randomUUID().toString().substring(0, 6);
    // ---- (a) throughput: a backlog of frames, the job drains it
    Drained d = drain(kafka, all, g, windows, p);
    LsntpConfig cfg = d.cfg();
    Map<String, String> base = d.base();
    ModelSpec uk = d.uk();
    ModelCatalog models = d.models();
    int expected = d.expected();
    List<Forecast> out = d.forecasts();
    double meanBatch = d.meanBatch();
    double pipelinePerSec = d.perSecond();

    // raw ONNX Runtime on the same windows, same batch size, same thread settings
    int n = cfg.batching.maxWindows;
    double rawPerSec;
    double ortBatch1;
    try (OnnxForecaster ort = OnnxForecaster.open(uk, cfg.provider(), cfg.models.intraOpThreads)) {
      List<float[]> batch = realBatch(uk, all, n);
      rawPerSec = timedRate(ort, batch, expected);
      List<float[]> one = batch.subList(0, 1);
      long t1 = System.nanoTime();
      for (int i = 0; i < 20; i++) {
        ort.forecast(one);
      }
      ortBatch1 = (System.nanoTime() - t1) / 1e6 / 20;
    }
    // with challengers, raw ORT is every model of the grid in turn on the same batch: the time per
    // window adds up, so the rate to compare with is 1 / (sum of each model's time per window)
    Map<String, ModelSpec> theChallengers = models.challengers(uk.forGrid(gridId(uk, 0)).gridId);
    if (!theChallengers.isEmpty()) {
      double secondsPerWindow = 1 / rawPerSec;
      for (Map.Entry<String, ModelSpec> c : theChallengers.entrySet()) {
        double r = rawRate(c.getValue(), cfg, all, n, expected);
        System.out.printf(Locale.ROOT, "challenger %s: raw ORT %.1f windows/s at batch %d%n", c.getKey(), r, n);
        secondsPerWindow += 1 / r;
      }
      rawPerSec = 1 / secondsPerWindow;
    }
    System.out.printf(Locale.ROOT, "grids=%d: %d forecasts, pipeline %.1f/s, raw ORT %.1f windows/s at batch %d%n",
        g, out.size(), pipelinePerSec, rawPerSec, n);

    // ---- (b) latency: one frame per second per grid, at-least-once, an unbounded job
    String lp = p + "-lat";
    kafka.createTopics(1, Topic.namesUnder(lp));
    Map<String, String> lbase = new LinkedHashMap<>(base);
    lbase.put("kafka.group-id", lp);
    lbase.putAll(Topic.settingsUnder(lp));
    LsntpConfig lcfg = options.toConfig(lbase);
    ForecastJob ljob = new ForecastJob(lcfg, ModelCatalog.Scan.of(models), KafkaEndpoints.frames(lcfg, false),
        ForecastJob.Outputs.kafka(lcfg), false);
    int seconds = Math.min(latencySeconds, all.size());
    List<TemperatureFrame> paced = new ArrayList<>();
    for (int i = 0; i < seconds; i++) {
      for (int k = 0; k < g; k++) {
        paced.add(TemperatureFrame.newBuilder(all.get(i)).setGridId(gridId(uk, k)).build());
      }
    }
    Latencies lat = new Latencies();
    int lexpected = g * (seconds - uk.alpha + 1);
    double heapMb;
    try (LocalJob running = LocalJob.start(ljob, lcfg, () -> false)) {
      try (FramePublisher pub = publisher(lcfg, false)) {
        // the frames are hourly: one hour of data a second is one frame per grid per second
        Thread producer = new Thread(() -> {
          try {
            Replay.byValidTime(uk.stepMillis / 1000.0).run(paced, 0, pub, f -> { });
            pub.flush();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
        producer.start();
        try (TopicWatcher w = new TopicWatcher(consumerProps(lcfg), TopicWatcher.Topics.onlyForecasts(lcfg.topics.forecasts), null, true)) {
          long end = System.currentTimeMillis() + seconds * 1000L + 30_000;
          TopicWatcher.Handler timing = forecastsOnly(f -> lat.record(pub, f));
          while (lat.count() < lexpected && System.currentTimeMillis() < end) {
            w.poll(Duration.ofMillis(50), timing);
          }
        }
        producer.join();
      }
      // the job still holds every grid's window state (alpha + 1 frames each at most): heap after a GC,
      // whose growth with the grid count is the TaskManager's heap per grid (broker and MiniCluster
      // share this JVM, so read the differences between grid counts, not the absolute figure)
      heapMb = heapAfterGcMb();
    }
    System.out.printf(Locale.ROOT, "grids=%d: latency over %d forecasts p50 %s ms p99 %s ms; heap after GC %.1f MB%n",
        g, lat.count(), lat.percentile(0.5), lat.percentile(0.99), heapMb);
    return String.format(Locale.ROOT, "| %d | %d | %d | %.1f | %.1f | %.0f%% | %.1f | %s | %s | %.1f | %.1f |", g, n,
        out.size(), pipelinePerSec, rawPerSec, 100 * pipelinePerSec / rawPerSec, meanBatch, lat.percentile(0.5),
        lat.percentile(0.99), ortBatch1, heapMb);
  }

  /** Raw ONNX Runtime windows per second of {@code spec} on batches of {@code n} real windows (as for the served model). */
  private static double rawRate(ModelSpec spec, LsntpConfig cfg, List<TemperatureFrame> all, int n, int expected)
      throws Exception {
    try (OnnxForecaster ort = OnnxForecaster.open(spec, cfg.provider(), cfg.models.intraOpThreads)) {
      return timedRate(ort, realBatch(spec, all, n), expected);
    }
  }

  /** {@code n} windows of {@code spec}'s alpha consecutive real frames each, starting one frame apart. */
  private static List<float[]> realBatch(ModelSpec spec, List<TemperatureFrame> all, int n) {
    List<float[]> batch = new ArrayList<>();
    int cells = spec.cells();
    for (int b = 0; b < n; b++) {
      float[] w = new float[spec.alpha * cells];
      for (int k = 0; k < spec.alpha; k++) {
        System.arraycopy(PackedFloats.decode(all.get((b + k) % all.size()).getValues()), 0, w, k * cells, cells);
      }
      batch.add(w);
    }
    return batch;
  }

  /** Windows per second of {@code ort} on {@code batch}: 3 warm-up calls, then about {@code windows} windows timed. */
  private static double timedRate(OnnxForecaster ort, List<float[]> batch, int windows) throws Exception {
    for (int i = 0; i < 3; i++) {
      ort.forecast(batch);
    }
    int n = batch.size();
    int calls = Math.max(3, windows / n);
    long t0 = System.nanoTime();
    for (int i = 0; i < calls; i++) {
      ort.forecast(batch);
    }
    return calls * n / ((System.nanoTime() - t0) / 1e9);
  }

  /** Used heap after asking for full collections until it stops shrinking (at most five), in MiB. */
  static double heapAfterGcMb() throws InterruptedException {
    java.lang.management.MemoryMXBean mem = java.lang.management.ManagementFactory.getMemoryMXBean();
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(300);
      long now = mem.getHeapMemoryUsage().getUsed();
      if (now >= used) {
        break;
      }
      used = now;
    }
    return Math.min(used, mem.getHeapMemoryUsage().getUsed()) / (1024.0 * 1024.0);
  }

  /**
   * The i-th frame of an endless hourly sequence: the file's frames, then the file again with its
   * valid times moved on by the file's span (so one grid can have a backlog longer than the file;
   * windows across the seam join the file's end to its start, which costs inference the same).
   */
  static TemperatureFrame frameAt(List<TemperatureFrame> all, int i, long stepMillis) {
    TemperatureFrame f = all.get(i % all.size());
    int lap = i / all.size();
    if (lap == 0) {
      return f;
    }
    long span = all.get(all.size() - 1).getValidTime().toEpochMilli() - all.get(0).getValidTime().toEpochMilli()
        + stepMillis;
    return TemperatureFrame.newBuilder(f).setValidTime(f.getValidTime().plusMillis(lap * span)).build();
  }

  private static String gridId(ModelSpec uk, int k) {
    return k == 0 ? uk.gridId : uk.gridId + "-copy" + k;
  }

  private static FramePublisher publisher(LsntpConfig cfg, boolean batched) {
    return new FramePublisher(cfg.kafkaProperties(), cfg.topics.frames, Duration.ofSeconds(120), Duration.ofSeconds(30),
        batched);
  }

  private static Properties consumerProps(LsntpConfig cfg) {
    Properties cp = cfg.kafkaProperties();
    cp.put("fetch.max.wait.ms", "10");
    return cp;
  }

  private static TopicWatcher.Handler forecastsOnly(java.util.function.Consumer<Forecast> onForecast) {
    return new TopicWatcher.Handler() {
      @Override
      public void forecast(Forecast f) {
        onForecast.accept(f);
      }

      @Override
      public void undecodable(ConsumerRecord<byte[], byte[]> r, String expected, Exception why) {
        throw new IllegalStateException("benchmark: " + r.topic() + " holds a record that is not a " + expected, why);
      }
    };
  }

  private static List<Forecast> readForecasts(LsntpConfig cfg, int expected, Duration timeout) {
    List<Forecast> out = new ArrayList<>();
    try (TopicWatcher w = new TopicWatcher(consumerProps(cfg), TopicWatcher.Topics.onlyForecasts(cfg.topics.forecasts), null, true)) {
      long end = System.currentTimeMillis() + timeout.toMillis();
      TopicWatcher.Handler collect = forecastsOnly(out::add);
      while (out.size() < expected && System.currentTimeMillis() < end) {
        w.poll(Duration.ofMillis(200), collect);
      }
    }
    return out;
  }
}

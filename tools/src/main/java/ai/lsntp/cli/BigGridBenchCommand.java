package ai.lsntp.cli;

import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.embedded.EmbeddedKafka;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.tools.FramePublisher;
import ai.lsntp.tools.TopicWatcher;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Benchmark harness (not a test) of one big grid through the stream, beside small ones: an
 * in-process broker with Kafka's default record limits, the job as its own process ({@code
 * ./lsntp job}: one JVM, JobManager and TaskManager, as on a workstation), so that its memory is
 * the TaskManager's alone. The big grid's model is given (e.g. a scaling-models sparse LS-NTP of
 * 1000 x 1000); its frames are synthetic and hourly, sent as tiles at the record limit one every
 * {@code --big-every}; the small grids are copies of the shipped ERA5 UK grid (33 x 49) under other
 * ids, each served by a copy of the shipped model, draining a backlog.
 *
 * <p>Measured: each big frame's latency from its last tile handed to the producer to its
 * forecast's last tile read back (read_committed, at-least-once delivery, so no commit wait); the
 * small grids' forecasts per second alone and while the big grid runs; the job process's peak
 * resident memory and JVM heap, direct and non-heap memory (Flink's metrics, scraped every second
 * from its Prometheus reporter; heap also after a full collection with the big grid's state held);
 * every checkpoint's size and duration. docs/benchmarks.md, "A 1000 x 1000 grid".
 */
@Command(name = "big-grid-bench", mixinStandardHelpOptions = true,
    description = "One big grid (tiles, default Kafka limits) beside small grids: latency, memory, checkpoints, throughput.")
public class BigGridBenchCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "DIR",
      description = "Folder of the big grid's model (model.onnx, e.g. ./lsntp scaling-models --sizes 1000x1000 --forms sparse).")
  Path bigModel;

  @Option(names = "--small-grids", description = "Small grids beside it (default: ${DEFAULT-VALUE}).")
  int smallGrids = 10;

  @Option(names = "--small-frames", description = "Backlog per small grid for the run beside the big grid (default: ${DEFAULT-VALUE}).")
  int smallFrames = 1500;

  @Option(names = "--alone-frames", description = "Backlog per small grid for the run alone (default: ${DEFAULT-VALUE}).")
  int aloneFrames = 300;

  @Option(names = "--big-frames", description = "Big-grid frames sent (default: ${DEFAULT-VALUE}).")
  int bigFrames = 12;

  @Option(names = "--big-every", description = "Seconds between big-grid frames (default: ${DEFAULT-VALUE}).")
  int bigEvery = 15;

  @Option(names = "--job-java-opts", description = "JVM options of the job process (default: ${DEFAULT-VALUE}).")
  String jobJavaOpts = "-Xmx3g";

  @Option(names = "--job-set", paramLabel = "KEY=VALUE", description = "A setting of the job process (repeatable).")
  List<String> jobSettings = new ArrayList<>();

  @Option(names = "--out", paramLabel = "FILE", description = "Also write every measurement as JSON lines.")
  Path out;

  private final List<String> report = new ArrayList<>();

  /** A forecast read back: its grid, issue time, produced_at, and when its last record was read. */
  record Seen(String grid, long issue, long producedAt, long readAt) {}

  /** One scrape of the job process: wall time, RSS, peak RSS, heap, non-heap, direct, checkpoints. */
  record Sample(long at, double rssMb, double hwmMb, double heapMb, double nonHeapMb, double directMb,
      double checkpoints, double lastCheckpointBytes, double lastCheckpointMs, String stateByOperator) {}

  @Override
  public Integer call() throws Exception {
    Path root = Path.of("").toAbsolutePath();
    ModelSpec uk = ModelCatalog.load(root.resolve("models")).forGrid("era5-uk-0p25");
    Path work = Files.createTempDirectory("lsntp-big-grid-bench-");
    Path models = work.resolve("models");
    copyModel(bigModel, models.resolve("big"));
    ModelSpec big = ModelCatalog.load(models.resolve("big")).byGrid().values().iterator().next();
    // the frames topic has two partitions, the big grid alone in one: its frames do not queue behind
    // the small grids' backlog in the other (Kafka's default partitioner: murmur2 of the key)
    int bigPartition = partition(big.gridId);
    List<String> small = new ArrayList<>();
    for (int k = 0; small.size() < smallGrids; k++) {
      if (partition(uk.gridId + "-copy" + k) != bigPartition) {
        small.add(uk.gridId + "-copy" + k);
      }
    }
    smallModels(root.resolve("models/era5-uk/model.onnx"), models, small);
    say("lsntp big-grid-bench: %d CPUs; big grid %s (%d x %d = %,d cells, alpha %d, beta %d, model %s %s); %d small "
        + "grids of %d x %d", Runtime.getRuntime().availableProcessors(), big.gridId, big.height, big.width, big.cells(),
        big.alpha, big.beta, big.name, big.version, smallGrids, uk.height, uk.width);

    try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
      String prefix = "bigbench";
      kafka.createTopics(2, Topic.FRAMES.under(prefix)); // Kafka's default record limits throughout
      kafka.createTopics(1, java.util.Arrays.stream(Topic.values()).filter(t -> t != Topic.FRAMES)
          .map(t -> t.under(prefix)).toArray(String[]::new));
      // created first: RetainedCheckpoints puts the job's folder beside a checkpoints.directory that does not exist yet
      Files.createDirectories(work.resolve("checkpoints"));
      int port = freePort();
      List<String> args = new ArrayList<>(List.of("job", "--fresh", "--bootstrap-servers", kafka.bootstrapServers(),
          "--models", models.toString(), "--group-id", prefix, "--delivery", "at-least-once", "--prometheus-port",
          Integer.toString(port), "--set", "checkpoints.directory=" + work.resolve("checkpoints"),
          "--set", "stream.future-tolerance=3650d", "--set", "alerts=[]", "--set", "checkpoints.retained=3"));
      Topic.settingsUnder(prefix).forEach((key, name) -> args.addAll(List.of("--set", key + "=" + name)));
      jobSettings.forEach(s -> args.addAll(List.of("--set", s)));
      ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(List.of(root.resolve("tools/bin/run").toString())));
      pb.command().addAll(args);
      pb.environment().put("LSNTP_JAVA_OPTS", jobJavaOpts);
      pb.redirectErrorStream(true).redirectOutput(work.resolve("job.log").toFile());
      say("job process: %s (log %s)", jobJavaOpts, work.resolve("job.log"));
      Process job = pb.start();
      Properties client = new Properties();
      client.put("bootstrap.servers", kafka.bootstrapServers());
      List<Sample> samples = new CopyOnWriteArrayList<>();
      Thread scraper = scraper(job.pid(), port, samples, work.resolve("checkpoints"));
      List<Seen> seen = new CopyOnWriteArrayList<>();
      Thread reader = reader(client, prefix, seen);
      try {
        awaitAccepted(client, Topic.MODEL_EVENTS.under(prefix), smallGrids + 1, job);
        scraper.start();
        reader.start();
        Thread.sleep(3000);
        run(client, prefix, big, uk, small, seen, samples, job);
      } finally {
        scraper.interrupt();
        reader.interrupt();
        job.destroy();
        if (!job.waitFor(30, TimeUnit.SECONDS)) {
          job.destroyForcibly();
        }
      }
    }
    System.out.println();
    report.forEach(System.out::println);
    if (out != null) {
      Files.write(out, report);
    }
    return 0;
  }

  private void run(Properties client, String prefix, ModelSpec big, ModelSpec uk, List<String> small, List<Seen> seen,
      List<Sample> samples, Process job) throws Exception {
    String frames = Topic.FRAMES.under(prefix);
    // warm-up (not measured): the JIT compiles the pipeline on small grids first
    drain(client, frames, uk, small, 0, 100, seen);
    // the small grids alone
    int start = 100;
    double alone = drain(client, frames, uk, small, start, aloneFrames, seen);
    say("small grids alone: %.1f forecasts/s (%d grids, %d frames each)", alone, small.size(), aloneFrames);
    start += aloneFrames;

    // beside the big grid: a backlog of small frames drains while big frames come one every bigEvery seconds
    int smallFrom = start;
    Thread backlog = new Thread(() -> {
      try (FramePublisher p = publisher(client, frames, true)) {
        for (int i = smallFrom; i < smallFrom + smallFrames; i++) {
          for (String g : small) {
            p.send(smallFrame(uk, g, i));
          }
        }
        p.flush();
      }
    }, "small-backlog");
    long t0 = System.currentTimeMillis();
    backlog.start();
    Map<Long, Long> sentAt = new LinkedHashMap<>();
    try (FramePublisher p = publisher(client, frames, false)) {
      for (int i = 0; i < bigFrames; i++) {
        long due = t0 + i * bigEvery * 1000L;
        Thread.sleep(Math.max(0, due - System.currentTimeMillis()));
        TemperatureFrame f = bigFrame(big, i);
        long recordsBefore = p.records();
        p.send(f);
        p.flush();
        sentAt.put(f.getValidTime().toEpochMilli(), p.sentAt(big.gridId, f.getValidTime().toEpochMilli()));
        say("big frame %d sent as %d records at %.1f s", i, p.records() - recordsBefore,
            (System.currentTimeMillis() - t0) / 1000.0);
      }
      say("big grid: %d frames as %d records of at most %d bytes", p.sent(), p.records(),
          LsntpConfig.Records.DEFAULT_MAX_RECORD_BYTES);
    }
    int forecastsBig = bigFrames - big.alpha + 1;
    long deadline = System.currentTimeMillis() + 180_000;
    while (count(seen, big.gridId) < forecastsBig && System.currentTimeMillis() < deadline) {
      Thread.sleep(200);
    }
    long t1 = System.currentTimeMillis();
    List<Double> latencies = new ArrayList<>();
    for (Seen s : seen) {
      if (s.grid().equals(big.gridId) && sentAt.containsKey(s.issue())) {
        latencies.add((s.readAt() - sentAt.get(s.issue())) / 1000.0);
      }
    }
    long smallBeside = seen.stream().filter(s -> !s.grid().equals(big.gridId) && s.producedAt() >= t0 && s.producedAt() <= t1)
        .count();
    long smallAfter = seen.stream().filter(s -> !s.grid().equals(big.gridId) && s.producedAt() > t1).count();
    double beside = smallBeside * 1000.0 / (t1 - t0);
    say("big grid: %d forecasts; latency, last tile in to last forecast tile out, s: %s", latencies.size(), latencies);
    say("small grids beside it: %.1f forecasts/s over %.0f s (%d forecasts; %d more after, so the backlog lasted): %.0f%% "
        + "of alone", beside, (t1 - t0) / 1000.0, smallBeside, smallAfter, 100 * beside / alone);
    // the big grid's state held (before the stream goes idle and event time moves on): the heap after a
    // full collection at once, then two more checkpoints
    new ProcessBuilder("jcmd", Long.toString(job.pid()), "GC.run").redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor(60, TimeUnit.SECONDS);
    int after = samples.size();
    while (samples.size() < after + 2) {
      Thread.sleep(200);
    }
    double heapWithState = samples.get(samples.size() - 1).heapMb();
    double checkpointsNow = samples.get(samples.size() - 1).checkpoints();
    long until = System.currentTimeMillis() + 60_000;
    while (System.currentTimeMillis() < until && samples.get(samples.size() - 1).checkpoints() < checkpointsNow + 2) {
      Thread.sleep(500);
    }
    backlog.join(120_000);
    Sample last = samples.get(samples.size() - 1);
    double peakHeap = samples.stream().mapToDouble(Sample::heapMb).max().orElse(Double.NaN);
    double peakDirect = samples.stream().mapToDouble(Sample::directMb).max().orElse(Double.NaN);
    double peakNonHeap = samples.stream().mapToDouble(Sample::nonHeapMb).max().orElse(Double.NaN);
    say("job process memory: peak resident %.0f MB (VmHWM); JVM heap peak %.0f MB, after a full GC with the big grid's "
        + "state %.0f MB; non-heap peak %.0f MB; direct peak %.0f MB", last.hwmMb(), peakHeap, heapWithState, peakNonHeap,
        peakDirect);
    List<String> cps = new ArrayList<>();
    double previous = -1;
    for (Sample s : samples) {
      if (s.checkpoints() != previous && s.lastCheckpointBytes() > 0) {
        cps.add(String.format(Locale.ROOT, "#%.0f %.1f MB %.0f ms (%s)", s.checkpoints(), s.lastCheckpointBytes() / 1e6,
            s.lastCheckpointMs(), s.stateByOperator()));
        previous = s.checkpoints();
      }
    }
    say("checkpoints (number, size, duration): %s", cps);
    if (out != null) {
      for (Sample s : samples) {
        report.add(String.format(Locale.ROOT, "{\"sample\": %d, \"rss_mb\": %.1f, \"hwm_mb\": %.1f, \"heap_mb\": %.1f, "
            + "\"non_heap_mb\": %.1f, \"direct_mb\": %.1f, \"checkpoints\": %.0f, \"checkpoint_bytes\": %.0f, "
            + "\"checkpoint_ms\": %.0f}", s.at() - t0, s.rssMb(), s.hwmMb(), s.heapMb(), s.nonHeapMb(), s.directMb(),
            s.checkpoints(), s.lastCheckpointBytes(), s.lastCheckpointMs()));
      }
    }
  }

  /** Sends {@code n} frames per small grid from frame index {@code from} and waits for their forecasts; forecasts/s. */
  private double drain(Properties client, String topic, ModelSpec uk, List<String> small, int from, int n, List<Seen> seen)
      throws InterruptedException {
    int before = seen.size();
    long t0 = System.currentTimeMillis();
    try (FramePublisher p = publisher(client, topic, true)) {
      for (int i = from; i < from + n; i++) {
        for (String g : small) {
          p.send(smallFrame(uk, g, i));
        }
      }
      p.flush();
    }
    // the first frames of a grid complete no window: alpha - 1 of them at the very start only
    int expected = small.size() * (from == 0 ? n - uk.alpha + 1 : n);
    long deadline = System.currentTimeMillis() + 600_000;
    while (seen.size() - before < expected && System.currentTimeMillis() < deadline) {
      Thread.sleep(100);
    }
    List<Seen> run = seen.subList(before, seen.size());
    long first = run.stream().mapToLong(Seen::producedAt).filter(t -> t >= t0).min().orElse(t0);
    long last = run.stream().mapToLong(Seen::producedAt).max().orElse(t0);
    return (run.size() - 1) * 1000.0 / Math.max(1, last - first);
  }

  /** Frame {@code i} of a small grid: the shipped ERA5 UK frames, repeated, each lap moved on in time. */
  private static final List<TemperatureFrame> UK_FRAMES = new ArrayList<>();

  private static synchronized TemperatureFrame smallFrame(ModelSpec uk, String grid, int i) {
    if (UK_FRAMES.isEmpty()) {
      UK_FRAMES.addAll(ai.lsntp.tools.FrameFiles.readAll(Path.of("data/frames/era5-uk-2019-03.avro")));
    }
    return TemperatureFrame.newBuilder(BenchCommand.frameAt(UK_FRAMES, i, uk.stepMillis)).setGridId(grid).build();
  }

  /** Hour {@code i} of a smooth synthetic field on the big grid (plausible kelvin; the model's weights are random anyway). */
  static TemperatureFrame bigFrame(ModelSpec s, int i) {
    float[] v = new float[s.cells()];
    for (int r = 0; r < s.height; r++) {
      double a = Math.sin(r / 60.0 + i * 0.2);
      for (int c = 0; c < s.width; c++) {
        v[r * s.width + c] = (float) (278 + 12 * a * Math.cos(c / 80.0 - i * 0.1) + 0.5 * Math.sin(r * c * 1e-3));
      }
    }
    return TemperatureFrame.newBuilder().setGridId(s.gridId)
        .setValidTime(Instant.parse("2024-01-01T00:00:00Z").plusMillis(i * s.stepMillis)).setSource("synthetic")
        .setHeight(s.height).setWidth(s.width).setLat0(s.lat0).setLon0(s.lon0).setDlat(s.dlat).setDlon(s.dlon)
        .setValues(PackedFloats.encode(v)).build();
  }

  private static FramePublisher publisher(Properties client, String topic, boolean batched) {
    return new FramePublisher(client, topic, Duration.ofSeconds(120), Duration.ofSeconds(30), batched);
  }

  private static long count(List<Seen> seen, String grid) {
    return seen.stream().filter(s -> s.grid().equals(grid)).count();
  }

  /** Reads the forecasts topic (read_committed), tiles put together, noting when each forecast was complete. */
  private static Thread reader(Properties client, String prefix, List<Seen> seen) {
    return new Thread(() -> {
      Properties p = new Properties();
      p.putAll(client);
      p.put("fetch.max.wait.ms", "10");
      try (TopicWatcher w = new TopicWatcher(p, TopicWatcher.Topics.onlyForecasts(Topic.FORECASTS.under(prefix)), null,
          true)) {
        TopicWatcher.Handler h = new TopicWatcher.Handler() {
          @Override
          public void forecast(Forecast f) {
            seen.add(new Seen(f.getGridId(), f.getIssueTime().toEpochMilli(), f.getProducedAt().toEpochMilli(),
                System.currentTimeMillis()));
          }

          @Override
          public void undecodable(ConsumerRecord<byte[], byte[]> r, String expected, Exception why) {
            System.err.println("big-grid-bench: undecodable " + expected + ": " + why);
          }
        };
        while (!Thread.currentThread().isInterrupted()) {
          w.poll(Duration.ofMillis(100), h);
        }
      } catch (org.apache.kafka.common.errors.InterruptException e) {
        // stopped
      }
    }, "forecast-reader");
  }

  private static final Pattern METRIC = Pattern.compile("^(flink_\\w+)(\\{[^}]*\\})? ([-0-9.eE+NaInf]+)$");

  /** Scrapes the job's Prometheus page and /proc/PID/status every second. */
  private static Thread scraper(long pid, int port, List<Sample> samples, Path checkpoints) {
    HttpClient http = HttpClient.newHttpClient();
    return new Thread(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        try {
          String page = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
              .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()).body();
          Map<String, Double> m = new ConcurrentHashMap<>();
          for (String line : page.split("\n")) {
            Matcher x = METRIC.matcher(line);
            if (x.matches()) {
              m.merge(x.group(1), parse(x.group(3)), Math::max);
            }
          }
          Map<String, Double> status = procStatus(pid);
          samples.add(new Sample(System.currentTimeMillis(), status.getOrDefault("VmRSS", Double.NaN),
              status.getOrDefault("VmHWM", Double.NaN), mb(m.get("flink_taskmanager_Status_JVM_Memory_Heap_Used")),
              mb(m.get("flink_taskmanager_Status_JVM_Memory_NonHeap_Used")),
              mb(m.get("flink_taskmanager_Status_JVM_Memory_Direct_MemoryUsed")),
              m.getOrDefault("flink_jobmanager_job_numberOfCompletedCheckpoints", 0.0),
              m.getOrDefault("flink_jobmanager_job_lastCheckpointSize", 0.0),
              m.getOrDefault("flink_jobmanager_job_lastCheckpointDuration", 0.0), stateByOperator(checkpoints)));
          Thread.sleep(1000);
        } catch (InterruptedException e) {
          return;
        } catch (IOException | RuntimeException e) {
          try {
            Thread.sleep(1000);
          } catch (InterruptedException ie) {
            return;
          }
        }
      }
    }, "metrics-scraper");
  }

  /** The job's operators by uid, to name the operator states of a checkpoint (their ids are hashes of the uids). */
  private static final List<String> UIDS = List.of("frames-source", "validate", "event-time", "assemble-tiles", "windows",
      "inference", "forecasts", "forecast-tiles", "forecasts-sink", "forecast-alerts", "verify", "verification-sink",
      "alerts-sink", "rejects-sink", "model-directory-ticks", "model-directory", "model-events-sink");

  /** The newest retained checkpoint's state by operator ("verify 216.0 MB, windows 28.5 MB"), from its _metadata. */
  static String stateByOperator(Path checkpoints) {
    try (var s = Files.find(checkpoints, 4, (p, a) -> p.getFileName().toString().equals("_metadata"))) {
      Path newest = s.max(java.util.Comparator.comparingLong(p -> Long.parseLong(
          p.getParent().getFileName().toString().replace("chk-", "")))).orElse(null);
      if (newest == null) {
        return "";
      }
      Map<org.apache.flink.runtime.jobgraph.OperatorID, String> names = new java.util.HashMap<>();
      for (String uid : UIDS) {
        names.put(new org.apache.flink.runtime.jobgraph.OperatorID(org.apache.flink.shaded.guava33.com.google.common.hash
            .Hashing.murmur3_128(0).newHasher().putString(uid, java.nio.charset.StandardCharsets.UTF_8).hash().asBytes()),
            uid);
      }
      List<String> parts = new ArrayList<>();
      try (java.io.DataInputStream in = new java.io.DataInputStream(Files.newInputStream(newest))) {
        var metadata = org.apache.flink.runtime.checkpoint.Checkpoints.loadCheckpointMetadata(in,
            BigGridBenchCommand.class.getClassLoader(), newest.getParent().toString());
        for (var op : metadata.getOperatorStates()) {
          if (op.getStateSize() > 100_000) {
            parts.add(String.format(Locale.ROOT, "%s %.1f MB", names.getOrDefault(op.getOperatorID(), "?"),
                op.getStateSize() / 1e6));
          }
        }
      }
      return newest.getParent().getFileName() + ": " + String.join(", ", parts);
    } catch (IOException | RuntimeException e) {
      return "(" + e.getClass().getSimpleName() + ")";
    }
  }

  private static int partition(String key) {
    return org.apache.kafka.common.utils.Utils.toPositive(org.apache.kafka.common.utils.Utils.murmur2(
        key.getBytes(java.nio.charset.StandardCharsets.UTF_8))) % 2;
  }

  private static double parse(String v) {
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }

  private static double mb(Double bytes) {
    return bytes == null ? Double.NaN : bytes / (1024.0 * 1024.0);
  }

  /** VmRSS and VmHWM of a process, MiB. */
  private static Map<String, Double> procStatus(long pid) throws IOException {
    Map<String, Double> out = new LinkedHashMap<>();
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmRSS:") || line.startsWith("VmHWM:")) {
        out.put(line.substring(0, 5), Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0);
      }
    }
    return out;
  }

  /** Waits until the job announced {@code n} accepted models (it does at start). */
  private static void awaitAccepted(Properties client, String topic, int n, Process job) throws Exception {
    RecordCodec<ModelEvent> codec = RecordCodec.of(ModelEvent.class);
    Properties p = new Properties();
    p.putAll(client);
    p.put("group.id", "big-grid-bench-" + UUID.randomUUID());
    p.put("auto.offset.reset", "earliest");
    p.put("isolation.level", "read_committed");
    int accepted = 0;
    long deadline = System.currentTimeMillis() + 300_000;
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      c.subscribe(List.of(topic));
      while (accepted < n && System.currentTimeMillis() < deadline && job.isAlive()) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
          if (codec.decode(r.value()).getKind().toString().equals("ACCEPTED")) {
            accepted++;
          }
        }
      }
    }
    if (accepted < n) {
      throw new IllegalStateException("the job accepted " + accepted + " of " + n + " models (alive: " + job.isAlive()
          + "); see its log");
    }
  }

  /**
   * The model file alone, without its parity files: a random-weight scaling model forecasts nothing,
   * and on its own parity window a cell of the 1000 x 1000 one comes out at 350.05 K, just outside
   * the smoke check's 150..350 K, so it would be refused; on a uniform 280 K window it passes.
   */
  private static void copyModel(Path from, Path to) throws IOException {
    Files.createDirectories(to);
    Files.copy(from.resolve("model.onnx"), to.resolve("model.onnx"), StandardCopyOption.REPLACE_EXISTING);
  }

  /** Copies of the shipped model, each serving one small grid (its grid_id metadata rewritten with Python's onnx). */
  private static void smallModels(Path shipped, Path models, List<String> grids) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", "-c", String.join("\n",
        "import os, sys, onnx",
        "m = onnx.load(sys.argv[1])",
        "for g in sys.argv[3:]:",
        "    for e in m.metadata_props:",
        "        if e.key == 'grid_id': e.value = g",
        "    os.makedirs(os.path.join(sys.argv[2], g), exist_ok=True)",
        "    onnx.save(m, os.path.join(sys.argv[2], g, 'model.onnx'))"), shipped.toString(), models.toString()));
    cmd.addAll(grids);
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("could not write the small grids' models");
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private void say(String format, Object... args) {
    String line = String.format(Locale.ROOT, format, args);
    System.out.println(line);
    System.out.flush();
    report.add(line);
  }
}

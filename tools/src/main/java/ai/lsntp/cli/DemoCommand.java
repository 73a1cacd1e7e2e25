package ai.lsntp.cli;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.avro.Verification;
import ai.lsntp.config.Durations;
import ai.lsntp.config.JobOptions;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.UserPaths;
import ai.lsntp.embedded.EmbeddedKafka;
import ai.lsntp.job.ForecastJob;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.tools.FrameFiles;
import ai.lsntp.tools.FramePublisher;
import ai.lsntp.tools.Lines;
import ai.lsntp.tools.Replay;
import ai.lsntp.tools.TopicWatcher;
import ai.lsntp.tools.VerificationTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.core.execution.JobClient;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.WakeupException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The embedded default: an in-process Kafka broker (KRaft, Kafka's KafkaClusterTestKit) and a
 * Flink MiniCluster in this JVM; replays the shipped ERA5 frames at a pace and prints every
 * forecast and alert. Ctrl-C stops it cleanly.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Embedded demo: in-process Kafka + Flink MiniCluster, replay real ERA5 frames, print live forecasts.")
public class DemoCommand implements Callable<Integer> {
  @Mixin JobOptions options;

  @Option(names = "--frames", paramLabel = "FILE", description = "Avro file of TemperatureFrame records (default: ${DEFAULT-VALUE}).")
  Path framesFile = Path.of("data/frames/era5-uk-2019-03.avro");

  @Option(names = "--pace", paramLabel = "DURATION", description = "Time between replayed frames (default: ${DEFAULT-VALUE}).")
  String pace = "200ms";

  @Option(names = "--limit", paramLabel = "N", description = "Stop after N forecasts (default: all the file gives).")
  int limit;

  @Option(names = "--show-rejects", description = "Also print rejected frames.")
  boolean showRejects;

  private volatile boolean stopping;

  @Override
  public Integer call() throws Exception {
    long paceMillis = Durations.parse("--pace", pace).toMillis();
    System.out.println("lsntp demo: starting an in-process Kafka broker (KRaft) ...");
    EmbeddedKafka kafka = EmbeddedKafka.start();
    Path checkpoints = Files.createTempDirectory("lsntp-demo-checkpoints-");
    JobClient job = null;
    Replay replay = null;
    FramePublisher publisher = null;
    TopicWatcher watcher = null;
    CountDownLatch done = new CountDownLatch(1);
    final TopicWatcher[] watcherRef = new TopicWatcher[1];
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      if (done.getCount() == 0) {
        return;
      }
      stopping = true;
      System.out.println("\nlsntp demo: stopping ...");
      if (watcherRef[0] != null) {
        watcherRef[0].wakeup();
      }
      try {
        done.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException ignored) {
        Thread.currentThread().interrupt();
      }
    }, "lsntp-demo-shutdown"));
    try {
      Map<String, String> base = new HashMap<>();
      base.put("kafka.bootstrap-servers", kafka.bootstrapServers());
      base.put("kafka.group-id", "lsntp-demo");
      base.put("delivery.guarantee", "at-least-once");
      base.put("delivery.checkpoint-interval", "5s");
      // a fresh embedded broker each run: its checkpoints are throw-away, never resumed
      base.put("checkpoints.directory", checkpoints.toString());
      // the production default frost rule (263.15 K) never fires on March 2019 in the UK; the demo
      // watches for air frost instead, so alerts show up (--alert replaces these)
      base.put("alerts", "[{name: heat-30c, kind: heat, threshold: 303.15},"
          + " {name: air-frost, kind: frost, threshold: 273.15},"
          + " {name: rapid-change-8k-6h, kind: change, threshold: 8.0, within: 6h}]");
      LsntpConfig cfg = options.toConfig(base);
      kafka.createTopics(1, cfg.topicNames().toArray(String[]::new));
      ForecastJob forecastJob = ForecastJob.fromKafka(cfg, false);

      List<TemperatureFrame> frames = FrameFiles.readAll(UserPaths.input(framesFile));
      Map<String, Integer> perGrid = new HashMap<>();
      for (TemperatureFrame f : frames) {
        perGrid.merge(f.getGridId(), 1, Integer::sum);
      }
      int expected = 0;
      for (Map.Entry<String, Integer> e : perGrid.entrySet()) {
        ModelSpec s = forecastJob.models().forGrid(e.getKey());
        if (s != null) {
          expected += Math.max(0, e.getValue() - s.alpha + 1);
        }
      }
      if (limit > 0) {
        expected = Math.min(expected, limit);
        List<TemperatureFrame> cut = new ArrayList<>();
        int maxAlpha = forecastJob.models().byGrid().values().stream().mapToInt(s -> s.alpha).max().orElse(1);
        for (TemperatureFrame f : frames) {
          if (cut.size() < limit + maxAlpha - 1) {
            cut.add(f);
          }
        }
        frames = cut;
      }
      System.out.println("lsntp demo: Kafka at " + kafka.bootstrapServers() + "; models: " + forecastJob.models());
      System.out.println("lsntp demo: replaying " + frames.size() + " frames from " + framesFile + " every "
          + paceMillis + " ms; expecting " + expected + " forecasts (" + cfg.delivery.guarantee
          + "). Ctrl-C stops.");

      job = forecastJob.executeAsync(ForecastJob.localEnvironment(cfg));
      // replay once the job runs, so the printed latency is the pipeline's, not the start-up's
      long waitUntil = System.currentTimeMillis() + 60_000;
      while (job.getJobStatus().get() != org.apache.flink.api.common.JobStatus.RUNNING
          && System.currentTimeMillis() < waitUntil && !stopping) {
        Thread.sleep(100);
      }
      Thread.sleep(1500);
      publisher = new FramePublisher(cfg.kafkaProperties(), cfg.topics.frames, Duration.ofSeconds(120),
          Duration.ofSeconds(30), false);
      replay = Replay.everyInterval(Duration.ofMillis(paceMillis));
      final FramePublisher pub = publisher;
      final Replay paced = replay;
      final List<TemperatureFrame> toSend = frames;
      Thread replayThread = new Thread(() -> {
        try {
          paced.run(toSend, 0, pub, f -> { });
          pub.flush();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, "lsntp-replay");
      replayThread.setDaemon(true);
      replayThread.start();

      watcher = new TopicWatcher(cfg.kafkaProperties(), new TopicWatcher.Topics(cfg.topics.forecasts, cfg.topics.alerts,
          showRejects ? cfg.topics.rejects : null, cfg.verification.enabled ? cfg.topics.verification : null), null, true);
      VerificationTable table = new VerificationTable(cfg.verificationWindow());
      long[] lastTable = {Long.MIN_VALUE};
      watcherRef[0] = watcher;
      AtomicInteger forecasts = new AtomicInteger();
      AtomicInteger alerts = new AtomicInteger();
      AtomicInteger rejects = new AtomicInteger();
      List<Long> latencies = new ArrayList<>();
      TopicWatcher.Handler printer = new TopicWatcher.Handler() {
        @Override
        public void forecast(Forecast f) {
          Long sent = pub.sentAt(f.getGridId(), f.getIssueTime().toEpochMilli());
          Long lat = sent == null ? null : System.currentTimeMillis() - sent;
          if (lat != null) {
            latencies.add(lat);
          }
          forecasts.incrementAndGet();
          System.out.println(Lines.forecast(f) + (lat == null ? "" : "  (" + lat + " ms after its last frame was sent)"));
        }

        @Override
        public void alert(Alert a) {
          alerts.incrementAndGet();
          System.out.println(Lines.alert(a));
        }

        @Override
        public void reject(RejectedFrame r) {
          rejects.incrementAndGet();
          System.out.println(Lines.reject(r));
        }

        @Override
        public void verification(Verification v) {
          // the live forecasts' skill, every 6 hours of replayed time
          table.add(v);
          long t = table.newestValidTime();
          if (lastTable[0] == Long.MIN_VALUE) {
            lastTable[0] = t;
          } else if (t - lastTable[0] >= 6 * 3_600_000L) {
            lastTable[0] = t;
            table.render().forEach(System.out::println);
          }
        }

        @Override
        public void undecodable(ConsumerRecord<byte[], byte[]> r, String expected, Exception why) {
          System.out.println("lsntp demo: a record on " + r.topic() + " is not a " + expected + ": " + why.getMessage());
        }
      };
      while (!stopping && forecasts.get() < expected) {
        try {
          watcher.poll(Duration.ofMillis(200), printer);
        } catch (WakeupException e) {
          break;
        }
        if (job.getJobStatus().get().isGloballyTerminalState()) {
          System.out.println("lsntp demo: the Flink job ended: " + job.getJobStatus().get());
          break;
        }
      }
      latencies.sort(Long::compare);
      System.out.println(String.format(Locale.ROOT,
          "lsntp demo: %d forecasts, %d alerts%s; latency frame sent -> forecast read: p50 %s ms, p99 %s ms",
          forecasts.get(), alerts.get(), showRejects ? ", " + rejects.get() + " rejects" : "",
          pct(latencies, 0.5), pct(latencies, 0.99)));
      return forecasts.get() >= expected ? 0 : 1;
    } finally {
      if (replay != null) {
        replay.stop();
      }
      if (publisher != null) {
        publisher.close();
      }
      if (watcher != null) {
        watcher.close();
      }
      if (job != null) {
        try {
          job.cancel().get(20, TimeUnit.SECONDS);
        } catch (Exception ignored) {
          // already finished or failing: nothing to cancel
        }
      }
      kafka.close();
      deleteTree(checkpoints);
      System.out.println("lsntp demo: stopped.");
      done.countDown();
    }
  }

  private static void deleteTree(Path dir) {
    try (java.util.stream.Stream<Path> s = Files.walk(dir)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException e) {
      // a temporary directory: the system cleans it up eventually
    }
  }

  static String pct(List<Long> sorted, double q) {
    if (sorted.isEmpty()) {
      return "-";
    }
    return Long.toString(sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(q * sorted.size()) - 1)));
  }
}

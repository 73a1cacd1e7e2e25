package ai.lsntp.system;

import ai.lsntp.config.Topic;
import ai.lsntp.testing.KafkaBroker;
import org.junit.jupiter.api.extension.RegisterExtension;
import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.calibration.CalibrationReplay;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.model.OnnxForecaster;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.tools.FramePublisher;
import ai.lsntp.tools.Replay;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A crash must not lose forecasts: ./lsntp job (the same main class, its own JVM) runs with
 * exactly-once delivery while frames stream in; it is killed with SIGKILL mid-stream, started
 * again with the same command, and resumes from its newest retained checkpoint (windows, offsets,
 * transactions, each grid's calibration). A read_committed consumer must see every expected
 * forecast exactly once, and every forecast's intervals as an uninterrupted run makes them: the
 * job's calibration code replayed over the same frames from the model's export-time calibration
 * (so the calibration after the restart is the one before the kill, moved by the frames since).
 */
class CrashRecoveryTest {
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();

  @TempDir Path work;

  @Test
  void aKilledJobProcessResumesWithEveryForecastExactlyOnce() throws Exception {
    String prefix = "crash";
    kafka.createTopics(1, Topic.namesUnder(prefix));
    ModelSpec spec = ModelCatalog.load(TestPaths.models()).forGrid(RealFrames.uk(1).get(0).getGridId());
    int n = 48;
    List<TemperatureFrame> frames = RealFrames.uk(n);
    Path checkpoints = Files.createDirectories(work.resolve("checkpoints"));
    List<String> job = new ArrayList<>(List.of("job", "--bootstrap-servers", kafka.bootstrapServers(), "--models",
        TestPaths.models().toString(), "--group-id", prefix, "--delivery", "exactly-once",
        "--checkpoint-interval", "1s", "--set", "checkpoints.directory=" + checkpoints,
        "--set", "stream.future-tolerance=3650d"));
    job.addAll(TestJobConfig.topicArguments(prefix));
    Properties client = new Properties();
    client.put("bootstrap.servers", kafka.bootstrapServers());

    try (CommittedForecasts out = new CommittedForecasts(kafka.bootstrapServers(), Topic.FORECASTS.under(prefix));
        FramePublisher publisher = new FramePublisher(client, Topic.FRAMES.under(prefix), Duration.ofSeconds(60),
            Duration.ofSeconds(30), false)) {
      // a first stretch of frames, then the job, so it is running before the stream goes on
      int head = spec.alpha + 4;
      Replay.asFastAsPossible().run(frames.subList(0, head), 0, publisher, f -> { });
      publisher.flush();
      ChildJvm first = startJob(job, "job-1");
      assertThat(out.await(head - spec.alpha + 1, Duration.ofSeconds(180))).as("the first job's forecasts\n"
          + first.tail(40)).isTrue();
      // then the rest at 2.5 frames a second, the kill coming in the middle of it
      Replay paced = Replay.everyInterval(Duration.ofMillis(400));
      Thread replay = new Thread(() -> {
        try {
          paced.run(frames.subList(head, n), 0, publisher, f -> { });
          publisher.flush();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      replay.start();
      try {
        assertThat(out.await(head - spec.alpha + 1 + 8, Duration.ofSeconds(60))).as("forecasts of the stream\n"
            + first.tail(40)).isTrue();
        assertThat(checkpointCount(checkpoints)).as("a checkpoint completed before the kill").isPositive();
        first.kill();
        long killedAt = System.currentTimeMillis();
        int beforeKill = out.count();
        System.out.println("killed the job process (SIGKILL) after " + beforeKill + " committed forecasts, "
            + publisher.sent() + " frames sent");
        assertThat(publisher.sent()).as("frames still to come after the kill").isLessThan(n - 8);

        try (ChildJvm second = startJob(job, "job-2")) {
          assertThat(second.logText()).doesNotContain("starting fresh");
          replay.join(120_000);
          int expected = n - spec.alpha + 1;
          out.await(expected, Duration.ofSeconds(120));
          out.awaitQuiet(Duration.ofSeconds(4), Duration.ofSeconds(30)); // a duplicate would come late
          assertThat(second.logText()).contains("resuming from");

          List<CommittedForecasts.Seen> seen = out.seen();
          Map<Long, Long> perIssue = seen.stream().collect(Collectors.groupingBy(CommittedForecasts.Seen::issueTime,
              TreeMap::new, Collectors.counting()));
          List<Long> missing = new ArrayList<>();
          for (int end = spec.alpha - 1; end < n; end++) {
            if (!perIssue.containsKey(frames.get(end).getValidTime().toEpochMilli())) {
              missing.add(frames.get(end).getValidTime().toEpochMilli());
            }
          }
          long duplicated = perIssue.values().stream().filter(c -> c > 1).count();
          long firstAfter = seen.stream().skip(beforeKill).mapToLong(CommittedForecasts.Seen::arrivedAt).min().orElse(-1);
          System.out.printf("after the process kill: %d forecasts expected, %d seen, %d missing, %d duplicated; "
              + "first recovered forecast %.1f s after the kill (JVM start and restore included)%n",
              expected, seen.size(), missing.size(), duplicated, (firstAfter - killedAt) / 1000.0);
          assertThat(missing).as("forecasts missing after the crash\n" + second.tail(60)).isEmpty();
          assertThat(duplicated).as("forecasts duplicated after the crash").isZero();
          assertThat(seen).hasSize(expected);
          intervalsAsAnUninterruptedRun(spec, frames, seen, beforeKill);
        }
      } finally {
        paced.stop();
        replay.join(10_000);
        first.close();
      }
    }
  }

  /**
   * Every forecast's quantiles against an uninterrupted run of the calibration over the same frames
   * (ONNX Runtime here, one window at a time: the job's batches differ by ~1e-5 K, so a cell on an
   * interval's edge may count the other way; 1e-3 K allows for that, a calibration restarted after
   * the kill differs by far more), and the calibration's start and count of verified leads, exactly.
   */
  private static void intervalsAsAnUninterruptedRun(ModelSpec spec, List<TemperatureFrame> frames,
      List<CommittedForecasts.Seen> seen, int beforeKill) throws Exception {
    Map<Long, float[]> observed = new TreeMap<>();
    for (TemperatureFrame f : frames) {
      assertThat(f.getMissingMask()).as("the ERA5 frames have no missing cells").isNull();
      observed.put(f.getValidTime().toEpochMilli(), PackedFloats.decode(f.getValues()));
    }
    double[] levels = TestJobConfig.onTopics("localhost:9", "x").load().intervalLevels();
    long first = frames.get(spec.alpha - 1).getValidTime().toEpochMilli();
    CalibrationReplay replay = new CalibrationReplay(spec.calibration, levels, spec.stepMillis, first, t -> {
      float[] v = observed.get(t);
      return v == null ? null : new CalibrationReplay.Observed(v, null);
    });
    Map<Long, CommittedForecasts.Seen> byIssue = new TreeMap<>();
    seen.forEach(s -> byIssue.put(s.issueTime(), s));
    double worst = 0;
    double worstAfterKill = 0;
    try (OnnxForecaster ort = OnnxForecaster.open(spec, false, 1)) {
      int cells = spec.cells();
      for (int end = spec.alpha - 1; end < frames.size(); end++) {
        float[] window = new float[spec.alpha * cells];
        for (int k = 0; k < spec.alpha; k++) {
          System.arraycopy(observed.get(frames.get(end - spec.alpha + 1 + k).getValidTime().toEpochMilli()), 0, window,
              k * cells, cells);
        }
        long issue = frames.get(end).getValidTime().toEpochMilli();
        float[] expected = replay.forecast(issue, ort.forecast(List.of(window))[0]);
        CommittedForecasts.Seen got = byIssue.get(issue);
        assertThat(got.quantiles()).as("intervals of the forecast issued at %s", issue).hasSize(expected.length);
        assertThat(got.calibration().getSince().toEpochMilli()).as("calibrated since the first forecast").isEqualTo(first);
        assertThat(got.calibration().getUpdates()).as("verified leads folded in before %s", issue)
            .isEqualTo(replay.state().updates);
        double d = 0;
        for (int i = 0; i < expected.length; i++) {
          d = Math.max(d, Math.abs(got.quantiles()[i] - expected[i]));
        }
        worst = Math.max(worst, d);
        if (seen.indexOf(got) >= beforeKill) {
          worstAfterKill = Math.max(worstAfterKill, d);
        }
      }
    }
    System.out.printf("intervals against an uninterrupted run of the calibration: largest difference %.2e K (after the "
        + "kill %.2e K), %d verified leads folded in by the last forecast%n", worst, worstAfterKill, replay.state().updates);
    assertThat(worst).isLessThanOrEqualTo(1e-3);
    assertThat(replay.state().updates).as("the calibration moved").isGreaterThan(100);
  }

  private ChildJvm startJob(List<String> args, String name) throws Exception {
    return ChildJvm.start(name, work, ChildJvm.testClasspath(), "1g", Map.of(),
        List.of("-Dlog4j2.configurationFile=" + TestPaths.root().resolve("tools/conf/log4j2-cli.xml"),
            "-Dlsntp.log=" + work.resolve(name + "-lsntp.log"), "-Dlsntp.log.dir=" + work),
        "ai.lsntp.cli.Lsntp", args);
  }

  private static long checkpointCount(Path dir) throws Exception {
    try (var s = Files.find(dir, 4, (p, a) -> p.getFileName().toString().equals("_metadata"))) {
      return s.count();
    }
  }
}

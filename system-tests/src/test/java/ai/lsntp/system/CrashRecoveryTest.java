package ai.lsntp.system;

import ai.lsntp.config.Topic;
import ai.lsntp.testing.KafkaBroker;
import org.junit.jupiter.api.extension.RegisterExtension;
import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
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
 * transactions). A read_committed consumer must see every expected forecast exactly once.
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
        }
      } finally {
        paced.stop();
        replay.join(10_000);
        first.close();
      }
    }
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

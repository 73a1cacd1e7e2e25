package ai.lsntp.system;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.config.Topic;
import ai.lsntp.schemas.FrameTiles;
import ai.lsntp.testing.KafkaBroker;
import ai.lsntp.testing.KafkaIO;
import ai.lsntp.testing.ModelFiles;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.tools.FramePublisher;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A crash while a big grid's frame is half assembled loses nothing: ./lsntp job (its own JVM, the
 * TaskManager inside it) runs exactly-once on a 300 x 300 grid whose frames come as tiles of 64 KB
 * and whose forecasts leave as tiles of 256 KB. Half of one frame's tiles go in, a checkpoint
 * completes, the process is killed with SIGKILL, started again with the same command, and the rest
 * of the tiles follow: the restored checkpoint must hold the half frame (the source resumes after
 * its tiles, so nothing else could supply them), and a read_committed consumer must see every
 * forecast exactly once, none of them rejected.
 */
class TileCrashRecoveryTest {
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();
  static final String GRID = "tiles-300x300";
  static final long HOUR = 3_600_000L;
  static final long T0 = Instant.parse("2024-01-01T00:00:00Z").toEpochMilli();

  @TempDir Path work;

  static TemperatureFrame frame(int hour) {
    Random rnd = new Random(hour);
    float[] v = new float[300 * 300];
    for (int i = 0; i < v.length; i++) {
      v[i] = 260f + 30f * rnd.nextFloat();
    }
    return TemperatureFrame.newBuilder().setGridId(GRID).setValidTime(Instant.ofEpochMilli(T0 + hour * HOUR))
        .setSource("test").setHeight(300).setWidth(300).setLat0(55.0).setLon0(-5.0).setDlat(-0.01).setDlon(0.01)
        .setValues(PackedFloats.encode(v)).build();
  }

  @Test
  void aKilledTaskManagerResumesAHalfAssembledFrameAndEveryForecastComesOnce() throws Exception {
    String prefix = "tilecrash";
    kafka.createTopics(1, Topic.namesUnder(prefix));
    Path models = ModelFiles.persistence(work.resolve("models"), GRID, 300, 300, 2, 2, 55.0, -5.0, -0.01, 0.01)
        .getParent().getParent();
    Path checkpoints = Files.createDirectories(work.resolve("checkpoints"));
    List<String> job = new ArrayList<>(List.of("job", "--bootstrap-servers", kafka.bootstrapServers(), "--models",
        models.toString(), "--group-id", prefix, "--delivery", "exactly-once", "--checkpoint-interval", "1s",
        "--set", "checkpoints.directory=" + checkpoints, "--set", "stream.future-tolerance=3650d",
        "--set", "records.max-record-bytes=262144", "--set", "alerts=[]"));
    job.addAll(TestJobConfig.topicArguments(prefix));
    Properties client = new Properties();
    client.put("bootstrap.servers", kafka.bootstrapServers());
    int n = 8;
    int half = 4; // the frame of this hour is half sent when the process dies

    try (CommittedForecasts out = new CommittedForecasts(kafka.bootstrapServers(), Topic.FORECASTS.under(prefix));
        FramePublisher publisher = new FramePublisher(client, Topic.FRAMES.under(prefix), Duration.ofSeconds(60),
            Duration.ofSeconds(30), false, 64 * 1024)) {
      for (int hour = 0; hour < half; hour++) {
        publisher.send(frame(hour));
      }
      publisher.flush();
      assertThat(publisher.tiledFrames()).isEqualTo(half);
      ChildJvm first = startJob(job, "job-1");
      assertThat(out.await(half - 1, Duration.ofSeconds(180))).as("the first process's forecasts\n" + first.tail(40))
          .isTrue();

      List<TemperatureFrame> tiles = FrameTiles.INSTANCE.split(frame(half), GRID.length(), 64 * 1024);
      assertThat(tiles).hasSizeGreaterThan(4);
      int sentTiles = tiles.size() / 2;
      for (TemperatureFrame t : tiles.subList(0, sentTiles)) {
        publisher.send(t);
      }
      publisher.flush();
      // two checkpoints after the half frame went in: the second surely holds it
      long seen = newestCheckpoint(checkpoints);
      long until = System.currentTimeMillis() + 60_000;
      while (newestCheckpoint(checkpoints) < seen + 2 && System.currentTimeMillis() < until) {
        Thread.sleep(200);
      }
      assertThat(newestCheckpoint(checkpoints)).as("checkpoints after the half frame\n" + first.tail(40))
          .isGreaterThanOrEqualTo(seen + 2);
      first.kill();
      System.out.println("killed the job process (SIGKILL) with " + sentTiles + " of the " + tiles.size()
          + " tiles of hour " + half + " in; " + out.count() + " forecasts committed before");

      try (ChildJvm second = startJob(job, "job-2")) {
        for (TemperatureFrame t : tiles.subList(sentTiles, tiles.size())) {
          publisher.send(t);
        }
        for (int hour = half + 1; hour < n; hour++) {
          publisher.send(frame(hour));
        }
        publisher.flush();
        assertThat(publisher.failed()).isZero();
        out.await(n - 1, Duration.ofSeconds(120));
        out.awaitQuiet(Duration.ofSeconds(4), Duration.ofSeconds(30)); // a duplicate would come late
        assertThat(second.logText()).contains("resuming from");

        Map<Long, Long> perIssue = out.seen().stream().collect(Collectors.groupingBy(
            s -> (s.issueTime() - T0) / HOUR, TreeMap::new, Collectors.counting()));
        assertThat(perIssue.keySet()).as("issue hours, every window once\n" + second.tail(60))
            .containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L);
        assertThat(perIssue.values()).as("forecasts per issue time").containsOnly(1L);
        assertThat(KafkaIO.readCommitted(kafka.bootstrapServers(), Topic.REJECTS.under(prefix), 0, Duration.ofSeconds(2)))
            .as("no tile rejected: the half frame came back from the checkpoint").isEmpty();
      } finally {
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

  /** The id of the newest completed checkpoint kept (chk-N with its _metadata), 0 when none is. */
  private static long newestCheckpoint(Path dir) throws Exception {
    try (var s = Files.find(dir, 4, (p, a) -> p.getFileName().toString().equals("_metadata"))) {
      return s.map(p -> p.getParent().getFileName().toString()).filter(d -> d.startsWith("chk-"))
          .mapToLong(d -> Long.parseLong(d.substring(4))).max().orElse(0);
    }
  }
}

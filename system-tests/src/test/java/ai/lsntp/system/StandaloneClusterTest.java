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
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The application jar on a real standalone Flink cluster, not a MiniCluster: a JobManager and two
 * TaskManagers as separate JVMs from Flink's own entry points, the job submitted with Flink's CLI
 * at parallelism 2 with four grids spread over both TaskManagers. One TaskManager is killed with
 * SIGKILL mid-stream; the job recovers from its last checkpoint on the remaining slots, and a
 * read_committed consumer sees every expected forecast exactly once (no alpha - 1 gap: the
 * window state of the lost TaskManager's grids was restored).
 */
class StandaloneClusterTest {
  static final int PARALLELISM = 2;
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();

  @TempDir Path work;

  /** Four grid ids, two handled by each parallel instance of the keyed stages. */
  static List<String> gridsOverBothInstances(String base) {
    List<String> out = new ArrayList<>();
    int[] per = new int[PARALLELISM];
    int maxParallelism = KeyGroupRangeAssignment.computeDefaultMaxParallelism(PARALLELISM);
    for (int i = 0; out.size() < 4; i++) {
      String id = i == 0 ? base : base + "-copy" + i;
      int op = KeyGroupRangeAssignment.assignKeyToParallelOperator(id, maxParallelism, PARALLELISM);
      if (per[op] < 2) {
        per[op]++;
        out.add(id);
      }
    }
    return out;
  }

  /** A model directory serving the shipped ERA5 model under each grid id (its metadata's grid_id rewritten). */
  static Path modelsFor(List<String> grids, Path dir) throws Exception {
    Path shipped = TestPaths.models().resolve("era5-uk/model.onnx");
    for (String g : grids) {
      Path out = Files.createDirectories(dir.resolve(g)).resolve("model.onnx");
      Process p = new ProcessBuilder("/usr/bin/python3", "-c",
          "import onnx, sys; m = onnx.load(sys.argv[1]); "
              + "[setattr(e, 'value', sys.argv[2]) for e in m.metadata_props if e.key == 'grid_id']; onnx.save(m, sys.argv[3])",
          shipped.toString(), g, out.toString()).inheritIO().start();
      assertThat(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0).as("relabel the model for %s", g).isTrue();
    }
    return dir;
  }

  @Test
  void theJobSurvivesATaskManagerKilledMidStreamWithEveryForecastExactlyOnce() throws Exception {
    String prefix = "cluster";
    kafka.createTopics(2, Topic.namesUnder(prefix));
    ModelSpec uk = ModelCatalog.load(TestPaths.models()).forGrid(RealFrames.uk(1).get(0).getGridId());
    List<String> grids = gridsOverBothInstances(uk.gridId);
    Path models = modelsFor(grids, work.resolve("models"));
    int perGrid = 40;
    int head = uk.alpha + 3;
    List<TemperatureFrame> real = RealFrames.uk(perGrid);
    List<TemperatureFrame> frames = new ArrayList<>();
    for (TemperatureFrame f : real) { // time-major: every grid's frame of one hour, then the next hour
      for (String g : grids) {
        frames.add(TemperatureFrame.newBuilder(f).setGridId(g).build());
      }
    }
    Path checkpoints = Files.createDirectories(work.resolve("checkpoints"));
    Path appJar = TestPaths.root().resolve(BuildFacts.read().appJar());

    try (StandaloneFlinkCluster cluster = new StandaloneFlinkCluster(work.resolve("flink"), Map.of(
            "taskmanager.numberOfTaskSlots", "2",
            "parallelism.default", "1",
            "restart-strategy.type", "fixed-delay",
            "restart-strategy.fixed-delay.attempts", "10",
            "restart-strategy.fixed-delay.delay", "2 s",
            "state.backend.type", "hashmap",
            "execution.checkpointing.dir", checkpoints.toUri().toString(),
            "execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION"));
        CommittedForecasts out = new CommittedForecasts(kafka.bootstrapServers(), Topic.FORECASTS.under(prefix))) {
      cluster.startJobManager();
      cluster.startTaskManager();
      ChildJvm victim = cluster.startTaskManager();
      cluster.awaitTaskManagers(2, Duration.ofSeconds(120));

      Properties client = new Properties();
      client.put("bootstrap.servers", kafka.bootstrapServers());
      try (FramePublisher publisher = new FramePublisher(client, Topic.FRAMES.under(prefix), Duration.ofSeconds(60),
          Duration.ofSeconds(30), false)) {
        Replay.asFastAsPossible().run(frames.subList(0, head * grids.size()), 0, publisher, f -> { });
        publisher.flush();
        List<String> args = new ArrayList<>(List.of("--bootstrap-servers", kafka.bootstrapServers(),
            "--models", models.toString(), "--group-id", prefix, "--delivery", "exactly-once", "--checkpoint-interval", "2s",
            "--set", "stream.future-tolerance=3650d", "--set", "stream.idle-timeout=2s"));
        args.addAll(TestJobConfig.topicArguments(prefix));
        String submitted = cluster.submit(appJar, PARALLELISM, args);
        assertThat(submitted).contains("Job has been submitted with JobID");
        String jobId = submitted.replaceAll("(?s).*JobID ([0-9a-f]{32}).*", "$1");

        int firstForecasts = (head - uk.alpha + 1) * grids.size();
        assertThat(out.await(firstForecasts, Duration.ofSeconds(180))).as("first forecasts from the cluster\n"
            + cluster.jobManagerLog()).isTrue();
        assertThat(taskManagersRunning(cluster, jobId, "inference")).as("the inference instances run on both TaskManagers")
            .hasSize(2);

        Replay paced = Replay.everyInterval(Duration.ofMillis(100)); // 2.5 hours of four grids a second
        Thread replay = new Thread(() -> {
          try {
            paced.run(frames.subList(head * grids.size(), frames.size()), 0, publisher, f -> { });
            publisher.flush();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
        replay.start();
        try {
          assertThat(out.await(firstForecasts + 4 * grids.size(), Duration.ofSeconds(120))).isTrue();
          assertThat(completedCheckpoints(cluster, jobId)).as("checkpoints completed before the kill").isPositive();
          victim.kill();
          long killedAt = System.currentTimeMillis();
          int beforeKill = out.count();
          System.out.println("killed " + victim.name + " (SIGKILL) after " + beforeKill + " committed forecasts, "
              + publisher.sent() + " of " + frames.size() + " frames sent");
          assertThat(publisher.sent()).as("frames still to come after the kill").isLessThan(frames.size() - 4 * grids.size());

          replay.join(180_000);
          int expected = (perGrid - uk.alpha + 1) * grids.size();
          out.await(expected, Duration.ofSeconds(240));
          out.awaitQuiet(Duration.ofSeconds(6), Duration.ofSeconds(60));

          List<CommittedForecasts.Seen> seen = out.seen();
          Map<String, Long> perKey = seen.stream().collect(Collectors.groupingBy(s -> s.grid() + "@" + s.issueTime(),
              TreeMap::new, Collectors.counting()));
          Set<String> missing = new HashSet<>();
          for (String g : grids) {
            for (int end = uk.alpha - 1; end < perGrid; end++) {
              String k = g + "@" + real.get(end).getValidTime().toEpochMilli();
              if (!perKey.containsKey(k)) {
                missing.add(k);
              }
            }
          }
          long duplicated = perKey.values().stream().filter(c -> c > 1).count();
          long firstAfter = seen.stream().skip(beforeKill).mapToLong(CommittedForecasts.Seen::arrivedAt).min().orElse(-1);
          JsonNode job = cluster.rest("/jobs/" + jobId);
          System.out.printf("after the TaskManager kill: %d forecasts expected, %d seen, %d missing, %d duplicated; "
              + "first recovered forecast %.1f s after the kill; job %s%n", expected, seen.size(), missing.size(),
              duplicated, (firstAfter - killedAt) / 1000.0, job == null ? "?" : job.path("state").asText());
          assertThat(missing).as("forecasts missing after the TaskManager kill\n" + cluster.jobManagerLog()).isEmpty();
          assertThat(duplicated).as("forecasts duplicated after the TaskManager kill").isZero();
          assertThat(job.path("state").asText()).isEqualTo("RUNNING");
        } finally {
          paced.stop();
          replay.join(10_000);
        }
      }
    }
  }

  /** The TaskManagers running the subtasks of the job vertex whose name contains {@code vertex}. */
  static Set<String> taskManagersRunning(StandaloneFlinkCluster cluster, String jobId, String vertex) throws Exception {
    long end = System.currentTimeMillis() + 60_000;
    String last = "";
    while (System.currentTimeMillis() < end) {
      JsonNode job = cluster.rest("/jobs/" + jobId);
      if (job != null) {
        for (JsonNode v : job.path("vertices")) {
          if (v.path("name").asText().contains(vertex)) {
            JsonNode tms = cluster.rest("/jobs/" + jobId + "/vertices/" + v.path("id").asText() + "/taskmanagers");
            last = v.path("name").asText() + ": " + tms;
            Set<String> ids = new HashSet<>();
            if (tms != null) {
              for (JsonNode tm : tms.path("taskmanagers")) {
                if (tm.path("status").asText().equals("RUNNING")) {
                  ids.add(tm.path("taskmanager-id").asText());
                }
              }
            }
            if (ids.size() >= PARALLELISM) {
              return ids;
            }
          }
        }
      }
      Thread.sleep(500);
    }
    System.out.println("no vertex '" + vertex + "' running on " + PARALLELISM + " TaskManagers; last answer " + last);
    return Set.of();
  }

  static long completedCheckpoints(StandaloneFlinkCluster cluster, String jobId) {
    JsonNode c = cluster.rest("/jobs/" + jobId + "/checkpoints");
    return c == null ? 0 : c.path("counts").path("completed").asLong();
  }
}

package ai.lsntp.system;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.avro.Verification;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.tools.FramePublisher;
import ai.lsntp.tools.Replay;
import ai.lsntp.tools.TopicWatcher;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.WakeupException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * What KafkaCommitter's "Unable to commit transaction ... because its producer is already fenced
 * ... this most likely signals data loss" ERROR after a restart means, on a real broker process
 * (transaction protocol v2) and a real TaskManager killed with SIGKILL.
 *
 * <p>The job runs on a standalone cluster with a test hook ({@link CommitWindowJob}) that holds the
 * calibration task (calibrate-verify), whose chain holds the forecasts sink's writer and committer, until a checkpoint
 * completes while it is held: that checkpoint is complete on the JobManager and its forecasts
 * transaction is not committed (the notice that would commit it waits behind the hold), while the
 * other sinks (verification, ...) do commit theirs. The TaskManager is then killed and a new one
 * takes over from that checkpoint. Both cases of the restored checkpoint's transactions happen in
 * one run: the forecasts transaction, never committed, is committed by the recovery (its forecasts,
 * produced before the kill, become visible after it); the others, committed before the kill, are
 * committed again and refused with that ERROR. Checked from outside: every forecast and every
 * verification exactly once (read_committed), and for every ERROR line the transaction it names is
 * COMPLETE_COMMIT on the coordinator at the epoch its first commit left, with the job's own WARN
 * (CommitCheckedSink) saying so beside it.
 */
class CommitterFencingTest {
  private static final Pattern FENCED = Pattern.compile("ERROR KafkaCommitter - Unable to commit transaction \\(.*?"
      + "producerId=(\\d+), epoch=(\\d+), transactionalId='([^']+)'.*?because its producer is already fenced");
  private static final Pattern CHECKED = Pattern.compile("CommitCheckedSink - Checked with Kafka: transaction (\\S+) of the "
      + "(\\S+) sink .*?(was committed|was ABORTED|Kafka can no longer tell)");

  @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path work; // a failure's logs stay for reading

  /** A forecast as a read_committed consumer received it. */
  record Seen(String grid, long issueTime, long producedAt, long arrivedAt) {}

  @Test
  void theFencedRecommitsAfterAKillAreCommittedTransactionsAndNoForecastIsLost() throws Exception {
    String prefix = "fence";
    ModelSpec uk = ModelCatalog.load(TestPaths.models()).forGrid(RealFrames.uk(1).get(0).getGridId());
    int n = 200;
    int head = uk.alpha + 4;
    List<TemperatureFrame> frames = RealFrames.uk(n);
    Path checkpoints = Files.createDirectories(work.resolve("checkpoints"));
    Path probe = Files.createDirectories(work.resolve("probe"));
    Path appJar = TestPaths.root().resolve(BuildFacts.read().appJar());
    Path hook = Path.of(CommitWindowJob.class.getProtectionDomain().getCodeSource().getLocation().toURI());

    try (StandaloneFlinkCluster cluster = new StandaloneFlinkCluster(work.resolve("flink"), Map.of(
            "taskmanager.numberOfTaskSlots", "2",
            "parallelism.default", "1",
            "restart-strategy.type", "fixed-delay",
            "restart-strategy.fixed-delay.attempts", "10",
            "restart-strategy.fixed-delay.delay", "1 s",
            "state.backend.type", "hashmap",
            "execution.checkpointing.dir", checkpoints.toUri().toString()))) {
      // which transactions each committer commits (DEBUG), to set beside the ERROR lines
      Files.writeString(cluster.conf.resolve("log4j2.properties"), String.join("\n",
          "logger.committer.name = org.apache.flink.connector.kafka.sink.internal.KafkaCommitter",
          "logger.committer.level = DEBUG", ""), java.nio.file.StandardOpenOption.APPEND);
      // the cluster's JVMs start while the broker's do
      cluster.startJobManager();
      ChildJvm victim = cluster.startTaskManager();
      try (KafkaBrokerProcess kafka = KafkaBrokerProcess.start(work.resolve("kafka"));
          Admin admin = Admin.create(kafka.client())) {
        short tv = admin.describeFeatures().featureMetadata().get().finalizedFeatures().get("transaction.version")
            .maxVersionLevel();
        System.out.println("broker process: transaction.version " + tv);
        assertThat(tv).as("the broker runs transaction protocol v2 (KIP-890), the case the ERROR comes from").isGreaterThanOrEqualTo((short) 2);
        List<NewTopic> topics = new ArrayList<>();
        for (String t : ai.lsntp.config.Topic.namesUnder(prefix)) {
          topics.add(new NewTopic(t, 1, (short) 1));
        }
        admin.createTopics(topics).all().get();
        cluster.awaitTaskManagers(1, Duration.ofSeconds(120));

        try (Output out = new Output(kafka.bootstrap(), prefix + ".forecasts", prefix + ".verification");
            FramePublisher publisher = new FramePublisher(kafka.client(), prefix + ".frames", Duration.ofSeconds(60),
                Duration.ofSeconds(30), false)) {
          Replay.asFastAsPossible().run(frames.subList(0, head), 0, publisher, f -> { });
          publisher.flush();
          String submitted = cluster.submit(List.of("-C", hook.toUri().toString(), "-c", CommitWindowJob.class.getName()),
              appJar, 1, List.of(probe.toString(), checkpoints.toString(),
              "--bootstrap-servers", kafka.bootstrap(), "--models", TestPaths.models().toString(), "--group-id", prefix,
              "--frames-topic", prefix + ".frames", "--forecasts-topic", prefix + ".forecasts",
              "--alerts-topic", prefix + ".alerts", "--rejects-topic", prefix + ".rejects",
              "--model-events-topic", prefix + ".model-events", "--verification-topic", prefix + ".verification",
              "--delivery", "exactly-once", "--checkpoint-interval", "1s", "--set", "stream.future-tolerance=3650d",
              // small batches: forecasts reach the held calibration task one or two at a time, so with them queued
              // one begins as soon as a barrier has passed (CommitWindowJob.HoldForecasts)
              "--set", "batching.max-windows=2"));
          assertThat(submitted).contains("Job has been submitted with JobID");
          String jobId = submitted.replaceAll("(?s).*JobID ([0-9a-f]{32}).*", "$1");
          assertThat(out.awaitForecasts(head - uk.alpha + 1, Duration.ofSeconds(180))).as("first forecasts\n"
              + cluster.jobManagerLog() + "\n" + victim.tail(60)).isTrue();

          // the stream goes on, a frame every 50 ms (faster than the hook lets the calibration task go), until the
          // hook has held it across a checkpoint's completion; the rest of it comes after the kill
          Replay paced = Replay.everyInterval(Duration.ofMillis(50));
          long[] sentPaced = {0};
          Thread replay = new Thread(() -> {
            try {
              sentPaced[0] = paced.run(frames.subList(head, n), 0, publisher, f -> { });
              publisher.flush();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
          replay.start();
          try {
            assertThat(out.awaitForecasts(head - uk.alpha + 1 + 2, Duration.ofSeconds(60))).isTrue();
            assertThat(StandaloneClusterTest.completedCheckpoints(cluster, jobId)).isPositive();
            Files.writeString(probe.resolve("go"), "");
            long until = System.currentTimeMillis() + 60_000;
            while (!Files.exists(probe.resolve("window")) && replay.isAlive() && System.currentTimeMillis() < until) {
              Thread.sleep(50);
            }
            paced.stop();
            replay.join(10_000);
            assertThat(probe.resolve("window")).as("the hook held the calibration task across a checkpoint's completion (%d of %d frames "
                + "sent)\n%s", head + sentPaced[0], n, victim.tail(40)).exists();
            String window = Files.readString(probe.resolve("window")).trim();
            // the other tasks are not held: let their commits of that checkpoint land, so that the
            // recovery meets transactions committed before the kill as well as one that was not
            Thread.sleep(2000);
            int visibleBefore = out.forecasts().size();
            victim.kill();
            long killedAt = System.currentTimeMillis();
            int rest = n - head - (int) sentPaced[0];
            System.out.println("killed " + victim.name + " (SIGKILL) with " + visibleBefore + " forecasts visible, "
                + rest + " of " + n + " frames still to come; probe: " + window);
            assertThat(rest).as("frames still to come after the kill").isPositive();
            ChildJvm successor = cluster.startTaskManager();
            Replay.asFastAsPossible().run(frames.subList(n - rest, n), 0, publisher, f -> { });
            publisher.flush();

            int expected = n - uk.alpha + 1;
            out.awaitForecasts(expected, Duration.ofSeconds(120));
            out.awaitQuiet(Duration.ofSeconds(5), Duration.ofSeconds(30)); // a duplicate would come late

            // 1. every forecast and every verification, exactly once
            List<Seen> seen = out.forecasts();
            Map<Long, Long> perIssue = seen.stream().collect(Collectors.groupingBy(Seen::issueTime, TreeMap::new,
                Collectors.counting()));
            List<Long> missing = new ArrayList<>();
            for (int end = uk.alpha - 1; end < n; end++) {
              if (!perIssue.containsKey(frames.get(end).getValidTime().toEpochMilli())) {
                missing.add(frames.get(end).getValidTime().toEpochMilli());
              }
            }
            long duplicated = perIssue.values().stream().filter(c -> c > 1).count();
            Map<String, Long> perScore = out.verifications().stream().collect(Collectors.groupingBy(k -> k, TreeMap::new,
                Collectors.counting()));
            List<String> missingScores = new ArrayList<>();
            for (int end = uk.alpha - 1; end < n; end++) {
              for (int lead = 1; lead <= uk.beta && end + lead < n; lead++) {
                String k = frames.get(end).getValidTime().toEpochMilli() + "/" + lead;
                if (!perScore.containsKey(k)) {
                  missingScores.add(k);
                }
              }
            }
            long duplicatedScores = perScore.values().stream().filter(c -> c > 1).count();
            // 2. the checkpoint's forecasts transaction, never committed before the kill, committed by the recovery
            long committedByRecovery = seen.stream().filter(s -> s.producedAt() < killedAt && s.arrivedAt() > killedAt).count();

            // 3. every "already fenced" ERROR of the new TaskManager, against the coordinator and the job's WARN
            String log = successor.logText();
            Map<String, long[]> fenced = new LinkedHashMap<>();
            Matcher m = FENCED.matcher(log);
            while (m.find()) {
              fenced.put(m.group(3), new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))});
            }
            Map<String, String> checked = new LinkedHashMap<>();
            Matcher c = CHECKED.matcher(log);
            while (c.find()) {
              checked.put(c.group(1), c.group(3));
            }
            Map<String, TransactionDescription> described = fenced.isEmpty() ? Map.of()
                : admin.describeTransactions(fenced.keySet()).all().get();
            JsonNode restored = cluster.rest("/jobs/" + jobId + "/checkpoints");
            long restoredId = restored == null ? -1 : restored.path("latest").path("restored").path("id").asLong(-1);
            String forecastsTxn = "lsntp-forecasts-0-" + restoredId;
            TransactionDescription forecastsState = admin.describeTransactions(List.of(forecastsTxn)).all().get().get(forecastsTxn);

            System.out.printf("after the TaskManager kill: %d forecasts expected, %d seen, %d missing, %d duplicated; "
                + "%d verifications seen, %d missing, %d duplicated; restored checkpoint %d; %d forecasts produced before "
                + "the kill became visible only after it (the recovery's first commit of %s, now %s at epoch %d)%n",
                expected, seen.size(), missing.size(), duplicated, perScore.size(), missingScores.size(), duplicatedScores,
                restoredId, committedByRecovery, forecastsTxn, forecastsState.state(), forecastsState.producerEpoch());
            String before = victim.logText();
            List<String> committedBeforeAndAgain = new ArrayList<>();
            for (String sink : List.of("forecasts", "verification", "alerts", "rejects", "model-events")) {
              String id = "lsntp-" + sink + "-0-" + restoredId;
              String state;
              try {
                TransactionDescription d = admin.describeTransactions(List.of(id)).all().get().get(id);
                state = d.state() + " producer id " + d.producerId() + " epoch " + d.producerEpoch();
              } catch (java.util.concurrent.ExecutionException e) {
                state = String.valueOf(e.getCause());
              }
              boolean first = before.contains("Committing Kafka transaction " + id + "\n");
              boolean again = log.contains("Committing Kafka transaction " + id + "\n");
              if (first && again) {
                committedBeforeAndAgain.add(id);
              }
              System.out.printf("  %s: commit begun before the kill %s, commit on recovery %s; coordinator now %s%n", id,
                  first, again, state);
            }
            fenced.forEach((id, pe) -> {
              TransactionDescription d = described.get(id);
              System.out.printf("  'already fenced' ERROR for %s (producer id %d, epoch %d): coordinator %s, producer id %d, "
                  + "epoch %d; the job's check: %s%n", id, pe[0], pe[1], d.state(), d.producerId(), d.producerEpoch(),
                  checked.get(id));
            });

            assertThat(missing).as("forecasts missing after the kill\n" + successor.tail(80)).isEmpty();
            assertThat(duplicated).as("forecasts duplicated after the kill").isZero();
            assertThat(seen).hasSize(expected);
            assertThat(missingScores).as("verifications missing after the kill").isEmpty();
            assertThat(duplicatedScores).as("verifications duplicated after the kill").isZero();
            assertThat(committedByRecovery).as("the restored checkpoint's forecasts transaction, uncommitted at the kill, "
                + "committed by the recovery (else the window was not hit)").isPositive();
            assertThat(restoredId).isPositive();
            // the case under investigation must have happened: a restored transaction committed before the kill
            // (Kafka 4.2 with flink-connector-kafka 5.0.0-2.2 refuses its second commit as fenced)
            assertThat(fenced).as("'already fenced' ERROR lines after the restart\n" + successor.tail(80)).isNotEmpty();
            for (Map.Entry<String, long[]> e : fenced.entrySet()) {
              TransactionDescription d = described.get(e.getKey());
              assertThat(d.state()).as("coordinator state of %s", e.getKey()).isEqualTo(TransactionState.COMPLETE_COMMIT);
              assertThat(d.producerId()).as("producer id of %s", e.getKey()).isEqualTo(e.getValue()[0]);
              assertThat((long) d.producerEpoch()).as("epoch of %s: its v2 commit bumped the checkpoint's by one", e.getKey())
                  .isEqualTo(e.getValue()[1] + 1);
              assertThat(checked.get(e.getKey())).as("the job's WARN beside the ERROR for %s", e.getKey())
                  .isEqualTo("was committed");
            }
            // the ERROR lines are exactly the second commits: the restored transactions committed before the kill
            assertThat(fenced.keySet()).as("transactions refused as fenced on recovery")
                .containsExactlyInAnyOrderElementsOf(committedBeforeAndAgain).doesNotContain(forecastsTxn);
            assertThat(checked.keySet()).as("the job checked exactly the transactions the connector gave up")
                .containsExactlyInAnyOrderElementsOf(fenced.keySet());
            assertThat(forecastsState.state()).as("%s is not left open or aborted", forecastsTxn)
                .isIn(TransactionState.COMPLETE_COMMIT, TransactionState.EMPTY);
          } finally {
            paced.stop();
            replay.join(10_000);
          }
        }
      }
    }
  }

  /** The forecasts and verifications a read_committed consumer receives, collected in the background. */
  static final class Output implements AutoCloseable {
    private final List<Seen> forecasts = new CopyOnWriteArrayList<>();
    private final List<String> verifications = new CopyOnWriteArrayList<>();
    private final TopicWatcher watcher;
    private final Thread thread;
    private volatile boolean running = true;

    Output(String bootstrap, String forecastsTopic, String verificationTopic) {
      java.util.Properties p = new java.util.Properties();
      p.put("bootstrap.servers", bootstrap);
      watcher = new TopicWatcher(p, new TopicWatcher.Topics(forecastsTopic, null, null, verificationTopic), null, true);
      TopicWatcher.Handler h = new TopicWatcher.Handler() {
        @Override
        public void forecast(Forecast f) {
          forecasts.add(new Seen(f.getGridId(), f.getIssueTime().toEpochMilli(), f.getProducedAt().toEpochMilli(),
              System.currentTimeMillis()));
        }

        @Override
        public void verification(Verification v) {
          verifications.add(v.getIssueTime().toEpochMilli() + "/" + v.getLead());
        }

        @Override
        public void undecodable(ConsumerRecord<byte[], byte[]> r, String expected, Exception why) {
          throw new AssertionError("a record on " + r.topic() + " is not a " + expected, why);
        }
      };
      thread = new Thread(() -> {
        try {
          while (running) {
            watcher.poll(Duration.ofMillis(100), h);
          }
        } catch (WakeupException e) {
          // closing
        }
      }, "committed-output");
      thread.setDaemon(true);
      thread.start();
    }

    List<Seen> forecasts() {
      return new ArrayList<>(forecasts);
    }

    List<String> verifications() {
      return new ArrayList<>(verifications);
    }

    boolean awaitForecasts(int n, Duration timeout) throws InterruptedException {
      long end = System.nanoTime() + timeout.toNanos();
      while (forecasts.size() < n && System.nanoTime() < end) {
        Thread.sleep(100);
      }
      return forecasts.size() >= n;
    }

    /** Waits until neither topic brought a record for {@code quiet}, or {@code timeout} passed. */
    void awaitQuiet(Duration quiet, Duration timeout) throws InterruptedException {
      long end = System.nanoTime() + timeout.toNanos();
      int last = -1;
      long lastChange = System.nanoTime();
      while (System.nanoTime() < end) {
        int now = forecasts.size() + verifications.size();
        if (now != last) {
          last = now;
          lastChange = System.nanoTime();
        } else if (System.nanoTime() - lastChange > quiet.toNanos()) {
          return;
        }
        Thread.sleep(100);
      }
    }

    @Override
    public void close() throws InterruptedException {
      running = false;
      watcher.wakeup();
      thread.join(5000);
      watcher.close();
    }
  }
}

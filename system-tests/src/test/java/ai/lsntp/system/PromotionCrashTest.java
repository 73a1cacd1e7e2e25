package ai.lsntp.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.ModelEventKind;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.job.PromotionRule;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.testing.CommittedRecords;
import ai.lsntp.testing.KafkaBroker;
import ai.lsntp.testing.ModelFiles;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.tools.FramePublisher;
import ai.lsntp.tools.Replay;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A crash around a promotion must not change it: ./lsntp job (its own JVM, exactly-once) serves a
 * grid with persistence + 1 K beside challenger "better" (persistence), promotion automatic. The
 * evidence builds up over the first frames; the frame that completes the deciding issue time is
 * sent and the process SIGKILLed at once, so the decision is lost with the process or was taken
 * and not yet published (whichever the kill caught); the same command resumes from the newest
 * checkpoint. The PROMOTED event must carry exactly the decision an uninterrupted run makes (the
 * rule over the paired differences computed here from the frames: issue times, mean difference,
 * interval, switch point), once, and the forecasts topic every window exactly once, the old model's
 * before the switch point and the promoted one's from it.
 */
class PromotionCrashTest {
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();
  static final int ALPHA = 6;
  static final int BETA = 6;

  @TempDir Path work;

  /** The per-issue-time differences (persistence minus persistence + 1 K, MAE over every lead), in issue order. */
  static double[] differences(List<TemperatureFrame> frames) {
    List<Double> out = new ArrayList<>();
    for (int i = ALPHA - 1; i + BETA < frames.size(); i++) {
      float[] held = PackedFloats.decode(frames.get(i).getValues());
      double plain = 0;
      double biased = 0;
      double cells = 0;
      for (int lead = 1; lead <= BETA; lead++) {
        float[] obs = PackedFloats.decode(frames.get(i + lead).getValues());
        double a = 0;
        double b = 0;
        for (int c = 0; c < obs.length; c++) { // as the verifier sums: per lead, cell by cell, in double
          a += Math.abs(held[c] - obs[c]);
          b += Math.abs((held[c] + 1f) - obs[c]);
        }
        plain += a;
        biased += b;
        cells += obs.length;
      }
      out.add(plain / cells - biased / cells);
    }
    return out.stream().mapToDouble(Double::doubleValue).toArray();
  }

  /**
   * @param afterDecision kill once the job's log says it decided (the decision taken, the switch at
   *     most moments from being published, the checkpoint that would hold either not yet taken);
   *     otherwise at once after the completing frame is sent (usually before the decision)
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
  void aJobKilledAsItDecidesAPromotionResumesToTheSameDecision(boolean afterDecision) throws Exception {
    String prefix = "promocrash" + (afterDecision ? "-after" : "-at");
    kafka.createTopics(1, Topic.namesUnder(prefix));
    Path like = TestPaths.models().resolve("era5-uk/model.onnx");
    Path models = work.resolve("models");
    ModelFiles.persistence(like, models.resolve("era5-uk/model.onnx"), "persistence+1K", "1.0.0-biased", 1.0);
    ModelFiles.persistence(like, models.resolve("era5-uk/challengers/better/model.onnx"), "persistence", "1.0.0-plain", 0.0);
    Map<String, String> promotion = Map.of("promotion.policy", "automatic", "promotion.min-issue-times", "12",
        "promotion.block-length", "3", "promotion.resamples", "500");

    // what an uninterrupted run decides: the first prefix of the evidence the rule accepts
    int n = 36;
    List<TemperatureFrame> frames = RealFrames.uk(n);
    LsntpConfig.Promotion settings = new LsntpConfig.Promotion();
    settings.policy = "automatic";
    settings.minIssueTimes = 12;
    settings.blockLength = 3;
    settings.resamples = 500;
    PromotionRule rule = new PromotionRule(settings);
    double[] all = differences(frames);
    int decidedAt = -1;
    PromotionRule.Evidence expected = null;
    for (int k = 1; k <= all.length && expected == null; k++) {
      PromotionRule.Evidence e = rule.judge(Arrays.copyOf(all, k));
      if (e.promote()) {
        expected = e;
        decidedAt = k;
      }
    }
    assertThat(expected).as("the frames make a decision").isNotNull();
    int lastIssueIndex = ALPHA - 1 + decidedAt - 1; // the frame index of the deciding issue time
    int completing = lastIssueIndex + BETA; // the frame that completes its evidence
    long switchAt = frames.get(completing).getValidTime().toEpochMilli();

    Path checkpoints = Files.createDirectories(work.resolve("checkpoints"));
    List<String> job = new ArrayList<>(List.of("job", "--bootstrap-servers", kafka.bootstrapServers(), "--models",
        models.toString(), "--group-id", prefix, "--delivery", "exactly-once", "--checkpoint-interval", "1s",
        "--set", "checkpoints.directory=" + checkpoints, "--set", "stream.future-tolerance=3650d", "--set", "alerts=[]"));
    promotion.forEach((k, v) -> {
      job.add("--set");
      job.add(k + "=" + v);
    });
    job.addAll(TestJobConfig.topicArguments(prefix));
    Properties client = new Properties();
    client.put("bootstrap.servers", kafka.bootstrapServers());
    String forecastsTopic = Topic.FORECASTS.under(prefix);
    String eventsTopic = Topic.MODEL_EVENTS.under(prefix);
    try (CommittedRecords out = new CommittedRecords(kafka.bootstrapServers(), forecastsTopic, eventsTopic);
        FramePublisher publisher = new FramePublisher(client, Topic.FRAMES.under(prefix), Duration.ofSeconds(60),
            Duration.ofSeconds(30), false)) {
      // every frame before the completing one: the evidence all but complete, committed by a checkpoint
      Replay.asFastAsPossible().run(frames.subList(0, completing), 0, publisher, f -> { });
      publisher.flush();
      ChildJvm first = ChildJvms.job(work, job, "job-1");
      try {
        int before = completing - ALPHA + 1;
        assertThat(out.await(forecastsTopic, r -> r.size() >= before, Duration.ofSeconds(180)))
            .as("the first job's forecasts\n" + first.tail(40)).isTrue();
        assertThat(events(out, eventsTopic)).noneMatch(e -> e.getKind() == ModelEventKind.PROMOTED);
        // the completing frame, and the kill as it is being decided on
        Replay.asFastAsPossible().run(frames.subList(completing, completing + 1), 0, publisher, f -> { });
        publisher.flush();
        if (afterDecision) {
          long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
          while (!decided(work, "job-1") && System.nanoTime() < until) {
            Thread.sleep(20);
          }
          assertThat(decided(work, "job-1")).as("the first job decided\n" + first.tail(40)).isTrue();
        }
        first.kill();
        // which moment the kill caught (both must resume to the same decision): the log says
        System.out.println("killed the job process (SIGKILL) " + (decided(work, "job-1")
            ? "after it decided the promotion" : "before it decided the promotion"));
      } finally {
        first.close();
      }
      try (ChildJvm second = ChildJvms.job(work, job, "job-2")) {
        Replay.asFastAsPossible().run(frames.subList(completing + 1, n), 0, publisher, f -> { });
        publisher.flush();
        int expectedForecasts = n - ALPHA + 1;
        assertThat(out.await(forecastsTopic, r -> r.size() >= expectedForecasts, Duration.ofSeconds(180)))
            .as("every forecast\n" + second.tail(60)).isTrue();
        assertThat(out.await(eventsTopic, r -> events(out, eventsTopic).stream()
            .anyMatch(e -> e.getKind() == ModelEventKind.DEMOTED), Duration.ofSeconds(60))).isTrue();
        assertThat(second.logText()).contains("resuming from");
      }

      List<ModelEvent> promoted = events(out, eventsTopic).stream()
          .filter(e -> e.getKind() == ModelEventKind.PROMOTED).toList();
      assertThat(promoted).as("one promotion, committed once").hasSize(1);
      ModelEvent p = promoted.get(0);
      System.out.printf("promotion after the kill: %s, expected n=%d mean %.4f K [%.4f, %.4f] from %s%n", p.getEvidence(),
          expected.n(), expected.meanDifference(), expected.low(), expected.high(), java.time.Instant.ofEpochMilli(switchAt));
      assertThat(p.getSlot()).isEqualTo("better");
      assertThat(p.getEvidence().getIssueTimes()).isEqualTo(expected.n());
      assertThat(p.getEvidence().getMeanDifference()).isCloseTo(expected.meanDifference(), within(1e-9));
      assertThat(p.getEvidence().getIntervalLow()).isCloseTo(expected.low(), within(1e-9));
      assertThat(p.getEvidence().getIntervalHigh()).isCloseTo(expected.high(), within(1e-9));
      assertThat(p.getEvidence().getEffectiveFrom().toEpochMilli()).isEqualTo(switchAt);

      TreeMap<Long, Integer> perIssue = new TreeMap<>();
      TreeMap<Long, String> version = new TreeMap<>();
      RecordCodec<Forecast> codec = RecordCodec.of(Forecast.class);
      for (CommittedRecords.Arrived r : out.on(forecastsTopic)) {
        Forecast f = codec.decode(r.value());
        perIssue.merge(f.getIssueTime().toEpochMilli(), 1, Integer::sum);
        version.put(f.getIssueTime().toEpochMilli(), f.getModelVersion());
      }
      List<Long> want = new ArrayList<>();
      for (int end = ALPHA - 1; end < n; end++) {
        want.add(frames.get(end).getValidTime().toEpochMilli());
      }
      assertThat(perIssue.keySet()).as("every window forecast").containsExactlyElementsOf(want);
      assertThat(perIssue.values()).as("none twice").containsOnly(1);
      assertThat(version.headMap(switchAt).values()).isNotEmpty().containsOnly("1.0.0-biased");
      assertThat(version.tailMap(switchAt).values()).isNotEmpty().containsOnly("1.0.0-plain");
    }
  }

  /** Whether the job's log file says it decided the promotion. */
  static boolean decided(Path work, String name) throws java.io.IOException {
    Path log = work.resolve(name + "-lsntp.log");
    return Files.exists(log) && Files.readString(log).contains("earned promotion");
  }

  static List<ModelEvent> events(CommittedRecords out, String topic) {
    RecordCodec<ModelEvent> codec = RecordCodec.of(ModelEvent.class);
    List<ModelEvent> events = new ArrayList<>();
    for (CommittedRecords.Arrived r : out.on(topic)) {
      try {
        events.add(codec.decode(r.value()));
      } catch (java.io.IOException e) {
        throw new IllegalStateException(e);
      }
    }
    return events;
  }

  /** ./lsntp job in a JVM of its own, logging where the test can read it (as CrashRecoveryTest starts it). */
  static final class ChildJvms {
    static ChildJvm job(Path work, List<String> args, String name) throws Exception {
      return ChildJvm.start(name, work, ChildJvm.testClasspath(), "1g", Map.of(),
          List.of("-Dlog4j2.configurationFile=" + TestPaths.root().resolve("tools/conf/log4j2-cli.xml"),
              "-Dlsntp.log=" + work.resolve(name + "-lsntp.log"), "-Dlsntp.log.dir=" + work),
          "ai.lsntp.cli.Lsntp", args);
    }
  }
}

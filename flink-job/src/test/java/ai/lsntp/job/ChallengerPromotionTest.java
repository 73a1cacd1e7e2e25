package ai.lsntp.job;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.ModelEventKind;
import ai.lsntp.avro.ModelRole;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.avro.Verification;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.testing.CommittedRecords;
import ai.lsntp.testing.KafkaBroker;
import ai.lsntp.testing.ModelFiles;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.core.execution.JobClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Challengers on a real broker and a MiniCluster, with models of known skill built for the test:
 * the grid's own model forecasts persistence + 1 K, challenger "better" persistence, challenger
 * "worse" persistence + 2 K, on the shipped ERA5 frames. Under the automatic policy "better" is
 * promoted with its evidence in the PROMOTED event, the grid's model is DEMOTED with the same
 * evidence; every window is forecast exactly once on the forecasts topic, by the old model before
 * the switch and by "better" from its issue time on; "worse" is verified throughout but never
 * promoted; a challenger whose grid folder has no model is refused with an event naming why.
 */
class ChallengerPromotionTest {
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();

  @TempDir Path tmp;

  /** The grid folder's model (persistence + 1 K), "better" (persistence) and "worse" (persistence + 2 K). */
  static Path models(Path dir) throws Exception {
    Path like = TestPaths.models().resolve("era5-uk/model.onnx");
    Path models = dir.resolve("models");
    ModelFiles.persistence(like, models.resolve("era5-uk/model.onnx"), "persistence+1K", "1.0.0-biased", 1.0);
    ModelFiles.persistence(like, models.resolve("era5-uk/challengers/better/model.onnx"), "persistence", "1.0.0-plain", 0.0);
    ModelFiles.persistence(like, models.resolve("era5-uk/challengers/worse/model.onnx"), "persistence+2K", "1.0.0-worse", 2.0);
    // a challenger with no model to challenge: refused, never run
    ModelFiles.persistence(like, models.resolve("orphan/challengers/lonely/model.onnx"), "persistence", "1.0.0-orphan", 0.0);
    return models;
  }

  @Test
  void aBetterChallengerIsPromotedOnItsEvidenceAndAWorseOneNever() throws Exception {
    String prefix = "challengers";
    kafka.createTopics(1, Topic.namesUnder(prefix));
    Path models = models(tmp);
    ModelCatalog.Scan scan = ModelCatalog.scan(models);
    assertThat(scan.catalog.challengers("era5-uk-0p25")).containsOnlyKeys("better", "worse");
    assertThat(scan.refused).hasSize(1);
    assertThat(scan.refused.values().iterator().next()).contains("challenger 'lonely' has no model to challenge");

    LsntpConfig cfg = TestJobConfig.onTopics(kafka.bootstrapServers(), prefix)
        .set("models.directory", models.toString())
        .set("models.poll-interval", "500ms")
        .set("delivery.checkpoint-interval", "500ms")
        .set("stream.future-tolerance", "3650d")
        .set("alerts", "[]")
        .set("promotion.policy", "automatic")
        .set("promotion.min-issue-times", "12")
        .set("promotion.block-length", "3")
        .set("promotion.resamples", "500")
        .load();
    int frames = 40;
    List<TemperatureFrame> uk = RealFrames.uk(frames);
    int windows = frames - 6 + 1;
    try (CommittedRecords out = new CommittedRecords(kafka.bootstrapServers(), cfg.topics.forecasts,
        cfg.topics.modelEvents, cfg.topics.verification)) {
      JobClient job = ForecastJob.fromKafka(cfg, false).executeAsync(ForecastJob.localEnvironment(cfg));
      try {
        send(cfg, uk);
        assertThat(out.await(cfg.topics.forecasts, r -> r.size() >= windows, Duration.ofSeconds(180))).isTrue();
        assertThat(out.await(cfg.topics.modelEvents, r -> kinds(out, cfg).contains(ModelEventKind.DEMOTED),
            Duration.ofSeconds(60))).as("promoted and demoted: %s", kinds(out, cfg)).isTrue();
        // what arrives later: the refusal and the verifications of the last leads
        assertThat(out.await(cfg.topics.modelEvents, r -> kinds(out, cfg).contains(ModelEventKind.REFUSED),
            Duration.ofSeconds(30))).isTrue();
      } finally {
        job.cancel().get();
      }

      List<ModelEvent> events = ModelRolloutTest.events(out, cfg);
      List<ModelEvent> promoted = events.stream().filter(e -> e.getKind() == ModelEventKind.PROMOTED).toList();
      List<ModelEvent> demoted = events.stream().filter(e -> e.getKind() == ModelEventKind.DEMOTED).toList();
      assertThat(promoted).hasSize(1);
      assertThat(demoted).hasSize(1);
      ModelEvent p = promoted.get(0);
      assertThat(p.getSlot()).isEqualTo("better");
      assertThat(p.getRole()).isEqualTo("champion");
      assertThat(p.getNewVersion()).isEqualTo("1.0.0-plain");
      assertThat(p.getEvidence().getPolicy()).isEqualTo("automatic");
      assertThat(p.getEvidence().getIssueTimes()).isGreaterThanOrEqualTo(12);
      assertThat(p.getEvidence().getMeanDifference()).isLessThan(-0.01);
      assertThat(p.getEvidence().getIntervalHigh()).isLessThan(0.0);
      assertThat(p.getEvidence().getIntervalLow()).isLessThanOrEqualTo(p.getEvidence().getIntervalHigh());
      assertThat(demoted.get(0).getSlot()).isEqualTo(ModelCatalog.DEFAULT_SLOT);
      assertThat(demoted.get(0).getRole()).isEqualTo("challenger");
      assertThat(demoted.get(0).getEvidence()).isEqualTo(p.getEvidence());
      assertThat(events).noneMatch(e -> e.getKind() == ModelEventKind.PROMOTED && "worse".equals(e.getSlot()));
      assertThat(events.stream().filter(e -> e.getKind() == ModelEventKind.REFUSED).toList())
          .anyMatch(e -> e.getReason().contains("challenger 'lonely' has no model to challenge"));

      // every window forecast exactly once; the old model's before the switch, "better"'s from it on
      long switchAt = p.getEvidence().getEffectiveFrom().toEpochMilli();
      TreeMap<Long, String> versionByIssue = new TreeMap<>();
      for (Forecast f : ModelRolloutTest.forecasts(out, cfg)) {
        assertThat(versionByIssue.put(f.getIssueTime().toEpochMilli(), f.getModelVersion()))
            .as("one forecast for %s", f.getIssueTime()).isNull();
      }
      List<Long> want = new ArrayList<>();
      for (int end = 5; end < uk.size(); end++) {
        want.add(uk.get(end).getValidTime().toEpochMilli());
      }
      assertThat(versionByIssue.keySet()).containsExactlyElementsOf(want);
      assertThat(versionByIssue.headMap(switchAt).values()).isNotEmpty().containsOnly("1.0.0-biased");
      assertThat(versionByIssue.tailMap(switchAt).values()).isNotEmpty().containsOnly("1.0.0-plain");

      // the league: every model verified, each with its role at the time
      RecordCodec<Verification> codec = RecordCodec.of(Verification.class);
      Map<String, List<Verification>> bySlot = new TreeMap<>();
      for (CommittedRecords.Arrived r : out.on(cfg.topics.verification)) {
        Verification v = codec.decode(r.value());
        bySlot.computeIfAbsent(v.getSlot(), s -> new ArrayList<>()).add(v);
      }
      assertThat(bySlot).containsKeys("default", "better", "worse");
      assertThat(bySlot.get("worse")).allMatch(v -> v.getRole() == ModelRole.CHALLENGER);
      assertThat(bySlot.get("better")).anyMatch(v -> v.getRole() == ModelRole.CHAMPION)
          .anyMatch(v -> v.getRole() == ModelRole.CHALLENGER);
      double better = bySlot.get("better").stream().mapToDouble(Verification::getMae).average().orElseThrow();
      double worse = bySlot.get("worse").stream().mapToDouble(Verification::getMae).average().orElseThrow();
      assertThat(better).isLessThan(worse);
    }
  }

  @Test
  void anOperatorPromotesByRequestAndAnUnknownNameIsRefusedByName() throws Exception {
    String prefix = "manual";
    kafka.createTopics(1, Topic.namesUnder(prefix));
    Path models = models(tmp);
    // "worse" comes in while the job runs (one rename, as any roll-out)
    Path staged = tmp.resolve("staging/worse/model.onnx");
    ModelFiles.moveIntoPlace(models.resolve("era5-uk/challengers/worse/model.onnx"), staged);
    LsntpConfig cfg = TestJobConfig.onTopics(kafka.bootstrapServers(), prefix)
        .set("models.directory", models.toString())
        .set("models.poll-interval", "500ms")
        .set("delivery.checkpoint-interval", "500ms")
        .set("stream.future-tolerance", "3650d")
        .set("alerts", "[]")
        .set("promotion.grids", "{era5-uk-0p25: manual}")
        .load();
    List<TemperatureFrame> uk = RealFrames.uk(30);
    try (CommittedRecords out = new CommittedRecords(kafka.bootstrapServers(), cfg.topics.forecasts,
        cfg.topics.modelEvents)) {
      JobClient job = ForecastJob.fromKafka(cfg, false).executeAsync(ForecastJob.localEnvironment(cfg));
      try {
        send(cfg, uk.subList(0, 15));
        assertThat(out.await(cfg.topics.forecasts, r -> r.size() >= 10, Duration.ofSeconds(180))).isTrue();
        // the request source starts at the topic's end once the job runs: the start's events show it is up
        assertThat(out.await(cfg.topics.modelEvents, r -> kinds(out, cfg).contains(ModelEventKind.ACCEPTED),
            Duration.ofSeconds(60))).isTrue();
        ModelFiles.moveIntoPlace(staged, models.resolve("era5-uk/challengers/worse/model.onnx"));
        assertThat(out.await(cfg.topics.modelEvents, r -> eventList(out, cfg).stream().anyMatch(e ->
            e.getKind() == ModelEventKind.ACCEPTED && "worse".equals(e.getSlot()) && "challenger".equals(e.getRole())),
            Duration.ofSeconds(60))).as("the challenger rolled in").isTrue();
        send(cfg, uk.subList(15, 17)); // windows the new challenger forecasts too, so the verifier knows it runs
        assertThat(out.await(cfg.topics.forecasts, r -> r.size() >= 12, Duration.ofSeconds(60))).isTrue();
        // the request source starts at the topic's end: wait until a checkpoint committed its position
        assertThat(promoteOffsetCommitted(cfg, Duration.ofSeconds(60))).isTrue();
        // "worse" first: the answer to "nosuch" then shows both were read (one partition, in order)
        request(cfg, "worse");
        request(cfg, "nosuch");
        assertThat(out.await(cfg.topics.modelEvents, r -> eventList(out, cfg).stream().anyMatch(e ->
            e.getKind() == ModelEventKind.REFUSED && "nosuch".equals(e.getSlot())), Duration.ofSeconds(60)))
            .as("refused: %s", kinds(out, cfg)).isTrue();
        send(cfg, uk.subList(17, 30));
        assertThat(out.await(cfg.topics.forecasts, r -> r.size() >= 25, Duration.ofSeconds(180))).isTrue();
        assertThat(out.await(cfg.topics.modelEvents, r -> kinds(out, cfg).contains(ModelEventKind.PROMOTED),
            Duration.ofSeconds(60))).as("promoted: %s", kinds(out, cfg)).isTrue();
      } finally {
        job.cancel().get();
      }
      List<ModelEvent> events = ModelRolloutTest.events(out, cfg);
      assertThat(events).anyMatch(e -> e.getKind() == ModelEventKind.REFUSED
          && e.getReason().contains("has no challenger 'nosuch' running (its challengers: better, worse)"));
      ModelEvent p = events.stream().filter(e -> e.getKind() == ModelEventKind.PROMOTED).findFirst().orElseThrow();
      assertThat(p.getSlot()).isEqualTo("worse"); // an operator may promote a worse model: the manual policy obeys
      assertThat(p.getEvidence().getPolicy()).isEqualTo("manual");
      // it rolled in two windows before the request: none of its issue times was verified yet, and the
      // event says so (an operator's decision, not the evidence's)
      assertThat(p.getEvidence().getIssueTimes()).isZero();
      assertThat(p.getEvidence().getIntervalLow()).isNull();
      assertThat(p.getReason()).contains("requested by an operator");
      TreeMap<Long, String> versionByIssue = new TreeMap<>();
      for (Forecast f : ModelRolloutTest.forecasts(out, cfg)) {
        assertThat(versionByIssue.put(f.getIssueTime().toEpochMilli(), f.getModelVersion())).isNull();
      }
      assertThat(versionByIssue).hasSize(25);
      long switchAt = p.getEvidence().getEffectiveFrom().toEpochMilli();
      assertThat(versionByIssue.headMap(switchAt).values()).isNotEmpty().containsOnly("1.0.0-biased");
      assertThat(versionByIssue.tailMap(switchAt).values()).isNotEmpty().containsOnly("1.0.0-worse");
    }
  }

  /** Whether the job's request source has committed an offset (it has taken its start position). */
  static boolean promoteOffsetCommitted(LsntpConfig cfg, Duration within) throws Exception {
    java.util.Properties p = new java.util.Properties();
    p.put("bootstrap.servers", kafka.bootstrapServers());
    try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(p)) {
      long until = System.nanoTime() + within.toNanos();
      while (System.nanoTime() < until) {
        if (!admin.listConsumerGroupOffsets(cfg.kafka.groupId + "-promote").partitionsToOffsetAndMetadata().get()
            .isEmpty()) {
          return true;
        }
        Thread.sleep(100);
      }
      return false;
    }
  }

  /** What ./lsntp promote writes. */
  static void request(LsntpConfig cfg, String challenger) throws Exception {
    ModelEvent e = ModelEvent.newBuilder().setKind(ModelEventKind.PROMOTE_REQUESTED).setGridId("era5-uk-0p25")
        .setModelPath("").setSlot(challenger).setAt(java.time.Instant.now()).build();
    ai.lsntp.testing.KafkaIO.produce(kafka.bootstrapServers(), cfg.topics.modelEvents,
        List.<byte[][]>of(new byte[][] {"era5-uk-0p25".getBytes(java.nio.charset.StandardCharsets.UTF_8),
            RecordCodec.of(ModelEvent.class).encode(e)}));
  }

  static void send(LsntpConfig cfg, List<TemperatureFrame> frames) throws Exception {
    RecordCodec<TemperatureFrame> codec = RecordCodec.of(TemperatureFrame.class);
    List<byte[][]> kv = new ArrayList<>();
    for (TemperatureFrame f : frames) {
      kv.add(new byte[][] {f.getGridId().getBytes(java.nio.charset.StandardCharsets.UTF_8), codec.encode(f)});
    }
    ai.lsntp.testing.KafkaIO.produce(kafka.bootstrapServers(), cfg.topics.frames, kv);
  }

  private static List<ModelEvent> eventList(CommittedRecords out, LsntpConfig cfg) {
    try {
      return ModelRolloutTest.events(out, cfg);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static List<ModelEventKind> kinds(CommittedRecords out, LsntpConfig cfg) {
    try {
      return ModelRolloutTest.events(out, cfg).stream().map(ModelEvent::getKind).toList();
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }
}

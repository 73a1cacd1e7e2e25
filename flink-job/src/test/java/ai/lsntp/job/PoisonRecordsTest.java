package ai.lsntp.job;

import ai.lsntp.testing.KafkaBroker;
import static ai.lsntp.testing.JobMetrics.counter;
import static ai.lsntp.testing.JobMetrics.restarts;
import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * No record, whatever its size or content, fails the job (issue: poison pills), on a real broker
 * and a MiniCluster with the shipped model: a 50 MB value on a frames topic whose limit was raised
 * lands on the rejects topic with its size and hash while the frames after it are still forecast;
 * a record that makes a stage throw lands as INTERNAL_ERROR. The job never restarts.
 */
class PoisonRecordsTest {
  static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
      .setConfiguration(REPORTER.addToConfiguration(new Configuration()))
      .setNumberTaskManagers(1)
      .setNumberSlotsPerTaskManager(1)
      .build());

  static final int HUGE = 50_000_000;
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();
  static ModelSpec spec;
  static List<TemperatureFrame> frames;
  static final RecordCodec<TemperatureFrame> AVRO = RecordCodec.of(TemperatureFrame.class);

  @BeforeAll
  static void start() throws Exception {
    frames = RealFrames.uk(16);
    spec = ModelCatalog.load(TestPaths.models()).forGrid(frames.get(0).getGridId());
  }

  static LsntpConfig config(String prefix) throws Exception {
    // as some sites do: the frames topic takes records far above the usual 1 MB
    kafka.createTopics(1, Map.of("max.message.bytes", Integer.toString(HUGE + 1_000_000)), Topic.FRAMES.under(prefix));
    kafka.createTopics(1, java.util.Arrays.stream(Topic.values()).filter(t -> t != Topic.FRAMES)
        .map(t -> t.under(prefix)).toArray(String[]::new));
    return TestJobConfig.onTopics(kafka.bootstrapServers(), prefix)
        .set("delivery.guarantee", "exactly-once")
        .set("delivery.checkpoint-interval", "500ms")
        .set("job.restart-attempts", "3")
        .set("alerts", "[{name: warm, kind: heat, threshold: 150.0}]")
        .load();
  }

  static void produce(LsntpConfig cfg, List<ProducerRecord<byte[], byte[]>> records) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", kafka.bootstrapServers());
    p.put("acks", "all");
    p.put("max.request.size", Integer.toString(HUGE + 1_000_000));
    p.put("buffer.memory", Integer.toString(2 * HUGE));
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
      for (ProducerRecord<byte[], byte[]> r : records) {
        producer.send(r).get();
      }
    }
  }

  static ProducerRecord<byte[], byte[]> record(LsntpConfig cfg, String key, byte[] value) {
    return new ProducerRecord<>(cfg.topics.frames, key == null ? null : key.getBytes(StandardCharsets.UTF_8), value);
  }

  static StreamExecutionEnvironment environment(LsntpConfig cfg) {
    return StreamExecutionEnvironment.getExecutionEnvironment(ForecastJob.flinkConfiguration(cfg, null));
  }

  static List<RejectedFrame> rejects(LsntpConfig cfg, int expected) throws Exception {
    RecordCodec<RejectedFrame> ra = RecordCodec.of(RejectedFrame.class);
    List<RejectedFrame> out = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r :
        ai.lsntp.testing.KafkaIO.readCommitted(kafka.bootstrapServers(), cfg.topics.rejects, expected, Duration.ofSeconds(30))) {
      out.add(ra.decode(r.value()));
    }
    return out;
  }

  static TreeSet<Long> forecastIssueTimes(LsntpConfig cfg, int expected) throws Exception {
    RecordCodec<Forecast> fa = RecordCodec.of(Forecast.class);
    TreeSet<Long> issues = new TreeSet<>();
    for (ConsumerRecord<byte[], byte[]> r :
        ai.lsntp.testing.KafkaIO.readCommitted(kafka.bootstrapServers(), cfg.topics.forecasts, expected, Duration.ofSeconds(30))) {
      assertThat(issues.add(fa.decode(r.value()).getIssueTime().toEpochMilli())).as("one forecast per issue time").isTrue();
    }
    return issues;
  }

  static TreeSet<Long> issueTimes(int firstEnd, int lastEnd) {
    TreeSet<Long> t = new TreeSet<>();
    for (int end = firstEnd; end <= lastEnd; end++) {
      t.add(frames.get(end).getValidTime().toEpochMilli());
    }
    return t;
  }

  @Test
  void aFiftyMegabyteRecordIsRejectedWithSizeAndHashAndTheNextFramesStillForecast() throws Exception {
    LsntpConfig cfg = config("huge");
    byte[] huge = new byte[HUGE];
    new Random(11).nextBytes(huge);
    int n = frames.size();
    List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      records.add(record(cfg, spec.gridId, AVRO.encode(frames.get(i))));
      if (i == spec.alpha) {
        records.add(record(cfg, spec.gridId, huge)); // offset alpha + 1
      }
    }
    produce(cfg, records);

    JobID job = ForecastJob.fromKafka(cfg, true).execute(environment(cfg)).getJobID();

    assertThat(restarts(REPORTER, job)).as("restarts caused by the 50 MB record").isZero();
    List<RejectedFrame> rejects = rejects(cfg, 1);
    assertThat(rejects).hasSize(1);
    RejectedFrame r = rejects.get(0);
    assertThat(r.getReasonCode()).isEqualTo("TOO_LARGE");
    assertThat(r.getReason()).contains(HUGE + " bytes").contains("stream.max-frame-bytes");
    assertThat(r.getGridId()).as("grid id from the record's key").isEqualTo(spec.gridId);
    assertThat(r.getRawSize()).isEqualTo((long) HUGE);
    assertThat(r.getRawTruncated()).isTrue();
    assertThat(r.getRaw().remaining()).isEqualTo(cfg.rejects.maxPayloadBytes);
    byte[] head = new byte[r.getRaw().remaining()];
    r.getRaw().duplicate().get(head);
    assertThat(head).isEqualTo(java.util.Arrays.copyOf(huge, head.length));
    assertThat(r.getRawSha256()).isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(huge)));
    assertThat(r.getSourceTopic()).isEqualTo(cfg.topics.frames);
    assertThat(r.getSourceOffset()).isEqualTo(spec.alpha + 1L);
    assertThat(forecastIssueTimes(cfg, n - spec.alpha + 1)).as("every window forecast, those after the record too")
        .isEqualTo(issueTimes(spec.alpha - 1, n - 1));
  }

  /** Throws in the stage named by a record's marker: the validation, windowing, inference or alert stage. */
  static final class ThrowingStages implements StageProbe {
    private static final long serialVersionUID = 1L;
    final long windowFrame;
    final long inferenceIssue;
    final long alertIssue;

    ThrowingStages(long windowFrame, long inferenceIssue, long alertIssue) {
      this.windowFrame = windowFrame;
      this.inferenceIssue = inferenceIssue;
      this.alertIssue = alertIssue;
    }

    @Override
    public void validating(RawFrame record) {
      if (record.key != null && new String(record.key, StandardCharsets.UTF_8).equals("poison-validate")) {
        throw new IllegalStateException("injected: validation of offset " + record.offset);
      }
    }

    @Override
    public void windowing(Frame frame) {
      if (frame.validTime == windowFrame) {
        throw new IllegalStateException("injected: windowing of " + frame.validTime);
      }
    }

    @Override
    public void forecasting(List<FrameWindow> batch) {
      if (batch.stream().anyMatch(w -> w.issueTime == inferenceIssue)) {
        throw new IllegalStateException("injected: inference of a batch of " + batch.size());
      }
    }

    @Override
    public void alerting(Forecast forecast) {
      if (forecast.getIssueTime().toEpochMilli() == alertIssue) {
        throw new IllegalStateException("injected: alerts of " + forecast.getIssueTime());
      }
    }
  }

  @Test
  void aRecordThatMakesAStageThrowIsRejectedAsInternalErrorAndTheJobGoesOn() throws Exception {
    LsntpConfig cfg = config("throws");
    int n = frames.size();
    List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      records.add(record(cfg, spec.gridId, AVRO.encode(frames.get(i))));
    }
    records.add(record(cfg, "poison-validate", AVRO.encode(frames.get(3))));
    produce(cfg, records);
    // frame 12 fails in its window function: it is rejected and the windows needing it never complete
    long windowFrame = frames.get(12).getValidTime().toEpochMilli();
    long inferenceIssue = frames.get(8).getValidTime().toEpochMilli();
    long alertIssue = frames.get(10).getValidTime().toEpochMilli();

    JobID job = ForecastJob.fromKafka(cfg, true).withProbe(new ThrowingStages(windowFrame, inferenceIssue, alertIssue))
        .execute(environment(cfg)).getJobID();

    assertThat(restarts(REPORTER, job)).isZero();
    List<RejectedFrame> rejects = rejects(cfg, 4);
    Map<String, RejectedFrame> byStage = rejects.stream().collect(Collectors.toMap(
        r -> r.getReason().replaceAll(".*injected: (\\w+).*", "$1"), r -> r));
    assertThat(rejects).allSatisfy(r -> assertThat(r.getReasonCode()).isEqualTo("INTERNAL_ERROR"));
    assertThat(byStage.keySet()).containsExactlyInAnyOrder("validation", "windowing", "inference", "alerts");
    assertThat(byStage.get("validation").getSourceOffset()).isEqualTo((long) n);
    assertThat(byStage.get("validation").getRawSize()).isPositive();
    assertThat(byStage.get("windowing").getValidTime().toEpochMilli()).isEqualTo(windowFrame);
    assertThat(byStage.get("inference").getValidTime().toEpochMilli()).isEqualTo(inferenceIssue);
    assertThat(byStage.get("inference").getReason()).contains("retried alone");
    assertThat(byStage.get("alerts").getReason()).contains("the forecast was published");
    assertThat(counter(REPORTER, job, "reason.INTERNAL_ERROR.rejects")).isEqualTo(4);

    // every window is forecast except the one whose inference throws and those that need frame 12
    TreeSet<Long> want = issueTimes(spec.alpha - 1, n - 1);
    want.remove(inferenceIssue);
    for (int end = 12; end < Math.min(n, 12 + spec.alpha); end++) {
      want.remove(frames.get(end).getValidTime().toEpochMilli());
    }
    assertThat(forecastIssueTimes(cfg, want.size())).isEqualTo(want);
  }
}

package ai.lsntp.job;

import ai.lsntp.testing.KafkaBroker;
import org.junit.jupiter.api.extension.RegisterExtension;
import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.KafkaIO;
import static ai.lsntp.testing.JobMetrics.counter;
import static ai.lsntp.testing.JobMetrics.histogramCount;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.avro.Alert;
import ai.lsntp.avro.AlertKind;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.model.OnnxForecaster;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * End to end through a real in-process Kafka broker and a Flink MiniCluster, on real ERA5 frames
 * and the shipped LS-NTP model.
 */
class ForecastJobKafkaTest {
  static final double EXACT_K = 1e-5;
  /** Metrics of every job on the class's MiniCluster, kept after the jobs end. */
  static final org.apache.flink.runtime.testutils.InMemoryReporter REPORTER =
      org.apache.flink.runtime.testutils.InMemoryReporter.createWithRetainedMetrics();

  @org.junit.jupiter.api.extension.RegisterExtension
  static final org.apache.flink.test.junit5.MiniClusterExtension FLINK = new org.apache.flink.test.junit5.MiniClusterExtension(
      new org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration.Builder()
          .setConfiguration(REPORTER.addToConfiguration(new org.apache.flink.configuration.Configuration()))
          .setNumberTaskManagers(1)
          .setNumberSlotsPerTaskManager(2)
          .build());
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();
  static ModelCatalog models;
  static List<TemperatureFrame> frames;
  static ModelSpec spec;
  static final RecordCodec<TemperatureFrame> AVRO = RecordCodec.of(TemperatureFrame.class);

  @BeforeAll
  static void start() throws Exception {
    models = ModelCatalog.load(TestPaths.models());
    frames = RealFrames.uk(30);
    spec = models.forGrid(frames.get(0).getGridId());
    assertThat(spec).isNotNull();
  }

  static LsntpConfig config(String prefix, String guarantee) throws Exception {
    return config(prefix, guarantee, "300ms");
  }

  static LsntpConfig config(String prefix, String guarantee, String checkpointInterval) throws Exception {
    kafka.createTopics(1, Topic.namesUnder(prefix));
    return TestJobConfig.onTopics(kafka.bootstrapServers(), prefix)
        .set("delivery.guarantee", guarantee)
        .set("delivery.checkpoint-interval", checkpointInterval)
        .set("batching.max-windows", "4")
        .set("batching.max-delay", "20ms")
        .set("stream.max-frame-bytes", "16384")
        .set("job.restart-delay", "200ms")
        .set("alerts", "[{name: cold-290, kind: frost, threshold: 290.0, grid: '*'}]")
        .load();
  }

  /** The class's MiniCluster, with the job's own Flink settings (restart strategy). */
  static org.apache.flink.streaming.api.environment.StreamExecutionEnvironment environment(LsntpConfig cfg) {
    return org.apache.flink.streaming.api.environment.StreamExecutionEnvironment.getExecutionEnvironment(
        ForecastJob.flinkConfiguration(cfg, null));
  }

  static byte[][] kv(TemperatureFrame f) {
    return new byte[][] {f.getGridId().getBytes(StandardCharsets.UTF_8), AVRO.encode(f)};
  }

  static TemperatureFrame copy(TemperatureFrame f) {
    return TemperatureFrame.newBuilder(f).setValues(ByteBuffer.wrap(f.getValues().array().clone())).build();
  }

  static TemperatureFrame withValue(TemperatureFrame f, int cell, float v) {
    float[] vals = PackedFloats.decode(f.getValues());
    vals[cell] = v;
    return TemperatureFrame.newBuilder(f).setValues(PackedFloats.encode(vals)).build();
  }

  /** Direct ONNX Runtime inference of the window of frames [end-alpha+1 .. end], one at a time. */
  static Map<Long, float[]> directForecasts(int firstEnd, int lastEnd) throws Exception {
    Map<Long, float[]> out = new HashMap<>();
    int cells = spec.cells();
    try (OnnxForecaster f = OnnxForecaster.open(spec, false, 1)) {
      for (int end = firstEnd; end <= lastEnd; end++) {
        float[] w = new float[spec.alpha * cells];
        for (int k = 0; k < spec.alpha; k++) {
          float[] v = PackedFloats.decode(frames.get(end - spec.alpha + 1 + k).getValues());
          System.arraycopy(v, 0, w, k * cells, cells);
        }
        out.put(frames.get(end).getValidTime().toEpochMilli(), f.forecast(List.of(w))[0]);
      }
    }
    return out;
  }

  static List<Forecast> decodeForecasts(List<ConsumerRecord<byte[], byte[]>> recs) throws Exception {
    RecordCodec<Forecast> a = RecordCodec.of(Forecast.class);
    List<Forecast> out = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r : recs) {
      Forecast f = a.decode(r.value());
      assertThat(new String(r.key(), StandardCharsets.UTF_8)).isEqualTo(f.getGridId());
      out.add(f);
    }
    return out;
  }

  @Test
  void forecastsEqualDirectInferenceAndEveryBadInputIsRejectedWithItsReason() throws Exception {
    LsntpConfig cfg = config("e2e", "exactly-once");
    int good = 12;
    List<byte[][]> records = new ArrayList<>();
    Map<String, byte[]> badRaw = new HashMap<>();
    TemperatureFrame f0 = frames.get(0);

    byte[] garbage = "this is not an Avro TemperatureFrame".getBytes(StandardCharsets.UTF_8);
    badRaw.put("UNDECODABLE", garbage);
    badRaw.put("UNKNOWN_GRID", kv(TemperatureFrame.newBuilder(copy(f0)).setGridId("atlantis-0p25").build())[1]);
    badRaw.put("SHAPE_MISMATCH", kv(TemperatureFrame.newBuilder(copy(f0)).setHeight(spec.height - 1).build())[1]);
    badRaw.put("GEOMETRY_MISMATCH", kv(TemperatureFrame.newBuilder(copy(f0)).setLat0(f0.getLat0() + 0.5).build())[1]);
    badRaw.put("VALUE_OUT_OF_RANGE", kv(withValue(frames.get(1), 17, 400f))[1]);
    badRaw.put("NAN_OUTSIDE_MASK", kv(withValue(frames.get(2), 3, Float.NaN))[1]);
    long future = (System.currentTimeMillis() / spec.stepMillis + 48) * spec.stepMillis;
    badRaw.put("FUTURE_VALID_TIME",
        kv(TemperatureFrame.newBuilder(copy(f0)).setValidTime(Instant.ofEpochMilli(future)).build())[1]);
    byte[] unknownSchema = AVRO.encode(frames.get(3));
    unknownSchema[5] ^= 0x21; // a fingerprint no TemperatureFrame version has
    badRaw.put("UNKNOWN_SCHEMA", unknownSchema);
    byte[] big = new byte[20_000];
    new java.util.Random(7).nextBytes(big);
    badRaw.put("TOO_LARGE", big);

    List<String> order = new ArrayList<>(badRaw.keySet());
    for (int i = 0; i < good; i++) {
      records.add(kv(frames.get(i)));
      if (i < order.size()) {
        records.add(new byte[][] {f0.getGridId().getBytes(StandardCharsets.UTF_8), badRaw.get(order.get(i))});
      }
    }
    byte[] lateRaw = kv(frames.get(2))[1];
    badRaw.put("LATE", lateRaw);
    records.add(new byte[][] {null, lateRaw}); // 9 hours behind the newest frame
    KafkaIO.produce(kafka.bootstrapServers(), cfg.topics.frames, records);

    org.apache.flink.runtime.testutils.InMemoryReporter reporter = REPORTER;
    org.apache.flink.api.common.JobID jobId = ForecastJob.fromKafka(cfg, true).execute(environment(cfg)).getJobID();

    int expected = good - spec.alpha + 1;
    // the job's metrics, through Flink's metric system
    assertThat(counter(reporter, jobId, "framesIn")).isEqualTo(records.size());
    assertThat(counter(reporter, jobId, "framesValid")).isEqualTo(good + 1);
    for (String reason : badRaw.keySet()) {
      assertThat(counter(reporter, jobId, "reason." + reason + ".rejects")).as("rejects metric for %s", reason)
          .isEqualTo(1);
    }
    assertThat(counter(reporter, jobId, "windowsCompleted")).isEqualTo(expected);
    assertThat(counter(reporter, jobId, "forecastsOut")).isEqualTo(expected);
    assertThat(counter(reporter, jobId, "alertsOut")).isEqualTo(expected * spec.beta);
    long calls = counter(reporter, jobId, "inferenceCalls");
    assertThat(calls).isBetween((long) Math.ceil(expected / 4.0), (long) expected);
    assertThat(histogramCount(reporter, jobId, "batchSize")).isEqualTo(calls);
    assertThat(histogramCount(reporter, jobId, "endToEndLatencyMs")).isEqualTo(expected);
    assertThat(histogramCount(reporter, jobId, "inferenceLatencyMs")).isEqualTo(calls);
    List<ConsumerRecord<byte[], byte[]>> forecastRecords =
        KafkaIO.readCommitted(kafka.bootstrapServers(), cfg.topics.forecasts, expected, Duration.ofSeconds(30));
    ai.lsntp.testing.WireFormat.assertSingleObject(forecastRecords, "Forecast");
    List<Forecast> got = decodeForecasts(forecastRecords);
    Map<Long, float[]> want = directForecasts(spec.alpha - 1, good - 1);
    assertThat(got).hasSize(expected);
    Set<Long> issued = new HashSet<>();
    for (Forecast f : got) {
      long issue = f.getIssueTime().toEpochMilli();
      assertThat(issued.add(issue)).as("forecast for %s once", f.getIssueTime()).isTrue();
      assertThat(want).containsKey(issue);
      assertThat(f.getGridId()).isEqualTo(spec.gridId);
      assertThat(f.getModelName()).isEqualTo(spec.name);
      assertThat(f.getModelVersion()).isEqualTo(spec.version);
      assertThat(f.getBeta()).isEqualTo(spec.beta);
      assertThat(f.getStepMillis()).isEqualTo(spec.stepMillis);
      assertThat(f.getValidTimes()).hasSize(spec.beta);
      assertThat(f.getValidTimes().get(0).toEpochMilli()).isEqualTo(issue + spec.stepMillis);
      assertThat(f.getProducedAt()).isAfter(Instant.now().minus(Duration.ofMinutes(5)));
      float[] v = PackedFloats.decode(f.getValues());
      float[] w = want.get(issue);
      assertThat(v).hasSize(w.length);
      double maxDiff = 0;
      for (int i = 0; i < v.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(v[i] - w[i]));
      }
      assertThat(maxDiff).as("max |job - direct ORT| for %s", f.getIssueTime()).isLessThanOrEqualTo(EXACT_K);
    }

    RecordCodec<RejectedFrame> ra = RecordCodec.of(RejectedFrame.class);
    Map<String, RejectedFrame> byReason = new HashMap<>();
    List<ConsumerRecord<byte[], byte[]>> rejectRecords =
        KafkaIO.readCommitted(kafka.bootstrapServers(), cfg.topics.rejects, badRaw.size(), Duration.ofSeconds(30));
    ai.lsntp.testing.WireFormat.assertSingleObject(rejectRecords, "RejectedFrame");
    for (ConsumerRecord<byte[], byte[]> r : rejectRecords) {
      RejectedFrame rf = ra.decode(r.value());
      assertThat(byReason.put(rf.getReasonCode(), rf)).as("one reject for %s", rf.getReasonCode()).isNull();
    }
    assertThat(byReason.keySet()).containsExactlyInAnyOrderElementsOf(badRaw.keySet());
    for (Map.Entry<String, RejectedFrame> e : byReason.entrySet()) {
      RejectedFrame rf = e.getValue();
      byte[] raw = new byte[rf.getRaw().remaining()];
      rf.getRaw().duplicate().get(raw);
      if (e.getKey().equals("LATE")) { // rejected after validation: points at its record instead of copying it
        assertThat(raw).isEmpty();
        assertThat(rf.getSourceOffset()).isEqualTo(records.size() - 1L);
      } else {
        assertThat(raw).as("raw bytes of the %s reject", e.getKey()).isEqualTo(badRaw.get(e.getKey()));
        assertThat(rf.getRawSize()).isEqualTo((long) raw.length);
        assertThat(rf.getRawTruncated()).isFalse();
      }
      assertThat(rf.getReason()).isNotBlank();
      assertThat(rf.getSourceTopic()).isEqualTo(cfg.topics.frames);
    }
    assertThat(byReason.get("UNDECODABLE").getGridId()).as("the grid id from the record's key").isEqualTo(f0.getGridId());
    assertThat(byReason.get("UNDECODABLE").getReason()).startsWith("expected one Avro TemperatureFrame");
    assertThat(byReason.get("VALUE_OUT_OF_RANGE").getReason()).contains("400.0");
    assertThat(byReason.get("UNKNOWN_GRID").getGridId()).isEqualTo("atlantis-0p25");
    assertThat(byReason.get("UNKNOWN_SCHEMA").getReason()).contains("writer schema fingerprint "
        + ai.lsntp.schemas.SchemaCatalog.hex(RecordCodec.fingerprintOf(unknownSchema)) + " is not a known TemperatureFrame version");

    // the frost rule at 290 K fires on every lead of every forecast, at the coldest cell
    RecordCodec<Alert> aa = RecordCodec.of(Alert.class);
    List<ConsumerRecord<byte[], byte[]>> alertRecs = KafkaIO.readCommitted(
        kafka.bootstrapServers(), cfg.topics.alerts, expected * spec.beta, Duration.ofSeconds(30));
    assertThat(alertRecs).hasSize(expected * spec.beta);
    ai.lsntp.testing.WireFormat.assertSingleObject(alertRecs, "Alert");
    for (ConsumerRecord<byte[], byte[]> r : alertRecs) {
      Alert a = aa.decode(r.value());
      assertThat(a.getKind()).isEqualTo(AlertKind.FROST);
      assertThat(a.getRule()).isEqualTo("cold-290");
      float[] w = want.get(a.getIssueTime().toEpochMilli());
      int cells = spec.cells();
      float min = Float.MAX_VALUE;
      for (int i = 0; i < cells; i++) {
        min = Math.min(min, w[(a.getLead() - 1) * cells + i]);
      }
      assertThat((double) a.getValue()).isCloseTo(min, org.assertj.core.data.Offset.offset(EXACT_K));
      assertThat((double) w[(a.getLead() - 1) * cells + a.getRow() * spec.width + a.getCol()])
          .isCloseTo(min, org.assertj.core.data.Offset.offset(EXACT_K));
      assertThat(a.getLat()).isEqualTo(spec.lat0 + a.getRow() * spec.dlat);
      assertThat(a.getValidTime().toEpochMilli())
          .isEqualTo(a.getIssueTime().toEpochMilli() + a.getLead() * spec.stepMillis);
    }
  }

  /**
   * Fails the job once, on a frame after a checkpoint has completed, and only once forecasts have
   * reached the forecasts topic since that checkpoint (read_uncommitted end offset: an open
   * transaction's records count), so there is always output the restart must roll back or repeat,
   * however slow the machine.
   */
  static class FailOnceAfterCheckpoint implements MapFunction<RawFrame, RawFrame>, CheckpointListener {
    private static final long serialVersionUID = 1L;
    static final AtomicBoolean FAILED = new AtomicBoolean();
    static final AtomicInteger COMPLETED_CHECKPOINTS = new AtomicInteger();
    static final AtomicInteger SEEN = new AtomicInteger();
    /** The forecasts topic's end offset when the newest checkpoint completed. */
    static final java.util.concurrent.atomic.AtomicLong FORECASTS_AT_CHECKPOINT = new java.util.concurrent.atomic.AtomicLong();
    /** Fail only once windows have been forecast since the checkpoint (so their output must be rolled back). */
    static int failAfterFrames;
    static String forecastsTopic;
    private transient int seenSinceCheckpoint;

    static long forecastsEndOffset() {
      Map<String, Object> c = Map.of("bootstrap.servers", kafka.bootstrapServers(), "isolation.level",
          "read_uncommitted");
      try (org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]> consumer =
          new org.apache.kafka.clients.consumer.KafkaConsumer<>(c,
              new org.apache.kafka.common.serialization.ByteArrayDeserializer(),
              new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
        org.apache.kafka.common.TopicPartition tp = new org.apache.kafka.common.TopicPartition(forecastsTopic, 0);
        return consumer.endOffsets(List.of(tp), Duration.ofSeconds(10)).get(tp);
      }
    }

    @Override
    public RawFrame map(RawFrame f) throws Exception {
      if (!FAILED.get()) {
        // slow until a checkpoint has completed, then fail as soon as forecasts made since it are on
        // the topic, long before the next checkpoint (interval 2 s). Never waits here: a source
        // blocked in this map would hold back the very frames whose forecasts it waits for.
        Thread.sleep(COMPLETED_CHECKPOINTS.get() == 0 ? 250 : 50);
        seenSinceCheckpoint++;
        if (SEEN.incrementAndGet() > failAfterFrames && COMPLETED_CHECKPOINTS.get() >= 1 && seenSinceCheckpoint >= 4
            // + 1: an exactly-once checkpoint's commit marker takes an offset of its own, and may land after the read
            && forecastsEndOffset() > FORECASTS_AT_CHECKPOINT.get() + 1) {
          FAILED.set(true);
          System.out.println("injecting failure at frames offset " + f.offset + " after "
              + SEEN.get() + " frames, " + COMPLETED_CHECKPOINTS.get() + " completed checkpoints; forecasts end offset "
              + forecastsEndOffset() + ", " + FORECASTS_AT_CHECKPOINT.get() + " at the checkpoint");
          throw new IllegalStateException("injected failure after checkpoint " + COMPLETED_CHECKPOINTS.get());
        }
      }
      return f;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
      if (!FAILED.get()) {
        FORECASTS_AT_CHECKPOINT.set(forecastsEndOffset());
      }
      COMPLETED_CHECKPOINTS.incrementAndGet();
      seenSinceCheckpoint = 0;
    }
  }

  /**
   * A failure between two checkpoints, after forecasts were written: with exactly-once delivery a
   * read_committed consumer sees every forecast once; the same run with at-least-once delivery
   * shows the duplicates exactly-once prevents (so the test can tell the two apart).
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"exactly-once", "at-least-once"})
  void aFailureBetweenCheckpointsDuplicatesOnlyWithoutExactlyOnce(String guarantee) throws Exception {
    LsntpConfig cfg = config(guarantee.equals("exactly-once") ? "eos" : "alo", guarantee, "2s");
    int n = frames.size();
    List<byte[][]> records = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      records.add(kv(frames.get(i)));
    }
    KafkaIO.produce(kafka.bootstrapServers(), cfg.topics.frames, records);
    FailOnceAfterCheckpoint.FAILED.set(false);
    FailOnceAfterCheckpoint.COMPLETED_CHECKPOINTS.set(0);
    FailOnceAfterCheckpoint.SEEN.set(0);
    FailOnceAfterCheckpoint.failAfterFrames = spec.alpha + 2;
    FailOnceAfterCheckpoint.forecastsTopic = cfg.topics.forecasts;
    FailOnceAfterCheckpoint.FORECASTS_AT_CHECKPOINT.set(0);

    ForecastJob.fromKafka(cfg, true).withRecordTap(new FailOnceAfterCheckpoint())
        .execute(environment(cfg));

    assertThat(FailOnceAfterCheckpoint.FAILED).as("the failure was injected").isTrue();
    int expected = n - spec.alpha + 1;
    List<ConsumerRecord<byte[], byte[]>> forecastRecords =
        KafkaIO.readCommitted(kafka.bootstrapServers(), cfg.topics.forecasts, expected, Duration.ofSeconds(30));
    ai.lsntp.testing.WireFormat.assertSingleObject(forecastRecords, "Forecast");
    List<Forecast> got = decodeForecasts(forecastRecords);
    List<Long> issues = new ArrayList<>();
    for (Forecast f : got) {
      issues.add(f.getIssueTime().toEpochMilli());
    }
    List<Long> want = new ArrayList<>();
    for (int end = spec.alpha - 1; end < n; end++) {
      want.add(frames.get(end).getValidTime().toEpochMilli());
    }
    if (guarantee.equals("at-least-once")) {
      assertThat(new java.util.HashSet<>(issues)).as("every forecast at least once").containsAll(want);
      assertThat(issues.size()).as("forecasts written after the checkpoint came again after the restart: duplicates")
          .isGreaterThan(want.size());
      System.out.println("at-least-once: " + issues.size() + " forecasts read for " + want.size() + " windows");
      return;
    }
    assertThat(issues).as("every forecast exactly once, in order").containsExactlyElementsOf(want);
    // a read_uncommitted consumer also sees the aborted output of the failed attempt: proof that the
    // failure really came between a checkpoint and the next, with output to roll back
    Map<String, Object> c = Map.of("bootstrap.servers", kafka.bootstrapServers(), "group.id", "uncommitted",
        "auto.offset.reset", "earliest", "isolation.level", "read_uncommitted");
    try (org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]> consumer =
        new org.apache.kafka.clients.consumer.KafkaConsumer<>(c,
            new org.apache.kafka.common.serialization.ByteArrayDeserializer(),
            new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
      consumer.subscribe(List.of(cfg.topics.forecasts));
      int n2 = 0;
      long until = System.currentTimeMillis() + 3000;
      while (System.currentTimeMillis() < until) {
        n2 += consumer.poll(Duration.ofMillis(200)).count();
      }
      System.out.println("exactly-once test: " + issues.size() + " committed forecasts, " + n2
          + " records seen read_uncommitted (aborted attempt included)");
      assertThat(n2).as("the failed attempt had written forecasts after the checkpoint (then aborted)")
          .isGreaterThan(issues.size());
    }
  }
}

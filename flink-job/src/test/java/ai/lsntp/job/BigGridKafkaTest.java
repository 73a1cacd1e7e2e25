package ai.lsntp.job;

import static ai.lsntp.testing.JobMetrics.counter;
import static ai.lsntp.testing.JobMetrics.restarts;
import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.avro.Verification;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.schemas.ForecastTiles;
import ai.lsntp.schemas.FrameTiles;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.schemas.Tiling;
import ai.lsntp.testing.KafkaBroker;
import ai.lsntp.testing.KafkaIO;
import ai.lsntp.testing.ModelFiles;
import ai.lsntp.testing.TestJobConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TreeMap;
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
import org.junit.jupiter.api.io.TempDir;

/**
 * Big grids through a real broker and the real job: a 300 x 300 grid whose frames come as tiles
 * (among them a frame whose tiles disagree on geometry and one cut into tiles over the tile limit),
 * and a 1000 x 1000 grid whose 4 MB frames come whole, one record each, on a frames topic whose
 * limit was raised to allow it. Bad tiles are rejected with their reasons, the job never restarts,
 * the frames after them are still forecast, and every forecast comes out (as tiles under the
 * forecasts topic's default 1 MiB limit where it is bigger) equal to what the model makes of its
 * window. The models forecast persistence (the newest frame for every lead), so each expected
 * forecast is known exactly; they are real ONNX models the job checks and serves as any other.
 */
class BigGridKafkaTest {
  static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
      .setConfiguration(REPORTER.addToConfiguration(new Configuration()))
      .setNumberTaskManagers(1)
      .setNumberSlotsPerTaskManager(1)
      .build());

  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();
  @TempDir static Path models;

  static final long HOUR = 3_600_000L;
  static final long T0 = Instant.parse("2024-01-01T00:00:00Z").toEpochMilli();
  static final String TILED = "tiled-300x300";
  static final String WHOLE = "whole-1000x1000";
  static final int TILE_LIMIT = 64 * 1024;
  static final int BIG_RECORDS = 9_000_000;
  static final RecordCodec<TemperatureFrame> AVRO = RecordCodec.of(TemperatureFrame.class);

  @BeforeAll
  static void models() throws Exception {
    ModelFiles.persistence(models, TILED, 300, 300, 2, 2, 60.0, -10.0, -0.01, 0.01);
    ModelFiles.persistence(models, WHOLE, 1000, 1000, 2, 2, 70.0, -20.0, -0.01, 0.01);
  }

  static TemperatureFrame frame(String grid, int h, int w, double lat0, double lon0, int hour) {
    Random rnd = new Random(grid.hashCode() * 31L + hour);
    float[] v = new float[h * w];
    for (int i = 0; i < v.length; i++) {
      v[i] = 250f + 50f * rnd.nextFloat();
    }
    return TemperatureFrame.newBuilder().setGridId(grid).setValidTime(Instant.ofEpochMilli(T0 + hour * HOUR))
        .setSource("test").setHeight(h).setWidth(w).setLat0(lat0).setLon0(lon0).setDlat(-0.01).setDlon(0.01)
        .setValues(PackedFloats.encode(v)).build();
  }

  static TemperatureFrame tiled(int hour) {
    return frame(TILED, 300, 300, 60.0, -10.0, hour);
  }

  static TemperatureFrame whole(int hour) {
    return frame(WHOLE, 1000, 1000, 70.0, -20.0, hour);
  }

  static List<TemperatureFrame> tiles(TemperatureFrame f, int limit) {
    return FrameTiles.INSTANCE.split(f, f.getGridId().length(), limit);
  }

  /** What one run of the job over every record below made of them (the tests read their parts). */
  record Outcome(long restarts, long assembled, List<RejectedFrame> rejects, Map<String, Forecast> forecasts,
      int forecastTiles, List<Verification> scores, int disagreeingTiles, int oversizedTiles) {}

  private static Outcome outcome;

  /** Runs the job once for the class, inside the first test (where the MiniCluster extension is the environment). */
  static synchronized Outcome outcome() throws Exception {
    if (outcome == null) {
      outcome = run();
    }
    return outcome;
  }

  static Outcome run() throws Exception {
    String prefix = "big";
    // as a site that takes whole 4 MB frames does: the frames topic allows them; the output topics keep Kafka's defaults
    kafka.createTopics(1, Map.of("max.message.bytes", Integer.toString(BIG_RECORDS)), Topic.FRAMES.under(prefix));
    kafka.createTopics(1, java.util.Arrays.stream(Topic.values()).filter(t -> t != Topic.FRAMES)
        .map(t -> t.under(prefix)).toArray(String[]::new));
    LsntpConfig cfg = TestJobConfig.onTopics(kafka.bootstrapServers(), prefix)
        .set("models.directory", models.toString())
        .set("stream.future-tolerance", "3650d")
        .set("stream.max-tile-bytes", Integer.toString(TILE_LIMIT))
        .set("delivery.guarantee", "exactly-once")
        .set("delivery.checkpoint-interval", "1s")
        .set("alerts", "[]")
        .load();

    List<TemperatureFrame> records = new ArrayList<>();
    // the tiled grid: hours 0 and 1 as tiles within the limit: a forecast at hour 1
    records.addAll(tiles(tiled(0), TILE_LIMIT));
    records.addAll(tiles(tiled(1), TILE_LIMIT));
    // hour 2: one tile from a producer whose grid starts 0.00005 degrees further north (within the
    // model's tolerance, so the tile alone passes): the frame's tiles disagree on geometry
    List<TemperatureFrame> disagreeing = new ArrayList<>(tiles(tiled(2), TILE_LIMIT));
    disagreeing.set(1, TemperatureFrame.newBuilder(disagreeing.get(1)).setLat0(60.00005).build());
    records.addAll(disagreeing);
    // hour 3: cut for another limit: every tile is over the job's tile limit
    List<TemperatureFrame> oversized = tiles(tiled(3), 2 * TILE_LIMIT);
    records.addAll(oversized);
    // hours 4, 5, 6 as good tiles again: forecasts at 5 and 6, and hour 6 verifies the forecast of hour 5
    for (int hour = 4; hour <= 6; hour++) {
      records.addAll(tiles(tiled(hour), TILE_LIMIT));
    }
    // the 1000 x 1000 grid: 4 MB frames, each one record
    for (int hour = 0; hour <= 2; hour++) {
      records.add(whole(hour));
    }
    produce(cfg, records);

    JobID job = ForecastJob.fromKafka(cfg, true)
        .execute(StreamExecutionEnvironment.getExecutionEnvironment(ForecastJob.flinkConfiguration(cfg, null)))
        .getJobID();

    List<ConsumerRecord<byte[], byte[]>> out = KafkaIO.readCommitted(kafka.bootstrapServers(), cfg.topics.forecasts,
        3 + 2 * 8, Duration.ofSeconds(30));
    RecordCodec<Forecast> fc = RecordCodec.of(Forecast.class);
    ForecastTiles.Assembler assembler = new ForecastTiles.Assembler(8, (f, why) -> {
      throw new AssertionError("forecast tiles dropped: " + why);
    });
    Map<String, Forecast> forecasts = new TreeMap<>();
    int tilesOut = 0;
    for (ConsumerRecord<byte[], byte[]> r : out) {
      assertThat(Tiling.fits(r.key().length, r.value().length, LsntpConfig.Records.DEFAULT_MAX_RECORD_BYTES))
          .as("every forecast record within Kafka's default limit").isTrue();
      Forecast f = fc.decode(r.value());
      tilesOut += f.getTile() != null ? 1 : 0;
      Forecast complete = assembler.add(f);
      if (complete != null) {
        assertThat(forecasts.put(complete.getGridId() + "@" + (complete.getIssueTime().toEpochMilli() - T0) / HOUR,
            complete)).as("one forecast per grid and issue time").isNull();
      }
    }
    assertThat(assembler.pending()).as("forecasts left half-read").isZero();
    return new Outcome(restarts(REPORTER, job), counter(REPORTER, job, "framesAssembled"),
        decodeAll(cfg.topics.rejects, RejectedFrame.class, disagreeing.size() + oversized.size()), forecasts, tilesOut,
        decodeAll(cfg.topics.verification, Verification.class, 2), disagreeing.size(), oversized.size());
  }

  @Test
  void aFrameWhoseTilesDisagreeOnGeometryIsRejectedTileByTileAndTheGridGoesOn() throws Exception {
    Outcome o = outcome();
    assertThat(o.rejects()).filteredOn(r -> r.getReasonCode().equals("TILE_INCONSISTENT")).hasSize(o.disagreeingTiles())
        .allSatisfy(r -> assertThat(r.getValidTime().toEpochMilli()).isEqualTo(T0 + 2 * HOUR))
        .anySatisfy(r -> assertThat(r.getReason()).contains("tile 1 of " + o.disagreeingTiles())
            .contains("lat0 60.00005 against 60.0"));
    assertThat(o.restarts()).as("restarts").isZero();
    assertThat(o.forecasts()).as("forecasts after the bad frames").containsKeys(TILED + "@5", TILED + "@6");
  }

  @Test
  void aTileOverTheTileLimitIsRejectedAndTheGridGoesOn() throws Exception {
    Outcome o = outcome();
    assertThat(o.rejects()).filteredOn(r -> r.getReasonCode().equals("TILE_TOO_LARGE")).hasSize(o.oversizedTiles())
        .allSatisfy(r -> assertThat(r.getReason()).contains("over stream.max-tile-bytes = " + TILE_LIMIT)
            .contains("cut the frame into smaller tiles"));
    assertThat(o.rejects()).as("nothing else rejected").hasSize(o.disagreeingTiles() + o.oversizedTiles());
    assertThat(o.restarts()).as("restarts").isZero();
  }

  @Test
  void aWholeFourMegabyteFrameInOneRecordIsForecastAndItsForecastGoesOutAsTiles() throws Exception {
    Outcome o = outcome();
    assertThat(o.forecasts()).containsKeys(WHOLE + "@1", WHOLE + "@2");
    assertThat(o.forecastTiles()).as("the 8 MB forecasts, as tiles of at most 1 MiB").isGreaterThanOrEqualTo(2 * 8);
    assertPersistence(o, WHOLE);
    assertThat(o.scores()).filteredOn(v -> v.getGridId().equals(WHOLE)).singleElement().satisfies(v -> {
      assertThat(v.getIssueTime().toEpochMilli()).isEqualTo(T0 + HOUR);
      assertThat(v.getLead()).isEqualTo(1);
      assertThat(v.getCells()).isEqualTo(1_000_000);
      assertThat(v.getMae()).as("persistence scored against itself").isEqualTo(v.getPersistenceMae());
    });
  }

  @Test
  void tiledFramesAreAssembledForecastAndVerifiedLikeWholeOnes() throws Exception {
    Outcome o = outcome();
    assertThat(o.forecasts().keySet()).filteredOn(k -> k.startsWith(TILED))
        .containsExactly(TILED + "@1", TILED + "@5", TILED + "@6");
    assertThat(o.assembled()).as("tiled frames assembled: hours 0, 1, 4, 5, 6").isEqualTo(5);
    assertThat(o.forecasts().get(TILED + "@5").getTile()).as("a 720 KB forecast fits one record").isNull();
    assertPersistence(o, TILED);
    assertThat(o.scores()).filteredOn(v -> v.getGridId().equals(TILED)).singleElement().satisfies(v -> {
      assertThat(v.getIssueTime().toEpochMilli()).isEqualTo(T0 + 5 * HOUR);
      assertThat(v.getCells()).isEqualTo(90_000);
      assertThat(v.getMae()).isEqualTo(v.getPersistenceMae());
    });
  }

  /** Every forecast of {@code grid} holds the newest frame of its window for both leads. */
  static void assertPersistence(Outcome o, String grid) {
    for (Map.Entry<String, Forecast> e : o.forecasts().entrySet()) {
      if (!e.getKey().startsWith(grid + "@")) {
        continue;
      }
      int hour = Integer.parseInt(e.getKey().replaceAll(".*@", ""));
      TemperatureFrame newest = grid.equals(TILED) ? tiled(hour) : whole(hour);
      float[] frame = PackedFloats.decode(newest.getValues());
      float[] both = PackedFloats.decode(e.getValue().getValues());
      assertThat(both).as("%s: both leads", e.getKey()).hasSize(2 * frame.length);
      // isEqualTo compares arrays with Arrays.equals; containsExactly is far too slow for a million cells
      assertThat(java.util.Arrays.copyOfRange(both, 0, frame.length)).as("%s lead 1", e.getKey()).isEqualTo(frame);
      assertThat(java.util.Arrays.copyOfRange(both, frame.length, both.length)).as("%s lead 2", e.getKey())
          .isEqualTo(frame);
    }
  }

  static void produce(LsntpConfig cfg, List<TemperatureFrame> frames) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", kafka.bootstrapServers());
    p.put("acks", "all");
    p.put("max.request.size", Integer.toString(BIG_RECORDS));
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
      for (TemperatureFrame f : frames) {
        producer.send(new ProducerRecord<>(cfg.topics.frames, f.getGridId().getBytes(StandardCharsets.UTF_8),
            AVRO.encode(f))).get();
      }
    }
  }

  static <T extends org.apache.avro.specific.SpecificRecord> List<T> decodeAll(String topic, Class<T> type, int expected)
      throws Exception {
    RecordCodec<T> codec = RecordCodec.of(type);
    List<T> out = new ArrayList<>();
    // a 10^6-cell frame's verification is committed at a checkpoint after its forecast, once more
    // than 30 s later in CI; the read ends as soon as all are there
    for (ConsumerRecord<byte[], byte[]> r : KafkaIO.readCommitted(kafka.bootstrapServers(), topic, expected,
        Duration.ofSeconds(120))) {
      out.add(codec.decode(r.value()));
    }
    return out;
  }
}

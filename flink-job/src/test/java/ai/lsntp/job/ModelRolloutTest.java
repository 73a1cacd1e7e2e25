package ai.lsntp.job;

import ai.lsntp.testing.KafkaBroker;
import org.junit.jupiter.api.extension.RegisterExtension;
import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.Forecast;
import ai.lsntp.calibration.Calibration;
import ai.lsntp.calibration.Calibrator;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.ModelEventKind;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.testing.CommittedRecords;
import ai.lsntp.testing.KafkaIO;
import ai.lsntp.testing.ModelFiles;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.core.execution.JobClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models roll out while the job runs (a real broker, a MiniCluster, the shipped models): a new
 * version of a grid's model dropped into the directory mid-stream takes over between batches,
 * with none of the grid's forecasts missing or repeated and each naming the version that made it;
 * its calibration differs, so the grid's calibration starts again from it at its first forecast;
 * a corrupt file and a model whose graph does not fit its grid are refused with events while the
 * serving model goes on; a new grid's model makes that grid's frames, rejected as UNKNOWN_GRID
 * before, forecast, its first forecast with the intervals of its model's export-time calibration.
 */
class ModelRolloutTest {
  /** The version the test stamps on its re-exported copy: never a shipped model's. */
  static final String V2 = "9.9.9-rollout-test";

  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();
  static final RecordCodec<TemperatureFrame> FRAMES = RecordCodec.of(TemperatureFrame.class);

  @TempDir Path tmp;

  static void send(LsntpConfig cfg, List<TemperatureFrame> frames) throws Exception {
    List<byte[][]> kv = new ArrayList<>();
    for (TemperatureFrame f : frames) {
      kv.add(new byte[][] {f.getGridId().getBytes(StandardCharsets.UTF_8), FRAMES.encode(f)});
    }
    KafkaIO.produce(kafka.bootstrapServers(), cfg.topics.frames, kv);
  }

  static List<Forecast> forecasts(CommittedRecords out, LsntpConfig cfg) throws IOException {
    return decoded(out, cfg.topics.forecasts, Forecast.class);
  }

  static List<ModelEvent> events(CommittedRecords out, LsntpConfig cfg) throws IOException {
    return decoded(out, cfg.topics.modelEvents, ModelEvent.class);
  }

  private static <T extends org.apache.avro.specific.SpecificRecord> List<T> decoded(CommittedRecords out, String topic,
      Class<T> type) throws IOException {
    RecordCodec<T> a = RecordCodec.of(type);
    List<T> records = new ArrayList<>();
    long today = ai.lsntp.schemas.SchemaCatalog.fingerprint(org.apache.avro.specific.SpecificData.get().getSchema(type));
    for (CommittedRecords.Arrived r : out.on(topic)) {
      assertThat(RecordCodec.hasMarker(r.value()) && RecordCodec.fingerprintOf(r.value()) == today)
          .as("a %s in single-object encoding of today's schema", type.getSimpleName()).isTrue();
      records.add(a.decode(r.value()));
    }
    return records;
  }

  static boolean hasEvent(CommittedRecords out, LsntpConfig cfg, ModelEventKind kind, String path) {
    try {
      return events(out, cfg).stream().anyMatch(e -> e.getKind() == kind && e.getModelPath().endsWith(path));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void modelsRollOutWhileTheJobRuns() throws Exception {
    String prefix = "rollout";
    kafka.createTopics(1, Topic.namesUnder(prefix));
    Path models = tmp.resolve("models");
    ModelFiles.copyFolder(TestPaths.models().resolve("era5-uk"), models.resolve("era5-uk"));
    LsntpConfig cfg = TestJobConfig.onTopics(kafka.bootstrapServers(), prefix)
        .set("models.directory", models.toString())
        .set("models.poll-interval", "500ms")
        .set("delivery.checkpoint-interval", "500ms")
        .set("stream.future-tolerance", "3650d")
        .set("alerts", "[]")
        .load();
    List<TemperatureFrame> uk = RealFrames.uk(20);
    ModelSpec v1 = ModelCatalog.load(models).forGrid(uk.get(0).getGridId());
    String v1Calibration;
    try (ai.lsntp.model.OnnxForecaster f = ai.lsntp.model.OnnxForecaster.open(v1, false, 1)) {
      v1Calibration = f.metadata().get(Calibration.METADATA_KEY);
    }
    List<TemperatureFrame> ncep = RealFrames.read(TestPaths.ukFrames().resolveSibling("ncep-na-2014-01_02.avro"), 8);
    String ncepGrid = ncep.get(0).getGridId();

    int firstBatch = 10 - v1.alpha + 1;
    try (CommittedRecords out = new CommittedRecords(kafka.bootstrapServers(), cfg.topics.forecasts,
        cfg.topics.modelEvents, cfg.topics.rejects)) {
      JobClient job = ForecastJob.fromKafka(cfg, false).executeAsync(ForecastJob.localEnvironment(cfg));
      try {
        // v1 serves the first windows
        send(cfg, uk.subList(0, 10));
        assertThat(out.await(cfg.topics.forecasts, r -> r.size() >= firstBatch, Duration.ofSeconds(120))).isTrue();
        // the start's model is announced at the watcher's first tick, committed at a checkpoint of its own
        assertThat(out.await(cfg.topics.modelEvents, r -> hasEvent(out, cfg, ModelEventKind.ACCEPTED, "era5-uk/model.onnx"),
            Duration.ofSeconds(30))).as("the start's model announced").isTrue();

        // v2 of the same grid (another calibration: a larger eta), written elsewhere and moved into place:
        // it serves from the next batch on
        Path staged = ModelFiles.withMetadata(models.resolve("era5-uk/model.onnx"), tmp.resolve("staging/model.onnx"),
            Map.of("model_version", V2, Calibration.METADATA_KEY,
                v1Calibration.replace("\"eta\":" + v1.calibration.eta, "\"eta\":" + 2 * v1.calibration.eta)));
        ModelFiles.moveIntoPlace(staged, models.resolve("era5-uk/model.onnx"));
        assertThat(out.await(cfg.topics.modelEvents, r -> hasEvent(out, cfg, ModelEventKind.ACCEPTED, "era5-uk/model.onnx")
            && versionAccepted(out, cfg, V2), Duration.ofSeconds(60))).as("v2 accepted\n" + events(out, cfg)).isTrue();
        send(cfg, uk.subList(10, 16));
        assertThat(out.await(cfg.topics.forecasts, r -> r.size() >= firstBatch + 6, Duration.ofSeconds(60))).isTrue();

        // a corrupt file and a model whose graph does not fit the grid its metadata names: refused, v2 goes on
        Files.createDirectories(models.resolve("corrupt"));
        Files.write(models.resolve("corrupt/model.onnx"), "not an ONNX model".getBytes(StandardCharsets.UTF_8));
        ModelSpec uk2 = v1;
        // (its calibration emptied: one of NCEP's shape would be refused before its graph is looked at)
        ModelFiles.withMetadata(TestPaths.models().resolve("ncep-na/model.onnx"), tmp.resolve("staging2/model.onnx"),
            Map.of("grid_id", "era5-uk-0p25", "grid_height", Integer.toString(uk2.height), "grid_width",
                Integer.toString(uk2.width), "grid_lat0", Double.toString(uk2.lat0), "grid_lon0", Double.toString(uk2.lon0),
                "grid_dlat", Double.toString(uk2.dlat), "grid_dlon", Double.toString(uk2.dlon), "step_hours", "1",
                Calibration.METADATA_KEY, ""));
        ModelFiles.moveIntoPlace(tmp.resolve("staging2/model.onnx"), models.resolve("wrong-shape/model.onnx"));
        assertThat(out.await(cfg.topics.modelEvents, r -> hasEvent(out, cfg, ModelEventKind.REFUSED, "corrupt/model.onnx")
            && hasEvent(out, cfg, ModelEventKind.REFUSED, "wrong-shape/model.onnx"), Duration.ofSeconds(60))).isTrue();
        send(cfg, uk.subList(16, 20));
        assertThat(out.await(cfg.topics.forecasts, r -> r.size() >= firstBatch + 10, Duration.ofSeconds(60))).isTrue();

        // a new grid: its frames are UNKNOWN_GRID until its model is dropped in, then forecast
        send(cfg, ncep.subList(0, 1));
        assertThat(out.await(cfg.topics.rejects, r -> !r.isEmpty(), Duration.ofSeconds(60))).isTrue();
        Path stagedDir = ModelFiles.copyFolder(TestPaths.models().resolve("ncep-na"), tmp.resolve("staging3/ncep-na"));
        long dropped = System.currentTimeMillis();
        Files.move(stagedDir, models.resolve("ncep-na"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        assertThat(out.await(cfg.topics.modelEvents, r -> hasEvent(out, cfg, ModelEventKind.ACCEPTED, "ncep-na/model.onnx"),
            Duration.ofSeconds(60))).isTrue();
        long accepted = System.currentTimeMillis();
        send(cfg, ncep);
        assertThat(out.await(cfg.topics.forecasts, r -> {
          try {
            return forecasts(out, cfg).stream().anyMatch(f -> f.getGridId().equals(ncepGrid));
          } catch (IOException e) {
            return false;
          }
        }, Duration.ofSeconds(60))).isTrue();
        long firstForecast = System.currentTimeMillis();
        System.out.printf("model roll-out: new grid's model accepted %.1f s after it was dropped in, its first forecast "
            + "%.1f s after the drop (frames sent on acceptance; poll interval 0.5 s, exactly-once commits every 0.5 s)%n",
            (accepted - dropped) / 1000.0, (firstForecast - dropped) / 1000.0);
      } finally {
        job.cancel().get();
      }

      // every UK window forecast exactly once; before the swap by v1, after it by v2
      TreeMap<Long, String> versionByIssue = new TreeMap<>();
      for (Forecast f : forecasts(out, cfg)) {
        if (f.getGridId().equals(v1.gridId)) {
          assertThat(versionByIssue.put(f.getIssueTime().toEpochMilli(), f.getModelVersion()))
              .as("one forecast for %s", f.getIssueTime()).isNull();
        }
      }
      List<Long> want = new ArrayList<>();
      for (int end = v1.alpha - 1; end < uk.size(); end++) {
        want.add(uk.get(end).getValidTime().toEpochMilli());
      }
      assertThat(versionByIssue.keySet()).containsExactlyElementsOf(want);
      List<String> versions = new ArrayList<>(versionByIssue.values());
      assertThat(versions.subList(0, firstBatch)).containsOnly(v1.version);
      assertThat(versions.subList(firstBatch, versions.size())).containsOnly(V2);

      // the grid's calibration: from v1's at the first forecast, carried on; from v2's at v2's first
      List<Forecast> ukForecasts = forecasts(out, cfg).stream().filter(f -> f.getGridId().equals(v1.gridId))
          .sorted(java.util.Comparator.comparing(Forecast::getIssueTime)).toList();
      long firstIssue = ukForecasts.get(0).getIssueTime().toEpochMilli();
      Forecast firstV2 = ukForecasts.get(firstBatch);
      for (int i = 0; i < ukForecasts.size(); i++) {
        ai.lsntp.avro.CalibrationInfo c = ukForecasts.get(i).getCalibration();
        boolean byV2 = i >= firstBatch;
        assertThat(c.getBasis()).as("forecast %d", i).isEqualTo(byV2 ? firstV2.getCalibration().getBasis() : v1.calibration.basis);
        assertThat(c.getSince().toEpochMilli()).as("forecast %d", i)
            .isEqualTo(byV2 ? firstV2.getIssueTime().toEpochMilli() : firstIssue);
      }
      assertThat(firstV2.getCalibration().getBasis()).isNotEqualTo(v1.calibration.basis);
      assertThat(firstV2.getCalibration().getUpdates()).as("v2 starts afresh").isZero();
      assertThat(ukForecasts.get(firstBatch - 1).getCalibration().getUpdates()).as("v1's state had moved").isPositive();

      // the new grid's first forecast: its model's export-time intervals
      ModelSpec ncepSpec = ModelCatalog.load(models).forGrid(ncepGrid);
      Forecast firstNcep = forecasts(out, cfg).stream().filter(f -> f.getGridId().equals(ncepGrid))
          .min(java.util.Comparator.comparing(Forecast::getIssueTime)).orElseThrow();
      assertThat(firstNcep.getCalibration().getBasis()).isEqualTo(ncepSpec.calibration.basis);
      assertThat(firstNcep.getCalibration().getUpdates()).isZero();
      float[] expected = Calibrator.quantiles(Calibrator.start(ncepSpec.calibration, cfg.intervalLevels(), 0L),
          PackedFloats.decode(firstNcep.getValues()));
      assertThat(PackedFloats.decode(firstNcep.getQuantiles())).containsExactly(expected);

      RecordCodec<RejectedFrame> ra = RecordCodec.of(RejectedFrame.class);
      RejectedFrame unknown = ra.decode(out.on(cfg.topics.rejects).get(0).value());
      assertThat(unknown.getReasonCode()).isEqualTo("UNKNOWN_GRID");
      assertThat(unknown.getGridId()).isEqualTo(ncepGrid);
      List<ModelEvent> events = events(out, cfg);
      assertThat(events).filteredOn(e -> e.getModelPath().endsWith("corrupt/model.onnx")).singleElement()
          .satisfies(e -> assertThat(e.getReason()).contains("ONNX Runtime cannot load it"));
      assertThat(events).filteredOn(e -> e.getModelPath().endsWith("wrong-shape/model.onnx")).singleElement()
          .satisfies(e -> assertThat(e.getReason()).contains("inputs/outputs"));
      assertThat(events).filteredOn(e -> e.getKind() == ModelEventKind.ACCEPTED && V2.equals(e.getNewVersion()))
          .singleElement().satisfies(e -> assertThat(e.getOldVersion()).isEqualTo(v1.version));
    }
  }

  static boolean versionAccepted(CommittedRecords out, LsntpConfig cfg, String version) {
    try {
      return events(out, cfg).stream().anyMatch(e -> e.getKind() == ModelEventKind.ACCEPTED && version.equals(e.getNewVersion()));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}

package ai.lsntp.tools;

import ai.lsntp.testing.KafkaBroker;
import org.junit.jupiter.api.extension.RegisterExtension;
import ai.lsntp.testing.Cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.job.ForecastJob;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.model.OnnxForecaster;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator path end to end, every part real: the ERA5 GRIB file of data/raw ingested by the
 * Python ingest, replayed (plus NCEP NetCDF frames straight from the file, under a grid id no model serves) to a
 * real in-process KRaft broker, forecast by the Flink job on a MiniCluster with the shipped ONNX
 * model, and read back by watch into CF NetCDF files whose values must equal ONNX Runtime run
 * directly on the ingested frames. Both ends go through tiles, with record limits small enough
 * that this grid's frames and forecasts exceed them (a big grid's case at a small grid's cost):
 * replay cuts each frame into tiles, the job assembles them, cuts each forecast into tiles, and
 * watch puts those back together.
 */
class EndToEndToolsTest {
  static final double EXACT_K = 1e-5;
  /** The NCEP frames go out under this id: models/ serves ncep-na-2p5 itself, and this test needs a grid nobody serves. */
  static final String UNSERVED_GRID = "ncep-na-2p5-unserved";
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();

  @TempDir Path tmp;

  @Test
  void ingestReplayJobWatchGivesTheForecastsOfTheModelOnTheIngestedFrames() throws Exception {
    Path grib = RealDataFiles.file(RealDataFiles.ERA5_GRIB);
    Path nc = RealDataFiles.file(RealDataFiles.NCEP_NETCDF);
    ModelCatalog models = ModelCatalog.load(TestPaths.models());
    ModelSpec spec = models.forGrid("era5-uk-0p25");
    assertThat(spec).as("shipped model for era5-uk-0p25").isNotNull();

    // 1. ingest: GRIB -> Avro container file with the project's Python ingest
    Instant from = Instant.parse("2019-03-20T00:00:00Z");
    Instant to = Instant.parse("2019-03-20T11:00:00Z");
    Path avro = FrameFiles.ingest(grib, "era5-uk-0p25", null, null, null, from, to, "/usr/bin/python3", tmp,
        new java.io.PrintWriter(System.err, true));
    List<TemperatureFrame> frames = RealFrames.read(avro, 1000);
    assertThat(frames).hasSize(12);
    assertThat(frames.get(0).getValidTime()).isEqualTo(from);
    assertThat(frames.get(11).getValidTime()).isEqualTo(to);
    assertThat(frames.get(0).getHeight() * frames.get(0).getWidth()).isEqualTo(spec.cells());

    // 2. replay: the ingested Avro file, and NetCDF frames of a grid no model serves (they must be rejected)
    String prefix = "e2e";
    kafka.createTopics(2, Topic.namesUnder(prefix));
    String[] topics = TestJobConfig.topicArguments(prefix).toArray(String[]::new);
    List<String> replayArgs = new ArrayList<>(List.of(avro.toString(), "-b", kafka.bootstrapServers(), "--max-speed",
        "--progress", "lines", "--tile-bytes", "2048"));
    replayArgs.addAll(List.of(topics));
    ReplayCommand replay = new ReplayCommand();
    Cli r1 = Cli.run(replay, replayArgs.toArray(String[]::new));
    assertThat(r1.exit).as(r1.toString()).isZero();
    assertThat(replay.acked()).isEqualTo(12);
    assertThat(r1.out).contains("12 frames sent to e2e.frames, 12 acknowledged, 0 failed, 12 of them as tiles (60 records "
        + "of at most 2048 bytes)");

    List<String> ncArgs = new ArrayList<>(List.of(nc.toString(), "--grid-id", UNSERVED_GRID, "--start", "2014-01-01T00:00",
        "--end", "2014-01-01T18:00", "-b", kafka.bootstrapServers(), "--speed", "1e9", "--progress", "none"));
    ncArgs.addAll(List.of(topics));
    ReplayCommand replayNc = new ReplayCommand();
    Cli r2 = Cli.run(replayNc, ncArgs.toArray(String[]::new));
    assertThat(r2.exit).as(r2.toString()).isZero();
    assertThat(r2.out).contains("4 frames sent to e2e.frames, 4 acknowledged, 0 failed");

    // 3. the job, bounded to what the frames topic holds now
    LsntpConfig cfg = TestJobConfig.onTopics(kafka.bootstrapServers(), prefix)
        .set("delivery.guarantee", "exactly-once")
        .set("delivery.checkpoint-interval", "300ms")
        // each 194 KB forecast (values and the 80% and 95% intervals' four quantile planes) goes out as tiles
        .set("records.max-record-bytes", "65536")
        .set("alerts", "[{name: below-285, kind: frost, threshold: 285.0, grid: '*'}]")
        .load();
    ForecastJob.fromKafka(cfg, true).execute(ForecastJob.localEnvironment(cfg));

    // 4. watch: committed forecasts, alerts and rejects, forecasts as NetCDF and PNG maps
    int expected = frames.size() - spec.alpha + 1;
    Path ncDir = tmp.resolve("forecasts");
    Path pngDir = tmp.resolve("maps");
    List<String> watchArgs = new ArrayList<>(List.of("-b", kafka.bootstrapServers(), "--from-beginning", "--show-rejects",
        "--netcdf-dir", ncDir.toString(), "--png-dir", pngDir.toString(), "--idle-timeout", "5s"));
    watchArgs.addAll(List.of(topics));
    WatchCommand watch = new WatchCommand();
    Cli w = Cli.run(watch, watchArgs.toArray(String[]::new));
    assertThat(w.exit).as(w.toString()).isZero();
    assertThat(watch.printed.forecasts).isEqualTo(expected);
    assertThat(watch.printed.rejects).as("the NCEP frames under a grid id no model serves").isEqualTo(4);
    assertThat(w.out.lines().filter(l -> l.startsWith("REJECT   UNKNOWN_GRID " + UNSERVED_GRID)).count()).isEqualTo(4);
    assertThat(watch.printed.alerts).as("one alert per lead per forecast (the coldest cell is below 285 K)")
        .isEqualTo((long) expected * spec.beta);
    assertThat(watch.printed.undecodable).isZero();
    List<String> forecastLines = w.out.lines().filter(l -> l.startsWith("FORECAST")).collect(Collectors.toList());
    assertThat(forecastLines).hasSize(expected);
    // on the topic each forecast was one tile per lead (a lead of 32 KB, values and quantiles, fits a
    // 64 KB record; six do not)
    ai.lsntp.schemas.RecordCodec<ai.lsntp.avro.Forecast> fc = ai.lsntp.schemas.RecordCodec.of(ai.lsntp.avro.Forecast.class);
    List<ai.lsntp.avro.Forecast> onTopic = new ArrayList<>();
    for (var r : ai.lsntp.testing.KafkaIO.readCommitted(kafka.bootstrapServers(), cfg.topics.forecasts,
        expected * spec.beta, java.time.Duration.ofSeconds(10))) {
      onTopic.add(fc.decode(r.value()));
    }
    assertThat(onTopic).hasSize(expected * spec.beta).allSatisfy(f -> assertThat(f.getTile()).isNotNull());

    // the watched forecasts, read back from NetCDF by xarray, equal ONNX Runtime run directly on the ingested frames
    int cells = spec.cells();
    try (OnnxForecaster direct = OnnxForecaster.open(spec, false, 1)) {
      for (int end = spec.alpha - 1; end < frames.size(); end++) {
        float[] window = new float[spec.alpha * cells];
        for (int k = 0; k < spec.alpha; k++) {
          System.arraycopy(PackedFloats.decode(frames.get(end - spec.alpha + 1 + k).getValues()), 0, window, k * cells, cells);
        }
        float[] want = direct.forecast(List.of(window))[0];
        Instant issue = frames.get(end).getValidTime();
        String stamp = Stamp.compact(issue);
        assertThat(forecastLines).anySatisfy(l -> assertThat(l).contains("issued " + Stamp.readable(issue))
            .contains("-> era5-uk-0p25_" + stamp + ".nc + " + spec.beta + " PNG"));
        JsonNode d = NetcdfReader.read(ncDir.resolve("era5-uk-0p25_" + stamp + ".nc"));
        assertThat(d.get("forecast_reference_time").asText()).isEqualTo(issue.toString().replace(":00Z", ":00.000Z"));
        assertThat(d.get("time").size()).isEqualTo(spec.beta);
        assertThat(d.get("time").get(0).asText())
            .isEqualTo(issue.plusMillis(spec.stepMillis).toString().replace(":00Z", ":00.000Z"));
        assertThat(d.get("forecast_period_hours").get(spec.beta - 1).asDouble())
            .isEqualTo(spec.beta * spec.stepMillis / 3_600_000.0);
        assertThat(d.get("grid_id").asText()).isEqualTo("era5-uk-0p25");
        JsonNode got = d.get("t2m");
        assertThat(got.size()).isEqualTo(want.length);
        double maxDiff = 0;
        for (int i = 0; i < want.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(got.get(i).asDouble() - want[i]));
        }
        assertThat(maxDiff).as("max |watched NetCDF - direct ORT| for %s", issue).isLessThanOrEqualTo(EXACT_K);
        for (int lead = 1; lead <= spec.beta; lead++) {
          assertThat(pngDir.resolve("era5-uk-0p25_" + stamp + "_lead" + lead + "h.png")).isNotEmptyFile();
        }
      }
    }
    try (var s = Files.list(ncDir)) {
      assertThat(s.count()).isEqualTo(expected);
    }
  }
}

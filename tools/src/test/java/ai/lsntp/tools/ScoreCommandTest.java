package ai.lsntp.tools;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.Cli;
import ai.lsntp.testing.TestPaths;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `./lsntp score` agrees with `./lsntp evaluate` (the metrics.json evaluate wrote beside each
 * shipped model) on the same windows: the held-out test part, whose every window and lead lies in it;
 * its intervals (the job's calibration code, replayed from the model's export-time calibration)
 * agree with evaluate's Python replay of them (intervals.json): coverage, CRPS and both baselines'
 * CRPS per lead; and zoo models, on Avro and on NetCDF frames, agree with the comparison that scored them.
 */
class ScoreCommandTest {
  static final double AGREEMENT_K = 1e-3;

  @TempDir Path tmp;

  /** Runs `score` over the test part (start/end, e.g. 2019-03-20T00Z/2019-03-24T23Z); its --json. */
  JsonNode score(Path model, Path frames, String testPart, String name, String... expectOut) throws Exception {
    String[] test = testPart.split("/");
    Path json = tmp.resolve(name + ".json");
    Cli r = Cli.run(new ScoreCommand(), model.toString(), frames.toString(),
        "--start", test[0].replace("Z", ":00Z"), "--end", test[1].replace("Z", ":00Z"), "--json", json.toString());
    assertThat(r.exit).as(r.toString()).isZero();
    if (expectOut.length > 0) {
      assertThat(r.out).contains(expectOut);
    }
    return new ObjectMapper().readTree(Files.readString(json, StandardCharsets.UTF_8));
  }

  /** The largest per-lead difference between score's arrays and the expected ones, by score's key (mae, rmse, ...). */
  static double largestDifference(JsonNode scored, Map<String, JsonNode> expected) {
    double worst = 0;
    for (Map.Entry<String, JsonNode> e : expected.entrySet()) {
      assertThat(scored.get(e.getKey())).as(e.getKey()).hasSize(e.getValue().size());
      for (int lead = 0; lead < e.getValue().size(); lead++) {
        worst = Math.max(worst, Math.abs(scored.get(e.getKey()).get(lead).asDouble() - e.getValue().get(lead).asDouble()));
      }
    }
    return worst;
  }

  void agreesWithEvaluate(String folder, String frames, String label) throws Exception {
    Path dir = TestPaths.models().resolve(folder);
    JsonNode metrics = new ObjectMapper().readTree(dir.resolve("metrics.json").toFile());
    JsonNode scored = score(dir.resolve("model.onnx"), TestPaths.root().resolve("data/frames").resolve(frames),
        metrics.at("/data/test").asText(), folder, "mean", "persistence MAE");
    assertThat(scored.get("windows").asInt()).as("evaluate's test windows").isEqualTo(metrics.at("/data/test_windows").asInt());
    double worst = largestDifference(scored, Map.of("mae", metrics.at("/results/" + label + "/mae"),
        "rmse", metrics.at("/results/" + label + "/rmse"), "persistence_mae", metrics.at("/results/Persistence/mae")));
    System.out.printf("score vs evaluate, %s: largest per-lead difference of MAE, RMSE, persistence MAE = %.2e K%n",
        folder, worst);
    assertThat(worst).isLessThanOrEqualTo(AGREEMENT_K);

    JsonNode intervals = new ObjectMapper().readTree(dir.resolve("intervals.json").toFile());
    JsonNode iv = scored.get("intervals");
    assertThat(iv.get("windows").asInt()).isEqualTo(intervals.get("windows_after_first_day").asInt());
    double coverage = 0;
    double crps = 0;
    String[][] pairs = {{"conformal", "conformal"}, {"static_width", "static per-lead width"},
        {"persistence", "persistence + validation error quantiles"}};
    for (String[] p : pairs) {
      JsonNode java = iv.get(p[0]);
      JsonNode python = intervals.at("/results/" + p[1] + "/after_first_day");
      for (int lead = 0; lead < java.get("crps").size(); lead++) {
        crps = Math.max(crps, Math.abs(java.at("/crps/" + lead).asDouble() - python.at("/crps/" + lead).asDouble()));
        for (int j = 0; j < 2; j++) {
          String at = "/coverage/" + lead + "/" + j;
          coverage = Math.max(coverage, Math.abs(java.at(at).asDouble() - python.at(at).asDouble()));
        }
      }
    }
    System.out.printf("score vs evaluate, %s intervals: largest per-lead difference of coverage %.2e, of CRPS %.2e K "
        + "(conformal, fixed width, persistence)%n", folder, coverage, crps);
    assertThat(coverage).as("coverage: a cell on an interval's edge may fall either way").isLessThanOrEqualTo(2e-3);
    assertThat(crps).isLessThanOrEqualTo(AGREEMENT_K);
  }

  @Test
  void era5ScoresAsEvaluateDid() throws Exception {
    agreesWithEvaluate("era5-uk", "era5-uk-2019-03.avro", "LS-NTP");
  }

  @Test
  void ncepScoresAsEvaluateDid() throws Exception {
    JsonNode metrics = new ObjectMapper().readTree(TestPaths.models().resolve("ncep-na/metrics.json").toFile());
    String label = metrics.get("models").fieldNames().next(); // the shipped model is the first evaluated
    agreesWithEvaluate("ncep-na", "ncep-na-2014-01_02.avro", label);
  }

  /**
   * A zoo model scores on frames as the comparison scored it (models/zoo/GRID/SYSTEM/metrics.json,
   * written from models/comparison/comparison.json): same test windows, per-lead MAE and RMSE.
   */
  void agreesWithTheComparison(String zooSystem, Path frames) throws Exception {
    Path dir = TestPaths.models().resolve("zoo").resolve(zooSystem);
    JsonNode zoo = new ObjectMapper().readTree(dir.resolve("metrics.json").toFile());
    JsonNode data = new ObjectMapper().readTree(TestPaths.models().resolve("comparison/comparison.json").toFile())
        .at("/datasets/" + zoo.get("grid_id").asText() + "/data");
    JsonNode scored = score(dir.resolve("model.onnx"), frames, data.get("test").asText(), zooSystem.replace('/', '-'));
    assertThat(scored.get("windows").asInt()).as("the comparison's test windows").isEqualTo(data.get("test_windows").asInt());
    double worst = largestDifference(scored, Map.of("mae", zoo.at("/test_per_lead/mae"), "rmse", zoo.at("/test_per_lead/rmse")));
    System.out.printf("score vs the comparison, zoo/%s on %s: largest per-lead difference of MAE, RMSE = %.2e K%n",
        zooSystem, frames.getFileName(), worst);
    assertThat(worst).isLessThanOrEqualTo(AGREEMENT_K);
  }

  @Test
  void aZooGraphModelScoresOnAvroFramesAsTheComparisonDid() throws Exception {
    agreesWithTheComparison("era5-uk-0p25/agcrn", TestPaths.root().resolve("data/frames/era5-uk-2019-03.avro"));
  }

  /** NetCDF input goes through the Python ingest first: the real NCEP file of data/raw. */
  @Test
  void aZooModelScoresOnNetCdfFramesAsTheComparisonDid() throws Exception {
    Path nc = RealDataFiles.file(RealDataFiles.NCEP_NETCDF);
    agreesWithTheComparison("ncep-na-2p5/dconvlstm", nc);
  }

  @Test
  void aFileThatIsNotAModelIsRefusedWithTheReason() throws Exception {
    Path bad = tmp.resolve("model.onnx");
    Files.writeString(bad, "not a model");
    Cli r = Cli.run(new ScoreCommand(), bad.toString(), TestPaths.ukFrames().toString());
    assertThat(r.exit).isEqualTo(2);
    assertThat(r.err).contains("refused").contains("ONNX Runtime cannot load it");
  }

  @Test
  void framesOfAnotherGridGiveNothingToScore() throws Exception {
    Cli r = Cli.run(new ScoreCommand(), TestPaths.models().resolve("ncep-na/model.onnx").toString(),
        TestPaths.ukFrames().toString(), "--end", "2019-03-02T00:00Z");
    assertThat(r.exit).isEqualTo(1);
    assertThat(r.err).contains("frames of other grids skipped").contains("no window to score");
  }
}

package ai.lsntp.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.TestPaths;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ONNX Runtime Java gives what PyTorch gave for the same input, for every shipped model
 * (models/NAME/model.onnx with parity files, within ModelCheck's 1e-3 K) and for every model kind
 * model-export can train (a tiny model of each, made by `python3 -m lsntp parity-fixtures`, within
 * 1e-4 K; each fixture's network contributes about 1 K to its forecast, so the check sees the
 * network), and the sparse graph form (lsntp-sparse, and lsntp-sparse-blocked whose k gathers in blocks): each kind runs in the unchanged job.
 * Every model of the zoo (models/zoo/GRID/SYSTEM) is checked as a shipped one is.
 */
class ModelParityTest {
  /** Kinds whose export is exact up to float32 reordering; a tiny model's forecasts differ by ~1e-5 K. */
  static final double FIXTURE_TOLERANCE_K = 1e-4;

  static List<Path> shippedModelsWithParity() {
    List<Path> out = new ArrayList<>();
    for (Path m : ModelCatalog.modelFiles(TestPaths.models())) {
      if (Files.exists(m.resolveSibling("parity.json"))) {
        out.add(m);
      }
    }
    return out;
  }

  /** The zoo (models/zoo/GRID/SYSTEM/model.onnx, three levels deep so the job does not serve it): every system's export. */
  static List<Path> zooModels() throws Exception {
    Path zoo = TestPaths.models().resolve("zoo");
    List<Path> out = new ArrayList<>();
    if (Files.isDirectory(zoo)) {
      try (var files = Files.find(zoo, 3, (p, a) -> p.getFileName().toString().equals("model.onnx"))) {
        files.sorted().forEach(out::add);
      }
    }
    return out;
  }

  private static List<Path> fixtures;

  /** One tiny trained model of every kind, written once per build by model-export's parity-fixtures command. */
  static synchronized List<Path> everyKind() throws Exception {
    if (fixtures == null) {
      Path out = TestPaths.root().resolve("flink-job/target/parity-fixtures");
      ProcessBuilder pb = new ProcessBuilder("/usr/bin/python3", "-m", "lsntp", "parity-fixtures", "--out",
          out.toString())
          .directory(TestPaths.root().resolve("model-export").toFile())
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.INHERIT);
      pb.environment().put("LSNTP_THREADS", "1");
      Process p = pb.start();
      assertThat(p.waitFor(10, TimeUnit.MINUTES)).as("parity-fixtures finished within 10 minutes").isTrue();
      assertThat(p.exitValue()).as("python3 -m lsntp parity-fixtures exit status").isZero();
      fixtures = new ArrayList<>();
      try (var dirs = Files.list(out)) {
        dirs.filter(d -> Files.exists(d.resolve("model.onnx"))).sorted().forEach(d -> fixtures.add(d.resolve("model.onnx")));
      }
    }
    return fixtures;
  }

  @Test
  void atLeastOneShippedModelHasParityFiles() {
    assertThat(shippedModelsWithParity())
        .as("models/*/model.onnx with parity.json under %s", TestPaths.models().toAbsolutePath())
        .isNotEmpty();
  }

  @Test
  void everyKindModelExportCanTrainHasAFixture() throws Exception {
    assertThat(everyKind()).extracting(m -> m.getParent().getFileName().toString())
        .contains("lsntp", "convlstm", "convgru", "predrnn", "trajgru", "predrnnpp", "mim", "phydnet", "crevnet",
            "agcrn", "saconvlstm", "dconvlstm", "daggconvlstm", "lsntp-sparse", "lsntp-sparse-blocked");
  }

  @ParameterizedTest
  @MethodSource("shippedModelsWithParity")
  void aShippedModelPassesTheJobsModelCheckAndCarriesItsMetadata(Path model) throws Exception {
    // parity within ModelCheck.PARITY_TOLERANCE_K, smoke forecast; the checked session is the one served
    try (OnnxForecaster f = ModelCheck.open(model, Provider.CPU, 2)) {
      ModelSpec spec = f.spec();
      Map<String, String> md = f.metadata();
      assertThat(md).containsKeys(ModelSpec.REQUIRED_KEYS);
      new ObjectMapper().readTree(md.get("validation_metrics"));
      new ObjectMapper().readTree(md.get("architecture"));
      assertThat(md.get("weights_sha256")).matches("[0-9a-f]{64}");
      double diff = ModelCheck.Parity.beside(model, spec).maxDifference(f);
      System.out.printf("parity %s: max |ORT Java - PyTorch| = %.3g K%n", model, diff);
      assertThat(diff).isLessThanOrEqualTo(ModelCheck.PARITY_TOLERANCE_K);
      assertForecastIsATemperatureField(f, spec);
    }
  }

  @Test
  void theZooHasModelsOfBothGridsEachWithItsParityFiles() throws Exception {
    assertThat(zooModels()).extracting(m -> m.getParent().getParent().getFileName().toString())
        .contains("era5-uk-0p25", "ncep-na-2p5");
    for (Path m : zooModels()) {
      for (String f : new String[] {"parity.json", "parity-input.f32", "parity-expected.f32"}) {
        assertThat(m.resolveSibling(f)).as("the zoo exports every model with its parity files").isRegularFile();
      }
    }
  }

  /** What `./lsntp score` and a user serving a zoo model rely on: each runs in the job's own inference code as it did in PyTorch. */
  @ParameterizedTest
  @MethodSource("zooModels")
  void aZooModelPassesTheJobsModelCheckAndMatchesPyTorch(Path model) throws Exception {
    // parity within ModelCheck.PARITY_TOLERANCE_K, smoke forecast; the checked session is the one served
    try (OnnxForecaster f = ModelCheck.open(model, Provider.CPU, 1)) {
      ModelSpec spec = f.spec();
      assertThat(f.metadata()).containsKeys(ModelSpec.REQUIRED_KEYS);
      double diff = ModelCheck.Parity.beside(model, spec).maxDifference(f);
      System.out.printf("parity %s: max |ORT Java - PyTorch| = %.3g K%n", TestPaths.models().relativize(model), diff);
      assertThat(diff).as("max |ORT Java - PyTorch| in K for %s", model).isLessThanOrEqualTo(ModelCheck.PARITY_TOLERANCE_K);
      assertForecastIsATemperatureField(f, spec);
    }
  }

  @ParameterizedTest
  @MethodSource("everyKind")
  void everyKindRunsInOnnxRuntimeJavaAsInPyTorch(Path model) throws Exception {
    try (OnnxForecaster f = ModelCheck.open(model, Provider.CPU, 1)) {
      ModelSpec spec = f.spec();
      double diff = ModelCheck.Parity.beside(model, spec).maxDifference(f);
      System.out.printf("parity %s: max |ORT Java - PyTorch| = %.3g K%n", model.getParent().getFileName(), diff);
      assertThat(diff).as("max |ORT Java - PyTorch| in K for %s", model).isLessThanOrEqualTo(FIXTURE_TOLERANCE_K);
    }
  }

  /** The exported graph states its output's shape (all but the batch), so the job's signature check compares it. */
  @ParameterizedTest
  @MethodSource("everyKind")
  void everyKindsOutputShapeIsConcreteButForTheBatch(Path model) throws Exception {
    ModelSpec spec = ModelCheck.check(model);
    ai.onnxruntime.OrtEnvironment env = ai.onnxruntime.OrtEnvironment.getEnvironment();
    try (ai.onnxruntime.OrtSession.SessionOptions opts = new ai.onnxruntime.OrtSession.SessionOptions();
        ai.onnxruntime.OrtSession s = env.createSession(model.toString(), opts)) {
      long[] shape = ((ai.onnxruntime.TensorInfo) s.getOutputInfo().get(OnnxForecaster.OUTPUT).getInfo()).getShape();
      assertThat(shape).as("output shape of %s", model).containsExactly(-1, spec.beta, spec.height, spec.width);
    }
  }

  /** A real forecast, not a constant: values in a plausible kelvin range and varying over the grid. */
  private static void assertForecastIsATemperatureField(OnnxForecaster f, ModelSpec spec) throws Exception {
    float[] w = new float[spec.alpha * spec.cells()];
    for (int i = 0; i < w.length; i++) {
      w[i] = 270f + 10f * (i % spec.width) / spec.width;
    }
    float min = Float.MAX_VALUE;
    float max = -Float.MAX_VALUE;
    for (float x : f.forecast(List.of(w))[0]) {
      min = Math.min(min, x);
      max = Math.max(max, x);
    }
    assertThat(min).isGreaterThan(150f);
    assertThat(max).isLessThan(350f).isGreaterThan(min + 1f);
  }

  @Test
  void cudaFallsBackToTheCpuWhereItIsMissing() throws Exception {
    Path model = shippedModelsWithParity().get(0);
    ModelSpec spec = ModelCheck.check(model);
    try (OnnxForecaster f = OnnxForecaster.open(spec, true, 1)) {
      boolean cudaPresent = ai.onnxruntime.OrtEnvironment.getAvailableProviders()
          .contains(ai.onnxruntime.OrtProvider.CUDA);
      if (!cudaPresent) {
        assertThat(f.onCuda()).as("no CUDA provider in this ONNX Runtime build: the session runs on the CPU").isFalse();
      }
      float[] w = new float[spec.alpha * spec.cells()];
      java.util.Arrays.fill(w, 280f);
      assertThat(f.forecast(List.of(w))[0]).hasSize(spec.beta * spec.cells());
    }
  }
}

package ai.lsntp.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.TestPaths;
import ai.onnxruntime.OrtEnvironment;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every shipped model (models/NAME/model.onnx with parity files) gives, in ONNX Runtime Java, what
 * PyTorch gave for the same input, within 1e-3 K, and carries the metadata the job relies on.
 */
class ModelParityTest {
  static final double TOLERANCE_K = 1e-3;

  static List<Path> modelsWithParity() {
    Path dir = TestPaths.models();
    List<Path> out = new ArrayList<>();
    for (Path m : ModelCatalog.modelFiles(dir)) {
      if (Files.exists(m.resolveSibling("parity.json"))) {
        out.add(m);
      }
    }
    return out;
  }

  @Test
  void atLeastOneShippedModelHasParityFiles() {
    assertThat(modelsWithParity())
        .as("models/*/model.onnx with parity.json under %s", TestPaths.models().toAbsolutePath())
        .isNotEmpty();
  }

  @ParameterizedTest
  @MethodSource("modelsWithParity")
  void onnxRuntimeMatchesPyTorch(Path model) throws Exception {
    JsonNode parity = new ObjectMapper().readTree(model.resolveSibling("parity.json").toFile());
    long[] inShape = shape(parity.get("input_shape"));
    long[] outShape = shape(parity.get("expected_shape"));
    float[] input = floats(model.resolveSibling("parity-input.f32"), inShape);
    float[] expected = floats(model.resolveSibling("parity-expected.f32"), outShape);

    OrtEnvironment env = OrtEnvironment.getEnvironment();
    ModelSpec spec = ModelCatalog.readSpec(env, model);
    assertThat(inShape).containsExactly(inShape[0], spec.alpha, spec.height, spec.width);
    assertThat(outShape).containsExactly(inShape[0], spec.beta, spec.height, spec.width);

    try (OnnxForecaster f = OnnxForecaster.open(spec, false, 2)) {
      Map<String, String> md = f.metadata();
      assertThat(md).containsKeys(ModelSpec.REQUIRED_KEYS);
      new ObjectMapper().readTree(md.get("validation_metrics"));
      new ObjectMapper().readTree(md.get("architecture"));
      assertThat(md.get("weights_sha256")).matches("[0-9a-f]{64}");

      int per = spec.alpha * spec.cells();
      List<float[]> windows = new ArrayList<>();
      for (int b = 0; b < inShape[0]; b++) {
        float[] w = new float[per];
        System.arraycopy(input, b * per, w, 0, per);
        windows.add(w);
      }
      float[][] got = f.forecast(windows);
      double maxDiff = 0;
      int outPer = spec.beta * spec.cells();
      for (int b = 0; b < got.length; b++) {
        for (int i = 0; i < outPer; i++) {
          double d = Math.abs(got[b][i] - expected[b * outPer + i]);
          maxDiff = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(maxDiff, d);
        }
      }
      assertThat(maxDiff).as("max |ORT - PyTorch| in K for %s", model).isLessThanOrEqualTo(TOLERANCE_K);
      // a real forecast, not a constant: values in a plausible kelvin range and varying over the grid
      float min = Float.MAX_VALUE;
      float max = -Float.MAX_VALUE;
      for (float x : got[0]) {
        min = Math.min(min, x);
        max = Math.max(max, x);
      }
      assertThat(min).isGreaterThan(150f);
      assertThat(max).isLessThan(350f).isGreaterThan(min + 1f);
    }
  }

  @Test
  void cudaFallsBackToTheCpuWhereItIsMissing() throws Exception {
    Path model = modelsWithParity().get(0);
    ModelSpec spec = ModelCatalog.readSpec(OrtEnvironment.getEnvironment(), model);
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

  private static long[] shape(JsonNode n) {
    long[] s = new long[n.size()];
    for (int i = 0; i < s.length; i++) {
      s[i] = n.get(i).asLong();
    }
    return s;
  }

  private static float[] floats(Path file, long[] shape) throws Exception {
    byte[] bytes = Files.readAllBytes(file);
    long n = Stream.of(shape).mapToLong(a -> { long p = 1; for (long x : a) p *= x; return p; }).sum();
    assertThat((long) bytes.length).as("size of %s", file).isEqualTo(n * 4);
    float[] out = new float[(int) n];
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
    return out;
  }
}

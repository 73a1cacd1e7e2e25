package ai.lsntp.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.lsntp.calibration.Calibration;
import ai.lsntp.config.ConfigException;
import ai.lsntp.testing.ModelFiles;
import ai.lsntp.testing.TestPaths;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The export-time calibration a model carries (ONNX metadata "calibration") is checked with the
 * rest of its metadata before the model serves: each shipped model carries its own, fitted on the
 * validation part before its test part; one of the wrong shape, with a number that is not finite,
 * or fitted for other weights is refused with the reason; a model without one gets the fallback.
 */
class ModelCalibrationTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  static List<Path> shipped() {
    return List.of(TestPaths.models().resolve("era5-uk/model.onnx"), TestPaths.models().resolve("ncep-na/model.onnx"));
  }

  static Map<String, String> metadata(Path model) throws Exception {
    ModelSpec spec = ModelCheck.check(model);
    try (OnnxForecaster f = OnnxForecaster.open(spec, false, 1)) {
      return new HashMap<>(f.metadata());
    }
  }

  @Test
  void everyShippedModelCarriesItsOwnCalibrationFittedBeforeItsTestPart() throws Exception {
    for (Path model : shipped()) {
      ModelSpec spec = ModelCheck.check(model);
      Calibration c = spec.calibration;
      assertThat(c.fallback).as("%s carries a calibration", model).isFalse();
      assertThat(c.basis).startsWith(spec.weightsSha256.substring(0, 12) + "/");
      assertThat(c.scale).hasSize(spec.beta * spec.cells());
      assertThat(c.levels[0]).isLessThanOrEqualTo(Calibration.MIN_LEVEL);
      assertThat(c.levels[c.levels.length - 1]).isGreaterThanOrEqualTo(Calibration.MAX_LEVEL);
      assertThat(c.referenceLevels).contains(0.8, 0.95);
      // fitted on the validation part, which ends before the test part begins
      JsonNode metrics = JSON.readTree(model.resolveSibling("metrics.json").toFile());
      Instant testStart = Instant.parse(metrics.at("/data/test").asText().split("/")[0].replace("Z", ":00:00Z"));
      assertThat(c.fittedOn).startsWith("validation ");
      Instant fittedEnd = Instant.parse(c.fittedOn.split(" ")[1].split("/")[1].replace(",", "").replace("Z", ":00Z"));
      assertThat(fittedEnd).as("%s: calibration fitted before the test part", model).isBefore(testStart);
    }
  }

  /** The shipped ERA5 model's metadata with its calibration changed by {@code change}. */
  Map<String, String> withCalibration(Map<String, String> md, Consumer<ObjectNode> change) throws Exception {
    ObjectNode c = (ObjectNode) JSON.readTree(md.get(Calibration.METADATA_KEY));
    change.accept(c);
    Map<String, String> out = new HashMap<>(md);
    out.put(Calibration.METADATA_KEY, JSON.writeValueAsString(c));
    return out;
  }

  @Test
  void aCalibrationOfTheWrongShapeNotFiniteOrForOtherWeightsIsRefused() throws Exception {
    Map<String, String> md = metadata(shipped().get(0));
    String path = "m/model.onnx";
    assertThat(ModelSpec.fromMetadata(path, md).calibration.fallback).isFalse();
    byte[] scale = Base64.getDecoder().decode(JSON.readTree(md.get(Calibration.METADATA_KEY)).get("scale").asText());
    Map<String, String> shortScale = withCalibration(md, c -> c.put("scale",
        Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(scale, scale.length - 4 * 33 * 49))));
    assertThatThrownBy(() -> ModelSpec.fromMetadata(path, shortScale)).isInstanceOf(ConfigException.class)
        .hasMessageContaining("metadata 'calibration'").hasMessageContaining("the grid needs beta x cells = 6 x 1617");
    byte[] nan = scale.clone();
    ByteBuffer.wrap(nan).order(ByteOrder.LITTLE_ENDIAN).putFloat(4 * 100, Float.NaN);
    Map<String, String> nanScale = withCalibration(md, c -> c.put("scale", Base64.getEncoder().encodeToString(nan)));
    assertThatThrownBy(() -> ModelSpec.fromMetadata(path, nanScale)).hasMessageContaining("cell 100 is NaN");
    Map<String, String> otherWeights = withCalibration(md, c -> c.put("weights_sha256", "ab".repeat(32)));
    assertThatThrownBy(() -> ModelSpec.fromMetadata(path, otherWeights)).hasMessageContaining("fitted for weights abababababab");
    Map<String, String> fewRows = withCalibration(md, c -> c.withArray("q").remove(0));
    assertThatThrownBy(() -> ModelSpec.fromMetadata(path, fewRows)).hasMessageContaining("q must hold one row per lead (6)");
    Map<String, String> narrowLadder = withCalibration(md, c -> {
      c.withArray("levels").remove(0);
      c.withArray("q").forEach(row -> ((com.fasterxml.jackson.databind.node.ArrayNode) row).remove(0));
    });
    assertThatThrownBy(() -> ModelSpec.fromMetadata(path, narrowLadder)).hasMessageContaining("must span 0.5..0.99");
  }

  @Test
  void theModelCheckRefusesAModelFileWhoseCalibrationIsBroken() throws Exception {
    Path src = shipped().get(0);
    Map<String, String> md = metadata(src);
    Path bad = ModelFiles.withMetadata(src, tmp.resolve("bad/model.onnx"),
        withCalibration(md, c -> c.put("eta", -1)).entrySet().stream()
            .filter(e -> e.getKey().equals(Calibration.METADATA_KEY))
            .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue)));
    assertThatThrownBy(() -> ModelCheck.check(bad)).isInstanceOf(ModelCheck.Refused.class)
        .hasMessageStartingWith("metadata: ").hasMessageContaining("calibration").hasMessageContaining("eta must be > 0");
  }

  @Test
  void aModelWithoutACalibrationStartsFromItsValidationMaePerLead() throws Exception {
    Map<String, String> md = metadata(shipped().get(0));
    md.remove(Calibration.METADATA_KEY);
    ModelSpec spec = ModelSpec.fromMetadata("old/model.onnx", md);
    Calibration c = spec.calibration;
    assertThat(c.fallback).isTrue();
    assertThat(c.basis).isEqualTo(spec.weightsSha256.substring(0, 12) + "/fallback");
    JsonNode mae = JSON.readTree(md.get("validation_metrics")).get("mae_per_lead");
    for (int lead = 0; lead < spec.beta; lead++) {
      assertThat(c.scale[lead * spec.cells()]).isEqualTo((float) mae.get(lead).asDouble());
    }
    // the 95% multiplier of a normal error's |e| / MAE
    assertThat(c.initialQ(new double[] {0.95})[0]).isCloseTo(1.96 * Math.sqrt(Math.PI / 2), org.assertj.core.api.Assertions.within(1e-3));
  }
}

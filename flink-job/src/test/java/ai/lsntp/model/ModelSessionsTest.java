package ai.lsntp.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.lsntp.testing.TestPaths;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The sessions of one inference instance across catalogs: shared, kept where a new one will not open, closed when retired. */
class ModelSessionsTest {
  static ModelSpec uk;

  @BeforeAll
  static void load() {
    uk = ModelCatalog.load(TestPaths.models()).byGrid().values().iterator().next();
  }

  static ModelSpec as(ModelSpec s, String path, String version, String grid) {
    return new ModelSpec(path, s.name, version, grid, s.alpha, s.beta, s.stepMillis, s.height, s.width, s.lat0, s.lon0,
        s.dlat, s.dlon, s.units, s.weightsSha256, s.calibration);
  }

  static float[][] forecast(OnnxForecaster s) throws Exception {
    float[] w = new float[uk.alpha * uk.cells()];
    Arrays.fill(w, 280f);
    return s.forecast(List.of(w));
  }

  @Test
  void gridsOfOneModelShareASessionAndAGridKeepsItsModelWhereTheNewOneWillNotOpen() throws Exception {
    ModelSpec copy = as(uk, uk.path, uk.version, "uk-copy");
    try (ModelSessions sessions = ModelSessions.open(new ModelCatalog(Map.of(uk.gridId, uk, "uk-copy", copy), 1),
        Provider.CPU, 1)) {
      assertThat(sessions.session(sessions.serving("uk-copy"))).isSameAs(sessions.session(sessions.serving(uk.gridId)));

      ModelSpec missing = as(uk, TestPaths.models().resolve("no-such/model.onnx").toString(), "9.9.9", uk.gridId);
      sessions.moveTo(new ModelCatalog(Map.of(uk.gridId, missing), 2));
      assertThat(sessions.serving(uk.gridId)).as("the model before it keeps serving").isSameAs(uk);
      assertThat(forecast(sessions.session(uk))[0]).hasSize(uk.beta * uk.cells());
      assertThat(sessions.serving("uk-copy")).as("no longer in the catalog").isNull();
    }
  }

  @Test
  void aReplacedModelGetsItsOwnSessionAndTheRetiredOneIsClosed() throws Exception {
    try (ModelSessions sessions = ModelSessions.open(new ModelCatalog(Map.of(uk.gridId, uk), 1), Provider.CPU, 1)) {
      OnnxForecaster v1 = sessions.session(uk);
      ModelSpec v2 = as(uk, uk.path, "9.9.9-test", uk.gridId);
      sessions.moveTo(new ModelCatalog(Map.of(uk.gridId, v2), 2));
      assertThat(sessions.serving(uk.gridId)).isSameAs(v2);
      assertThat(sessions.session(v2)).isNotSameAs(v1);
      assertThat(forecast(sessions.session(v2))[0]).hasSize(uk.beta * uk.cells());
      assertThatThrownBy(() -> forecast(v1)).as("v1's session was closed").isInstanceOf(IllegalStateException.class);
    }
  }
}

package ai.lsntp.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.ModelFiles;
import ai.lsntp.testing.TestPaths;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The challenger layout read from a real directory with real models: the zoo's ConvLSTM beside the
 * shipped LS-NTP is taken; a file that is no model, a model of another grid, the reserved name and
 * a challenger without a model to challenge are refused, each with a reason naming the problem,
 * and the grid's own model serves on.
 */
class ModelCatalogChallengersTest {
  @TempDir Path tmp;

  @Test
  void challengersAreCheckedAndEveryRefusalSaysWhy() throws Exception {
    Path dir = tmp.resolve("models");
    ModelFiles.copyFolder(TestPaths.models().resolve("era5-uk"), dir.resolve("era5-uk"));
    Path challengers = dir.resolve("era5-uk").resolve(ModelCatalog.CHALLENGERS);
    ModelFiles.copyFolder(TestPaths.models().resolve("zoo/era5-uk-0p25/convlstm"), challengers.resolve("convlstm"));
    ModelFiles.copyFolder(TestPaths.models().resolve("ncep-na"), challengers.resolve("ncep"));
    ModelFiles.copyFolder(TestPaths.models().resolve("zoo/era5-uk-0p25/convgru"), challengers.resolve("default"));
    Files.createDirectories(challengers.resolve("broken"));
    Files.write(challengers.resolve("broken/model.onnx"), "not an ONNX model".getBytes(StandardCharsets.UTF_8));
    ModelFiles.copyFolder(TestPaths.models().resolve("zoo/era5-uk-0p25/convgru"),
        dir.resolve("nowhere/challengers/convgru"));

    ModelCatalog.Scan scan = ModelCatalog.scan(dir);
    assertThat(scan.catalog.forGrid("era5-uk-0p25").name).isEqualTo("LS-NTP");
    assertThat(scan.catalog.challengers("era5-uk-0p25")).containsOnlyKeys("convlstm");
    assertThat(scan.catalog.challengers("era5-uk-0p25").get("convlstm").name).isEqualTo("ConvLSTM");
    Map<String, String> refused = new java.util.TreeMap<>();
    scan.refused.forEach((p, why) -> refused.put(dir.relativize(p).toString(), why));
    assertThat(refused).containsOnlyKeys("era5-uk/challengers/broken/model.onnx", "era5-uk/challengers/ncep/model.onnx",
        "era5-uk/challengers/default/model.onnx", "nowhere/challengers/convgru/model.onnx");
    assertThat(refused.get("era5-uk/challengers/broken/model.onnx")).contains("ONNX Runtime cannot load it");
    assertThat(refused.get("era5-uk/challengers/ncep/model.onnx"))
        .contains("challenger 'ncep' for grid 'era5-uk-0p25': its grid_id 'ncep-na-2p5' is not the grid 'era5-uk-0p25'");
    assertThat(refused.get("era5-uk/challengers/default/model.onnx")).contains("'default' is reserved");
    assertThat(refused.get("nowhere/challengers/convgru/model.onnx"))
        .contains("challenger 'convgru' has no model to challenge");
  }
}

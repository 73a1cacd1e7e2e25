package ai.lsntp.model;

import ai.lsntp.config.ConfigException;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** The models of a model directory, by the grid each serves (its {@code grid_id} metadata). */
public final class ModelCatalog implements Serializable {
  private static final long serialVersionUID = 1L;
  private final Map<String, ModelSpec> byGrid;

  public ModelCatalog(Map<String, ModelSpec> byGrid) {
    this.byGrid = Collections.unmodifiableMap(new TreeMap<>(byGrid));
  }

  /** Every ONNX file under {@code dir} (dir/*.onnx and dir/NAME/model.onnx), read and checked. */
  public static ModelCatalog scan(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new ConfigException("models.directory: " + dir.toAbsolutePath() + " is not a directory");
    }
    List<Path> files = modelFiles(dir);
    if (files.isEmpty()) {
      throw new ConfigException("models.directory: no ONNX model (*.onnx or */model.onnx) in " + dir.toAbsolutePath());
    }
    Map<String, ModelSpec> byGrid = new TreeMap<>();
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    for (Path f : files) {
      ModelSpec spec = readSpec(env, f);
      ModelSpec other = byGrid.put(spec.gridId, spec);
      if (other != null) {
        throw new ConfigException("models.directory: grid '" + spec.gridId + "' is served by two models: "
            + other.path + " and " + spec.path);
      }
    }
    return new ModelCatalog(byGrid);
  }

  public static List<Path> modelFiles(Path dir) {
    List<Path> out = new ArrayList<>();
    try (Stream<Path> s = Files.walk(dir, 2)) {
      s.filter(p -> p.getFileName().toString().endsWith(".onnx") && Files.isRegularFile(p))
          .filter(p -> p.getParent().equals(dir) || p.getFileName().toString().equals("model.onnx"))
          .sorted()
          .forEach(out::add);
    } catch (IOException e) {
      throw new ConfigException("models.directory: cannot list " + dir + ": " + e.getMessage(), e);
    }
    return out;
  }

  /** Opens the model just long enough to read and check its metadata. */
  public static ModelSpec readSpec(OrtEnvironment env, Path file) {
    try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(file.toString(), opts)) {
      ModelSpec spec = ModelSpec.fromMetadata(file.toString(), session.getMetadata().getCustomMetadata());
      OnnxForecaster.checkSignature(session, spec);
      return spec;
    } catch (OrtException e) {
      throw new ConfigException("model " + file + ": ONNX Runtime cannot load it: " + e.getMessage(), e);
    }
  }

  public ModelSpec forGrid(String gridId) {
    return byGrid.get(gridId);
  }

  public Map<String, ModelSpec> byGrid() {
    return byGrid;
  }

  /** Bytes of a frame record of the largest grid served: 4 per value and 1 per mask cell, plus the header. */
  public long largestFrameBytes() {
    long cells = byGrid.values().stream().mapToLong(ModelSpec::cells).max().orElse(0);
    return 5 * cells + 256;
  }

  @Override
  public String toString() {
    return byGrid.values().toString();
  }
}

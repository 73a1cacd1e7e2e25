package ai.lsntp.model;

import ai.lsntp.config.ConfigException;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The models that serve, by the grid each serves (its {@code grid_id} metadata), as of one
 * generation: the job starts with the catalog of its model directory (generation 0) and every
 * accepted change to the directory makes the next generation, which every parallel instance takes
 * up (it travels as a broadcast). Immutable.
 */
public final class ModelCatalog implements Serializable {
  private static final long serialVersionUID = 2L;
  private final TreeMap<String, ModelSpec> byGrid;
  private final long generation;

  public ModelCatalog(Map<String, ModelSpec> byGrid) {
    this(byGrid, 0);
  }

  public ModelCatalog(Map<String, ModelSpec> byGrid, long generation) {
    this.byGrid = new TreeMap<>(byGrid);
    this.generation = generation;
  }

  /** What a scan of a model directory found: the models that passed {@link ModelCheck}, and why the others did not. */
  public static final class Scan {
    public final ModelCatalog catalog;
    /** model file -> the reason it was refused. */
    public final Map<Path, String> refused;

    Scan(ModelCatalog catalog, Map<Path, String> refused) {
      this.catalog = catalog;
      this.refused = refused;
    }

    /** A catalog put together by hand (benchmarks: one model under many grid ids), with nothing refused. */
    public static Scan of(ModelCatalog catalog) {
      return new Scan(catalog, Map.of());
    }
  }

  /**
   * Every model under {@code dir} (dir/*.onnx and dir/NAME/model.onnx), checked. A model that fails
   * a check, or claims a grid another file already serves, is refused and the rest serve; an
   * empty result is an error (there is nothing to serve).
   */
  public static Scan scan(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new ConfigException("models.directory: " + dir.toAbsolutePath() + " is not a directory");
    }
    List<Path> files = modelFiles(dir);
    if (files.isEmpty()) {
      throw new ConfigException("models.directory: no ONNX model (*.onnx or */model.onnx) in " + dir.toAbsolutePath());
    }
    Map<String, ModelSpec> byGrid = new TreeMap<>();
    Map<Path, String> refused = new LinkedHashMap<>();
    for (Path f : files) {
      try {
        ModelSpec spec = ModelCheck.check(f);
        ModelSpec other = byGrid.putIfAbsent(spec.gridId, spec);
        if (other != null) {
          refused.put(f, "grid '" + spec.gridId + "' is already served by " + other.path);
        }
      } catch (ModelCheck.Refused r) {
        refused.put(f, r.getMessage());
      }
    }
    if (byGrid.isEmpty()) {
      throw new ConfigException("models.directory: no model in " + dir.toAbsolutePath() + " passed its checks: " + refused);
    }
    return new Scan(new ModelCatalog(byGrid), refused);
  }

  /** The models of {@code dir} that pass their checks (the refused ones are left out: see {@link #scan}). */
  public static ModelCatalog load(Path dir) {
    return scan(dir).catalog;
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

  public ModelSpec forGrid(String gridId) {
    return byGrid.get(gridId);
  }

  public Map<String, ModelSpec> byGrid() {
    return Collections.unmodifiableMap(byGrid);
  }

  public long generation() {
    return generation;
  }

  /** The newer of two catalogs (a restored one and one that arrived since). */
  public static ModelCatalog newer(ModelCatalog a, ModelCatalog b) {
    if (a == null) {
      return b;
    }
    return b == null || a.generation >= b.generation ? a : b;
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

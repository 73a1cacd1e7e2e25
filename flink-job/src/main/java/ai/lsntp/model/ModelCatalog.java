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
 *
 * <p>Beside each grid's model, its challengers: {@code <dir>/<folder>/challengers/<name>/model.onnx}
 * for the model {@code <dir>/<folder>/model.onnx}. A challenger passes the same {@link ModelCheck}
 * and must claim the same grid with the same geometry, alpha, beta and step as the model of its
 * folder (so it forecasts the very windows that model forecasts, in the same batch, and is scored
 * lead by lead on the same observations); it is never published, only verified. Its name (the
 * folder's) is its slot among the grid's models; the folder's own model is the slot
 * {@value #DEFAULT_SLOT}.
 */
public final class ModelCatalog implements Serializable {
  private static final long serialVersionUID = 2L;
  /** The folder that holds a grid folder's challengers. */
  public static final String CHALLENGERS = "challengers";
  /** The slot of a grid folder's own model.onnx (a challenger folder may not take this name). */
  public static final String DEFAULT_SLOT = "default";
  /**
   * grid -> its model, and grid + {@link #SEP} + name -> a challenger. Why one map: the catalog
   * lives in every stage's broadcast state, written by Flink's Kryo serializer field by field, and
   * a class with another field cannot read a checkpoint the previous release wrote (tried: Kryo's
   * FieldSerializer fails); with the same two fields, a catalog checkpointed before challengers
   * existed restores as one without any. The public views below keep the two kinds apart.
   */
  private final TreeMap<String, ModelSpec> byGrid;
  private final long generation;
  /** Separates a grid id from a challenger's name in {@link #byGrid}'s keys (no grid id holds it). */
  private static final String SEP = "\u0000challenger\u0000";
  /** The grids' own models alone (a view of {@link #byGrid} built on first use; not serialised). */
  private transient Map<String, ModelSpec> served;

  public ModelCatalog(Map<String, ModelSpec> byGrid) {
    this(byGrid, 0);
  }

  public ModelCatalog(Map<String, ModelSpec> byGrid, long generation) {
    this(byGrid, Map.of(), generation);
  }

  public ModelCatalog(Map<String, ModelSpec> byGrid, Map<String, ? extends Map<String, ModelSpec>> challengers,
      long generation) {
    this.byGrid = new TreeMap<>(byGrid);
    this.generation = generation;
    challengers.forEach((grid, byName) -> byName.forEach((name, spec) -> this.byGrid.put(grid + SEP + name, spec)));
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
   * Every model under {@code dir} (dir/*.onnx and dir/NAME/model.onnx), checked, and every
   * challenger (dir/NAME/challengers/CHALLENGER/model.onnx), checked and matched to its folder's
   * model ({@link #challengerRefusal}). A model that fails a check, or claims a grid another file
   * already serves, is refused and the rest serve; an empty result is an error (there is nothing
   * to serve). A refused challenger costs nothing but itself.
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
    Map<String, Map<String, ModelSpec>> challengers = new TreeMap<>();
    for (Path f : challengerFiles(dir)) {
      ModelSpec champion = championOf(byGrid, f);
      try {
        ModelSpec spec = admitChallenger(f, champion);
        challengers.computeIfAbsent(spec.gridId, g -> new TreeMap<>()).put(challengerName(f), spec);
      } catch (ModelCheck.Refused r) {
        refused.put(f, r.getMessage());
      }
    }
    return new Scan(new ModelCatalog(byGrid, challengers, 0), refused);
  }

  /**
   * Checks a challenger file as any model ({@link ModelCheck}), then against {@code champion}, the
   * model of its grid folder (null: none serves); returns its spec or says why it may not run.
   */
  public static ModelSpec admitChallenger(Path file, ModelSpec champion) throws ModelCheck.Refused {
    String name = challengerName(file);
    if (DEFAULT_SLOT.equals(name)) {
      throw new ModelCheck.Refused("challenger folder name '" + DEFAULT_SLOT + "' is reserved for the grid folder's own "
          + "model: rename " + file.getParent(), null, null);
    }
    if (champion == null) {
      throw new ModelCheck.Refused("challenger '" + name + "' has no model to challenge: no model serves from "
          + championFile(file) + " (missing or refused); a challenger runs only beside its grid folder's model", null, null);
    }
    ModelSpec spec = ModelCheck.check(file);
    String why = challengerRefusal(champion, spec);
    if (why != null) {
      throw new ModelCheck.Refused("challenger '" + name + "' for grid '" + champion.gridId + "': " + why, spec, null);
    }
    return spec;
  }

  /**
   * Why {@code challenger} cannot run beside {@code champion}, or null when it can: it must claim the
   * champion's grid, with its geometry, and forecast the same windows the same way (alpha, beta,
   * step), so both forecast every window in one batch and are scored lead by lead on the same frames.
   */
  public static String challengerRefusal(ModelSpec champion, ModelSpec challenger) {
    if (!champion.gridId.equals(challenger.gridId)) {
      return "its grid_id '" + challenger.gridId + "' is not the grid '" + champion.gridId + "' of "
          + champion.path + " (a challenger must claim the grid it challenges)";
    }
    if (challenger.height != champion.height || challenger.width != champion.width
        || Math.abs(challenger.lat0 - champion.lat0) > 1e-6 || Math.abs(challenger.lon0 - champion.lon0) > 1e-6
        || Math.abs(challenger.dlat - champion.dlat) > 1e-6 || Math.abs(challenger.dlon - champion.dlon) > 1e-6) {
      return "its grid geometry " + geometry(challenger) + " is not the champion's " + geometry(champion);
    }
    if (challenger.alpha != champion.alpha || challenger.beta != champion.beta
        || challenger.stepMillis != champion.stepMillis) {
      return "it takes " + challenger.alpha + " frames and forecasts " + challenger.beta + " leads every "
          + challenger.stepMillis / 1000 + " s; the champion " + champion.alpha + ", " + champion.beta + " every "
          + champion.stepMillis / 1000 + " s (a challenger forecasts the champion's windows and is scored on its leads)";
    }
    return null;
  }

  static String geometry(ModelSpec s) {
    return s.height + "x" + s.width + " from (" + s.lat0 + ", " + s.lon0 + ") by (" + s.dlat + ", " + s.dlon + ")";
  }

  /** The model a challenger file challenges: the one served from its grid folder's model.onnx, or null. */
  public static ModelSpec championOf(Map<String, ModelSpec> byGrid, Path challengerFile) {
    String champion = championFile(challengerFile).toString();
    return byGrid.values().stream().filter(s -> s.path.equals(champion)).findFirst().orElse(null);
  }

  /** dir/NAME/challengers/C/model.onnx -> dir/NAME/model.onnx. */
  public static Path championFile(Path challengerFile) {
    return challengerFile.getParent().getParent().getParent().resolve("model.onnx");
  }

  /** dir/NAME/challengers/C/model.onnx -> C. */
  public static String challengerName(Path challengerFile) {
    return challengerFile.getParent().getFileName().toString();
  }

  /** Whether {@code file} lies where a challenger lies: dir/NAME/challengers/C/model.onnx. */
  public static boolean isChallengerFile(Path file) {
    Path p = file.getParent();
    return file.getFileName().toString().equals("model.onnx") && p != null && p.getParent() != null
        && p.getParent().getFileName().toString().equals(CHALLENGERS);
  }

  /** Every challenger file under {@code dir}: dir/NAME/challengers/C/model.onnx, sorted. */
  public static List<Path> challengerFiles(Path dir) {
    List<Path> out = new ArrayList<>();
    try (Stream<Path> s = Files.walk(dir, 4)) {
      s.filter(p -> Files.isRegularFile(p) && isChallengerFile(p) && p.getNameCount() - dir.getNameCount() == 4)
          .sorted()
          .forEach(out::add);
    } catch (IOException e) {
      throw new ConfigException("models.directory: cannot list " + dir + ": " + e.getMessage(), e);
    }
    return out;
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
    return gridId.contains(SEP) ? null : byGrid.get(gridId);
  }

  public Map<String, ModelSpec> byGrid() {
    Map<String, ModelSpec> s = served;
    if (s == null) {
      TreeMap<String, ModelSpec> own = new TreeMap<>();
      byGrid.forEach((k, v) -> {
        if (!k.contains(SEP)) {
          own.put(k, v);
        }
      });
      s = served = Collections.unmodifiableMap(own);
    }
    return s;
  }

  /** The challengers of {@code gridId} by name (empty: none). */
  public Map<String, ModelSpec> challengers(String gridId) {
    String prefix = gridId + SEP;
    Map<String, ModelSpec> out = new TreeMap<>();
    byGrid.tailMap(prefix, true).entrySet().stream().takeWhile(e -> e.getKey().startsWith(prefix))
        .forEach(e -> out.put(e.getKey().substring(prefix.length()), e.getValue()));
    return Collections.unmodifiableMap(out);
  }

  /** Every grid's challengers: grid -> name -> spec. */
  public Map<String, Map<String, ModelSpec>> allChallengers() {
    Map<String, Map<String, ModelSpec>> out = new TreeMap<>();
    byGrid.forEach((k, v) -> {
      int at = k.indexOf(SEP);
      if (at >= 0) {
        out.computeIfAbsent(k.substring(0, at), g -> new TreeMap<>()).put(k.substring(at + SEP.length()), v);
      }
    });
    return out;
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
    long cells = byGrid().values().stream().mapToLong(ModelSpec::cells).max().orElse(0);
    return 5 * cells + 256;
  }

  @Override
  public String toString() {
    Map<String, Map<String, ModelSpec>> challengers = allChallengers();
    return byGrid().values().toString() + (challengers.isEmpty() ? ""
        : "; challengers " + challengers.entrySet().stream().map(e -> e.getKey() + ": " + e.getValue().keySet()).toList());
  }
}

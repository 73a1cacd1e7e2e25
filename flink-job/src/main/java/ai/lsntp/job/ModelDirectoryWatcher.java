package ai.lsntp.job;

import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.ModelEventKind;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelCheck;
import ai.lsntp.model.ModelSpec;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.InstantiationUtil;
import org.apache.flink.util.OutputTag;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the model directory while the job runs (one instance; driven by a tick every
 * models.poll-interval). A model file that is new or changed, and the same at two looks in a row
 * (so a file still being copied is not judged half-written), must pass {@link ModelCheck}; then it
 * serves its grid, a new grid or the replacement of its grid's model, and the next catalog
 * generation goes to every stage. A file that fails a check, or claims a grid another file serves,
 * or changes a served grid's geometry, is refused and the model before it keeps serving. A removed
 * file's grid stops being served. Every decision is a {@link ModelEvent} on the side output
 * {@link #EVENTS} and a log line.
 *
 * <p>Challengers ({@code <folder>/challengers/<name>/model.onnx}, {@link ModelCatalog}) come and go
 * the same way: checked like any model, then against their folder's model; their events carry the
 * slot (the name) and role {@code challenger}.
 *
 * <p>Why a watched directory and not a control topic: the directory is where models already live
 * (models/, a Kubernetes volume) and what every task must read them from anyway; dropping a file in
 * is the whole roll-out, with nothing else to keep consistent with it. One watcher decides for all
 * and its catalog reaches every parallel instance as a broadcast, so no two instances ever disagree.
 */
public class ModelDirectoryWatcher extends ProcessFunction<Long, ModelCatalog> implements CheckpointedFunction {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(ModelDirectoryWatcher.class);
  public static final OutputTag<ModelEvent> EVENTS = new OutputTag<>("model-events", new AvroTypeInfo<>(ModelEvent.class));

  private final String directory;
  private final ModelCatalog initial;
  private final Map<String, String> initialRefusals;

  private transient State state;
  private transient ListState<byte[]> checkpointed;

  /** What the watcher knows between looks: the catalog it last emitted and what it judged or is waiting on. */
  static final class State implements Serializable {
    private static final long serialVersionUID = 1L;
    ModelCatalog catalog;
    /** path -> fingerprint of the file as it was judged. */
    final Map<String, String> judged = new HashMap<>();
    /** path -> fingerprint seen at the last look, not yet judged (waiting to be the same twice). */
    final Map<String, String> settling = new HashMap<>();
    /** Whether the start's catalog and refusals were announced as events. */
    boolean announced;
  }

  /** @param startup the scan the job started with (its catalog serves from the start, its refusals are announced) */
  public ModelDirectoryWatcher(String directory, ModelCatalog.Scan startup) {
    this.directory = directory;
    this.initial = startup.catalog;
    this.initialRefusals = new LinkedHashMap<>();
    startup.refused.forEach((p, why) -> initialRefusals.put(p.toString(), why));
  }

  @Override
  public void initializeState(FunctionInitializationContext ctx) throws Exception {
    checkpointed = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<>("watcher", org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO));
    state = null;
    for (byte[] b : checkpointed.get()) {
      state = InstantiationUtil.deserializeObject(b, getClass().getClassLoader());
    }
    if (state == null) {
      state = new State();
      state.catalog = initial;
      for (ModelSpec s : initial.byGrid().values()) {
        state.judged.put(s.path, fingerprint(Path.of(s.path)));
      }
      initial.allChallengers().values().forEach(byName -> byName.values()
          .forEach(s -> state.judged.put(s.path, fingerprint(Path.of(s.path)))));
      for (String p : initialRefusals.keySet()) {
        state.judged.put(p, fingerprint(Path.of(p)));
      }
    }
  }

  @Override
  public void snapshotState(FunctionSnapshotContext ctx) throws Exception {
    checkpointed.update(List.of(InstantiationUtil.serializeObject(state)));
  }

  @Override
  public void processElement(Long tick, Context ctx, Collector<ModelCatalog> out) {
    if (!state.announced) {
      state.announced = true;
      for (ModelSpec s : state.catalog.byGrid().values()) {
        event(ctx, ModelEventKind.ACCEPTED, s.gridId, s.path, s, null, s.version, null);
      }
      state.catalog.allChallengers().forEach((grid, byName) -> byName.forEach((name, s) ->
          event(ctx, ModelEventKind.ACCEPTED, grid, s.path, s, null, s.version, "challenger: verified beside the "
              + "grid's model, never published", name, CHALLENGER)));
      initialRefusals.forEach((p, why) -> event(ctx, ModelEventKind.REFUSED, null, p, null, null, null, why));
    }
    ModelCatalog next = look(ctx);
    if (next != null) {
      state.catalog = next;
      out.collect(next);
    }
  }

  /** One look at the directory; the next catalog, or null when nothing that serves changed. */
  private ModelCatalog look(Context ctx) {
    Path dir = Path.of(directory);
    if (!Files.isDirectory(dir)) {
      LOG.warn("models.directory {} is not a directory now; the models in hand keep serving", dir);
      return null;
    }
    Map<String, String> present = new TreeMap<>();
    for (Path p : ModelCatalog.modelFiles(dir)) {
      present.put(p.toString(), fingerprint(p));
    }
    for (Path p : ModelCatalog.challengerFiles(dir)) {
      present.put(p.toString(), fingerprint(p));
    }
    TreeMap<String, ModelSpec> byGrid = new TreeMap<>(state.catalog.byGrid());
    Map<String, Map<String, ModelSpec>> challengers = new TreeMap<>();
    state.catalog.allChallengers().forEach((g, c) -> challengers.put(g, new TreeMap<>(c)));
    boolean changed = false;
    for (String gone : List.copyOf(state.judged.keySet())) {
      if (!present.containsKey(gone) && ModelCatalog.isChallengerFile(Path.of(gone))) {
        state.judged.remove(gone);
        String name = ModelCatalog.challengerName(Path.of(gone));
        for (Map.Entry<String, Map<String, ModelSpec>> g : challengers.entrySet()) {
          ModelSpec c = g.getValue().get(name);
          if (c != null && c.path.equals(gone)) {
            g.getValue().remove(name);
            changed = true;
            event(ctx, ModelEventKind.REMOVED, g.getKey(), gone, c, c.version, null, "the challenger's file was removed",
                name, CHALLENGER);
          }
        }
      } else if (!present.containsKey(gone)) {
        state.judged.remove(gone);
        ModelSpec served = servedFrom(byGrid, gone);
        if (served != null) {
          byGrid.remove(served.gridId);
          changed = true;
          event(ctx, ModelEventKind.REMOVED, served.gridId, gone, served, served.version, null, "the file was removed");
        }
      }
    }
    state.settling.keySet().retainAll(present.keySet());
    for (Map.Entry<String, String> e : present.entrySet()) {
      String path = e.getKey();
      String fp = e.getValue();
      if (fp.equals(state.judged.get(path))) {
        continue;
      }
      if (!fp.equals(state.settling.put(path, fp))) {
        continue; // new or still changing: judge it once it is the same at the next look
      }
      state.settling.remove(path);
      state.judged.put(path, fp);
      if (ModelCatalog.isChallengerFile(Path.of(path))) {
        changed |= judgeChallenger(ctx, Path.of(path), byGrid, challengers);
      } else {
        changed |= judge(ctx, Path.of(path), byGrid);
      }
    }
    return changed ? new ModelCatalog(byGrid, challengers, state.catalog.generation() + 1) : null;
  }

  /** Checks one new or changed challenger file; when it passes, it joins its grid's challengers. Returns whether anything changed. */
  private boolean judgeChallenger(Context ctx, Path file, Map<String, ModelSpec> byGrid,
      Map<String, Map<String, ModelSpec>> challengers) {
    String name = ModelCatalog.challengerName(file);
    ModelSpec champion = ModelCatalog.championOf(byGrid, file);
    ModelSpec before = null;
    String beforeGrid = null;
    for (Map.Entry<String, Map<String, ModelSpec>> g : challengers.entrySet()) {
      ModelSpec c = g.getValue().get(name);
      if (c != null && c.path.equals(file.toString())) {
        before = c;
        beforeGrid = g.getKey();
      }
    }
    try {
      ModelSpec spec = ModelCatalog.admitChallenger(file, champion);
      if (beforeGrid != null) {
        challengers.get(beforeGrid).remove(name);
      }
      challengers.computeIfAbsent(spec.gridId, g -> new TreeMap<>()).put(name, spec);
      event(ctx, ModelEventKind.ACCEPTED, spec.gridId, file.toString(), spec, before == null ? null : before.version,
          spec.version, "challenger: verified beside the grid's model, never published", name, CHALLENGER);
      return true;
    } catch (ModelCheck.Refused r) {
      String grid = champion != null ? champion.gridId : r.spec != null ? r.spec.gridId : beforeGrid;
      boolean removed = false;
      if (beforeGrid != null) {
        challengers.get(beforeGrid).remove(name); // the file that passed is gone: what is there now failed
        removed = true;
      }
      event(ctx, ModelEventKind.REFUSED, grid, file.toString(), r.spec, before == null ? null : before.version,
          r.spec == null ? null : r.spec.version, r.getMessage(), name, CHALLENGER);
      return removed;
    }
  }

  /** Checks one new or changed file and, when it passes, puts it in {@code byGrid}; returns whether it did. */
  private boolean judge(Context ctx, Path file, TreeMap<String, ModelSpec> byGrid) {
    String path = file.toString();
    ModelSpec before = servedFrom(byGrid, path); // what this file served until now, if anything
    ModelSpec spec;
    try {
      spec = ModelCheck.check(file);
    } catch (ModelCheck.Refused r) {
      String grid = r.spec != null ? r.spec.gridId : before != null ? before.gridId : null;
      event(ctx, ModelEventKind.REFUSED, grid, path, r.spec, before == null ? null : before.version,
          r.spec == null ? null : r.spec.version, r.getMessage() + (before != null ? "; " + before.version + " keeps serving" : ""));
      return false;
    }
    ModelSpec served = byGrid.get(spec.gridId);
    if (served != null && !served.path.equals(path)) {
      event(ctx, ModelEventKind.REFUSED, spec.gridId, path, spec, served.version, spec.version,
          "grid '" + spec.gridId + "' is already served by " + served.path + " (one model file per grid)");
      return false;
    }
    if (served != null && !sameGeometry(served, spec)) {
      event(ctx, ModelEventKind.REFUSED, spec.gridId, path, spec, served.version, spec.version,
          "grid geometry " + geometry(spec) + " differs from the served model's " + geometry(served)
              + ": a grid of another shape or place needs its own grid id");
      return false;
    }
    if (before != null && !before.gridId.equals(spec.gridId)) {
      byGrid.remove(before.gridId); // the file now serves another grid
    }
    byGrid.put(spec.gridId, spec);
    event(ctx, ModelEventKind.ACCEPTED, spec.gridId, path, spec, served == null ? null : served.version, spec.version,
        served == null ? "serves a new grid" : served.alpha != spec.alpha || served.stepMillis != spec.stepMillis
            ? "replaces the grid's model; alpha or step changed: the grid's window refills" : "replaces the grid's model");
    return true;
  }

  private static ModelSpec servedFrom(Map<String, ModelSpec> byGrid, String path) {
    return byGrid.values().stream().filter(s -> s.path.equals(path)).findFirst().orElse(null);
  }

  private static boolean sameGeometry(ModelSpec a, ModelSpec b) {
    return a.height == b.height && a.width == b.width && Math.abs(a.lat0 - b.lat0) <= FrameValidator.GEOMETRY_EPS
        && Math.abs(a.lon0 - b.lon0) <= FrameValidator.GEOMETRY_EPS && Math.abs(a.dlat - b.dlat) <= FrameValidator.GEOMETRY_EPS
        && Math.abs(a.dlon - b.dlon) <= FrameValidator.GEOMETRY_EPS;
  }

  private static String geometry(ModelSpec s) {
    return s.height + "x" + s.width + " from (" + s.lat0 + ", " + s.lon0 + ") by (" + s.dlat + ", " + s.dlon + ")";
  }

  /** Size and modification time: a replaced or rewritten file has another. */
  static String fingerprint(Path p) {
    try {
      return Files.size(p) + "@" + Files.getLastModifiedTime(p).toMillis();
    } catch (IOException e) {
      return "unreadable";
    }
  }

  private static final String CHALLENGER = "challenger";

  private void event(Context ctx, ModelEventKind kind, String grid, String path, ModelSpec spec, String oldVersion,
      String newVersion, String reason) {
    event(ctx, kind, grid, path, spec, oldVersion, newVersion, reason, null, null);
  }

  private void event(Context ctx, ModelEventKind kind, String grid, String path, ModelSpec spec, String oldVersion,
      String newVersion, String reason, String slot, String role) {
    ModelEvent e = ModelEvent.newBuilder()
        .setSlot(slot)
        .setRole(role)
        .setKind(kind)
        .setGridId(grid)
        .setModelPath(path)
        .setModelName(spec == null ? null : spec.name)
        .setOldVersion(oldVersion)
        .setNewVersion(newVersion)
        .setWeightsSha256(spec == null ? null : spec.weightsSha256)
        .setReason(reason)
        .setAt(Instant.now())
        .build();
    if (kind == ModelEventKind.REFUSED) {
      LOG.warn("model {} refused{}: {}", path, grid == null ? "" : " for grid " + grid, reason);
    } else {
      LOG.info("model {} {} for grid {} ({} -> {}){}", path, kind, grid, oldVersion, newVersion,
          reason == null ? "" : ": " + reason);
    }
    ctx.output(EVENTS, e);
  }
}

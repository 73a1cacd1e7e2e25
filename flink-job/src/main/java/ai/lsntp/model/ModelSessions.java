package ai.lsntp.model;

import ai.onnxruntime.OrtException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ONNX Runtime sessions one inference instance forecasts with: one per model (by file,
 * weights and version, so a model rewritten in place gets a new one, and grids served by one model
 * share it), and the model each grid is served by now. Moving to a new catalog opens the sessions
 * of new or replaced models; a grid whose new session will not open stays on its previous model;
 * sessions no longer served close.
 *
 * <p>The challengers of each grid ({@link ModelCatalog#challengers}) get sessions too, shared the
 * same way; one whose session will not open here is left out (logged), never at its grid's cost.
 */
public final class ModelSessions implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ModelSessions.class);

  private final Provider provider;
  private final int intraOpThreads;
  private Map<String, OnnxForecaster> sessions = new HashMap<>();
  /** The spec each grid is served by (the catalog's, or an older one whose session is still open). */
  private Map<String, ModelSpec> serving = new HashMap<>();
  /** grid -> challenger name -> spec, of the challengers whose session is open. */
  private Map<String, Map<String, ModelSpec>> challenging = new HashMap<>();

  private ModelSessions(Provider provider, int intraOpThreads) {
    this.provider = provider;
    this.intraOpThreads = intraOpThreads;
  }

  /** A session for every model of {@code catalog}; one that will not open fails it all (nothing serves yet), closing the others. */
  public static ModelSessions open(ModelCatalog catalog, Provider provider, int intraOpThreads) throws Exception {
    ModelSessions s = new ModelSessions(provider, intraOpThreads);
    try {
      for (ModelSpec spec : catalog.byGrid().values()) {
        if (!s.sessions.containsKey(identity(spec))) {
          s.sessions.put(identity(spec), OnnxForecaster.open(spec, provider, intraOpThreads));
        }
        s.serving.put(spec.gridId, spec);
      }
      s.challenging = s.openChallengers(catalog, s.sessions, s.sessions);
      return s;
    } catch (Exception | Error e) {
      try {
        s.close();
      } catch (Exception closing) {
        e.addSuppressed(closing);
      }
      throw e;
    }
  }

  /** The model serving {@code gridId}, or null when none does. */
  public ModelSpec serving(String gridId) {
    return serving.get(gridId);
  }

  /** The challengers of {@code gridId} that run here, by name (empty: none). */
  public Map<String, ModelSpec> challengers(String gridId) {
    return challenging.getOrDefault(gridId, Map.of());
  }

  /** The session of a model {@link #serving} or {@link #challengers} returned. */
  public OnnxForecaster session(ModelSpec spec) {
    return sessions.get(identity(spec));
  }

  /** Serves {@code next} from now on (see the class comment); closes the sessions it no longer needs. */
  public void moveTo(ModelCatalog next) throws Exception {
    Map<String, OnnxForecaster> nextSessions = new HashMap<>();
    Map<String, ModelSpec> nextServing = new HashMap<>();
    for (ModelSpec spec : next.byGrid().values()) {
      String id = identity(spec);
      OnnxForecaster s = nextSessions.containsKey(id) ? nextSessions.get(id) : sessions.get(id);
      if (s == null) {
        try {
          s = OnnxForecaster.open(spec, provider, intraOpThreads);
        } catch (OrtException | RuntimeException | LinkageError e) {
          ModelSpec before = serving.get(spec.gridId);
          LOG.error("model {} for grid {} will not open here ({}); {}", spec.path, spec.gridId, e.getMessage(),
              before == null ? "its frames wait for the next catalog" : before.version + " keeps serving it");
          if (before != null) {
            nextSessions.put(identity(before), sessions.get(identity(before)));
            nextServing.put(spec.gridId, before);
          }
          continue;
        }
      }
      nextSessions.put(id, s);
      nextServing.put(spec.gridId, spec);
    }
    Map<String, Map<String, ModelSpec>> nextChallenging = openChallengers(next, sessions, nextSessions);
    List<OnnxForecaster> retired = new ArrayList<>();
    sessions.forEach((id, s) -> {
      if (!nextSessions.containsKey(id)) {
        retired.add(s);
      }
    });
    sessions = nextSessions;
    serving = nextServing;
    challenging = nextChallenging;
    closeAll(retired);
  }

  /**
   * Sessions for the challengers of {@code catalog}'s grids, reusing those of {@code open}, put into
   * {@code into}; a challenger whose session will not open is left out with a log line.
   */
  private Map<String, Map<String, ModelSpec>> openChallengers(ModelCatalog catalog, Map<String, OnnxForecaster> open,
      Map<String, OnnxForecaster> into) {
    Map<String, Map<String, ModelSpec>> out = new HashMap<>();
    catalog.allChallengers().forEach((grid, byName) -> byName.forEach((name, spec) -> {
      String id = identity(spec);
      OnnxForecaster s = into.containsKey(id) ? into.get(id) : open.get(id);
      if (s == null) {
        try {
          s = OnnxForecaster.open(spec, provider, intraOpThreads);
        } catch (OrtException | RuntimeException | LinkageError e) {
          LOG.error("challenger {} of grid {} ({}) will not open here ({}); it is left out", name, grid, spec.path,
              e.getMessage());
          return;
        }
      }
      into.put(id, s);
      out.computeIfAbsent(grid, g -> new java.util.TreeMap<>()).put(name, spec);
    }));
    return out;
  }

  /** A model's identity: its file, weights and version (a file rewritten with anything new is another model). */
  private static String identity(ModelSpec spec) {
    return spec.path + "@" + spec.weightsSha256 + "@" + spec.version;
  }

  /** Closes every session even when one fails to close; the first failure is thrown, the others added to it. */
  @Override
  public void close() throws Exception {
    try {
      closeAll(sessions.values());
    } finally {
      sessions.clear();
      serving.clear();
      challenging.clear();
    }
  }

  private static void closeAll(Iterable<? extends AutoCloseable> resources) throws Exception {
    Exception first = null;
    for (AutoCloseable r : resources) {
      try {
        r.close();
      } catch (Exception e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}

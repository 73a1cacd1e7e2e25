package ai.lsntp.job;

import ai.lsntp.model.ModelCatalog;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ReadOnlyBroadcastState;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;

/**
 * How the stages learn of a new model catalog: the directory watcher's catalogs travel as a
 * broadcast, and each stage keeps the newest in broadcast state (so a restart from a checkpoint
 * resumes with the models that served then, not only those of the job's start).
 */
public final class ModelUpdates {
  /** The one entry of the broadcast state: the newest catalog. */
  public static final MapStateDescriptor<Long, ModelCatalog> STATE =
      new MapStateDescriptor<>("model-catalog", Types.LONG, TypeInformation.of(ModelCatalog.class));
  private static final Long KEY = 0L;

  private ModelUpdates() {}

  /** The newer of the catalog in hand and the one in broadcast state. */
  public static ModelCatalog newest(ModelCatalog current, ReadOnlyBroadcastState<Long, ModelCatalog> state)
      throws Exception {
    return ModelCatalog.newer(current, state.get(KEY));
  }

  /** Keeps {@code catalog} when it is newer than the stored one; returns the newer of the two. */
  public static ModelCatalog store(ModelCatalog catalog, BroadcastState<Long, ModelCatalog> state) throws Exception {
    ModelCatalog newer = ModelCatalog.newer(catalog, state.get(KEY));
    if (newer == catalog) {
      state.put(KEY, catalog);
    }
    return newer;
  }
}

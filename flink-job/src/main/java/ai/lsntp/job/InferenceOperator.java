package ai.lsntp.job;

import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSessions;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.model.OnnxForecaster;
import ai.lsntp.model.Provider;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.TwoInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * Runs LS-NTP on complete windows. One ONNX Runtime session per model per parallel instance (task
 * slot), opened in {@link #open()} and closed in {@link #close()} ({@link ModelSessions}). Windows
 * of many grids are batched into one call per model: up to {@code maxWindows} windows, or whatever
 * is waiting {@code maxDelayMillis} after the first one, whichever comes first. The buffer is
 * flushed before every checkpoint barrier and at the end of input, so it is never state and
 * nothing is lost. Each window's {@link WindowForecast} is the main output, rejects a side output;
 * alerts are judged by the stage after it.
 *
 * <p>A failed batch call is retried window by window, so one bad window cannot cost the others
 * their forecasts; a window that fails on its own goes to the rejects as INTERNAL_ERROR with the
 * exception. The job goes on.
 *
 * <p>Its second input is the model directory watcher's catalogs (broadcast to every instance). A
 * new catalog takes effect between batches: the windows waiting are forecast by the models they
 * were built for, then the sessions move to the new catalog. Every forecast names the version of
 * the model that made it. A window built for an alpha its grid's model no longer has is rejected
 * as MODEL_CHANGED.
 */
public class InferenceOperator extends AbstractStreamOperator<WindowForecast>
    implements TwoInputStreamOperator<FrameWindow, ModelCatalog, WindowForecast> {
  private static final long serialVersionUID = 1L;

  private ModelCatalog models;
  private final Provider provider;
  private final int intraOpThreads;
  private final int maxWindows;
  private final long maxDelayMillis;
  private final StageProbe probe;
  /** Cells of one call at most (windows x the grid's cells); a window larger than this runs alone. */
  private long maxCells = Long.MAX_VALUE;

  private transient ModelSessions sessions;
  private transient BroadcastState<Long, ModelCatalog> catalogState;
  private transient List<FrameWindow> pending;
  /** Cells of the windows waiting (their values, alpha frames each). */
  private transient long pendingCells;
  private transient ScheduledFuture<?> flushTimer;
  /** A watermark that arrived while windows waited: it goes on after them, so no forecast is behind its watermark. */
  private transient Watermark heldWatermark;
  private transient Counter forecastsOut;
  private transient GridMetrics gridMetrics;
  private transient Counter batches;
  private transient Histogram inferenceMillis;
  private transient Histogram batchSize;
  private transient Histogram endToEndMillis;
  private transient Counter internalErrors;
  private transient Counter modelChanged;
  private transient Counter unknownGrid;
  private transient Counter batchRetries;
  private transient Counter modelSwaps;

  public InferenceOperator(ModelCatalog models, Provider provider, int intraOpThreads, int maxWindows,
      long maxDelayMillis, StageProbe probe) {
    this.models = models;
    this.provider = provider;
    this.intraOpThreads = intraOpThreads;
    this.maxWindows = maxWindows;
    this.maxDelayMillis = maxDelayMillis;
    this.probe = probe;
  }

  /**
   * Bounds each ONNX Runtime call by cells as well as windows (batching.max-cells): the memory of a
   * call grows with its cells, so a big grid's windows go at a small batch (one at a time when a
   * window alone is over the bound) while small grids still share calls of up to maxWindows.
   */
  public InferenceOperator maxCells(long maxCells) {
    this.maxCells = maxCells;
    return this;
  }

  /** Windows of {@code cellsPerWindow} cells (one frame's) per call: at least 1, at most maxWindows. */
  int batchOf(long cellsPerWindow) {
    return (int) Math.max(1, Math.min(maxWindows, maxCells / Math.max(1, cellsPerWindow)));
  }

  @Override
  public void initializeState(StateInitializationContext context) throws Exception {
    super.initializeState(context);
    catalogState = context.getOperatorStateStore().getBroadcastState(ModelUpdates.STATE);
    models = ModelUpdates.newest(models, catalogState);
  }

  @Override
  public void open() throws Exception {
    super.open();
    sessions = ModelSessions.open(models, provider, intraOpThreads);
    pending = new ArrayList<>(maxWindows);
    forecastsOut = getMetricGroup().counter("forecastsOut");
    gridMetrics = new GridMetrics(getMetricGroup(), grid -> sessions.serving(grid));
    batches = getMetricGroup().counter("inferenceCalls");
    inferenceMillis = getMetricGroup().histogram("inferenceLatencyMs", new DescriptiveStatisticsHistogram(1000));
    batchSize = getMetricGroup().histogram("batchSize", new DescriptiveStatisticsHistogram(1000));
    endToEndMillis = getMetricGroup().histogram("endToEndLatencyMs", new DescriptiveStatisticsHistogram(1000));
    internalErrors = RejectMetrics.counter(getMetricGroup(), Reason.INTERNAL_ERROR);
    modelChanged = RejectMetrics.counter(getMetricGroup(), Reason.MODEL_CHANGED);
    unknownGrid = RejectMetrics.counter(getMetricGroup(), Reason.UNKNOWN_GRID);
    batchRetries = getMetricGroup().counter("batchRetries");
    modelSwaps = getMetricGroup().counter("modelSwaps");
  }

  /** A new catalog: the waiting windows go with the models they were built for, then the sessions change. */
  @Override
  public void processElement2(StreamRecord<ModelCatalog> element) throws Exception {
    ModelCatalog next = element.getValue();
    if (ModelCatalog.newer(models, next) != next || next.generation() == models.generation()) {
      return;
    }
    flush();
    sessions.moveTo(next);
    models = next;
    catalogState.put(0L, next);
    modelSwaps.inc();
  }

  @Override
  public void processElement1(StreamRecord<FrameWindow> element) throws Exception {
    FrameWindow w = element.getValue();
    pending.add(w);
    ModelSpec spec = sessions.serving(w.gridId);
    pendingCells += spec == null ? 0 : spec.cells();
    if (pending.size() >= maxWindows || pendingCells >= maxCells || maxDelayMillis <= 0) {
      flush();
    } else if (flushTimer == null) {
      long at = getProcessingTimeService().getCurrentProcessingTime() + maxDelayMillis;
      flushTimer = getProcessingTimeService().registerTimer(at, ts -> {
        flushTimer = null;
        flush();
      });
    }
  }

  /**
   * Watermarks wait behind the windows in the batch buffer: a forecast emitted after the
   * watermark that passed its issue time would be late downstream (verification keys its state
   * on event time).
   */
  @Override
  public void processWatermark(Watermark mark) throws Exception {
    if (pending == null || pending.isEmpty()) {
      super.processWatermark(mark);
    } else {
      heldWatermark = mark;
    }
  }

  /** Runs every waiting window, one ONNX Runtime call per model, and emits their forecasts. */
  void flush() throws Exception {
    try {
      forecastPending();
    } finally {
      if (heldWatermark != null) {
        Watermark w = heldWatermark;
        heldWatermark = null;
        super.processWatermark(w);
      }
    }
  }

  private void forecastPending() throws Exception {
    if (flushTimer != null) {
      flushTimer.cancel(false);
      flushTimer = null;
    }
    if (pending.isEmpty()) {
      return;
    }
    Map<OnnxForecaster, List<FrameWindow>> byModel = new LinkedHashMap<>();
    for (FrameWindow w : pending) {
      ModelSpec spec = sessions.serving(w.gridId);
      if (spec == null) {
        unknownGrid.inc();
        output.collect(Rejects.TAG, new StreamRecord<>(Rejects.ofWindow(Reason.UNKNOWN_GRID, "no model serves grid '"
            + w.gridId + "' any more (its model was removed from the model directory)", w), w.issueTime));
      } else if (w.values.length != spec.alpha * spec.cells()) {
        modelChanged.inc();
        output.collect(Rejects.TAG, new StreamRecord<>(Rejects.ofWindow(Reason.MODEL_CHANGED, "the window holds "
            + w.values.length / spec.cells() + " frames but the grid's model is now " + spec.name + " " + spec.version
            + " with alpha " + spec.alpha + " (the window was built before the model changed)", w), w.issueTime));
      } else {
        byModel.computeIfAbsent(sessions.session(spec), k -> new ArrayList<>()).add(w);
      }
    }
    pending.clear();
    pendingCells = 0;
    for (Map.Entry<OnnxForecaster, List<FrameWindow>> e : byModel.entrySet()) {
      List<FrameWindow> all = e.getValue();
      int batch = batchOf(e.getKey().spec().cells());
      for (int from = 0; from < all.size(); from += batch) {
        forecastBatch(e.getKey(), all.subList(from, Math.min(all.size(), from + batch)));
      }
    }
  }

  /** One ONNX Runtime call for windows of one model; retried window by window if it fails. */
  private void forecastBatch(OnnxForecaster session, List<FrameWindow> ws) throws Exception {
    ModelSpec spec = sessions.serving(ws.get(0).gridId); // names the forecasts: the catalog's spec, not the session's
    float[][] outs;
    try {
      outs = forecast(session, ws);
    } catch (Exception | Error batchFailure) {
      Rejects.rethrowIfFatal(batchFailure);
      batchRetries.inc();
      for (FrameWindow w : ws) { // one by one: only the windows that fail on their own are lost
        try {
          emit(spec, List.of(w), forecast(session, List.of(w)));
        } catch (Exception | Error windowFailure) {
          Rejects.rethrowIfFatal(windowFailure);
          reject(w, Rejects.describe("forecasting the window (retried alone after its batch of " + ws.size()
              + " failed)", windowFailure));
        }
      }
      return;
    }
    emit(spec, ws, outs);
  }

  private float[][] forecast(OnnxForecaster session, List<FrameWindow> ws) throws Exception {
    if (probe != null) {
      probe.forecasting(ws);
    }
    List<float[]> inputs = new ArrayList<>(ws.size());
    for (FrameWindow w : ws) {
      inputs.add(w.values);
    }
    long t0 = System.nanoTime();
    float[][] outs = session.forecast(inputs);
    inferenceMillis.update((System.nanoTime() - t0) / 1_000_000);
    batchSize.update(ws.size());
    batches.inc();
    return outs;
  }

  private void emit(ModelSpec spec, List<FrameWindow> ws, float[][] outs) {
    long producedAt = System.currentTimeMillis();
    for (int i = 0; i < ws.size(); i++) {
      FrameWindow w = ws.get(i);
      output.collect(new StreamRecord<>(WindowForecast.of(spec, w, outs[i], producedAt), w.issueTime));
      forecastsOut.inc();
      gridMetrics.forecast(spec, w.issueTime, producedAt);
      endToEndMillis.update(producedAt - w.arrivalTime);
    }
  }

  private void reject(FrameWindow w, String message) {
    internalErrors.inc();
    output.collect(Rejects.TAG, new StreamRecord<>(Rejects.ofWindow(Reason.INTERNAL_ERROR, message, w), w.issueTime));
  }

  @Override
  public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
    flush(); // windows in the batch buffer leave before the barrier: the buffer is never state
    super.prepareSnapshotPreBarrier(checkpointId);
  }

  @Override
  public void finish() throws Exception {
    flush();
    super.finish();
  }

  @Override
  public void close() throws Exception {
    try {
      if (flushTimer != null) {
        flushTimer.cancel(false);
      }
      if (sessions != null) {
        sessions.close();
      }
    } finally {
      super.close();
    }
  }
}

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
 *
 * <p>A grid's challengers forecast every window its model forecasts, in the same flush: each model
 * makes one call over the windows it serves or challenges. Their forecasts ride in the window's
 * {@link WindowForecast} ({@link WindowForecast#challengers}), for verification only; a challenger
 * that fails loses its own forecast, logged and counted ({@code challengerFailures}), never the grid's.
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
  /** Whether the grids' challengers run (with verification off nothing would score them). */
  private boolean runChallengers = true;

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
  private transient Counter challengerFailures;
  private transient Counter challengerSkipped;
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(InferenceOperator.class);

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

  /** Challengers run only where something scores them: {@code false} when verification is off. */
  public InferenceOperator runChallengers(boolean run) {
    this.runChallengers = run;
    return this;
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
    challengerFailures = getMetricGroup().counter("challengerFailures");
    challengerSkipped = getMetricGroup().counter("challengerSkipped");
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
    List<FrameWindow> ready = new ArrayList<>(pending.size());
    List<ModelSpec> readySpecs = new ArrayList<>(pending.size());
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
        ready.add(w);
        readySpecs.add(spec);
      }
    }
    pending.clear();
    pendingCells = 0;
    // each model's one call: the windows of the grids it serves, then those of the grids it
    // challenges (the same window objects: a challenger costs its own inference, no copy)
    Map<OnnxForecaster, List<Run>> byModel = new LinkedHashMap<>();
    for (int i = 0; i < ready.size(); i++) {
      byModel.computeIfAbsent(sessions.session(readySpecs.get(i)), k -> new ArrayList<>())
          .add(new Run(i, null, readySpecs.get(i)));
    }
    for (int i = 0; runChallengers && i < ready.size(); i++) {
      ModelSpec champion = readySpecs.get(i);
      for (Map.Entry<String, ModelSpec> c : sessions.challengers(ready.get(i).gridId).entrySet()) {
        if (ModelCatalog.challengerRefusal(champion, c.getValue()) != null) {
          challengerSkipped.inc(); // its champion changed shape since it was admitted: it sits out until replaced
          continue;
        }
        byModel.computeIfAbsent(sessions.session(c.getValue()), k -> new ArrayList<>())
            .add(new Run(i, c.getKey(), c.getValue()));
      }
    }
    float[][] championOut = new float[ready.size()][];
    List<List<WindowForecast.Contender>> contenders = new ArrayList<>(ready.size());
    for (int i = 0; i < ready.size(); i++) {
      contenders.add(new ArrayList<>());
    }
    for (Map.Entry<OnnxForecaster, List<Run>> e : byModel.entrySet()) {
      OnnxForecaster session = e.getKey();
      List<Run> all = e.getValue();
      // calls of at most batching.max-cells cells: a big grid's windows go one at a time
      int batch = batchOf(session.spec().cells());
      for (int from = 0; from < all.size(); from += batch) {
        forecastRuns(session, all.subList(from, Math.min(all.size(), from + batch)), ready, championOut, contenders);
      }
    }
    long producedAt = System.currentTimeMillis();
    for (int i = 0; i < ready.size(); i++) {
      if (championOut[i] != null) {
        emit(readySpecs.get(i), ready.get(i), championOut[i], contenders.get(i), producedAt);
      }
    }
  }

  /** One ONNX Runtime call for some windows of one model; retried window by window if it fails. */
  private void forecastRuns(OnnxForecaster session, List<Run> runs, List<FrameWindow> ready, float[][] championOut,
      List<List<WindowForecast.Contender>> contenders) throws Exception {
    List<FrameWindow> ws = new ArrayList<>(runs.size());
    for (Run r : runs) {
      ws.add(ready.get(r.window));
    }
    try {
      float[][] outs = forecast(session, ws);
      for (int k = 0; k < runs.size(); k++) {
        keep(runs.get(k), outs[k], ready, championOut, contenders);
      }
    } catch (Exception | Error batchFailure) {
      Rejects.rethrowIfFatal(batchFailure);
      batchRetries.inc();
      for (Run r : runs) { // one by one: only the windows that fail on their own are lost
        FrameWindow w = ready.get(r.window);
        try {
          keep(r, forecast(session, List.of(w))[0], ready, championOut, contenders);
        } catch (Exception | Error windowFailure) {
          Rejects.rethrowIfFatal(windowFailure);
          if (r.slot == null) {
            reject(w, Rejects.describe("forecasting the window (retried alone after its batch of " + ws.size()
                + " failed)", windowFailure));
          } else {
            // a challenger's failure costs its own score, never the grid's forecast
            challengerFailures.inc();
            LOG.warn("challenger {} of grid {} failed on the window issued at {}: {}", r.slot, w.gridId, w.issueTime,
                Rejects.describe("forecasting", windowFailure));
          }
        }
      }
    }
  }

  /** One window for one model: its champion (slot null) or the challenger {@code slot}. */
  private record Run(int window, String slot, ModelSpec spec) {}

  private static void keep(Run r, float[] out, List<FrameWindow> ready, float[][] championOut,
      List<List<WindowForecast.Contender>> contenders) {
    if (r.slot == null) {
      championOut[r.window] = out;
    } else {
      contenders.get(r.window).add(new WindowForecast.Contender(r.slot, r.spec, ready.get(r.window), out,
          System.currentTimeMillis()));
    }
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

  private void emit(ModelSpec spec, FrameWindow w, float[] out, List<WindowForecast.Contender> challengers,
      long producedAt) {
    WindowForecast f = WindowForecast.of(spec, w, out, producedAt);
    f.challengers = challengers.toArray(new WindowForecast.Contender[0]);
    output.collect(new StreamRecord<>(f, w.issueTime));
    forecastsOut.inc();
    gridMetrics.forecast(spec, w.issueTime, producedAt);
    endToEndMillis.update(producedAt - w.arrivalTime);
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

package ai.lsntp.job;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.model.OnnxForecaster;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.TwoInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.apache.flink.util.OutputTag;

/**
 * Runs LS-NTP on complete windows. One ONNX Runtime session per model per parallel instance (task
 * slot), opened in {@link #open()} and closed in {@link #close()}. Windows of many grids are
 * batched into one call per model: up to {@code maxWindows} windows, or whatever is waiting
 * {@code maxDelayMillis} after the first one, whichever comes first. The buffer is flushed before
 * every checkpoint barrier and at the end of input, so it is never state and nothing is lost.
 * Forecasts are the main output, alerts and rejects side outputs.
 *
 * <p>A failed batch call is retried window by window, so one bad window cannot cost the others
 * their forecasts; a window that fails on its own, or whose alert evaluation throws, goes to the
 * rejects as INTERNAL_ERROR with the exception (its forecast is still published when only the
 * alerts failed). The job goes on.
 *
 * <p>Its second input is the model directory watcher's catalogs (broadcast to every instance). A
 * new catalog takes effect between batches: the windows waiting are forecast by the models they
 * were built for, then the sessions of new or replaced models open (checked models; a session that
 * will not open leaves the grid on its previous model), and those no longer served close. Every
 * forecast names the version of the model that made it. A window built for an alpha its grid's
 * model no longer has is rejected as MODEL_CHANGED.
 */
public class InferenceOperator extends AbstractStreamOperator<Forecast>
    implements TwoInputStreamOperator<FrameWindow, ModelCatalog, Forecast> {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(InferenceOperator.class);
  public static final OutputTag<Alert> ALERTS = new OutputTag<>("alerts", new AvroTypeInfo<>(Alert.class));

  private ModelCatalog models;
  private final ai.lsntp.model.Provider provider;
  private final int intraOpThreads;
  private final int maxWindows;
  private final long maxDelayMillis;
  private final AlertEvaluator alerts;
  private final StageProbe probe;

  /** Open sessions by model identity (path and weights): a model replaced in place gets a new one. */
  private transient Map<String, OnnxForecaster> sessions;
  /** The spec each grid is served by now (the catalog's, or an older one whose session is still open). */
  private transient Map<String, ModelSpec> serving;
  private transient BroadcastState<Long, ModelCatalog> catalogState;
  private transient List<FrameWindow> pending;
  private transient ScheduledFuture<?> flushTimer;
  /** A watermark that arrived while windows waited: it goes on after them, so no forecast is behind its watermark. */
  private transient Watermark heldWatermark;
  private transient Counter forecastsOut;
  private transient Counter alertsOut;
  private transient Counter batches;
  private transient Histogram inferenceMillis;
  private transient Histogram batchSize;
  private transient Histogram endToEndMillis;
  private transient Counter internalErrors;
  private transient Counter modelChanged;
  private transient Counter unknownGrid;
  private transient Counter batchRetries;
  private transient Counter modelSwaps;

  public InferenceOperator(ModelCatalog models, ai.lsntp.model.Provider provider, int intraOpThreads, int maxWindows,
      long maxDelayMillis, AlertEvaluator alerts, StageProbe probe) {
    this.models = models;
    this.provider = provider;
    this.intraOpThreads = intraOpThreads;
    this.maxWindows = maxWindows;
    this.maxDelayMillis = maxDelayMillis;
    this.alerts = alerts;
    this.probe = probe;
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
    sessions = new HashMap<>();
    serving = new HashMap<>();
    for (ModelSpec spec : models.byGrid().values()) {
      OnnxForecaster s = sessions.get(identity(spec));
      if (s == null) {
        sessions.put(identity(spec), OnnxForecaster.open(spec, provider, intraOpThreads));
      }
      serving.put(spec.gridId, spec);
    }
    pending = new ArrayList<>(maxWindows);
    forecastsOut = getMetricGroup().counter("forecastsOut");
    alertsOut = getMetricGroup().counter("alertsOut");
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

  /** A model's identity: its file, weights and version (a file rewritten with anything new is another model). */
  private static String identity(ModelSpec spec) {
    return spec.path + "@" + spec.weightsSha256 + "@" + spec.version;
  }

  /** A new catalog: the waiting windows go with the models they were built for, then the sessions change. */
  @Override
  public void processElement2(StreamRecord<ModelCatalog> element) throws Exception {
    ModelCatalog next = element.getValue();
    if (ModelCatalog.newer(models, next) != next || next.generation() == models.generation()) {
      return;
    }
    flush();
    Map<String, OnnxForecaster> nextSessions = new HashMap<>();
    Map<String, ModelSpec> nextServing = new HashMap<>();
    for (ModelSpec spec : next.byGrid().values()) {
      String id = identity(spec);
      OnnxForecaster s = nextSessions.containsKey(id) ? nextSessions.get(id) : sessions.get(id);
      if (s == null) {
        try {
          s = OnnxForecaster.open(spec, provider, intraOpThreads);
        } catch (Exception | Error e) {
          rethrowIfFatal(e);
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
    List<OnnxForecaster> retired = new ArrayList<>();
    sessions.forEach((id, s) -> {
      if (!nextSessions.containsKey(id)) {
        retired.add(s);
      }
    });
    sessions = nextSessions;
    serving = nextServing;
    models = next;
    catalogState.put(0L, next);
    modelSwaps.inc();
    closeAll(retired);
  }

  @Override
  public void processElement1(StreamRecord<FrameWindow> element) throws Exception {
    pending.add(element.getValue());
    if (pending.size() >= maxWindows || maxDelayMillis <= 0) {
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

  /** Runs every waiting window, one ONNX Runtime call per model, and emits forecasts and alerts. */
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
    Map<String, List<FrameWindow>> byModel = new LinkedHashMap<>();
    for (FrameWindow w : pending) {
      ModelSpec spec = serving.get(w.gridId);
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
        byModel.computeIfAbsent(identity(spec), k -> new ArrayList<>()).add(w);
      }
    }
    pending.clear();
    for (Map.Entry<String, List<FrameWindow>> e : byModel.entrySet()) {
      OnnxForecaster session = sessions.get(e.getKey());
      List<FrameWindow> ws = e.getValue();
      ModelSpec spec = serving.get(ws.get(0).gridId); // names the forecasts: the catalog's spec, not the session's
      float[][] outs;
      try {
        outs = forecast(session, ws);
      } catch (Exception | Error batchFailure) {
        rethrowIfFatal(batchFailure);
        batchRetries.inc();
        for (FrameWindow w : ws) { // one by one: only the windows that fail on their own are lost
          try {
            emit(spec, List.of(w), forecast(session, List.of(w)));
          } catch (Exception | Error windowFailure) {
            rethrowIfFatal(windowFailure);
            reject(w, Rejects.describe("forecasting the window (retried alone after its batch of " + ws.size()
                + " failed)", windowFailure));
          }
        }
        continue;
      }
      emit(spec, ws, outs);
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

  private void emit(ModelSpec spec, List<FrameWindow> ws, float[][] outs) {
    long producedAt = System.currentTimeMillis();
    int cells = spec.cells();
    for (int i = 0; i < ws.size(); i++) {
      FrameWindow w = ws.get(i);
      output.collect(new StreamRecord<>(toForecast(spec, w, outs[i], producedAt), w.issueTime));
      forecastsOut.inc();
      endToEndMillis.update(producedAt - w.arrivalTime);
      List<Alert> raised;
      try {
        if (probe != null) {
          probe.alerting(w);
        }
        float[] observed = new float[cells];
        System.arraycopy(w.values, (spec.alpha - 1) * cells, observed, 0, cells);
        raised = alerts.evaluate(spec, w.gridId, w.issueTime, observed, outs[i], producedAt);
      } catch (Exception | Error e) {
        rethrowIfFatal(e);
        reject(w, Rejects.describe("evaluating the alert rules (the forecast was published)", e));
        continue;
      }
      for (Alert a : raised) {
        output.collect(ALERTS, new StreamRecord<>(a, w.issueTime));
        alertsOut.inc();
      }
    }
  }

  private void reject(FrameWindow w, String message) {
    internalErrors.inc();
    output.collect(Rejects.TAG, new StreamRecord<>(Rejects.ofWindow(Reason.INTERNAL_ERROR, message, w), w.issueTime));
  }

  private static void rethrowIfFatal(Throwable t) {
    if (t instanceof VirtualMachineError) {
      throw (VirtualMachineError) t;
    }
  }

  static Forecast toForecast(ModelSpec spec, FrameWindow w, float[] values, long producedAt) {
    List<Instant> validTimes = new ArrayList<>(spec.beta);
    for (int lead = 1; lead <= spec.beta; lead++) {
      validTimes.add(Instant.ofEpochMilli(w.issueTime + lead * spec.stepMillis));
    }
    return Forecast.newBuilder()
        .setGridId(w.gridId)
        .setIssueTime(Instant.ofEpochMilli(w.issueTime))
        .setModelName(spec.name)
        .setModelVersion(spec.version)
        .setStepMillis(spec.stepMillis)
        .setBeta(spec.beta)
        .setHeight(spec.height)
        .setWidth(spec.width)
        .setLat0(spec.lat0)
        .setLon0(spec.lon0)
        .setDlat(spec.dlat)
        .setDlon(spec.dlon)
        .setUnits("K")
        .setValues(PackedFloats.encode(values))
        .setValidTimes(validTimes)
        .setProducedAt(Instant.ofEpochMilli(producedAt))
        .build();
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

  /** Closes every session even when one fails to close; the first failure is thrown, the others added to it. */
  static void closeAll(Iterable<? extends AutoCloseable> resources) throws Exception {
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

  @Override
  public void close() throws Exception {
    try {
      if (flushTimer != null) {
        flushTimer.cancel(false);
      }
      closeAll(sessions == null ? List.of() : sessions.values());
      if (sessions != null) {
        sessions.clear();
      }
    } finally {
      super.close();
    }
  }
}

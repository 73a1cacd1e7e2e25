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
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
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
 */
public class InferenceOperator extends AbstractStreamOperator<Forecast>
    implements OneInputStreamOperator<FrameWindow, Forecast> {
  private static final long serialVersionUID = 1L;
  public static final OutputTag<Alert> ALERTS = new OutputTag<>("alerts", new AvroTypeInfo<>(Alert.class));

  private final ModelCatalog models;
  private final boolean cuda;
  private final int intraOpThreads;
  private final int maxWindows;
  private final long maxDelayMillis;
  private final AlertEvaluator alerts;
  private final StageProbe probe;

  private transient Map<String, OnnxForecaster> sessions; // by model path
  private transient List<FrameWindow> pending;
  private transient ScheduledFuture<?> flushTimer;
  private transient Counter forecastsOut;
  private transient Counter alertsOut;
  private transient Counter batches;
  private transient Histogram inferenceMillis;
  private transient Histogram batchSize;
  private transient Histogram endToEndMillis;
  private transient Counter internalErrors;
  private transient Counter batchRetries;

  public InferenceOperator(ModelCatalog models, boolean cuda, int intraOpThreads, int maxWindows,
      long maxDelayMillis, AlertEvaluator alerts, StageProbe probe) {
    this.models = models;
    this.cuda = cuda;
    this.intraOpThreads = intraOpThreads;
    this.maxWindows = maxWindows;
    this.maxDelayMillis = maxDelayMillis;
    this.alerts = alerts;
    this.probe = probe;
  }

  @Override
  public void open() throws Exception {
    super.open();
    sessions = new HashMap<>();
    for (ModelSpec spec : models.byGrid().values()) {
      if (!sessions.containsKey(spec.path)) {
        sessions.put(spec.path, OnnxForecaster.open(spec, cuda, intraOpThreads));
      }
    }
    pending = new ArrayList<>(maxWindows);
    forecastsOut = getMetricGroup().counter("forecastsOut");
    alertsOut = getMetricGroup().counter("alertsOut");
    batches = getMetricGroup().counter("inferenceCalls");
    inferenceMillis = getMetricGroup().histogram("inferenceLatencyMs", new DescriptiveStatisticsHistogram(1000));
    batchSize = getMetricGroup().histogram("batchSize", new DescriptiveStatisticsHistogram(1000));
    endToEndMillis = getMetricGroup().histogram("endToEndLatencyMs", new DescriptiveStatisticsHistogram(1000));
    internalErrors = RejectMetrics.counter(getMetricGroup(), Reason.INTERNAL_ERROR);
    batchRetries = getMetricGroup().counter("batchRetries");
  }

  @Override
  public void processElement(StreamRecord<FrameWindow> element) throws Exception {
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

  /** Runs every waiting window, one ONNX Runtime call per model, and emits forecasts and alerts. */
  void flush() throws Exception {
    if (flushTimer != null) {
      flushTimer.cancel(false);
      flushTimer = null;
    }
    if (pending.isEmpty()) {
      return;
    }
    Map<String, List<FrameWindow>> byModel = new LinkedHashMap<>();
    for (FrameWindow w : pending) {
      byModel.computeIfAbsent(models.forGrid(w.gridId).path, k -> new ArrayList<>()).add(w);
    }
    pending.clear();
    for (Map.Entry<String, List<FrameWindow>> e : byModel.entrySet()) {
      OnnxForecaster session = sessions.get(e.getKey());
      List<FrameWindow> ws = e.getValue();
      float[][] outs;
      try {
        outs = forecast(session, ws);
      } catch (Exception | Error batchFailure) {
        rethrowIfFatal(batchFailure);
        batchRetries.inc();
        for (FrameWindow w : ws) { // one by one: only the windows that fail on their own are lost
          try {
            emit(session.spec(), List.of(w), forecast(session, List.of(w)));
          } catch (Exception | Error windowFailure) {
            rethrowIfFatal(windowFailure);
            reject(w, Rejects.describe("forecasting the window (retried alone after its batch of " + ws.size()
                + " failed)", windowFailure));
          }
        }
        continue;
      }
      emit(session.spec(), ws, outs);
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

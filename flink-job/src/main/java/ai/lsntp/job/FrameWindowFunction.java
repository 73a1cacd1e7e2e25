package ai.lsntp.job;

import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.co.KeyedBroadcastProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Keeps, per grid, the newest frames by valid time in {@code MapState<validTime, frame>} and emits
 * a {@link FrameWindow} for every window of alpha consecutive frames (step from the model's
 * metadata) that a frame completes.
 *
 * <p>Policy, per grid (L = ceil(allowed lateness / step)):
 *
 * <ul>
 *   <li>a frame with a valid time already held replaces it (a correction) and triggers nothing:
 *       the windows it belongs to were either emitted already or are still incomplete;
 *   <li>a frame older than the grid's newest valid time by at most the allowed lateness is slotted
 *       in and triggers every window it completes (up to alpha of them);
 *   <li>a frame older than that is rejected with reason LATE;
 *   <li>a missing frame (a gap) means no window until alpha consecutive frames exist again; it is
 *       counted in the {@code gaps} metric once the watermark passes the missing time plus the
 *       allowed lateness;
 *   <li>state holds at most alpha + L frames (alpha + 1 with the default one-step lateness):
 *       older frames are evicted one by one, never by rewriting the window;
 *   <li>an unexpected exception while handling one frame rejects that frame as INTERNAL_ERROR
 *       (reason: the exception) and the job goes on;
 *   <li>the models are the newest catalog broadcast by the model directory watcher: when a grid's
 *       new model has another alpha, windows take the new alpha from the frames held (alpha - 1
 *       behind the newest), so a larger alpha waits for more frames; when it has another step,
 *       frames off the new step are dropped from state and the window refills; a grid whose
 *       model was removed has its frames rejected as UNKNOWN_GRID.
 * </ul>
 */
public class FrameWindowFunction extends KeyedBroadcastProcessFunction<String, Frame, ModelCatalog, FrameWindow> {
  private static final long serialVersionUID = 1L;

  private ModelCatalog models;
  private final long allowedLatenessMillis;
  private final StageProbe probe;

  private transient MapState<Long, Frame> frames;
  private transient ValueState<Long> newest;
  private transient Counter windowsCompleted;
  private transient Counter gaps;
  private transient Counter duplicates;
  private transient Counter outOfOrder;
  private transient Counter late;
  private transient Counter internalErrors;
  private transient Counter unknownGrid;

  public FrameWindowFunction(ModelCatalog models, long allowedLatenessMillis, StageProbe probe) {
    this.models = models;
    this.allowedLatenessMillis = allowedLatenessMillis;
    this.probe = probe;
  }

  @Override
  public void open(OpenContext ctx) {
    frames = getRuntimeContext().getMapState(
        new MapStateDescriptor<>("frames", Types.LONG, TypeInformation.of(Frame.class)));
    newest = getRuntimeContext().getState(new ValueStateDescriptor<>("newest", Types.LONG));
    windowsCompleted = getRuntimeContext().getMetricGroup().counter("windowsCompleted");
    gaps = getRuntimeContext().getMetricGroup().counter("gaps");
    duplicates = getRuntimeContext().getMetricGroup().counter("duplicates");
    outOfOrder = getRuntimeContext().getMetricGroup().counter("outOfOrderSlotted");
    late = RejectMetrics.counter(getRuntimeContext().getMetricGroup(), Reason.LATE);
    internalErrors = RejectMetrics.counter(getRuntimeContext().getMetricGroup(), Reason.INTERNAL_ERROR);
    unknownGrid = RejectMetrics.counter(getRuntimeContext().getMetricGroup(), Reason.UNKNOWN_GRID);
  }

  @Override
  public void processBroadcastElement(ModelCatalog catalog, Context ctx, Collector<FrameWindow> out) throws Exception {
    models = ModelUpdates.store(catalog, ctx.getBroadcastState(ModelUpdates.STATE));
  }

  /** Frames kept behind the newest one: alpha - 1 for the window plus L for lateness. */
  public static int retainedSteps(ModelSpec spec, long allowedLatenessMillis) {
    long lateSteps = (allowedLatenessMillis + spec.stepMillis - 1) / spec.stepMillis;
    return (int) (spec.alpha - 1 + lateSteps);
  }

  @Override
  public void processElement(Frame frame, ReadOnlyContext ctx, Collector<FrameWindow> out) throws Exception {
    models = ModelUpdates.newest(models, ctx.getBroadcastState(ModelUpdates.STATE));
    List<FrameWindow> completed;
    try {
      if (probe != null) {
        probe.windowing(frame);
      }
      completed = slotIn(frame, ctx);
    } catch (Exception | Error e) {
      Rejects.rethrowIfFatal(e);
      internalErrors.inc();
      ctx.output(Rejects.TAG, Rejects.ofFrame(Reason.INTERNAL_ERROR, Rejects.describe("windowing the frame", e), frame));
      return;
    }
    // emitted only once the frame is fully handled: an error above leaves no half-emitted windows
    for (FrameWindow w : completed) {
      out.collect(w);
      windowsCompleted.inc();
    }
  }

  /** Puts the frame in the grid's state; returns the windows it completes (or rejects it as LATE). */
  private List<FrameWindow> slotIn(Frame frame, ReadOnlyContext ctx) throws Exception {
    List<FrameWindow> completed = new ArrayList<>();
    ModelSpec spec = models.forGrid(frame.gridId);
    if (spec == null) { // validated under a model that has since been removed from the directory
      unknownGrid.inc();
      ctx.output(Rejects.TAG, Rejects.ofFrame(Reason.UNKNOWN_GRID, "no model serves grid '" + frame.gridId
          + "' any more (its model was removed from the model directory)", frame));
      return completed;
    }
    long step = spec.stepMillis;
    long t = frame.validTime;
    Long top = newest.value();

    if (top != null && t < top - allowedLatenessMillis) {
      late.inc();
      ctx.output(Rejects.TAG, Rejects.ofFrame(Reason.LATE, "valid time " + Instant.ofEpochMilli(t) + " is more than "
          + allowedLatenessMillis / 60_000 + " minutes older than the grid's newest frame "
          + Instant.ofEpochMilli(top) + " (stream.allowed-lateness)", frame));
      return completed;
    }
    boolean duplicate = frames.contains(t);
    frames.put(t, frame);
    if (duplicate) {
      duplicates.inc();
      return completed;
    }
    if (top == null || t > top) {
      top = t;
      newest.update(t);
    } else {
      outOfOrder.inc();
    }
    // a gap is declared if the next frame has not come once the watermark passes its lateness
    ctx.timerService().registerEventTimeTimer(t + step + allowedLatenessMillis);

    // every window that includes t, ends no later than the newest frame, and is now complete
    for (int k = 0; k < spec.alpha; k++) {
      long end = t + k * step;
      if (end > top) {
        break;
      }
      List<Frame> window = windowEndingAt(end, spec);
      if (window != null) {
        FrameWindow w = FrameWindow.completedBy(frame, end, concat(window, spec));
        w.newestMissing = window.get(window.size() - 1).missing;
        completed.add(w);
      }
    }
    evict(top - (long) retainedSteps(spec, allowedLatenessMillis) * step, step);
    return completed;
  }

  private List<Frame> windowEndingAt(long end, ModelSpec spec) throws Exception {
    List<Frame> w = new ArrayList<>(spec.alpha);
    for (int i = spec.alpha - 1; i >= 0; i--) {
      Frame f = frames.get(end - i * spec.stepMillis);
      if (f == null) {
        return null;
      }
      w.add(f);
    }
    return w;
  }

  private static float[] concat(List<Frame> w, ModelSpec spec) {
    int cells = spec.cells();
    float[] values = new float[spec.alpha * cells];
    for (int i = 0; i < w.size(); i++) {
      System.arraycopy(w.get(i).values, 0, values, i * cells, cells);
    }
    return values;
  }

  /** Drops frames older than {@code oldestKept}, and those off the model's step (after a model with another step). */
  private void evict(long oldestKept, long step) throws Exception {
    List<Long> old = new ArrayList<>();
    for (Long k : frames.keys()) {
      if (k < oldestKept || Math.floorMod(k, step) != 0) {
        old.add(k);
      }
    }
    for (Long k : old) {
      frames.remove(k);
    }
  }

  @Override
  public void onTimer(long timestamp, OnTimerContext ctx, Collector<FrameWindow> out) throws Exception {
    if (ctx.timerService().currentWatermark() == Long.MAX_VALUE) {
      return; // end of a bounded input: nothing more will come, that is not a gap
    }
    models = ModelUpdates.newest(models, ctx.getBroadcastState(ModelUpdates.STATE));
    ModelSpec spec = models.forGrid(ctx.getCurrentKey());
    if (spec == null) {
      return; // the grid is no longer served
    }
    long expected = timestamp - allowedLatenessMillis;
    Long top = newest.value();
    if (top != null && top >= expected && !frames.contains(expected)
        && expected >= top - (long) retainedSteps(spec, allowedLatenessMillis) * spec.stepMillis) {
      gaps.inc();
    } else if (top != null && top < expected) {
      gaps.inc(); // nothing newer has come at all: the grid's stream has a gap (or stalled)
    }
  }

  /** Gaps counted so far by this instance (tests). */
  long gapCount() {
    return gaps.getCount();
  }

  /** Number of frames held for the current key (tests). */
  int heldFrames() throws Exception {
    int n = 0;
    for (Long ignored : frames.keys()) {
      n++;
    }
    return n;
  }
}

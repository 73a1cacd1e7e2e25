package ai.lsntp.job;

import ai.lsntp.alerts.Alerts;
import ai.lsntp.alerts.SkillDrop;
import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.Verification;
import ai.lsntp.codec.PackedFloats;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Verifies the job's forecasts as the observations arrive: keyed by grid, it holds each forecast
 * and the recent observed frames, and when a forecast lead and the frame observed at its valid
 * time are both there (whichever came second), scores the lead over the frame's valid (unmasked)
 * cells: MAE and RMSE, and the MAE of persistence (the frame observed at the issue time). Each
 * score is one {@link Verification} on the main output.
 *
 * <p>Rolling skill per grid and lead over the last {@code window} of valid times goes to Flink's
 * metrics ({@code grid.<id>.lead.<n>.rollingMae} and {@code rollingSkill}), and the grid's
 * rolling skill over every lead goes to the {@code skill} alert rules ({@link SkillDrop}), whose
 * alerts leave on the {@link Alerts#TAG} side output.
 *
 * <p>State is bounded by event time: a forecast is held until its last lead's valid time plus the
 * allowed lateness, an observed frame until beta steps plus the allowed lateness after its valid
 * time (a forecast that needs it for its leads or for persistence arrives before then), a
 * score's sums until it leaves the rolling window.
 */
public class ForecastVerifier extends KeyedCoProcessFunction<String, Forecast, Frame, Verification> {
  private static final long serialVersionUID = 1L;

  private final long allowedLatenessMillis;
  private final long windowMillis;
  private final SkillDrop skillDrop;

  private transient MapState<Long, Forecast> forecasts;
  private transient MapState<Long, Frame> observed;
  /** valid time * (beta + 1) + lead -> {abs error sum, persistence abs error sum, cells} of one score. */
  private transient MapState<Long, double[]> scores;
  private transient MapState<String, Boolean> raised;
  /** {beta, step in ms} of the grid's forecasts, once one arrived. */
  private transient ValueState<long[]> cadence;
  private transient Counter verified;
  private transient Map<String, double[]> rolling; // grid/lead -> {mae, skill} for the gauges
  private transient MetricGroup metrics;

  /** A lead of one forecast against the frame observed at its valid time. */
  static final class Score {
    final double absSum;
    final double squareSum;
    final double persistenceAbsSum;
    final int cells;

    Score(double absSum, double squareSum, double persistenceAbsSum, int cells) {
      this.absSum = absSum;
      this.squareSum = squareSum;
      this.persistenceAbsSum = persistenceAbsSum;
      this.cells = cells;
    }
  }

  public ForecastVerifier(long allowedLatenessMillis, long windowMillis, SkillDrop skillDrop) {
    this.allowedLatenessMillis = allowedLatenessMillis;
    this.windowMillis = windowMillis;
    this.skillDrop = skillDrop;
  }

  @Override
  public void open(OpenContext ctx) {
    forecasts = getRuntimeContext().getMapState(new MapStateDescriptor<>("forecasts", Types.LONG,
        new org.apache.flink.formats.avro.typeutils.AvroTypeInfo<>(Forecast.class)));
    observed = getRuntimeContext().getMapState(new MapStateDescriptor<>("observed", Types.LONG, TypeInformation.of(Frame.class)));
    scores = getRuntimeContext().getMapState(new MapStateDescriptor<>("scores", Types.LONG,
        org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO));
    raised = getRuntimeContext().getMapState(SkillDrop.RAISED);
    cadence = getRuntimeContext().getState(new ValueStateDescriptor<>("cadence", org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo.LONG_PRIMITIVE_ARRAY_TYPE_INFO));
    metrics = getRuntimeContext().getMetricGroup();
    verified = metrics.counter("verifications");
    rolling = new ConcurrentHashMap<>();
  }

  @Override
  public void processElement1(Forecast f, Context ctx, Collector<Verification> out) throws Exception {
    long issue = f.getIssueTime().toEpochMilli();
    long step = f.getStepMillis();
    forecasts.put(issue, f);
    cadence.update(new long[] {f.getBeta(), step});
    ctx.timerService().registerEventTimeTimer(issue + f.getBeta() * step + allowedLatenessMillis);
    for (int lead = 1; lead <= f.getBeta(); lead++) {
      Frame obs = observed.get(issue + lead * step);
      if (obs != null) {
        verify(f, lead, obs, ctx, out);
      }
    }
  }

  @Override
  public void processElement2(Frame frame, Context ctx, Collector<Verification> out) throws Exception {
    boolean seen = observed.contains(frame.validTime);
    observed.put(frame.validTime, frame);
    if (seen) {
      return; // a correction of a frame already scored against: the scores stand
    }
    // kept for the forecasts that will need it, as a valid time or as their issue time (persistence)
    ctx.timerService().registerEventTimeTimer(frame.validTime + frameHold());
    for (Map.Entry<Long, Forecast> e : forecasts.entries()) {
      Forecast f = e.getValue();
      long lead = (frame.validTime - e.getKey()) / f.getStepMillis();
      if (lead >= 1 && lead <= f.getBeta() && e.getKey() + lead * f.getStepMillis() == frame.validTime) {
        verify(f, (int) lead, frame, ctx, out);
      }
    }
  }

  /**
   * How long after its valid time an observed frame is kept: beta + 1 steps plus the allowed
   * lateness; before the grid's first forecast says its cadence, two days (a bound all the same).
   */
  private long frameHold() throws Exception {
    long[] c = cadence.value();
    return (c == null ? 2 * 86_400_000L : (c[0] + 1) * c[1]) + allowedLatenessMillis;
  }

  private void verify(Forecast f, int lead, Frame obs, Context ctx, Collector<Verification> out) throws Exception {
    int cells = f.getHeight() * f.getWidth();
    if (obs.values.length != cells) {
      return; // another grid geometry (a model change): nothing comparable
    }
    float[] values = PackedFloats.decode(f.getValues());
    Frame atIssue = observed.get(f.getIssueTime().toEpochMilli());
    Score s = score(values, (lead - 1) * cells, obs, atIssue);
    if (s.cells == 0) {
      return; // every cell missing: validation rejects such frames, so this cannot happen
    }
    long valid = obs.validTime;
    out.collect(Verification.newBuilder()
        .setGridId(f.getGridId())
        .setModelName(f.getModelName())
        .setModelVersion(f.getModelVersion())
        .setIssueTime(f.getIssueTime())
        .setLead(lead)
        .setValidTime(Instant.ofEpochMilli(valid))
        .setMae(s.absSum / s.cells)
        .setRmse(Math.sqrt(s.squareSum / s.cells))
        .setPersistenceMae(atIssue == null ? null : s.persistenceAbsSum / s.cells)
        .setCells(s.cells)
        .setProducedAt(Instant.now())
        .build());
    verified.inc();
    if (atIssue != null) {
      scores.put(valid * (f.getBeta() + 1) + lead, new double[] {s.absSum, s.persistenceAbsSum, s.cells, valid, lead});
      ctx.timerService().registerEventTimeTimer(valid + windowMillis);
      updateRolling(ctx.getCurrentKey(), f, valid, ctx);
    }
  }

  /** The errors of one lead against one observed frame, over its valid cells; persistence needs the frame at issue time. */
  static Score score(float[] forecast, int offset, Frame obs, Frame atIssue) {
    double abs = 0;
    double sq = 0;
    double pers = 0;
    int n = 0;
    for (int i = 0; i < obs.values.length; i++) {
      if (obs.missing != null && obs.missing[i]) {
        continue;
      }
      double e = forecast[offset + i] - obs.values[i];
      abs += Math.abs(e);
      sq += e * e;
      if (atIssue != null) {
        pers += Math.abs(atIssue.values[i] - obs.values[i]);
      }
      n++;
    }
    return new Score(abs, sq, pers, n);
  }

  /** Rolling MAE and skill per lead (the gauges) and over every lead (the skill rules), from the scores in the window. */
  private void updateRolling(String grid, Forecast f, long now, Context ctx) throws Exception {
    int b = f.getBeta();
    double[] abs = new double[b + 1];
    double[] pers = new double[b + 1];
    double[] cells = new double[b + 1];
    for (double[] s : scores.values()) {
      long valid = (long) s[3];
      int lead = (int) s[4];
      if (valid > now - windowMillis && lead >= 1 && lead <= b) {
        abs[lead] += s[0];
        pers[lead] += s[1];
        cells[lead] += s[2];
        abs[0] += s[0];
        pers[0] += s[1];
        cells[0] += s[2];
      }
    }
    for (int lead = 1; lead <= b; lead++) {
      if (cells[lead] > 0) {
        String key = grid + "/" + lead;
        double[] v = {abs[lead] / cells[lead], pers[lead] > 0 ? 1 - abs[lead] / pers[lead] : Double.NaN};
        if (rolling.put(key, v) == null) {
          MetricGroup g = metrics.addGroup("grid", grid).addGroup("lead", Integer.toString(lead));
          g.gauge("rollingMae", () -> rolling.get(key)[0]);
          g.gauge("rollingSkill", () -> rolling.get(key)[1]);
        }
      }
    }
    if (pers[0] > 0) {
      for (Alert a : skillDrop.judge(1 - abs[0] / pers[0], f, now, raised)) {
        ctx.output(Alerts.TAG, a);
      }
    }
  }

  @Override
  public void onTimer(long timestamp, OnTimerContext ctx, Collector<Verification> out) throws Exception {
    long wm = ctx.timerService().currentWatermark();
    List<Long> old = new ArrayList<>();
    for (Map.Entry<Long, Forecast> e : forecasts.entries()) {
      Forecast f = e.getValue();
      if (e.getKey() + f.getBeta() * f.getStepMillis() + allowedLatenessMillis <= wm) {
        old.add(e.getKey());
      }
    }
    for (Long k : old) {
      forecasts.remove(k);
    }
    long keep = frameHold();
    old.clear();
    for (Long t : observed.keys()) {
      if (t + keep <= wm) {
        old.add(t);
      }
    }
    for (Long t : old) {
      observed.remove(t);
    }
    old.clear();
    for (Map.Entry<Long, double[]> e : scores.entries()) {
      if ((long) e.getValue()[3] + windowMillis <= wm) {
        old.add(e.getKey());
      }
    }
    for (Long k : old) {
      scores.remove(k);
    }
  }

  /** Forecasts held for the current key (tests check the state bound). */
  int heldForecasts() throws Exception {
    int n = 0;
    for (Long ignored : forecasts.keys()) {
      n++;
    }
    return n;
  }

  /** Observed frames held for the current key (tests). */
  int heldFrames() throws Exception {
    int n = 0;
    for (Long ignored : observed.keys()) {
      n++;
    }
    return n;
  }
}

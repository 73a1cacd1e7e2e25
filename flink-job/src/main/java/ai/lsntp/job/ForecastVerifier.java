package ai.lsntp.job;

import ai.lsntp.alerts.Alerts;
import ai.lsntp.alerts.SkillDrop;
import ai.lsntp.avro.Alert;
import ai.lsntp.avro.CalibrationInfo;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.ModelEventKind;
import ai.lsntp.avro.ModelRole;
import ai.lsntp.avro.PromotionEvidence;
import ai.lsntp.avro.Verification;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.calibration.Calibration;
import ai.lsntp.calibration.CalibrationState;
import ai.lsntp.calibration.Calibrator;
import ai.lsntp.calibration.IntervalScores;
import ai.lsntp.codec.PackedFloats;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * Calibrates the job's forecasts and verifies them as the observations arrive. Keyed by grid, it
 * holds each grid's calibration ({@link CalibrationState}), its recent forecasts and observed frames.
 *
 * <p>A forecast's intervals are made from the grid's calibration once every verified lead whose
 * valid time is at or before its issue time has been folded in, in order of valid time (then lead):
 * a verified lead waits in {@code pending} until a forecast issued at or after its valid time comes,
 * or the watermark passes that valid time. A forecast brings the frame observed at its issue time
 * with it (its window's newest, {@link WindowForecast#newest}), so those leads are there whichever
 * input the verifier hears from first. Each forecast's intervals thus depend only on the forecasts
 * and frames up to its issue time, never on how far the frames ran ahead: a run restored from a
 * checkpoint, or an offline replay (./lsntp score), makes the same intervals as one that never
 * stopped (on a gap-free stream; a frame that arrives after a later forecast is folded in late).
 * The calibrated forecast is the main output (to the forecasts topic and the alert rules). A
 * grid's calibration starts from the export-time calibration of the model that made its first
 * forecast and starts again from the new model's when a model with another calibration takes over
 * ({@link Calibrator#continues}).
 *
 * <p>When a forecast lead and the frame observed at its valid time are both there (whichever came
 * second), the lead is scored over the frame's valid (unmasked) cells: MAE and RMSE, the MAE of
 * persistence (the frame observed at the issue time), and for the intervals it carried their
 * coverage, width, interval score and CRPS ({@link IntervalScores}); each score is one
 * {@link Verification} on {@link #VERIFICATIONS}. The published intervals' misses then move the
 * calibration ({@link Calibrator#update}, in the order above) when the forecast was calibrated from
 * the state's basis.
 *
 * <p>Rolling skill per grid and lead over the last {@code window} of valid times goes to Flink's
 * metrics ({@code grid.<id>.lead.<n>.rollingMae}, {@code rollingSkill}, and per interval level
 * {@code grid.<id>.lead.<n>.level.<pct>.rollingCoverage}), and the grid's rolling skill over every
 * lead goes to the {@code skill} alert rules ({@link SkillDrop}), whose alerts leave on the
 * {@link Alerts#TAG} side output.
 *
 * <p>State is bounded: a forecast is held until every lead of it has been scored and folded into
 * the calibration, and in any case no longer than its last lead's valid time plus the allowed
 * lateness in event time (so a grid's held forecasts do not pile up while another grid's backlog
 * holds the watermark back); an observed frame until beta steps plus the allowed lateness after its valid
 * time (a forecast that needs it for its leads or for persistence arrives before then), a
 * score's sums until it leaves the rolling window; the calibration is one per grid.
 *
 * <p>With {@code verify} off (verification.enabled: false) it holds nothing but the calibration,
 * which then stays the export-time one.
 *
 * <p><b>Challengers.</b> A forecast that brings its grid's challengers' forecasts of the same window
 * ({@link WindowForecast#challengers}) has them verified lead by lead like its own, as
 * {@link Verification}s with role CHALLENGER and their slot, never published; per model rolling
 * metrics go to {@code grid.<id>.model.<slot>.lead.<n>.rollingMae}, {@code rollingSkill},
 * {@code rollingVerified}. Which of the grid's models is published is this stage's keyed state
 * ({@code serving-slot}; the grid folder's own model until a promotion): exactly one forecast per
 * issue time leaves, and alerts and intervals follow it alone.
 *
 * <p><b>Promotion.</b> Where the grid's policy ({@link PromotionRule}) is not off, each issue time
 * whose every lead is verified for both the serving model and a challenger adds one paired
 * difference (challenger MAE minus serving MAE over the leads) to that challenger's evidence,
 * keyed state checkpointed with the rest. Under the automatic policy the rule is judged at each
 * new difference; when it holds, a pending promotion is kept that takes effect at the issue time
 * {@code beta} steps after the newest issue time of the evidence: the frame that completed the
 * evidence is the newest frame of that issue time's window, so no forecast of it or later was
 * published yet, whichever input this stage heard from first (on an in-order stream). The same
 * inputs thus give the same decision and the same switch point in a run resumed from a checkpoint.
 * The switch emits PROMOTED and DEMOTED {@link ModelEvent}s with the evidence on
 * {@link #MODEL_EVENTS}; the demoted model stays on as a challenger and every evidence starts again
 * (it was paired with the model that served).
 */
public class ForecastVerifier extends KeyedCoProcessFunction<String, WindowForecast, Frame, WindowForecast> {
  private static final long serialVersionUID = 2L;
  /** The verification records. */
  public static final OutputTag<Verification> VERIFICATIONS =
      new OutputTag<>("verifications", new AvroTypeInfo<>(Verification.class));
  /** The calibration state's name in the keyed state (tests read it). */
  static final String CALIBRATION = "calibration";
  /** Promotions and demotions (to the model-events topic). */
  public static final OutputTag<ModelEvent> MODEL_EVENTS =
      new OutputTag<>("promotion-events", new AvroTypeInfo<>(ModelEvent.class));
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ForecastVerifier.class);

  private final long allowedLatenessMillis;
  private final long windowMillis;
  private final SkillDrop skillDrop;
  /** The configured central levels, increasing; empty: no intervals. */
  private final double[] levels;
  private final boolean verify;
  private final StageProbe probe;
  private final PromotionRule promotion;

  private transient MapState<Long, Forecast> forecasts;
  /** The newest issue time published (forecasts leave {@link #forecasts} once verified). */
  private transient ValueState<Long> newestIssue;
  private transient MapState<Long, Frame> observed;
  /**
   * valid time * (beta + 1) + lead -> {abs error sum, persistence abs error sum, cells, valid time,
   * lead, cells inside the interval of each level...} of one score.
   */
  private transient MapState<Long, double[]> scores;
  private transient MapState<String, Boolean> raised;
  /** {beta, step in ms} of the grid's forecasts, once one arrived. */
  private transient ValueState<long[]> cadence;
  private transient ValueState<CalibrationState> calibration;
  /** Verified leads not yet folded into the calibration: valid time * 1024 + lead (so they sort by valid time, then lead). */
  private transient MapState<Long, Boolean> pending;
  private transient Counter verified;
  private transient Counter calibrationStarts;
  private transient Map<String, double[]> rolling; // grid/lead -> {mae, skill, coverage per level...} for the gauges
  private transient MetricGroup metrics;
  /** "issue|slot" -> a challenger's forecast (the published one is in {@code forecasts}). */
  private transient MapState<String, Forecast> challengerForecasts;
  /** issue time -> the slot whose forecast was published, for grids with challengers. */
  private transient MapState<Long, String> servedSlot;
  /** "slot|valid|lead" -> {abs error sum, persistence abs error sum, cells, valid time, lead}: per model rolling scores. */
  private transient MapState<String, double[]> modelScores;
  /** "issue|slot" -> {abs error sum, cells, leads verified}: one model's issue time on the way to being paired. */
  private transient MapState<String, double[]> paired;
  /** challenger slot -> its evidence, {issue time, MAE difference} pairs in issue-time order. */
  private transient MapState<String, double[]> evidence;
  /** The slot published for this grid (null: the grid folder's own model). */
  private transient ValueState<String> serving;
  private transient ValueState<PendingPromotion> promotionPending;
  /** Whether this grid has had challengers (only then are per model scores kept). */
  private transient ValueState<Boolean> league;
  private transient Counter promotions;

  public ForecastVerifier(long allowedLatenessMillis, long windowMillis, SkillDrop skillDrop, double[] levels,
      boolean verify) {
    this(allowedLatenessMillis, windowMillis, skillDrop, levels, verify, null);
  }

  /** @param probe a test hook called for each forecast before it is calibrated (null in production) */
  public ForecastVerifier(long allowedLatenessMillis, long windowMillis, SkillDrop skillDrop, double[] levels,
      boolean verify, StageProbe probe) {
    this(allowedLatenessMillis, windowMillis, skillDrop, levels, verify, probe, PromotionRule.off());
  }

  /** @param promotion when a challenger replaces its grid's model */
  public ForecastVerifier(long allowedLatenessMillis, long windowMillis, SkillDrop skillDrop, double[] levels,
      boolean verify, StageProbe probe, PromotionRule promotion) {
    this.probe = probe;
    this.promotion = promotion;
    this.allowedLatenessMillis = allowedLatenessMillis;
    this.windowMillis = windowMillis;
    this.skillDrop = skillDrop;
    this.levels = levels.clone();
    this.verify = verify;
  }

  @Override
  public void open(OpenContext ctx) {
    forecasts = getRuntimeContext().getMapState(new MapStateDescriptor<>("forecasts", Types.LONG,
        new AvroTypeInfo<>(Forecast.class)));
    newestIssue = getRuntimeContext().getState(new ValueStateDescriptor<>("newest-issue", Types.LONG));
    observed = getRuntimeContext().getMapState(new MapStateDescriptor<>("observed", Types.LONG, TypeInformation.of(Frame.class)));
    scores = getRuntimeContext().getMapState(new MapStateDescriptor<>("scores", Types.LONG,
        PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO));
    raised = getRuntimeContext().getMapState(SkillDrop.RAISED);
    cadence = getRuntimeContext().getState(new ValueStateDescriptor<>("cadence", PrimitiveArrayTypeInfo.LONG_PRIMITIVE_ARRAY_TYPE_INFO));
    calibration = getRuntimeContext().getState(new ValueStateDescriptor<>(CALIBRATION,
        TypeInformation.of(CalibrationState.class)));
    pending = getRuntimeContext().getMapState(new MapStateDescriptor<>("calibration-pending", Types.LONG, Types.BOOLEAN));
    metrics = getRuntimeContext().getMetricGroup();
    verified = metrics.counter("verifications");
    calibrationStarts = metrics.counter("calibrationStarts");
    rolling = new ConcurrentHashMap<>();
    challengerForecasts = getRuntimeContext().getMapState(new MapStateDescriptor<>("challenger-forecasts", Types.STRING,
        new AvroTypeInfo<>(Forecast.class)));
    servedSlot = getRuntimeContext().getMapState(new MapStateDescriptor<>("served-slot", Types.LONG, Types.STRING));
    modelScores = getRuntimeContext().getMapState(new MapStateDescriptor<>("model-scores", Types.STRING,
        PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO));
    paired = getRuntimeContext().getMapState(new MapStateDescriptor<>("paired", Types.STRING,
        PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO));
    evidence = getRuntimeContext().getMapState(new MapStateDescriptor<>(EVIDENCE, Types.STRING,
        PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO));
    serving = getRuntimeContext().getState(new ValueStateDescriptor<>(SERVING, Types.STRING));
    promotionPending = getRuntimeContext().getState(new ValueStateDescriptor<>(PENDING,
        TypeInformation.of(PendingPromotion.class)));
    league = getRuntimeContext().getState(new ValueStateDescriptor<>("league", Types.BOOLEAN));
    promotions = metrics.counter("promotions");
  }

  static final String EVIDENCE = "promotion-evidence";
  static final String SERVING = "serving-slot";
  static final String PENDING = "promotion-pending";

  /** A promotion decided, waiting for its issue time. */
  public static class PendingPromotion {
    public String slot;
    public long effectiveFrom;
    public String policy;
    public int n;
    public double meanDifference;
    public double low = Double.NaN;
    public double high = Double.NaN;
    public String why;

    public PendingPromotion() {}
  }

  @Override
  public void processElement1(WindowForecast w, Context ctx, Collector<WindowForecast> out) throws Exception {
    Forecast f = w.forecast;
    if (probe != null) {
      probe.calibrating(f);
    }
    long issue = f.getIssueTime().toEpochMilli();
    if (verify) {
      if (w.newestFrame != null) {
        observe(w.newest(), ctx); // the leads the issue-time frame verifies
      }
      foldIn(issue);
      choose(w, issue, ctx); // which of the grid's models is published for this issue time
      f = w.forecast;
    }
    if (levels.length > 0 && w.calibration != null) {
      calibrate(w, ctx);
    }
    WindowForecast.Contender[] others = w.challengers;
    w.challengers = new WindowForecast.Contender[0]; // the challengers go no further than this stage
    w.calibration = null; // needed no further
    out.collect(w);
    if (!verify) {
      return;
    }
    if (others.length > 0 || !ModelCatalog.DEFAULT_SLOT.equals(w.slot)) {
      league.update(Boolean.TRUE);
      servedSlot.put(issue, w.slot);
    }
    long step = f.getStepMillis();
    forecasts.put(issue, f);
    if (newestIssue.value() == null || newestIssue.value() < issue) {
      newestIssue.update(issue);
    }
    cadence.update(new long[] {f.getBeta(), step});
    ctx.timerService().registerEventTimeTimer(issue + f.getBeta() * step + allowedLatenessMillis);
    for (int lead = 1; lead <= f.getBeta(); lead++) {
      Frame obs = observed.get(issue + lead * step);
      if (obs != null) {
        verify(f, lead, obs, ctx, w.slot, true);
      }
    }
    dropDone(List.of(issue));
    for (WindowForecast.Contender c : others) {
      Forecast cf = c.forecast;
      challengerForecasts.put(issue + "|" + c.slot, cf);
      for (int lead = 1; lead <= cf.getBeta(); lead++) {
        Frame obs = observed.get(issue + lead * cf.getStepMillis());
        if (obs != null) {
          verify(cf, lead, obs, ctx, c.slot, false);
        }
      }
    }
  }

  /**
   * Makes {@code w} carry the forecast of the model that serves its grid now: the grid folder's own
   * model unless a promotion chose another; a pending promotion whose issue time has come takes
   * effect first (PROMOTED and DEMOTED events). The other forecasts stay in {@link WindowForecast#challengers}.
   */
  private void choose(WindowForecast w, long issue, Context ctx) throws Exception {
    String current = servingSlot();
    PendingPromotion p = promotionPending.value();
    if (p != null && issue >= p.effectiveFrom) {
      promotionPending.clear();
      WindowForecast.Contender promoted = contender(w, p.slot);
      WindowForecast.Contender demoted = contender(w, current);
      if (promoted == null) {
        event(ctx, ModelEventKind.REFUSED, w.forecast.getGridId(), null, p.slot, null, "promotion of challenger '" + p.slot
            + "' abandoned: it made no forecast of the window issued at " + Instant.ofEpochMilli(issue)
            + " (removed or failing); " + current + " keeps serving", p, issue, null);
      } else {
        serving.update(ModelCatalog.DEFAULT_SLOT.equals(p.slot) ? null : p.slot);
        evidence.clear(); // every evidence was paired with the model that served until now
        paired.clear();
        promotions.inc();
        String was = demoted == null ? null : demoted.forecast.getModelVersion();
        event(ctx, ModelEventKind.PROMOTED, w.forecast.getGridId(), promoted, p.slot, "champion",
            "serves from the window issued at " + Instant.ofEpochMilli(issue) + " (" + p.policy + "): " + p.why, p, issue,
            was);
        event(ctx, ModelEventKind.DEMOTED, w.forecast.getGridId(), demoted, current, "challenger",
            "replaced by challenger '" + p.slot + "' (" + promoted.forecast.getModelVersion() + "); scored on as a challenger",
            p, issue, was);
        current = p.slot;
      }
    }
    if (current.equals(w.slot)) {
      return;
    }
    WindowForecast.Contender chosen = contender(w, current);
    if (chosen == null) {
      // the serving challenger made no forecast of this window (removed, or it failed): the grid
      // folder's model's is published, so no issue time goes without a forecast
      LOG.warn("grid {}: the serving model '{}' made no forecast issued at {}; {}'s is published", w.forecast.getGridId(),
          current, Instant.ofEpochMilli(issue), w.slot);
      return;
    }
    List<WindowForecast.Contender> others = new ArrayList<>();
    WindowForecast.Contender own = new WindowForecast.Contender();
    own.slot = w.slot;
    own.modelPath = w.modelPath;
    own.forecast = w.forecast;
    own.calibration = w.calibration;
    others.add(own);
    for (WindowForecast.Contender c : w.challengers) {
      if (c != chosen) {
        others.add(c);
      }
    }
    w.challengers = others.toArray(new WindowForecast.Contender[0]);
    w.forecast = chosen.forecast;
    w.calibration = chosen.calibration;
    w.slot = chosen.slot;
    w.modelPath = chosen.modelPath;
  }

  /** The model of slot {@code slot} among those that forecast {@code w}, or null. */
  private static WindowForecast.Contender contender(WindowForecast w, String slot) {
    if (slot.equals(w.slot)) {
      WindowForecast.Contender own = new WindowForecast.Contender();
      own.slot = w.slot;
      own.modelPath = w.modelPath;
      own.forecast = w.forecast;
      own.calibration = w.calibration;
      return own;
    }
    for (WindowForecast.Contender c : w.challengers) {
      if (c.slot.equals(slot)) {
        return c;
      }
    }
    return null;
  }

  private String servingSlot() throws Exception {
    String s = serving.value();
    return s == null ? ModelCatalog.DEFAULT_SLOT : s;
  }

  /** The slot published for {@code issue} (the grid folder's model when not recorded). */
  private String servedAt(long issue) throws Exception {
    String s = servedSlot.get(issue);
    return s == null ? ModelCatalog.DEFAULT_SLOT : s;
  }

  /** @param oldVersion the version that served the grid before (PROMOTED, DEMOTED) */
  private void event(Context ctx, ModelEventKind kind, String grid, WindowForecast.Contender model, String slot,
      String role, String reason, PendingPromotion p, long issue, String oldVersion) {
    LsntpConfigPromotionView c = new LsntpConfigPromotionView(promotion);
    ModelEvent e = ModelEvent.newBuilder()
        .setKind(kind)
        .setGridId(grid)
        .setModelPath(model == null || model.modelPath == null ? "" : model.modelPath)
        .setModelName(model == null ? null : model.forecast.getModelName())
        .setNewVersion(model == null ? null : model.forecast.getModelVersion())
        .setOldVersion(oldVersion)
        .setSlot(slot)
        .setRole(role)
        .setReason(reason)
        .setAt(Instant.now())
        .setEvidence(PromotionEvidence.newBuilder()
            .setPolicy(p.policy)
            .setIssueTimes(p.n)
            .setMeanDifference(p.meanDifference)
            .setIntervalLow(Double.isNaN(p.low) ? null : p.low)
            .setIntervalHigh(Double.isNaN(p.high) ? null : p.high)
            .setMargin(c.margin)
            .setBlockLength(c.block)
            .setResamples(c.resamples)
            .setSeed(c.seed)
            .setEffectiveFrom(Instant.ofEpochMilli(kind == ModelEventKind.REFUSED ? p.effectiveFrom : issue))
            .build())
        .build();
    LOG.info("grid {}: {} {} ({}): {}", grid, kind, slot, e.getNewVersion(), reason);
    ctx.output(MODEL_EVENTS, e);
  }

  /** The promotion settings an event reports. */
  private record LsntpConfigPromotionView(double margin, int block, int resamples, long seed) {
    LsntpConfigPromotionView(PromotionRule r) {
      this(r.settings().marginK, r.settings().blockLength, r.settings().resamples, r.settings().seed);
    }
  }

  /** The forecast's intervals from the grid's calibration, which starts (again) from the model's where it must. */
  private void calibrate(WindowForecast w, Context ctx) throws Exception {
    Forecast f = w.forecast;
    Calibration model = w.calibration;
    CalibrationState s = calibration.value();
    if (!Calibrator.continues(s, model, levels) || s.beta != f.getBeta() || s.cells != f.getHeight() * f.getWidth()) {
      s = Calibrator.start(model, levels, f.getIssueTime().toEpochMilli());
      calibration.update(s);
      calibrationStarts.inc();
    }
    float[] point = PackedFloats.decode(f.getValues());
    List<Double> ql = new ArrayList<>();
    for (double l : Calibrator.quantileLevels(levels)) {
      ql.add(l);
    }
    f.setQuantileLevels(ql);
    f.setQuantiles(PackedFloats.encode(Calibrator.quantiles(s, point)));
    f.setCalibration(CalibrationInfo.newBuilder().setMethod(s.method).setBasis(s.basis)
        .setSince(Instant.ofEpochMilli(s.since)).setUpdates(s.updates).build());
  }

  @Override
  public void processElement2(Frame frame, Context ctx, Collector<WindowForecast> out) throws Exception {
    if (frame.promote != null) {
      requested(frame.gridId, frame.promote, ctx);
      return;
    }
    if (verify) {
      observe(frame, ctx);
    }
  }

  /** A frame observed: kept, and every held forecast lead valid at its time scored (once: a correction changes no score). */
  private void observe(Frame frame, Context ctx) throws Exception {
    boolean seen = observed.contains(frame.validTime);
    observed.put(frame.validTime, frame);
    if (seen) {
      return; // a correction of a frame already scored against: the scores stand
    }
    // kept for the forecasts that will need it, as a valid time or as their issue time (persistence)
    ctx.timerService().registerEventTimeTimer(frame.validTime + frameHold());
    List<Long> scored = new ArrayList<>();
    for (Map.Entry<Long, Forecast> e : forecasts.entries()) {
      Forecast f = e.getValue();
      long lead = (frame.validTime - e.getKey()) / f.getStepMillis();
      if (lead >= 1 && lead <= f.getBeta() && e.getKey() + lead * f.getStepMillis() == frame.validTime) {
        verify(f, (int) lead, frame, ctx, servedAt(e.getKey()), true);
        scored.add(e.getKey());
      }
    }
    dropDone(scored);
    List<Map.Entry<String, Forecast>> shadows = new ArrayList<>();
    for (Map.Entry<String, Forecast> e : challengerForecasts.entries()) {
      shadows.add(Map.entry(e.getKey(), e.getValue()));
    }
    shadows.sort(Map.Entry.comparingByKey()); // one order, whatever the state backend's
    for (Map.Entry<String, Forecast> e : shadows) {
      Forecast f = e.getValue();
      long issue = f.getIssueTime().toEpochMilli();
      long lead = (frame.validTime - issue) / f.getStepMillis();
      if (lead >= 1 && lead <= f.getBeta() && issue + lead * f.getStepMillis() == frame.validTime) {
        verify(f, (int) lead, frame, ctx, e.getKey().substring(e.getKey().indexOf('|') + 1), false);
      }
    }
  }

  /**
   * The newest issue time published so far (Long.MIN_VALUE before the first): recorded apart from
   * the held forecasts, which go once verified (a checkpoint written before it existed: the held ones).
   */
  private long newestPublished() throws Exception {
    long newest = newestIssue.value() == null ? Long.MIN_VALUE : newestIssue.value();
    for (Long t : forecasts.keys()) {
      newest = Math.max(newest, t);
    }
    return newest;
  }

  /**
   * Drops the forecasts among {@code issues} that nothing needs any more: every lead scored (its
   * frame observed: a frame scores each held lead when it comes, and a forecast the frames already
   * held when it comes) and none waiting to be folded into the calibration. Challengers' forecasts
   * stay until the watermark lets them go (they also say which challengers run).
   */
  private void dropDone(List<Long> issues) throws Exception {
    for (long issue : issues) {
      Forecast f = forecasts.get(issue);
      if (f == null) {
        continue;
      }
      boolean done = true;
      for (int lead = 1; lead <= f.getBeta() && done; lead++) {
        long valid = issue + lead * f.getStepMillis();
        done = observed.contains(valid) && !pending.contains(valid * 1024 + lead);
      }
      if (done) {
        forecasts.remove(issue);
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

  /** @param slot which of the grid's models made {@code f}; {@code published}: whether it went to the forecasts topic */
  private void verify(Forecast f, int lead, Frame obs, Context ctx, String slot, boolean published) throws Exception {
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
    Verification.Builder v = Verification.newBuilder()
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
        .setRole(published ? ModelRole.CHAMPION : ModelRole.CHALLENGER)
        .setSlot(slot)
        .setProducedAt(Instant.now());
    IntervalScores intervals = null;
    double[] forecastLevels = centralLevels(f);
    if (forecastLevels.length > 0) {
      intervals = IntervalScores.of(forecastLevels, 1, cells, 1, Arrays.copyOfRange(values, (lead - 1) * cells,
          lead * cells), leadQuantiles(f, lead, cells), obs.values, obs.missing);
      List<Double> ls = new ArrayList<>();
      List<Double> coverage = new ArrayList<>();
      List<Double> width = new ArrayList<>();
      List<Double> score = new ArrayList<>();
      for (int j = 0; j < forecastLevels.length; j++) {
        ls.add(forecastLevels[j]);
        coverage.add(intervals.coverage(j));
        width.add(intervals.meanWidth(j));
        score.add(intervals.intervalScore(j));
      }
      v.setIntervalLevels(ls).setCoverage(coverage).setMeanWidth(width).setIntervalScore(score).setCrps(intervals.crps());
      if (published) {
        pending.put(valid * 1024 + lead, Boolean.TRUE);
        ctx.timerService().registerEventTimeTimer(valid); // folded in by then at the latest
      }
    }
    ctx.output(VERIFICATIONS, v.build());
    verified.inc();
    boolean inLeague = Boolean.TRUE.equals(league.value());
    if (inLeague && atIssue != null) {
      modelScores.put(slot + "|" + valid + "|" + lead, new double[] {s.absSum, s.persistenceAbsSum, s.cells, valid, lead});
      ctx.timerService().registerEventTimeTimer(valid + windowMillis);
      updateModelRolling(ctx.getCurrentKey(), slot, f.getBeta(), valid);
    }
    if (inLeague && !PromotionRule.OFF.equals(promotion.policy(f.getGridId()))) {
      pair(f, slot, s, ctx);
    }
    if (published && atIssue != null) {
      double[] entry = new double[5 + levels.length];
      entry[0] = s.absSum;
      entry[1] = s.persistenceAbsSum;
      entry[2] = s.cells;
      entry[3] = valid;
      entry[4] = lead;
      if (intervals != null && intervals.levels.length == levels.length) {
        for (int j = 0; j < levels.length; j++) {
          entry[5 + j] = intervals.inside[j];
        }
      } else {
        Arrays.fill(entry, 5, entry.length, Double.NaN);
      }
      scores.put(valid * (f.getBeta() + 1) + lead, entry);
      ctx.timerService().registerEventTimeTimer(valid + windowMillis);
      updateRolling(ctx.getCurrentKey(), f, valid, ctx);
    }
  }

  /**
   * Folds the pending verified leads valid at or before {@code upTo} into the calibration, in order
   * of valid time then lead; a lead whose forecast or frame is no longer held, or whose forecast was
   * calibrated from another basis (a model since replaced), moves nothing.
   */
  private void foldIn(long upTo) throws Exception {
    List<Long> due = new ArrayList<>();
    for (Long k : pending.keys()) {
      if (Math.floorDiv(k, 1024) <= upTo) {
        due.add(k);
      }
    }
    if (due.isEmpty()) {
      return;
    }
    due.sort(null);
    CalibrationState state = calibration.value();
    long[] c = cadence.value();
    boolean moved = false;
    List<Long> touched = new ArrayList<>();
    for (long k : due) {
      pending.remove(k);
      long valid = Math.floorDiv(k, 1024);
      int lead = (int) Math.floorMod(k, 1024);
      Frame obs = observed.get(valid);
      Forecast f = c == null ? null : forecasts.get(valid - lead * c[1]);
      if (c != null) {
        touched.add(valid - lead * c[1]);
      }
      if (state == null || obs == null || f == null || f.getCalibration() == null
          || !state.basis.equals(f.getCalibration().getBasis()) || !Arrays.equals(state.levels, centralLevels(f))
          || obs.values.length != state.cells) {
        continue;
      }
      moved |= Calibrator.update(state, lead, PackedFloats.decode(f.getValues(), (lead - 1) * state.cells, state.cells), 0,
          leadQuantiles(f, lead, state.cells), state.cells, obs.values, obs.missing);
    }
    if (moved) {
      calibration.update(state);
    }
    dropDone(touched);
  }

  /** Lead {@code lead}'s slice of every quantile plane of a forecast: planes of {@code cells}, in order. */
  static float[] leadQuantiles(Forecast f, int lead, int cells) {
    int planes = f.getQuantileLevels().size();
    float[] out = new float[planes * cells];
    for (int k = 0; k < planes; k++) {
      System.arraycopy(PackedFloats.decode(f.getQuantiles(), (k * f.getBeta() + lead - 1) * cells, cells), 0, out,
          k * cells, cells);
    }
    return out;
  }

  /**
   * The central levels of a forecast's quantiles (the upper half of its quantile levels: (1 + l) / 2
   * -> l, to 1e-9, so that 0.8 reads back as the configured 0.8).
   */
  public static double[] centralLevels(Forecast f) {
    List<Double> q = f.getQuantileLevels();
    if (q == null || q.isEmpty() || f.getQuantiles() == null || !f.getQuantiles().hasRemaining()) {
      return new double[0];
    }
    int n = q.size() / 2;
    double[] out = new double[n];
    for (int j = 0; j < n; j++) {
      out[j] = Math.round((2 * q.get(n + j) - 1) * 1e9) / 1e9;
    }
    return out;
  }

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

  /** Rolling MAE, skill and coverage per lead (the gauges) and skill over every lead (the skill rules), from the scores in the window. */
  private void updateRolling(String grid, Forecast f, long now, Context ctx) throws Exception {
    int b = f.getBeta();
    int n = levels.length;
    double[] abs = new double[b + 1];
    double[] pers = new double[b + 1];
    double[] cells = new double[b + 1];
    double[][] inside = new double[b + 1][n];
    double[] intervalCells = new double[b + 1];
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
        if (s.length == 5 + n && n > 0 && !Double.isNaN(s[5])) {
          for (int j = 0; j < n; j++) {
            inside[lead][j] += s[5 + j];
          }
          intervalCells[lead] += s[2];
        }
      }
    }
    for (int lead = 1; lead <= b; lead++) {
      if (cells[lead] > 0) {
        String key = grid + "/" + lead;
        double[] v = new double[2 + n];
        v[0] = abs[lead] / cells[lead];
        v[1] = pers[lead] > 0 ? 1 - abs[lead] / pers[lead] : Double.NaN;
        for (int j = 0; j < n; j++) {
          v[2 + j] = intervalCells[lead] > 0 ? inside[lead][j] / intervalCells[lead] : Double.NaN;
        }
        if (rolling.put(key, v) == null) {
          MetricGroup g = metrics.addGroup("grid", grid).addGroup("lead", Integer.toString(lead));
          g.gauge("rollingMae", () -> rolling.get(key)[0]);
          g.gauge("rollingSkill", () -> rolling.get(key)[1]);
          for (int j = 0; j < n; j++) {
            int level = j;
            g.addGroup("level", percent(levels[j])).gauge("rollingCoverage", () -> rolling.get(key)[2 + level]);
          }
        }
      }
    }
    if (pers[0] > 0) {
      for (Alert a : skillDrop.judge(1 - abs[0] / pers[0], f, now, raised)) {
        ctx.output(Alerts.TAG, a);
      }
    }
  }

  /**
   * Adds a verified lead to its model's issue time; when every lead of an issue time is verified for
   * both the model that served it and a challenger, and that model still serves, the challenger's
   * MAE minus the served one's joins the challenger's evidence (once per issue time).
   */
  private void pair(Forecast f, String slot, Score s, Context ctx) throws Exception {
    long issue = f.getIssueTime().toEpochMilli();
    String key = issue + "|" + slot;
    double[] a = paired.get(key);
    if (a == null) {
      a = new double[3];
    }
    a[0] += s.absSum;
    a[1] += s.cells;
    a[2] += 1;
    paired.put(key, a);
    if (a[2] < f.getBeta()) {
      return;
    }
    String servedThen = servedAt(issue);
    if (!servedThen.equals(servingSlot())) {
      return; // paired with a model that serves no more: not evidence against today's
    }
    double[] base = slot.equals(servedThen) ? a : paired.get(issue + "|" + servedThen);
    if (base == null || base[2] < f.getBeta()) {
      return;
    }
    List<String> challengers = new ArrayList<>();
    if (slot.equals(servedThen)) {
      String prefix = issue + "|";
      for (String k : paired.keys()) {
        String other = k.substring(k.indexOf('|') + 1);
        if (k.startsWith(prefix) && !other.equals(servedThen)) {
          challengers.add(other);
        }
      }
      challengers.sort(null); // one order, whatever the state backend's
    } else {
      challengers.add(slot);
    }
    for (String c : challengers) {
      double[] x = paired.get(issue + "|" + c);
      if (x != null && x[2] >= f.getBeta()) {
        addEvidence(c, issue, x[0] / x[1] - base[0] / base[1]);
        decide(c, f);
      }
    }
  }

  /** Puts (issue, difference) into the challenger's evidence, in issue-time order, once, keeping the newest max-issue-times. */
  private void addEvidence(String slot, long issue, double difference) throws Exception {
    double[] e = evidence.get(slot);
    java.util.TreeMap<Long, Double> byIssue = new java.util.TreeMap<>();
    if (e != null) {
      for (int i = 0; i + 1 < e.length; i += 2) {
        byIssue.put((long) e[i], e[i + 1]);
      }
    }
    byIssue.put(issue, difference);
    while (byIssue.size() > promotion.settings().maxIssueTimes) {
      byIssue.pollFirstEntry();
    }
    double[] out = new double[2 * byIssue.size()];
    int i = 0;
    for (Map.Entry<Long, Double> x : byIssue.entrySet()) {
      out[i++] = x.getKey();
      out[i++] = x.getValue();
    }
    evidence.put(slot, out);
  }

  /** The evidence of {@code slot}: its differences in issue-time order, and the newest issue time (last element of the pair). */
  double[] differences(String slot) throws Exception {
    double[] e = evidence.get(slot);
    if (e == null) {
      return new double[0];
    }
    double[] d = new double[e.length / 2];
    for (int i = 0; i < d.length; i++) {
      d[i] = e[2 * i + 1];
    }
    return d;
  }

  /** Under the automatic policy, judges a challenger's evidence; a promotion it earns waits for its issue time. */
  private void decide(String slot, Forecast f) throws Exception {
    if (!PromotionRule.AUTOMATIC.equals(promotion.policy(f.getGridId())) || promotionPending.value() != null) {
      return;
    }
    PromotionRule.Evidence ev = promotion.judge(differences(slot));
    if (!ev.promote()) {
      return;
    }
    double[] e = evidence.get(slot);
    long newest = (long) e[e.length - 2];
    long from = newest + f.getBeta() * f.getStepMillis();
    from = Math.max(from, newestPublished() + 1); // never an issue time already published (an out-of-order stream)
    PendingPromotion p = new PendingPromotion();
    p.slot = slot;
    p.effectiveFrom = from;
    p.policy = PromotionRule.AUTOMATIC;
    p.n = ev.n();
    p.meanDifference = ev.meanDifference();
    p.low = ev.low();
    p.high = ev.high();
    p.why = ev.why();
    promotionPending.update(p);
    LOG.info("grid {}: challenger '{}' earned promotion ({}); it serves from the issue time {}", f.getGridId(), slot,
        ev.why(), Instant.ofEpochMilli(from));
  }

  /**
   * An operator's request to promote challenger {@code slot}: refused with a REFUSED event naming the
   * problem (policy off, no such challenger, already serving), else a pending promotion from the
   * next issue time, with the evidence there is (the manual policy decides nothing itself).
   */
  private void requested(String grid, String slot, Context ctx) throws Exception {
    String policy = promotion.policy(grid);
    String current = servingSlot();
    java.util.TreeSet<String> known = new java.util.TreeSet<>();
    long newest = Long.MIN_VALUE;
    for (String k : challengerForecasts.keys()) {
      known.add(k.substring(k.indexOf('|') + 1));
    }
    newest = Math.max(newest, newestPublished());
    String why = PromotionRule.OFF.equals(policy)
        ? "the promotion policy of grid '" + grid + "' is off (set promotion.grids." + grid + ": manual)"
        : slot.equals(current) ? "'" + slot + "' already serves grid '" + grid + "'"
        : !known.contains(slot) ? "grid '" + grid + "' has no challenger '" + slot + "' running (its challengers: "
            + (known.isEmpty() ? "none" : String.join(", ", known)) + ")"
        : null;
    PendingPromotion p = new PendingPromotion();
    p.slot = slot;
    p.policy = PromotionRule.MANUAL;
    p.effectiveFrom = newest == Long.MIN_VALUE ? Long.MIN_VALUE : newest + 1;
    PromotionRule.Evidence ev = promotion.judge(differences(slot));
    p.n = ev.n();
    p.meanDifference = Double.isNaN(ev.meanDifference()) ? 0 : ev.meanDifference();
    p.low = ev.low();
    p.high = ev.high();
    p.why = "requested by an operator; the automatic rule would say: " + ev.why();
    if (why != null) {
      event(ctx, ModelEventKind.REFUSED, grid, null, slot, null, "promotion request refused: " + why, p, p.effectiveFrom,
          null);
      return;
    }
    promotionPending.update(p);
    LOG.info("grid {}: promotion of '{}' requested; it serves from the next issue time", grid, slot);
  }

  /** Rolling MAE, skill and count per lead of one model of the grid (the league table's gauges). */
  private void updateModelRolling(String grid, String slot, int b, long now) throws Exception {
    double[] abs = new double[b + 1];
    double[] pers = new double[b + 1];
    double[] cells = new double[b + 1];
    double[] count = new double[b + 1];
    String prefix = slot + "|";
    for (Map.Entry<String, double[]> e : modelScores.entries()) {
      double[] s = e.getValue();
      int lead = (int) s[4];
      if (e.getKey().startsWith(prefix) && (long) s[3] > now - windowMillis && lead >= 1 && lead <= b) {
        abs[lead] += s[0];
        pers[lead] += s[1];
        cells[lead] += s[2];
        count[lead]++;
      }
    }
    for (int lead = 1; lead <= b; lead++) {
      if (cells[lead] > 0) {
        String key = grid + "/" + slot + "/" + lead;
        double[] v = {abs[lead] / cells[lead], pers[lead] > 0 ? 1 - abs[lead] / pers[lead] : Double.NaN, count[lead]};
        if (rolling.put(key, v) == null) {
          MetricGroup g = metrics.addGroup("grid", grid).addGroup("model", slot).addGroup("lead", Integer.toString(lead));
          g.gauge("rollingMae", () -> rolling.get(key)[0]);
          g.gauge("rollingSkill", () -> rolling.get(key)[1]);
          g.gauge("rollingVerified", () -> rolling.get(key)[2]);
        }
      }
    }
  }

  /** A level as the metrics name it: 0.8 -> "80", 0.975 -> "97.5". */
  static String percent(double level) {
    double p = Math.round(level * 1000) / 10.0;
    return p == Math.rint(p) ? Long.toString((long) p) : String.format(Locale.ROOT, "%.1f", p);
  }

  @Override
  public void onTimer(long timestamp, OnTimerContext ctx, Collector<WindowForecast> out) throws Exception {
    long wm = ctx.timerService().currentWatermark();
    foldIn(wm); // no forecast issued at or before the watermark is still to come: before anything leaves
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
    if (!Boolean.TRUE.equals(league.value())) {
      return;
    }
    long[] c = cadence.value();
    long hold = c == null ? 0 : c[0] * c[1] + allowedLatenessMillis; // a forecast's own hold
    List<String> gone = new ArrayList<>();
    for (String k : challengerForecasts.keys()) {
      if (Long.parseLong(k.substring(0, k.indexOf('|'))) + hold <= wm) {
        gone.add(k);
      }
    }
    gone.forEach(k -> remove(challengerForecasts, k));
    gone.clear();
    for (String k : paired.keys()) {
      if (Long.parseLong(k.substring(0, k.indexOf('|'))) + hold <= wm) {
        gone.add(k);
      }
    }
    gone.forEach(k -> remove(paired, k));
    gone.clear();
    for (Map.Entry<String, double[]> e : modelScores.entries()) {
      if ((long) e.getValue()[3] + windowMillis <= wm) {
        gone.add(e.getKey());
      }
    }
    gone.forEach(k -> remove(modelScores, k));
    old.clear();
    for (Long t : servedSlot.keys()) {
      if (t + hold <= wm) {
        old.add(t);
      }
    }
    for (Long t : old) {
      servedSlot.remove(t);
    }
  }

  private static <V> void remove(MapState<String, V> state, String key) {
    try {
      state.remove(key);
    } catch (Exception e) {
      throw new IllegalStateException("removing " + key + " from keyed state", e);
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

  /** The current key's calibration (tests). */
  CalibrationState calibrationState() throws Exception {
    return calibration.value();
  }
}

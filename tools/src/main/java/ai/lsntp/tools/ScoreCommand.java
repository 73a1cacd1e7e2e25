package ai.lsntp.tools;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.calibration.Calibration;
import ai.lsntp.calibration.CalibrationReplay;
import ai.lsntp.calibration.CalibrationState;
import ai.lsntp.calibration.Calibrator;
import ai.lsntp.calibration.IntervalScores;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.config.UserPaths;
import ai.lsntp.job.Frame;
import ai.lsntp.job.FrameValidator;
import ai.lsntp.job.RawFrame;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelCheck;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.model.OnnxForecaster;
import ai.lsntp.model.Provider;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Scores a model on a frames file offline, with the job's own parts: each frame is checked and its
 * missing cells filled by the job's {@link FrameValidator}, windows of alpha consecutive frames go
 * through the job's {@link OnnxForecaster} in batches, and each lead is compared with the frame
 * observed at its valid time, as the job's online verification does. Per lead: MAE and RMSE over
 * the observed frames' valid cells, and persistence's MAE (the newest input frame held).
 *
 * <p>Intervals: the forecasts' intervals made as the job makes them, by the job's calibration code
 * ({@link CalibrationReplay}) started from the model's export-time calibration at the first
 * forecast, scored per lead (coverage, width, interval score, CRPS from the quantiles) over the
 * windows issued from {@code --burn-in} after the first; beside them, run the same way, the point
 * forecast with a fixed per-lead width and persistence with its error quantiles, both from the
 * validation part (the calibration's references).
 */
@Command(name = "score", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Score a model on a frames file: per-lead MAE and RMSE against the observed frames, and persistence's MAE.",
        "FRAMES is an Avro container file of TemperatureFrame records, or a GRIB/NetCDF file (needs --grid-id)."},
    footer = {"", "Examples:",
        "  ./lsntp score models/era5-uk/model.onnx data/frames/era5-uk-2019-03.avro --start 2019-03-20T00:00Z",
        "  ./lsntp score models/zoo/era5-uk-0p25/convlstm/model.onnx data/raw/era5-t2m-uk-2019-03-01_24-hourly.grib "
            + "--grid-id era5-uk-0p25",
        "", "Exit status: 0 scored; 1 nothing to score or a run-time failure; 2 bad input (model refused, unreadable file)."})
public class ScoreCommand extends ToolCommand {

  @Parameters(index = "0", paramLabel = "MODEL", description = "An exported model (model.onnx with its metadata).")
  Path model;

  @Parameters(index = "1..*", arity = "1..*", paramLabel = "FRAMES", description = "Avro, GRIB or NetCDF frames files.")
  List<Path> frameFiles = new ArrayList<>();

  @Option(names = "--start", paramLabel = "TIME",
      description = "Use frames valid at or after this UTC time (ISO, e.g. 2019-03-20T00:00Z): windows and the observations they are scored on.")
  String start;

  @Option(names = "--end", paramLabel = "TIME", description = "Use frames valid at or before this UTC time.")
  String end;

  @Option(names = "--grid-id", paramLabel = "ID", description = "Grid id for GRIB/NetCDF input (default: the model's grid).")
  String gridId;

  @Option(names = "--variable", paramLabel = "NAME", description = "Temperature variable in GRIB/NetCDF input (default: found by the ingest).")
  String variable;

  @Option(names = "--batch", paramLabel = "N", defaultValue = "16", description = "Windows per ONNX Runtime call (default ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--threads", paramLabel = "N", defaultValue = "1", description = "ONNX Runtime intra-op threads (default ${DEFAULT-VALUE}).")
  int threads;

  @Option(names = "--levels", paramLabel = "L,L", split = ",", defaultValue = "0.8,0.95",
      description = "Central interval levels, as the job's intervals.levels (default ${DEFAULT-VALUE}).")
  double[] levels;

  @Option(names = "--burn-in", paramLabel = "DURATION", defaultValue = "24h",
      description = "Intervals are scored on windows issued this long after the first and later, the calibration's start left out (default ${DEFAULT-VALUE}).")
  String burnIn;

  @Option(names = "--json", paramLabel = "FILE", description = "Also write the scores as JSON.")
  Path json;

  @Option(names = "--python", paramLabel = "PATH", defaultValue = "/usr/bin/python3",
      description = "Python interpreter of the ingest (default ${DEFAULT-VALUE}).")
  String python;

  /** Per-lead sums over every scored window. */
  public static final class Scores {
    public final ModelSpec spec;
    public final double[] absError;
    public final double[] squaredError;
    public final double[] persistenceAbsError;
    public final long[] cells;
    public int windows;
    public Instant firstIssue;
    public Instant lastIssue;
    /** The interval levels scored (empty: none). */
    public final double[] levels;
    /** Per lead (0-based): the job's intervals; the fixed-width and persistence baselines (null where the calibration has no references). */
    public final IntervalScores[] intervals;
    public final IntervalScores[] staticWidth;
    public final IntervalScores[] persistenceQuantiles;
    public int intervalWindows;
    public Instant firstIntervalIssue;
    /** The calibration state at the end, and its size per grid. */
    public CalibrationState state;

    Scores(ModelSpec spec, double[] levels) {
      this.spec = spec;
      this.levels = levels;
      absError = new double[spec.beta];
      squaredError = new double[spec.beta];
      persistenceAbsError = new double[spec.beta];
      cells = new long[spec.beta];
      intervals = new IntervalScores[spec.beta];
      staticWidth = new IntervalScores[spec.beta];
      persistenceQuantiles = new IntervalScores[spec.beta];
      for (int lead = 0; lead < spec.beta; lead++) {
        intervals[lead] = new IntervalScores(levels);
        staticWidth[lead] = new IntervalScores(levels);
        persistenceQuantiles[lead] = new IntervalScores(levels);
      }
    }

    public double mae(int lead) {
      return absError[lead] / cells[lead];
    }

    public double rmse(int lead) {
      return Math.sqrt(squaredError[lead] / cells[lead]);
    }

    public double persistenceMae(int lead) {
      return persistenceAbsError[lead] / cells[lead];
    }
  }

  /** Stand-alone entry point; on a workstation use ./lsntp score. */
  public static void main(String[] args) {
    launch(new ScoreCommand(), args);
  }

  @Override
  protected int run() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (batch < 1) {
      throw ToolException.input("--batch: must be at least 1, got " + batch);
    }
    Path modelFile = UserPaths.input(model);
    try (OnnxForecaster forecaster = checked(modelFile)) {
      return scoreAndPrint(forecaster, modelFile, out, err);
    }
  }

  /** The model's session, checked as the job checks a model before it serves (and then used to score it). */
  private OnnxForecaster checked(Path modelFile) {
    try {
      return ModelCheck.open(modelFile, Provider.CPU, threads);
    } catch (ModelCheck.Refused e) {
      throw ToolException.input(modelFile + ": refused: " + e.getMessage());
    }
  }

  private int scoreAndPrint(OnnxForecaster forecaster, Path modelFile, PrintWriter out, PrintWriter err) throws Exception {
    ModelSpec m = forecaster.spec();
    Instant from = start == null ? null : Times.parse("--start", start);
    Instant to = end == null ? null : Times.parse("--end", end);
    Path tmp = Files.createTempDirectory("lsntp-score-");
    try {
      List<Path> avro = new ArrayList<>();
      for (Path f : frameFiles) {
        Path in = UserPaths.input(f);
        if (FrameFiles.kindOf(in) == FrameFiles.Kind.AVRO) {
          avro.add(in);
        } else {
          err.println("score: ingesting " + in + " with the Python ingest ...");
          avro.add(FrameFiles.ingest(in, gridId != null ? gridId : m.gridId, variable, null, null, from, to, python,
              tmp, err));
        }
      }
      double[] ls = levels == null ? new double[0] : levels.clone();
      for (int j = 0; j < ls.length; j++) {
        if (!(ls[j] >= Calibration.MIN_LEVEL && ls[j] <= Calibration.MAX_LEVEL) || (j > 0 && !(ls[j] > ls[j - 1]))) {
          throw ToolException.input("--levels: increasing central levels within " + Calibration.MIN_LEVEL + ".."
              + Calibration.MAX_LEVEL + " (0.8 for the 80% interval), got " + java.util.Arrays.toString(ls));
        }
      }
      Scores s = score(forecaster, FrameFiles.frames(avro, from, to), batch, err, ls,
          Times.duration("--burn-in", burnIn).toMillis());
      if (s.windows == 0) {
        throw ToolException.failure("no window to score: " + m.gridId + " needs " + m.alpha + " consecutive frames and the "
            + m.beta + " after them (every " + m.stepMillis / 60_000 + " min) within the frames given");
      }
      print(s, modelFile, out);
      if (json != null) {
        Files.writeString(UserPaths.output(json), toJson(s, modelFile), StandardCharsets.UTF_8);
      }
      return 0;
    } finally {
      try (var files = Files.list(tmp)) {
        for (Path p : (Iterable<Path>) files::iterator) {
          Files.deleteIfExists(p);
        }
      }
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * Scores every window of {@code spec.alpha} consecutive frames of the model's grid whose {@code
   * beta} following frames are there too. Frames of other grids are skipped; frames the job would
   * reject are left out, each reason reported once on {@code err}; a later frame of the same valid
   * time replaces an earlier one, as in the job.
   */
  public static Scores score(OnnxForecaster forecaster, Iterable<TemperatureFrame> frames, int batch, PrintWriter err)
      throws Exception {
    return score(forecaster, frames, batch, err, new double[] {0.8, 0.95}, 24 * 3_600_000L);
  }

  /** As {@link #score(OnnxForecaster, Iterable, int, PrintWriter)}, with intervals at {@code levels} scored from {@code burnInMillis} after the first issue. */
  public static Scores score(OnnxForecaster forecaster, Iterable<TemperatureFrame> frames, int batch, PrintWriter err,
      double[] levels, long burnInMillis) throws Exception {
    ModelSpec spec = forecaster.spec();
    FrameValidator validator = new FrameValidator(new ModelCatalog(Map.of(spec.gridId, spec)), Long.MAX_VALUE,
        Long.MAX_VALUE / 4, 0, null);
    RecordCodec<TemperatureFrame> avro = RecordCodec.of(TemperatureFrame.class);
    TreeMap<Long, Frame> byTime = new TreeMap<>();
    Map<String, Integer> rejected = new TreeMap<>();
    int otherGrids = 0;
    long index = 0;
    for (TemperatureFrame tf : frames) {
      index++;
      if (!spec.gridId.equals(tf.getGridId())) {
        otherGrids++;
        continue;
      }
      try {
        Frame f = validator.validate(new RawFrame(null, avro.encode(tf), "file", 0, index, 0L), Long.MAX_VALUE / 4);
        byTime.put(f.validTime, f);
      } catch (FrameValidator.Rejection r) {
        if (rejected.merge(r.reason.name(), 1, Integer::sum) == 1) {
          err.println("score: warning: frame " + index + " left out, " + r.reason + ": " + r.getMessage());
        }
      }
    }
    if (otherGrids > 0) {
      err.println("score: " + otherGrids + " frames of other grids skipped (the model serves " + spec.gridId + ")");
    }
    rejected.forEach((reason, n) -> {
      if (n > 1) {
        err.println("score: " + n + " frames left out in all for " + reason);
      }
    });
    Scores s = new Scores(spec, levels);
    int cells = spec.cells();
    long step = spec.stepMillis;
    // every window the job would forecast (alpha consecutive frames); scored: those whose beta leads are all observed
    List<Long> issuable = new ArrayList<>();
    List<Long> issues = new ArrayList<>();
    for (long t : byTime.keySet()) {
      boolean history = true;
      for (int k = -(spec.alpha - 1); k <= 0 && history; k++) {
        history = byTime.containsKey(t + k * step);
      }
      if (!history) {
        continue;
      }
      issuable.add(t);
      boolean future = true;
      for (int k = 1; k <= spec.beta && future; k++) {
        future = byTime.containsKey(t + k * step);
      }
      if (future) {
        issues.add(t);
      }
    }
    TreeMap<Long, float[]> points = new TreeMap<>();
    for (int b = 0; b < issuable.size(); b += batch) {
      List<Long> part = issuable.subList(b, Math.min(issuable.size(), b + batch));
      List<float[]> windows = new ArrayList<>();
      for (long t : part) {
        float[] w = new float[spec.alpha * cells];
        for (int k = 0; k < spec.alpha; k++) {
          System.arraycopy(byTime.get(t - (spec.alpha - 1 - k) * step).values, 0, w, k * cells, cells);
        }
        windows.add(w);
      }
      float[][] forecasts = forecaster.forecast(windows);
      for (int i = 0; i < part.size(); i++) {
        points.put(part.get(i), forecasts[i]);
      }
    }
    java.util.Set<Long> scored = new java.util.HashSet<>(issues);
    CalibrationReplay replay = levels.length == 0 || points.isEmpty() ? null
        : new CalibrationReplay(spec.calibration, levels, step, points.firstKey(), t -> {
          Frame f = byTime.get(t);
          return f == null ? null : new CalibrationReplay.Observed(f.values, f.missing);
        });
    Baselines baselines = levels.length == 0 ? null : Baselines.of(spec.calibration, levels);
    long intervalsFrom = points.isEmpty() ? 0 : points.firstKey() + burnInMillis;
    for (Map.Entry<Long, float[]> e : points.entrySet()) {
      long t = e.getKey();
      float[] point = e.getValue();
      float[] quantiles = replay == null ? null : replay.forecast(t, point);
      if (!scored.contains(t)) {
        continue;
      }
      float[] last = byTime.get(t).values;
      boolean intervalsScored = quantiles != null && t >= intervalsFrom;
      float[] fixed = intervalsScored && baselines != null ? baselines.fixedWidth(point, spec.beta, cells) : null;
      float[][] pers = intervalsScored && baselines != null ? baselines.persistence(last, spec.beta, cells) : null;
      for (int lead = 0; lead < spec.beta; lead++) {
        Frame obs = byTime.get(t + (lead + 1) * step);
        for (int c = 0; c < cells; c++) {
          if (obs.missing != null && obs.missing[c]) {
            continue; // a filled cell is not an observation
          }
          double err1 = point[lead * cells + c] - obs.values[c];
          s.absError[lead] += Math.abs(err1);
          s.squaredError[lead] += err1 * err1;
          s.persistenceAbsError[lead] += Math.abs(last[c] - obs.values[c]);
          s.cells[lead]++;
        }
        if (intervalsScored) {
          s.intervals[lead].add(spec.beta, cells, lead + 1, point, quantiles, obs.values, obs.missing);
          if (fixed != null) {
            s.staticWidth[lead].add(spec.beta, cells, lead + 1, point, fixed, obs.values, obs.missing);
            s.persistenceQuantiles[lead].add(spec.beta, cells, lead + 1, pers[0], pers[1], obs.values, obs.missing);
          }
        }
      }
      s.windows++;
      if (intervalsScored) {
        s.intervalWindows++;
        if (s.firstIntervalIssue == null) {
          s.firstIntervalIssue = Instant.ofEpochMilli(t);
        }
      }
    }
    if (!issues.isEmpty()) {
      s.firstIssue = Instant.ofEpochMilli(issues.get(0));
      s.lastIssue = Instant.ofEpochMilli(issues.get(issues.size() - 1));
    }
    if (baselines == null) {
      java.util.Arrays.fill(s.staticWidth, null);
      java.util.Arrays.fill(s.persistenceQuantiles, null);
    }
    s.state = replay == null ? null : replay.state();
    return s;
  }

  /**
   * The two baselines' quantiles at the scored levels from the calibration's references (the
   * validation part): the point forecast +- a fixed half-width per lead and level; persistence
   * plus its error quantiles per lead (its median error as the median).
   */
  record Baselines(double[] halfwidth, double[] persistenceErrors, double[] medianError, int levels) {
    static Baselines of(Calibration c, double[] levels) {
      int n = levels.length;
      if (c.referenceLevels.length == 0) {
        return null;
      }
      double[] half = new double[c.beta * n];
      double[] taus = Calibrator.quantileLevels(levels);
      double[] pers = new double[c.beta * 2 * n];
      double[] median = new double[c.beta];
      for (int j = 0; j < n; j++) {
        int r = indexOf(c.referenceLevels, levels[j]);
        if (r < 0) {
          return null;
        }
        for (int lead = 0; lead < c.beta; lead++) {
          half[lead * n + j] = c.staticHalfwidth[lead * c.referenceLevels.length + r];
        }
      }
      int k = c.persistenceTaus.length;
      for (int i = 0; i <= 2 * n; i++) {
        double tau = i < n ? taus[i] : i == n ? 0.5 : taus[i - 1];
        int r = indexOf(c.persistenceTaus, tau);
        if (r < 0) {
          return null;
        }
        for (int lead = 0; lead < c.beta; lead++) {
          double v = c.persistenceErrors[lead * k + r];
          if (i == n) {
            median[lead] = v;
          } else {
            pers[lead * 2 * n + (i < n ? i : i - 1)] = v;
          }
        }
      }
      return new Baselines(half, pers, median, n);
    }

    static int indexOf(double[] xs, double x) {
      for (int i = 0; i < xs.length; i++) {
        if (Math.abs(xs[i] - x) < 1e-6) {
          return i;
        }
      }
      return -1;
    }

    float[] fixedWidth(float[] point, int beta, int cells) {
      int n = levels;
      int plane = beta * cells;
      float[] q = new float[2 * n * plane];
      for (int lead = 0; lead < beta; lead++) {
        for (int j = 0; j < n; j++) {
          double w = halfwidth[lead * n + j];
          for (int c = 0; c < cells; c++) {
            double p = point[lead * cells + c];
            q[(n - 1 - j) * plane + lead * cells + c] = (float) (p - w);
            q[(n + j) * plane + lead * cells + c] = (float) (p + w);
          }
        }
      }
      return q;
    }

    /** {median, quantiles} of persistence: the frame at the issue time plus the error quantiles. */
    float[][] persistence(float[] last, int beta, int cells) {
      int n = levels;
      int plane = beta * cells;
      float[] med = new float[plane];
      float[] q = new float[2 * n * plane];
      for (int lead = 0; lead < beta; lead++) {
        for (int c = 0; c < cells; c++) {
          med[lead * cells + c] = (float) (last[c] + medianError[lead]);
          for (int i = 0; i < 2 * n; i++) {
            q[i * plane + lead * cells + c] = (float) (last[c] + persistenceErrors[lead * 2 * n + i]);
          }
        }
      }
      return new float[][] {med, q};
    }
  }

  private static void print(Scores s, Path modelFile, PrintWriter out) {
    ModelSpec m = s.spec;
    out.printf(Locale.ROOT, "%s %s (%s) on grid %s: %d windows issued %s .. %s%n", m.name, m.version, modelFile, m.gridId,
        s.windows, s.firstIssue, s.lastIssue);
    out.printf(Locale.ROOT, "%-8s %10s %10s %16s %8s%n", "lead", "MAE (K)", "RMSE (K)", "persistence MAE", "skill");
    double sumMae = 0;
    double sumPers = 0;
    for (int lead = 0; lead < m.beta; lead++) {
      double mae = s.mae(lead);
      double pers = s.persistenceMae(lead);
      sumMae += mae;
      sumPers += pers;
      out.printf(Locale.ROOT, "%-8s %10.4f %10.4f %16.4f %+8.3f%n", "+" + hours(m, lead + 1), mae, s.rmse(lead), pers,
          1 - mae / pers);
    }
    out.printf(Locale.ROOT, "%-8s %10.4f %10s %16.4f %+8.3f%n", "mean", sumMae / m.beta, "", sumPers / m.beta,
        1 - sumMae / sumPers);
    if (s.intervalWindows > 0) {
      printIntervals(s, out);
    }
    out.flush();
  }

  private static void printIntervals(Scores s, PrintWriter out) {
    ModelSpec m = s.spec;
    int n = s.levels.length;
    out.printf(Locale.ROOT, "%nintervals (%s, %s; from the export-time calibration at the first forecast): %d windows issued "
        + "%s .. %s%n", Calibration.METHOD, m.calibration.basis, s.intervalWindows, s.firstIntervalIssue, s.lastIssue);
    StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-8s", "lead"));
    for (int j = 0; j < n; j++) {
      head.append(String.format(Locale.ROOT, " %9s %9s", "cov " + pct(s.levels[j]), "width K"));
    }
    head.append(String.format(Locale.ROOT, " %9s %12s %12s", "CRPS K", "fixed width", "persistence"));
    out.println(head);
    double[] crps = new double[3];
    for (int lead = 0; lead < m.beta; lead++) {
      StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-8s", "+" + hours(m, lead + 1)));
      for (int j = 0; j < n; j++) {
        row.append(String.format(Locale.ROOT, " %8.1f%% %9.3f", 100 * s.intervals[lead].coverage(j),
            s.intervals[lead].meanWidth(j)));
      }
      double a = s.intervals[lead].crps();
      double b = s.staticWidth[lead] == null ? Double.NaN : s.staticWidth[lead].crps();
      double c = s.persistenceQuantiles[lead] == null ? Double.NaN : s.persistenceQuantiles[lead].crps();
      crps[0] += a / m.beta;
      crps[1] += b / m.beta;
      crps[2] += c / m.beta;
      row.append(String.format(Locale.ROOT, " %9.4f %12.4f %12.4f", a, b, c));
      out.println(row);
    }
    out.printf(Locale.ROOT, "%-8s%s %9.4f %12.4f %12.4f%n", "mean", " ".repeat(20 * n), crps[0], crps[1], crps[2]);
    if (s.state != null) {
      out.printf(Locale.ROOT, "calibration state per grid: %d bytes (q: %d levels x %d leads, scale: %d leads x %d cells)%n",
          s.state.sizeBytes(), n, m.beta, m.beta, m.cells());
    }
  }

  private static String pct(double level) {
    double p = level * 100;
    return (p == Math.rint(p) ? Long.toString((long) p) : String.format(Locale.ROOT, "%.1f", p)) + "%";
  }

  private static String hours(ModelSpec m, int lead) {
    double h = lead * m.stepMillis / 3_600_000d;
    return (h == Math.rint(h) ? Long.toString((long) h) : Double.toString(h)) + "h";
  }

  private static String toJson(Scores s, Path modelFile) throws Exception {
    ObjectMapper om = new ObjectMapper();
    ObjectNode root = om.createObjectNode();
    root.put("model", modelFile.toString());
    root.put("model_name", s.spec.name);
    root.put("model_version", s.spec.version);
    root.put("grid_id", s.spec.gridId);
    root.put("windows", s.windows);
    root.put("first_issue", String.valueOf(s.firstIssue));
    root.put("last_issue", String.valueOf(s.lastIssue));
    ArrayNode mae = root.putArray("mae");
    ArrayNode rmse = root.putArray("rmse");
    ArrayNode pers = root.putArray("persistence_mae");
    for (int lead = 0; lead < s.spec.beta; lead++) {
      mae.add(s.mae(lead));
      rmse.add(s.rmse(lead));
      pers.add(s.persistenceMae(lead));
    }
    if (s.intervalWindows > 0) {
      ObjectNode iv = root.putObject("intervals");
      iv.put("method", Calibration.METHOD);
      iv.put("basis", s.spec.calibration.basis);
      iv.put("windows", s.intervalWindows);
      iv.put("first_issue", String.valueOf(s.firstIntervalIssue));
      ArrayNode ls = iv.putArray("levels");
      for (double l : s.levels) {
        ls.add(l);
      }
      if (s.state != null) {
        iv.put("state_bytes", s.state.sizeBytes());
      }
      putScores(iv.putObject("conformal"), s.intervals, s.levels.length);
      if (s.staticWidth[0] != null) {
        putScores(iv.putObject("static_width"), s.staticWidth, s.levels.length);
        putScores(iv.putObject("persistence"), s.persistenceQuantiles, s.levels.length);
      }
    }
    return om.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
  }

  /** Per lead: coverage, mean width and interval score per level, and CRPS. */
  private static void putScores(ObjectNode o, IntervalScores[] byLead, int levels) {
    ArrayNode cov = o.putArray("coverage");
    ArrayNode width = o.putArray("width");
    ArrayNode score = o.putArray("interval_score");
    ArrayNode crps = o.putArray("crps");
    for (IntervalScores s : byLead) {
      ArrayNode c = cov.addArray();
      ArrayNode w = width.addArray();
      ArrayNode is = score.addArray();
      for (int j = 0; j < levels; j++) {
        c.add(s.coverage(j));
        w.add(s.meanWidth(j));
        is.add(s.intervalScore(j));
      }
      crps.add(s.crps());
    }
  }
}

package ai.lsntp.tools;

import ai.lsntp.avro.TemperatureFrame;
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

    Scores(ModelSpec spec) {
      this.spec = spec;
      absError = new double[spec.beta];
      squaredError = new double[spec.beta];
      persistenceAbsError = new double[spec.beta];
      cells = new long[spec.beta];
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
      Scores s = score(forecaster, FrameFiles.frames(avro, from, to), batch, err);
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
    Scores s = new Scores(spec);
    int cells = spec.cells();
    long step = spec.stepMillis;
    List<Long> issues = new ArrayList<>();
    for (long t : byTime.keySet()) {
      boolean complete = true;
      for (int k = -(spec.alpha - 1); k <= spec.beta && complete; k++) {
        complete = byTime.containsKey(t + k * step);
      }
      if (complete) {
        issues.add(t);
      }
    }
    for (int b = 0; b < issues.size(); b += batch) {
      List<Long> part = issues.subList(b, Math.min(issues.size(), b + batch));
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
        long t = part.get(i);
        float[] last = byTime.get(t).values;
        for (int lead = 0; lead < spec.beta; lead++) {
          Frame obs = byTime.get(t + (lead + 1) * step);
          for (int c = 0; c < cells; c++) {
            if (obs.missing != null && obs.missing[c]) {
              continue; // a filled cell is not an observation
            }
            double e = forecasts[i][lead * cells + c] - obs.values[c];
            s.absError[lead] += Math.abs(e);
            s.squaredError[lead] += e * e;
            s.persistenceAbsError[lead] += Math.abs(last[c] - obs.values[c]);
            s.cells[lead]++;
          }
        }
      }
      s.windows += part.size();
    }
    if (!issues.isEmpty()) {
      s.firstIssue = Instant.ofEpochMilli(issues.get(0));
      s.lastIssue = Instant.ofEpochMilli(issues.get(issues.size() - 1));
    }
    return s;
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
    out.flush();
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
    return om.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
  }
}

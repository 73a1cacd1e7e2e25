package ai.lsntp.model;

import ai.lsntp.config.ConfigException;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Everything a model file must pass before it serves: it loads in ONNX Runtime; its metadata has
 * every required key with sane values (grid geometry, alpha, beta, step, units); its graph takes
 * and returns what the metadata says; where its parity files lie beside it, it reproduces the
 * forecast PyTorch made of their window within {@link #PARITY_TOLERANCE_K}; its missing-cell rule,
 * where its metadata names one, is the job's ({@value #MISSING_FILL}); and one smoke forecast
 * (of that window, else of a uniform 280 K one) is finite and in a kelvin range. The job applies
 * it at start and to every model dropped into the model directory while it runs.
 */
public final class ModelCheck {
  public static final double PARITY_TOLERANCE_K = 1e-3;
  public static final float MIN_K = 150f;
  public static final float MAX_K = 350f;
  /** How missing cells are filled before the model sees them, in training and in the job (model metadata missing_fill). */
  public static final String MISSING_FILL_KEY = "missing_fill";
  public static final String MISSING_FILL = "frame-mean";

  private ModelCheck() {}

  /** A model that must not serve; the message names the check it failed. */
  public static final class Refused extends Exception {
    private static final long serialVersionUID = 1L;
    /** The spec, when the metadata could be read (so the refusal can name the grid). */
    public final transient ModelSpec spec;

    public Refused(String message, ModelSpec spec, Throwable cause) {
      super(message, cause);
      this.spec = spec;
    }
  }

  /** Checks the model file; returns its spec, or throws {@link Refused} with the first check it failed. */
  public static ModelSpec check(Path file) throws Refused {
    OnnxForecaster checked = open(file, Provider.CPU, 1);
    try {
      checked.close();
    } catch (OrtException e) {
      throw new Refused("ONNX Runtime could not close its session: " + e.getMessage(), checked.spec(), e);
    }
    return checked.spec();
  }

  /**
   * Checks the model file in the session that then serves it: returns that session, open, or
   * throws {@link Refused} with the first check it failed (and the session closed).
   */
  public static OnnxForecaster open(Path file, Provider provider, int intraOpThreads) throws Refused {
    if (!Files.isRegularFile(file)) {
      throw new Refused("not a file", null, null);
    }
    OnnxForecaster f;
    try {
      // no memory pattern planning: the grid's size is known only once the session is open, and a
      // check runs each shape once or twice, where a plan saves nothing and costs a big grid much
      f = OnnxForecaster.open(file.toString(), provider, intraOpThreads, false, session -> admit(file, session));
    } catch (OrtException e) {
      throw new Refused("ONNX Runtime cannot load it: " + e.getMessage(), null, e);
    }
    try {
      forecastsLikeItsExport(file, f);
      return f;
    } catch (Refused | RuntimeException | Error e) {
      try {
        f.close();
      } catch (OrtException closing) {
        e.addSuppressed(closing);
      }
      throw e;
    }
  }

  /** What the metadata and the graph must say: the spec, the inputs and outputs it implies, the job's missing-cell rule. */
  private static ModelSpec admit(Path file, OrtSession session) throws Refused, OrtException {
    Map<String, String> metadata = session.getMetadata().getCustomMetadata();
    ModelSpec spec;
    try {
      spec = ModelSpec.fromMetadata(file.toString(), metadata);
    } catch (ConfigException e) {
      throw new Refused("metadata: " + e.getMessage(), null, e);
    }
    try {
      OnnxForecaster.checkSignature(session, spec);
    } catch (ConfigException e) {
      throw new Refused("inputs/outputs: " + e.getMessage(), spec, e);
    }
    String fill = metadata.get(MISSING_FILL_KEY);
    if (fill != null && !fill.equals(MISSING_FILL)) {
      throw new Refused("metadata: missing_fill '" + fill + "' is not the job's rule for missing cells ("
          + MISSING_FILL + ": the mean of the frame's valid cells)", spec, null);
    }
    return spec;
  }

  /** Its parity files, where they lie beside it, reproduce; one smoke forecast is a temperature field. */
  private static void forecastsLikeItsExport(Path file, OnnxForecaster f) throws Refused {
    ModelSpec spec = f.spec();
    try {
      float[] window = uniformWindow(spec);
      Parity parity = Parity.beside(file, spec);
      if (parity != null) {
        double diff = parity.maxDifference(f);
        if (!(diff <= PARITY_TOLERANCE_K)) {
          throw new Refused("parity: its forecast of parity-input.f32 differs from parity-expected.f32 by " + diff
              + " K (allowed " + PARITY_TOLERANCE_K + " K)", spec, null);
        }
        window = parity.firstWindow();
      }
      float[] out = f.forecast(List.of(window))[0];
      for (int i = 0; i < out.length; i++) {
        if (!(out[i] >= MIN_K && out[i] <= MAX_K)) {
          throw new Refused("smoke forecast: value " + out[i] + " at lead " + (i / spec.cells() + 1) + ", cell "
              + i % spec.cells() + " is not a temperature in " + MIN_K + ".." + MAX_K + " K", spec, null);
        }
      }
    } catch (OrtException | RuntimeException e) {
      throw new Refused("smoke forecast failed: " + e.getMessage(), spec, e);
    }
  }

  private static float[] uniformWindow(ModelSpec spec) {
    float[] w = new float[spec.alpha * spec.cells()];
    Arrays.fill(w, 280f);
    return w;
  }

  /** The parity files export writes beside a model: a real window and PyTorch's forecast of it. */
  public static final class Parity {
    final float[] input;
    final float[] expected;
    final int batch;
    final ModelSpec spec;

    private Parity(float[] input, float[] expected, int batch, ModelSpec spec) {
      this.input = input;
      this.expected = expected;
      this.batch = batch;
      this.spec = spec;
    }

    /** The parity files beside {@code model} (parity.json, parity-input.f32, parity-expected.f32), or null if there are none. */
    public static Parity beside(Path model, ModelSpec spec) throws Refused {
      Path json = model.resolveSibling("parity.json");
      // only a model in a folder of its own (<grid>/model.onnx) owns the parity files beside it
      if (!model.getFileName().toString().equals("model.onnx") || !Files.exists(json)) {
        return null;
      }
      try {
        JsonNode p = new ObjectMapper().readTree(json.toFile());
        long[] in = shape(p.get("input_shape"));
        long[] out = shape(p.get("expected_shape"));
        if (in.length != 4 || in[1] != spec.alpha || in[2] != spec.height || in[3] != spec.width
            || out.length != 4 || out[0] != in[0] || out[1] != spec.beta || out[2] != spec.height || out[3] != spec.width) {
          throw new Refused("parity: parity.json shapes " + Arrays.toString(in) + " -> " + Arrays.toString(out)
              + " do not fit the metadata (alpha " + spec.alpha + ", beta " + spec.beta + ", " + spec.height + "x"
              + spec.width + ")", spec, null);
        }
        return new Parity(floats(model.resolveSibling("parity-input.f32"), in),
            floats(model.resolveSibling("parity-expected.f32"), out), (int) in[0], spec);
      } catch (IOException | RuntimeException e) {
        throw new Refused("parity: cannot read the parity files: " + e.getMessage(), spec, e);
      }
    }

    /** The largest |ONNX Runtime - expected| over every value, in K (infinite for a NaN). */
    public double maxDifference(OnnxForecaster f) throws OrtException {
      int per = spec.alpha * spec.cells();
      List<float[]> windows = new ArrayList<>();
      for (int b = 0; b < batch; b++) {
        windows.add(Arrays.copyOfRange(input, b * per, (b + 1) * per));
      }
      float[][] got = f.forecast(windows);
      int outPer = spec.beta * spec.cells();
      double max = 0;
      for (int b = 0; b < batch; b++) {
        for (int i = 0; i < outPer; i++) {
          double d = Math.abs(got[b][i] - expected[b * outPer + i]);
          max = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(max, d);
        }
      }
      return max;
    }

    float[] firstWindow() {
      return Arrays.copyOf(input, spec.alpha * spec.cells());
    }

    private static long[] shape(JsonNode n) {
      if (n == null || !n.isArray()) {
        throw new IllegalArgumentException("parity.json: a shape is missing");
      }
      long[] s = new long[n.size()];
      for (int i = 0; i < s.length; i++) {
        s[i] = n.get(i).asLong();
      }
      return s;
    }

    private static float[] floats(Path file, long[] shape) throws IOException {
      long n = 1;
      for (long x : shape) {
        n *= x;
      }
      byte[] bytes = Files.readAllBytes(file);
      if (bytes.length != n * 4) {
        throw new IOException(file.getFileName() + " holds " + bytes.length + " bytes, parity.json says " + n * 4);
      }
      float[] out = new float[(int) n];
      ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
      return out;
    }
  }
}

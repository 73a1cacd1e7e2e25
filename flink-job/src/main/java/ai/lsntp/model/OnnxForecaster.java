package ai.lsntp.model;

import ai.lsntp.config.ConfigException;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One ONNX Runtime session of one LS-NTP model. Opened once (per task slot in the job), checked
 * against the model's metadata, closed with every native resource it made.
 */
public final class OnnxForecaster implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(OnnxForecaster.class);
  public static final String INPUT = "frames";
  public static final String OUTPUT = "forecast";

  /**
   * Grids of at least this many cells run without ONNX Runtime's memory pattern planning (which
   * lays out one block for a whole run of each input shape ahead of time): at the default batching
   * their calls hold at least 16 x 16,384 = 262,144 cells, where the plan costs far more memory
   * than it saves time. Measured on 2 cores, one intra-op thread (docs/scaling, "Session options"):
   * a 150 x 280 grid at batch 16 peaked at 1393 MB with it and 794 MB without (3.0-3.2 s a call either way),
   * a 1000 x 1000 grid at batch 1 at 2021 MB with it and 1427 MB without (no slower); the shipped
   * 33 x 49 grid is as fast or a little faster with it (5.5 vs 6.4-7.0 ms at batch 1, fastest runs)
   * and its plan costs 12 MB, so small grids keep it. The CPU arena stays on for every size: without
   * it the 1000 x 1000 grid peaked higher (2367 MB) and ran slower, and the freed memory stayed resident.
   */
  public static final long MEMORY_PATTERN_MAX_CELLS = 16_384;

  private static final java.util.concurrent.atomic.AtomicBoolean CUDA_FALLBACK_LOGGED =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final OrtEnvironment env;
  private final OrtSession.SessionOptions options;
  private final OrtSession session;
  private final ModelSpec spec;
  private final boolean onCuda;

  private OnnxForecaster(OrtEnvironment env, OrtSession.SessionOptions options, OrtSession session,
      ModelSpec spec, boolean onCuda) {
    this.env = env;
    this.options = options;
    this.session = session;
    this.spec = spec;
    this.onCuda = onCuda;
  }

  /** Opens a session for {@code spec} on the CPU, or on CUDA with TF32 off. */
  public static OnnxForecaster open(ModelSpec spec, boolean cuda, int intraOpThreads) throws OrtException {
    return open(spec, Provider.of(cuda), intraOpThreads);
  }

  /**
   * Opens a session for {@code spec}, a model checked before (by {@link ModelCheck}, perhaps in
   * another process): the file must still say what the spec says. On CUDA, tries the CUDA provider
   * (TF32 as the provider says) and falls back to the CPU with one log line.
   */
  public static OnnxForecaster open(ModelSpec spec, Provider provider, int intraOpThreads) throws OrtException {
    return open(spec.path, provider, intraOpThreads, spec.cells() < MEMORY_PATTERN_MAX_CELLS, session -> {
      checkSame(spec, ModelSpec.fromMetadata(spec.path, session.getMetadata().getCustomMetadata()));
      checkSignature(session, spec);
      return spec;
    });
  }

  /** What a freshly opened session must pass before it serves: its spec, read from the session and checked, or a throw. */
  @FunctionalInterface
  interface Admission<E extends Exception> {
    ModelSpec admit(OrtSession session) throws E, OrtException;
  }

  /**
   * Opens one session of the model file at {@code path}; whatever {@code admission} throws closes it
   * again. {@code memoryPattern}: whether ONNX Runtime plans each run's memory ahead (small grids;
   * {@link #MEMORY_PATTERN_MAX_CELLS}).
   */
  static <E extends Exception> OnnxForecaster open(String path, Provider provider, int intraOpThreads,
      boolean memoryPattern, Admission<E> admission) throws OrtException, E {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
    OrtSession session = null;
    try {
      opts.setIntraOpNumThreads(intraOpThreads);
      opts.setInterOpNumThreads(1);
      opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      opts.setMemoryPatternOptimization(memoryPattern);
      boolean onCuda = provider.cuda() && addCuda(opts, provider);
      session = env.createSession(path, opts);
      return new OnnxForecaster(env, opts, session, admission.admit(session), onCuda);
    } catch (Throwable t) {
      closeAfter(t, session, opts);
      throw t;
    }
  }

  /** Adds the CUDA provider (TF32 as {@code provider} says); false, with one log line per JVM, where CUDA cannot be used. */
  private static boolean addCuda(OrtSession.SessionOptions opts, Provider provider) {
    try (ai.onnxruntime.providers.OrtCUDAProviderOptions cudaOptions =
        new ai.onnxruntime.providers.OrtCUDAProviderOptions(0)) {
      // explicit both ways: the provider's own default is TF32 on
      cudaOptions.add("use_tf32", provider.tf32() ? "1" : "0");
      opts.addCUDA(cudaOptions);
      return true;
    } catch (OrtException | RuntimeException | UnsatisfiedLinkError e) {
      if (CUDA_FALLBACK_LOGGED.compareAndSet(false, true)) {
        LOG.warn("models.provider=cuda: CUDA is not available ({}); running the models on the CPU", e.getMessage());
      }
      return false;
    }
  }

  /** Closes what an open that failed with {@code failure} had made; a failure to close is added to it. */
  private static void closeAfter(Throwable failure, AutoCloseable... resources) {
    for (AutoCloseable r : resources) {
      if (r != null) {
        try {
          r.close();
        } catch (Exception e) {
          failure.addSuppressed(e);
        }
      }
    }
  }

  /** Checks that the graph takes (batch, alpha, H, W) 'frames' and returns (batch, beta, H, W) 'forecast'. */
  static void checkSignature(OrtSession session, ModelSpec spec) throws OrtException {
    Map<String, NodeInfo> in = session.getInputInfo();
    Map<String, NodeInfo> out = session.getOutputInfo();
    if (!in.containsKey(INPUT) || in.size() != 1) {
      throw new ConfigException("model " + spec.path + ": expected one input '" + INPUT + "', found " + in.keySet());
    }
    if (!out.containsKey(OUTPUT)) {
      throw new ConfigException("model " + spec.path + ": expected an output '" + OUTPUT + "', found " + out.keySet());
    }
    checkDims(spec, INPUT, in.get(INPUT), spec.alpha);
    checkDims(spec, OUTPUT, out.get(OUTPUT), spec.beta);
  }

  private static void checkDims(ModelSpec spec, String name, NodeInfo info, int second) {
    if (!(info.getInfo() instanceof TensorInfo)) {
      throw new ConfigException("model " + spec.path + ": '" + name + "' is not a tensor");
    }
    long[] s = ((TensorInfo) info.getInfo()).getShape();
    long[] want = {-1, second, spec.height, spec.width};
    if (s.length != 4) {
      throw new ConfigException("model " + spec.path + ": '" + name + "' has rank " + s.length + ", expected 4");
    }
    for (int i = 1; i < 4; i++) {
      if (s[i] >= 0 && s[i] != want[i]) {
        throw new ConfigException("model " + spec.path + ": '" + name + "' dimension " + i + " is " + s[i]
            + " but the metadata says " + want[i] + " (alpha/beta, grid_height, grid_width)");
      }
    }
  }

  private static void checkSame(ModelSpec expected, ModelSpec loaded) {
    if (expected.alpha != loaded.alpha || expected.beta != loaded.beta
        || expected.stepMillis != loaded.stepMillis || expected.height != loaded.height
        || expected.width != loaded.width || !expected.gridId.equals(loaded.gridId)
        || !expected.calibration.basis.equals(loaded.calibration.basis)) {
      throw new ConfigException("model " + expected.path + " changed since the job was planned: expected "
          + expected + ", found " + loaded);
    }
  }

  /** Forecasts every window (alpha*H*W floats each) in one call; returns beta*H*W floats per window. */
  public float[][] forecast(List<float[]> windows) throws OrtException {
    try (OnnxTensor input = WindowTensor.encode(env, spec, windows);
        OrtSession.Result result = session.run(Map.of(INPUT, input))) {
      Optional<ai.onnxruntime.OnnxValue> v = result.get(OUTPUT);
      if (v.isEmpty()) {
        throw new OrtException("model " + spec.name + ": no output '" + OUTPUT + "'");
      }
      return ForecastTensor.decode(v.get(), spec, windows.size());
    }
  }

  public ModelSpec spec() {
    return spec;
  }

  public boolean onCuda() {
    return onCuda;
  }

  public Map<String, String> metadata() throws OrtException {
    return session.getMetadata().getCustomMetadata();
  }

  @Override
  public void close() throws OrtException {
    try {
      session.close();
    } finally {
      options.close();
    }
  }
}

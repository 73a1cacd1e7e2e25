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
   * Opens a session for {@code spec}. On CUDA, tries the CUDA provider (TF32 as the provider says)
   * and falls back to the CPU with one log line.
   */
  public static OnnxForecaster open(ModelSpec spec, Provider provider, int intraOpThreads) throws OrtException {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
    boolean onCuda = false;
    try {
      opts.setIntraOpNumThreads(intraOpThreads);
      opts.setInterOpNumThreads(1);
      opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      if (provider.cuda()) {
        try (ai.onnxruntime.providers.OrtCUDAProviderOptions cudaOptions =
            new ai.onnxruntime.providers.OrtCUDAProviderOptions(0)) {
          // explicit both ways: the provider's own default is TF32 on
          cudaOptions.add("use_tf32", provider.tf32() ? "1" : "0");
          opts.addCUDA(cudaOptions);
          onCuda = true;
        } catch (OrtException | RuntimeException | UnsatisfiedLinkError e) {
          if (CUDA_FALLBACK_LOGGED.compareAndSet(false, true)) {
            LOG.warn("models.provider=cuda: CUDA is not available ({}); running the models on the CPU", e.getMessage());
          }
        }
      }
      OrtSession session = env.createSession(spec.path, opts);
      try {
        ModelSpec loaded = ModelSpec.fromMetadata(spec.path, session.getMetadata().getCustomMetadata());
        checkSame(spec, loaded);
        checkSignature(session, spec);
      } catch (RuntimeException | OrtException e) {
        session.close();
        throw e;
      }
      return new OnnxForecaster(env, opts, session, spec, onCuda);
    } catch (OrtException | RuntimeException e) {
      opts.close();
      throw e;
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
        || expected.width != loaded.width || !expected.gridId.equals(loaded.gridId)) {
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

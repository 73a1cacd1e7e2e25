package ai.lsntp.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Latency of one ONNX model in ONNX Runtime Java, and the machine's own MatMul peak in ONNX Runtime.
 *
 * <p>Driven by model-export's benchmark ({@code ./lsntp benchmark}), which times PyTorch eager in the
 * same run and writes both into the model's report, and by its scaling benchmark ({@code ./lsntp
 * benchmark --scaling}), one fresh JVM per model. Prints one JSON object on stdout, with the
 * process's resident memory (Linux /proc/self/status) before the session, after loading it, after
 * the timed runs with the session still open (what a serving TaskManager keeps), after closing it,
 * and its peak: what a session of this model costs a TaskManager outside the heap.
 *
 * <p>Usage: {@code OnnxLatencyBench MODEL.onnx MATMUL.onnx|- MATMUL_N REPEATS THREADS BATCH...} ("-": no
 * MatMul peak).
 */
public final class OnnxLatencyBench {
  private OnnxLatencyBench() {}

  public static void main(String[] args) throws OrtException {
    if (args.length < 6) {
      System.err.println("usage: OnnxLatencyBench MODEL.onnx MATMUL.onnx MATMUL_N REPEATS THREADS BATCH...");
      System.exit(2);
    }
    String model = args[0];
    String matmul = args[1];
    int n = Integer.parseInt(args[2]);
    int repeats = Integer.parseInt(args[3]);
    int threads = Integer.parseInt(args[4]);
    int[] batches = Arrays.stream(args, 5, args.length).mapToInt(Integer::parseInt).toArray();
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    StringBuilder json = new StringBuilder("{\"threads\": ").append(threads).append(", \"model\": {");
    double rssBefore = residentMb("VmRSS");
    double rssLoaded;
    double rssServing;
    try (OrtSession.SessionOptions opts = options(threads);
        OrtSession session = env.createSession(model, opts)) {
      rssLoaded = residentMb("VmRSS");
      long[] shape = ((ai.onnxruntime.TensorInfo) session.getInputInfo().get("frames").getInfo()).getShape();
      for (int bi = 0; bi < batches.length; bi++) {
        int b = batches[bi];
        long[] s = shape.clone();
        s[0] = b;
        int size = (int) (s[0] * s[1] * s[2] * s[3]);
        FloatBuffer data = FloatBuffer.allocate(size);
        for (int i = 0; i < size; i++) {
          data.put(i, 270f + (i % 97) * 0.1f); // plausible kelvin; latency does not depend on the values
        }
        try (OnnxTensor t = OnnxTensor.createTensor(env, data, s)) {
          double[] ms = time(session, Map.of("frames", t), repeats);
          json.append(bi > 0 ? ", " : "").append('"').append(b).append("\": ").append(stats(ms));
        }
      }
      rssServing = residentMb("VmRSS");
    }
    json.append(String.format(Locale.ROOT, "}, \"memory\": {\"rss_before_mb\": %.1f, \"rss_loaded_mb\": %.1f, "
        + "\"rss_serving_mb\": %.1f, \"rss_after_runs_mb\": %.1f, \"peak_rss_mb\": %.1f}", rssBefore, rssLoaded,
        rssServing, residentMb("VmRSS"), residentMb("VmHWM")));
    if (matmul.equals("-")) {
      System.out.println(json.append('}'));
      return;
    }
    json.append(", \"matmul\": ");
    try (OrtSession.SessionOptions opts = options(threads);
        OrtSession session = env.createSession(matmul, opts)) {
      FloatBuffer a = FloatBuffer.allocate(n * n);
      for (int i = 0; i < n * n; i++) {
        a.put(i, (i % 13) * 0.01f);
      }
      try (OnnxTensor ta = OnnxTensor.createTensor(env, a, new long[] {n, n});
          OnnxTensor tb = OnnxTensor.createTensor(env, a, new long[] {n, n})) {
        double[] ms = time(session, Map.of("A", ta, "B", tb), Math.max(5, repeats / 3));
        double median = median(ms);
        double gflops = 2.0 * n * n * (double) n / (median / 1e3) / 1e9;
        json.append(String.format(Locale.ROOT, "{\"n\": %d, \"median_ms\": %.3f, \"gflops\": %.1f}", n, median, gflops));
      }
    }
    json.append('}');
    System.out.println(json);
  }

  /** A line of /proc/self/status (VmRSS: resident now, VmHWM: its peak) in MiB; NaN where there is none. */
  static double residentMb(String key) {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
        if (line.startsWith(key + ":")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0; // kB
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // not Linux: the memory columns stay empty
    }
    return Double.NaN;
  }

  /**
   * The session options of the job's sessions (OnnxForecaster); -Dlsntp.ort.arena=false and
   * -Dlsntp.ort.memory-pattern=false switch ONNX Runtime's CPU arena and memory pattern planning off,
   * to measure what they cost and save (docs/scaling, "The big grid through the stream").
   */
  private static OrtSession.SessionOptions options(int threads) throws OrtException {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    o.setIntraOpNumThreads(threads);
    o.setInterOpNumThreads(1);
    o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    o.setCPUArenaAllocator(Boolean.parseBoolean(System.getProperty("lsntp.ort.arena", "true")));
    o.setMemoryPatternOptimization(Boolean.parseBoolean(System.getProperty("lsntp.ort.memory-pattern", "true")));
    return o;
  }

  private static double[] time(OrtSession session, Map<String, OnnxTensor> in, int repeats) throws OrtException {
    for (int i = 0; i < 3; i++) { // warm-up: first runs allocate and pick kernels
      session.run(in).close();
    }
    List<Double> ms = new ArrayList<>();
    for (int i = 0; i < repeats; i++) {
      long t0 = System.nanoTime();
      try (OrtSession.Result r = session.run(in)) {
        ms.add((System.nanoTime() - t0) / 1e6);
      }
    }
    return ms.stream().mapToDouble(Double::doubleValue).toArray();
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private static String stats(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return String.format(Locale.ROOT, "{\"median_ms\": %.3f, \"p10_ms\": %.3f, \"p90_ms\": %.3f, \"min_ms\": %.3f, \"max_ms\": %.3f, \"n\": %d}",
        median(s), s[(int) (0.1 * (s.length - 1))], s[(int) (0.9 * (s.length - 1))], s[0], s[s.length - 1], s.length);
  }
}

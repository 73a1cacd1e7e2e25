package ai.lsntp.config;

import ai.lsntp.alerts.AlertRule;
import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The job's whole configuration, bound from lsntp-default.yaml plus overrides (keys in kebab-case
 * in YAML, camelCase here). Build it with {@link ConfigLoader}; {@link #validate()} names the
 * first wrong setting.
 */
public class LsntpConfig implements Serializable {
  private static final long serialVersionUID = 1L;

  public Kafka kafka = new Kafka();
  public Topics topics = new Topics();
  public Models models = new Models();
  public Stream stream = new Stream();
  public Batching batching = new Batching();
  public Delivery delivery = new Delivery();
  public Rejects rejects = new Rejects();
  public Records records = new Records();
  public Metrics metrics = new Metrics();
  public Verification verification = new Verification();
  public Promotion promotion = new Promotion();
  public Intervals intervals = new Intervals();
  public Checkpoints checkpoints = new Checkpoints();
  public Job job = new Job();
  public List<AlertRule> alerts = new ArrayList<>();

  public static class Kafka implements Serializable {
    private static final long serialVersionUID = 1L;
    public String bootstrapServers;
    public Map<String, String> properties = new LinkedHashMap<>();
    public String groupId;
    public String startFrom = "earliest";
    public String connectTimeout = "15s";
  }

  /** The topic names, bound from the topics section; {@link Topic} lists them. */
  public static class Topics implements Serializable {
    private static final long serialVersionUID = 1L;
    public String frames;
    public String forecasts;
    public String alerts;
    public String rejects;
    public String modelEvents;
    public String verification;
  }

  public static class Models implements Serializable {
    private static final long serialVersionUID = 1L;
    public String directory;
    public String provider = "cpu";
    /** CUDA only: TensorFloat-32 matrix products (faster on Ampere and newer, outside the 1e-3 K parity). */
    public boolean cudaTf32 = false;
    public int intraOpThreads = 1;
    public String pollInterval = "5s";
  }

  public static class Verification implements Serializable {
    private static final long serialVersionUID = 1L;
    public boolean enabled = true;
    public String window = "24h";
  }

  /** The forecasts' prediction intervals (flink-job/README.md, "Intervals"). */
  /** When a grid's challenger replaces its model (lsntp-default.yaml, deploy/OPERATIONS.md "Challengers"). */
  public static class Promotion implements Serializable {
    private static final long serialVersionUID = 1L;
    public static final List<String> POLICIES = List.of("off", "manual", "automatic");
    /** off | manual | automatic, for every grid not named in {@link #grids}. */
    public String policy = "off";
    /** grid id -> its own policy. */
    public Map<String, String> grids = new LinkedHashMap<>();
    public int minIssueTimes = 48;
    public double marginK = 0.01;
    public int blockLength = 6;
    public int resamples = 2000;
    public long seed = 20240601L;
    public int maxIssueTimes = 336;
  }

  public static class Intervals implements Serializable {
    private static final long serialVersionUID = 1L;
    /** Central levels, increasing, within 0.5..0.99; empty: forecasts without intervals. */
    public List<Double> levels = new ArrayList<>(List.of(0.8, 0.95));
  }

  public static class Stream implements Serializable {
    private static final long serialVersionUID = 1L;
    public String maxOutOfOrderness;
    public String allowedLateness;
    public String futureTolerance;
    public long maxFrameBytes;
    /** A frame tile's record value larger than this is rejected as TILE_TOO_LARGE. */
    public long maxTileBytes = 1_048_576;
    public String idleTimeout;
  }

  public static class Batching implements Serializable {
    private static final long serialVersionUID = 1L;
    public int maxWindows;
    /** Cells (windows x grid cells) of one ONNX Runtime call at most; a window larger than this runs alone. */
    public long maxCells = 1_048_576;
    public String maxDelay;
  }

  public static class Delivery implements Serializable {
    private static final long serialVersionUID = 1L;
    public String guarantee;
    public String checkpointInterval;
    public String transactionTimeout;
    public String transactionalIdPrefix;
  }

  public static class Rejects implements Serializable {
    private static final long serialVersionUID = 1L;
    public int maxPayloadBytes = 65536;
  }

  /** How record values are written and which formats are read (schemas/README.md, "On the wire"). */
  public static class Records implements Serializable {
    private static final long serialVersionUID = 1L;
    public static final String SINGLE_OBJECT = "single-object";
    public static final String PLAIN = "plain";
    /** single-object, or plain while subscribers that cannot read the marker are upgraded. */
    public String write = SINGLE_OBJECT;
    /** Frames in plain Avro of today's schema are accepted (counted, warned about) rather than rejected. */
    public boolean acceptPlain = true;
    /** Kafka's own default record limit (producer max.request.size, broker max.message.bytes about the same). */
    public static final int DEFAULT_MAX_RECORD_BYTES = 1_048_576;
    /** No record the job writes is larger than this (key, value and Kafka's record overhead): larger forecasts go out as tiles. */
    public int maxRecordBytes = DEFAULT_MAX_RECORD_BYTES;

    public boolean writePlain() {
      return PLAIN.equals(write);
    }
  }

  /** Where a local run exposes its metrics (on a cluster the cluster's metrics.reporter.* decide). */
  public static class Metrics implements Serializable {
    private static final long serialVersionUID = 1L;
    /** Port of Flink's Prometheus reporter (an HTTP /metrics page); 0 leaves it off. */
    public int prometheusPort = 0;
  }

  public static class Checkpoints implements Serializable {
    private static final long serialVersionUID = 1L;
    public String directory;
    public int retained = 3;
  }

  public static class Job implements Serializable {
    private static final long serialVersionUID = 1L;
    public String name = "lsntp-forecaster";
    public int parallelism = 1;
    public int restartAttempts = 3;
    public String restartDelay = "2s";
    public String bufferTimeout = "10ms";
  }

  // ---- typed views (no "get" prefix, so Jackson does not see them as properties) ----

  public Duration connectTimeout() {
    return Durations.parse("kafka.connect-timeout", kafka.connectTimeout);
  }

  /** How often the model directory is looked at for new, replaced or removed models; zero: never (the models of the start serve). */
  public Duration modelPollInterval() {
    return Durations.parse("models.poll-interval", models.pollInterval);
  }

  /** The configured central interval levels, increasing. */
  public double[] intervalLevels() {
    return intervals.levels.stream().mapToDouble(Double::doubleValue).toArray();
  }

  public Duration verificationWindow() {
    return Durations.parse("verification.window", verification.window);
  }

  public Duration maxOutOfOrderness() {
    return Durations.parse("stream.max-out-of-orderness", stream.maxOutOfOrderness);
  }

  public Duration allowedLateness() {
    return Durations.parse("stream.allowed-lateness", stream.allowedLateness);
  }

  public Duration futureTolerance() {
    return Durations.parse("stream.future-tolerance", stream.futureTolerance);
  }

  public Duration idleTimeout() {
    return Durations.parse("stream.idle-timeout", stream.idleTimeout);
  }

  public Duration batchMaxDelay() {
    return Durations.parse("batching.max-delay", batching.maxDelay);
  }

  public Duration checkpointInterval() {
    return Durations.parse("delivery.checkpoint-interval", delivery.checkpointInterval);
  }

  public Duration transactionTimeout() {
    return Durations.parse("delivery.transaction-timeout", delivery.transactionTimeout);
  }

  public Duration restartDelay() {
    return Durations.parse("job.restart-delay", job.restartDelay);
  }

  public Duration bufferTimeout() {
    return Durations.parse("job.buffer-timeout", job.bufferTimeout);
  }

  public boolean exactlyOnce() {
    return "exactly-once".equals(delivery.guarantee);
  }

  public boolean cuda() {
    return "cuda".equals(models.provider);
  }

  /** Where the models run: models.provider, with models.cuda-tf32 on CUDA. */
  public ai.lsntp.model.Provider provider() {
    return cuda() ? new ai.lsntp.model.Provider(true, models.cudaTf32) : ai.lsntp.model.Provider.CPU;
  }

  /** The job's topics, in {@link Topic}'s order. */
  public List<String> topicNames() {
    return java.util.Arrays.stream(Topic.values()).map(t -> t.in(this)).toList();
  }

  /** Kafka client properties common to every client, security settings included. */
  public Properties kafkaProperties() {
    Properties p = new Properties();
    p.putAll(kafka.properties);
    p.setProperty("bootstrap.servers", kafka.bootstrapServers);
    return p;
  }

  /** Checks every setting; throws {@link ConfigException} naming the first wrong one. */
  public LsntpConfig validate() {
    require("kafka.bootstrap-servers", kafka.bootstrapServers);
    require("kafka.group-id", kafka.groupId);
    if (!List.of("earliest", "latest").contains(kafka.startFrom)) {
      throw new ConfigException("kafka.start-from: must be earliest or latest, got '" + kafka.startFrom + "'");
    }
    for (Map.Entry<String, String> e : kafka.properties.entrySet()) {
      if (e.getKey() == null || e.getKey().isBlank() || e.getValue() == null) {
        throw new ConfigException("kafka.properties: entry '" + e.getKey() + "' needs a key and a value");
      }
      if (e.getKey().equals("bootstrap.servers")) {
        throw new ConfigException("kafka.properties: set bootstrap.servers with kafka.bootstrap-servers (--bootstrap-servers)");
      }
    }
    positive("kafka.connect-timeout", connectTimeout());
    for (Topic t : Topic.values()) {
      require(t.key(), t.in(this));
    }
    nonNegative("models.poll-interval", modelPollInterval());
    positive("verification.window", verificationWindow());
    // YAML 1.1 reads an unquoted off as the boolean false: that is what was meant
    if ("false".equals(promotion.policy)) {
      promotion.policy = "off";
    }
    promotion.grids.replaceAll((g, v) -> "false".equals(v) ? "off" : v);
    for (Map.Entry<String, String> e : promotion.grids.entrySet()) {
      if (!Promotion.POLICIES.contains(e.getValue())) {
        throw new ConfigException("promotion.grids." + e.getKey() + ": must be one of " + Promotion.POLICIES + ", got '"
            + e.getValue() + "'");
      }
    }
    if (!Promotion.POLICIES.contains(promotion.policy)) {
      throw new ConfigException("promotion.policy: must be one of " + Promotion.POLICIES + ", got '" + promotion.policy + "'");
    }
    if (promotion.minIssueTimes < 2 || promotion.blockLength < 1 || promotion.resamples < 100
        || promotion.maxIssueTimes < promotion.minIssueTimes || !(promotion.marginK >= 0)) {
      throw new ConfigException("promotion: min-issue-times (>= 2), block-length (>= 1), resamples (>= 100), "
          + "max-issue-times (>= min-issue-times) and margin-k (>= 0) are out of range: " + promotion.minIssueTimes + ", "
          + promotion.blockLength + ", " + promotion.resamples + ", " + promotion.maxIssueTimes + ", " + promotion.marginK);
    }
    if ((!"off".equals(promotion.policy) || promotion.grids.values().stream().anyMatch(v -> !"off".equals(v)))
        && !verification.enabled) {
      throw new ConfigException("promotion: a policy other than off needs verification.enabled: true (the evidence is the verification)");
    }
    if (intervals.levels == null) {
      throw new ConfigException("intervals.levels: a list of levels is required ([] for none)");
    }
    if (intervals.levels.size() > 4) {
      throw new ConfigException("intervals.levels: at most 4 levels, got " + intervals.levels.size());
    }
    for (int i = 0; i < intervals.levels.size(); i++) {
      Double l = intervals.levels.get(i);
      if (l == null || !(l >= ai.lsntp.calibration.Calibration.MIN_LEVEL && l <= ai.lsntp.calibration.Calibration.MAX_LEVEL)) {
        throw new ConfigException("intervals.levels: " + l + " is not a central level in "
            + ai.lsntp.calibration.Calibration.MIN_LEVEL + ".." + ai.lsntp.calibration.Calibration.MAX_LEVEL
            + " (0.8 is the 80% interval)");
      }
      if (i > 0 && !(l > intervals.levels.get(i - 1))) {
        throw new ConfigException("intervals.levels: must increase, got " + intervals.levels);
      }
    }
    require("models.directory", models.directory);
    if (!List.of("cpu", "cuda").contains(models.provider)) {
      throw new ConfigException("models.provider: must be cpu or cuda, got '" + models.provider + "'");
    }
    if (models.intraOpThreads < 1) {
      throw new ConfigException("models.intra-op-threads: must be at least 1, got " + models.intraOpThreads);
    }
    nonNegative("stream.max-out-of-orderness", maxOutOfOrderness());
    nonNegative("stream.allowed-lateness", allowedLateness());
    nonNegative("stream.future-tolerance", futureTolerance());
    positive("stream.idle-timeout", idleTimeout());
    if (stream.maxFrameBytes < 1) {
      throw new ConfigException("stream.max-frame-bytes: must be positive, got " + stream.maxFrameBytes);
    }
    // a tile over stream.max-frame-bytes is TOO_LARGE before anything is decoded, so a tile limit
    // above the frame limit is harmless: lowering the frame limit alone must not stop the job
    if (stream.maxTileBytes < 1) {
      throw new ConfigException("stream.max-tile-bytes: must be positive, got " + stream.maxTileBytes);
    }
    if (records.maxRecordBytes < 16 * 1024) {
      throw new ConfigException("records.max-record-bytes: must be at least 16384 (a forecast tile needs room for a "
          + "few rows beside its other fields), got " + records.maxRecordBytes);
    }
    if (rejects.maxPayloadBytes < 0 || rejects.maxPayloadBytes > 512 * 1024) {
      throw new ConfigException("rejects.max-payload-bytes: must be 0 .. 524288 (a reject must fit the producer's "
          + "1 MiB max.request.size with room to spare), got " + rejects.maxPayloadBytes);
    }
    if (!List.of(Records.SINGLE_OBJECT, Records.PLAIN).contains(records.write)) {
      throw new ConfigException("records.write: must be single-object or plain, got '" + records.write + "'");
    }
    if (metrics.prometheusPort < 0 || metrics.prometheusPort > 65535) {
      throw new ConfigException("metrics.prometheus-port: must be 0 (off) or a TCP port, got " + metrics.prometheusPort);
    }
    require("checkpoints.directory", checkpoints.directory);
    if (checkpoints.retained < 1) {
      throw new ConfigException("checkpoints.retained: must be at least 1, got " + checkpoints.retained);
    }
    if (batching.maxWindows < 1) {
      throw new ConfigException("batching.max-windows: must be at least 1, got " + batching.maxWindows);
    }
    if (batching.maxCells < 1) {
      throw new ConfigException("batching.max-cells: must be at least 1, got " + batching.maxCells);
    }
    nonNegative("batching.max-delay", batchMaxDelay());
    if (!List.of("exactly-once", "at-least-once").contains(delivery.guarantee)) {
      throw new ConfigException("delivery.guarantee: must be exactly-once or at-least-once, got '" + delivery.guarantee + "'");
    }
    positive("delivery.checkpoint-interval", checkpointInterval());
    positive("delivery.transaction-timeout", transactionTimeout());
    require("delivery.transactional-id-prefix", delivery.transactionalIdPrefix);
    if (job.parallelism < 1) {
      throw new ConfigException("job.parallelism: must be at least 1, got " + job.parallelism);
    }
    if (job.restartAttempts < 0) {
      throw new ConfigException("job.restart-attempts: must not be negative, got " + job.restartAttempts);
    }
    nonNegative("job.restart-delay", restartDelay());
    nonNegative("job.buffer-timeout", bufferTimeout());
    java.util.Set<String> names = new java.util.HashSet<>();
    for (int i = 0; i < alerts.size(); i++) {
      AlertRule r = alerts.get(i);
      String at = "alerts[" + i + "]";
      if (r == null) {
        throw new ConfigException(at + ": empty rule");
      }
      require(at + ".name", r.name);
      if (!names.add(r.name)) {
        throw new ConfigException(at + ".name: '" + r.name + "' is used by two rules");
      }
      if (r.kind == null) {
        throw new ConfigException(at + ".kind: must be heat, frost, change or skill");
      }
      if (r.threshold == null || r.threshold.isNaN() || r.threshold.isInfinite()) {
        throw new ConfigException(at + ".threshold: a number (K) is required");
      }
      if (r.kind == AlertRule.Kind.skill) {
        if (r.threshold > 1 || r.threshold < -10) {
          throw new ConfigException(at + ".threshold: a skill threshold (1 - MAE / MAE of persistence) must be in "
              + "-10..1, got " + r.threshold);
        }
        positive(at + ".within", Durations.parse(at + ".within", r.within));
      } else if (r.kind == AlertRule.Kind.change) {
        if (r.threshold <= 0) {
          throw new ConfigException(at + ".threshold: a change threshold must be positive, got " + r.threshold);
        }
        positive(at + ".within", Durations.parse(at + ".within", r.within));
      } else if (r.within != null) {
        throw new ConfigException(at + ".within: only change and skill rules take 'within'");
      } else if (r.threshold < 150 || r.threshold > 350) {
        throw new ConfigException(at + ".threshold: " + r.threshold + " K is outside 150..350 K (kelvin, not Celsius?)");
      }
      if (r.probability != null) {
        if (r.kind != AlertRule.Kind.heat && r.kind != AlertRule.Kind.frost) {
          throw new ConfigException(at + ".probability: only heat and frost rules take a probability");
        }
        if (!(r.probability > 0 && r.probability < 1)) {
          throw new ConfigException(at + ".probability: must be a probability strictly between 0 and 1 (0.8 for 80%), got "
              + r.probability);
        }
        if (intervals.levels == null || intervals.levels.isEmpty()) {
          throw new ConfigException(at + ".probability: needs the forecasts' intervals, but intervals.levels is empty");
        }
      }
      require(at + ".grid", r.grid);
    }
    return this;
  }

  private static void require(String key, String value) {
    if (value == null || value.isBlank()) {
      throw new ConfigException(key + ": a value is required");
    }
  }

  private static void nonNegative(String key, Duration d) {
    if (d.isNegative()) {
      throw new ConfigException(key + ": must not be negative, got " + d);
    }
  }

  private static void positive(String key, Duration d) {
    if (d.isNegative() || d.isZero()) {
      throw new ConfigException(key + ": must be positive, got " + d);
    }
  }
}

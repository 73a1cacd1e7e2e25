package ai.lsntp.job;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.model.ModelCatalog;
import java.time.Duration;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The streaming forecaster, given its source and sinks, so tests and production run the same
 * pipeline: frames -> validate (rejects) -> event time -> keyBy grid -> windows (LATE rejects) ->
 * batched ONNX Runtime inference -> forecasts + alerts.
 */
public final class ForecastJob {
  private final LsntpConfig cfg;
  private final ModelCatalog models;
  private final Source<RawFrame, ?, ?> frames;
  private final Sink<Forecast> forecasts;
  private final Sink<Alert> alerts;
  private final Sink<RejectedFrame> rejects;
  private MapFunction<Frame, Frame> frameTap;
  private StageProbe probe;

  public ForecastJob(LsntpConfig cfg, ModelCatalog models, Source<RawFrame, ?, ?> frames,
      Sink<Forecast> forecasts, Sink<Alert> alerts, Sink<RejectedFrame> rejects) {
    this.cfg = cfg;
    this.models = models;
    this.frames = frames;
    this.forecasts = forecasts;
    this.alerts = alerts;
    this.rejects = rejects;
  }

  /** The production job: Kafka in, Kafka out, models from the configured directory. */
  public static ForecastJob fromKafka(LsntpConfig cfg, boolean bounded) {
    ModelCatalog models = ModelCatalog.scan(java.nio.file.Path.of(cfg.models.directory));
    return new ForecastJob(cfg, models, KafkaEndpoints.frames(cfg, bounded), KafkaEndpoints.forecasts(cfg),
        KafkaEndpoints.alerts(cfg), KafkaEndpoints.rejects(cfg));
  }

  /** A map applied to every valid frame before keying (used by tests to inject failures). */
  public ForecastJob withFrameTap(MapFunction<Frame, Frame> tap) {
    this.frameTap = tap;
    return this;
  }

  /** A hook each stage calls per element (tests make one stage throw for a chosen record). */
  public ForecastJob withProbe(StageProbe probe) {
    this.probe = probe;
    return this;
  }

  public ModelCatalog models() {
    return models;
  }

  /**
   * Flink settings of a local run (./lsntp job, the embedded demo, tests) from the job's
   * configuration: restart strategy, checkpoint storage in checkpoints.directory, kept when the job
   * is cancelled or dies (so a killed process resumes from it), and, when {@code restoreFrom} is
   * given, the checkpoint or savepoint to start from. On a cluster the cluster's own configuration
   * decides all of these, never the job.
   */
  public static Configuration flinkConfiguration(LsntpConfig cfg, String restoreFrom) {
    Configuration conf = new Configuration();
    conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
    conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, cfg.job.restartAttempts);
    conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, cfg.restartDelay());
    conf.set(StateBackendOptions.STATE_BACKEND, "hashmap");
    conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, RetainedCheckpoints.jobDirectory(cfg).toString());
    conf.set(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
        ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
    conf.set(CheckpointingOptions.MAX_RETAINED_CHECKPOINTS, cfg.checkpoints.retained);
    if (restoreFrom != null) {
      conf.set(StateRecoveryOptions.SAVEPOINT_PATH, restoreFrom);
    }
    return conf;
  }

  /** A MiniCluster environment with the job's local settings, starting fresh. */
  public static StreamExecutionEnvironment localEnvironment(LsntpConfig cfg) {
    return localEnvironment(cfg, null);
  }

  /** A MiniCluster environment with the job's local settings, restored from {@code restoreFrom} when not null. */
  public static StreamExecutionEnvironment localEnvironment(LsntpConfig cfg, String restoreFrom) {
    return StreamExecutionEnvironment.createLocalEnvironment(cfg.job.parallelism, flinkConfiguration(cfg, restoreFrom));
  }

  /** Adds the pipeline to {@code env}, with checkpointing as configured. */
  public void build(StreamExecutionEnvironment env) {
    env.setRuntimeMode(RuntimeExecutionMode.STREAMING);
    // parallelism is the environment's: the deployment's (parallelism.default, FlinkDeployment
    // spec.job.parallelism) on a cluster, job.parallelism for a local run (localEnvironment)
    env.setBufferTimeout(cfg.bufferTimeout().toMillis());
    env.enableCheckpointing(cfg.checkpointInterval().toMillis(),
        cfg.exactlyOnce() ? CheckpointingMode.EXACTLY_ONCE : CheckpointingMode.AT_LEAST_ONCE);

    DataStream<RawFrame> raw = env.fromSource(frames, WatermarkStrategy.noWatermarks(), "frames")
        .uid("frames-source");

    SingleOutputStreamOperator<Frame> valid = raw
        .process(new FrameValidator(models, cfg.stream.maxFrameBytes, cfg.futureTolerance().toMillis(),
            cfg.rejects.maxPayloadBytes, probe))
        .name("validate").uid("validate");

    DataStream<Frame> checked = valid;
    if (frameTap != null) {
      checked = checked.map(frameTap).name("frame-tap").uid("frame-tap");
    }

    Duration ooo = cfg.maxOutOfOrderness();
    DataStream<Frame> timed = checked.assignTimestampsAndWatermarks(
            WatermarkStrategy.<Frame>forBoundedOutOfOrderness(ooo)
                .withTimestampAssigner(new ValidTimeAssigner())
                .withIdleness(cfg.idleTimeout()))
        .name("event-time").uid("event-time");

    SingleOutputStreamOperator<FrameWindow> windows = timed
        .keyBy(new GridKey())
        .process(new FrameWindowFunction(models, cfg.allowedLateness().toMillis(), probe))
        .name("windows").uid("windows");

    SingleOutputStreamOperator<Forecast> forecast = windows
        .transform("inference", new AvroTypeInfo<>(Forecast.class),
            new InferenceOperator(models, cfg.cuda(), cfg.models.intraOpThreads, cfg.batching.maxWindows,
                cfg.batchMaxDelay().toMillis(), new AlertEvaluator(cfg.alerts), probe))
        .uid("inference");

    forecast.sinkTo(forecasts).name("forecasts-sink").uid("forecasts-sink");
    forecast.getSideOutput(InferenceOperator.ALERTS).sinkTo(alerts).name("alerts-sink").uid("alerts-sink");
    valid.getSideOutput(Rejects.TAG)
        .union(windows.getSideOutput(Rejects.TAG), forecast.getSideOutput(Rejects.TAG))
        .sinkTo(rejects).name("rejects-sink").uid("rejects-sink");
  }

  public JobExecutionResult execute(StreamExecutionEnvironment env) throws Exception {
    build(env);
    return env.execute(cfg.job.name);
  }

  public JobClient executeAsync(StreamExecutionEnvironment env) throws Exception {
    build(env);
    return env.executeAsync(cfg.job.name);
  }
}

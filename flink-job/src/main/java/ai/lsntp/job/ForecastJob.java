package ai.lsntp.job;

import ai.lsntp.alerts.AlertEvaluator;
import ai.lsntp.alerts.Alerts;
import ai.lsntp.alerts.ForecastAlerts;
import ai.lsntp.alerts.SkillDrop;
import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.Verification;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
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
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The streaming forecaster, given its source and sinks, so tests and production run the same
 * pipeline: frames -> validate (rejects) -> event time -> keyBy grid -> tiles assembled into frames
 * (tile rejects) -> windows (LATE rejects) -> batched ONNX Runtime inference -> keyBy grid ->
 * calibration (the intervals) and verification against the frames that arrive later (and the skill
 * alert rule) -> forecasts (cut into tiles when larger than a record may be), and the forecast alert
 * rules beside them; beside it, the model directory watcher's catalogs reach every stage as a
 * broadcast (models roll out while the job runs; their events go to the model-events topic).
 */
public final class ForecastJob {
  /** Flink's own Prometheus reporter (org.apache.flink:flink-metrics-prometheus). */
  public static final String PROMETHEUS_REPORTER = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory";
  private final LsntpConfig cfg;
  private final ModelCatalog.Scan models;
  private final Source<RawFrame, ?, ?> frames;
  private final Outputs outputs;
  private final boolean watchModels;
  private MapFunction<RawFrame, RawFrame> recordTap;
  private StageProbe probe;

  /** Where the job's records go. */
  public record Outputs(Sink<Forecast> forecasts, Sink<Alert> alerts, Sink<RejectedFrame> rejects,
      Sink<ModelEvent> modelEvents, Sink<Verification> verifications) implements java.io.Serializable {
    public static Outputs kafka(LsntpConfig cfg) {
      return new Outputs(KafkaEndpoints.forecasts(cfg), KafkaEndpoints.alerts(cfg), KafkaEndpoints.rejects(cfg),
          KafkaEndpoints.modelEvents(cfg), KafkaEndpoints.verifications(cfg));
    }
  }

  /**
   * @param watchModels whether the model directory is watched while the job runs (an unbounded job
   *     with models.poll-interval > 0); otherwise the models of the start serve to the end
   */
  public ForecastJob(LsntpConfig cfg, ModelCatalog.Scan models, Source<RawFrame, ?, ?> frames, Outputs outputs,
      boolean watchModels) {
    this.cfg = cfg;
    this.models = models;
    this.frames = frames;
    this.outputs = outputs;
    this.watchModels = watchModels;
  }

  /** The production job: Kafka in, Kafka out, models from the configured directory, watched unless bounded. */
  public static ForecastJob fromKafka(LsntpConfig cfg, boolean bounded) {
    ModelCatalog.Scan models = ModelCatalog.scan(java.nio.file.Path.of(cfg.models.directory));
    return new ForecastJob(cfg, models, KafkaEndpoints.frames(cfg, bounded), Outputs.kafka(cfg),
        !bounded && !cfg.modelPollInterval().isZero());
  }

  /**
   * A map applied to every record right after the source, in the source's own task (tests use it
   * to fail the whole job at a chosen moment; chained to the source, it holds the source back
   * while it waits, so checkpoint barriers come between its records, not after a read-ahead).
   */
  public ForecastJob withRecordTap(MapFunction<RawFrame, RawFrame> tap) {
    this.recordTap = tap;
    return this;
  }

  /** A hook each stage calls per element (tests make one stage throw for a chosen record). */
  public ForecastJob withProbe(StageProbe probe) {
    this.probe = probe;
    return this;
  }

  /** The models the job starts with. */
  public ModelCatalog models() {
    return models.catalog;
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
    if (cfg.metrics.prometheusPort > 0) {
      // the reporter Flink ships (flink-metrics-prometheus, a runtime dependency of the tools)
      conf.setString("metrics.reporter.prom.factory.class", PROMETHEUS_REPORTER);
      conf.setString("metrics.reporter.prom.port", Integer.toString(cfg.metrics.prometheusPort));
      // grid ids and the job name keep their dashes as label values (Prometheus allows any UTF-8)
      conf.setString("metrics.reporter.prom.filterLabelValueCharacters", "false");
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

    ModelCatalog start = models.catalog;
    SingleOutputStreamOperator<ModelCatalog> catalogs = modelCatalogs(env);

    DataStream<RawFrame> raw = env.fromSource(frames, WatermarkStrategy.noWatermarks(), "frames")
        .uid("frames-source");
    if (recordTap != null) {
      raw = raw.map(recordTap).name("record-tap").uid("record-tap");
    }

    SingleOutputStreamOperator<Frame> valid = raw
        .connect(catalogs.broadcast(ModelUpdates.STATE))
        .process(new FrameValidator(start, cfg.stream.maxFrameBytes, cfg.stream.maxTileBytes,
            cfg.futureTolerance().toMillis(), cfg.rejects.maxPayloadBytes, probe, cfg.records.acceptPlain))
        .name("validate").uid("validate");

    Duration ooo = cfg.maxOutOfOrderness();
    DataStream<Frame> timed = valid.assignTimestampsAndWatermarks(
            WatermarkStrategy.<Frame>forBoundedOutOfOrderness(ooo)
                .withTimestampAssigner(new ValidTimeAssigner())
                .withIdleness(cfg.idleTimeout()))
        .name("event-time").uid("event-time");
    // frames that came as tiles are put together here; whole frames pass through
    SingleOutputStreamOperator<Frame> wholeFrames = timed
        .keyBy(new GridKey())
        .process(new FrameTileAssembler(cfg.allowedLateness().toMillis()))
        .name("assemble-tiles").uid("assemble-tiles");

    SingleOutputStreamOperator<FrameWindow> windows = wholeFrames
        .keyBy(new GridKey())
        .connect(catalogs.broadcast(ModelUpdates.STATE))
        .process(new FrameWindowFunction(start, cfg.allowedLateness().toMillis(), probe))
        .name("windows").uid("windows");

    SingleOutputStreamOperator<WindowForecast> inferred = windows
        .connect(catalogs.broadcast())
        .transform("inference", TypeInformation.of(WindowForecast.class),
            new InferenceOperator(start, cfg.provider(), cfg.models.intraOpThreads, cfg.batching.maxWindows,
                cfg.batchMaxDelay().toMillis(), probe).maxCells(cfg.batching.maxCells)
                .runChallengers(cfg.verification.enabled))
        .uid("inference");

    // the grid's calibration adds the intervals, and the verification that moves it is keyed the same
    // way; it scores against whole frames, those that came as tiles assembled
    DataStream<Frame> observations = wholeFrames;
    if (acceptsPromoteRequests()) {
      // operators' requests (./lsntp promote) join the frames to the stage that decides which model is published
      observations = wholeFrames.union(env.fromSource(PromoteRequests.source(cfg),
              WatermarkStrategy.<Frame>forGenerator(ctx -> new EndOfTime<>()), "promote-requests")
          .uid("promote-requests").setParallelism(1));
    }
    SingleOutputStreamOperator<WindowForecast> calibrated = inferred
        .keyBy(new ForecastGridKey())
        .connect(observations.keyBy(new GridKey()))
        .process(new ForecastVerifier(cfg.allowedLateness().toMillis(), cfg.verificationWindow().toMillis(),
            new SkillDrop(cfg.alerts), cfg.intervalLevels(), cfg.verification.enabled, probe,
            new PromotionRule(cfg.promotion)),
            TypeInformation.of(WindowForecast.class))
        .name("calibrate-verify").uid("verify");
    DataStream<Forecast> forecast = calibrated.map(new WindowForecast.TheForecast()).name("forecasts").uid("forecasts");
    forecast.flatMap(new ForecastTiler(cfg.records.maxRecordBytes)).name("forecast-tiles").uid("forecast-tiles")
        .sinkTo(outputs.forecasts()).name("forecasts-sink").uid("forecasts-sink");
    SingleOutputStreamOperator<Alert> forecastAlerts = calibrated
        .process(new ForecastAlerts(new AlertEvaluator(cfg.alerts), probe), Alerts.TYPE)
        .name("forecast-alerts").uid("forecast-alerts");
    DataStream<Alert> alerts = forecastAlerts;
    if (cfg.verification.enabled) {
      // a task of its own: its transactions commit apart from the forecasts sink's, which shares the
      // calibration's task (as they did before the forecasts came to pass through it)
      calibrated.getSideOutput(ForecastVerifier.VERIFICATIONS).sinkTo(outputs.verifications())
          .name("verification-sink").uid("verification-sink").disableChaining();
      alerts = alerts.union(calibrated.getSideOutput(Alerts.TAG));
    }
    alerts.sinkTo(outputs.alerts()).name("alerts-sink").uid("alerts-sink");
    // one model-events sink: the watcher's roll-outs and the verifier's promotions
    DataStream<ModelEvent> modelEvents = calibrated.getSideOutput(ForecastVerifier.MODEL_EVENTS);
    if (watchModels) {
      modelEvents = catalogs.getSideOutput(ModelDirectoryWatcher.EVENTS).union(modelEvents);
    }
    modelEvents.sinkTo(outputs.modelEvents()).name("model-events-sink").uid("model-events-sink").setParallelism(1);
    valid.getSideOutput(Rejects.TAG)
        .union(wholeFrames.getSideOutput(Rejects.TAG), windows.getSideOutput(Rejects.TAG), inferred.getSideOutput(Rejects.TAG),
            forecastAlerts.getSideOutput(Rejects.TAG))
        .sinkTo(outputs.rejects()).name("rejects-sink").uid("rejects-sink");
  }

  /**
   * The model catalogs every stage follows: the start's, then, when the directory is watched, each
   * generation the watcher accepts (a tick every models.poll-interval drives it). The tick source
   * carries no event time; it declares its watermark at the end of time, so the stages' event time
   * is the frames' alone.
   */
  private SingleOutputStreamOperator<ModelCatalog> modelCatalogs(StreamExecutionEnvironment env) {
    if (!watchModels) {
      return env.fromData(java.util.List.of(models.catalog), TypeInformation.of(ModelCatalog.class))
          .name("models").uid("models");
    }
    double perSecond = 1000.0 / cfg.modelPollInterval().toMillis();
    DataGeneratorSource<Long> ticks = new DataGeneratorSource<>(i -> i, Long.MAX_VALUE,
        RateLimiterStrategy.perSecond(perSecond), Types.LONG);
    SingleOutputStreamOperator<ModelCatalog> catalogs = env
        .fromSource(ticks, WatermarkStrategy.<Long>forGenerator(ctx -> new EndOfTime<>()), "model-directory-ticks")
        .uid("model-directory-ticks").setParallelism(1)
        .process(new ModelDirectoryWatcher(cfg.models.directory, models), TypeInformation.of(ModelCatalog.class))
        .name("model-directory").uid("model-directory").setParallelism(1);
    return catalogs;
  }

  /**
   * Whether the job reads operators' promotion requests: an unbounded Kafka job with verification
   * where some grid's policy is manual or automatic (the request topic is the model-events topic).
   */
  private boolean acceptsPromoteRequests() {
    return watchModels && cfg.verification.enabled && cfg.kafka.bootstrapServers != null
        && (!PromotionRule.OFF.equals(cfg.promotion.policy)
            || cfg.promotion.grids.values().stream().anyMatch(v -> !PromotionRule.OFF.equals(v)));
  }

  /** A forecast's grid id: the key of its calibration and verification. */
  static final class ForecastGridKey implements org.apache.flink.api.java.functions.KeySelector<WindowForecast, String> {
    private static final long serialVersionUID = 1L;

    @Override
    public String getKey(WindowForecast f) {
      return f.forecast.getGridId();
    }
  }

  /** The watermark of a stream that carries no event time: the end of time, so it never holds the others back. */
  static final class EndOfTime<T> implements WatermarkGenerator<T>, java.io.Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public void onEvent(T tick, long timestamp, WatermarkOutput out) {}

    @Override
    public void onPeriodicEmit(WatermarkOutput out) {
      out.emitWatermark(new Watermark(Long.MAX_VALUE));
    }
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

package ai.lsntp.config;

import ai.lsntp.alerts.AlertRule;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The options of every command that runs the job (the cluster entry point, ./lsntp job, demo,
 * bench): the shared {@link ConfigOptions} plus named flags for the settings people change most.
 */
public class JobOptions {
  @Mixin public ConfigOptions config = new ConfigOptions();

  @Option(names = "--group-id", description = "Consumer group of the frames source.")
  String groupId;

  @Option(names = "--frames-topic") String framesTopic;
  @Option(names = "--forecasts-topic") String forecastsTopic;
  @Option(names = "--alerts-topic") String alertsTopic;
  @Option(names = "--rejects-topic") String rejectsTopic;
  @Option(names = "--model-events-topic") String modelEventsTopic;
  @Option(names = "--verification-topic") String verificationTopic;

  @Option(names = "--models", paramLabel = "DIR", description = "Model directory (*/model.onnx).")
  String models;

  @Option(names = "--provider", description = "cpu | cuda (cuda falls back to the CPU).")
  String provider;

  @Option(names = "--allowed-lateness", paramLabel = "DURATION") String allowedLateness;
  @Option(names = "--max-out-of-orderness", paramLabel = "DURATION") String maxOutOfOrderness;
  @Option(names = "--batch-max-windows", paramLabel = "N") Integer batchMaxWindows;
  @Option(names = "--batch-max-delay", paramLabel = "DURATION") String batchMaxDelay;
  @Option(names = "--checkpoint-interval", paramLabel = "DURATION") String checkpointInterval;

  @Option(names = "--delivery", paramLabel = "GUARANTEE", description = "exactly-once | at-least-once")
  String delivery;

  @Option(names = "--parallelism", paramLabel = "N",
      description = "Parallelism of a local run (on a cluster the deployment's parallelism decides).")
  Integer parallelism;

  @Option(names = "--prometheus-port", paramLabel = "PORT",
      description = "Expose the metrics on http://HOST:PORT/metrics (Flink's Prometheus reporter) in a local run; 0 = off.")
  Integer prometheusPort;

  @Option(names = "--alert", paramLabel = "SPEC",
      description = "Alert rule, replacing the configured list: name=N,kind=heat|frost|change,threshold=K[,within=6h][,grid=ID|*]; repeatable.")
  List<String> alerts = new ArrayList<>();

  /** The configuration: see {@link ConfigOptions} for the order; {@code commandDefaults} are a command's own. */
  public LsntpConfig toConfig(Map<String, String> commandDefaults) {
    return config.load(commandDefaults, l -> {
      put(l, "kafka.group-id", groupId);
      put(l, Topic.FRAMES.key(), framesTopic);
      put(l, Topic.FORECASTS.key(), forecastsTopic);
      put(l, Topic.ALERTS.key(), alertsTopic);
      put(l, Topic.REJECTS.key(), rejectsTopic);
      put(l, Topic.MODEL_EVENTS.key(), modelEventsTopic);
      put(l, Topic.VERIFICATION.key(), verificationTopic);
      put(l, "models.directory", models);
      put(l, "models.provider", provider);
      put(l, "stream.allowed-lateness", allowedLateness);
      put(l, "stream.max-out-of-orderness", maxOutOfOrderness);
      put(l, "batching.max-windows", batchMaxWindows == null ? null : batchMaxWindows.toString());
      put(l, "batching.max-delay", batchMaxDelay);
      put(l, "delivery.checkpoint-interval", checkpointInterval);
      put(l, "delivery.guarantee", delivery);
      put(l, "job.parallelism", parallelism == null ? null : parallelism.toString());
      put(l, "metrics.prometheus-port", prometheusPort == null ? null : prometheusPort.toString());
      if (!alerts.isEmpty()) {
        List<AlertRule> rules = new ArrayList<>();
        for (String a : alerts) {
          rules.add(AlertRule.parse(a));
        }
        l.alerts(rules);
      }
    });
  }

  private static void put(ConfigLoader l, String key, String value) {
    if (value != null) {
      l.set(key, value);
    }
  }
}

package ai.lsntp.cli;

import ai.lsntp.config.AlertRule;
import ai.lsntp.config.ConfigLoader;
import ai.lsntp.config.LsntpConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** Command-line overrides of lsntp-default.yaml, shared by every command that runs the job. */
public class JobOptions {
  @Option(names = "--config", paramLabel = "FILE", description = "YAML file merged over the defaults (lsntp-default.yaml).")
  Path config;

  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT,...", description = "Kafka bootstrap servers.")
  String bootstrapServers;

  @Option(names = "--kafka-property", paramLabel = "KEY=VALUE",
      description = "Kafka client property passed through to every client (security.protocol, sasl.*, ssl.*); repeatable.")
  Map<String, String> kafkaProperties = new LinkedHashMap<>();

  @Option(names = "--group-id", description = "Consumer group of the frames source.")
  String groupId;

  @Option(names = "--frames-topic") String framesTopic;
  @Option(names = "--forecasts-topic") String forecastsTopic;
  @Option(names = "--alerts-topic") String alertsTopic;
  @Option(names = "--rejects-topic") String rejectsTopic;

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

  @Option(names = "--parallelism", paramLabel = "N") Integer parallelism;

  @Option(names = "--alert", paramLabel = "SPEC",
      description = "Alert rule, replacing the configured list: name=N,kind=heat|frost|change,threshold=K[,within=6h][,grid=ID|*]; repeatable.")
  List<String> alerts = new ArrayList<>();

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "Any configuration key in dotted form, e.g. stream.future-tolerance=12h; repeatable.")
  Map<String, String> set = new LinkedHashMap<>();

  /** Defaults, then the config file, then {@code base} (a command's own defaults), then these flags. */
  public LsntpConfig toConfig(Map<String, String> base) {
    ConfigLoader l = new ConfigLoader();
    if (config != null) {
      l.file(config);
    }
    l.overrides(base);
    put(l, "kafka.bootstrap-servers", bootstrapServers);
    kafkaProperties.forEach(l::kafkaProperty);
    put(l, "kafka.group-id", groupId);
    put(l, "topics.frames", framesTopic);
    put(l, "topics.forecasts", forecastsTopic);
    put(l, "topics.alerts", alertsTopic);
    put(l, "topics.rejects", rejectsTopic);
    put(l, "models.directory", models);
    put(l, "models.provider", provider);
    put(l, "stream.allowed-lateness", allowedLateness);
    put(l, "stream.max-out-of-orderness", maxOutOfOrderness);
    put(l, "batching.max-windows", batchMaxWindows == null ? null : batchMaxWindows.toString());
    put(l, "batching.max-delay", batchMaxDelay);
    put(l, "delivery.checkpoint-interval", checkpointInterval);
    put(l, "delivery.guarantee", delivery);
    put(l, "job.parallelism", parallelism == null ? null : parallelism.toString());
    if (!alerts.isEmpty()) {
      List<AlertRule> rules = new ArrayList<>();
      for (String a : alerts) {
        rules.add(AlertRule.parse(a));
      }
      l.alerts(rules);
    }
    l.overrides(set);
    return l.load();
  }

  private static void put(ConfigLoader l, String key, String value) {
    if (value != null) {
      l.set(key, value);
    }
  }
}

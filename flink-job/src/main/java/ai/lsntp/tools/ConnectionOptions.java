package ai.lsntp.tools;

import ai.lsntp.config.ConfigLoader;
import ai.lsntp.config.LsntpConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import picocli.CommandLine.Option;

/**
 * Where the broker and the topics are: the same configuration the job reads (bundled defaults,
 * then --config FILE, then --set key=value), so the tools and the job agree on topic names.
 */
public class ConnectionOptions {
  @Option(names = "--config", paramLabel = "FILE", description = "The job's YAML configuration (topics, kafka.*); defaults are the bundled lsntp-default.yaml.")
  Path config;

  @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override one configuration key, e.g. --set topics.frames=my.frames (repeatable).")
  Map<String, String> overrides = new LinkedHashMap<>();

  @Option(names = {"-b", "--bootstrap-servers"}, paramLabel = "HOST:PORT[,...]", description = "Kafka bootstrap servers (default: kafka.bootstrap-servers of the configuration, 127.0.0.1:9092).")
  String bootstrapServers;

  @Option(names = "--kafka-property", paramLabel = "KEY=VALUE", description = "Extra Kafka client property (security.protocol, sasl.*, ssl.*; repeatable).")
  Map<String, String> kafkaProperties = new LinkedHashMap<>();

  private LsntpConfig loaded;

  public LsntpConfig config() {
    if (loaded == null) {
      ConfigLoader l = new ConfigLoader();
      if (config != null) {
        l.file(UserPaths.input(config));
      }
      l.overrides(overrides);
      if (bootstrapServers != null) {
        l.set("kafka.bootstrap-servers", bootstrapServers);
      }
      kafkaProperties.forEach(l::kafkaProperty);
      loaded = l.load();
    }
    return loaded;
  }

  public String bootstrap() {
    return config().kafka.bootstrapServers;
  }

  /** Client properties (bootstrap and kafka.properties), plus short timeouts so a dead broker is reported promptly. */
  public Properties clientProperties() {
    return config().kafkaProperties();
  }
}

package ai.lsntp.config;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;
import picocli.CommandLine.Option;

/**
 * The command-line options every command shares (the job's entry point, demo, replay, watch,
 * bench): which configuration, which broker. All of them read the job's own configuration, so
 * the tools and the job agree on topic names and Kafka settings.
 *
 * <p>The one order, most general first: bundled lsntp-default.yaml, then {@code --config FILE},
 * then LSNTP_KAFKA_* environment variables, then the command's own defaults, then its named flags,
 * then {@code --set key=value} (the most specific, so it wins over everything).
 */
public class ConfigOptions {
  @Option(names = "--config", paramLabel = "FILE",
      description = "YAML file merged over the bundled defaults (lsntp-default.yaml: every key, commented).")
  Path config;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "Any configuration key in dotted form, e.g. --set topics.frames=my.frames; applied last (repeatable).")
  Map<String, String> set = new LinkedHashMap<>();

  @Option(names = {"-b", "--bootstrap-servers"}, paramLabel = "HOST:PORT[,...]",
      description = "Kafka bootstrap servers (default: kafka.bootstrap-servers, 127.0.0.1:9092).")
  String bootstrapServers;

  @Option(names = "--kafka-property", paramLabel = "KEY=VALUE",
      description = "Kafka client property for every client (security.protocol, sasl.mechanism, ssl.*; repeatable). "
          + "Keep secrets out of the command line: put sasl.jaas.config in the --config file or in LSNTP_KAFKA_* "
          + "environment variables (deploy/OPERATIONS.md).")
  Map<String, String> kafkaProperties = new LinkedHashMap<>();

  private LsntpConfig loaded;

  /** The configuration with these options and no command defaults or named flags. */
  public LsntpConfig config() {
    if (loaded == null) {
      loaded = load(Map.of(), l -> { });
    }
    return loaded;
  }

  /**
   * Builds the configuration: defaults, --config, {@code commandDefaults}, {@code namedFlags} (a
   * command's own flags), --bootstrap-servers and --kafka-property, then --set.
   */
  public LsntpConfig load(Map<String, String> commandDefaults, Consumer<ConfigLoader> namedFlags) {
    ConfigLoader l = new ConfigLoader();
    if (config != null) {
      l.file(UserPaths.input(config));
    }
    l.environment(System.getenv());
    l.overrides(commandDefaults);
    namedFlags.accept(l);
    if (bootstrapServers != null) {
      l.set("kafka.bootstrap-servers", bootstrapServers);
    }
    kafkaProperties.forEach(l::kafkaProperty);
    l.overrides(set);
    warnAboutSecretsOnTheCommandLine();
    loaded = l.load();
    return loaded;
  }

  private void warnAboutSecretsOnTheCommandLine() {
    java.util.List<String> shown = new java.util.ArrayList<>();
    kafkaProperties.keySet().stream().filter(ConfigLoader::isSecret).forEach(k -> shown.add("--kafka-property " + k));
    set.keySet().stream().filter(k -> k.startsWith("kafka.properties.") && ConfigLoader.isSecret(k))
        .forEach(k -> shown.add("--set " + k));
    if (!shown.isEmpty()) {
      System.err.println("lsntp: warning: " + String.join(", ", shown) + " puts a credential on the command line, "
          + "where every local user can read it (ps); use a --config file readable only by you, or "
          + ConfigLoader.KAFKA_ENV_PREFIX + "<PROPERTY> environment variables");
    }
  }

  public String bootstrap() {
    return config().kafka.bootstrapServers;
  }

  /** Client properties of the loaded configuration: bootstrap servers and kafka.properties (security included). */
  public Properties clientProperties() {
    return config().kafkaProperties();
  }
}

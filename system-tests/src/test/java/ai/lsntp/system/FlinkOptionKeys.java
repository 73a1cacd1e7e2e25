package ai.lsntp.system;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.FallbackKey;

/**
 * The configuration keys Flink 2.3 knows (the ConfigOption constants of its option classes, with
 * their deprecated fallback keys): a key in a deployment's Flink configuration that is not among
 * them would be ignored without a word, as `state.checkpoints.dir` is since Flink 2.0.
 */
final class FlinkOptionKeys {
  private static final String[] OPTION_CLASSES = {
    "org.apache.flink.configuration.CheckpointingOptions", "org.apache.flink.configuration.StateBackendOptions",
    "org.apache.flink.configuration.StateRecoveryOptions", "org.apache.flink.configuration.RestartStrategyOptions",
    "org.apache.flink.configuration.HighAvailabilityOptions", "org.apache.flink.configuration.CoreOptions",
    "org.apache.flink.configuration.TaskManagerOptions", "org.apache.flink.configuration.JobManagerOptions",
    "org.apache.flink.configuration.NettyShuffleEnvironmentOptions", "org.apache.flink.configuration.PipelineOptions",
    "org.apache.flink.configuration.RestOptions", "org.apache.flink.configuration.HeartbeatManagerOptions",
    "org.apache.flink.configuration.ClusterOptions", "org.apache.flink.configuration.SecurityOptions",
    "org.apache.flink.configuration.MetricOptions", "org.apache.flink.configuration.ExecutionOptions",
  };
  private static final Set<String> KNOWN = new HashSet<>();
  private static final Set<String> DEPRECATED = new HashSet<>();

  static {
    for (String c : OPTION_CLASSES) {
      try {
        for (Field f : Class.forName(c).getFields()) {
          if (Modifier.isStatic(f.getModifiers()) && ConfigOption.class.isAssignableFrom(f.getType())) {
            ConfigOption<?> o = (ConfigOption<?>) f.get(null);
            KNOWN.add(o.key());
            for (FallbackKey k : o.fallbackKeys()) {
              DEPRECATED.add(k.getKey());
            }
          }
        }
      } catch (ReflectiveOperationException e) {
        throw new AssertionError("Flink option class " + c + " is not on the classpath", e);
      }
    }
  }

  private FlinkOptionKeys() {}

  /**
   * Why a key would not do what it says, or null when Flink knows it under this name. Keys of
   * other components (the Kubernetes operator's kubernetes.*, the file systems' s3.*) are not judged.
   */
  static String problem(String key) {
    if (key.startsWith("kubernetes.") || key.startsWith("s3.") || key.startsWith("fs.")) {
      return null;
    }
    java.util.regex.Matcher reporter = java.util.regex.Pattern.compile("metrics\\.reporter\\.[^.]+\\.(.+)").matcher(key);
    if (reporter.matches()) {
      // a named reporter's settings: Flink's own per-reporter keys, or the reporter's (e.g. port)
      String own = reporter.group(1);
      return List.of("factory.class", "interval", "scope.delimiter", "scope.variables.excludes",
          "scope.variables.additional", "filter.includes", "filter.excludes", "port", "filterLabelValueCharacters")
          .contains(own) ? null : key + ": '" + own + "' is no setting of a Flink metric reporter here";
    }
    if (KNOWN.contains(key)) {
      return null;
    }
    return DEPRECATED.contains(key) ? key + " is a deprecated name: use the current key"
        : key + " is not a Flink 2.3 configuration key (ignored by Flink)";
  }
}

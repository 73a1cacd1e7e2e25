package ai.lsntp.testing;

import ai.lsntp.config.ConfigLoader;
import ai.lsntp.config.Topic;

/** The job's configuration in tests: one broker, topics under one prefix, the shipped models. */
public final class TestJobConfig {
  private TestJobConfig() {}

  /**
   * Bootstrap servers, group id and every topic under {@code prefix} ({@link Topic#settingsUnder}),
   * models from models/, checkpoints in a fresh temporary directory.
   */
  public static ConfigLoader onTopics(String bootstrapServers, String prefix) {
    java.nio.file.Path checkpoints;
    try {
      checkpoints = java.nio.file.Files.createTempDirectory("lsntp-checkpoints-" + prefix + "-");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return new ConfigLoader()
        .set("checkpoints.directory", checkpoints.toString())
        .set("kafka.bootstrap-servers", bootstrapServers)
        .set("kafka.group-id", prefix)
        .overrides(Topic.settingsUnder(prefix))
        .set("models.directory", TestPaths.models().toString());
  }

  /** The command-line arguments that put every topic under {@code prefix}, for a job started as a process. */
  public static java.util.List<String> topicArguments(String prefix) {
    java.util.List<String> args = new java.util.ArrayList<>();
    Topic.settingsUnder(prefix).forEach((key, name) -> {
      args.add("--set");
      args.add(key + "=" + name);
    });
    return args;
  }
}

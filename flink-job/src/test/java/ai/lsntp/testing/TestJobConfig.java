package ai.lsntp.testing;

import ai.lsntp.config.ConfigLoader;

/** The job's configuration in tests: one broker, topics under one prefix, the shipped models. */
public final class TestJobConfig {
  private TestJobConfig() {}

  /** The job's six topics under one prefix, as {@link #onTopics} names them. */
  public static String[] topics(String prefix) {
    return new String[] {prefix + ".frames", prefix + ".forecasts", prefix + ".alerts", prefix + ".rejects",
        prefix + ".model-events", prefix + ".verification"};
  }

  /**
   * Bootstrap servers, group id and the four topics {@code prefix.frames|forecasts|alerts|rejects},
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
        .set("topics.frames", prefix + ".frames")
        .set("topics.forecasts", prefix + ".forecasts")
        .set("topics.alerts", prefix + ".alerts")
        .set("topics.rejects", prefix + ".rejects")
        .set("topics.model-events", prefix + ".model-events")
        .set("topics.verification", prefix + ".verification")
        .set("models.directory", TestPaths.models().toString());
  }
}

package ai.lsntp.testing;

import ai.lsntp.config.ConfigLoader;

/** The job's configuration in tests: one broker, topics under one prefix, the shipped models. */
public final class TestJobConfig {
  private TestJobConfig() {}

  /** Bootstrap servers, group id and the four topics {@code prefix.frames|forecasts|alerts|rejects}, models from models/. */
  public static ConfigLoader onTopics(String bootstrapServers, String prefix) {
    return new ConfigLoader()
        .set("kafka.bootstrap-servers", bootstrapServers)
        .set("kafka.group-id", prefix)
        .set("topics.frames", prefix + ".frames")
        .set("topics.forecasts", prefix + ".forecasts")
        .set("topics.alerts", prefix + ".alerts")
        .set("topics.rejects", prefix + ".rejects")
        .set("models.directory", TestPaths.models().toString());
  }
}

package ai.lsntp.system;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.TestPaths;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What each shipped jar holds: the Flink application jar is the job alone (no command, demo,
 * benchmark or embedded broker, none of which a cluster runs), and the tools jar for containers
 * carries replay and watch with the clients they need.
 */
class ArtefactsTest {
  static BuildFacts build;

  @BeforeAll
  static void read() throws Exception {
    build = BuildFacts.read();
  }

  @Test
  void theApplicationJarHoldsTheJobAndNoToolsOrBroker() throws Exception {
    List<String> app = Jars.entries(TestPaths.root().resolve(build.appJar()));
    assertThat(app).contains(build.mainClass.replace('.', '/') + ".class", "ai/lsntp/job/ForecastJob.class",
        "lsntp-default.yaml", "org/apache/flink/connector/kafka/sink/KafkaSink.class");
    assertThat(app).noneMatch(e -> e.startsWith("ai/lsntp/cli/") || e.startsWith("ai/lsntp/tools/")
        || e.startsWith("ai/lsntp/embedded/") || e.startsWith("ai/lsntp/bench/"));
    assertThat(app).as("Kafka's broker (Scala package kafka.*, KRaft) and test kit").noneMatch(e -> (e.startsWith("kafka/") && e.endsWith(".class"))
        || e.startsWith("org/apache/kafka/raft/") || e.startsWith("org/apache/kafka/common/test/")
        || e.startsWith("scala/"));
    assertThat(app).as("Flink itself is the cluster's").noneMatch(e -> e.startsWith("org/apache/flink/runtime/")
        || e.startsWith("org/apache/flink/streaming/api/environment/"));
  }

  @Test
  void theToolsJarRunsReplayAndWatchWithoutTheModelRuntime() throws Exception {
    List<String> tools = Jars.entries(TestPaths.root().resolve(build.toolsJar()));
    assertThat(tools).contains("ai/lsntp/tools/ReplayCommand.class", "ai/lsntp/tools/WatchCommand.class",
        "ai/lsntp/config/ConfigLoader.class", "lsntp-default.yaml", "ai/lsntp/avro/TemperatureFrame.class",
        "org/apache/kafka/clients/producer/KafkaProducer.class", "picocli/CommandLine.class",
        "org/apache/avro/Schema.class");
    assertThat(tools).noneMatch(e -> e.startsWith("ai/onnxruntime/") || (e.startsWith("kafka/") && e.endsWith(".class"))
        || e.startsWith("org/apache/flink/runtime/"));
  }
}

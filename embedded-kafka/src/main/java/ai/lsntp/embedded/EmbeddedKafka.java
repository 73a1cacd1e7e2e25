package ai.lsntp.embedded;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A real single-node Kafka (KRaft, combined broker + controller) inside this JVM, on 127.0.0.1,
 * started with Kafka's own KafkaClusterTestKit: for the embedded demo and the tests.
 */
public final class EmbeddedKafka implements AutoCloseable {
  private final KafkaClusterTestKit cluster;

  private EmbeddedKafka(KafkaClusterTestKit cluster) {
    this.cluster = cluster;
  }

  public static EmbeddedKafka start() throws Exception {
    // our own base directory, deleted on close(): the test kit's default temp directory is deleted
    // by a JVM shutdown hook, which on Ctrl-C races the broker's own orderly shutdown
    java.nio.file.Path base = java.nio.file.Files.createTempDirectory("lsntp-kafka-");
    KafkaClusterTestKit cluster = new KafkaClusterTestKit.Builder(
            new TestKitNodes.Builder().setCombined(true).setNumBrokerNodes(1).setNumControllerNodes(1)
                .setBaseDirectory(base).build())
        .setDeleteOnClose(true)
        .setConfigProp("offsets.topic.replication.factor", "1")
        .setConfigProp("offsets.topic.num.partitions", "1")
        .setConfigProp("transaction.state.log.replication.factor", "1")
        .setConfigProp("transaction.state.log.min.isr", "1")
        .setConfigProp("transaction.state.log.num.partitions", "1")
        .setConfigProp("group.initial.rebalance.delay.ms", "0")
        .setConfigProp("transaction.max.timeout.ms", "3600000")
        .setConfigProp("auto.create.topics.enable", "false")
        .setConfigProp("num.network.threads", "2")
        .setConfigProp("num.io.threads", "2")
        .setConfigProp("log.flush.interval.messages", Long.toString(Long.MAX_VALUE))
        .build();
    java.io.PrintStream out = System.out;
    try {
      // the test kit prints its bootstrap metadata to stdout; keep the demo's output to forecasts
      System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
      cluster.format();
      cluster.startup();
      cluster.waitForReadyBrokers();
    } catch (Exception e) {
      cluster.close();
      throw e;
    } finally {
      System.setOut(out);
    }
    return new EmbeddedKafka(cluster);
  }

  public String bootstrapServers() {
    return cluster.bootstrapServers();
  }

  /** Creates the topics (one partition each unless given) if they do not exist. */
  public void createTopics(int partitions, String... topics) throws Exception {
    createTopics(partitions, Map.of(), topics);
  }

  /** Creates the topics with topic-level settings (e.g. max.message.bytes) if they do not exist. */
  public void createTopics(int partitions, Map<String, String> configs, String... topics) throws Exception {
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrapServers()))) {
      List<NewTopic> nt = new ArrayList<>();
      for (String t : topics) {
        nt.add(new NewTopic(t, partitions, (short) 1).configs(configs));
      }
      try {
        admin.createTopics(nt).all().get(60, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) {
          throw e;
        }
      }
    }
  }

  @Override
  public void close() throws Exception {
    cluster.close();
  }
}

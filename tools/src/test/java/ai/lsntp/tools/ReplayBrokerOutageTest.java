package ai.lsntp.tools;

import ai.lsntp.testing.Cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.RecordCodec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import kafka.server.BrokerServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.Test;

/**
 * A broker hiccup in the middle of a replay: the real broker is stopped for a few seconds and
 * started again on the same port. The replay must ride it out (retries, idempotent producer) and
 * end with every frame acknowledged exactly once on the topic, in order.
 */
class ReplayBrokerOutageTest {
  @Test
  void replaySurvivesABrokerRestartWithEveryFrameOnceAndInOrder() throws Exception {
    try (KafkaClusterTestKit cluster = new KafkaClusterTestKit.Builder(
            new TestKitNodes.Builder().setCombined(false).setNumBrokerNodes(1).setNumControllerNodes(1).build())
        .setConfigProp("offsets.topic.replication.factor", "1")
        .setConfigProp("offsets.topic.num.partitions", "1")
        .setConfigProp("transaction.state.log.replication.factor", "1")
        .setConfigProp("transaction.state.log.min.isr", "1")
        .setConfigProp("group.initial.rebalance.delay.ms", "0")
        .setConfigProp("auto.create.topics.enable", "false")
        .setConfigProp("num.network.threads", "2")
        .setConfigProp("num.io.threads", "2")
        .build()) {
      cluster.format();
      cluster.startup();
      cluster.waitForReadyBrokers();
      String bootstrap = cluster.bootstrapServers();
      String topic = "outage-" + UUID.randomUUID().toString().substring(0, 8);
      try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
        admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
      }
      int n = 40;
      ReplayCommand replay = new ReplayCommand();
      CompletableFuture<Cli> run = CompletableFuture.supplyAsync(() -> Cli.run(replay, TestPaths.ukFrames().toString(),
          "-b", bootstrap, "--frames-topic", topic, "--pace", "100ms", "--limit", Integer.toString(n),
          "--delivery-timeout", "60s", "--progress", "lines"));
      // let some frames through, then take the broker away for 3 s
      long until = System.currentTimeMillis() + 30_000;
      while (replay.acked() < 8 && System.currentTimeMillis() < until) {
        Thread.sleep(50);
      }
      assertThat(replay.acked()).as("frames acknowledged before the outage").isGreaterThanOrEqualTo(8);
      BrokerServer broker = cluster.brokers().values().iterator().next();
      broker.shutdown();
      broker.awaitShutdown();
      long ackedDuringOutageStart = replay.acked();
      Thread.sleep(3000);
      assertThat(replay.acked()).as("nothing is acknowledged while the broker is down").isEqualTo(ackedDuringOutageStart);
      broker.startup();
      cluster.waitForReadyBrokers();

      Cli r = run.get(120, TimeUnit.SECONDS);
      assertThat(r.exit).as(r.toString()).isZero();
      assertThat(replay.acked()).isEqualTo(n);
      assertThat(replay.failed()).isZero();
      assertThat(r.out).contains(n + " frames sent to " + topic + ", " + n + " acknowledged, 0 failed");

      List<TemperatureFrame> want = RealFrames.uk(n);
      RecordCodec<TemperatureFrame> avro = RecordCodec.of(TemperatureFrame.class);
      List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
      try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrap,
          "group.id", "check", "auto.offset.reset", "earliest", "enable.auto.commit", "false"),
          new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
        c.subscribe(List.of(topic));
        long end = System.currentTimeMillis() + 30_000;
        while (System.currentTimeMillis() < end && got.size() < n) {
          c.poll(Duration.ofMillis(200)).forEach(got::add);
        }
        c.poll(Duration.ofMillis(1000)).forEach(got::add);
      }
      assertThat(got).as("every frame exactly once (idempotent producer: no duplicates from retries)").hasSize(n);
      for (int i = 0; i < n; i++) {
        assertThat(avro.decode(got.get(i).value()).getValidTime()).as("frame %d in order", i)
            .isEqualTo(want.get(i).getValidTime());
      }
    }
  }
}

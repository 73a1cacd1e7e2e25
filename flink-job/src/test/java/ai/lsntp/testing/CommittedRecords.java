package ai.lsntp.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** Every record committed on some topics, read in the background by a read_committed consumer, with when it arrived. */
public final class CommittedRecords implements AutoCloseable {
  /** One record as it arrived. */
  public record Arrived(String topic, byte[] value, long arrivedAt) {}

  private final List<Arrived> seen = new CopyOnWriteArrayList<>();
  private final KafkaConsumer<byte[], byte[]> consumer;
  private final Thread thread;
  private volatile boolean running = true;

  public CommittedRecords(String bootstrap, String... topics) {
    consumer = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrap, "group.id", "test-" + UUID.randomUUID(),
        "auto.offset.reset", "earliest", "enable.auto.commit", "false", "isolation.level", "read_committed"),
        new ByteArrayDeserializer(), new ByteArrayDeserializer());
    consumer.subscribe(List.of(topics));
    thread = new Thread(() -> {
      try {
        while (running) {
          for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
            seen.add(new Arrived(r.topic(), r.value(), System.currentTimeMillis()));
          }
        }
      } catch (WakeupException e) {
        // closing
      } finally {
        consumer.close(Duration.ofSeconds(2));
      }
    }, "committed-records");
    thread.setDaemon(true);
    thread.start();
  }

  public List<Arrived> on(String topic) {
    List<Arrived> out = new ArrayList<>();
    for (Arrived a : seen) {
      if (a.topic().equals(topic)) {
        out.add(a);
      }
    }
    return out;
  }

  /** Waits until {@code condition} holds for the records of {@code topic}; false on timeout. */
  public boolean await(String topic, Predicate<List<Arrived>> condition, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      if (condition.test(on(topic))) {
        return true;
      }
      Thread.sleep(100);
    }
    return condition.test(on(topic));
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    consumer.wakeup();
    thread.join(5000);
  }
}

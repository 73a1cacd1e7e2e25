package ai.lsntp.tools;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.codec.AvroBytes;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The one reader of the job's output: a read_committed consumer (only the output of committed
 * Flink checkpoints) of the forecasts, alerts and rejects topics that decodes each record and hands
 * it to a {@link Handler}. Offsets are never committed: every watcher reads for itself.
 */
public final class TopicWatcher implements AutoCloseable {
  /** What a watcher does with each record; a record that is not what its topic carries goes to {@link #undecodable}. */
  public interface Handler {
    void forecast(Forecast f);

    void alert(Alert a);

    void reject(RejectedFrame r);

    void undecodable(ConsumerRecord<byte[], byte[]> record, String expected, Exception why);
  }

  private final KafkaConsumer<byte[], byte[]> consumer;
  private final String forecasts;
  private final String alerts;
  private final String rejects;
  private final AvroBytes<Forecast> fc = AvroBytes.of(Forecast.class);
  private final AvroBytes<Alert> ac = AvroBytes.of(Alert.class);
  private final AvroBytes<RejectedFrame> rc = AvroBytes.of(RejectedFrame.class);

  /**
   * @param forecasts, alerts, rejects topic names, or null for a topic not to read
   * @param groupId null for a fresh group per watcher
   */
  public TopicWatcher(Properties clientProperties, String forecasts, String alerts, String rejects, String groupId,
      boolean fromBeginning) {
    Properties p = new Properties();
    p.putAll(clientProperties);
    p.put("group.id", groupId != null ? groupId : "lsntp-watch-" + UUID.randomUUID());
    p.put("isolation.level", "read_committed");
    p.put("enable.auto.commit", "false");
    p.put("auto.offset.reset", fromBeginning ? "earliest" : "latest");
    p.putIfAbsent("client.id", "lsntp-watch");
    this.forecasts = forecasts;
    this.alerts = alerts;
    this.rejects = rejects;
    this.consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    consumer.subscribe(topics());
  }

  /** The topics read, in the order forecasts, alerts, rejects. */
  public List<String> topics() {
    List<String> t = new ArrayList<>();
    for (String s : new String[] {forecasts, alerts, rejects}) {
      if (s != null) {
        t.add(s);
      }
    }
    return t;
  }

  /** Polls once; returns the number of records handled (0 when none came within {@code timeout}). */
  public int poll(Duration timeout, Handler handler) {
    ConsumerRecords<byte[], byte[]> recs = consumer.poll(timeout);
    for (ConsumerRecord<byte[], byte[]> r : recs) {
      String expected = r.topic().equals(forecasts) ? "Forecast" : r.topic().equals(alerts) ? "Alert" : "RejectedFrame";
      if (r.value() == null) {
        handler.undecodable(r, expected, new IOException("the record has no value (a tombstone)"));
        continue;
      }
      try {
        switch (expected) {
          case "Forecast":
            handler.forecast(fc.decode(r.value()));
            break;
          case "Alert":
            handler.alert(ac.decode(r.value()));
            break;
          default:
            handler.reject(rc.decode(r.value()));
            break;
        }
      } catch (IOException e) {
        handler.undecodable(r, expected, e);
      }
    }
    return recs.count();
  }

  /** Makes a blocked or the next {@link #poll} throw WakeupException (Ctrl-C); safe from any thread. */
  public void wakeup() {
    consumer.wakeup();
  }

  @Override
  public void close() {
    consumer.close(Duration.ofSeconds(2));
  }
}

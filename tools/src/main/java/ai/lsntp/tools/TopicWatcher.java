package ai.lsntp.tools;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.Verification;
import ai.lsntp.schemas.ForecastTiles;
import ai.lsntp.schemas.RecordCodec;
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
 * Flink checkpoints) of the forecasts, alerts, rejects and verification topics that decodes each
 * record and hands it to a {@link Handler}. A forecast that travels as tiles (Forecast.tile) is
 * handed on once, whole, when its last tile has come. Offsets are never committed: every watcher
 * reads for itself.
 */
public final class TopicWatcher implements AutoCloseable {
  /** What a watcher does with each record (nothing, unless it says); a record that is not what its topic carries goes to {@link #undecodable}. */
  public interface Handler {
    default void forecast(Forecast f) {}

    default void alert(Alert a) {}

    default void reject(RejectedFrame r) {}

    default void verification(Verification v) {}

    /** Tiles of a forecast that could not be put together (from the middle of a topic, or broken), with why. */
    default void forecastTilesDropped(Forecast tile, String why) {}

    void undecodable(ConsumerRecord<byte[], byte[]> record, String expected, Exception why);
  }

  /** The topics to read; null for one not to read. */
  public record Topics(String forecasts, String alerts, String rejects, String verification) {
    public static Topics onlyForecasts(String topic) {
      return new Topics(topic, null, null, null);
    }
  }

  private final KafkaConsumer<byte[], byte[]> consumer;
  private final Topics topics;
  private final RecordCodec<Forecast> fc = RecordCodec.of(Forecast.class);
  private final RecordCodec<Alert> ac = RecordCodec.of(Alert.class);
  private final RecordCodec<RejectedFrame> rc = RecordCodec.of(RejectedFrame.class);
  private final RecordCodec<Verification> vc = RecordCodec.of(Verification.class);
  /** Tiled forecasts being put together; the handler of the poll that completes one gets it. */
  private final ForecastTiles.Assembler tiles = new ForecastTiles.Assembler(64, this::dropped);
  private Handler current;

  /** @param groupId null for a fresh group per watcher */
  public TopicWatcher(Properties clientProperties, Topics topics, String groupId, boolean fromBeginning) {
    Properties p = new Properties();
    p.putAll(clientProperties);
    p.put("group.id", groupId != null ? groupId : "lsntp-watch-" + UUID.randomUUID());
    p.put("isolation.level", "read_committed");
    p.put("enable.auto.commit", "false");
    p.put("auto.offset.reset", fromBeginning ? "earliest" : "latest");
    p.putIfAbsent("client.id", "lsntp-watch");
    this.topics = topics;
    this.consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    consumer.subscribe(topics());
  }

  /** The topics read, in the order forecasts, alerts, rejects, verification. */
  public List<String> topics() {
    List<String> t = new ArrayList<>();
    for (String s : new String[] {topics.forecasts(), topics.alerts(), topics.rejects(), topics.verification()}) {
      if (s != null) {
        t.add(s);
      }
    }
    return t;
  }

  /** Polls once; returns the number of records handled (0 when none came within {@code timeout}). */
  public int poll(Duration timeout, Handler handler) {
    current = handler;
    ConsumerRecords<byte[], byte[]> recs = consumer.poll(timeout);
    for (ConsumerRecord<byte[], byte[]> r : recs) {
      String expected = r.topic().equals(topics.forecasts()) ? "Forecast" : r.topic().equals(topics.alerts()) ? "Alert"
          : r.topic().equals(topics.verification()) ? "Verification" : "RejectedFrame";
      if (r.value() == null) {
        handler.undecodable(r, expected, new IOException("the record has no value (a tombstone)"));
        continue;
      }
      try {
        switch (expected) {
          case "Forecast":
            Forecast whole = tiles.add(fc.decode(r.value()));
            if (whole != null) {
              handler.forecast(whole);
            }
            break;
          case "Alert":
            handler.alert(ac.decode(r.value()));
            break;
          case "Verification":
            handler.verification(vc.decode(r.value()));
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

  private void dropped(Forecast tile, String why) {
    current.forecastTilesDropped(tile, why);
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

package ai.lsntp.cli;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.codec.AvroBytes;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** A read_committed consumer of the forecasts, alerts and rejects topics. */
public final class Watcher implements AutoCloseable {
  private final KafkaConsumer<byte[], byte[]> consumer;
  private final String forecasts;
  private final String alerts;
  private final AvroBytes<Forecast> fa = AvroBytes.of(Forecast.class);
  private final AvroBytes<Alert> aa = AvroBytes.of(Alert.class);
  private final AvroBytes<RejectedFrame> ra = AvroBytes.of(RejectedFrame.class);

  public Watcher(Properties kafka, String forecasts, String alerts, String rejects, boolean fromBeginning) {
    Properties p = new Properties();
    p.putAll(kafka);
    p.put("group.id", "lsntp-watch-" + UUID.randomUUID());
    p.put("auto.offset.reset", fromBeginning ? "earliest" : "latest");
    p.put("enable.auto.commit", "false");
    p.put("isolation.level", "read_committed");
    consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    consumer.subscribe(rejects == null ? List.of(forecasts, alerts) : List.of(forecasts, alerts, rejects));
    this.forecasts = forecasts;
    this.alerts = alerts;
  }

  /** Polls once and hands each decoded record to its handler. */
  public void poll(Duration timeout, Consumer<Forecast> onForecast, Consumer<Alert> onAlert,
      Consumer<RejectedFrame> onReject) throws IOException {
    for (ConsumerRecord<byte[], byte[]> r : consumer.poll(timeout)) {
      if (r.topic().equals(forecasts)) {
        onForecast.accept(fa.decode(r.value()));
      } else if (r.topic().equals(alerts)) {
        onAlert.accept(aa.decode(r.value()));
      } else {
        onReject.accept(ra.decode(r.value()));
      }
    }
  }

  public void wakeup() {
    consumer.wakeup();
  }

  @Override
  public void close() {
    consumer.close(Duration.ofSeconds(2));
  }
}

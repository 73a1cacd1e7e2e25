package ai.lsntp.job;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.Verification;
import ai.lsntp.config.LsntpConfig;
import java.util.Properties;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

/** The production sources and sinks, built from the configuration. */
public final class KafkaEndpoints {
  private KafkaEndpoints() {}

  /** The frames source; {@code bounded} stops at the offsets that are latest at start (tests, replays). */
  @SuppressWarnings("deprecation")
  public static KafkaSource<RawFrame> frames(LsntpConfig cfg, boolean bounded) {
    KafkaSourceBuilder<RawFrame> b = KafkaSource.<RawFrame>builder()
        .setProperties(cfg.kafkaProperties())
        .setBootstrapServers(cfg.kafka.bootstrapServers)
        .setTopics(cfg.topics.frames)
        .setGroupId(cfg.kafka.groupId)
        .setStartingOffsets(OffsetsInitializer.committedOffsets(
            "latest".equals(cfg.kafka.startFrom) ? OffsetResetStrategy.LATEST : OffsetResetStrategy.EARLIEST))
        .setProperty("isolation.level", "read_committed")
        .setDeserializer(new RawFrameDeserializer());
    if (bounded) {
      b.setBounded(OffsetsInitializer.latest());
    } else {
      b.setProperty("partition.discovery.interval.ms", "60000");
    }
    return b.build();
  }

  public static Sink<Forecast> forecasts(LsntpConfig cfg) {
    return sink(cfg, cfg.topics.forecasts, Forecast.class, f -> f.getGridId(), "forecasts");
  }

  public static Sink<Alert> alerts(LsntpConfig cfg) {
    return sink(cfg, cfg.topics.alerts, Alert.class, a -> a.getGridId(), "alerts");
  }

  public static Sink<RejectedFrame> rejects(LsntpConfig cfg) {
    return sink(cfg, cfg.topics.rejects, RejectedFrame.class, r -> r.getGridId(), "rejects");
  }

  public static Sink<ModelEvent> modelEvents(LsntpConfig cfg) {
    return sink(cfg, cfg.topics.modelEvents, ModelEvent.class, e -> e.getGridId() != null ? e.getGridId() : e.getModelPath(),
        "model-events");
  }

  public static Sink<Verification> verifications(LsntpConfig cfg) {
    return sink(cfg, cfg.topics.verification, Verification.class, v -> v.getGridId(), "verification");
  }

  private static <T extends SpecificRecord> Sink<T> sink(LsntpConfig cfg, String topic, Class<T> type,
      AvroRecordSerializer.KeyOf<T> key, String name) {
    Properties p = cfg.kafkaProperties();
    p.setProperty("transaction.timeout.ms", Long.toString(cfg.transactionTimeout().toMillis()));
    p.setProperty("compression.type", "lz4");
    // forecasts are cut into tiles of at most records.max-record-bytes; the producer must take them
    long maxRequest = Long.parseLong(p.getProperty("max.request.size", "1048576"));
    p.setProperty("max.request.size", Long.toString(Math.max(maxRequest, cfg.records.maxRecordBytes)));
    if (!cfg.exactlyOnce()) {
      p.setProperty("linger.ms", "0");
    }
    KafkaSink<T> sink = KafkaSink.<T>builder()
        .setBootstrapServers(cfg.kafka.bootstrapServers)
        .setKafkaProducerConfig(p)
        .setRecordSerializer(new AvroRecordSerializer<>(topic, type, key, cfg.records.writePlain()))
        .setDeliveryGuarantee(cfg.exactlyOnce() ? DeliveryGuarantee.EXACTLY_ONCE : DeliveryGuarantee.AT_LEAST_ONCE)
        .setTransactionalIdPrefix(cfg.delivery.transactionalIdPrefix + "-" + name)
        .build();
    // exactly-once: a commit the connector gives up is checked with Kafka and the verdict logged (CommitCheckedSink)
    return cfg.exactlyOnce() ? new CommitCheckedSink<>(sink, cfg.kafkaProperties(), name) : sink;
  }
}

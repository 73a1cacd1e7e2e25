package ai.lsntp.job;

import ai.lsntp.schemas.RecordCodec;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Writes one Avro record per Kafka record, keyed by grid id (so a grid's records stay in order), in
 * single-object encoding (or plain Avro while records.write = plain).
 */
public class AvroRecordSerializer<T extends SpecificRecord> implements KafkaRecordSerializationSchema<T> {
  private static final long serialVersionUID = 1L;

  /** The Kafka key of a record. */
  public interface KeyOf<T> extends Serializable {
    String key(T record);
  }

  private final String topic;
  private final RecordCodec<T> avro;
  private final KeyOf<T> keyOf;
  private final boolean plain;

  public AvroRecordSerializer(String topic, Class<T> type, KeyOf<T> keyOf, boolean plain) {
    this.topic = topic;
    this.avro = RecordCodec.of(type);
    this.keyOf = keyOf;
    this.plain = plain;
  }

  @Override
  public ProducerRecord<byte[], byte[]> serialize(T element, KafkaSinkContext context, Long timestamp) {
    String key = keyOf.key(element);
    // record timestamp left to the producer (wall clock): event times can be years old
    return new ProducerRecord<>(topic, null, null,
        key == null ? null : key.getBytes(StandardCharsets.UTF_8), plain ? avro.encodePlain(element) : avro.encode(element));
  }
}

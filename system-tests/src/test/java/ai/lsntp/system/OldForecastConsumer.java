package ai.lsntp.system;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.SchemaStore;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * A consumer built against an older Forecast: that schema is its reader schema, and it knows the
 * writer schemas only from a published set on disk ({@code ./lsntp schemas --export DIR}), not from
 * this project's code (none of it is on its classpath). Prints each forecast it reads; values
 * without the single-object marker it cannot place, and counts them.
 *
 * <p>Arguments: bootstrap servers, topic, reader schema file, published set directory, idle seconds.
 */
public final class OldForecastConsumer {
  private OldForecastConsumer() {}

  public static void main(String[] args) throws Exception {
    Schema reader = new Schema.Parser().parse(new File(args[2]));
    SchemaStore.Cache published = new SchemaStore.Cache();
    File[] files = new File(args[3]).listFiles((d, n) -> n.endsWith(".avsc"));
    for (File f : files) {
      published.addSchema(new Schema.Parser().parse(f));
    }
    BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(GenericData.get(), reader, published);
    long idle = Long.parseLong(args[4]) * 1000;
    Map<String, Object> props = Map.of("bootstrap.servers", args[0], "group.id", "old-consumer-" + UUID.randomUUID(),
        "auto.offset.reset", "earliest", "isolation.level", "read_committed");
    int read = 0;
    int plain = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(args[1]));
      long last = System.currentTimeMillis();
      while (System.currentTimeMillis() - last < idle) {
        var records = consumer.poll(Duration.ofMillis(300));
        if (consumer.assignment().isEmpty()) {
          last = System.currentTimeMillis(); // still joining the group: not idle yet
        }
        for (ConsumerRecord<byte[], byte[]> r : records) {
          last = System.currentTimeMillis();
          byte[] v = r.value();
          if (v.length < 2 || v[0] != (byte) 0xC3 || v[1] != 0x01) {
            plain++;
            continue;
          }
          GenericRecord f;
          try {
            f = decoder.decode(v);
          } catch (IOException | RuntimeException e) {
            System.out.println("OLD-CONSUMER-FAILED offset " + r.offset() + ": " + e);
            continue;
          }
          ByteBuffer values = ((ByteBuffer) f.get("values")).order(ByteOrder.LITTLE_ENDIAN);
          System.out.println("OLD-CONSUMER " + f.get("grid_id") + " " + f.get("issue_time") + " fields="
              + f.getSchema().getFields().size() + " first=" + values.getFloat(values.position()));
          read++;
        }
      }
    }
    System.out.println("old consumer: " + read + " forecasts read, " + plain + " plain values not placed");
  }
}

package ai.lsntp.system;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.util.Properties;
import org.apache.avro.Schema;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * A producer built before TemperatureFrame gained units, a missing mask and a fill value: it knows
 * only the first schema, and writes it in single-object encoding. Runs as a process of its own on
 * Avro and kafka-clients alone (none of this project's classes on its classpath).
 *
 * <p>Arguments: bootstrap servers, topic, an Avro file of frames to send, the v1 schema file, how many.
 */
public final class OldFrameProducer {
  private OldFrameProducer() {}

  public static void main(String[] args) throws Exception {
    Schema v1 = new Schema.Parser().parse(new File(args[3]));
    int count = Integer.parseInt(args[4]);
    BinaryMessageEncoder<GenericRecord> encoder = new BinaryMessageEncoder<>(GenericData.get(), v1);
    Properties p = new Properties();
    p.put("bootstrap.servers", args[0]);
    p.put("acks", "all");
    int sent = 0;
    try (DataFileReader<GenericRecord> frames = new DataFileReader<>(new File(args[2]), new GenericDatumReader<>());
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
      while (frames.hasNext() && sent < count) {
        GenericRecord today = frames.next();
        GenericRecord old = new GenericData.Record(v1);
        for (Schema.Field f : v1.getFields()) {
          old.put(f.name(), today.get(f.name()));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        encoder.encode(old, out);
        producer.send(new ProducerRecord<>(args[1], old.get("grid_id").toString().getBytes("UTF-8"), out.toByteArray())).get();
        sent++;
      }
    }
    System.out.println("old producer: sent " + sent + " TemperatureFrame v1 records");
  }
}

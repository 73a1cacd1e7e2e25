package ai.lsntp.cli;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.codec.AvroBytes;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** Produces frames to the frames topic as Avro, keyed by grid id, one every {@code paceMillis}. */
public final class Replayer implements Runnable {
  private final Properties kafka;
  private final String topic;
  private final List<TemperatureFrame> frames;
  private final long paceMillis;
  private final Map<String, Long> sentAt = new ConcurrentHashMap<>();
  private volatile boolean running = true;
  private volatile int sent;

  public Replayer(Properties kafka, String topic, List<TemperatureFrame> frames, long paceMillis) {
    this.kafka = kafka;
    this.topic = topic;
    this.frames = frames;
    this.paceMillis = paceMillis;
  }

  /** Wall-clock send time of the frame of grid {@code grid} valid at {@code validTime}, if sent. */
  public Long sentAt(String grid, long validTime) {
    return sentAt.get(grid + "@" + validTime);
  }

  public int sent() {
    return sent;
  }

  public void stop() {
    running = false;
  }

  @Override
  public void run() {
    Properties p = new Properties();
    p.putAll(kafka);
    p.put("acks", "all");
    p.put("linger.ms", "0");
    AvroBytes<TemperatureFrame> avro = AvroBytes.of(TemperatureFrame.class);
    try (KafkaProducer<byte[], byte[]> producer =
        new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
      long next = System.currentTimeMillis();
      for (TemperatureFrame f : frames) {
        if (!running) {
          break;
        }
        long now = System.currentTimeMillis();
        if (next > now) {
          Thread.sleep(next - now);
        }
        next += paceMillis;
        sentAt.put(f.getGridId() + "@" + f.getValidTime().toEpochMilli(), System.currentTimeMillis());
        producer.send(new ProducerRecord<>(topic, f.getGridId().getBytes(StandardCharsets.UTF_8), avro.encode(f)));
        sent++;
      }
      producer.flush();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

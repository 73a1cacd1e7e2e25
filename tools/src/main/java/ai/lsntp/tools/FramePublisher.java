package ai.lsntp.tools;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.schemas.FrameTiles;
import ai.lsntp.schemas.RecordCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Publishes TemperatureFrame records to the frames topic in Avro single-object encoding (plain Avro
 * when {@link #plain} is asked for: records.write = plain, a producer in transition), keyed by grid id (so a
 * grid's frames stay ordered in one partition). Idempotent producer, acks=all, retries until the
 * delivery timeout: a frame counts as acknowledged only when the broker's callback said so. A frame
 * whose record would be larger than {@code maxRecordBytes} (key, value and Kafka's record overhead;
 * records.max-record-bytes) goes out as tiles (TemperatureFrame.tile), acknowledged when every one
 * of them is. The one producer of frames: replay, the demo and the benchmark all send through it.
 */
public final class FramePublisher implements AutoCloseable {
  private final KafkaProducer<byte[], byte[]> producer;
  private final String topic;
  private final RecordCodec<TemperatureFrame> codec = RecordCodec.of(TemperatureFrame.class);
  private final AtomicLong acked = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final Map<String, Long> failureReasons = new LinkedHashMap<>();
  private final Map<String, Long> sentAt = new ConcurrentHashMap<>();
  private final int maxRecordBytes;
  private long sent;
  private long records;
  private long tiledFrames;
  private boolean plain;

  /**
   * @param batched true lets the producer wait a few milliseconds to fill batches (backlogs);
   *     false sends each frame at once (paced replays, latency measurements)
   */
  public FramePublisher(Properties clientProperties, String topic, Duration deliveryTimeout, Duration connectTimeout,
      boolean batched) {
    this(clientProperties, topic, deliveryTimeout, connectTimeout, batched, LsntpConfig.Records.DEFAULT_MAX_RECORD_BYTES);
  }

  /** @param maxRecordBytes a frame whose record would be larger goes out as tiles of at most this */
  public FramePublisher(Properties clientProperties, String topic, Duration deliveryTimeout, Duration connectTimeout,
      boolean batched, int maxRecordBytes) {
    this.maxRecordBytes = maxRecordBytes;
    Properties p = new Properties();
    p.putAll(clientProperties);
    p.put("acks", "all");
    p.put("enable.idempotence", "true");
    p.put("retries", Integer.toString(Integer.MAX_VALUE));
    p.put("max.in.flight.requests.per.connection", "5");
    long requestMs = Math.min(30_000, Math.max(1_000, deliveryTimeout.toMillis() / 2));
    p.put("request.timeout.ms", Long.toString(requestMs));
    p.put("delivery.timeout.ms", Long.toString(Math.max(deliveryTimeout.toMillis(), requestMs + 10))); // >= linger + request
    p.put("linger.ms", batched ? "5" : "0");
    p.put("max.block.ms", Long.toString(connectTimeout.toMillis()));
    p.putIfAbsent("client.id", "lsntp-replay");
    long maxRequest = Long.parseLong(String.valueOf(p.getOrDefault("max.request.size", "1048576")));
    p.put("max.request.size", Long.toString(Math.max(maxRequest, maxRecordBytes)));
    this.producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    this.topic = topic;
  }

  /** Whether frames go out as plain Avro (the format before single-object encoding) instead. */
  public FramePublisher plain(boolean plain) {
    this.plain = plain;
    return this;
  }

  /**
   * Sends one frame, as one record or, when larger than the record limit, as its tiles; it counts
   * as acknowledged when the broker acknowledged every record of it, as failed once when any failed.
   */
  public void send(TemperatureFrame f) {
    byte[] key = f.getGridId().getBytes(StandardCharsets.UTF_8);
    var parts = f.getTile() != null ? java.util.List.of(f) : FrameTiles.INSTANCE.split(f, key.length, maxRecordBytes);
    sent++;
    if (parts.size() > 1) {
      tiledFrames++;
    }
    AtomicInteger left = new AtomicInteger(parts.size());
    AtomicBoolean failedOnce = new AtomicBoolean();
    for (TemperatureFrame part : parts) {
      byte[] value = plain ? codec.encodePlain(part) : codec.encode(part);
      records++;
      try {
        producer.send(new ProducerRecord<>(topic, key, value), (md, ex) -> {
          if (ex != null) {
            if (failedOnce.compareAndSet(false, true)) {
              fail(ex);
            }
          } else if (left.decrementAndGet() == 0 && !failedOnce.get()) {
            acked.incrementAndGet();
          }
        });
      } catch (KafkaException e) {
        // the send itself failed (metadata not available within max.block.ms, record too large for the client)
        if (failedOnce.compareAndSet(false, true)) {
          fail(e);
        }
      }
    }
    // when its last record was handed over: what a frame's latency counts from
    sentAt.put(key(f.getGridId(), f.getValidTime().toEpochMilli()), System.currentTimeMillis());
  }

  private void fail(Exception e) {
    failed.incrementAndGet();
    synchronized (failureReasons) {
      failureReasons.merge(Lines.cause(e), 1L, Long::sum);
    }
  }

  /** Waits until every frame sent so far is acknowledged or failed (every callback has run). */
  public void flush() {
    producer.flush();
  }

  public long sent() {
    return sent;
  }

  /** Kafka records sent: a frame's one, or its tiles. */
  public long records() {
    return records;
  }

  /** Frames that went out as tiles. */
  public long tiledFrames() {
    return tiledFrames;
  }

  public long acked() {
    return acked.get();
  }

  public long failed() {
    return failed.get();
  }

  /** Why frames failed, with how many failed for each reason. */
  public Map<String, Long> failureReasons() {
    synchronized (failureReasons) {
      return new LinkedHashMap<>(failureReasons);
    }
  }

  /** Wall-clock time the frame (its last tile) of {@code grid} valid at {@code validTime} was handed to the producer, if it was. */
  public Long sentAt(String grid, long validTime) {
    return sentAt.get(key(grid, validTime));
  }

  private static String key(String grid, long validTime) {
    return grid + "@" + validTime;
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(10));
  }
}

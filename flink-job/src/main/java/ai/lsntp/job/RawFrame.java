package ai.lsntp.job;

/** A frames-topic record exactly as received, before any decoding (so rejects can carry the raw bytes). */
public class RawFrame {
  public byte[] key;
  public byte[] value;
  public String topic;
  public int partition;
  public long offset;
  /** Kafka record timestamp: when the frame arrived (producer or broker time). */
  public long timestamp;

  public RawFrame() {}

  public RawFrame(byte[] key, byte[] value, String topic, int partition, long offset, long timestamp) {
    this.key = key;
    this.value = value;
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.timestamp = timestamp;
  }
}

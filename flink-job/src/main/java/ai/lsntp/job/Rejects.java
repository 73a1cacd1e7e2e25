package ai.lsntp.job;

import ai.lsntp.avro.RejectedFrame;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.util.OutputTag;

/**
 * The dead-letter side output and how its records are made. A reject is always small enough to
 * publish: the raw value travels whole only up to {@code maxPayloadBytes} (rejects.max-payload-bytes),
 * beyond that its first bytes with its size and SHA-256 (the whole record stays on the frames
 * topic at the source offset), and the reason text is capped too. So no input, however large,
 * can make the rejects sink fail the job.
 */
public final class Rejects {
  public static final OutputTag<RejectedFrame> TAG =
      new OutputTag<>("rejected-frames", new AvroTypeInfo<>(RejectedFrame.class));
  /** Longest reason text kept (exception messages can be arbitrarily long). */
  public static final int MAX_REASON_CHARS = 2000;

  private Rejects() {}

  /** A record that was rejected as received. */
  public static RejectedFrame ofRecord(Reason reason, String message, RawFrame raw, String gridId, Long validTime,
      int maxPayloadBytes) {
    byte[] value = raw.value == null ? new byte[0] : raw.value;
    boolean truncated = value.length > maxPayloadBytes;
    return base(reason, message, gridId, validTime, raw.topic, raw.partition, raw.offset)
        .setRaw(ByteBuffer.wrap(truncated ? Arrays.copyOf(value, maxPayloadBytes) : value))
        .setRawSize((long) value.length)
        .setRawSha256(sha256(value))
        .setRawTruncated(truncated)
        .build();
  }

  /** A validated frame rejected later (LATE, or an error in its window): its record is at the source offset. */
  public static RejectedFrame ofFrame(Reason reason, String message, Frame f) {
    return base(reason, message, f.gridId, f.validTime, f.topic, f.partition, f.offset)
        .setRaw(ByteBuffer.wrap(new byte[0]))
        .build();
  }

  /** A window rejected at inference: its newest frame's record is at the source offset. */
  public static RejectedFrame ofWindow(Reason reason, String message, FrameWindow w) {
    return base(reason, message, w.gridId, w.issueTime, w.topic, w.partition, w.offset)
        .setRaw(ByteBuffer.wrap(new byte[0]))
        .build();
  }

  /** A forecast whose alert evaluation failed: the record that completed its window is at the source offset. */
  public static RejectedFrame ofForecast(Reason reason, String message, WindowForecast f) {
    return base(reason, message, f.forecast.getGridId(), f.forecast.getIssueTime().toEpochMilli(), f.topic,
        f.partition, f.offset)
        .setRaw(ByteBuffer.wrap(new byte[0]))
        .build();
  }

  /**
   * Throws {@code t} if the JVM itself failed (out of memory, a stack overflow); anything else one
   * record or window caused is a reject and the job goes on.
   */
  public static void rethrowIfFatal(Throwable t) {
    if (t instanceof VirtualMachineError) {
      throw (VirtualMachineError) t;
    }
  }

  /** An exception as a reason text: what was being done, the exception's type and message. */
  public static String describe(String doing, Throwable e) {
    return doing + ": " + e.getClass().getName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
  }

  private static RejectedFrame.Builder base(Reason reason, String message, String gridId, Long validTime, String topic,
      Integer partition, Long offset) {
    String text = message == null ? reason.name() : message;
    if (text.length() > MAX_REASON_CHARS) {
      text = text.substring(0, MAX_REASON_CHARS) + " ... (" + text.length() + " characters)";
    }
    return RejectedFrame.newBuilder()
        .setReasonCode(reason.name())
        .setReason(text)
        .setGridId(gridId)
        .setValidTime(validTime == null ? null : Instant.ofEpochMilli(validTime))
        .setSourceTopic(topic)
        .setSourcePartition(partition)
        .setSourceOffset(offset)
        .setRejectedAt(Instant.now());
  }

  private static String sha256(byte[] value) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(value));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}

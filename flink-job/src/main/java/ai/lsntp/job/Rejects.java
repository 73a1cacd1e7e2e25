package ai.lsntp.job;

import ai.lsntp.avro.RejectedFrame;
import java.nio.ByteBuffer;
import java.time.Instant;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.util.OutputTag;

/** The dead-letter side output and how its records are made. */
public final class Rejects {
  public static final OutputTag<RejectedFrame> TAG =
      new OutputTag<>("rejected-frames", new AvroTypeInfo<>(RejectedFrame.class));

  private Rejects() {}

  public static RejectedFrame of(Reason reason, String message, RawFrame raw, String gridId, Long validTime) {
    return RejectedFrame.newBuilder()
        .setReasonCode(reason.name())
        .setReason(message)
        .setGridId(gridId)
        .setValidTime(validTime == null ? null : Instant.ofEpochMilli(validTime))
        .setSourceTopic(raw.topic)
        .setSourcePartition(raw.partition)
        .setSourceOffset(raw.offset)
        .setRaw(ByteBuffer.wrap(raw.value == null ? new byte[0] : raw.value))
        .setRejectedAt(Instant.now())
        .build();
  }

  public static RejectedFrame of(Reason reason, String message, Frame f) {
    return RejectedFrame.newBuilder()
        .setReasonCode(reason.name())
        .setReason(message)
        .setGridId(f.gridId)
        .setValidTime(Instant.ofEpochMilli(f.validTime))
        .setSourceTopic(f.topic)
        .setSourcePartition(f.partition)
        .setSourceOffset(f.offset)
        .setRaw(ByteBuffer.wrap(f.raw == null ? new byte[0] : f.raw))
        .setRejectedAt(Instant.now())
        .build();
  }
}

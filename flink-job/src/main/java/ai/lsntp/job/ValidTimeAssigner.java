package ai.lsntp.job;

import org.apache.flink.api.common.eventtime.SerializableTimestampAssigner;

/** Event time is the frame's valid time. */
public class ValidTimeAssigner implements SerializableTimestampAssigner<Frame> {
  private static final long serialVersionUID = 1L;

  @Override
  public long extractTimestamp(Frame f, long recordTimestamp) {
    return f.validTime;
  }
}

package ai.lsntp.job;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;

/** Rejects are counted per reason in one metric shape, whichever stage rejects: {@code <operator>.reason.<CODE>.rejects}. */
public final class RejectMetrics {
  private RejectMetrics() {}

  public static Counter counter(MetricGroup operator, Reason reason) {
    return operator.addGroup("reason", reason.name()).counter("rejects");
  }
}

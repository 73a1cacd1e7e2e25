package ai.lsntp.testing;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.flink.api.common.JobID;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Metric;
import org.apache.flink.runtime.testutils.InMemoryReporter;

/** A job's metrics through Flink's metric system (an in-memory reporter that keeps them after the job ends). */
public final class JobMetrics {
  private JobMetrics() {}

  /** The sum over every operator instance of the counters whose identifier ends with {@code suffix}. */
  public static long counter(InMemoryReporter r, JobID job, String suffix) {
    return sum(r, job, suffix, Counter.class);
  }

  /** The number of values recorded by the histograms whose identifier ends with {@code suffix}. */
  public static long histogramCount(InMemoryReporter r, JobID job, String suffix) {
    return sum(r, job, suffix, Histogram.class);
  }

  /** How often the job restarted (Flink's numRestarts gauge). */
  public static long restarts(InMemoryReporter r, JobID job) {
    return sum(r, job, "numRestarts", Gauge.class);
  }

  private static long sum(InMemoryReporter r, JobID job, String suffix, Class<? extends Metric> kind) {
    long sum = 0;
    int found = 0;
    // not getMetricsByIdentifiers: it fails when a task and its only operator share a name (a source alone in its task)
    for (org.apache.flink.api.java.tuple.Tuple3<org.apache.flink.metrics.MetricGroup, String, Metric> t
        : r.findJobMetricGroups(job, ".*")) {
      String id = t.f0.getMetricIdentifier(t.f1);
      if (id.endsWith("." + suffix) && kind.isInstance(t.f2)) {
        Metric m = t.f2;
        sum += m instanceof Counter ? ((Counter) m).getCount()
            : m instanceof Histogram ? ((Histogram) m).getCount() : ((Number) ((Gauge<?>) m).getValue()).longValue();
        found++;
      }
    }
    if (found == 0) {
      r.findJobMetricGroups(job, ".*").forEach(t -> System.out.println("metric: " + t.f0.getMetricIdentifier(t.f1)));
    }
    assertThat(found).as("%s %s registered", kind.getSimpleName(), suffix).isPositive();
    return sum;
  }
}

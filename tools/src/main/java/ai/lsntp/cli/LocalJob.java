package ai.lsntp.cli;

import ai.lsntp.config.LsntpConfig;
import ai.lsntp.job.ForecastJob;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.core.execution.JobClient;

/** The forecaster started in this JVM's Flink MiniCluster (demo, java-bench); closing it cancels the job. */
final class LocalJob implements AutoCloseable {
  /**
   * How long after the job reports RUNNING its tasks are given to deploy and its source to
   * subscribe: a job is RUNNING once scheduled, before its tasks run.
   */
  private static final long SETTLE_MILLIS = 2000;
  private static final long START_TIMEOUT_MILLIS = 60_000;

  private final JobClient client;

  private LocalJob(JobClient client) {
    this.client = client;
  }

  /**
   * Starts {@code job} with the local settings of {@code cfg} and returns once it runs (at most a
   * minute, sooner when {@code stop} says so), so that frames sent next measure the pipeline, not
   * its start-up.
   */
  static LocalJob start(ForecastJob job, LsntpConfig cfg, BooleanSupplier stop) throws Exception {
    LocalJob started = new LocalJob(job.executeAsync(ForecastJob.localEnvironment(cfg)));
    long deadline = System.currentTimeMillis() + START_TIMEOUT_MILLIS;
    while (started.status() != JobStatus.RUNNING && System.currentTimeMillis() < deadline && !stop.getAsBoolean()) {
      Thread.sleep(100);
    }
    if (!stop.getAsBoolean()) {
      Thread.sleep(SETTLE_MILLIS);
    }
    return started;
  }

  JobStatus status() throws Exception {
    return client.getJobStatus().get();
  }

  @Override
  public void close() {
    try {
      client.cancel().get(30, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // already finished or failing: nothing to cancel
    }
  }
}

package ai.lsntp.job;

import ai.lsntp.config.JobOptions;
import ai.lsntp.config.LsntpConfig;
import java.util.Map;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * Entry point of the Flink application jar on a cluster: {@code flink run lsntp-flink-job-*-flink-app.jar
 * [options]}, the Flink Kubernetes Operator's application mode, or a standalone application
 * cluster. Builds the job from the options (the same as ./lsntp job takes) and submits it to the
 * environment the cluster provides, whose configuration decides parallelism, restart strategy and
 * checkpoint storage. It never exits the JVM: in application mode main() runs inside the
 * JobManager, and a detached execute() returns right after submission while the job runs on.
 */
public final class ForecastJobMain {
  private static final Logger LOG = LoggerFactory.getLogger(ForecastJobMain.class);

  private ForecastJobMain() {}

  public static void main(String[] args) throws Exception {
    JobOptions options = new JobOptions();
    try {
      new CommandLine(options).parseArgs(args);
    } catch (CommandLine.ParameterException e) {
      throw new IllegalArgumentException("lsntp job: " + e.getMessage() + " (options: the same as ./lsntp job --help)", e);
    }
    LsntpConfig cfg = options.toConfig(Map.of());
    KafkaPreflight.checkJob(cfg);
    ForecastJob job = ForecastJob.fromKafka(cfg, false);
    LOG.info("lsntp job: models {}", job.models());
    job.execute(StreamExecutionEnvironment.getExecutionEnvironment());
  }
}

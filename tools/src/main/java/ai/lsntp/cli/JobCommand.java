package ai.lsntp.cli;

import ai.lsntp.config.JobOptions;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.job.ForecastJob;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * Runs the forecaster against a Kafka cluster in a local MiniCluster (one JVM): ./lsntp job. On a
 * Flink cluster the application jar's entry point, {@link ai.lsntp.job.ForecastJobMain}, runs the
 * same job with the same options.
 */
@Command(name = "job", mixinStandardHelpOptions = true,
    description = "Run the streaming forecaster against a Kafka cluster in a local Flink MiniCluster (settings: lsntp-default.yaml + flags).")
public class JobCommand implements Callable<Integer> {
  @Mixin JobOptions options;

  @Override
  public Integer call() throws Exception {
    LsntpConfig cfg = options.toConfig(Map.of());
    ForecastJob job = ForecastJob.fromKafka(cfg, false);
    System.err.println("lsntp job: models " + job.models());
    job.execute(ForecastJob.localEnvironment(cfg));
    return 0;
  }
}

package ai.lsntp.cli;

import ai.lsntp.config.LsntpConfig;
import ai.lsntp.job.ForecastJob;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * Runs the forecaster against a Kafka cluster. Run by {@code flink run} on a cluster (the job jar's
 * main class is ForecastJobMain) or, from ./lsntp job, in a local MiniCluster.
 */
@Command(name = "job", mixinStandardHelpOptions = true,
    description = "Run the streaming forecaster against a Kafka cluster (settings: lsntp-default.yaml + flags).")
public class JobCommand implements Callable<Integer> {
  @Mixin JobOptions options;

  @Override
  public Integer call() throws Exception {
    LsntpConfig cfg = options.toConfig(Map.of());
    ForecastJob job = ForecastJob.fromKafka(cfg, false);
    System.err.println("lsntp job: models " + job.models());
    job.execute(StreamExecutionEnvironment.getExecutionEnvironment(ForecastJob.flinkConfiguration(cfg)));
    return 0;
  }
}

package ai.lsntp.cli;

import ai.lsntp.config.ConfigException;
import ai.lsntp.config.JobOptions;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.UserPaths;
import ai.lsntp.job.ForecastJob;
import ai.lsntp.job.KafkaAccessException;
import ai.lsntp.job.KafkaPreflight;
import ai.lsntp.job.RetainedCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Runs the forecaster against a Kafka cluster in a local MiniCluster (one JVM): ./lsntp job. Its
 * checkpoints go to checkpoints.directory and are kept when the process ends or is killed; the
 * next start resumes from the newest one (windows, offsets and open transactions included), so a
 * crash costs no forecast. On a Flink cluster the application jar's entry point,
 * {@link ai.lsntp.job.ForecastJobMain}, runs the same job with the same options.
 */
@Command(name = "job", mixinStandardHelpOptions = true,
    description = {"Run the streaming forecaster against a Kafka cluster in a local Flink MiniCluster "
        + "(settings: lsntp-default.yaml + flags).",
        "Resumes from the newest checkpoint in checkpoints.directory (default state/checkpoints) unless --fresh."})
public class JobCommand implements Callable<Integer> {
  @Mixin JobOptions options;

  @Option(names = "--fresh", description = "Start clean: ignore retained checkpoints (offsets then come from the consumer group).")
  boolean fresh;

  @Option(names = "--from-savepoint", paramLabel = "PATH",
      description = "Start from this savepoint or retained checkpoint directory instead of the newest checkpoint.")
  Path fromSavepoint;

  @Override
  public Integer call() throws Exception {
    LsntpConfig cfg = options.toConfig(Map.of());
    if (fresh && fromSavepoint != null) {
      throw new ConfigException("--fresh and --from-savepoint exclude each other");
    }
    String restore = null;
    if (fromSavepoint != null) {
      Path p = UserPaths.input(fromSavepoint);
      if (!Files.exists(p)) {
        throw new ConfigException("--from-savepoint: " + p + " does not exist");
      }
      restore = p.toAbsolutePath().toString();
    } else if (!fresh) {
      Optional<Path> newest = RetainedCheckpoints.newest(cfg);
      restore = newest.map(p -> p.toAbsolutePath().toString()).orElse(null);
    }
    KafkaPreflight.checkJob(cfg);
    ForecastJob job = ForecastJob.fromKafka(cfg, false);
    System.err.println("lsntp job: models " + job.models());
    System.err.println("lsntp job: " + (restore == null ? "starting fresh" : "resuming from " + restore)
        + "; checkpoints in " + RetainedCheckpoints.jobDirectory(cfg));
    try {
      job.execute(ForecastJob.localEnvironment(cfg, restore));
    } catch (Exception e) {
      // a failure Kafka explains (a login refused, a missing ACL) deserves one line, not a stack trace
      String why = KafkaPreflight.explain(e, cfg.kafkaProperties(), cfg.connectTimeout());
      if (why != null) {
        throw new KafkaAccessException(why, e);
      }
      throw e;
    }
    return 0;
  }
}

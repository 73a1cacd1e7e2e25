package ai.lsntp.system;

import ai.lsntp.config.Topic;
import ai.lsntp.testing.KafkaBroker;
import org.junit.jupiter.api.extension.RegisterExtension;
import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.tools.FramePublisher;
import ai.lsntp.tools.Replay;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job's entry point as an application cluster runs it (docker-compose's `standalone-job`, the
 * Flink Kubernetes Operator's application mode): Flink's StandaloneApplicationClusterEntryPoint
 * runs ForecastJobMain.main() inside the JobManager, detached (execution.attached is false by
 * default), so execute() returns right after submission. The JobManager JVM must survive that
 * return and the job keep forecasting: an entry point that calls System.exit ends the JobManager.
 */
class ApplicationModeTest {
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();

  @TempDir Path work;

  @Test
  void theJobManagerSurvivesTheEntryPointAndTheJobRuns() throws Exception {
    String prefix = "app";
    kafka.createTopics(1, Topic.namesUnder(prefix));
    ModelSpec uk = ModelCatalog.load(TestPaths.models()).forGrid(RealFrames.uk(1).get(0).getGridId());
    List<TemperatureFrame> frames = RealFrames.uk(uk.alpha + 8);
    Properties client = new Properties();
    client.put("bootstrap.servers", kafka.bootstrapServers());
    try (StandaloneFlinkCluster cluster = new StandaloneFlinkCluster(work.resolve("flink"), Map.of(
            "taskmanager.numberOfTaskSlots", "1", "restart-strategy.type", "none"));
        CommittedForecasts out = new CommittedForecasts(kafka.bootstrapServers(), Topic.FORECASTS.under(prefix));
        FramePublisher publisher = new FramePublisher(client, Topic.FRAMES.under(prefix), Duration.ofSeconds(60),
            Duration.ofSeconds(30), false)) {
      Replay.asFastAsPossible().run(frames.subList(0, uk.alpha + 2), 0, publisher, f -> { });
      publisher.flush();
      List<String> args = new ArrayList<>(List.of("--bootstrap-servers", kafka.bootstrapServers(), "--models",
          TestPaths.models().toString(), "--group-id", prefix, "--checkpoint-interval", "1s",
          "--set", "stream.future-tolerance=3650d"));
      args.addAll(TestJobConfig.topicArguments(prefix));
      ChildJvm jobManager = cluster.startApplicationJobManager(TestPaths.root().resolve(BuildFacts.read().appJar()),
          BuildFacts.read().mainClass, args);
      cluster.startTaskManager();

      assertThat(out.await(3, Duration.ofSeconds(180))).as("forecasts of the application cluster\n"
          + jobManager.tail(60)).isTrue();
      assertThat(jobManager.logText()).contains("ForecastJobMain");
      // main() has returned long since; the JobManager goes on, and so does the job
      Thread.sleep(5000);
      assertThat(jobManager.process.isAlive()).as("the JobManager JVM is alive after main() returned\n"
          + jobManager.tail(60)).isTrue();
      Replay.asFastAsPossible().run(frames.subList(uk.alpha + 2, frames.size()), 0, publisher, f -> { });
      publisher.flush();
      assertThat(out.await(frames.size() - uk.alpha + 1, Duration.ofSeconds(120)))
          .as("forecasts of frames sent after main() returned\n" + jobManager.tail(60)).isTrue();
      assertThat(jobManager.process.isAlive()).isTrue();
    }
  }
}

package ai.lsntp.serve;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.job.ForecastJob;
import ai.lsntp.testing.KafkaBroker;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.tools.FramePublisher;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.core.execution.JobClient;

/**
 * The live page's tests' world, every part real: the job running in a MiniCluster on a real
 * broker with the shipped models, the live page and point API reading its topics, and a replay
 * of frames into it.
 */
final class LiveJob implements AutoCloseable {
  final LsntpConfig cfg;
  final Live live;
  private final JobClient job;
  private final FramePublisher frames;

  private LiveJob(LsntpConfig cfg, JobClient job, Live live, FramePublisher frames) {
    this.cfg = cfg;
    this.job = job;
    this.live = live;
    this.frames = frames;
  }

  /** The job on topics under {@code prefix}, returned once it runs, with the live page on a free port. */
  static LiveJob start(KafkaBroker kafka, String prefix, String alerts) throws Exception {
    kafka.createTopics(1, Topic.namesUnder(prefix));
    LsntpConfig cfg = TestJobConfig.onTopics(kafka.bootstrapServers(), prefix)
        .set("delivery.guarantee", "exactly-once") // so the page's read_committed reading is what is tested
        .set("delivery.checkpoint-interval", "500ms")
        .set("alerts", alerts)
        .load();
    JobClient job = ForecastJob.fromKafka(cfg, false).executeAsync(ForecastJob.localEnvironment(cfg));
    long until = System.currentTimeMillis() + 60_000;
    while (job.getJobStatus().get() != JobStatus.RUNNING && System.currentTimeMillis() < until) {
      Thread.sleep(100);
    }
    Live live = Live.start(cfg, "127.0.0.1", 0);
    FramePublisher pub = new FramePublisher(cfg.kafkaProperties(), cfg.topics.frames, Duration.ofSeconds(30),
        Duration.ofSeconds(30), false);
    return new LiveJob(cfg, job, live, pub);
  }

  void publish(List<TemperatureFrame> fs) {
    fs.forEach(frames::send);
    frames.flush();
  }

  /** Waits until the page's state holds a forecast of {@code grid} issued at {@code issue}; false on timeout. */
  boolean awaitIssue(String grid, Instant issue, Duration timeout) throws InterruptedException {
    long until = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < until) {
      ForecastField f = live.state.forecast(grid);
      if (f != null && f.issueTime.equals(issue)) {
        return true;
      }
      Thread.sleep(50);
    }
    return false;
  }

  @Override
  public void close() throws Exception {
    try {
      frames.close();
      live.close();
    } finally {
      job.cancel().get(30, TimeUnit.SECONDS);
    }
  }
}

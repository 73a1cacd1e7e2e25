package ai.lsntp.system;

import ai.lsntp.config.JobOptions;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.job.ForecastJob;
import ai.lsntp.avro.Forecast;
import ai.lsntp.job.KafkaPreflight;
import ai.lsntp.job.StageProbe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine;

/**
 * The production job (ForecastJobMain's, the same options) with one test hook, submitted to a
 * standalone cluster with this class on the job's classpath ({@code flink run -C}): it opens a
 * deterministic window between a checkpoint's completion and the commit of its transactions.
 *
 * <p>Usage: {@code CommitWindowJob PROBE_DIR CHECKPOINTS_DIR [./lsntp job options]}.
 */
public final class CommitWindowJob {
  private CommitWindowJob() {}

  public static void main(String[] args) throws Exception {
    JobOptions options = new JobOptions();
    new CommandLine(options).parseArgs(Arrays.copyOfRange(args, 2, args.length));
    LsntpConfig cfg = options.toConfig(Map.of());
    KafkaPreflight.check(cfg.kafkaProperties(), cfg.topicNames(), cfg.connectTimeout());
    ForecastJob.fromKafka(cfg, false).withProbe(new HoldForecasts(args[0], args[1]))
        .execute(StreamExecutionEnvironment.getExecutionEnvironment());
  }

  /**
   * Once the test creates {@code PROBE_DIR/go}, holds the calibration task (calibrate-verify, whose
   * operator chain holds the forecasts sink's writer and committer) across the completion of a
   * checkpoint, after the checkpoint's barrier has passed the task and before the notice of its
   * completion, which commits the task's forecasts transaction, is processed.
   *
   * <p>Every forecast then takes {@link #SLOW_MS}, longer than the frames take to come, so forecasts
   * queue up in front of the task and each barrier is followed at once by a forecast. A forecast
   * that starts while checkpoint K is pending (its chk-K directory exists, its _metadata not yet)
   * spends that time watching for chk-K/_metadata. If K completes meanwhile, K's barrier had passed
   * the task before the forecast began (a task passes barriers only between calls, and K needs this
   * task's), so K holds the task's pre-committed forecasts transaction, while the completion notice
   * that would commit it waits in the task's mailbox behind this call: K is complete and its
   * forecasts are not committed. The probe writes {@code PROBE_DIR/window} and holds until the
   * process is killed. After the restart {@code window} exists and the probe does nothing.
   */
  static final class HoldForecasts implements StageProbe {
    private static final long serialVersionUID = 1L;
    static final long SLOW_MS = 80;
    private final String dir;
    private final String checkpoints;

    HoldForecasts(String dir, String checkpoints) {
      this.dir = dir;
      this.checkpoints = checkpoints;
    }

    @Override
    public void calibrating(Forecast forecast) {
      Path window = Path.of(dir, "window");
      if (Files.exists(window) || !Files.exists(Path.of(dir, "go"))) {
        return;
      }
      try {
        Path pending = pending();
        trace("forecast issued " + forecast.getIssueTime() + ", pending " + (pending == null ? "none" : pending.getFileName()));
        long start = System.currentTimeMillis();
        long end = start + SLOW_MS;
        while (System.currentTimeMillis() < end) {
          if (pending != null && Files.exists(pending.resolve("_metadata"))) {
            Path tmp = Path.of(dir, "window.tmp");
            Files.writeString(tmp, "held the calibration task: " + pending.getFileName() + " completed "
                + (System.currentTimeMillis() - start) + " ms into a forecast that began while it was pending\n");
            Files.move(tmp, window, StandardCopyOption.ATOMIC_MOVE);
            while (true) {
              Thread.sleep(1000); // until SIGKILL
            }
          }
          Thread.sleep(5);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt(); // the task is being cancelled
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }

    /** The hook's decisions, one line each in PROBE_DIR/trace, for a failure's reader. */
    private void trace(String line) throws IOException {
      Files.writeString(Path.of(dir, "trace"), System.currentTimeMillis() + " " + line + "\n", StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    }

    /** The newest checkpoint directory (checkpoints/JOB_ID/chk-N) if its _metadata is not there yet. */
    private Path pending() throws IOException {
      Path root = Path.of(checkpoints);
      if (!Files.isDirectory(root)) {
        return null;
      }
      try (Stream<Path> s = Files.find(root, 2, (p, a) -> a.isDirectory() && p.getFileName().toString().matches("chk-\\d+"))) {
        Path newest = s.max(java.util.Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString().substring(4))))
            .orElse(null);
        return newest == null || Files.exists(newest.resolve("_metadata")) ? null : newest;
      }
    }
  }
}

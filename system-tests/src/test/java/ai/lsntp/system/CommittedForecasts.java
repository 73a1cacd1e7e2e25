package ai.lsntp.system;

import ai.lsntp.avro.Forecast;
import ai.lsntp.tools.TopicWatcher;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.WakeupException;

/**
 * Every forecast committed on a topic, as a read_committed consumer sees it (the project's own
 * TopicWatcher), collected in the background with the wall-clock time each arrived.
 */
final class CommittedForecasts implements AutoCloseable {
  /** One forecast as it arrived, with its intervals (quantiles, float32; null without) and how they were calibrated. */
  record Seen(String grid, long issueTime, String modelVersion, long arrivedAt, float[] quantiles,
      ai.lsntp.avro.CalibrationInfo calibration) {}

  private final List<Seen> seen = new CopyOnWriteArrayList<>();
  private final TopicWatcher watcher;
  private final Thread thread;
  private volatile boolean running = true;

  CommittedForecasts(String bootstrap, String topic) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    watcher = new TopicWatcher(p, TopicWatcher.Topics.onlyForecasts(topic), null, true);
    thread = new Thread(() -> {
      TopicWatcher.Handler h = new TopicWatcher.Handler() {
        @Override
        public void forecast(Forecast f) {
          seen.add(new Seen(f.getGridId(), f.getIssueTime().toEpochMilli(), f.getModelVersion(), System.currentTimeMillis(),
              f.getQuantiles().hasRemaining() ? ai.lsntp.codec.PackedFloats.decode(f.getQuantiles()) : null,
              f.getCalibration()));
        }

        @Override
        public void undecodable(ConsumerRecord<byte[], byte[]> r, String expected, Exception why) {
          throw new AssertionError("a record on " + r.topic() + " is not a " + expected, why);
        }
      };
      try {
        while (running) {
          watcher.poll(Duration.ofMillis(100), h);
        }
      } catch (WakeupException e) {
        // closing
      }
    }, "committed-forecasts");
    thread.setDaemon(true);
    thread.start();
  }

  List<Seen> seen() {
    return new ArrayList<>(seen);
  }

  int count() {
    return seen.size();
  }

  /** Waits until at least {@code n} forecasts arrived (false on timeout). */
  boolean await(int n, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (seen.size() < n && System.nanoTime() < end) {
      Thread.sleep(100);
    }
    return seen.size() >= n;
  }

  /** Waits until no forecast arrived for {@code quiet}, or {@code timeout} passed. */
  void awaitQuiet(Duration quiet, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    int last = -1;
    long lastChange = System.nanoTime();
    while (System.nanoTime() < end) {
      int n = seen.size();
      if (n != last) {
        last = n;
        lastChange = System.nanoTime();
      } else if (System.nanoTime() - lastChange > quiet.toNanos()) {
        return;
      }
      Thread.sleep(100);
    }
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    watcher.wakeup();
    thread.join(5000);
    watcher.close();
  }
}

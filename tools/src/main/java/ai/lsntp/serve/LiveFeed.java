package ai.lsntp.serve;

import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.tools.TopicWatcher;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds a {@link LiveState} from the job's topics (frames, forecasts, alerts, model events and
 * verification, named by the configuration) on a thread of its own: a read_committed
 * {@link TopicWatcher} from each topic's beginning, so the page starts with everything retained
 * (the state keeps only the newest of it). A problem while reading is shown on the page and
 * retried; it never ends the feed.
 */
public final class LiveFeed implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LiveFeed.class);
  /** The topics the page shows. */
  public static final Topic[] TOPICS = {Topic.FRAMES, Topic.FORECASTS, Topic.ALERTS, Topic.MODEL_EVENTS, Topic.VERIFICATION};

  private final TopicWatcher watcher;
  private final Thread thread;
  private volatile boolean closing;

  private LiveFeed(LsntpConfig cfg, LiveState state) {
    Topic[] read = cfg.verification.enabled ? TOPICS
        : Arrays.stream(TOPICS).filter(t -> t != Topic.VERIFICATION).toArray(Topic[]::new);
    Properties p = cfg.kafkaProperties();
    p.put("client.id", "lsntp-serve");
    watcher = new TopicWatcher(p, TopicWatcher.Topics.of(cfg, read), null, true);
    thread = new Thread(() -> run(state), "lsntp-live-feed");
    thread.setDaemon(true);
  }

  /** Starts reading the topics of {@code cfg} into {@code state}. */
  public static LiveFeed start(LsntpConfig cfg, LiveState state) {
    LiveFeed f = new LiveFeed(cfg, state);
    f.thread.start();
    return f;
  }

  /** The topics read. */
  public List<String> topics() {
    return watcher.topics();
  }

  private void run(LiveState state) {
    while (!closing) {
      try {
        watcher.poll(Duration.ofMillis(500), state);
        state.feedProblem(null);
      } catch (WakeupException e) {
        break;
      } catch (RuntimeException e) {
        // Kafka refusing (authorisation, a deleted topic) or a record the state could not take:
        // the page says so and keeps what it has, and reading goes on
        if (closing) {
          break;
        }
        LOG.warn("live page: reading the topics failed, retrying in 2 s", e);
        state.feedProblem("Reading the topics failed: " + e.getMessage());
        try {
          Thread.sleep(2000);
        } catch (InterruptedException ie) {
          break;
        }
      }
    }
  }

  @Override
  public void close() {
    closing = true;
    watcher.wakeup();
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    watcher.close();
  }
}

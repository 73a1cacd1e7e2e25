package ai.lsntp.serve;

import ai.lsntp.config.LsntpConfig;
import java.util.List;

/**
 * The live page and the point API on the job's topics: a {@link LiveFeed} filling a
 * {@link LiveState} that a {@link LiveServer} serves. What ./lsntp serve and the demo start.
 */
public final class Live implements AutoCloseable {
  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 8765;

  public final LiveState state;
  private final LiveFeed feed;
  private final LiveServer server;

  private Live(LiveState state, LiveFeed feed, LiveServer server) {
    this.state = state;
    this.feed = feed;
    this.server = server;
  }

  /** Reads the topics of {@code cfg} and serves them on host:port (0: any free port). */
  public static Live start(LsntpConfig cfg, String host, int port) {
    LiveState state = new LiveState(cfg.verificationWindow());
    LiveServer server = LiveServer.start(state, host, port);
    try {
      return new Live(state, LiveFeed.start(cfg, state), server);
    } catch (RuntimeException e) {
      server.close();
      throw e;
    }
  }

  /** The page's address, e.g. http://127.0.0.1:8765/. */
  public String url() {
    return server.url();
  }

  public int port() {
    return server.port();
  }

  /** The topics read. */
  public List<String> topics() {
    return feed.topics();
  }

  @Override
  public void close() {
    try {
      feed.close();
    } finally {
      server.close();
    }
  }
}

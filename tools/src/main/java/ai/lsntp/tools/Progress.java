package ai.lsntp.tools;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Progress of a replay on stderr: a bar redrawn in place on a terminal, otherwise one line every
 * few seconds (logs stay readable).
 */
final class Progress {
  private final PrintWriter out;
  private final long total;
  private final boolean terminal;
  private final long startNanos = System.nanoTime();
  private long lastDraw;

  Progress(PrintWriter out, long total, boolean terminal) {
    this.out = out;
    this.total = total;
    this.terminal = terminal;
  }

  void update(long sent, long acked, long failed, String at, boolean force) {
    long now = System.nanoTime();
    long every = terminal ? 200_000_000L : 5_000_000_000L;
    if (!force && now - lastDraw < every) {
      return;
    }
    lastDraw = now;
    double secs = (now - startNanos) / 1e9;
    String rate = String.format(Locale.ROOT, "%.1f frames/s", secs > 0 ? acked / secs : 0.0);
    if (terminal) {
      int width = 30;
      int filled = total > 0 ? (int) Math.min(width, width * sent / total) : 0;
      out.print(String.format(Locale.ROOT, "\r[%s%s] %d/%d sent, %d acked, %d failed, %s, at %s   ",
          "#".repeat(filled), ".".repeat(width - filled), sent, total, acked, failed, rate, at));
    } else {
      out.println(String.format(Locale.ROOT, "replay: %d/%d sent (%d%%), %d acked, %d failed, %s, at %s",
          sent, total, total > 0 ? 100 * sent / total : 0, acked, failed, rate, at));
    }
    out.flush();
  }

  void end() {
    if (terminal) {
      out.println();
    }
  }
}

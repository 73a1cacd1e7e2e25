package ai.lsntp.cli;

import ai.lsntp.avro.Forecast;
import ai.lsntp.tools.FramePublisher;
import java.util.ArrayList;
import java.util.List;

/** The demo's and the benchmark's one latency: from sending the frame that completed a window to reading its forecast. */
final class Latencies {
  private final List<Long> millis = new ArrayList<>();

  /** Records {@code f}'s latency, now; null (nothing recorded) when {@code sent} did not send its newest frame. */
  Long record(FramePublisher sent, Forecast f) {
    Long at = sent.sentAt(f.getGridId(), f.getIssueTime().toEpochMilli());
    if (at == null) {
      return null;
    }
    long ms = System.currentTimeMillis() - at;
    millis.add(ms);
    return ms;
  }

  int count() {
    return millis.size();
  }

  /** The {@code q} quantile in ms (the smallest value with at least that share at or below it), "-" before any. */
  String percentile(double q) {
    if (millis.isEmpty()) {
      return "-";
    }
    List<Long> sorted = new ArrayList<>(millis);
    sorted.sort(Long::compare);
    return Long.toString(sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(q * sorted.size()) - 1)));
  }
}

package ai.lsntp.tools;

import ai.lsntp.avro.Verification;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The rolling verification of the live forecasts, per grid and lead, over the last {@code window}
 * of valid times: MAE, MAE of persistence and the skill (1 - MAE / MAE of persistence), cell
 * weighted as the job's metrics are. Fed from the verification topic by watch and the demo.
 */
public final class VerificationTable {
  private final Duration window;
  /** grid -> lead -> scores in valid-time order: {valid time, abs error sum, persistence abs error sum, cells}. */
  private final Map<String, Map<Integer, Deque<double[]>>> scores = new TreeMap<>();
  private long newest = Long.MIN_VALUE;

  public VerificationTable(Duration window) {
    this.window = window;
  }

  public void add(Verification v) {
    long t = v.getValidTime().toEpochMilli();
    newest = Math.max(newest, t);
    double pers = v.getPersistenceMae() == null ? Double.NaN : v.getPersistenceMae() * v.getCells();
    Deque<double[]> q = scores.computeIfAbsent(v.getGridId(), g -> new TreeMap<>())
        .computeIfAbsent(v.getLead(), l -> new ArrayDeque<>());
    q.add(new double[] {t, v.getMae() * v.getCells(), pers, v.getCells()});
    // what falls out of the window goes now, not at the next render, so a reader that runs for
    // weeks (the live page) holds one window of scores
    while (!q.isEmpty() && q.peekFirst()[0] <= newest - window.toMillis()) {
      q.pollFirst();
    }
  }

  /** The newest valid time verified so far (epoch ms), or Long.MIN_VALUE before the first. */
  public long newestValidTime() {
    return newest;
  }

  /** One grid and lead over the window: MAE and persistence's MAE in K, skill, and how many scores. */
  public record Row(String grid, int lead, double mae, double persistenceMae, double skill, int scores) {}

  /** The window's scores per grid and lead, in grid then lead order; a lead with no scored cell left out. */
  public List<Row> rows() {
    List<Row> out = new ArrayList<>();
    long from = newest - window.toMillis();
    scores.forEach((grid, byLead) -> byLead.forEach((lead, q) -> {
      while (!q.isEmpty() && q.peekFirst()[0] <= from) {
        q.pollFirst();
      }
      double abs = 0;
      double pers = 0;
      double cells = 0;
      for (double[] s : q) {
        abs += s[1];
        pers += s[2];
        cells += s[3];
      }
      if (cells > 0) {
        double mae = abs / cells;
        double pmae = pers / cells;
        out.add(new Row(grid, lead, mae, pmae, 1 - mae / pmae, q.size()));
      }
    }));
    return out;
  }

  /** The newest valid time scored, or null before the first. */
  public Instant upTo() {
    return newest == Long.MIN_VALUE ? null : Instant.ofEpochMilli(newest);
  }

  public Duration window() {
    return window;
  }

  /** The table as lines: a header, then one line per grid and lead. */
  public List<String> render() {
    List<String> out = new ArrayList<>();
    out.add(String.format(Locale.ROOT, "VERIFY   rolling %s of valid times up to %s", Stamp.span(window),
        newest == Long.MIN_VALUE ? "-" : Stamp.readable(Instant.ofEpochMilli(newest))));
    out.add(String.format(Locale.ROOT, "VERIFY   %-14s %5s %9s %13s %7s %6s", "grid", "lead", "MAE K", "persistence K",
        "skill", "n"));
    for (Row r : rows()) {
      out.add(String.format(Locale.ROOT, "VERIFY   %-14s %5s %9.3f %13.3f %+7.3f %6d", r.grid(), "+" + r.lead(), r.mae(),
          r.persistenceMae(), r.skill(), r.scores()));
    }
    return out;
  }
}

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
 * of valid times: MAE, MAE of persistence and the skill (1 - MAE / MAE of persistence), and the
 * observed coverage of each interval level the forecasts carried (the fraction of verified cells
 * inside the interval: near the level when the intervals are calibrated), cell weighted as the
 * job's metrics are. Fed from the verification topic by watch and the demo.
 */
public final class VerificationTable {
  private final Duration window;
  /**
   * grid -> lead -> scores in valid-time order: {valid time, abs error sum, persistence abs error
   * sum, cells, then per interval level its index in {@link #levels} and its cells inside}.
   */
  private final Map<String, Map<Integer, Deque<double[]>>> scores = new TreeMap<>();
  /** Every interval level seen, increasing: the table's coverage columns. */
  private final java.util.TreeSet<Double> levels = new java.util.TreeSet<>();
  private long newest = Long.MIN_VALUE;

  public VerificationTable(Duration window) {
    this.window = window;
  }

  public void add(Verification v) {
    long t = v.getValidTime().toEpochMilli();
    newest = Math.max(newest, t);
    double pers = v.getPersistenceMae() == null ? Double.NaN : v.getPersistenceMae() * v.getCells();
    List<Double> ls = v.getIntervalLevels();
    double[] s = new double[4 + 2 * ls.size()];
    s[0] = t;
    s[1] = v.getMae() * v.getCells();
    s[2] = pers;
    s[3] = v.getCells();
    for (int j = 0; j < ls.size() && j < v.getCoverage().size(); j++) {
      levels.add(ls.get(j));
      s[4 + 2 * j] = ls.get(j);
      s[5 + 2 * j] = v.getCoverage().get(j) * v.getCells();
    }
    scores.computeIfAbsent(v.getGridId(), g -> new TreeMap<>()).computeIfAbsent(v.getLead(), l -> new ArrayDeque<>())
        .add(s);
  }

  /** The newest valid time verified so far (epoch ms), or Long.MIN_VALUE before the first. */
  public long newestValidTime() {
    return newest;
  }

  /** A level as a percentage: 0.8 -> "80%", 0.975 -> "97.5%". */
  static String percent(double level) {
    double p = Math.round(level * 1000) / 10.0;
    return (p == Math.rint(p) ? Long.toString((long) p) : Double.toString(p)) + "%";
  }

  /** The table as lines: a header, then one line per grid and lead. */
  public List<String> render() {
    List<String> out = new ArrayList<>();
    long from = newest - window.toMillis();
    out.add(String.format(Locale.ROOT, "VERIFY   rolling %s of valid times up to %s", Stamp.span(window),
        newest == Long.MIN_VALUE ? "-" : Stamp.readable(Instant.ofEpochMilli(newest))));
    StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "VERIFY   %-14s %5s %9s %13s %7s", "grid", "lead",
        "MAE K", "persistence K", "skill"));
    for (double l : levels) {
      head.append(String.format(Locale.ROOT, " %8s", "cov " + percent(l)));
    }
    out.add(head.append(String.format(Locale.ROOT, " %6s", "n")).toString());
    scores.forEach((grid, byLead) -> byLead.forEach((lead, q) -> {
      while (!q.isEmpty() && q.peekFirst()[0] <= from) {
        q.pollFirst();
      }
      double abs = 0;
      double pers = 0;
      double cells = 0;
      Map<Double, double[]> covered = new TreeMap<>(); // level -> {cells inside, cells}
      for (double[] s : q) {
        abs += s[1];
        pers += s[2];
        cells += s[3];
        for (int k = 4; k + 1 < s.length; k += 2) {
          double[] c = covered.computeIfAbsent(s[k], l -> new double[2]);
          c[0] += s[k + 1];
          c[1] += s[3];
        }
      }
      if (cells > 0) {
        double mae = abs / cells;
        double pmae = pers / cells;
        StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "VERIFY   %-14s %5s %9.3f %13.3f %+7.3f", grid,
            "+" + lead, mae, pmae, 1 - mae / pmae));
        for (double l : levels) {
          double[] c = covered.get(l);
          row.append(c == null || c[1] == 0 ? String.format(Locale.ROOT, " %8s", "-")
              : String.format(Locale.ROOT, " %7.1f%%", 100 * c[0] / c[1]));
        }
        out.add(row.append(String.format(Locale.ROOT, " %6d", q.size())).toString());
      }
    }));
    return out;
  }
}

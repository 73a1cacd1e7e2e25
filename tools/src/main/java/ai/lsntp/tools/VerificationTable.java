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
import java.util.TreeSet;

/**
 * The rolling verification of the live forecasts, per grid and lead, over the last {@code window}
 * of valid times: MAE, MAE of persistence and the skill (1 - MAE / MAE of persistence), and the
 * observed coverage of each interval level the forecasts carried (the fraction of verified cells
 * inside the interval: near the level when the intervals are calibrated), cell weighted as the
 * job's metrics are. Fed from the verification topic by watch, the demo and the live page.
 *
 * <p>Where a grid has challengers it is a league table: one row per grid, lead and model (its
 * slot, name and version), the model that was published marked {@code *} (role champion), the
 * others scored on the same observations; within a grid and lead the rows go by MAE, best first.
 */
public final class VerificationTable {
  private final Duration window;
  /**
   * grid -> lead -> scores in valid-time order: {valid time, abs error sum, persistence abs error
   * sum, cells, then per interval level the level and its cells inside}.
   */
  private final Map<String, Map<Integer, Deque<double[]>>> scores = new TreeMap<>();
  /** "grid|slot|name|version" -> the role of its newest score (a promotion changes it). */
  private final Map<String, String> roles = new TreeMap<>();
  /** Every interval level seen, increasing: the table's coverage columns. */
  private final TreeSet<Double> levels = new TreeSet<>();
  private long newest = Long.MIN_VALUE;

  public VerificationTable(Duration window) {
    this.window = window;
  }

  public void add(Verification v) {
    long t = v.getValidTime().toEpochMilli();
    newest = Math.max(newest, t);
    double pers = v.getPersistenceMae() == null ? Double.NaN : v.getPersistenceMae() * v.getCells();
    List<Double> ls = v.getIntervalLevels();
    int n = Math.min(ls.size(), v.getCoverage().size());
    double[] s = new double[4 + 2 * n];
    s[0] = t;
    s[1] = v.getMae() * v.getCells();
    s[2] = pers;
    s[3] = v.getCells();
    for (int j = 0; j < n; j++) {
      levels.add(ls.get(j));
      s[4 + 2 * j] = ls.get(j);
      s[5 + 2 * j] = v.getCoverage().get(j) * v.getCells();
    }
    String model = v.getGridId() + "|" + (v.getSlot() == null ? "default" : v.getSlot()) + "|" + v.getModelName() + "|"
        + v.getModelVersion();
    roles.put(model, v.getRole() == null ? "CHAMPION" : v.getRole().name());
    Deque<double[]> q = scores.computeIfAbsent(model, g -> new TreeMap<>())
        .computeIfAbsent(v.getLead(), l -> new ArrayDeque<>());
    q.add(s);
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

  /**
   * One grid and lead over the window: MAE and persistence's MAE in K, skill, how many scores, and
   * per interval level (increasing) the observed coverage as a fraction, absent for a level no
   * score of this row carried.
   */
  public record Row(String grid, int lead, double mae, double persistenceMae, double skill, int scores,
      Map<Double, Double> coverage, String slot, String model, String version, boolean champion) {
    /** e.g. "LS-NTP 2.0.0" or, for a challenger, "ConvLSTM 1.0.0 [convlstm]". */
    public String label() {
      return model + " " + version + ("default".equals(slot) ? "" : " [" + slot + "]");
    }
  }

  /** Every interval level seen so far, increasing. */
  public List<Double> levels() {
    return List.copyOf(levels);
  }

  /** The window's scores per grid and lead, in grid then lead order; a lead with no scored cell left out. */
  public List<Row> rows() {
    List<Row> out = new ArrayList<>();
    long from = newest - window.toMillis();
    scores.forEach((key, byLead) -> byLead.forEach((lead, q) -> {
      String[] id = key.split("\\|", 4);
      String grid = id[0];
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
        Map<Double, Double> coverage = new TreeMap<>();
        covered.forEach((l, c) -> {
          if (c[1] > 0) {
            coverage.put(l, c[0] / c[1]);
          }
        });
        out.add(new Row(grid, lead, mae, pmae, 1 - mae / pmae, q.size(), coverage, id[1], id[2], id[3],
            "CHAMPION".equals(roles.get(key))));
      }
    }));
    out.sort(java.util.Comparator.comparing(Row::grid).thenComparingInt(Row::lead).thenComparingDouble(Row::mae)
        .thenComparing(Row::label));
    return out;
  }

  /** The newest valid time scored, or null before the first. */
  public Instant upTo() {
    return newest == Long.MIN_VALUE ? null : Instant.ofEpochMilli(newest);
  }

  public Duration window() {
    return window;
  }

  /** A level as a percentage: 0.8 -> "80%", 0.975 -> "97.5%". */
  static String percent(double level) {
    double p = Math.round(level * 1000) / 10.0;
    return (p == Math.rint(p) ? Long.toString((long) p) : Double.toString(p)) + "%";
  }

  /** The table as lines: a header, then one line per grid and lead. */
  public List<String> render() {
    List<Row> rows = rows();
    List<String> out = new ArrayList<>();
    out.add(String.format(Locale.ROOT, "VERIFY   rolling %s of valid times up to %s", Stamp.span(window),
        newest == Long.MIN_VALUE ? "-" : Stamp.readable(Instant.ofEpochMilli(newest))));
    boolean league = rows.stream().anyMatch(r -> !r.champion() || !"default".equals(r.slot()));
    StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "VERIFY   %-14s %5s", "grid", "lead"));
    if (league) {
      head.append(String.format(Locale.ROOT, "   %-30s", "model (* published)"));
    }
    head.append(String.format(Locale.ROOT, " %9s %13s %7s", "MAE K", "persistence K", "skill"));
    for (double l : levels) {
      head.append(String.format(Locale.ROOT, " %8s", "cov " + percent(l)));
    }
    out.add(head.append(String.format(Locale.ROOT, " %6s", "n")).toString());
    for (Row r : rows) {
      StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "VERIFY   %-14s %5s", r.grid(), "+" + r.lead()));
      if (league) {
        row.append(String.format(Locale.ROOT, " %s %-30s", r.champion() ? "*" : " ", r.label()));
      }
      row.append(String.format(Locale.ROOT, " %9.3f %13.3f %+7.3f", r.mae(), r.persistenceMae(), r.skill()));
      for (double l : levels) {
        Double c = r.coverage().get(l);
        row.append(c == null ? String.format(Locale.ROOT, " %8s", "-") : String.format(Locale.ROOT, " %7.1f%%", 100 * c));
      }
      out.add(row.append(String.format(Locale.ROOT, " %6d", r.scores())).toString());
    }
    return out;
  }
}

package ai.lsntp.tools;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.Verification;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * The one printer of the job's output as lines, for watch and the demo: a {@link Lines} line per
 * forecast, alert and reject, and the rolling verification table each time the verified valid
 * times advance by a set span. It counts what it handled; records of grids not asked for, and
 * records past the line limit, are passed over.
 */
public final class LinePrinter implements TopicWatcher.Handler {
  private final String tool;
  private final PrintWriter out;
  private final PrintWriter err;
  private final List<String> grids = new ArrayList<>();
  private Long maxLines;
  private VerificationTable table;
  private long tableEvery;
  private long lastTable = Long.MIN_VALUE;
  private Function<Forecast, String> forecastNote = f -> "";

  /** Lines printed (forecasts, alerts, rejects). */
  public long lines;
  public long forecasts;
  public long alerts;
  public long rejects;
  public long verifications;
  public long undecodable;

  /**
   * @param tool names the tool in the line about a record that is not what its topic carries
   * @param err where that line goes
   */
  public LinePrinter(String tool, PrintWriter out, PrintWriter err) {
    this.tool = tool;
    this.out = out;
    this.err = err;
  }

  /** Only records of these grids (none: every grid). */
  public LinePrinter grids(List<String> only) {
    grids.addAll(only);
    return this;
  }

  /** At most this many lines (null: no limit). */
  public LinePrinter maxLines(Long max) {
    maxLines = max;
    return this;
  }

  /** Feeds the verifications to {@code t} and prints it each time their valid times advance by {@code everyMillis}. */
  public LinePrinter verification(VerificationTable t, long everyMillis) {
    table = t;
    tableEvery = everyMillis;
    return this;
  }

  /** Text after each forecast's line (what else was done with it). */
  public LinePrinter forecastNote(Function<Forecast, String> note) {
    forecastNote = note;
    return this;
  }

  /** Whether the line limit is reached. */
  public boolean full() {
    return maxLines != null && lines >= maxLines;
  }

  @Override
  public void forecast(Forecast f) {
    if (wanted(f.getGridId())) {
      forecasts++;
      print(Lines.forecast(f) + forecastNote.apply(f));
    }
  }

  @Override
  public void alert(Alert a) {
    if (wanted(a.getGridId())) {
      alerts++;
      print(Lines.alert(a));
    }
  }

  @Override
  public void reject(RejectedFrame r) {
    if (wanted(r.getGridId())) {
      rejects++;
      print(Lines.reject(r));
    }
  }

  @Override
  public void verification(Verification v) {
    if (table == null || (!grids.isEmpty() && !grids.contains(v.getGridId()))) {
      return;
    }
    verifications++;
    table.add(v);
    long t = table.newestValidTime();
    if (lastTable == Long.MIN_VALUE) {
      lastTable = t;
    } else if (t - lastTable >= tableEvery) {
      lastTable = t;
      table.render().forEach(out::println);
      out.flush();
    }
  }

  @Override
  public void forecastTilesDropped(Forecast tile, String why) {
    undecodable++;
    err.println(tool + ": tiles of the forecast of " + tile.getGridId() + " issued " + tile.getIssueTime()
        + " not put together: " + why);
    err.flush();
  }

  @Override
  public void undecodable(ConsumerRecord<byte[], byte[]> r, String expected, Exception why) {
    undecodable++;
    err.println(tool + ": record " + r.topic() + "/" + r.partition() + "@" + r.offset() + " is not a " + expected
        + " record: " + why.getMessage());
    err.flush();
  }

  private boolean wanted(String grid) {
    return !full() && (grids.isEmpty() || (grid != null && grids.contains(grid)));
  }

  private void print(String line) {
    out.println(line);
    out.flush();
    lines++;
  }
}

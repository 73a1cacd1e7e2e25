package ai.lsntp.serve;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.AlertKind;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.avro.Verification;
import ai.lsntp.tools.TopicWatcher;
import ai.lsntp.tools.VerificationTable;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the live page and the point API serve, fed by one reader of the job's topics: the newest
 * forecast and the newest observed frame of each grid, the open alerts, the rolling verification
 * per grid and lead, and the recent model events. Everything is bounded: at most
 * {@link #MAX_GRIDS} grids, one forecast and one frame each, one window of verification scores,
 * the last {@link #MAX_EVENTS} model events.
 *
 * <p>One thread writes (the reader); request threads read. The point API reads the forecasts
 * from a concurrent map of immutable fields without a lock; the page's JSON is built under this
 * object's lock, once per change ({@link #version()}).
 */
public final class LiveState implements TopicWatcher.Handler {
  private static final Logger LOG = LoggerFactory.getLogger(LiveState.class);
  /** Grids kept; records of further grids are passed over (a frames topic can carry any grid id). */
  static final int MAX_GRIDS = 256;
  static final int MAX_EVENTS = 50;

  private final ConcurrentHashMap<String, ForecastField> forecasts = new ConcurrentHashMap<>();
  private final Map<String, ObservedField> observed = new HashMap<>();
  private final Map<String, GridAlerts> alerts = new HashMap<>();
  private final VerificationTable verification;
  private final Deque<ModelEvent> events = new ArrayDeque<>();
  private final Map<String, Long> passedOver = new LinkedHashMap<>();
  private final AtomicLong version = new AtomicLong();
  private volatile String feedProblem;
  private long pageVersion = -1;
  private byte[] page;

  /** The open alerts of one grid: those of its newest forecast, and the grid-wide ones raised and not cleared. */
  private static final class GridAlerts {
    Instant issue = Instant.MIN;
    /** rule + lead -> the alert. */
    final Map<String, Alert> ofNewest = new LinkedHashMap<>();
    /** rule -> the raised grid-wide alert. */
    final Map<String, Alert> gridWide = new LinkedHashMap<>();

    void newIssue(Instant i) {
      if (i.isAfter(issue)) {
        issue = i;
        ofNewest.clear();
      }
    }
  }

  /** @param verificationWindow how much valid time the rolling verification covers (the job's verification.window) */
  public LiveState(Duration verificationWindow) {
    this.verification = new VerificationTable(verificationWindow);
  }

  /** Goes up by one with every change the page shows. */
  public long version() {
    return version.get();
  }

  /** The newest forecast of every grid. */
  public Collection<ForecastField> forecasts() {
    return forecasts.values();
  }

  public ForecastField forecast(String grid) {
    return forecasts.get(grid);
  }

  /** Says why the topics cannot be read just now (the page shows it); null once they can again. */
  public void feedProblem(String problem) {
    if (!Objects.equals(problem, feedProblem)) {
      feedProblem = problem;
      version.incrementAndGet();
    }
  }

  @Override
  public void forecast(Forecast f) {
    ForecastField field = ForecastField.of(f);
    if (field == null) {
      passOver(f.getGridId(), "forecast whose values do not fill beta x height x width, or not in K");
      return;
    }
    synchronized (this) {
      if (!room(field.gridId)) {
        return;
      }
      ForecastField had = forecasts.get(field.gridId);
      if (had == null || !field.issueTime.isBefore(had.issueTime)) {
        forecasts.put(field.gridId, field);
        alerts.computeIfAbsent(field.gridId, g -> new GridAlerts()).newIssue(field.issueTime);
        version.incrementAndGet();
      }
    }
  }

  @Override
  public void frame(TemperatureFrame f) {
    ObservedField field = ObservedField.of(f);
    if (field == null) {
      return; // the job rejects it too (the rejects topic says why); the page shows what it could forecast from
    }
    synchronized (this) {
      if (!room(field.gridId)) {
        return;
      }
      ObservedField had = observed.get(field.gridId);
      if (had == null || !field.validTime.isBefore(had.validTime)) {
        observed.put(field.gridId, field);
        version.incrementAndGet();
      }
    }
  }

  @Override
  public synchronized void alert(Alert a) {
    if (!room(a.getGridId())) {
      return;
    }
    GridAlerts g = alerts.computeIfAbsent(a.getGridId(), x -> new GridAlerts());
    if (a.getKind() == AlertKind.SKILL_DROP || a.getLead() <= 0) {
      if (a.getCleared()) {
        g.gridWide.remove(a.getRule());
      } else {
        g.gridWide.put(a.getRule(), a);
      }
    } else {
      g.newIssue(a.getIssueTime());
      if (!a.getIssueTime().equals(g.issue)) {
        return; // an older forecast's alert: no longer open
      }
      g.ofNewest.put(a.getRule() + "\u0000" + a.getLead(), a);
    }
    version.incrementAndGet();
  }

  @Override
  public synchronized void verification(Verification v) {
    if (!room(v.getGridId())) {
      return;
    }
    verification.add(v);
    version.incrementAndGet();
  }

  @Override
  public synchronized void modelEvent(ModelEvent e) {
    events.addFirst(e);
    while (events.size() > MAX_EVENTS) {
      events.removeLast();
    }
    version.incrementAndGet();
  }

  @Override
  public void undecodable(ConsumerRecord<byte[], byte[]> r, String expected, Exception why) {
    passOver(r.topic(), "record " + r.topic() + "/" + r.partition() + "@" + r.offset() + " is not a " + expected
        + ": " + why.getMessage());
  }

  /** Whether {@code grid} is kept: known already, or there is room for one more. */
  private boolean room(String grid) {
    if (grid == null) {
      return false;
    }
    if (forecasts.containsKey(grid) || observed.containsKey(grid) || alerts.containsKey(grid)
        || gridCount() < MAX_GRIDS) {
      return true;
    }
    passOver(grid, "more than " + MAX_GRIDS + " grids; records of further grids are not kept");
    return false;
  }

  private int gridCount() {
    TreeSet<String> all = new TreeSet<>(forecasts.keySet());
    all.addAll(observed.keySet());
    all.addAll(alerts.keySet());
    return all.size();
  }

  /** Logs the first record of each kind it passes over, then counts them. */
  private synchronized void passOver(String key, String why) {
    Long n = passedOver.merge(key == null ? "?" : key, 1L, Long::sum);
    if (n == 1) {
      LOG.warn("live page: passed over a {}", why);
    }
    if (passedOver.size() > MAX_GRIDS) {
      passedOver.remove(passedOver.keySet().iterator().next());
    }
  }

  /** The page's whole state as JSON (°C, rounded to 0.01), built once per version. */
  public synchronized byte[] pageJson() {
    long v = version.get();
    if (page == null || pageVersion != v) {
      page = writePage(v);
      pageVersion = v;
    }
    return page;
  }

  private byte[] writePage(long v) {
    return Json.bytes(1 << 16, g -> {
      g.writeStartObject();
      g.writeNumberField("version", v);
      g.writeStringField("feedProblem", feedProblem);
      TreeSet<String> grids = new TreeSet<>(forecasts.keySet());
      grids.addAll(observed.keySet());
      Map<String, List<VerificationTable.Row>> rows = new HashMap<>();
      for (VerificationTable.Row r : verification.rows()) {
        rows.computeIfAbsent(r.grid(), x -> new ArrayList<>()).add(r);
      }
      g.writeArrayFieldStart("grids");
      for (String id : grids) {
        g.writeStartObject();
        g.writeStringField("id", id);
        writeForecast(g, forecasts.get(id));
        writeObserved(g, observed.get(id));
        writeAlerts(g, alerts.get(id));
        writeVerification(g, rows.getOrDefault(id, List.of()));
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeArrayFieldStart("modelEvents");
      for (ModelEvent e : events) {
        g.writeStartObject();
        g.writeStringField("kind", e.getKind().name());
        g.writeStringField("grid", e.getGridId());
        g.writeStringField("path", e.getModelPath());
        g.writeStringField("model", e.getModelName());
        g.writeStringField("oldVersion", e.getOldVersion());
        g.writeStringField("newVersion", e.getNewVersion());
        g.writeStringField("reason", e.getReason());
        g.writeStringField("at", e.getAt().toString());
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeEndObject();
    });
  }

  private static void writeGeometry(JsonGenerator g, GridGeometry geo) throws IOException {
    g.writeObjectFieldStart("geometry");
    g.writeNumberField("height", geo.height());
    g.writeNumberField("width", geo.width());
    g.writeNumberField("lat0", geo.lat0());
    g.writeNumberField("lon0", geo.lon0());
    g.writeNumberField("dlat", geo.dlat());
    g.writeNumberField("dlon", geo.dlon());
    g.writeEndObject();
  }

  private static void writeCelsius(JsonGenerator g, float k) throws IOException {
    if (Float.isNaN(k)) {
      g.writeNull();
    } else {
      g.writeNumber(Math.round((k - 273.15) * 100) / 100.0);
    }
  }

  private static void writeForecast(JsonGenerator g, ForecastField f) throws IOException {
    if (f == null) {
      g.writeNullField("forecast");
      return;
    }
    g.writeObjectFieldStart("forecast");
    g.writeStringField("issued", f.issueTime.toString());
    g.writeStringField("model", f.modelName);
    g.writeStringField("modelVersion", f.modelVersion);
    g.writeStringField("produced", f.producedAt.toString());
    writeGeometry(g, f.geometry);
    g.writeArrayFieldStart("leads");
    for (int l = 0; l < f.leads(); l++) {
      g.writeStartObject();
      g.writeNumberField("lead", l + 1);
      g.writeStringField("valid", f.validTimes.get(l).toString());
      g.writeArrayFieldStart("values");
      for (int r = 0; r < f.geometry.height(); r++) {
        for (int c = 0; c < f.geometry.width(); c++) {
          writeCelsius(g, f.value(l, r, c));
        }
      }
      g.writeEndArray();
      g.writeEndObject();
    }
    g.writeEndArray();
    g.writeEndObject();
  }

  private static void writeObserved(JsonGenerator g, ObservedField o) throws IOException {
    if (o == null) {
      g.writeNullField("observed");
      return;
    }
    g.writeObjectFieldStart("observed");
    g.writeStringField("valid", o.validTime.toString());
    g.writeStringField("source", o.source);
    writeGeometry(g, o.geometry);
    g.writeArrayFieldStart("values");
    for (int r = 0; r < o.geometry.height(); r++) {
      for (int c = 0; c < o.geometry.width(); c++) {
        writeCelsius(g, o.value(r, c));
      }
    }
    g.writeEndArray();
    g.writeEndObject();
  }

  private static void writeAlerts(JsonGenerator g, GridAlerts a) throws IOException {
    g.writeArrayFieldStart("alerts");
    if (a != null) {
      List<Alert> open = new ArrayList<>(a.gridWide.values());
      open.addAll(a.ofNewest.values());
      for (Alert x : open) {
        boolean gridWide = x.getKind() == AlertKind.SKILL_DROP || x.getLead() <= 0;
        g.writeStartObject();
        g.writeStringField("rule", x.getRule());
        g.writeStringField("kind", x.getKind().name());
        g.writeNumberField("lead", x.getLead());
        g.writeStringField("issued", x.getIssueTime().toString());
        g.writeStringField("valid", x.getValidTime().toString());
        if (gridWide) {
          g.writeNullField("lat");
          g.writeNullField("lon");
          g.writeNumberField("skill", x.getValue());
          g.writeNumberField("threshold", x.getThreshold());
        } else {
          g.writeNumberField("lat", x.getLat());
          g.writeNumberField("lon", x.getLon());
          // a RAPID_CHANGE value and threshold are changes in K, which are changes in °C too
          boolean change = x.getKind() == AlertKind.RAPID_CHANGE;
          g.writeNumberField("value", Math.round((x.getValue() - (change ? 0 : 273.15)) * 100) / 100.0);
          g.writeNumberField("threshold", Math.round((x.getThreshold() - (change ? 0 : 273.15)) * 100) / 100.0);
        }
        g.writeEndObject();
      }
    }
    g.writeEndArray();
  }

  private void writeVerification(JsonGenerator g, List<VerificationTable.Row> rows) throws IOException {
    g.writeObjectFieldStart("verification");
    g.writeStringField("window", verification.window().toString());
    Instant upTo = verification.upTo();
    g.writeStringField("upTo", upTo == null ? null : upTo.toString());
    g.writeArrayFieldStart("leads");
    for (VerificationTable.Row r : rows) {
      if (!r.champion()) {
        continue; // the page's lead rows are the published model's; every model is under "models"
      }
      g.writeStartObject();
      g.writeNumberField("lead", r.lead());
      g.writeNumberField("mae", r.mae());
      writeFinite(g, "persistenceMae", r.persistenceMae());
      writeFinite(g, "skill", r.skill());
      g.writeNumberField("scores", r.scores());
      // observed coverage per interval level, keyed by the level ("0.8": 0.79)
      g.writeObjectFieldStart("coverage");
      for (Map.Entry<Double, Double> c : r.coverage().entrySet()) {
        g.writeNumberField(Double.toString(c.getKey()), c.getValue());
      }
      g.writeEndObject();
      g.writeEndObject();
    }
    g.writeEndArray();
    // the league: every model verified on this grid (champion and challengers), per lead
    g.writeArrayFieldStart("models");
    for (VerificationTable.Row r : rows) {
      g.writeStartObject();
      g.writeStringField("model", r.model());
      g.writeStringField("version", r.version());
      g.writeStringField("slot", r.slot());
      g.writeStringField("role", r.champion() ? "champion" : "challenger");
      g.writeNumberField("lead", r.lead());
      g.writeNumberField("mae", r.mae());
      writeFinite(g, "skill", r.skill());
      g.writeNumberField("scores", r.scores());
      g.writeEndObject();
    }
    g.writeEndArray();
    g.writeEndObject();
  }

  private static void writeFinite(JsonGenerator g, String name, double x) throws IOException {
    if (Double.isFinite(x)) {
      g.writeNumberField(name, x);
    } else {
      g.writeNullField(name);
    }
  }
}

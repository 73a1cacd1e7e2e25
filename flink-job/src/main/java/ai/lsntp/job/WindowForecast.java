package ai.lsntp.job;

import ai.lsntp.avro.Forecast;
import ai.lsntp.calibration.Calibration;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.model.ModelSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.api.common.functions.MapFunction;

/**
 * What inference makes of one window: its {@link Forecast}, and beside it what the forecast record
 * does not carry but the stages after inference need: the window's newest observed frame (lead 0
 * of the change alert rule; for verification, the frame observed at the issue time, so that the
 * leads it verifies are folded into the calibration before this forecast's intervals are made,
 * whichever of the two inputs the verifier hears from first), the model's export-time calibration
 * (where a grid's calibration starts) and where the record that completed the window is (for a
 * reject). The verifier adds the intervals to the forecast ({@link ForecastVerifier}).
 *
 * <p>Where the grid has challengers, their forecasts of the same window ride along in
 * {@link #challengers} (one record per window, so the verifier publishes exactly one forecast per
 * issue time whichever model serves, and switches models between two issue times, never within one).
 */
public class WindowForecast {
  public Forecast forecast;
  /** The window's newest frame, H*W kelvin (missing cells filled). */
  public float[] newestFrame;
  /** Its missing cells (null: none). */
  public boolean[] newestMissing;
  /** The export-time calibration of the model that made the forecast (null after the verifier used it). */
  public Calibration calibration;
  public String topic;
  public int partition;
  public long offset;
  /** Which of the grid's models made {@link #forecast}: {@link ai.lsntp.model.ModelCatalog#DEFAULT_SLOT} or a challenger's name. */
  public String slot = ai.lsntp.model.ModelCatalog.DEFAULT_SLOT;
  /** The model file that made {@link #forecast} (model events name it). */
  public String modelPath;
  /** The challengers' forecasts of the same window (empty: none); the verifier may make one of them the published one. */
  public Contender[] challengers = new Contender[0];

  public WindowForecast() {}

  /** One more model's forecast of the window. */
  public static class Contender {
    public String slot;
    public String modelPath;
    public Forecast forecast;
    public Calibration calibration;

    public Contender() {}

    Contender(String slot, ModelSpec spec, FrameWindow w, float[] values, long producedAt) {
      this.slot = slot;
      this.modelPath = spec.path;
      this.forecast = WindowForecast.forecast(spec, w, values, producedAt);
      this.calibration = spec.calibration;
    }
  }

  /** The forecast {@code spec} made of window {@code w}: {@code values} (beta*H*W kelvin), made at {@code producedAt}. */
  static WindowForecast of(ModelSpec spec, FrameWindow w, float[] values, long producedAt) {
    WindowForecast f = new WindowForecast();
    f.forecast = forecast(spec, w, values, producedAt);
    f.newestFrame = Arrays.copyOfRange(w.values, (spec.alpha - 1) * spec.cells(), spec.alpha * spec.cells());
    f.newestMissing = w.newestMissing;
    f.calibration = spec.calibration;
    f.modelPath = spec.path;
    f.topic = w.topic;
    f.partition = w.partition;
    f.offset = w.offset;
    return f;
  }

  private static Forecast forecast(ModelSpec spec, FrameWindow w, float[] values, long producedAt) {
    List<Instant> validTimes = new ArrayList<>(spec.beta);
    for (int lead = 1; lead <= spec.beta; lead++) {
      validTimes.add(Instant.ofEpochMilli(w.issueTime + lead * spec.stepMillis));
    }
    return Forecast.newBuilder()
        .setGridId(w.gridId)
        .setIssueTime(Instant.ofEpochMilli(w.issueTime))
        .setModelName(spec.name)
        .setModelVersion(spec.version)
        .setStepMillis(spec.stepMillis)
        .setBeta(spec.beta)
        .setHeight(spec.height)
        .setWidth(spec.width)
        .setLat0(spec.lat0)
        .setLon0(spec.lon0)
        .setDlat(spec.dlat)
        .setDlon(spec.dlon)
        .setUnits("K")
        .setValues(PackedFloats.encode(values))
        .setValidTimes(validTimes)
        .setProducedAt(Instant.ofEpochMilli(producedAt))
        .build();
  }

  /** The window's newest frame as an observation (valid at the forecast's issue time). */
  Frame newest() {
    Frame f = new Frame(forecast.getGridId(), forecast.getIssueTime().toEpochMilli(), 0L, newestFrame);
    f.missing = newestMissing;
    return f;
  }

  /** The forecast alone: what the forecasts topic takes. */
  public static final class TheForecast implements MapFunction<WindowForecast, Forecast> {
    private static final long serialVersionUID = 1L;

    @Override
    public Forecast map(WindowForecast f) {
      return f.forecast;
    }
  }
}

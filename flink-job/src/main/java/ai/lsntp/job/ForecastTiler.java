package ai.lsntp.job;

import ai.lsntp.avro.Forecast;
import ai.lsntp.schemas.ForecastTiles;
import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.metrics.Counter;
import org.apache.flink.util.Collector;

/**
 * The last step before the forecasts topic: a forecast whose record would be larger than
 * records.max-record-bytes goes out as its tiles, one per lead and band of rows (Forecast.tile,
 * {@link ForecastTiles}), each within the limit; a smaller one goes out whole, as before. All tiles
 * of a forecast are emitted together, so they share one Kafka transaction: a read_committed
 * subscriber sees all of a forecast's tiles or none. Verification and alerts take the whole forecast
 * before this step.
 */
public class ForecastTiler extends RichFlatMapFunction<Forecast, Forecast> {
  private static final long serialVersionUID = 1L;

  private final int maxRecordBytes;
  private transient Counter tiled;
  private transient Counter tilesOut;

  public ForecastTiler(int maxRecordBytes) {
    this.maxRecordBytes = maxRecordBytes;
  }

  @Override
  public void open(OpenContext ctx) {
    tiled = getRuntimeContext().getMetricGroup().counter("forecastsTiled");
    tilesOut = getRuntimeContext().getMetricGroup().counter("forecastTilesOut");
  }

  @Override
  public void flatMap(Forecast f, Collector<Forecast> out) {
    int keyBytes = f.getGridId().getBytes(StandardCharsets.UTF_8).length;
    var records = ForecastTiles.INSTANCE.split(f, keyBytes, maxRecordBytes);
    if (records.size() > 1) {
      tiled.inc();
      tilesOut.inc(records.size());
    }
    records.forEach(out::collect);
  }
}

package ai.lsntp.examples;

import ai.lsntp.avro.Forecast;
import ai.lsntp.schemas.ForecastTiles;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.schemas.SchemaCatalog;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Prints the forecast at one point for every forecast on the topic.
 *
 * <pre>
 * java -cp ... ai.lsntp.examples.ForecastSubscriber --bootstrap-servers 127.0.0.1:9092 \
 *     --topic lsntp.forecasts --lat 51.5 --lon -0.1 [--schemas DIR] [--max N] [--idle-timeout SECONDS]
 * </pre>
 *
 * {@code --schemas DIR} adds a newer release's published set ({@code ./lsntp schemas --export DIR}),
 * so records written with versions this jar does not know yet still resolve. A forecast that comes
 * as tiles (a big grid's, one record per lead and band of rows) is put back together by the
 * schemas jar's {@link ForecastTiles.Assembler} and printed once, whole.
 */
public final class ForecastSubscriber {
  private ForecastSubscriber() {}

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>(Map.of("--bootstrap-servers", "127.0.0.1:9092", "--topic", "lsntp.forecasts",
        "--lat", "51.5", "--lon", "-0.1", "--max", "0", "--idle-timeout", "0"));
    for (int i = 0; i + 1 < argv.length; i += 2) {
      a.put(argv[i], argv[i + 1]);
    }
    SchemaCatalog catalog = SchemaCatalog.builtIn();
    if (a.containsKey("--schemas")) {
      catalog = catalog.withDirectory(Path.of(a.get("--schemas")));
    }
    RecordCodec<Forecast> codec = RecordCodec.of(Forecast.class, catalog);
    double lat = Double.parseDouble(a.get("--lat"));
    double lon = Double.parseDouble(a.get("--lon"));
    int max = Integer.parseInt(a.get("--max"));
    long idleMillis = (long) (Double.parseDouble(a.get("--idle-timeout")) * 1000);
    Map<String, Object> props = Map.of("bootstrap.servers", a.get("--bootstrap-servers"),
        "group.id", "lsntp-java-subscriber-" + UUID.randomUUID(), "auto.offset.reset", "earliest",
        "enable.auto.commit", "false", "isolation.level", "read_committed");
    int seen = 0;
    ForecastTiles.Assembler tiles = new ForecastTiles.Assembler(64,
        (tile, why) -> System.err.println("tiles of " + tile.getGridId() + " " + tile.getIssueTime() + " dropped: " + why));
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(a.get("--topic")));
      long last = System.currentTimeMillis();
      while (max == 0 || seen < max) {
        var records = consumer.poll(Duration.ofMillis(500));
        if (records.isEmpty()) {
          if (consumer.assignment().isEmpty()) {
            last = System.currentTimeMillis(); // still joining the group: not idle yet
          } else if (idleMillis > 0 && System.currentTimeMillis() - last > idleMillis) {
            break;
          }
          continue;
        }
        last = System.currentTimeMillis();
        for (ConsumerRecord<byte[], byte[]> r : records) {
          RecordCodec.Decoded<Forecast> d = codec.decodeWithWriter(r.value());
          Forecast f = tiles.add(d.record());
          if (f == null) {
            continue; // more tiles of this forecast to come
          }
          double[] point = atPoint(f, lat, lon);
          StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "FORECAST %s issued %s %s %s; at %s,%s:",
              f.getGridId(), f.getIssueTime(), f.getModelName(), f.getModelVersion(), lat, lon));
          if (point == null) {
            line.append(" outside the grid");
          } else {
            for (int lead = 0; lead < point.length; lead++) {
              line.append(String.format(Locale.ROOT, " +%dh %.4f", (lead + 1) * f.getStepMillis() / 3_600_000,
                  point[lead]));
            }
          }
          line.append(" [").append(d.format() == RecordCodec.Format.PLAIN ? "plain Avro" : d.writer().label())
              .append(']');
          System.out.println(line);
          seen++;
        }
      }
    }
    System.out.println("subscriber: " + seen + " forecasts");
  }

  /** Every lead's forecast at (lat, lon), bilinear in the grid's cells; null outside the grid. */
  static double[] atPoint(Forecast f, double lat, double lon) {
    int h = f.getHeight();
    int w = f.getWidth();
    double lon0 = f.getLon0();
    double r = (lat - f.getLat0()) / f.getDlat();
    double c = (((lon - lon0) % 360 + 360) % 360) / f.getDlon(); // the grid's own longitude range
    double eps = 1e-9;
    if (r < -eps || r > h - 1 + eps || c < -eps || c > w - 1 + eps) {
      return null;
    }
    int r0 = Math.min(Math.max((int) Math.floor(r), 0), Math.max(h - 2, 0));
    int c0 = Math.min(Math.max((int) Math.floor(c), 0), Math.max(w - 2, 0));
    int r1 = Math.min(r0 + 1, h - 1);
    int c1 = Math.min(c0 + 1, w - 1);
    double fr = r - r0;
    double fc = c - c0;
    ByteBuffer v = f.getValues().duplicate().order(ByteOrder.LITTLE_ENDIAN);
    double[] out = new double[f.getBeta()];
    for (int lead = 0; lead < out.length; lead++) {
      int base = lead * h * w;
      out[lead] = (1 - fr) * (1 - fc) * cell(v, base + r0 * w + c0) + (1 - fr) * fc * cell(v, base + r0 * w + c1)
          + fr * (1 - fc) * cell(v, base + r1 * w + c0) + fr * fc * cell(v, base + r1 * w + c1);
    }
    return out;
  }

  private static double cell(ByteBuffer v, int index) {
    return v.getFloat(v.position() + index * Float.BYTES);
  }
}

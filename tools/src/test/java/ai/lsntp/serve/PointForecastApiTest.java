package ai.lsntp.serve;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.model.OnnxForecaster;
import ai.lsntp.testing.KafkaBroker;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestPaths;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * /v1/forecast against ONNX Runtime run directly on the same window of real ERA5 frames, the job
 * in between (broker, MiniCluster, exactly-once output read back read_committed), interpolated
 * independently here; and every kind of bad request answered as JSON naming the problem, never a
 * stack trace.
 */
class PointForecastApiTest {
  static final String UK = "era5-uk-0p25";
  static final double TOLERANCE_K = 1e-4;
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();

  static LiveJob world;
  static ModelSpec spec;
  static List<TemperatureFrame> frames;
  /** lead -> row -> col, K: the model run here on the window the newest forecast came from. */
  static float[][][] direct;
  static final HttpClient http = HttpClient.newHttpClient();
  static final ObjectMapper json = new ObjectMapper();

  @BeforeAll
  static void forecastsOfRealFrames() throws Exception {
    spec = ModelCatalog.load(TestPaths.models()).forGrid(UK);
    frames = RealFrames.uk(spec.alpha + 1); // two windows: two forecasts, the page keeps the newer
    world = LiveJob.start(kafka, "api", "[]");
    world.publish(frames);
    Instant newest = frames.get(frames.size() - 1).getValidTime();
    assertThat(world.awaitIssue(UK, newest, Duration.ofSeconds(90))).as("the forecast issued %s reached the API", newest)
        .isTrue();

    int cells = spec.cells();
    float[] window = new float[spec.alpha * cells];
    for (int k = 0; k < spec.alpha; k++) {
      TemperatureFrame f = frames.get(frames.size() - spec.alpha + k);
      System.arraycopy(PackedFloats.decode(f.getValues()), 0, window, k * cells, cells);
    }
    float[] out;
    try (OnnxForecaster ort = OnnxForecaster.open(spec, false, 1)) {
      out = ort.forecast(List.of(window))[0];
    }
    direct = new float[spec.beta][spec.height][spec.width];
    for (int l = 0; l < spec.beta; l++) {
      for (int r = 0; r < spec.height; r++) {
        System.arraycopy(out, l * cells + r * spec.width, direct[l][r], 0, spec.width);
      }
    }
  }

  @AfterAll
  static void stop() throws Exception {
    if (world != null) {
      world.close();
    }
  }

  @Test
  void valuesAreTheModelsOnTheSameWindowBilinearlyInterpolated() throws Exception {
    TemperatureFrame geo = frames.get(0); // the grid's geometry as the frames carry it
    double lat0 = geo.getLat0();
    double lon0 = geo.getLon0();
    double dlat = geo.getDlat();
    double dlon = geo.getDlon();
    // exactly on a cell centre (row 10, col 20), between four centres (near London), and the last centre (a corner)
    double[][] points = {{lat0 + 10 * dlat, lon0 + 20 * dlon}, {51.37, -0.13}, {lat0 + 32 * dlat, lon0 + 48 * dlon}};
    Instant issue = frames.get(frames.size() - 1).getValidTime();
    DateTimeFormatter hourly = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm").withZone(ZoneOffset.UTC);
    for (double[] p : points) {
      JsonNode a = ok("/v1/forecast?latitude=" + p[0] + "&longitude=" + p[1]);
      assertThat(a.get("latitude").asDouble()).isEqualTo(p[0]);
      assertThat(a.get("longitude").asDouble()).isEqualTo(p[1]);
      assertThat(a.get("grid").asText()).isEqualTo(UK);
      assertThat(a.get("model").get("name").asText()).isEqualTo(spec.name);
      assertThat(a.get("model").get("version").asText()).isEqualTo(spec.version);
      assertThat(a.get("issued").asText()).isEqualTo(issue.toString());
      assertThat(a.get("hourly_units").get("time").asText()).isEqualTo("iso8601");
      assertThat(a.get("hourly_units").get("temperature_2m").asText()).isEqualTo("°C");
      JsonNode times = a.get("hourly").get("time");
      JsonNode temps = a.get("hourly").get("temperature_2m");
      assertThat(times).hasSize(spec.beta);
      assertThat(temps).hasSize(spec.beta);
      double y = (p[0] - lat0) / dlat;
      double x = (p[1] - lon0) / dlon;
      for (int l = 0; l < spec.beta; l++) {
        assertThat(times.get(l).asText()).isEqualTo(hourly.format(issue.plusMillis((l + 1) * spec.stepMillis)));
        double want = bilinear(direct[l], y, x);
        assertThat(temps.get(l).asDouble() + 273.15).as("lead %d at %s, %s", l + 1, p[0], p[1])
            .isCloseTo(want, org.assertj.core.data.Offset.offset(TOLERANCE_K));
      }
    }
    // on a centre the answer is that cell's value: no neighbour takes part
    JsonNode centre = ok("/v1/forecast?latitude=" + points[0][0] + "&longitude=" + points[0][1]);
    assertThat(centre.get("hourly").get("temperature_2m").get(0).asDouble() + 273.15)
        .isCloseTo(direct[0][10][20], org.assertj.core.data.Offset.offset(TOLERANCE_K));
    // longitudes modulo 360: 359.87 east is 0.13 west
    assertThat(ok("/v1/forecast?latitude=51.37&longitude=359.87").get("hourly"))
        .isEqualTo(ok("/v1/forecast?latitude=51.37&longitude=-0.13").get("hourly"));
    // Open-Meteo clients send hourly=temperature_2m and timezone=GMT
    assertThat(ok("/v1/forecast?latitude=51.37&longitude=-0.13&hourly=temperature_2m&timezone=GMT").get("hourly"))
        .isEqualTo(ok("/v1/forecast?latitude=51.37&longitude=-0.13").get("hourly"));
  }

  @Test
  void gridsListsTheServedGridWithItsExtentModelAndIssueTime() throws Exception {
    JsonNode grids = ok("/v1/grids").get("grids");
    assertThat(grids).hasSize(1);
    JsonNode g = grids.get(0);
    assertThat(g.get("grid").asText()).isEqualTo(UK);
    assertThat(g.get("latitude_min").asDouble()).isEqualTo(50.0);
    assertThat(g.get("latitude_max").asDouble()).isEqualTo(58.0);
    assertThat(g.get("longitude_min").asDouble()).isEqualTo(-10.0);
    assertThat(g.get("longitude_max").asDouble()).isEqualTo(2.0);
    assertThat(g.get("shape").get("height").asInt()).isEqualTo(spec.height);
    assertThat(g.get("shape").get("width").asInt()).isEqualTo(spec.width);
    assertThat(g.get("step").get("latitude").asDouble()).isEqualTo(spec.dlat);
    assertThat(g.get("step").get("longitude").asDouble()).isEqualTo(spec.dlon);
    assertThat(g.get("model").get("version").asText()).isEqualTo(spec.version);
    assertThat(g.get("issued").asText()).isEqualTo(frames.get(frames.size() - 1).getValidTime().toString());
  }

  @Test
  void eachBadParameterIsA400NamingIt() throws Exception {
    String[][] cases = { // query, the parameter named, words of the reason
        {"longitude=1", "latitude", "is required"},
        {"latitude=51", "longitude", "is required"},
        {"latitude=&longitude=1", "latitude", "is required"},
        {"latitude=abc&longitude=1", "latitude", "must be a decimal number"},
        {"latitude=51&longitude=west", "longitude", "must be a decimal number"},
        {"latitude=NaN&longitude=1", "latitude", "must be a decimal number"},
        {"latitude=51&longitude=1e2", "longitude", "must be a decimal number"},
        {"latitude=0x1p3&longitude=1", "latitude", "must be a decimal number"},
        {"latitude=90.5&longitude=1", "latitude", "must be within -90..90"},
        {"latitude=-91&longitude=1", "latitude", "must be within -90..90"},
        {"latitude=51&longitude=-180.5", "longitude", "must be within -180..360"},
        {"latitude=51&longitude=360.01", "longitude", "must be within -180..360"},
        {"latitude=51&latitude=52&longitude=1", "latitude", "given 2 times"},
        {"latitude=51&longitude=1&hourly=precipitation", "hourly", "serves only temperature_2m"},
        {"latitude=51&longitude=1&timezone=Europe/Berlin", "timezone", "must be GMT or UTC"},
    };
    for (String[] c : cases) {
      HttpResponse<String> r = get("/v1/forecast?" + c[0]);
      assertThat(r.statusCode()).as(c[0]).isEqualTo(400);
      JsonNode e = error(r);
      assertThat(e.get("parameter").asText()).as(c[0]).isEqualTo(c[1]);
      assertThat(e.get("reason").asText()).as(c[0]).startsWith("Parameter '" + c[1] + "' ").contains(c[2]);
    }
  }

  @Test
  void aPointNoGridCoversIsA404NamingTheExtents() throws Exception {
    // beyond the last centres (2.0 E, 50.0 N) but within the grid's edge cells; then far away
    for (String q : new String[] {"latitude=51&longitude=2.1", "latitude=49.9&longitude=0", "latitude=10&longitude=10",
        "latitude=51&longitude=180"}) {
      HttpResponse<String> r = get("/v1/forecast?" + q);
      assertThat(r.statusCode()).as(q).isEqualTo(404);
      assertThat(error(r).get("reason").asText()).as(q).startsWith("No grid covers latitude ")
          .contains("era5-uk-0p25 latitude 50.0..58.0, longitude -10.0..2.0");
    }
  }

  @Test
  void unknownPathsOtherMethodsAndBrokenRequestsAreJsonWithoutAStackTrace() throws Exception {
    HttpResponse<String> unknown = get("/v2/forecast?latitude=51&longitude=0");
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(error(unknown).get("reason").asText()).contains("No such path: GET /v2/forecast");
    HttpResponse<String> outside = get("/assets/../../../etc/passwd");
    assertThat(outside.statusCode()).isIn(400, 404); // refused as an ambiguous path, or not found: never a file
    error(outside);

    HttpResponse<String> post = http.send(HttpRequest.newBuilder(uri("/v1/forecast?latitude=51&longitude=0"))
        .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(error(post).get("reason").asText()).contains("only reads");

    // a value that is not percent-encoding (no client library sends it, so it goes out raw)
    String badEscape = exchange("GET /v1/forecast?latitude=%zz&longitude=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertThat(badEscape).startsWith("HTTP/1.1 400 ").contains("application/json")
        .contains("\"reason\":\"Parameter 'latitude' is not valid percent-encoding: '%zz'\"");
    assertNoStackTrace(badEscape);

    // requests the HTTP layer refuses before any route: a bad URI, a header line without a colon, a huge header
    List<String> raw = new ArrayList<>();
    raw.add("GET /%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    raw.add("GET /v1/grids HTTP/1.1\r\nHost: x\r\nno colon here\r\nConnection: close\r\n\r\n");
    raw.add("GET /v1/grids HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(64 * 1024) + "\r\nConnection: close\r\n\r\n");
    for (String request : raw) {
      String response = exchange(request);
      assertThat(response).as(request.substring(0, 30)).matches("(?s)HTTP/1\\.1 4\\d\\d .*");
      assertNoStackTrace(response);
      assertThat(response).contains("application/json").contains("\"error\":true")
          .as("the connection it drops is said to close, so no client reuses it").contains("Connection: close");
    }
  }

  @Test
  void theIntervalsAreTheForecastRecordsQuantilesAtThePoint() throws Exception {
    // the newest forecast as the job published it, read back here (the quantiles come from the
    // job's calibration, so the record is their reference)
    ai.lsntp.schemas.RecordCodec<ai.lsntp.avro.Forecast> codec = ai.lsntp.schemas.RecordCodec.of(ai.lsntp.avro.Forecast.class);
    ai.lsntp.avro.Forecast newest = null;
    for (var r : ai.lsntp.testing.KafkaIO.readCommitted(kafka.bootstrapServers(),
        ai.lsntp.config.Topic.FORECASTS.under("api"), 2, Duration.ofSeconds(30))) {
      ai.lsntp.avro.Forecast f = codec.decode(r.value());
      newest = newest == null || f.getIssueTime().isAfter(newest.getIssueTime()) ? f : newest;
    }
    assertThat(newest).isNotNull();
    List<Double> levels = newest.getQuantileLevels();
    assertThat(levels).as("the default 80%% and 95%% intervals").containsExactly(0.025, 0.1, 0.9, 0.975);
    float[] q = PackedFloats.decode(newest.getQuantiles());
    int cells = spec.cells();
    TemperatureFrame geo = frames.get(0);
    double[] p = {51.37, -0.13};
    double y = (p[0] - geo.getLat0()) / geo.getDlat();
    double x = (p[1] - geo.getLon0()) / geo.getDlon();
    JsonNode a = ok("/v1/forecast?latitude=" + p[0] + "&longitude=" + p[1]);
    JsonNode hourly = a.get("hourly");
    String[] names = {"temperature_2m_p2_5", "temperature_2m_p10", "temperature_2m_p90", "temperature_2m_p97_5"};
    for (int j = 0; j < names.length; j++) {
      assertThat(a.get("hourly_units").get(names[j]).asText()).isEqualTo("°C");
      JsonNode series = hourly.get(names[j]);
      assertThat(series).as(names[j]).hasSize(spec.beta);
      for (int l = 0; l < spec.beta; l++) {
        float[][] plane = new float[spec.height][spec.width];
        for (int r = 0; r < spec.height; r++) {
          System.arraycopy(q, (j * spec.beta + l) * cells + r * spec.width, plane[r], 0, spec.width);
        }
        assertThat(series.get(l).asDouble() + 273.15).as("%s, lead %d", names[j], l + 1)
            .isCloseTo(bilinear(plane, y, x), org.assertj.core.data.Offset.offset(TOLERANCE_K));
      }
    }
    for (int l = 0; l < spec.beta; l++) {
      double median = hourly.get("temperature_2m").get(l).asDouble();
      assertThat(hourly.get("temperature_2m_p10").get(l).asDouble()).isLessThanOrEqualTo(median);
      assertThat(hourly.get("temperature_2m_p90").get(l).asDouble()).isGreaterThanOrEqualTo(median);
    }
    // a client may name them in hourly=
    assertThat(ok("/v1/forecast?latitude=51.37&longitude=-0.13&hourly=temperature_2m,temperature_2m_p10").get("hourly"))
        .isEqualTo(hourly);
  }

  @Test
  void theEventStreamAnswersOnlyAClientThatAsksForOne() throws Exception {
    HttpResponse<String> plain = get("/api/events");
    assertThat(plain.statusCode()).isEqualTo(406);
    assertThat(error(plain).get("reason").asText()).contains("Accept: text/event-stream").contains("/api/state");
    // the page's own request: the stream opens and says the state's version first
    HttpResponse<java.io.InputStream> stream = http.send(HttpRequest.newBuilder(uri("/api/events"))
        .header("Accept", "text/event-stream").GET().build(), HttpResponse.BodyHandlers.ofInputStream());
    assertThat(stream.statusCode()).isEqualTo(200);
    assertThat(stream.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
    try (var lines = new java.io.BufferedReader(new java.io.InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
      assertThat(lines.readLine()).isEqualTo("event: version");
    }
  }

  static double bilinear(float[][] f, double y, double x) {
    int r = Math.min((int) Math.floor(y), f.length - 2);
    int c = Math.min((int) Math.floor(x), f[0].length - 2);
    double wy = y - r;
    double wx = x - c;
    return (1 - wy) * (1 - wx) * f[r][c] + (1 - wy) * wx * f[r][c + 1] + wy * (1 - wx) * f[r + 1][c]
        + wy * wx * f[r + 1][c + 1];
  }

  static URI uri(String pathAndQuery) {
    return URI.create(world.live.url() + pathAndQuery.substring(1));
  }

  static HttpResponse<String> get(String pathAndQuery) throws Exception {
    return http.send(HttpRequest.newBuilder(uri(pathAndQuery)).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode ok(String pathAndQuery) throws Exception {
    HttpResponse<String> r = get(pathAndQuery);
    assertThat(r.statusCode()).as(pathAndQuery + " -> " + r.body()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
    return json.readTree(r.body());
  }

  /** An error answer: JSON {"error": true, "reason": ...}, no stack trace. */
  static JsonNode error(HttpResponse<String> r) throws Exception {
    assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
    assertNoStackTrace(r.body());
    JsonNode e = json.readTree(r.body());
    assertThat(e.get("error").asBoolean()).isTrue();
    assertThat(e.get("reason").asText()).isNotBlank();
    return e;
  }

  static void assertNoStackTrace(String body) {
    assertThat(body).doesNotContainPattern("\\tat |\\bat [a-z]+\\.[\\w.$]+\\(|\\.java:\\d+|Exception|Caused by");
  }

  /** One raw HTTP/1.1 exchange: what the server answers to bytes a client library would not send. */
  static String exchange(String request) throws Exception {
    try (Socket s = new Socket("127.0.0.1", world.live.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(request.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      try {
        for (int n; (n = in.read(buf)) > 0; ) {
          got.write(buf, 0, n);
        }
      } catch (java.net.SocketException e) {
        // the server may reset after answering a request it refused
      }
      return got.toString(StandardCharsets.ISO_8859_1);
    }
  }
}

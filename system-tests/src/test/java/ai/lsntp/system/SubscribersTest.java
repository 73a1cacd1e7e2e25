package ai.lsntp.system;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.Forecast;
import ai.lsntp.cli.Lsntp;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.job.ForecastJob;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.schemas.ForecastTiles;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.schemas.SchemaCatalog;
import ai.lsntp.testing.KafkaBroker;
import ai.lsntp.testing.KafkaIO;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.core.execution.JobClient;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stream's records as the world reads and writes them, every party a process of its own
 * against a real broker, the job producing: a producer built for TemperatureFrame v1 and today's
 * replay (first in plain Avro, a producer not yet moved, then single-object) feed one job; the
 * forecasts topic also holds plain records an earlier deployment wrote. Then the Python
 * subscriber, the Java subscriber (kafka-clients and the schemas jar only), a consumer built
 * against the previous Forecast, watch, and the Zarr archive (restarted twice) all read it; and a
 * consumer built against today's Forecast reads a version with one more field from its published
 * file. The subscribers also read the same forecasts as a big grid's come, cut into tiles (two
 * forecasts' tiles interleaved), and print, archive and place each forecast once, whole.
 */
class SubscribersTest {
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();
  static final String PREFIX = "subs";
  static final String UK = "era5-uk-0p25";
  static final String NA = "ncep-na-2p5";
  /** A cell centre of the ERA5 grid (row 26, column 40), so bilinear interpolation must return the cell. */
  static final double LAT = 51.5;
  static final double LON = 0.0;
  static final Pattern VALUES = Pattern.compile("\\+(\\d+)h (-?[0-9.]+)");

  @TempDir Path work;

  @Test
  void producersAndSubscribersOfEveryVersionInTheirOwnProcessesShareOneStream() throws Exception {
    kafka.createTopics(1, ai.lsntp.config.Topic.namesUnder(PREFIX));
    kafka.createTopics(1, PREFIX + ".forecasts-next");
    Path root = TestPaths.root();
    ModelCatalog models = ModelCatalog.load(TestPaths.models());
    ModelSpec uk = models.forGrid(UK);
    ModelSpec na = models.forGrid(NA);
    Path schemas = work.resolve("published-schemas");
    assertThat(Lsntp.commandLine().execute("schemas", "--export", schemas.toString())).isZero();

    // what a deployment before single-object encoding left on the forecasts topic: plain records
    List<Forecast> legacy = List.of(legacyForecast(uk, "2019-03-01T03:00:00Z"), legacyForecast(uk, "2019-03-01T04:00:00Z"));
    RecordCodec<Forecast> forecasts = RecordCodec.of(Forecast.class);
    List<byte[][]> plain = new ArrayList<>();
    legacy.forEach(f -> plain.add(new byte[][] {UK.getBytes(StandardCharsets.UTF_8), forecasts.encodePlain(f)}));
    KafkaIO.produce(kafka.bootstrapServers(), PREFIX + ".forecasts", plain);

    LsntpConfig cfg = TestJobConfig.onTopics(kafka.bootstrapServers(), PREFIX)
        .set("delivery.guarantee", "exactly-once")
        .set("delivery.checkpoint-interval", "1s")
        .set("stream.future-tolerance", "3650d")
        .set("alerts", "[{name: cold-290, kind: frost, threshold: 290.0, grid: '*'}]")
        .load();
    JobClient job = ForecastJob.fromKafka(cfg, false).executeAsync(ForecastJob.localEnvironment(cfg));
    try (CommittedForecasts out = new CommittedForecasts(kafka.bootstrapServers(), PREFIX + ".forecasts")) {
      long until = System.currentTimeMillis() + 60_000;
      while (job.getJobStatus().get() != JobStatus.RUNNING && System.currentTimeMillis() < until) {
        Thread.sleep(100);
      }

      // producers: the old one writes v1 frames of the UK grid; replay writes North America's,
      // its first four in plain Avro (records.write = plain), the next six in single-object encoding
      int ukFrames = 12;
      Path v1 = root.resolve("schemas/src/main/resources/ai/lsntp/schemas/history/TemperatureFrame-v1.avsc");
      ChildJvm oldProducer = ChildJvm.start("old-producer", work, avroAndKafkaOnly(), "256m", Map.of(), List.of(),
          OldFrameProducer.class.getName(), List.of(kafka.bootstrapServers(), PREFIX + ".frames",
              TestPaths.ukFrames().toString(), v1.toString(), Integer.toString(ukFrames)));
      Path naFrames = root.resolve("data/frames/ncep-na-2014-01_02.avro");
      exits(replay("replay-plain", naFrames, "--limit", "4", "--set", "records.write=plain"), 120);
      exits(replay("replay", naFrames, "--start", "2014-01-02T00:00Z", "--limit", "6"), 120);
      exits(oldProducer, 120);
      assertThat(oldProducer.logText()).contains("sent 12 TemperatureFrame v1 records");

      int ukForecasts = ukFrames - uk.alpha + 1;
      int naForecasts = 10 - na.alpha + 1;
      int all = legacy.size() + ukForecasts + naForecasts;
      assertThat(out.await(all, Duration.ofSeconds(120))).as("forecasts of both grids, %d expected, %d seen",
          all, out.count()).isTrue();
      assertThat(KafkaIO.readCommitted(kafka.bootstrapServers(), PREFIX + ".rejects", 0, Duration.ofSeconds(2)))
          .as("v1 and plain frames are accepted, nothing rejected").isEmpty();
      Map<Long, Forecast> ukByIssue = new HashMap<>();
      for (ConsumerRecord<byte[], byte[]> r : KafkaIO.readCommitted(kafka.bootstrapServers(), PREFIX + ".forecasts",
          all, Duration.ofSeconds(20))) {
        Forecast f = forecasts.decode(r.value());
        if (f.getGridId().equals(UK)) {
          ukByIssue.put(f.getIssueTime().toEpochMilli(), f);
        }
      }
      assertThat(ukByIssue).hasSize(legacy.size() + ukForecasts);

      // a version of Forecast with one more field, written by a producer a release ahead
      Path next = work.resolve("schemas-next");
      copyDirectory(schemas, next);
      int nextVersion = SchemaCatalog.builtIn().current("Forecast").number() + 1;
      Schema nextSchema = new Schema.Parser().parse(Forecast.getClassSchema().toString().replaceFirst("\\]\\}$",
          ",{\"name\":\"ensemble_member\",\"type\":[\"null\",\"int\"],\"default\":null}]}"));
      Files.writeString(next.resolve("Forecast-v" + nextVersion + ".avsc"), nextSchema.toString(true));
      List<byte[][]> ahead = new ArrayList<>();
      for (Forecast f : new ArrayList<>(ukByIssue.values()).subList(0, 3)) {
        ahead.add(new byte[][] {UK.getBytes(StandardCharsets.UTF_8), nextVersionRecord(nextSchema, f, 7)});
      }
      KafkaIO.produce(kafka.bootstrapServers(), PREFIX + ".forecasts-next", ahead);

      // the UK forecasts as a big grid's travel: tiles of at most 16 KB (one per lead without intervals, three
      // with them), two forecasts interleaved
      String tiled = PREFIX + "-tiled";
      kafka.createTopics(1, tiled + ".forecasts", tiled + ".alerts", tiled + ".verification");
      List<Forecast> byIssue = ukByIssue.values().stream()
          .sorted(java.util.Comparator.comparing(Forecast::getIssueTime)).toList();
      List<byte[][]> tiles = new ArrayList<>();
      for (int i = 0; i < byIssue.size(); i += 2) {
        List<Forecast> a = ForecastTiles.INSTANCE.split(byIssue.get(i), UK.length(), 16 * 1024);
        List<Forecast> b = i + 1 < byIssue.size() ? ForecastTiles.INSTANCE.split(byIssue.get(i + 1), UK.length(), 16 * 1024)
            : List.of();
        assertThat(a.size()).isIn(uk.beta, 3 * uk.beta);
        for (int k = 0; k < Math.max(a.size(), b.size()); k++) {
          for (List<Forecast> t : List.of(a, b)) {
            if (k < t.size()) {
              tiles.add(new byte[][] {UK.getBytes(StandardCharsets.UTF_8), forecasts.encode(t.get(k))});
            }
          }
        }
      }
      KafkaIO.produce(kafka.bootstrapServers(), tiled + ".forecasts", tiles);

      // the subscribers, each its own process, side by side
      Path examples = root.resolve("examples/python-subscriber");
      Path store = work.resolve("archive.zarr");
      Py python = python("python-subscriber", examples.resolve("subscribe.py").toString(), "-b",
          kafka.bootstrapServers(), "--schemas", schemas.toString(), "--prefix", PREFIX, "--lat", Double.toString(LAT),
          "--lon", Double.toString(LON), "--idle-timeout", "5");
      ChildJvm java = javaSubscriber("java-subscriber", PREFIX + ".forecasts", null);
      ChildJvm javaNext = javaSubscriber("java-subscriber-next", PREFIX + ".forecasts-next", next);
      Path previousForecast = root.resolve("schemas/src/main/resources/ai/lsntp/schemas/history/Forecast-v"
          + (nextVersion - 2) + ".avsc");
      ChildJvm oldConsumer = ChildJvm.start("old-consumer", work, avroAndKafkaOnly(), "256m", Map.of(), List.of(),
          OldForecastConsumer.class.getName(), List.of(kafka.bootstrapServers(), PREFIX + ".forecasts",
              previousForecast.toString(), schemas.toString(), "6"));
      ChildJvm watch = ChildJvm.start("watch", work, ChildJvm.testClasspath(), "512m", Map.of(), List.of(),
          "ai.lsntp.cli.Lsntp", List.of("watch", "-b", kafka.bootstrapServers(), "--forecasts-topic",
              PREFIX + ".forecasts", "--no-alerts", "--from-beginning", "--idle-timeout", "5s"));
      // the archive: stopped after 4 forecasts, started again, then once more under another group
      // (it rereads everything): no time may be lost or stored twice
      String archive = examples.resolve("archive.py").toString();
      List<String> archiveArgs = List.of("-b", kafka.bootstrapServers(), "--schemas", schemas.toString(), "--topic",
          PREFIX + ".forecasts", "--store", store.toString());
      Py pythonTiled = python("python-subscriber-tiled", examples.resolve("subscribe.py").toString(), "-b",
          kafka.bootstrapServers(), "--schemas", schemas.toString(), "--prefix", tiled, "--lat", Double.toString(LAT),
          "--lon", Double.toString(LON), "--idle-timeout", "5");
      ChildJvm javaTiled = javaSubscriber("java-subscriber-tiled", tiled + ".forecasts", null);
      ChildJvm watchTiled = ChildJvm.start("watch-tiled", work, ChildJvm.testClasspath(), "512m", Map.of(), List.of(),
          "ai.lsntp.cli.Lsntp", List.of("watch", "-b", kafka.bootstrapServers(), "--forecasts-topic",
              tiled + ".forecasts", "--no-alerts", "--from-beginning", "--idle-timeout", "5s"));
      Path tiledStore = work.resolve("archive-tiled.zarr");
      List<String> tiledArchiveArgs = List.of("-b", kafka.bootstrapServers(), "--schemas", schemas.toString(), "--topic",
          tiled + ".forecasts", "--store", tiledStore.toString(), "--group-id", "tiled-archive");
      String run1 = finished(python("archive-1", with(archive, archiveArgs, "--max-forecasts", "4")), 120);
      String run2 = finished(python("archive-2", with(archive, archiveArgs, "--idle-timeout", "5")), 120);
      String run3 = finished(python("archive-3", with(archive, archiveArgs, "--idle-timeout", "5", "--group-id",
          "another-archive")), 120);

      // stopped in the middle of the interleaved tiles, then started again
      String tiledRun1 = finished(python("archive-tiled-1", with(archive, tiledArchiveArgs, "--max-forecasts", "3")), 120);
      String tiledRun2 = finished(python("archive-tiled-2", with(archive, tiledArchiveArgs, "--idle-timeout", "5")), 120);

      String py = finished(python, 120);
      exits(java, 120);
      exits(javaNext, 120);
      exits(oldConsumer, 120);
      exits(watch, 120);

      // Python: every forecast, the plain ones too, the value at a cell centre exactly the cell's
      assertThat(count(py, "^FORECAST ")).as(py).isEqualTo(all);
      assertThat(count(py, "^FORECAST " + UK + ".*\\[plain Avro\\]$")).as(py).isEqualTo(legacy.size());
      assertThat(count(py, "^FORECAST " + UK + ".*\\[Forecast v" + (nextVersion - 1) + "\\]$")).as(py)
          .isEqualTo(ukForecasts);
      assertThat(count(py, "^ALERT ")).as("alerts decoded: %s", py).isPositive();
      assertThat(count(py, "^VERIFICATION ")).as("verification decoded: %s", py).isPositive();
      int row = 26;
      int col = 40;
      assertThat(uk.lat0 + row * uk.dlat).isEqualTo(LAT);
      assertThat(uk.lon0 + col * uk.dlon).isEqualTo(LON);
      assertValuesAtTheCell(py, ukByIssue, uk, row * uk.width + col);
      // Java, on kafka-clients and the schemas jar alone: the same forecasts, the same values
      String javaOut = java.logText();
      assertThat(count(javaOut, "^FORECAST ")).as(javaOut).isEqualTo(all);
      assertValuesAtTheCell(javaOut, ukByIssue, uk, row * uk.width + col);
      assertThat(java.logText()).doesNotContain("ai.lsntp.job").doesNotContain("flink");
      // a reader built against today's Forecast reads a version it has never seen, from its file
      assertThat(count(javaNext.logText(), "^FORECAST .*\\[Forecast v" + nextVersion + "\\]$")).as(javaNext.logText())
          .isEqualTo(3);
      // a reader built against the previous Forecast reads today's records with its own schema
      String old = oldConsumer.logText();
      int previousFields = new Schema.Parser().parse(previousForecast.toFile()).getFields().size();
      assertThat(count(old, "^OLD-CONSUMER .* fields=" + previousFields + " ")).as(old).isEqualTo(ukForecasts + naForecasts);
      assertThat(old).contains("old consumer: " + (ukForecasts + naForecasts) + " forecasts read, " + legacy.size()
          + " plain values not placed").doesNotContain("OLD-CONSUMER-FAILED");
      // watch reads the plain records and the single-object ones alike
      assertThat(count(watch.logText(), "^FORECAST ")).as(watch.logText()).isEqualTo(all);

      // the tiled forecasts: each printed, placed and archived once, whole, by every subscriber
      int n = byIssue.size();
      String pyTiled = finished(pythonTiled, 120);
      assertThat(count(pyTiled, "^FORECAST ")).as(pyTiled).isEqualTo(n);
      assertValuesAtTheCell(pyTiled, ukByIssue, uk, row * uk.width + col);
      exits(javaTiled, 120);
      assertThat(count(javaTiled.logText(), "^FORECAST ")).as(javaTiled.logText()).isEqualTo(n);
      assertValuesAtTheCell(javaTiled.logText(), ukByIssue, uk, row * uk.width + col);
      exits(watchTiled, 120);
      assertThat(count(watchTiled.logText(), "^FORECAST ")).as(watchTiled.logText()).isEqualTo(n);
      assertThat(tiledRun1).contains("archive: 3 forecasts appended");
      assertThat(tiledRun2).contains("archive: " + (n - 3) + " forecasts appended");
      String tiledCheck = finished(python("archive-tiled-check", "-c", String.join("\n",
          "import sys, xarray as xr",
          "ds = xr.open_zarr(sys.argv[1], group=sys.argv[2])",
          "t = ds.forecast_reference_time.values",
          "print(len(t), len(set(t.tolist())), repr(float(ds.air_temperature.isel(forecast_reference_time=0,",
          "      forecast_period=0, latitude=26, longitude=40))))"), tiledStore.toString(), UK), 120);
      float firstTiledCell = PackedFloats.decode(byIssue.get(0).getValues())[row * uk.width + col];
      assertThat(tiledCheck.strip()).isEqualTo(n + " " + n + " " + (double) firstTiledCell);

      // the archive: one dataset per grid, every issue time once, across the restarts
      assertThat(run1).contains("archive: 4 forecasts appended");
      assertThat(run2).contains("archive: " + (all - 4) + " forecasts appended");
      assertThat(run3).contains("archive: 0 forecasts appended, " + all + " already in");
      long firstUk = ukByIssue.keySet().stream().min(Long::compare).orElseThrow();
      String check = finished(python("archive-check", "-c", String.join("\n",
          "import sys, numpy as np, xarray as xr",
          "for g in sys.argv[2:]:",
          "    ds = xr.open_zarr(sys.argv[1], group=g)",
          "    t = ds.forecast_reference_time.values",
          "    a = ds.air_temperature",
          "    print(g, len(t), len(set(t.tolist())), a.attrs['units'], a.attrs['standard_name'], float(ds.height),",
          "          ds.height.attrs['units'], str(ds.forecast_period.values[0].astype('timedelta64[h]')),",
          "          repr(float(a.isel(forecast_reference_time=0, forecast_period=0, latitude=26 if g == sys.argv[2] else 0,",
          "                          longitude=40 if g == sys.argv[2] else 0))))"),
          store.toString(), UK, NA), 120);
      assertThat(check).contains(UK + " " + (legacy.size() + ukForecasts) + " " + (legacy.size() + ukForecasts)
          + " K air_temperature 2.0 m 1 hours");
      assertThat(check).contains(NA + " " + naForecasts + " " + naForecasts + " K air_temperature 2.0 m 6 hours");
      float firstCell = PackedFloats.decode(ukByIssue.get(firstUk).getValues())[row * uk.width + col];
      assertThat(check).contains(UK + " ").contains(" " + (double) firstCell);
    } finally {
      job.cancel().get(30, TimeUnit.SECONDS);
    }
  }

  /** A Forecast record an earlier deployment wrote (plain Avro of the schema of its day). */
  static Forecast legacyForecast(ModelSpec spec, String issue) {
    Instant t = Instant.parse(issue);
    float[] values = new float[spec.beta * spec.cells()];
    for (int i = 0; i < values.length; i++) {
      values[i] = 275f + (i % 97) * 0.01f;
    }
    List<Instant> valid = new ArrayList<>();
    for (int lead = 1; lead <= spec.beta; lead++) {
      valid.add(t.plusMillis(lead * spec.stepMillis));
    }
    return Forecast.newBuilder().setGridId(spec.gridId).setIssueTime(t).setModelName(spec.name).setModelVersion("1.0.0")
        .setStepMillis(spec.stepMillis).setBeta(spec.beta).setHeight(spec.height).setWidth(spec.width)
        .setLat0(spec.lat0).setLon0(spec.lon0).setDlat(spec.dlat).setDlon(spec.dlon).setValues(PackedFloats.encode(values))
        .setValidTimes(valid).setProducedAt(t).build();
  }

  /** Today's forecast written with a later version that adds a field. */
  static byte[] nextVersionRecord(Schema next, Forecast f, int member) throws IOException {
    GenericRecord rec = new GenericData.Record(next);
    for (Schema.Field field : Forecast.getClassSchema().getFields()) {
      rec.put(field.name(), generic(f.get(field.name())));
    }
    rec.put("ensemble_member", member);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    new BinaryMessageEncoder<GenericRecord>(GenericData.get(), next).encode(rec, out);
    return out.toByteArray();
  }

  /** A value of a generated record as a generic record holds it: times as epoch ms, nested records generic too. */
  static Object generic(Object v) {
    if (v instanceof Instant i) {
      return i.toEpochMilli();
    }
    if (v instanceof List<?> l) {
      return l.stream().map(SubscribersTest::generic).toList();
    }
    if (v instanceof org.apache.avro.specific.SpecificRecord r) {
      GenericRecord g = new GenericData.Record(r.getSchema());
      for (Schema.Field field : r.getSchema().getFields()) {
        g.put(field.pos(), generic(r.get(field.pos())));
      }
      return g;
    }
    return v;
  }

  /** Each forecast line's values at the point equal the forecast's cell, lead by lead. */
  static void assertValuesAtTheCell(String output, Map<Long, Forecast> byIssue, ModelSpec spec, int cell) {
    int checked = 0;
    for (String line : output.split("\n")) {
      if (!line.startsWith("FORECAST " + spec.gridId + " issued ")) {
        continue;
      }
      Forecast f = byIssue.values().stream().filter(x -> line.contains(issueOf(x))).findFirst()
          .orElseThrow(() -> new AssertionError("no forecast issued as in: " + line));
      float[] v = PackedFloats.decode(f.getValues());
      Matcher m = VALUES.matcher(line);
      int lead = 0;
      while (m.find()) {
        lead++;
        assertThat(Integer.parseInt(m.group(1))).isEqualTo(lead);
        assertThat(Double.parseDouble(m.group(2))).as(line)
            .isCloseTo(v[(lead - 1) * spec.cells() + cell], org.assertj.core.data.Offset.offset(6e-5));
      }
      assertThat(lead).as(line).isEqualTo(spec.beta);
      checked++;
    }
    assertThat(checked).isEqualTo(byIssue.size());
  }

  /** The issue time as both subscribers print it: the Python one minutes only, the Java one ISO. */
  static String issueOf(Forecast f) {
    String iso = f.getIssueTime().toString(); // 2019-03-01T05:00:00Z
    return iso.substring(0, 16);
  }

  static long count(String text, String regex) {
    Pattern p = Pattern.compile(regex);
    return Arrays.stream(text.split("\n")).filter(l -> p.matcher(l).find()).count();
  }

  private ChildJvm replay(String name, Path file, String... more) throws IOException {
    List<String> args = new ArrayList<>(List.of("replay", file.toString(), "-b", kafka.bootstrapServers(),
        "--frames-topic", PREFIX + ".frames", "--max-speed", "--progress", "none"));
    args.addAll(List.of(more));
    return ChildJvm.start(name, work, ChildJvm.testClasspath(), "512m", Map.of(), List.of(), "ai.lsntp.cli.Lsntp", args);
  }

  private ChildJvm javaSubscriber(String name, String topic, Path schemas) throws IOException {
    Path module = TestPaths.root().resolve("examples/java-subscriber/target");
    List<String> cp = new ArrayList<>(List.of(module.resolve("classes").toString()));
    cp.addAll(List.of(Files.readString(module.resolve("runtime-classpath.txt")).trim().split(":")));
    List<String> args = new ArrayList<>(List.of("--bootstrap-servers", kafka.bootstrapServers(), "--topic", topic,
        "--lat", Double.toString(LAT), "--lon", Double.toString(LON), "--idle-timeout", "5"));
    if (schemas != null) {
      args.addAll(List.of("--schemas", schemas.toString()));
    }
    return ChildJvm.start(name, work, cp, "256m", Map.of(), List.of(), "ai.lsntp.examples.ForecastSubscriber", args);
  }

  /**
   * Avro and kafka-clients with their own dependencies, and this module's test classes, but none
   * of the project's: the classpath of a program that knows the records only from schema files.
   */
  static List<String> avroAndKafkaOnly() throws IOException {
    Path module = TestPaths.root().resolve("examples/java-subscriber/target");
    List<String> cp = new ArrayList<>();
    cp.add(TestPaths.root().resolve("system-tests/target/test-classes").toString());
    for (String e : Files.readString(module.resolve("runtime-classpath.txt")).trim().split(":")) {
      if (!e.contains("/ai/lsntp/") && !e.endsWith("/classes")) {
        cp.add(e);
      }
    }
    return cp;
  }

  /** A Python process of its own, its output in a log file. */
  record Py(String name, Process process, Path log) {}

  private Py python(String name, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3"));
    cmd.addAll(List.of(args));
    Path log = work.resolve(name + ".log");
    Process p = new ProcessBuilder(cmd).directory(TestPaths.root().resolve("examples/python-subscriber").toFile())
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    return new Py(name, p, log);
  }

  private static String[] with(String script, List<String> common, String... more) {
    List<String> all = new ArrayList<>(List.of(script));
    all.addAll(common);
    all.addAll(List.of(more));
    return all.toArray(String[]::new);
  }

  /** Waits for a Python process; its exit status must be 0. Returns what it printed. */
  private static String finished(Py py, int seconds) throws Exception {
    boolean done = py.process.waitFor(seconds, TimeUnit.SECONDS);
    if (!done) {
      py.process.destroyForcibly();
    }
    String text = Files.readString(py.log);
    assertThat(done).as("%s finished\n%s", py.name, text).isTrue();
    assertThat(py.process.exitValue()).as("%s exit status\n%s", py.name, text).isZero();
    return text;
  }

  private static void exits(ChildJvm jvm, int seconds) throws InterruptedException {
    assertThat(jvm.process.waitFor(seconds, TimeUnit.SECONDS)).as("%s finished\n%s", jvm.name, jvm.tail(30)).isTrue();
    assertThat(jvm.process.exitValue()).as("%s exit status\n%s", jvm.name, jvm.tail(30)).isZero();
  }

  private static void copyDirectory(Path from, Path to) throws IOException {
    Files.createDirectories(to);
    try (var s = Files.list(from)) {
      for (Path f : (Iterable<Path>) s::iterator) {
        Files.copy(f, to.resolve(f.getFileName()));
      }
    }
  }
}

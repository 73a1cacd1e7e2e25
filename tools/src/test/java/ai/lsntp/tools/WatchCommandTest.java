package ai.lsntp.tools;

import ai.lsntp.config.Topic;
import ai.lsntp.testing.KafkaBroker;
import org.junit.jupiter.api.extension.RegisterExtension;
import ai.lsntp.testing.Cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.RealFrames;
import ai.lsntp.avro.Alert;
import ai.lsntp.avro.AlertKind;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.codec.PackedFloats;
import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.imageio.ImageIO;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TransactionAbortableException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * lsntp watch against a real in-process broker: records written the way the job writes them
 * (a transactional producer), committed and aborted; forecasts carry real ERA5 fields.
 */
class WatchCommandTest {
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();
  static List<TemperatureFrame> frames;
  static final long HOUR = 3_600_000L;

  @TempDir Path tmp;

  @BeforeAll
  static void start() throws Exception {
    frames = RealFrames.uk(12);
  }

  /** A forecast issued at frame {@code issue} whose leads are the real frames that followed it. */
  static Forecast forecast(int issue, int beta) {
    TemperatureFrame f = frames.get(issue);
    int cells = f.getHeight() * f.getWidth();
    float[] v = new float[beta * cells];
    List<Instant> valid = new ArrayList<>();
    for (int k = 0; k < beta; k++) {
      System.arraycopy(PackedFloats.decode(frames.get(issue + 1 + k).getValues()), 0, v, k * cells, cells);
      valid.add(frames.get(issue + 1 + k).getValidTime());
    }
    return Forecast.newBuilder().setGridId(f.getGridId()).setIssueTime(f.getValidTime()).setModelName("lsntp-test")
        .setModelVersion("7").setStepMillis(HOUR).setBeta(beta).setHeight(f.getHeight()).setWidth(f.getWidth())
        .setLat0(f.getLat0()).setLon0(f.getLon0()).setDlat(f.getDlat()).setDlon(f.getDlon()).setUnits("K")
        .setValues(PackedFloats.encode(v)).setValidTimes(valid).setProducedAt(Instant.now()).build();
  }

  static Alert alert(Forecast f) {
    return Alert.newBuilder().setGridId(f.getGridId()).setRule("hard-frost").setKind(AlertKind.FROST).setRow(3).setCol(4)
        .setLat(f.getLat0() + 3 * f.getDlat()).setLon(f.getLon0() + 4 * f.getDlon()).setIssueTime(f.getIssueTime())
        .setValidTime(f.getValidTimes().get(1)).setLead(2).setValue(262.5f).setThreshold(263.15)
        .setModelName(f.getModelName()).setModelVersion(f.getModelVersion()).setProducedAt(Instant.now()).build();
  }

  record Topics(String forecasts, String alerts, String rejects) {}

  static Topics topics() throws Exception {
    String p = "w" + UUID.randomUUID().toString().substring(0, 8);
    Topics t = new Topics(Topic.FORECASTS.under(p), Topic.ALERTS.under(p), Topic.REJECTS.under(p));
    kafka.createTopics(1, t.forecasts, t.alerts, t.rejects);
    return t;
  }

  static KafkaProducer<byte[], byte[]> transactional(String transactionalId) {
    KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(Map.of("bootstrap.servers", kafka.bootstrapServers(),
        "transactional.id", transactionalId, "enable.idempotence", "true"),
        new ByteArraySerializer(), new ByteArraySerializer());
    p.initTransactions();
    return p;
  }

  /**
   * Writes the records in one transaction, committed or aborted, as the job's sink does. Kafka 4's
   * transactions (version 2) have broker-side races that fail a transaction with INVALID_TXN_STATE
   * (KAFKA-18575, KAFKA-19690, KAFKA-20785); it failed CI once here. The client reports it bare
   * (from EndTxn) or as the cause of an abortable error (from a produce request). Such a
   * transaction is never committed, so a read_committed reader never sees its records: the write is
   * tried again, with the same transactional id, whose new producer's initTransactions aborts what
   * the failed one left open (else that open transaction would hold back what readers may see).
   */
  static void transaction(boolean commit, List<ProducerRecord<byte[], byte[]>> records) {
    String id = "watch-test-" + UUID.randomUUID();
    for (int attempt = 1; ; attempt++) {
      try (KafkaProducer<byte[], byte[]> p = transactional(id)) {
        p.beginTransaction();
        records.forEach(p::send);
        p.flush();
        if (commit) {
          p.commitTransaction();
        } else {
          p.abortTransaction();
        }
        return;
      } catch (KafkaException e) {
        if (!brokerRace(e) || attempt == 3) {
          throw e;
        }
        System.err.println("transaction attempt " + attempt + " hit the broker's race (" + e + "), trying again");
      }
    }
  }

  static boolean brokerRace(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof InvalidTxnStateException) {
        return true;
      }
    }
    return false;
  }

  static void committed(List<ProducerRecord<byte[], byte[]>> records) {
    transaction(true, records);
  }

  static byte[] key(String grid) {
    return grid.getBytes(StandardCharsets.UTF_8);
  }

  String[] args(Topics t, String... more) {
    List<String> a = new ArrayList<>(List.of("-b", kafka.bootstrapServers(), "--forecasts-topic", t.forecasts,
        "--alerts-topic", t.alerts, "--rejects-topic", t.rejects, "--from-beginning"));
    a.addAll(List.of(more));
    return a.toArray(String[]::new);
  }

  @Test
  void printsOnlyCommittedRecordsOneLineEachAndWritesCfNetcdfAndPngMaps() throws Exception {
    Topics t = topics();
    RecordCodec<Forecast> fa = RecordCodec.of(Forecast.class);
    RecordCodec<Alert> aa = RecordCodec.of(Alert.class);
    Forecast f1 = forecast(5, 6);
    Forecast f2 = forecast(6, 3);
    Forecast aborted = forecast(4, 6);
    committed(List.of(new ProducerRecord<>(t.forecasts, key(f1.getGridId()), fa.encode(f1)),
        new ProducerRecord<>(t.alerts, key(f1.getGridId()), aa.encode(alert(f1))),
        new ProducerRecord<>(t.forecasts, key(f2.getGridId()), fa.encode(f2))));
    transaction(false, List.of(new ProducerRecord<>(t.forecasts, key(aborted.getGridId()), fa.encode(aborted))));
    // a record that is no Forecast at all, committed
    committed(List.of(new ProducerRecord<>(t.forecasts, key("x"), "not avro".getBytes(StandardCharsets.UTF_8))));
    Path nc = tmp.resolve("nc");
    Path png = tmp.resolve("png");
    WatchCommand cmd = new WatchCommand();
    Cli r = Cli.run(cmd, args(t, "--netcdf-dir", nc.toString(), "--png-dir", png.toString(), "--idle-timeout", "3s"));
    assertThat(r.exit).as(r.toString()).isZero();
    assertThat(r.out.lines().toList()).hasSize(3);
    // records of different topics interleave in any order; within the forecasts topic, in order
    List<String> lines = r.out.lines().filter(l -> l.startsWith("FORECAST")).toList();
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0)).startsWith("FORECAST era5-uk-0p25 issued 2019-03-01 05:00Z  6 leads +1h..+6h  33x49")
        .contains("model lsntp-test 7").contains("-> era5-uk-0p25_20190301T0500Z.nc + 6 PNG");
    assertThat(lines.get(1)).startsWith("FORECAST era5-uk-0p25 issued 2019-03-01 06:00Z  3 leads +1h..+3h");
    assertThat(r.out).contains("ALERT    era5-uk-0p25 FROST (hard-frost) issued 2019-03-01 05:00Z  valid 2019-03-01 07:00Z")
        .contains("value 262.50 K  threshold 263.15 K");
    assertThat(r.out).as("the aborted forecast (issued 04:00) is never shown").doesNotContain("04:00Z");
    assertThat(r.err).contains("is not a Forecast record").contains("watch summary: 2 forecasts, 1 alerts, 1 undecodable records, 11 files written");
    float[] mins = new float[1];
    mins[0] = Float.MAX_VALUE;
    for (float x : PackedFloats.decode(f1.getValues())) {
      mins[0] = Math.min(mins[0], x);
    }
    assertThat(lines.get(0)).contains(String.format(java.util.Locale.ROOT, "min %.1f K", mins[0]));

    // NetCDF, read back by an independent reader (xarray decoding the CF times)
    JsonNode d = NetcdfReader.read(nc.resolve("era5-uk-0p25_20190301T0500Z.nc"));
    assertThat(d.get("conventions").asText()).isEqualTo("CF-1.8");
    assertThat(d.get("frt_standard_name").asText()).isEqualTo("forecast_reference_time");
    assertThat(d.get("fp_standard_name").asText()).isEqualTo("forecast_period");
    assertThat(d.get("time_standard_name").asText()).isEqualTo("time");
    assertThat(d.get("standard_name").asText()).isEqualTo("air_temperature");
    assertThat(d.get("units").asText()).isEqualTo("K");
    assertThat(d.get("forecast_reference_time").asText()).isEqualTo("2019-03-01T05:00:00.000Z");
    List<String> times = new ArrayList<>();
    d.get("time").forEach(x -> times.add(x.asText()));
    assertThat(times).containsExactly("2019-03-01T06:00:00.000Z", "2019-03-01T07:00:00.000Z", "2019-03-01T08:00:00.000Z",
        "2019-03-01T09:00:00.000Z", "2019-03-01T10:00:00.000Z", "2019-03-01T11:00:00.000Z");
    List<Double> leads = new ArrayList<>();
    d.get("forecast_period_hours").forEach(x -> leads.add(x.asDouble()));
    assertThat(leads).containsExactly(1.0, 2.0, 3.0, 4.0, 5.0, 6.0);
    assertThat(d.get("latitude").get(0).asDouble()).isEqualTo(f1.getLat0());
    assertThat(d.get("latitude").get(32).asDouble()).isCloseTo(f1.getLat0() + 32 * f1.getDlat(), org.assertj.core.data.Offset.offset(1e-9));
    assertThat(d.get("longitude").get(48).asDouble()).isCloseTo(f1.getLon0() + 48 * f1.getDlon(), org.assertj.core.data.Offset.offset(1e-9));
    float[] want = PackedFloats.decode(f1.getValues());
    JsonNode got = d.get("t2m");
    assertThat(got.size()).isEqualTo(want.length);
    for (int i = 0; i < want.length; i++) {
      assertThat((float) got.get(i).asDouble()).as("cell %d", i).isEqualTo(want[i]);
    }
    assertThat(Files.exists(nc.resolve("era5-uk-0p25_20190301T0600Z.nc"))).isTrue();
    assertThat(Files.exists(nc.resolve("era5-uk-0p25_20190301T0400Z.nc"))).isFalse();

    // PNG maps: one per lead, real images of the grid
    for (int lead = 1; lead <= 6; lead++) {
      Path p = png.resolve("era5-uk-0p25_20190301T0500Z_lead" + lead + "h.png");
      BufferedImage img = ImageIO.read(p.toFile());
      assertThat(img).as(p.toString()).isNotNull();
      assertThat(img.getWidth()).isEqualTo(49 * ForecastPng.CELL + 20);
    }
    assertThat(Files.list(png).count()).isEqualTo(9);
  }

  @Test
  void showsRejectsFiltersByGridAndStopsAfterMaxRecords() throws Exception {
    Topics t = topics();
    RecordCodec<Forecast> fa = RecordCodec.of(Forecast.class);
    RecordCodec<RejectedFrame> ra = RecordCodec.of(RejectedFrame.class);
    RejectedFrame rej = RejectedFrame.newBuilder().setReasonCode("VALUE_OUT_OF_RANGE")
        .setReason("cell (3, 4) is 400.0 K, outside 150..350 K").setGridId("era5-uk-0p25")
        .setValidTime(Instant.parse("2019-03-01T02:00:00Z")).setRaw(ByteBuffer.wrap(new byte[] {1, 2}))
        .setRejectedAt(Instant.now()).build();
    List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
    records.add(new ProducerRecord<>(t.rejects, key("era5-uk-0p25"), ra.encode(rej)));
    Forecast other = Forecast.newBuilder(forecast(5, 6)).setGridId("ncep-na-2p5").build();
    records.add(new ProducerRecord<>(t.forecasts, key("ncep-na-2p5"), fa.encode(other)));
    for (int i = 5; i < 8; i++) {
      records.add(new ProducerRecord<>(t.forecasts, key("era5-uk-0p25"), fa.encode(forecast(i, 3))));
    }
    committed(records);
    Cli r = Cli.run(new WatchCommand(), args(t, "--show-rejects", "--grid", "era5-uk-0p25", "--max-records", "4",
        "--idle-timeout", "20s"));
    assertThat(r.exit).as(r.toString()).isZero();
    List<String> lines = r.out.lines().toList();
    assertThat(lines).hasSize(4);
    assertThat(r.out).doesNotContain("ncep-na-2p5");
    assertThat(r.out).contains("REJECT   VALUE_OUT_OF_RANGE era5-uk-0p25 2019-03-01 02:00Z: cell (3, 4) is 400.0 K");
  }

  @Test
  void theRetryRecognisesTheBrokersRaceInEveryFormTheClientReportsItAndNothingElse() {
    InvalidTxnStateException race = new InvalidTxnStateException("The producer attempted a transactional operation in an invalid state.");
    assertThat(brokerRace(race)).as("bare, from EndTxn").isTrue();
    // from a produce request, kafka-clients 4.2 makes it an abortable error, which commitTransaction wraps once more
    assertThat(brokerRace(new KafkaException("Cannot execute transactional method because we are in an error state",
        new TransactionAbortableException("Transaction Request was aborted after exhausting retries.", race)))).isTrue();
    assertThat(brokerRace(new KafkaException("Cannot execute transactional method because we are in an error state",
        new TransactionAbortableException("aborted", new RecordTooLargeException("too large"))))).isFalse();
    assertThat(brokerRace(new TimeoutException("Timeout expired"))).isFalse();
  }

  @Test
  void badInputFailsWithAMessageNamingTheProblem() throws Exception {
    Topics t = topics();
    Cli noTopic = Cli.run(new WatchCommand(), "-b", kafka.bootstrapServers(), "--forecasts-topic", "no.such.forecasts",
        "--alerts-topic", t.alerts, "--connect-timeout", "10s");
    assertThat(noTopic.exit).isEqualTo(1);
    assertThat(noTopic.err).contains("topic 'no.such.forecasts' does not exist on " + kafka.bootstrapServers());

    Cli noBroker = Cli.run(new WatchCommand(), "-b", "127.0.0.1:1", "--connect-timeout", "3s");
    assertThat(noBroker.exit).isEqualTo(1);
    assertThat(noBroker.err).contains("cannot reach Kafka at 127.0.0.1:1 within 3 s");

    Cli nothing = Cli.run(new WatchCommand(), "--no-alerts", "--no-forecasts");
    assertThat(nothing.exit).isEqualTo(2);
    assertThat(nothing.err).contains("leave nothing to watch");

    Cli badIdle = Cli.run(new WatchCommand(), "--idle-timeout", "soon");
    assertThat(badIdle.exit).isEqualTo(2);
    assertThat(badIdle.err).contains("--idle-timeout");

    for (Cli c : List.of(noTopic, noBroker, nothing, badIdle)) {
      assertThat(c.err).as("no stack trace").doesNotContain("\tat ");
    }
  }

  @Test
  void theVerificationTablePoolsTheRollingWindowPerGridAndLead() throws Exception {
    String p = "v" + UUID.randomUUID().toString().substring(0, 8);
    kafka.createTopics(1, Topic.FORECASTS.under(p), Topic.VERIFICATION.under(p));
    RecordCodec<ai.lsntp.avro.Verification> va = RecordCodec.of(ai.lsntp.avro.Verification.class);
    Instant t0 = Instant.parse("2019-03-20T00:00:00Z");
    List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
    for (int i = 0; i < 30; i++) { // hourly, lead 1: MAE 0.5 K against persistence 1 K (the first 5 h: 2 K)
      double mae = i < 5 ? 2.0 : 0.5;
      // the intervals: 75% of the cells inside the 80% one and 90% inside the 95% one (the first 5 h: 20% and 50%)
      List<Double> coverage = i < 5 ? List.of(0.2, 0.5) : List.of(0.75, 0.9);
      records.add(new ProducerRecord<>(Topic.VERIFICATION.under(p), key("g"), va.encode(ai.lsntp.avro.Verification.newBuilder()
          .setGridId("g").setModelName("LS-NTP").setModelVersion("1").setIssueTime(t0.plusSeconds(3600L * i))
          .setLead(1).setValidTime(t0.plusSeconds(3600L * (i + 1))).setMae(mae).setRmse(mae).setPersistenceMae(1.0)
          .setCells(100).setProducedAt(Instant.now()).setIntervalLevels(List.of(0.8, 0.95)).setCoverage(coverage)
          .setMeanWidth(List.of(1.0, 2.0)).setIntervalScore(List.of(1.5, 2.5)).setCrps(0.3).build())));
    }
    committed(records);
    Cli r = Cli.run(new WatchCommand(), "-b", kafka.bootstrapServers(), "--forecasts-topic", Topic.FORECASTS.under(p),
        "--set", Topic.VERIFICATION.key() + "=" + Topic.VERIFICATION.under(p), "--set", "verification.window=24h", "--no-alerts",
        "--verification", "--from-beginning", "--idle-timeout", "5s");
    assertThat(r.exit).as(r.toString()).isZero();
    // the last table covers the last 24 h of valid times: 24 scores, all 0.5 K against 1 K: skill +0.5,
    // coverage 75% and 90%
    List<String> rows = r.out.lines().filter(l -> l.startsWith("VERIFY   g ")).toList();
    assertThat(rows).isNotEmpty();
    assertThat(rows.get(rows.size() - 1)).contains("+1").contains("0.500").contains("1.000").contains("+0.500")
        .contains(" 75.0% ").contains(" 90.0% ").endsWith(" 24");
    assertThat(r.out.lines().filter(l -> l.startsWith("VERIFY   grid")).toList()).isNotEmpty()
        .allMatch(l -> l.contains("cov 80%") && l.contains("cov 95%"));
    assertThat(r.err).contains("30 verifications");
  }
}

package ai.lsntp.tools;

import ai.lsntp.testing.KafkaBroker;
import org.junit.jupiter.api.extension.RegisterExtension;
import ai.lsntp.testing.Cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.RecordCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** lsntp replay against a real in-process KRaft broker, on the shipped real ERA5 frames. */
class ReplayCommandTest {
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();
  static final Path UK = TestPaths.ukFrames();

  @TempDir Path tmp;

  static String topic(String name) throws Exception {
    String t = name + "-" + UUID.randomUUID().toString().substring(0, 8);
    kafka.createTopics(2, t);
    return t;
  }

  static List<ConsumerRecord<byte[], byte[]>> readAll(String topic, int expected) {
    Map<String, Object> c = Map.of("bootstrap.servers", kafka.bootstrapServers(), "group.id", "t-" + UUID.randomUUID(),
        "auto.offset.reset", "earliest", "enable.auto.commit", "false", "isolation.level", "read_committed");
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(topic));
      long until = System.currentTimeMillis() + 20_000;
      while (System.currentTimeMillis() < until && out.size() < expected) {
        consumer.poll(Duration.ofMillis(200)).forEach(out::add);
      }
      consumer.poll(Duration.ofMillis(500)).forEach(out::add); // anything beyond the expected count
    }
    return out;
  }

  @Test
  void everyFrameIsAcknowledgedAndLandsKeyedByGridIdWithItsExactBytes() throws Exception {
    String t = topic("frames");
    ReplayCommand cmd = new ReplayCommand();
    Cli r = Cli.run(cmd, UK.toString(), "--bootstrap-servers", kafka.bootstrapServers(), "--frames-topic", t,
        "--max-speed", "--limit", "40", "--progress", "lines");
    assertThat(r.exit).as(r.toString()).isZero();
    assertThat(cmd.acked()).isEqualTo(40);
    assertThat(cmd.failed()).isZero();
    assertThat(r.out).contains("40 frames sent to " + t + ", 40 acknowledged, 0 failed")
        .contains("valid times 2019-03-01T00:00:00Z .. 2019-03-02T15:00:00Z");

    List<TemperatureFrame> want = RealFrames.uk(40);
    List<ConsumerRecord<byte[], byte[]>> got = readAll(t, 40);
    assertThat(got).hasSize(40);
    RecordCodec<TemperatureFrame> avro = RecordCodec.of(TemperatureFrame.class);
    // one grid: one key, so every frame sits in one partition, in file order
    assertThat(got.stream().map(ConsumerRecord::partition).distinct()).hasSize(1);
    for (int i = 0; i < 40; i++) {
      assertThat(new String(got.get(i).key(), StandardCharsets.UTF_8)).isEqualTo("era5-uk-0p25");
      assertThat(avro.decode(got.get(i).value())).isEqualTo(want.get(i));
    }
  }

  @Test
  void acceleratedPaceFollowsValidTimesAndTimeWindowSelectsFrames() throws Exception {
    String t = topic("paced");
    ReplayCommand cmd = new ReplayCommand();
    long t0 = System.nanoTime();
    // 6 hourly frames at 36000x: one hour of data every 100 ms, so at least 500 ms in all
    Cli r = Cli.run(cmd, UK.toString(), "-b", kafka.bootstrapServers(), "--frames-topic", t, "--speed", "36000",
        "--start", "2019-03-10T00:00Z", "--end", "2019-03-10T05:00", "--progress", "none");
    double secs = (System.nanoTime() - t0) / 1e9;
    assertThat(r.exit).as(r.toString()).isZero();
    assertThat(r.out).contains("6 frames sent").contains("6 acknowledged, 0 failed")
        .contains("valid times 2019-03-10T00:00:00Z .. 2019-03-10T05:00:00Z");
    assertThat(secs).isGreaterThanOrEqualTo(0.5);
    RecordCodec<TemperatureFrame> avro = RecordCodec.of(TemperatureFrame.class);
    List<ConsumerRecord<byte[], byte[]>> got = readAll(t, 6);
    assertThat(got).hasSize(6);
    assertThat(avro.decode(got.get(0).value()).getValidTime()).isEqualTo(Instant.parse("2019-03-10T00:00:00Z"));
    assertThat(avro.decode(got.get(5).value()).getValidTime()).isEqualTo(Instant.parse("2019-03-10T05:00:00Z"));
  }

  @Test
  void framesTheBrokerRefusesAreCountedAsFailedNeverAsSent() throws Exception {
    // a topic whose records may not exceed 1 kB: the broker refuses every 6.5 kB frame
    String t = "small-" + UUID.randomUUID().toString().substring(0, 8);
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
      admin.createTopics(List.of(new NewTopic(t, 1, (short) 1).configs(Map.of("max.message.bytes", "1024"))))
          .all().get(30, TimeUnit.SECONDS);
    }
    ReplayCommand cmd = new ReplayCommand();
    Cli r = Cli.run(cmd, UK.toString(), "-b", kafka.bootstrapServers(), "--frames-topic", t, "--limit", "5",
        "--delivery-timeout", "20s", "--progress", "none");
    assertThat(r.exit).as(r.toString()).isEqualTo(1);
    assertThat(cmd.acked()).isZero();
    assertThat(cmd.failed()).isEqualTo(5);
    assertThat(r.out).contains("5 frames sent to " + t + ", 0 acknowledged, 5 failed");
    assertThat(r.err).contains("5 frame(s) failed: RecordTooLargeException");
    assertThat(readAll(t, 1)).isEmpty();
  }

  @Test
  void badInputFailsWithAMessageNamingTheProblem() throws Exception {
    String t = topic("bad");
    String b = kafka.bootstrapServers();

    Cli missing = Cli.run(new ReplayCommand(), tmp.resolve("nope.avro").toString(), "-b", b, "--frames-topic", t);
    assertThat(missing.exit).isEqualTo(2);
    assertThat(missing.err).contains("nope.avro: no such file").doesNotContain("Exception");

    Path text = Files.writeString(tmp.resolve("frames.txt"), "valid_time,t2m\n2019-03-01,280.1\n");
    Cli notFrames = Cli.run(new ReplayCommand(), text.toString(), "-b", b, "--frames-topic", t);
    assertThat(notFrames.exit).isEqualTo(2);
    assertThat(notFrames.err).contains("frames.txt: neither an Avro container file of TemperatureFrame records nor a GRIB or NetCDF file");

    // an Avro container file of another record type (Forecast), not frames
    Path forecasts = tmp.resolve("forecasts.avro");
    try (DataFileWriter<Forecast> w = new DataFileWriter<>(new SpecificDatumWriter<>(Forecast.class))) {
      w.create(Forecast.getClassSchema(), forecasts.toFile());
      w.append(Forecast.newBuilder().setGridId("g").setIssueTime(Instant.EPOCH).setModelName("m").setModelVersion("1")
          .setStepMillis(3600000).setBeta(1).setHeight(1).setWidth(1).setLat0(0).setLon0(0).setDlat(1).setDlon(1)
          .setValues(java.nio.ByteBuffer.allocate(4)).setValidTimes(List.of(Instant.EPOCH)).setProducedAt(Instant.EPOCH)
          .build());
    }
    Cli wrongRecord = Cli.run(new ReplayCommand(), forecasts.toString(), "-b", b, "--frames-topic", t);
    assertThat(wrongRecord.exit).isEqualTo(2);
    assertThat(wrongRecord.err).contains("forecasts.avro: record 0 is not a TemperatureFrame");
    assertThat(readAll(t, 1)).as("nothing is sent from a bad file").isEmpty();

    Path grib = TestPaths.root().resolve("data/raw/era5-t2m-uk-2019-03-01_24-hourly.grib");
    Cli noGrid = Cli.run(new ReplayCommand(), grib.toString(), "-b", b, "--frames-topic", t);
    assertThat(noGrid.exit).isEqualTo(2);
    assertThat(noGrid.err).contains("GRIB/NetCDF input needs --grid-id");

    Cli twoPaces = Cli.run(new ReplayCommand(), UK.toString(), "-b", b, "--real-time", "--max-speed");
    assertThat(twoPaces.exit).isEqualTo(2);
    assertThat(twoPaces.err).contains("choose one of --real-time, --speed FACTOR, --pace DURATION, --max-speed");

    Cli badSpeed = Cli.run(new ReplayCommand(), UK.toString(), "-b", b, "--speed", "-3");
    assertThat(badSpeed.exit).isEqualTo(2);
    assertThat(badSpeed.err).contains("--speed: must be a positive number");

    Cli badTime = Cli.run(new ReplayCommand(), UK.toString(), "-b", b, "--start", "yesterday");
    assertThat(badTime.exit).isEqualTo(2);
    assertThat(badTime.err).contains("--start: 'yesterday' is not an ISO-8601 time");

    Cli noTopic = Cli.run(new ReplayCommand(), UK.toString(), "-b", b, "--frames-topic", "no-such-topic", "--connect-timeout", "10s");
    assertThat(noTopic.exit).isEqualTo(1);
    assertThat(noTopic.err).contains("topic 'no-such-topic' does not exist on " + b);

    Cli noBroker = Cli.run(new ReplayCommand(), UK.toString(), "-b", "127.0.0.1:1", "--connect-timeout", "3s");
    assertThat(noBroker.exit).isEqualTo(1);
    assertThat(noBroker.err).contains("cannot reach Kafka at 127.0.0.1:1 within 3 s");

    Cli badConfig = Cli.run(new ReplayCommand(), UK.toString(), "--set", "kafka.start-from=yesterday");
    assertThat(badConfig.exit).isEqualTo(2);
    assertThat(badConfig.err).contains("kafka.start-from: must be earliest or latest");

    for (Cli c : List.of(missing, notFrames, wrongRecord, noGrid, noTopic, noBroker, badConfig)) {
      assertThat(c.err).as("no stack trace").doesNotContain("\tat ");
    }
  }
}

package ai.lsntp.job;

import ai.lsntp.testing.KafkaBroker;
import org.junit.jupiter.api.extension.RegisterExtension;
import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.avro.Verification;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.model.OnnxForecaster;
import ai.lsntp.testing.KafkaIO;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/**
 * The job verifies itself as `./lsntp evaluate` scores a model offline: the held-out test part of
 * ERA5 UK (20-24 March 2019) replayed through the job gives, on the verification topic, the same
 * per-lead MAE of the shipped model, and of persistence, as evaluate wrote into the model's
 * metrics.json for the same windows (those whose every lead lies in the test part); and its
 * intervals, calibrated online from the model's export-time calibration, the same coverage and
 * CRPS per lead as evaluate's replay of the calibration (intervals.json) over the windows issued
 * from a day after the first: the streaming check of the intervals (models/README.md).
 */
class VerificationTest {
  static final double TOLERANCE_K = 1e-4;
  static final double COVERAGE_TOLERANCE = 2e-3;
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();

  @Test
  void perLeadMaeOnTheVerificationTopicEqualsEvaluate() throws Exception {
    Path folder = TestPaths.models().resolve("era5-uk");
    JsonNode metrics = new ObjectMapper().readTree(folder.resolve("metrics.json").toFile());
    Instant testStart = Instant.parse(metrics.at("/data/test").asText().split("/")[0].replace("Z", ":00:00Z"));
    ModelSpec spec = ModelCatalog.load(TestPaths.models()).forGrid(metrics.at("/data/grid_id").asText());
    String label;
    try (OnnxForecaster f = OnnxForecaster.open(spec, false, 1)) {
      label = f.metadata().get("model_label");
    }
    List<TemperatureFrame> test = new ArrayList<>();
    for (TemperatureFrame f : RealFrames.uk(0)) {
      if (!f.getValidTime().isBefore(testStart)) {
        test.add(f);
      }
    }
    int windows = test.size() - spec.alpha - spec.beta + 1;
    assertThat(windows).as("evaluate's test windows").isEqualTo(metrics.at("/data/test_windows").asInt());

    String prefix = "verify";
    kafka.createTopics(1, Topic.namesUnder(prefix));
    LsntpConfig cfg = TestJobConfig.onTopics(kafka.bootstrapServers(), prefix)
        .set("delivery.guarantee", "at-least-once")
        .set("stream.future-tolerance", "3650d")
        .set("alerts", "[]")
        .load();
    List<byte[][]> records = new ArrayList<>();
    RecordCodec<TemperatureFrame> avro = RecordCodec.of(TemperatureFrame.class);
    for (TemperatureFrame f : test) {
      records.add(new byte[][] {f.getGridId().getBytes(StandardCharsets.UTF_8), avro.encode(f)});
    }
    KafkaIO.produce(kafka.bootstrapServers(), cfg.topics.frames, records);
    ForecastJob.fromKafka(cfg, true).execute(ForecastJob.localEnvironment(cfg));

    // evaluate's windows: the issue times whose every lead lies in the test part
    long lastIssue = test.get(test.size() - 1).getValidTime().toEpochMilli() - spec.beta * spec.stepMillis;
    double[] mae = new double[spec.beta];
    double[] persistence = new double[spec.beta];
    int[] n = new int[spec.beta];
    RecordCodec<Verification> va = RecordCodec.of(Verification.class);
    int all = 0;
    JsonNode intervals = new ObjectMapper().readTree(folder.resolve("intervals.json").toFile());
    long firstIssue = test.get(spec.alpha - 1).getValidTime().toEpochMilli();
    long scoredFrom = firstIssue + intervals.get("burn_in_hours").asLong() * 3_600_000L;
    int levels = intervals.get("levels").size();
    double[][] inside = new double[spec.beta][levels];
    double[] crps = new double[spec.beta];
    double[] cells = new double[spec.beta];
    List<ConsumerRecord<byte[], byte[]>> verifications = KafkaIO.readCommitted(kafka.bootstrapServers(),
        cfg.topics.verification, Integer.MAX_VALUE, Duration.ofSeconds(20));
    ai.lsntp.testing.WireFormat.assertSingleObject(verifications, "Verification");
    for (ConsumerRecord<byte[], byte[]> r : verifications) {
      Verification v = va.decode(r.value());
      all++;
      if (v.getIssueTime().toEpochMilli() <= lastIssue) {
        mae[v.getLead() - 1] += v.getMae();
        persistence[v.getLead() - 1] += v.getPersistenceMae();
        n[v.getLead() - 1]++;
        if (v.getIssueTime().toEpochMilli() >= scoredFrom) {
          assertThat(v.getIntervalLevels()).hasSize(levels);
          for (int j = 0; j < levels; j++) {
            inside[v.getLead() - 1][j] += v.getCoverage().get(j) * v.getCells();
          }
          crps[v.getLead() - 1] += v.getCrps() * v.getCells();
          cells[v.getLead() - 1] += v.getCells();
        }
      }
    }
    assertThat(all).as("every lead of every forecast whose valid time was observed").isEqualTo(
        (test.size() - spec.alpha + 1) * spec.beta - spec.beta * (spec.beta + 1) / 2);
    for (int lead = 0; lead < spec.beta; lead++) {
      assertThat(n[lead]).isEqualTo(windows);
      double online = mae[lead] / n[lead];
      double offline = metrics.at("/results/" + label + "/mae/" + lead).asDouble();
      double onlinePersistence = persistence[lead] / n[lead];
      double offlinePersistence = metrics.at("/results/Persistence/mae/" + lead).asDouble();
      System.out.printf("lead +%d: verification MAE %.6f K, evaluate %.6f K (difference %.2e); persistence %.6f vs %.6f%n",
          lead + 1, online, offline, Math.abs(online - offline), onlinePersistence, offlinePersistence);
      assertThat(Math.abs(online - offline)).as("lead %d: |verification - evaluate| MAE, K", lead + 1)
          .isLessThanOrEqualTo(TOLERANCE_K);
      assertThat(Math.abs(onlinePersistence - offlinePersistence)).isLessThanOrEqualTo(TOLERANCE_K);
      // the intervals: ONNX Runtime's forecasts differ from PyTorch's by ~1e-5 K, so a cell on an
      // interval's edge may fall the other way; coverage agrees within 0.2 points, CRPS within 1e-4 K
      JsonNode offlineIntervals = intervals.at("/results/conformal/after_first_day");
      for (int j = 0; j < levels; j++) {
        double onlineCoverage = inside[lead][j] / cells[lead];
        double offlineCoverage = offlineIntervals.at("/coverage/" + lead + "/" + j).asDouble();
        System.out.printf("lead +%d: coverage at %s on the verification topic %.5f, evaluate %.5f%n", lead + 1,
            intervals.at("/levels/" + j).asText(), onlineCoverage, offlineCoverage);
        assertThat(Math.abs(onlineCoverage - offlineCoverage)).as("lead %d, level %d: |verification - evaluate| coverage", lead + 1, j)
            .isLessThanOrEqualTo(COVERAGE_TOLERANCE);
      }
      assertThat(Math.abs(crps[lead] / cells[lead] - offlineIntervals.at("/crps/" + lead).asDouble()))
          .as("lead %d: |verification - evaluate| CRPS, K", lead + 1).isLessThanOrEqualTo(TOLERANCE_K);
    }
  }
}

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
 * metrics.json for the same windows (those whose every lead lies in the test part).
 */
class VerificationTest {
  static final double TOLERANCE_K = 1e-4;
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
    }
  }
}

package ai.lsntp.system;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.avro.Verification;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.job.ForecastJob;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.testing.KafkaBroker;
import ai.lsntp.testing.KafkaIO;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.tools.FramePublisher;
import ai.lsntp.tools.Replay;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.core.execution.JobClient;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job's metrics as an operations team sees them: a real Prometheus server (Debian's
 * prometheus package) scrapes the running job's Flink Prometheus reporter on 127.0.0.1 with the
 * committed alerting rules loaded, and its HTTP query API must answer with the values the job
 * reported: forecasts out equal to the forecasts on the topic, and each lead's rolling MAE and
 * skill equal to what the verification records on the topic give. Every query of the committed
 * Grafana dashboard must run; promtool must accept the rules and pass their unit tests.
 */
class PrometheusTest {
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();
  static final ObjectMapper JSON = new ObjectMapper();
  static final String PROMETHEUS = "/usr/bin/prometheus";
  static final String PROMTOOL = "/usr/bin/promtool";

  @TempDir Path work;

  @Test
  void promtoolAcceptsTheRulesAndTheirUnitTestsPass() throws Exception {
    Path rules = TestPaths.root().resolve("deploy/prometheus");
    String check = run(List.of(PROMTOOL, "check", "rules", rules.resolve("lsntp-rules.yml").toString()));
    assertThat(check).contains("SUCCESS: 6 rules found");
    String tests = run(List.of(PROMTOOL, "test", "rules", rules.resolve("lsntp-rules.test.yml").toString()));
    assertThat(tests).contains("SUCCESS");
  }

  @Test
  void prometheusScrapesTheJobAndAnswersWithTheValuesTheJobReported() throws Exception {
    assertThat(Path.of(PROMETHEUS)).as("Debian's prometheus package (.ci/run installs it)").exists();
    String prefix = "prom";
    kafka.createTopics(1, ai.lsntp.config.Topic.namesUnder(prefix));
    int metricsPort = freePort();
    LsntpConfig cfg = TestJobConfig.onTopics(kafka.bootstrapServers(), prefix)
        .set("metrics.prometheus-port", Integer.toString(metricsPort))
        .set("delivery.guarantee", "at-least-once")
        .set("delivery.checkpoint-interval", "1s")
        .set("stream.future-tolerance", "3650d")
        // every score of the replay inside the rolling window, so the expected values are plain means
        .set("verification.window", "30d")
        .load();
    ModelSpec spec = ModelCatalog.load(TestPaths.models()).forGrid(RealFrames.uk(1).get(0).getGridId());
    int frames = 30;
    int expected = frames - spec.alpha + 1;

    JobClient job = ForecastJob.fromKafka(cfg, false).executeAsync(ForecastJob.localEnvironment(cfg));
    Process prometheus = null;
    try (CommittedForecasts out = new CommittedForecasts(kafka.bootstrapServers(), prefix + ".forecasts")) {
      long until = System.currentTimeMillis() + 60_000;
      while (job.getJobStatus().get() != JobStatus.RUNNING && System.currentTimeMillis() < until) {
        Thread.sleep(100);
      }
      int promPort = freePort();
      Path config = work.resolve("prometheus.yml");
      Files.writeString(config, String.join("\n",
          "global: {scrape_interval: 1s, evaluation_interval: 1s}",
          "rule_files: ['" + TestPaths.root().resolve("deploy/prometheus/lsntp-rules.yml") + "']",
          "scrape_configs:",
          "  - job_name: lsntp",
          "    static_configs: [{targets: ['127.0.0.1:" + metricsPort + "']}]", ""));
      prometheus = new ProcessBuilder(PROMETHEUS, "--config.file=" + config, "--storage.tsdb.path=" + work.resolve("tsdb"),
          "--web.listen-address=127.0.0.1:" + promPort).redirectErrorStream(true)
          .redirectOutput(work.resolve("prometheus.log").toFile()).start();
      Prometheus api = new Prometheus("http://127.0.0.1:" + promPort);

      Properties client = new Properties();
      client.put("bootstrap.servers", kafka.bootstrapServers());
      List<TemperatureFrame> uk = RealFrames.uk(frames);
      try (FramePublisher publisher = new FramePublisher(client, prefix + ".frames", Duration.ofSeconds(60),
          Duration.ofSeconds(30), false)) {
        Replay.asFastAsPossible().run(uk, 0, publisher, f -> { });
        publisher.flush();
      }
      assertThat(out.await(expected, Duration.ofSeconds(120))).as("%d forecasts", expected).isTrue();

      // what the job published, read back from its topics
      String grid = spec.gridId;
      double[] maeSum = new double[spec.beta + 1];
      double[] persistenceSum = new double[spec.beta + 1];
      int verifications = (frames - spec.alpha) * spec.beta - spec.beta * (spec.beta - 1) / 2;
      RecordCodec<Verification> codec = RecordCodec.of(Verification.class);
      List<ConsumerRecord<byte[], byte[]>> records =
          KafkaIO.readCommitted(kafka.bootstrapServers(), prefix + ".verification", verifications, Duration.ofSeconds(60));
      assertThat(records).hasSize(verifications);
      for (ConsumerRecord<byte[], byte[]> r : records) {
        Verification v = codec.decode(r.value());
        maeSum[v.getLead()] += v.getMae() * v.getCells();
        persistenceSum[v.getLead()] += v.getPersistenceMae() * v.getCells();
      }

      String job0 = "job_name=\"" + cfg.job.name + "\"";
      assertThat(api.awaitValue("sum(flink_taskmanager_job_task_operator_forecastsOut{" + job0 + "})",
          v -> v == expected, Duration.ofSeconds(60))).as("forecasts out in Prometheus").isEqualTo(expected);
      for (int lead : new int[] {1, spec.beta}) {
        String labels = "{" + job0 + ",grid=\"" + grid + "\",lead=\"" + lead + "\"}";
        double mae = maeSum[lead] / sumOfCells(records, codec, lead);
        double skill = 1 - maeSum[lead] / persistenceSum[lead];
        assertThat(api.awaitValue("flink_taskmanager_job_task_operator_grid_lead_rollingMae" + labels,
            v -> Math.abs(v - mae) < 1e-9, Duration.ofSeconds(30))).as("rolling MAE, lead %d", lead)
            .isCloseTo(mae, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(api.awaitValue("flink_taskmanager_job_task_operator_grid_lead_rollingSkill" + labels,
            v -> Math.abs(v - skill) < 1e-9, Duration.ofSeconds(30))).as("rolling skill, lead %d", lead)
            .isCloseTo(skill, org.assertj.core.data.Offset.offset(1e-9));
      }
      JsonNode serving = api.query("flink_taskmanager_job_task_operator_grid_model_version_serving{" + job0 + ",grid=\""
          + grid + "\"} == 1");
      assertThat(serving).as("the model serving the grid").hasSize(1);
      assertThat(serving.get(0).path("metric").path("version").asText()).isEqualTo(spec.version);
      assertThat(api.query("flink_jobmanager_job_lastCheckpointDuration{" + job0 + "}")).isNotEmpty();

      // the rules loaded and evaluated without errors
      JsonNode groups = api.get("/api/v1/rules").path("data").path("groups");
      List<String> rules = new ArrayList<>();
      for (JsonNode g : groups) {
        for (JsonNode r : g.path("rules")) {
          assertThat(r.path("health").asText()).as("rule %s: %s", r.path("name"), r.path("lastError")).isIn("ok", "unknown");
          rules.add(r.path("name").asText());
        }
      }
      assertThat(rules).contains("LsntpJobDown", "LsntpNoForecastForGrid", "LsntpRejectRateHigh",
          "LsntpSkillBelowPersistence", "LsntpCheckpointsFailing", "LsntpRestarting");

      // every query of the dashboard runs; the main panels have data
      JsonNode dashboard = JSON.readTree(TestPaths.root().resolve("deploy/grafana/lsntp-dashboard.json").toFile());
      for (JsonNode panel : dashboard.path("panels")) {
        for (JsonNode target : panel.path("targets")) {
          String expr = target.path("expr").asText().replace("$grid", ".*");
          String title = panel.path("title").asText();
          // rate() needs two scrapes inside its range: allow the scrapes to come
          JsonNode result = api.query(expr);
          for (long by = System.currentTimeMillis() + 20_000; result.isEmpty() && System.currentTimeMillis() < by; ) {
            Thread.sleep(500);
            result = api.query(expr);
          }
          if (!title.startsWith("Rejects") && !title.startsWith("Restarts")) {
            assertThat(result).as("panel '%s': %s", title, expr).isNotEmpty();
          }
        }
      }
    } finally {
      if (prometheus != null) {
        prometheus.destroy();
        prometheus.waitFor(10, TimeUnit.SECONDS);
      }
      job.cancel().get(30, TimeUnit.SECONDS);
    }
  }

  private static double sumOfCells(List<ConsumerRecord<byte[], byte[]>> records, RecordCodec<Verification> codec,
      int lead) throws IOException {
    double cells = 0;
    for (ConsumerRecord<byte[], byte[]> r : records) {
      Verification v = codec.decode(r.value());
      if (v.getLead() == lead) {
        cells += v.getCells();
      }
    }
    return cells;
  }

  /** Prometheus's HTTP API. */
  static final class Prometheus {
    final String base;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    Prometheus(String base) {
      this.base = base;
    }

    JsonNode get(String path) throws Exception {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10))
          .build(), HttpResponse.BodyHandlers.ofString());
      JsonNode body = JSON.readTree(r.body());
      assertThat(body.path("status").asText()).as("%s: %s", path, r.body()).isEqualTo("success");
      return body;
    }

    /** The instant vector a PromQL query returns. */
    JsonNode query(String promql) throws Exception {
      return get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)).path("data").path("result");
    }

    /** Polls until the query's single value passes {@code done} (scrapes come every second); returns the last value. */
    double awaitValue(String promql, Predicate<Double> done, Duration timeout) throws Exception {
      long until = System.currentTimeMillis() + timeout.toMillis();
      double last = Double.NaN;
      while (System.currentTimeMillis() < until) {
        JsonNode result;
        try {
          result = query(promql);
        } catch (java.net.ConnectException e) {
          Thread.sleep(500); // the server is still starting
          continue;
        }
        if (result.size() == 1) {
          last = result.get(0).path("value").get(1).asDouble();
          if (done.test(last)) {
            return last;
          }
        }
        Thread.sleep(500);
      }
      return last;
    }
  }

  private static String run(List<String> command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("%s:\n%s", command, out).isZero();
    return out;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}

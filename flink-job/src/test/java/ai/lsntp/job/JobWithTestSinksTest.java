package ai.lsntp.job;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ModelEvent;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.avro.Verification;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.alerts.AlertRule;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.model.OnnxForecaster;
import ai.lsntp.testing.CollectingSink;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

/**
 * The whole pipeline with a test source and test sinks in place of Kafka (the flink-training
 * pattern: the job takes its sources and sinks), on real ERA5 frames and the shipped model: what
 * the job does, without a broker in the way.
 */
class JobWithTestSinksTest {
  static final int GOOD = 12;
  static final double HEAT_K = 280.0;

  /** The frames-topic records, as bytes, so the generator function is serializable. */
  static final class Records implements GeneratorFunction<Long, RawFrame> {
    private static final long serialVersionUID = 1L;
    private final ArrayList<byte[]> values;
    private final String grid;

    Records(ArrayList<byte[]> values, String grid) {
      this.values = values;
      this.grid = grid;
    }

    @Override
    public RawFrame map(Long i) {
      int n = i.intValue();
      return new RawFrame(grid.getBytes(StandardCharsets.UTF_8), values.get(n), "test-frames", 0, n, 1000L + n);
    }
  }

  @Test
  void realFramesAndTwoBadRecordsGiveTheForecastsVerificationsAndRejectsOfTheirKind() throws Exception {
    List<TemperatureFrame> frames = RealFrames.uk(GOOD);
    ModelCatalog.Scan scan = ModelCatalog.scan(TestPaths.models());
    ModelSpec spec = scan.catalog.forGrid(frames.get(0).getGridId());
    RecordCodec<TemperatureFrame> avro = RecordCodec.of(TemperatureFrame.class);
    ArrayList<byte[]> records = new ArrayList<>();
    for (int i = 0; i < GOOD; i++) {
      records.add(avro.encode(frames.get(i)));
      if (i == 3) {
        records.add("not avro".getBytes(StandardCharsets.UTF_8));
      }
      if (i == 7) {
        records.add(avro.encode(TemperatureFrame.newBuilder(frames.get(i)).setUnits("degC").build()));
      }
    }

    LsntpConfig cfg = TestJobConfig.onTopics("127.0.0.1:1", "test-sinks")
        .alerts(List.of(new AlertRule("mild", AlertRule.Kind.heat, HEAT_K, null, "*")))
        .load();
    CollectingSink<Forecast> forecasts = CollectingSink.named("forecasts");
    CollectingSink<Alert> alerts = CollectingSink.named("alerts");
    CollectingSink<RejectedFrame> rejects = CollectingSink.named("rejects");
    CollectingSink<ModelEvent> events = CollectingSink.named("model-events");
    CollectingSink<Verification> verifications = CollectingSink.named("verifications");
    DataGeneratorSource<RawFrame> source = new DataGeneratorSource<>(new Records(records, spec.gridId),
        records.size(), TypeInformation.of(RawFrame.class));
    ForecastJob job = new ForecastJob(cfg, scan, source,
        new ForecastJob.Outputs(forecasts, alerts, rejects, events, verifications), false);
    StreamExecutionEnvironment env = ForecastJob.localEnvironment(cfg);
    job.execute(env);

    int expected = GOOD - spec.alpha + 1;
    List<Forecast> got = forecasts.collected().stream()
        .sorted(Comparator.comparing(Forecast::getIssueTime)).collect(Collectors.toList());
    assertThat(got).hasSize(expected);
    int cells = spec.cells();
    int leadsOverHeat = 0;
    try (OnnxForecaster direct = OnnxForecaster.open(spec, false, 1)) {
      for (int k = 0; k < expected; k++) {
        int end = spec.alpha - 1 + k;
        Forecast f = got.get(k);
        assertThat(f.getIssueTime()).isEqualTo(frames.get(end).getValidTime());
        assertThat(f.getModelVersion().toString()).isEqualTo(spec.version);
        float[] w = new float[spec.alpha * cells];
        for (int j = 0; j < spec.alpha; j++) {
          System.arraycopy(PackedFloats.decode(frames.get(end - spec.alpha + 1 + j).getValues()), 0, w, j * cells,
              cells);
        }
        float[] want = direct.forecast(List.of(w))[0];
        float[] have = PackedFloats.decode(f.getValues());
        assertThat(have).as("forecast issued at %s", f.getIssueTime())
            .containsExactly(want, org.assertj.core.data.Offset.offset(1e-5f));
        for (int lead = 0; lead < spec.beta; lead++) {
          float max = Float.NEGATIVE_INFINITY;
          for (int c = 0; c < cells; c++) {
            max = Math.max(max, want[lead * cells + c]);
          }
          leadsOverHeat += max >= HEAT_K ? 1 : 0;
        }
      }
    }

    assertThat(rejects.collected()).extracting(r -> r.getReasonCode().toString())
        .containsExactlyInAnyOrder("UNDECODABLE", "UNSUPPORTED_UNITS");
    assertThat(rejects.collected()).extracting(RejectedFrame::getSourceOffset)
        .containsExactlyInAnyOrder(4L, 9L);

    // one alert per lead whose warmest cell reaches the threshold, counted on the direct forecasts
    assertThat(leadsOverHeat).as("the data exercise the rule").isPositive();
    assertThat(alerts.collected()).hasSize(leadsOverHeat);

    // a forecast issued at frame e is verified at every lead whose valid time is among the frames
    int verifiable = 0;
    for (int end = spec.alpha - 1; end < GOOD; end++) {
      verifiable += Math.min(spec.beta, GOOD - 1 - end);
    }
    List<Verification> ver = verifications.collected();
    assertThat(ver).hasSize(verifiable);
    for (Verification v : ver) {
      assertThat(v.getMae()).isPositive().isLessThan(5.0);
      assertThat(v.getRmse()).isGreaterThanOrEqualTo(v.getMae());
      assertThat(v.getCells()).isEqualTo(cells);
    }
    assertThat(events.collected()).as("the model directory is not watched in a bounded job").isEmpty();
  }
}

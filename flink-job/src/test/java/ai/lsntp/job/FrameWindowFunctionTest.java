package ai.lsntp.job;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.co.CoBroadcastWithKeyedOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedBroadcastOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The keyed window logic on real ERA5 frames, with Flink's operator test harness. */
class FrameWindowFunctionTest {
  static final long HOUR = 3_600_000L;
  static ModelCatalog models;
  static ModelSpec spec;
  static List<Frame> real;

  FrameWindowFunction fn;
  KeyedBroadcastOperatorTestHarness<String, Frame, ModelCatalog, FrameWindow> h;

  @BeforeAll
  static void load() throws Exception {
    models = ModelCatalog.load(TestPaths.models());
    List<TemperatureFrame> tfs = RealFrames.uk(16);
    spec = models.forGrid(tfs.get(0).getGridId());
    assertThat(spec).as("a shipped model for %s", tfs.get(0).getGridId()).isNotNull();
    FrameValidator v = new FrameValidator(models, 1 << 20, 365L * 24 * HOUR, 65536, null);
    RecordCodec<TemperatureFrame> avro = RecordCodec.of(TemperatureFrame.class);
    real = new ArrayList<>();
    for (int i = 0; i < tfs.size(); i++) {
      real.add(v.validate(new RawFrame(null, avro.encode(tfs.get(i)), "frames", 0, i, 1000L + i),
          System.currentTimeMillis()));
    }
    for (int i = 1; i < real.size(); i++) {
      assertThat(real.get(i).validTime - real.get(i - 1).validTime).isEqualTo(spec.stepMillis);
    }
  }

  @BeforeEach
  void harness() throws Exception {
    fn = new FrameWindowFunction(models, HOUR, null);
    h = ProcessFunctionTestHarnesses.forKeyedBroadcastProcessFunction(fn, new GridKey(), Types.STRING, ModelUpdates.STATE);
    h.processBroadcastWatermark(Long.MAX_VALUE); // the model catalogs carry no event time
  }

  @AfterEach
  void close() throws Exception {
    h.close();
  }

  private Frame frame(int i) {
    Frame src = real.get(i);
    Frame f = new Frame(src.gridId, src.validTime, src.arrivalTime, src.values.clone());
    f.topic = "frames";
    f.partition = 0;
    f.offset = i;
    return f;
  }

  private void send(int... idx) throws Exception {
    for (int i : idx) {
      Frame f = frame(i);
      h.processElement(new StreamRecord<>(f, f.validTime));
    }
  }

  private List<FrameWindow> windows() {
    List<FrameWindow> out = new ArrayList<>();
    for (Object o : h.getOutput()) {
      if (o instanceof StreamRecord) {
        out.add((FrameWindow) ((StreamRecord<?>) o).getValue());
      }
    }
    return out;
  }

  private List<Long> issueTimes() {
    return windows().stream().map(w -> w.issueTime).collect(Collectors.toList());
  }

  private long t(int i) {
    return real.get(i).validTime;
  }

  private int held() throws Exception {
    h.getOperator().setCurrentKey(real.get(0).gridId);
    return fn.heldFrames();
  }

  @Test
  void inOrderFramesEmitOneWindowPerFrameOnceAlphaAreThere() throws Exception {
    int a = spec.alpha;
    for (int i = 0; i < a + 3; i++) {
      send(i);
      assertThat(held()).isLessThanOrEqualTo(a + 1);
    }
    assertThat(issueTimes()).containsExactly(t(a - 1), t(a), t(a + 1), t(a + 2));
    FrameWindow first = windows().get(0);
    int cells = spec.cells();
    assertThat(first.values).hasSize(a * cells);
    for (int k = 0; k < a; k++) {
      float[] slice = java.util.Arrays.copyOfRange(first.values, k * cells, (k + 1) * cells);
      assertThat(slice).containsExactly(real.get(k).values);
    }
    assertThat(first.arrivalTime).isEqualTo(real.get(a - 1).arrivalTime);
    assertThat(h.getSideOutput(Rejects.TAG)).isNullOrEmpty();
  }

  @Test
  void duplicateValidTimeReplacesWithoutRetriggering() throws Exception {
    int a = spec.alpha;
    send(0, 1, 2);
    // a correction of frame 1: same valid time, different (real) values
    Frame corr = frame(12);
    corr.validTime = t(1);
    h.processElement(new StreamRecord<>(corr, corr.validTime));
    for (int i = 3; i < a; i++) {
      send(i);
    }
    send(a - 1); // plain duplicate of the newest: no second window
    assertThat(issueTimes()).containsExactly(t(a - 1));
    int cells = spec.cells();
    float[] slice1 = java.util.Arrays.copyOfRange(windows().get(0).values, cells, 2 * cells);
    assertThat(slice1).containsExactly(real.get(12).values);
    assertThat(held()).isEqualTo(a);
  }

  @Test
  void outOfOrderFrameWithinLatenessIsSlottedInAndTriggersTheWindowsItCompletes() throws Exception {
    int a = spec.alpha;
    for (int i = 0; i < a - 1; i++) {
      send(i);
    }
    send(a);      // frame a-1 is missing: nothing complete
    assertThat(windows()).isEmpty();
    send(a - 1);  // one hour late: within the allowed lateness
    assertThat(issueTimes()).containsExactly(t(a - 1), t(a));
    assertThat(h.getSideOutput(Rejects.TAG)).isNullOrEmpty();
    assertThat(held()).isLessThanOrEqualTo(a + 1);
  }

  @Test
  void frameLaterThanTheAllowedLatenessIsRejectedAndTheGapHoldsBackForecasts() throws Exception {
    int a = spec.alpha;
    send(0, 1, 2, 3);
    send(5, 6, 7, 8); // 4 is missing
    assertThat(windows()).isEmpty();
    send(4); // 4 hours behind the newest: LATE
    ConcurrentLinkedQueue<StreamRecord<RejectedFrame>> rejects = h.getSideOutput(Rejects.TAG);
    assertThat(rejects).hasSize(1);
    RejectedFrame r = rejects.peek().getValue();
    assertThat(r.getReasonCode()).isEqualTo("LATE");
    assertThat(r.getReason()).contains("allowed-lateness");
    assertThat(r.getGridId()).isEqualTo(real.get(4).gridId);
    assertThat(r.getValidTime().toEpochMilli()).isEqualTo(t(4));
    assertThat(r.getSourceTopic()).isEqualTo("frames");
    assertThat(r.getSourceOffset()).as("where the late record is on the frames topic").isEqualTo(4L);
    assertThat(r.getRaw().remaining()).as("a late frame's reject points at its record instead of copying it").isZero();
    assertThat(windows()).isEmpty();

    // the gap is counted once the watermark passes the missing frame plus the lateness
    h.processWatermark(new Watermark(t(4) + HOUR));
    assertThat(fn.gapCount()).isEqualTo(1);

    // forecasts resume only when alpha consecutive frames exist again: 5 .. 5+alpha-1
    for (int i = 9; i < 5 + a; i++) {
      send(i);
      assertThat(held()).isLessThanOrEqualTo(a + 1);
    }
    assertThat(issueTimes()).containsExactly(t(4 + a));
  }

  /** What a checkpoint holds of a grid's window comes back on restore: the restored job goes on as if never stopped. */
  @Test
  void heldFramesSurviveASnapshotAndRestoreIntoANewInstance() throws Exception {
    int a = spec.alpha;
    for (int i = 0; i < a - 1; i++) {
      send(i);
    }
    assertThat(windows()).isEmpty();
    OperatorSubtaskState snapshot = h.snapshot(1L, t(a - 2));
    h.close();

    fn = new FrameWindowFunction(models, HOUR, null);
    h = new KeyedBroadcastOperatorTestHarness<>(new CoBroadcastWithKeyedOperator<>(fn, List.of(ModelUpdates.STATE)),
        new GridKey(), Types.STRING, 1, 1, 0);
    h.setup();
    h.initializeState(snapshot);
    h.open();
    h.processBroadcastWatermark(Long.MAX_VALUE);
    assertThat(held()).as("frames held before the snapshot").isEqualTo(a - 1);

    send(a - 1, a);
    assertThat(issueTimes()).containsExactly(t(a - 1), t(a));
    int cells = spec.cells();
    float[] first = windows().get(0).values;
    for (int k = 0; k < a; k++) {
      assertThat(java.util.Arrays.copyOfRange(first, k * cells, (k + 1) * cells))
          .as("frame %d of the first window after the restore", k).containsExactly(real.get(k).values);
    }
    send(a - 3); // older than the restored newest frame by more than the lateness: still judged LATE
    assertThat(h.getSideOutput(Rejects.TAG)).extracting(r -> r.getValue().getReasonCode().toString())
        .containsExactly("LATE");
  }
}

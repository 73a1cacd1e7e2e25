package ai.lsntp.job;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import ai.lsntp.model.OnnxForecaster;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.TwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Batching across grids (N windows or T ms), outputs equal to one-window-at-a-time inference. */
class InferenceOperatorTest {
  static ModelSpec uk;
  static ModelCatalog twoGrids;
  static List<TemperatureFrame> frames;

  @BeforeAll
  static void load() {
    frames = RealFrames.uk(12);
    uk = ModelCatalog.load(TestPaths.models()).forGrid(frames.get(0).getGridId());
    ModelSpec copy = new ModelSpec(uk.path, uk.name, uk.version, "uk-copy", uk.alpha, uk.beta, uk.stepMillis,
        uk.height, uk.width, uk.lat0, uk.lon0, uk.dlat, uk.dlon, uk.units, uk.weightsSha256, uk.calibration);
    twoGrids = new ModelCatalog(Map.of(uk.gridId, uk, "uk-copy", copy));
  }

  static FrameWindow window(String grid, int end) {
    int cells = uk.cells();
    float[] w = new float[uk.alpha * cells];
    for (int k = 0; k < uk.alpha; k++) {
      System.arraycopy(PackedFloats.decode(frames.get(end - uk.alpha + 1 + k).getValues()), 0, w, k * cells, cells);
    }
    FrameWindow window = new FrameWindow(grid, frames.get(end).getValidTime().toEpochMilli(), 1L, w);
    window.topic = "frames";
    window.partition = end % 2;
    window.offset = 100 + end;
    return window;
  }

  private static List<WindowForecast> inferred(TwoInputStreamOperatorTestHarness<FrameWindow, ModelCatalog, WindowForecast> h) {
    List<WindowForecast> out = new ArrayList<>();
    for (Object o : h.getOutput()) {
      if (o instanceof StreamRecord) {
        out.add((WindowForecast) ((StreamRecord<?>) o).getValue());
      }
    }
    return out;
  }

  private static List<Forecast> forecasts(TwoInputStreamOperatorTestHarness<FrameWindow, ModelCatalog, WindowForecast> h) {
    return inferred(h).stream().map(f -> f.forecast).toList();
  }

  @Test
  void batchesUpToNWindowsOrTMillisAcrossGridsAndMatchesSingleWindowInference() throws Exception {
    InferenceOperator op = new InferenceOperator(twoGrids, ai.lsntp.model.Provider.CPU, 1, 3, 500, null);
    try (TwoInputStreamOperatorTestHarness<FrameWindow, ModelCatalog, WindowForecast> h = new TwoInputStreamOperatorTestHarness<>(op)) {
      h.setProcessingTime(0);
      h.open();
      List<FrameWindow> in = List.of(window(uk.gridId, 5), window("uk-copy", 6), window(uk.gridId, 7),
          window("uk-copy", 8));
      h.processElement1(new StreamRecord<>(in.get(0), 0));
      h.processElement1(new StreamRecord<>(in.get(1), 0));
      assertThat(forecasts(h)).as("waiting for N = 3 windows or T = 500 ms").isEmpty();
      h.processElement1(new StreamRecord<>(in.get(2), 0));
      assertThat(forecasts(h)).as("N reached: one call for three windows of two grids").hasSize(3);
      h.processElement1(new StreamRecord<>(in.get(3), 0));
      h.setProcessingTime(499);
      assertThat(forecasts(h)).hasSize(3);
      h.setProcessingTime(500);
      assertThat(forecasts(h)).as("T elapsed: the lone window goes").hasSize(4);

      List<Forecast> out = forecasts(h);
      try (OnnxForecaster single = OnnxForecaster.open(uk, false, 1)) {
        for (int i = 0; i < in.size(); i++) {
          Forecast f = out.get(i);
          assertThat(f.getGridId()).isEqualTo(in.get(i).gridId);
          assertThat(f.getIssueTime().toEpochMilli()).isEqualTo(in.get(i).issueTime);
          float[] got = PackedFloats.decode(f.getValues());
          float[] want = single.forecast(List.of(in.get(i).values))[0];
          double max = 0;
          for (int j = 0; j < want.length; j++) {
            max = Math.max(max, Math.abs(got[j] - want[j]));
          }
          assertThat(max).as("batched vs single-window inference, K").isLessThanOrEqualTo(1e-5);
        }
      }
      // what the alert stage after inference needs beside each forecast: lead 0 and the window's record
      for (int i = 0; i < in.size(); i++) {
        WindowForecast f = inferred(h).get(i);
        FrameWindow w = in.get(i);
        assertThat(f.newestFrame).as("the window's newest frame")
            .containsExactly(java.util.Arrays.copyOfRange(w.values, (uk.alpha - 1) * uk.cells(), uk.alpha * uk.cells()));
        assertThat(List.of(f.topic, f.partition, f.offset)).containsExactly(w.topic, w.partition, w.offset);
      }
    }
  }

  @Test
  void nothingWaitsAcrossACheckpointBarrier() throws Exception {
    InferenceOperator op = new InferenceOperator(twoGrids, ai.lsntp.model.Provider.CPU, 1, 16, 60_000, null);
    try (TwoInputStreamOperatorTestHarness<FrameWindow, ModelCatalog, WindowForecast> h = new TwoInputStreamOperatorTestHarness<>(op)) {
      h.open();
      h.processElement1(new StreamRecord<>(window(uk.gridId, 5), 0));
      assertThat(forecasts(h)).isEmpty();
      h.prepareSnapshotPreBarrier(1L);
      assertThat(forecasts(h)).hasSize(1);
    }
  }

  /**
   * A new catalog flushes the waiting batch with the model that was serving, then serves with the
   * new one: windows before the swap carry v1, after it v2; a grid the new catalog drops is rejected.
   */
  @Test
  void aModelSwapHappensBetweenBatches() throws Exception {
    ModelSpec v2 = new ModelSpec(uk.path, uk.name, "9.9.9-test", uk.gridId, uk.alpha, uk.beta, uk.stepMillis,
        uk.height, uk.width, uk.lat0, uk.lon0, uk.dlat, uk.dlon, uk.units, uk.weightsSha256, uk.calibration);
    ModelCatalog first = new ModelCatalog(twoGrids.byGrid(), 1);
    ModelCatalog next = new ModelCatalog(Map.of(uk.gridId, v2), 2);
    InferenceOperator op = new InferenceOperator(first, ai.lsntp.model.Provider.CPU, 1, 16, 60_000, null);
    try (TwoInputStreamOperatorTestHarness<FrameWindow, ModelCatalog, WindowForecast> h = new TwoInputStreamOperatorTestHarness<>(op)) {
      h.open();
      h.processElement1(new StreamRecord<>(window(uk.gridId, 5), 0));
      h.processElement1(new StreamRecord<>(window("uk-copy", 6), 0));
      assertThat(forecasts(h)).as("batch still waiting").isEmpty();
      h.processElement2(new StreamRecord<>(next, 0));
      assertThat(forecasts(h)).as("the waiting batch went with the model that was serving")
          .extracting(f -> f.getModelVersion().toString()).containsExactly(uk.version, uk.version);
      h.processElement1(new StreamRecord<>(window(uk.gridId, 7), 0));
      h.processElement1(new StreamRecord<>(window("uk-copy", 8), 0));
      h.prepareSnapshotPreBarrier(1L);
      List<Forecast> out = forecasts(h);
      assertThat(out).hasSize(3);
      assertThat(out.get(2).getModelVersion().toString()).isEqualTo("9.9.9-test");
      assertThat(out.get(2).getIssueTime().toEpochMilli()).isEqualTo(window(uk.gridId, 7).issueTime);
      assertThat(h.getSideOutput(Rejects.TAG)).extracting(r -> r.getValue().getReasonCode().toString())
          .as("uk-copy is no longer served").containsExactly("UNKNOWN_GRID");
      // an older or repeated catalog changes nothing
      h.processElement2(new StreamRecord<>(first, 0));
      h.processElement1(new StreamRecord<>(window(uk.gridId, 9), 0));
      h.prepareSnapshotPreBarrier(2L);
      assertThat(forecasts(h).get(3).getModelVersion().toString()).isEqualTo("9.9.9-test");
    }
  }

  /** Batch sizes of every ONNX Runtime call, in order (the probe sees each call's windows). */
  static final List<Integer> CALLS = java.util.Collections.synchronizedList(new ArrayList<>());

  static final class CallSizes implements StageProbe {
    private static final long serialVersionUID = 1L;

    @Override
    public void forecasting(List<FrameWindow> batch) {
      CALLS.add(batch.size());
    }
  }

  /**
   * batching.max-cells bounds a call by windows x cells: here 2 windows of the 1,617-cell grid, so
   * three waiting windows go as 2 + 1; a bound below one window sends each window alone, at once.
   */
  @Test
  void aCallHoldsAtMostMaxCells() throws Exception {
    CALLS.clear();
    InferenceOperator op = new InferenceOperator(twoGrids, ai.lsntp.model.Provider.CPU, 1, 16, 60_000, new CallSizes())
        .maxCells(2L * uk.cells() + 1);
    try (TwoInputStreamOperatorTestHarness<FrameWindow, ModelCatalog, WindowForecast> h = new TwoInputStreamOperatorTestHarness<>(op)) {
      h.open();
      h.processElement1(new StreamRecord<>(window(uk.gridId, 5), 0));
      h.processElement1(new StreamRecord<>(window("uk-copy", 6), 0));
      assertThat(forecasts(h)).as("2 x 1,617 cells: still under the bound").isEmpty();
      h.processElement1(new StreamRecord<>(window(uk.gridId, 7), 0));
      assertThat(forecasts(h)).as("the bound reached: every waiting window goes").hasSize(3);
      assertThat(CALLS).containsExactly(2, 1);
    }
    CALLS.clear();
    InferenceOperator alone = new InferenceOperator(twoGrids, ai.lsntp.model.Provider.CPU, 1, 16, 60_000,
        new CallSizes()).maxCells(1000);
    try (TwoInputStreamOperatorTestHarness<FrameWindow, ModelCatalog, WindowForecast> h = new TwoInputStreamOperatorTestHarness<>(alone)) {
      h.open();
      h.processElement1(new StreamRecord<>(window(uk.gridId, 5), 0));
      assertThat(forecasts(h)).as("a window over the bound goes alone, without waiting").hasSize(1);
      h.processElement1(new StreamRecord<>(window("uk-copy", 6), 0));
      assertThat(forecasts(h)).hasSize(2);
      assertThat(CALLS).containsExactly(1, 1);
    }
    assertThat(new InferenceOperator(twoGrids, ai.lsntp.model.Provider.CPU, 1, 16, 0, null).maxCells(1_048_576)
        .batchOf(1_000_000)).as("a 1000 x 1000 grid under the default bound").isEqualTo(1);
    assertThat(new InferenceOperator(twoGrids, ai.lsntp.model.Provider.CPU, 1, 16, 0, null).maxCells(1_048_576)
        .batchOf(33 * 49)).as("the ERA5 UK grid under the default bound").isEqualTo(16);
  }
}

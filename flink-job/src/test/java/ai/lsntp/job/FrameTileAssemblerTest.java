package ai.lsntp.job;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.schemas.FrameTiles;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.testing.RealFrames;
import ai.lsntp.testing.TestPaths;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Frames put together from their tiles, with Flink's operator test harness: real ERA5 UK frames
 * (33 x 49) cut into tiles of 2 KB, each tile checked by the job's {@link FrameValidator} as it
 * would be off Kafka. Every tile must end in exactly one assembled frame or one reject, and the
 * state of a frame must be gone once it is assembled or given up.
 */
class FrameTileAssemblerTest {
  static final long HOUR = 3_600_000L;
  static final int TILE_BYTES = 2048;
  static ModelCatalog models;
  static List<TemperatureFrame> real;
  static FrameValidator validator;
  static final RecordCodec<TemperatureFrame> AVRO = RecordCodec.of(TemperatureFrame.class);

  FrameTileAssembler fn;
  KeyedOneInputStreamOperatorTestHarness<String, Frame, Frame> h;
  long offset;

  @BeforeAll
  static void load() throws Exception {
    models = ModelCatalog.load(TestPaths.models());
    real = RealFrames.uk(3);
    validator = new FrameValidator(models, 1 << 20, TILE_BYTES, 3650L * 24 * HOUR, 65536, null, true);
  }

  @BeforeEach
  void harness() throws Exception {
    fn = new FrameTileAssembler(HOUR);
    h = ProcessFunctionTestHarnesses.forKeyedProcessFunction(fn, new GridKey(), Types.STRING);
  }

  @AfterEach
  void close() throws Exception {
    h.close();
  }

  static List<TemperatureFrame> tiles(int i) {
    return FrameTiles.INSTANCE.split(real.get(i), real.get(i).getGridId().length(), TILE_BYTES);
  }

  /** What validating the whole record gives: the frame an assembly must equal. */
  static Frame whole(int i) throws Exception {
    return validator.validate(new RawFrame(null, AVRO.encode(real.get(i)), "frames", 0, 0, 0), System.currentTimeMillis());
  }

  private void send(TemperatureFrame tile) throws Exception {
    byte[] value = AVRO.encode(tile);
    assertThat(value.length).isLessThanOrEqualTo(TILE_BYTES);
    Frame f = validator.validate(new RawFrame(null, value, "frames", 0, offset, 1000 + offset), System.currentTimeMillis());
    offset++;
    h.processElement(new StreamRecord<>(f, f.validTime));
  }

  private void sendAll(List<TemperatureFrame> tiles) throws Exception {
    for (TemperatureFrame t : tiles) {
      send(t);
    }
  }

  private List<Frame> frames() {
    return h.extractOutputValues();
  }

  private List<RejectedFrame> rejects() {
    List<RejectedFrame> out = new ArrayList<>();
    if (h.getSideOutput(Rejects.TAG) != null) {
      h.getSideOutput(Rejects.TAG).forEach(r -> out.add(r.getValue()));
    }
    return out;
  }

  private List<String> codes() {
    return rejects().stream().map(r -> r.getReasonCode().toString()).toList();
  }

  private void assertStateCleared() throws Exception {
    h.getOperator().setCurrentKey(real.get(0).getGridId());
    assertThat(fn.openFrames()).as("frames still open").isZero();
    assertThat(fn.heldTiles()).as("tiles still held").isZero();
  }

  private static void assertSameFrame(Frame got, Frame want) {
    assertThat(got).isNotNull();
    assertThat(got.tile).isNull();
    assertThat(got.gridId).isEqualTo(want.gridId);
    assertThat(got.validTime).isEqualTo(want.validTime);
    assertThat(got.values).containsExactly(want.values);
    assertThat(got.missing).isEqualTo(want.missing);
  }

  @Test
  void tilesInOrderMakeTheFrameTheWholeRecordWouldHaveMade() throws Exception {
    List<TemperatureFrame> t = tiles(0);
    assertThat(t).hasSizeGreaterThan(3);
    for (int i = 0; i < t.size() - 1; i++) {
      send(t.get(i));
      assertThat(frames()).isEmpty();
    }
    send(t.get(t.size() - 1));
    assertThat(frames()).hasSize(1);
    Frame f = frames().get(0);
    assertSameFrame(f, whole(0));
    assertThat(f.offset).as("the completing tile's record").isEqualTo(t.size() - 1);
    assertThat(f.arrivalTime).as("the last tile's arrival").isEqualTo(1000 + t.size() - 1);
    assertThat(rejects()).isEmpty();
    assertStateCleared();
  }

  @Test
  void tilesOutOfOrderAndInterleavedWithAnotherFrameMakeBothFrames() throws Exception {
    List<TemperatureFrame> a = new ArrayList<>(tiles(0));
    List<TemperatureFrame> b = new ArrayList<>(tiles(1));
    Collections.shuffle(a, new Random(1));
    Collections.shuffle(b, new Random(2));
    for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
      if (i < b.size()) {
        send(b.get(i));
      }
      if (i < a.size()) {
        send(a.get(i));
      }
    }
    assertThat(frames()).hasSize(2);
    Frame first = frames().stream().filter(f -> f.validTime == real.get(0).getValidTime().toEpochMilli()).findFirst()
        .orElseThrow();
    Frame second = frames().stream().filter(f -> f.validTime == real.get(1).getValidTime().toEpochMilli()).findFirst()
        .orElseThrow();
    assertSameFrame(first, whole(0));
    assertSameFrame(second, whole(1));
    assertThat(rejects()).isEmpty();
    assertStateCleared();
  }

  @Test
  void aWholeFramePassesThroughUntouched() throws Exception {
    Frame w = whole(2);
    h.processElement(new StreamRecord<>(w, w.validTime));
    assertThat(frames()).hasSize(1);
    assertSameFrame(frames().get(0), whole(2));
  }

  @Test
  void aDuplicateTileIsRejectedAndTheFrameStillAssembles() throws Exception {
    List<TemperatureFrame> t = tiles(0);
    send(t.get(0));
    send(t.get(1));
    send(t.get(1));
    sendAll(t.subList(2, t.size()));
    assertThat(codes()).containsExactly("TILE_DUPLICATE");
    assertThat(rejects().get(0).getReason()).contains("tile 1 of " + t.size()).contains("came again")
        .contains("at offset 1, is kept");
    assertThat(rejects().get(0).getSourceOffset()).isEqualTo(2L);
    assertThat(frames()).hasSize(1);
    assertSameFrame(frames().get(0), whole(0));
    assertStateCleared();
  }

  @Test
  void aMissingTileGivesUpTheFrameAtItsDeadlineNamingTheTile() throws Exception {
    List<TemperatureFrame> t = tiles(0);
    List<TemperatureFrame> sent = new ArrayList<>(t);
    sent.remove(2);
    sendAll(sent);
    long vt = real.get(0).getValidTime().toEpochMilli();
    h.processWatermark(vt + HOUR - 1);
    assertThat(rejects()).as("nothing before the deadline").isEmpty();
    h.processWatermark(vt + HOUR);
    assertThat(frames()).isEmpty();
    assertThat(codes()).hasSize(t.size() - 1).containsOnly("TILE_INCOMPLETE");
    assertThat(rejects().get(0).getReason()).contains("only " + (t.size() - 1) + " of the " + t.size() + " tiles")
        .contains("never came: tile(s) [2]");
    assertThat(rejects()).extracting(RejectedFrame::getSourceOffset)
        .containsExactlyInAnyOrderElementsOf(java.util.stream.LongStream.range(0, t.size() - 1).boxed().toList());
    assertStateCleared();
    // the missing tile, late: its frame is gone, and it says so
    send(t.get(2));
    assertThat(codes()).hasSize(t.size()).last().isEqualTo("TILE_INCOMPLETE");
    assertThat(rejects().get(t.size() - 1).getReason()).contains("arrived after its frame's deadline");
    assertStateCleared();
  }

  @Test
  void anOverlappingTileIsRejectedAndTheRightOneStillCompletesTheFrame() throws Exception {
    List<TemperatureFrame> t = tiles(0);
    send(t.get(0));
    // tile 1 cut one row too high: it overlaps tile 0
    TemperatureFrame shifted = TemperatureFrame.newBuilder(t.get(1)).build();
    shifted.getTile().setRow0(t.get(1).getTile().getRow0() - 1);
    send(shifted);
    assertThat(codes()).containsExactly("TILE_OVERLAP");
    assertThat(rejects().get(0).getReason()).contains("covers row " + (t.get(1).getTile().getRow0() - 1) + ", col 0");
    sendAll(t.subList(1, t.size()));
    assertThat(frames()).hasSize(1);
    assertSameFrame(frames().get(0), whole(0));
    assertStateCleared();
  }

  @Test
  void tilesThatDisagreeDropTheirFrameEveryTileOfItRejected() throws Exception {
    List<TemperatureFrame> t = tiles(0);
    send(t.get(0));
    send(t.get(1));
    // the same frame from a producer that wrote another source into its header
    send(TemperatureFrame.newBuilder(t.get(2)).setSource("another-producer").build());
    assertThat(codes()).containsExactly("TILE_INCONSISTENT", "TILE_INCONSISTENT", "TILE_INCONSISTENT");
    assertThat(rejects().get(0).getReason()).contains("tile 2 of " + t.size()).contains("disagrees with tile 0")
        .contains("source another-producer against ");
    assertThat(rejects().get(1).getReason()).contains("dropped with its frame");
    // its later tiles are rejected too, until the deadline clears the frame
    sendAll(t.subList(3, t.size()));
    assertThat(codes()).hasSize(t.size()).containsOnly("TILE_INCONSISTENT");
    assertThat(frames()).isEmpty();
    h.processWatermark(real.get(0).getValidTime().toEpochMilli() + HOUR);
    assertThat(codes()).hasSize(t.size());
    assertStateCleared();
  }

  @Test
  void tilesOfOneFrameCutTwoWaysDisagreeOnTheCount() throws Exception {
    List<TemperatureFrame> fine = FrameTiles.INSTANCE.split(real.get(0), 13, 1024);
    List<TemperatureFrame> coarse = tiles(0);
    send(coarse.get(0));
    send(fine.get(fine.size() - 1));
    assertThat(codes()).containsExactly("TILE_INCONSISTENT", "TILE_INCONSISTENT");
    assertThat(rejects().get(0).getReason()).contains("it says the frame has " + fine.size() + " tiles, tile 0 said "
        + coarse.size());
  }

  @Test
  void everyTileThereButCellsUncoveredIsIncompleteAtOnce() throws Exception {
    List<TemperatureFrame> t = new ArrayList<>(tiles(0));
    TemperatureFrame last = TemperatureFrame.newBuilder(t.get(t.size() - 1)).build();
    int rows = last.getTile().getRows() - 1;
    last.getTile().setRows(rows);
    ByteBuffer v = last.getValues().duplicate();
    v.limit(v.position() + rows * 49 * 4);
    last.setValues(v.slice());
    last.setMissingMask(null);
    t.set(t.size() - 1, last);
    sendAll(t);
    assertThat(codes()).hasSize(t.size()).containsOnly("TILE_INCOMPLETE");
    assertThat(rejects().get(0).getReason()).contains("arrived but they leave 49 of its 1617 cells uncovered")
        .contains("the first: row 32, col 0");
    assertStateCleared();
  }

  @Test
  void aFrameAssembledWithEveryCellMissingIsAllMissing() throws Exception {
    byte[] all = new byte[33 * 49];
    java.util.Arrays.fill(all, (byte) 1);
    TemperatureFrame masked = TemperatureFrame.newBuilder(real.get(0)).setMissingMask(ByteBuffer.wrap(all)).build();
    List<TemperatureFrame> t = FrameTiles.INSTANCE.split(masked, 13, TILE_BYTES);
    sendAll(t);
    assertThat(codes()).hasSize(t.size()).containsOnly("ALL_MISSING");
    assertStateCleared();
  }

  /** A checkpoint taken with a frame half assembled holds its tiles: the restored operator completes it. */
  @Test
  void halfAssembledTilesSurviveASnapshotAndRestore() throws Exception {
    List<TemperatureFrame> t = tiles(0);
    int half = t.size() / 2;
    sendAll(t.subList(0, half));
    OperatorSubtaskState snapshot = h.snapshot(1L, 0L);
    h.close();

    fn = new FrameTileAssembler(HOUR);
    h = new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(fn), new GridKey(), Types.STRING);
    h.setup();
    h.initializeState(snapshot);
    h.open();
    h.getOperator().setCurrentKey(real.get(0).getGridId());
    assertThat(fn.heldTiles()).isEqualTo(half);
    sendAll(t.subList(half, t.size()));
    assertThat(frames()).hasSize(1);
    assertSameFrame(frames().get(0), whole(0));
    assertStateCleared();
  }
}

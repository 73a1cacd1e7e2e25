package ai.lsntp.job;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.FrameTiles;
import ai.lsntp.schemas.RecordCodec;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Puts frames that arrive as tiles back together, keyed by grid, per valid time; whole frames pass
 * through untouched. Each tile record ends either in exactly one assembled frame or in exactly one
 * reject:
 *
 * <ul>
 *   <li>TILE_INCONSISTENT: a tile that disagrees with the frame's earlier tiles (any field outside
 *       values and missing_mask, or the tile count): nobody can tell which is right, so the frame is
 *       dropped, its held tiles and this one rejected, and its later tiles too until its deadline;
 *   <li>TILE_DUPLICATE: a tile number that already arrived (the first is kept);
 *   <li>TILE_OVERLAP: a tile covering cells another tile of the frame covers;
 *   <li>TILE_INCOMPLETE: every tile is there but cells are left uncovered, or the frame was not
 *       whole by its deadline, valid time + {@code stream.allowed-lateness} in event time (every
 *       held tile is rejected, naming the tiles that never came), or a tile arrived after that;
 *   <li>ALL_MISSING: the assembled frame has no valid cell.
 * </ul>
 *
 * <p>A complete frame is filled as a whole frame is (frame-mean, {@link FrameValidator#fillMissing})
 * and goes on with the Kafka timestamp of its last tile (so latency counts from the last tile in)
 * and that tile's source position. State per grid: the tiles of frames still open, each open frame
 * until its deadline, all of it cleared when the frame completes or is given up.
 */
public class FrameTileAssembler extends KeyedProcessFunction<String, Frame, Frame> {
  private static final long serialVersionUID = 1L;

  private final long allowedLatenessMillis;

  private transient MapState<Long, Assembly> assemblies;
  private transient MapState<Tuple2<Long, Integer>, Frame> tiles;
  private transient Map<Reason, Counter> rejects;
  private transient Counter tilesIn;
  private transient Counter assembled;

  /** What is known of one frame being assembled (one valid time of one grid). */
  public static class Assembly {
    public int count;
    public int height;
    public int width;
    /** The frame's record outside its per-cell fields, as its first tile gave it (TilePart#header). */
    public byte[] header;
    /** The first tile's number, for messages. */
    public int firstIndex;
    /** Tile numbers received, as bits. */
    public long[] received;
    public int receivedCount;
    /** Cells covered, as bits (row-major). */
    public long[] covered;
    public long coveredCells;
    public long lastArrival;
    /** Why the frame was dropped (its later tiles are rejected for the same reason); null while it is open. */
    public String dropped;

    public Assembly() {}

    Assembly(TilePart p) {
      count = p.count;
      height = p.height;
      width = p.width;
      header = p.header;
      firstIndex = p.index;
      received = new long[(p.count + 63) / 64];
      covered = new long[(int) (((long) p.height * p.width + 63) / 64)];
    }
  }

  public FrameTileAssembler(long allowedLatenessMillis) {
    this.allowedLatenessMillis = allowedLatenessMillis;
  }

  @Override
  public void open(OpenContext ctx) {
    assemblies = getRuntimeContext().getMapState(
        new MapStateDescriptor<>("tile-assemblies", Types.LONG, TypeInformation.of(Assembly.class)));
    tiles = getRuntimeContext().getMapState(
        new MapStateDescriptor<>("tiles", Types.TUPLE(Types.LONG, Types.INT), TypeInformation.of(Frame.class)));
    rejects = new EnumMap<>(Reason.class);
    for (Reason r : List.of(Reason.TILE_INCONSISTENT, Reason.TILE_DUPLICATE, Reason.TILE_OVERLAP,
        Reason.TILE_INCOMPLETE, Reason.ALL_MISSING)) {
      rejects.put(r, RejectMetrics.counter(getRuntimeContext().getMetricGroup(), r));
    }
    tilesIn = getRuntimeContext().getMetricGroup().counter("tilesIn");
    assembled = getRuntimeContext().getMetricGroup().counter("framesAssembled");
  }

  @Override
  public void processElement(Frame f, Context ctx, Collector<Frame> out) throws Exception {
    if (f.tile == null) {
      out.collect(f);
      return;
    }
    tilesIn.inc();
    TilePart p = f.tile;
    long vt = f.validTime;
    long deadline = vt + allowedLatenessMillis;
    Assembly a = assemblies.get(vt);
    if (a == null) {
      if (deadline <= ctx.timerService().currentWatermark()) {
        reject(ctx, f, Reason.TILE_INCOMPLETE, p + " of grid " + f.gridId + " at " + Instant.ofEpochMilli(vt)
            + " arrived after its frame's deadline (valid time + stream.allowed-lateness = " + Instant.ofEpochMilli(deadline)
            + ", passed by the watermark): the frame can no longer be assembled");
        return;
      }
      a = new Assembly(p);
      ctx.timerService().registerEventTimeTimer(deadline);
    }
    if (a.dropped != null) {
      reject(ctx, f, Reason.TILE_INCONSISTENT, p + ": its frame was dropped: " + a.dropped);
      return;
    }
    if (p.count != a.count || !Arrays.equals(p.header, a.header)) {
      String why = p + " disagrees with tile " + a.firstIndex + " of the same frame (grid " + f.gridId + ", valid "
          + Instant.ofEpochMilli(vt) + "): " + difference(a, p) + "; which one is right cannot be told";
      reject(ctx, f, Reason.TILE_INCONSISTENT, why);
      for (Frame held : held(vt, a)) {
        reject(ctx, held, Reason.TILE_INCONSISTENT, held.tile + ": dropped with its frame: " + why);
      }
      a.dropped = why;
      a.received = new long[0];
      a.covered = new long[0];
      a.header = null;
      assemblies.put(vt, a);
      return;
    }
    if (bit(a.received, p.index)) {
      reject(ctx, f, Reason.TILE_DUPLICATE, p + " of grid " + f.gridId + " at " + Instant.ofEpochMilli(vt)
          + " came again (the first one, at offset " + tiles.get(Tuple2.of(vt, p.index)).offset + ", is kept)");
      return;
    }
    String overlap = overlap(a, p);
    if (overlap != null) {
      reject(ctx, f, Reason.TILE_OVERLAP, p + " of grid " + f.gridId + " at " + Instant.ofEpochMilli(vt) + " covers "
          + overlap + ", which an earlier tile of the frame covers");
      return;
    }
    setBit(a.received, p.index);
    a.receivedCount++;
    for (int r = 0; r < p.rows; r++) {
      long from = (long) (p.row0 + r) * a.width + p.col0;
      for (long c = from; c < from + p.cols; c++) {
        setBit(a.covered, c);
      }
    }
    a.coveredCells += (long) p.rows * p.cols;
    a.lastArrival = Math.max(a.lastArrival, f.arrivalTime);
    f.tile.header = null; // the assembly holds it once
    tiles.put(Tuple2.of(vt, p.index), f);
    if (a.receivedCount < a.count) {
      assemblies.put(vt, a);
      return;
    }
    // every tile is there
    List<Frame> parts = held(vt, a);
    assemblies.remove(vt);
    ctx.timerService().deleteEventTimeTimer(deadline);
    long cells = (long) a.height * a.width;
    if (a.coveredCells < cells) {
      String why = "all " + a.count + " tiles of grid " + f.gridId + " at " + Instant.ofEpochMilli(vt)
          + " arrived but they leave " + (cells - a.coveredCells) + " of its " + cells + " cells uncovered (the first: "
          + firstHole(a) + ")";
      for (Frame held : parts) {
        reject(ctx, held, Reason.TILE_INCOMPLETE, held.tile + ": " + why);
      }
      return;
    }
    Frame whole = join(f, a, parts);
    if (FrameValidator.fillMissing(whole.values, whole.missing) == 0) {
      for (Frame held : parts) {
        reject(ctx, held, Reason.ALL_MISSING, held.tile + ": every cell of the assembled frame is marked missing");
      }
      return;
    }
    assembled.inc();
    out.collect(whole);
  }

  /** The frame of {@code parts}, sourced at the completing tile {@code last}, arrived when its last tile did. */
  private static Frame join(Frame last, Assembly a, List<Frame> parts) {
    float[] values = new float[a.height * a.width];
    boolean[] missing = null;
    for (Frame t : parts) {
      TilePart p = t.tile;
      for (int r = 0; r < p.rows; r++) {
        System.arraycopy(t.values, r * p.cols, values, (p.row0 + r) * a.width + p.col0, p.cols);
        if (t.missing != null) {
          if (missing == null) {
            missing = new boolean[values.length];
          }
          System.arraycopy(t.missing, r * p.cols, missing, (p.row0 + r) * a.width + p.col0, p.cols);
        }
      }
    }
    Frame whole = new Frame(last.gridId, last.validTime, a.lastArrival, values);
    whole.missing = missing;
    whole.topic = last.topic;
    whole.partition = last.partition;
    whole.offset = last.offset;
    return whole;
  }

  /** Gives up the frames whose deadline passed: their held tiles are rejected, their state cleared. */
  @Override
  public void onTimer(long timestamp, OnTimerContext ctx, Collector<Frame> out) throws Exception {
    long vt = timestamp - allowedLatenessMillis;
    Assembly a = assemblies.get(vt);
    if (a == null) {
      return;
    }
    if (a.dropped == null) {
      List<Integer> missing = new ArrayList<>();
      for (int i = 0; i < a.count && missing.size() < 20; i++) {
        if (!bit(a.received, i)) {
          missing.add(i);
        }
      }
      String why = "only " + a.receivedCount + " of the " + a.count + " tiles of grid " + ctx.getCurrentKey() + " at "
          + Instant.ofEpochMilli(vt) + " arrived by its deadline (valid time + stream.allowed-lateness, "
          + Instant.ofEpochMilli(timestamp) + " in event time); never came: tile(s) " + missing
          + (a.count - a.receivedCount > missing.size() ? " ..." : "");
      for (Frame held : held(vt, a)) {
        reject(ctx, held, Reason.TILE_INCOMPLETE, held.tile + ": " + why);
      }
    }
    assemblies.remove(vt);
  }

  /** The tiles held for valid time {@code vt}, removed from state. */
  private List<Frame> held(long vt, Assembly a) throws Exception {
    List<Frame> out = new ArrayList<>();
    for (int i = 0; i < a.count && a.received.length > 0; i++) {
      if (bit(a.received, i)) {
        Tuple2<Long, Integer> k = Tuple2.of(vt, i);
        out.add(tiles.get(k));
        tiles.remove(k);
      }
    }
    return out;
  }

  private void reject(Context ctx, Frame tile, Reason reason, String message) {
    rejects.get(reason).inc();
    ctx.output(Rejects.TAG, Rejects.ofFrame(reason, message, tile));
  }

  /** The first field in which the tile's frame fields differ from the assembly's, or the counts. */
  private static String difference(Assembly a, TilePart p) {
    if (p.count != a.count) {
      return "it says the frame has " + p.count + " tiles, tile " + a.firstIndex + " said " + a.count;
    }
    try {
      RecordCodec<TemperatureFrame> codec = RecordCodec.of(TemperatureFrame.class);
      return FrameTiles.INSTANCE.difference(codec.decode(a.header), codec.decode(p.header));
    } catch (IOException e) {
      return "their frame fields differ";
    }
  }

  private static String overlap(Assembly a, TilePart p) {
    for (int r = 0; r < p.rows; r++) {
      long from = (long) (p.row0 + r) * a.width + p.col0;
      for (long c = from; c < from + p.cols; c++) {
        if (bit(a.covered, c)) {
          return "row " + (p.row0 + r) + ", col " + (c - (long) (p.row0 + r) * a.width);
        }
      }
    }
    return null;
  }

  private static String firstHole(Assembly a) {
    long cells = (long) a.height * a.width;
    for (long c = 0; c < cells; c++) {
      if (!bit(a.covered, c)) {
        return "row " + c / a.width + ", col " + c % a.width;
      }
    }
    return "none";
  }

  private static boolean bit(long[] bits, long i) {
    return (bits[(int) (i >>> 6)] & (1L << (i & 63))) != 0;
  }

  private static void setBit(long[] bits, long i) {
    bits[(int) (i >>> 6)] |= 1L << (i & 63);
  }

  /** Frames being assembled for the current key (tests check that state is cleared). */
  int openFrames() throws Exception {
    int n = 0;
    for (Long ignored : assemblies.keys()) {
      n++;
    }
    return n;
  }

  /** Tiles held for the current key (tests). */
  int heldTiles() throws Exception {
    int n = 0;
    for (Tuple2<Long, Integer> ignored : tiles.keys()) {
      n++;
    }
    return n;
  }
}

package ai.lsntp.job;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.schemas.FrameTiles;
import ai.lsntp.schemas.TileException;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.co.BroadcastProcessFunction;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes and checks each frames-topic record against the model that serves its grid. Good frames
 * go on as {@link Frame}; every other record goes to the {@link Rejects#TAG} side output with its
 * reason and raw bytes (the first {@code rejects.max-payload-bytes} of them, with size and SHA-256,
 * when larger). Never throws for a record: the size is checked before anything is decoded, and an
 * unexpected exception while checking one record rejects that record as INTERNAL_ERROR. The
 * models it checks against are the newest catalog broadcast by the model directory watcher.
 *
 * <p>Missing cells (mask = 1, or equal to the fill value) are filled with the mean of the frame's
 * valid cells (the model metadata's missing_fill rule, frame-mean, the same as training's), so the
 * model always sees kelvin values; the frame keeps which cells were missing, for verification.
 *
 * <p>A tile of a frame (TemperatureFrame.tile) is checked as far as one tile can be: its size
 * against {@code stream.max-tile-bytes} (TILE_TOO_LARGE), its place (TILE_INVALID), the whole
 * frame's fields against the model, and its own cells; it goes on with its cells unfilled, and
 * {@link FrameTileAssembler} puts the frame together, fills it and rejects what cannot be joined.
 */
public class FrameValidator extends BroadcastProcessFunction<RawFrame, ModelCatalog, Frame> {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(FrameValidator.class);
  public static final float MIN_K = 150f;
  public static final float MAX_K = 350f;
  /** Geometry tolerance, degrees. */
  public static final double GEOMETRY_EPS = 1e-4;

  private ModelCatalog models;
  private final long maxFrameBytes;
  private final long maxTileBytes;
  private final long futureToleranceMillis;
  private final int maxRejectPayloadBytes;
  private final StageProbe probe;
  private final boolean acceptPlain;

  private transient RecordCodec<TemperatureFrame> avro;
  private transient Counter framesIn;
  private transient Counter plainFrames;
  private transient Counter olderSchemaFrames;
  /** Producer keys already warned about plain Avro (bounded: a warning, not state). */
  private transient Set<String> warnedPlain;
  private transient Counter framesValid;
  private transient Map<Reason, Counter> rejects;

  public FrameValidator(ModelCatalog models, long maxFrameBytes, long futureToleranceMillis, int maxRejectPayloadBytes,
      StageProbe probe) {
    this(models, maxFrameBytes, maxFrameBytes, futureToleranceMillis, maxRejectPayloadBytes, probe, true);
  }

  /**
   * @param maxTileBytes a frame tile's record value larger than this is TILE_TOO_LARGE
   * @param acceptPlain whether frames in plain Avro of today's schema (no single-object marker) are read
   */
  public FrameValidator(ModelCatalog models, long maxFrameBytes, long maxTileBytes, long futureToleranceMillis,
      int maxRejectPayloadBytes, StageProbe probe, boolean acceptPlain) {
    this.acceptPlain = acceptPlain;
    this.models = models;
    this.maxFrameBytes = maxFrameBytes;
    this.maxTileBytes = maxTileBytes;
    this.futureToleranceMillis = futureToleranceMillis;
    this.maxRejectPayloadBytes = maxRejectPayloadBytes;
    this.probe = probe;
  }

  /** A record that cannot be used, with the reason. */
  public static final class Rejection extends Exception {
    private static final long serialVersionUID = 1L;
    public final Reason reason;
    public final String gridId;
    public final Long validTime;

    Rejection(Reason reason, String message, String gridId, Long validTime) {
      super(message, null, false, false);
      this.reason = reason;
      this.gridId = gridId;
      this.validTime = validTime;
    }
  }

  @Override
  public void open(OpenContext ctx) {
    avro = RecordCodec.of(TemperatureFrame.class);
    framesIn = getRuntimeContext().getMetricGroup().counter("framesIn");
    framesValid = getRuntimeContext().getMetricGroup().counter("framesValid");
    plainFrames = getRuntimeContext().getMetricGroup().counter("plainAvroFrames");
    olderSchemaFrames = getRuntimeContext().getMetricGroup().counter("olderSchemaFrames");
    rejects = new EnumMap<>(Reason.class);
    for (Reason r : Reason.values()) {
      if (r != Reason.LATE) { // counted where it is decided: the window function
        rejects.put(r, RejectMetrics.counter(getRuntimeContext().getMetricGroup(), r));
      }
    }
  }

  @Override
  public void processBroadcastElement(ModelCatalog catalog, Context ctx, Collector<Frame> out) throws Exception {
    models = ModelUpdates.store(catalog, ctx.getBroadcastState(ModelUpdates.STATE));
  }

  @Override
  public void processElement(RawFrame raw, ReadOnlyContext ctx, Collector<Frame> out) throws Exception {
    models = ModelUpdates.newest(models, ctx.getBroadcastState(ModelUpdates.STATE));
    framesIn.inc();
    Frame frame;
    try {
      if (probe != null) {
        probe.validating(raw);
      }
      frame = validate(raw, System.currentTimeMillis());
    } catch (Rejection r) {
      reject(ctx, raw, r.reason, r.getMessage(), r.gridId, r.validTime);
      return;
    } catch (RuntimeException | Error e) {
      if (e instanceof VirtualMachineError) {
        throw (VirtualMachineError) e; // out of memory is the JVM's problem, not this record's
      }
      reject(ctx, raw, Reason.INTERNAL_ERROR, Rejects.describe("checking the record", e), keyGrid(raw), null);
      return;
    }
    out.collect(frame);
    framesValid.inc();
  }

  private void reject(ReadOnlyContext ctx, RawFrame raw, Reason reason, String message, String gridId, Long validTime) {
    rejects.get(reason).inc();
    ctx.output(Rejects.TAG, Rejects.ofRecord(reason, message, raw, gridId, validTime, maxRejectPayloadBytes));
  }

  /** The grid id the producer put in the Kafka key, when it is one (UTF-8, printable, not too long). */
  static String keyGrid(RawFrame raw) {
    if (raw.key == null || raw.key.length == 0 || raw.key.length > 256) {
      return null;
    }
    String k;
    try {
      k = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(raw.key)).toString();
    } catch (CharacterCodingException e) {
      return null;
    }
    return k.chars().allMatch(c -> c >= 0x20 && c != 0x7f) ? k : null;
  }

  /** The checks, in order; {@code now} is wall-clock time in epoch milliseconds. */
  public Frame validate(RawFrame raw, long now) throws Rejection {
    if (avro == null) {
      avro = RecordCodec.of(TemperatureFrame.class);
    }
    String keyGrid = keyGrid(raw);
    if (raw.value == null) {
      throw new Rejection(Reason.UNDECODABLE, "expected an Avro TemperatureFrame; the record has no value (a tombstone)",
          keyGrid, null);
    }
    if (raw.value.length == 0) {
      throw new Rejection(Reason.UNDECODABLE, "expected an Avro TemperatureFrame; the value is empty", keyGrid, null);
    }
    if (raw.value.length > maxFrameBytes) {
      throw new Rejection(Reason.TOO_LARGE, "the value is " + raw.value.length + " bytes, over stream.max-frame-bytes = "
          + maxFrameBytes + " (a frame of this model directory's largest grid needs "
          + models.largestFrameBytes() + "); not decoded", keyGrid, null);
    }
    RecordCodec.Decoded<TemperatureFrame> decoded;
    try {
      decoded = avro.decodeWithWriter(raw.value);
    } catch (RecordCodec.UnknownSchemaException e) {
      throw new Rejection(Reason.UNKNOWN_SCHEMA, e.getMessage() + "; the job reads only published versions "
          + "(./lsntp schemas)", keyGrid, null);
    } catch (IOException | RuntimeException e) {
      throw new Rejection(Reason.UNDECODABLE, "expected one Avro TemperatureFrame (schemas/TemperatureFrame.avsc), "
          + "in single-object encoding or plain; " + raw.value.length + " bytes that are not one: " + e.getMessage(),
          keyGrid, null);
    }
    if (decoded.format() == RecordCodec.Format.PLAIN) {
      if (!acceptPlain) {
        throw new Rejection(Reason.UNDECODABLE, "a plain Avro TemperatureFrame without the single-object marker "
            + "(C3 01 + schema fingerprint); records.accept-plain is false, so producers must write single-object "
            + "encoding", keyGrid, null);
      }
      countPlain(raw, keyGrid);
    } else if (!decoded.writer().current() && olderSchemaFrames != null) {
      olderSchemaFrames.inc();
    }
    TemperatureFrame tf = decoded.record();
    String grid = tf.getGridId();
    long vt = tf.getValidTime().toEpochMilli();
    boolean tiled = tf.getTile() != null;
    if (tiled && raw.value.length > maxTileBytes) {
      throw new Rejection(Reason.TILE_TOO_LARGE, "tile " + tf.getTile().getIndex() + " of " + tf.getTile().getCount()
          + " is " + raw.value.length + " bytes, over stream.max-tile-bytes = " + maxTileBytes + " (tiles must fit the "
          + "frames topic's record limit; cut the frame into smaller tiles)", grid, vt);
    }
    ModelSpec spec = models.forGrid(grid);
    if (spec == null) {
      throw new Rejection(Reason.UNKNOWN_GRID, "no model serves grid '" + grid + "' (served: "
          + models.byGrid().keySet() + ")", grid, vt);
    }
    if (!"K".equals(tf.getUnits())) {
      throw new Rejection(Reason.UNSUPPORTED_UNITS, "units '" + tf.getUnits() + "' are not K", grid, vt);
    }
    if (tf.getHeight() != spec.height || tf.getWidth() != spec.width) {
      throw new Rejection(Reason.SHAPE_MISMATCH, "frame is " + tf.getHeight() + "x" + tf.getWidth() + " but model "
          + spec.name + " for grid " + grid + " needs " + spec.height + "x" + spec.width, grid, vt);
    }
    ByteBuffer vb = tf.getValues();
    ByteBuffer mask = tf.getMissingMask();
    TilePart part = null;
    int cells;
    if (tiled) {
      try {
        FrameTiles.INSTANCE.checkPlace(tf);
      } catch (TileException e) {
        throw new Rejection(Reason.TILE_INVALID, e.getMessage(), grid, vt);
      }
      part = tilePart(tf);
      cells = part.rows * part.cols;
    } else {
      cells = spec.cells();
      if (vb.remaining() != cells * Float.BYTES) {
        throw new Rejection(Reason.SHAPE_MISMATCH, "values hold " + vb.remaining() + " bytes, a " + spec.height + "x"
            + spec.width + " frame needs " + cells * Float.BYTES, grid, vt);
      }
      if (mask != null && mask.remaining() != cells) {
        throw new Rejection(Reason.SHAPE_MISMATCH, "missing_mask holds " + mask.remaining() + " bytes, expected "
            + cells, grid, vt);
      }
    }
    checkGeometry("lat0", tf.getLat0(), spec.lat0, grid, vt);
    checkGeometry("lon0", tf.getLon0(), spec.lon0, grid, vt);
    checkGeometry("dlat", tf.getDlat(), spec.dlat, grid, vt);
    checkGeometry("dlon", tf.getDlon(), spec.dlon, grid, vt);
    if (Math.floorMod(vt, spec.stepMillis) != 0) {
      throw new Rejection(Reason.OFF_STEP_VALID_TIME, "valid time " + Instant.ofEpochMilli(vt)
          + " is not on the model's " + spec.stepMillis / 60_000 + "-minute step", grid, vt);
    }
    if (vt > now + futureToleranceMillis) {
      throw new Rejection(Reason.FUTURE_VALID_TIME, "valid time " + Instant.ofEpochMilli(vt) + " is more than "
          + futureToleranceMillis / 60_000 + " minutes after now (" + Instant.ofEpochMilli(now) + ")", grid, vt);
    }
    float[] v = PackedFloats.decode(vb);
    Float fill = tf.getFillValue();
    boolean[] missing = new boolean[cells];
    int rowWidth = tiled ? part.cols : spec.width;
    int row0 = tiled ? part.row0 : 0;
    int col0 = tiled ? part.col0 : 0;
    boolean anyMissing = false;
    for (int i = 0; i < cells; i++) {
      float x = v[i];
      boolean m = (mask != null && mask.get(mask.position() + i) != 0)
          || (fill != null && (x == fill || (Float.isNaN(fill) && Float.isNaN(x))));
      if (m) {
        missing[i] = true;
        anyMissing = true;
        continue;
      }
      if (Float.isNaN(x)) {
        throw new Rejection(Reason.NAN_OUTSIDE_MASK, "NaN at row " + (row0 + i / rowWidth) + ", col "
            + (col0 + i % rowWidth) + ", a cell not marked missing", grid, vt);
      }
      if (!(x >= MIN_K && x <= MAX_K)) {
        throw new Rejection(Reason.VALUE_OUT_OF_RANGE, "value " + x + " K at row " + (row0 + i / rowWidth) + ", col "
            + (col0 + i % rowWidth) + " is outside " + MIN_K + ".." + MAX_K + " K", grid, vt);
      }
    }
    Frame f = new Frame(grid, vt, raw.timestamp, v);
    if (tiled) {
      f.tile = part; // filled once the whole frame is there (FrameTileAssembler)
      f.missing = anyMissing ? missing : null;
    } else {
      if (fillMissing(v, missing) == 0) {
        throw new Rejection(Reason.ALL_MISSING, "every cell is marked missing", grid, vt);
      }
      f.missing = anyMissing ? missing : null;
    }
    f.topic = raw.topic;
    f.partition = raw.partition;
    f.offset = raw.offset;
    return f;
  }

  private static TilePart tilePart(TemperatureFrame tf) {
    TilePart p = new TilePart();
    p.index = tf.getTile().getIndex();
    p.count = tf.getTile().getCount();
    p.row0 = tf.getTile().getRow0();
    p.col0 = tf.getTile().getCol0();
    p.rows = tf.getTile().getRows();
    p.cols = tf.getTile().getCols();
    p.height = tf.getHeight();
    p.width = tf.getWidth();
    p.header = FrameTiles.INSTANCE.header(tf);
    return p;
  }

  /**
   * Fills the missing cells of a whole frame with the mean of its valid cells (the models'
   * missing_fill rule, frame-mean, the same as training's); returns the number of valid cells (0:
   * nothing to fill from, the frame is ALL_MISSING).
   */
  static int fillMissing(float[] v, boolean[] missing) {
    double sum = 0;
    int valid = 0;
    for (int i = 0; i < v.length; i++) {
      if (missing == null || !missing[i]) {
        sum += v[i];
        valid++;
      }
    }
    if (valid > 0 && valid < v.length) {
      float mean = (float) (sum / valid);
      for (int i = 0; i < v.length; i++) {
        if (missing[i]) {
          v[i] = mean;
        }
      }
    }
    return valid;
  }

  private void countPlain(RawFrame raw, String keyGrid) {
    if (plainFrames == null) {
      return; // outside a running job (offline scoring)
    }
    plainFrames.inc();
    String producer = keyGrid != null ? keyGrid : "(no key)";
    if (warnedPlain == null) {
      warnedPlain = new HashSet<>();
    }
    if (warnedPlain.size() < 10_000 && warnedPlain.add(producer)) {
      LOG.warn("frames keyed '{}' on {} arrive as plain Avro without the single-object marker: read as today's "
          + "TemperatureFrame during the transition; move the producer to single-object encoding "
          + "(deploy/OPERATIONS.md, Moving to single-object encoding). Counted in plainAvroFrames; "
          + "warned once per key.", producer, raw.topic);
    }
  }

  private static void checkGeometry(String field, double got, double want, String grid, long vt) throws Rejection {
    if (!(Math.abs(got - want) <= GEOMETRY_EPS)) {
      throw new Rejection(Reason.GEOMETRY_MISMATCH, field + " = " + got + " but the grid's model has " + want,
          grid, vt);
    }
  }
}

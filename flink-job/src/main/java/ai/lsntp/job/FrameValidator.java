package ai.lsntp.job;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.codec.AvroBytes;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Decodes and checks each frames-topic record against the model that serves its grid. Good frames
 * go on as {@link Frame}; every other record goes to the {@link Rejects#TAG} side output with its
 * reason and raw bytes. Never throws for a bad record.
 *
 * <p>Missing cells (mask = 1, or equal to the fill value) are filled with the mean of the frame's
 * valid cells, so the model always sees kelvin values.
 */
public class FrameValidator extends ProcessFunction<RawFrame, Frame> {
  private static final long serialVersionUID = 1L;
  public static final float MIN_K = 150f;
  public static final float MAX_K = 350f;
  /** Geometry tolerance, degrees. */
  public static final double GEOMETRY_EPS = 1e-4;

  private final ModelCatalog models;
  private final long maxFrameBytes;
  private final long futureToleranceMillis;

  private transient AvroBytes<TemperatureFrame> avro;
  private transient Counter framesIn;
  private transient Counter framesValid;
  private transient Map<Reason, Counter> rejects;

  public FrameValidator(ModelCatalog models, long maxFrameBytes, long futureToleranceMillis) {
    this.models = models;
    this.maxFrameBytes = maxFrameBytes;
    this.futureToleranceMillis = futureToleranceMillis;
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
    avro = AvroBytes.of(TemperatureFrame.class);
    framesIn = getRuntimeContext().getMetricGroup().counter("framesIn");
    framesValid = getRuntimeContext().getMetricGroup().counter("framesValid");
    rejects = new EnumMap<>(Reason.class);
    for (Reason r : Reason.values()) {
      if (r != Reason.LATE) {
        rejects.put(r, getRuntimeContext().getMetricGroup().addGroup("reason", r.name()).counter("rejects"));
      }
    }
  }

  @Override
  public void processElement(RawFrame raw, Context ctx, Collector<Frame> out) {
    framesIn.inc();
    try {
      out.collect(validate(raw, System.currentTimeMillis()));
      framesValid.inc();
    } catch (Rejection r) {
      rejects.get(r.reason).inc();
      ctx.output(Rejects.TAG, Rejects.of(r.reason, r.getMessage(), raw, r.gridId, r.validTime));
    }
  }

  /** The checks, in order; {@code now} is wall-clock time in epoch milliseconds. */
  public Frame validate(RawFrame raw, long now) throws Rejection {
    if (avro == null) {
      avro = AvroBytes.of(TemperatureFrame.class);
    }
    if (raw.value == null) {
      throw new Rejection(Reason.UNDECODABLE, "record has no value (tombstone)", null, null);
    }
    if (raw.value.length > maxFrameBytes) {
      throw new Rejection(Reason.TOO_LARGE, "record of " + raw.value.length + " bytes is over stream.max-frame-bytes = "
          + maxFrameBytes, null, null);
    }
    TemperatureFrame tf;
    try {
      tf = avro.decode(raw.value);
    } catch (IOException | RuntimeException e) {
      throw new Rejection(Reason.UNDECODABLE, "not one Avro TemperatureFrame record: " + e.getMessage(), null, null);
    }
    String grid = tf.getGridId();
    long vt = tf.getValidTime().toEpochMilli();
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
    int cells = spec.cells();
    ByteBuffer vb = tf.getValues();
    if (vb.remaining() != cells * Float.BYTES) {
      throw new Rejection(Reason.SHAPE_MISMATCH, "values hold " + vb.remaining() + " bytes, a " + spec.height + "x"
          + spec.width + " frame needs " + cells * Float.BYTES, grid, vt);
    }
    ByteBuffer mask = tf.getMissingMask();
    if (mask != null && mask.remaining() != cells) {
      throw new Rejection(Reason.SHAPE_MISMATCH, "missing_mask holds " + mask.remaining() + " bytes, expected "
          + cells, grid, vt);
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
    double sum = 0;
    int valid = 0;
    for (int i = 0; i < cells; i++) {
      float x = v[i];
      boolean m = (mask != null && mask.get(mask.position() + i) != 0)
          || (fill != null && (x == fill || (Float.isNaN(fill) && Float.isNaN(x))));
      if (m) {
        missing[i] = true;
        continue;
      }
      if (Float.isNaN(x)) {
        throw new Rejection(Reason.NAN_OUTSIDE_MASK, "NaN at row " + i / spec.width + ", col " + i % spec.width
            + ", a cell not marked missing", grid, vt);
      }
      if (!(x >= MIN_K && x <= MAX_K)) {
        throw new Rejection(Reason.VALUE_OUT_OF_RANGE, "value " + x + " K at row " + i / spec.width + ", col "
            + i % spec.width + " is outside " + MIN_K + ".." + MAX_K + " K", grid, vt);
      }
      sum += x;
      valid++;
    }
    if (valid == 0) {
      throw new Rejection(Reason.ALL_MISSING, "every cell is marked missing", grid, vt);
    }
    if (valid < cells) {
      float mean = (float) (sum / valid);
      for (int i = 0; i < cells; i++) {
        if (missing[i]) {
          v[i] = mean;
        }
      }
    }
    Frame f = new Frame(grid, vt, raw.timestamp, v);
    f.raw = raw.value;
    f.topic = raw.topic;
    f.partition = raw.partition;
    f.offset = raw.offset;
    return f;
  }

  private static void checkGeometry(String field, double got, double want, String grid, long vt) throws Rejection {
    if (!(Math.abs(got - want) <= GEOMETRY_EPS)) {
      throw new Rejection(Reason.GEOMETRY_MISMATCH, field + " = " + got + " but the grid's model has " + want,
          grid, vt);
    }
  }
}

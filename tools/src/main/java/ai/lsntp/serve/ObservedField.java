package ai.lsntp.serve;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.codec.PackedFloats;
import java.nio.ByteBuffer;
import java.time.Instant;

/** One observed frame decoded for the page: kelvin values with NaN where the frame marks a cell missing. */
public final class ObservedField {
  public final String gridId;
  public final GridGeometry geometry;
  public final Instant validTime;
  public final String source;
  private final float[] values;

  private ObservedField(TemperatureFrame f, float[] values) {
    this.gridId = f.getGridId();
    this.geometry = GridGeometry.of(f);
    this.validTime = f.getValidTime();
    this.source = f.getSource();
    this.values = values;
  }

  /**
   * The frame with its missing cells (missing_mask, fill_value) as NaN, or null when it is not
   * one the job could read (not kelvin, values or mask of another size): the page shows what a
   * forecast could have been made from, not what the job rejects.
   */
  public static ObservedField of(TemperatureFrame f) {
    if (f.getHeight() <= 0 || f.getWidth() <= 0 || !"K".equals(f.getUnits())) {
      return null;
    }
    int cells = f.getHeight() * f.getWidth();
    float[] v;
    try {
      v = PackedFloats.decode(f.getValues());
    } catch (IllegalArgumentException e) {
      return null;
    }
    ByteBuffer mask = f.getMissingMask();
    if (v.length != cells || (mask != null && mask.remaining() != cells)) {
      return null;
    }
    Float fill = f.getFillValue();
    for (int i = 0; i < cells; i++) {
      boolean missing = (mask != null && mask.get(mask.position() + i) != 0)
          || (fill != null && (v[i] == fill || (Float.isNaN(fill) && Float.isNaN(v[i]))));
      if (missing) {
        v[i] = Float.NaN;
      }
    }
    return new ObservedField(f, v);
  }

  /** Cell (row, col), K; NaN where missing. */
  public float value(int row, int col) {
    return values[row * geometry.width() + col];
  }
}

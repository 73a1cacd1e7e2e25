package ai.lsntp.schemas;

import java.util.function.ToIntFunction;
import org.apache.avro.specific.SpecificRecordBase;

/**
 * A per-cell field of a record (packed bytes with one entry per grid cell), and its layout: for each
 * lead, {@code planes} planes of height x width cells, row-major, each cell {@code cellBytes} bytes
 * ({@code [lead][plane][row][col][cellBytes]}), or, for a block laid out plane-major, the planes
 * outermost ({@code [plane][lead][row][col][cellBytes]}, as Forecast.quantiles is, level-major). A
 * tile of the record holds the same layout with one lead and rows x cols cells. A record's blocks are the one list {@link Tiling} cuts and joins,
 * so a new per-cell field is a new entry of its record's list, nothing more; a block whose field
 * is null in a record is left out of its tiles, and an optional block absent from some tiles reads
 * as zeros for their cells when the tiles are joined.
 *
 * @param field the record's field name
 * @param planes planes per lead (e.g. 1 for values; the number of levels for a block laid out level-major)
 * @param cellBytes bytes per cell within a plane (e.g. 4 for float32; 4 x levels for a block laid out cell-major)
 * @param optional whether the field may be null
 * @param planeMajor whether the planes are outside the leads ({@code [plane][lead]...}) rather than inside
 */
public record CellBlock<R extends SpecificRecordBase>(String field, ToIntFunction<R> planes, ToIntFunction<R> cellBytes,
    boolean optional, boolean planeMajor) {

  /** A block of one float32 (or {@code bytes}-wide value) per cell and lead. */
  public static <R extends SpecificRecordBase> CellBlock<R> perCell(String field, int bytes, boolean optional) {
    return new CellBlock<>(field, r -> 1, r -> bytes, optional, false);
  }

  /** A block of {@code planes} planes of {@code bytes}-wide values, plane-major: {@code [plane][lead][row][col]}. */
  public static <R extends SpecificRecordBase> CellBlock<R> planeMajor(String field, ToIntFunction<R> planes, int bytes) {
    return new CellBlock<>(field, planes, r -> bytes, false, true);
  }

  /** Where plane {@code plane} of lead {@code lead} (1-based) starts, in planes of h x w cells from the block's start. */
  long planeIndex(int plane, int planes, int lead, int leads) {
    return planeMajor ? (long) plane * leads + lead - 1 : (long) (lead - 1) * planes + plane;
  }

  /** Bytes of one lead of this block over {@code cells} cells. */
  long bytesPerLead(R record, long cells) {
    return (long) planes.applyAsInt(record) * cellBytes.applyAsInt(record) * cells;
  }
}

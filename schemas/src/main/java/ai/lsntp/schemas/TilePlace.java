package ai.lsntp.schemas;

/**
 * Where a tile lies in its record: lead (1-based; always 1 for a frame), its number among the
 * record's {@code count} tiles, and its rectangle of rows x cols cells from (row0, col0).
 */
public record TilePlace(int lead, int index, int count, int row0, int col0, int rows, int cols) {
  public long cells() {
    return (long) rows * cols;
  }

  @Override
  public String toString() {
    return "tile " + index + " of " + count + (lead > 1 || count > 1 ? " (lead " + lead + ", " : " (") + "rows " + row0
        + ".." + (row0 + rows - 1) + ", cols " + col0 + ".." + (col0 + cols - 1) + ")";
  }
}

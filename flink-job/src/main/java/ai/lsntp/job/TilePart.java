package ai.lsntp.job;

/**
 * A validated frame tile's place in its frame (TemperatureFrame.tile) and what every tile of the
 * frame must share: the frame's record outside its per-cell fields ({@code header}, plain Avro,
 * ai.lsntp.schemas.Tiling#header), compared byte for byte by {@link FrameTileAssembler}.
 */
public class TilePart {
  public int index;
  public int count;
  public int row0;
  public int col0;
  public int rows;
  public int cols;
  /** The whole frame's height and width. */
  public int height;
  public int width;
  public byte[] header;

  public TilePart() {}

  @Override
  public String toString() {
    return "tile " + index + " of " + count + " (rows " + row0 + ".." + (row0 + rows - 1) + ", cols " + col0 + ".."
        + (col0 + cols - 1) + ")";
  }
}

package ai.lsntp.schemas;

import ai.lsntp.avro.FrameTile;
import ai.lsntp.avro.TemperatureFrame;
import java.util.List;

/**
 * A {@link TemperatureFrame} as tiles (its {@code tile} field, schemas/TemperatureFrame.avsc): its
 * per-cell fields are {@code values} (float32) and {@code missing_mask} (one byte, optional).
 */
public final class FrameTiles extends Tiling<TemperatureFrame> {
  public static final FrameTiles INSTANCE = new FrameTiles();

  private static final List<CellBlock<TemperatureFrame>> BLOCKS = List.of(
      CellBlock.perCell("values", Float.BYTES, false),
      CellBlock.perCell("missing_mask", 1, true));

  private FrameTiles() {
    super(TemperatureFrame.class, TemperatureFrame.getClassSchema());
  }

  @Override
  public List<CellBlock<TemperatureFrame>> blocks() {
    return BLOCKS;
  }

  @Override
  protected int leads(TemperatureFrame f) {
    return 1;
  }

  @Override
  protected int height(TemperatureFrame f) {
    return f.getHeight();
  }

  @Override
  protected int width(TemperatureFrame f) {
    return f.getWidth();
  }

  @Override
  public TilePlace place(TemperatureFrame f) {
    FrameTile t = f.getTile();
    return t == null ? null : new TilePlace(1, t.getIndex(), t.getCount(), t.getRow0(), t.getCol0(), t.getRows(),
        t.getCols());
  }

  @Override
  protected void setPlace(TemperatureFrame f, TilePlace p) {
    f.setTile(p == null ? null : new FrameTile(p.index(), p.count(), p.row0(), p.col0(), p.rows(), p.cols()));
  }

  @Override
  protected String tileField() {
    return "tile";
  }
}

package ai.lsntp.schemas;

import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ForecastTile;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * A {@link Forecast} as tiles, one per lead and tile (its {@code tile} field, schemas/Forecast.avsc).
 * Its per-cell fields are listed in {@link #blocks()}: {@code values}, beta x height x width
 * float32, lead-major, and {@code quantiles}, levels x beta x height x width float32, level-major. {@link Assembler} puts the tiles a subscriber reads back into forecasts.
 */
public final class ForecastTiles extends Tiling<Forecast> {
  public static final ForecastTiles INSTANCE = new ForecastTiles();

  private static final List<CellBlock<Forecast>> BLOCKS = List.of(
      CellBlock.perCell("values", Float.BYTES, false),
      CellBlock.planeMajor("quantiles", f -> f.getQuantileLevels().size(), Float.BYTES));

  private ForecastTiles() {
    super(Forecast.class, Forecast.getClassSchema());
  }

  @Override
  public List<CellBlock<Forecast>> blocks() {
    return BLOCKS;
  }

  @Override
  protected int leads(Forecast f) {
    return f.getBeta();
  }

  @Override
  protected int height(Forecast f) {
    return f.getHeight();
  }

  @Override
  protected int width(Forecast f) {
    return f.getWidth();
  }

  @Override
  public TilePlace place(Forecast f) {
    ForecastTile t = f.getTile();
    return t == null ? null : new TilePlace(t.getLead(), t.getIndex(), t.getCount(), t.getRow0(), t.getCol0(),
        t.getRows(), t.getCols());
  }

  @Override
  protected void setPlace(Forecast f, TilePlace p) {
    f.setTile(p == null ? null
        : new ForecastTile(p.lead(), p.index(), p.count(), p.row0(), p.col0(), p.rows(), p.cols()));
  }

  @Override
  protected String tileField() {
    return "tile";
  }

  /**
   * Puts the forecasts a subscriber reads back together ({@link TileAssembler}): a whole forecast
   * passes at once, the tiles of one are held until all have come, at most {@code maxPending}
   * forecasts at once (a read_committed consumer of the job's output never sees a forecast's tiles
   * split across transactions, so nothing is given up there unless a topic is read from the middle
   * of a forecast).
   */
  public static final class Assembler extends TileAssembler<Forecast> {
    public Assembler(int maxPending, BiConsumer<Forecast, String> onDropped) {
      super(INSTANCE, maxPending, onDropped);
    }

    /** The forecast {@code record} completes (itself when whole), or null while its tiles are still coming. */
    @Override
    public Forecast add(Forecast record) {
      return super.add(record);
    }
  }
}

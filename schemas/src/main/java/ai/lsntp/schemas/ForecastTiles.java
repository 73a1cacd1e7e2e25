package ai.lsntp.schemas;

import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.ForecastTile;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * A {@link Forecast} as tiles, one per lead and tile (its {@code tile} field, schemas/Forecast.avsc).
 * Its per-cell fields are listed in {@link #blocks()}: {@code values}, beta x height x width
 * float32, lead-major. {@link Assembler} puts the tiles a subscriber reads back into forecasts.
 */
public final class ForecastTiles extends Tiling<Forecast> {
  public static final ForecastTiles INSTANCE = new ForecastTiles();

  private static final List<CellBlock<Forecast>> BLOCKS = List.of(
      CellBlock.perCell("values", Float.BYTES, false));

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
   * Puts the forecasts a subscriber reads back together: a whole forecast passes at once; the tiles
   * of one forecast (equal in every field outside the per-cell ones: grid, issue time, model,
   * produced_at, ...) are held until all have come, then joined. At most {@code maxPending}
   * forecasts are held; beyond that the oldest one is given up, as are tiles that cannot be joined,
   * each reported to {@code onDropped} with the reason (a read_committed consumer of the job's
   * output never sees a forecast's tiles split across transactions, so neither happens there unless
   * a topic is read from the middle of a forecast).
   */
  public static final class Assembler {
    private final int maxPending;
    private final BiConsumer<Forecast, String> onDropped;
    private final Map<String, List<Forecast>> pending = new LinkedHashMap<>();

    public Assembler(int maxPending, BiConsumer<Forecast, String> onDropped) {
      this.maxPending = maxPending;
      this.onDropped = onDropped;
    }

    /** The forecast {@code record} completes (itself when whole), or null while its tiles are still coming. */
    public Forecast add(Forecast record) {
      TilePlace p = INSTANCE.place(record);
      if (p == null) {
        return record;
      }
      String id = Arrays.toString(INSTANCE.header(record)) + "/" + p.count();
      List<Forecast> tiles = pending.computeIfAbsent(id, k -> new ArrayList<>());
      tiles.add(record);
      if (tiles.size() < p.count()) {
        while (pending.size() > maxPending) {
          Iterator<Map.Entry<String, List<Forecast>>> oldest = pending.entrySet().iterator();
          List<Forecast> given = oldest.next().getValue();
          oldest.remove();
          onDropped.accept(given.get(0), "given up with " + given.size() + " of " + p.count() + " tiles: more than "
              + maxPending + " forecasts were incomplete at once");
        }
        return null;
      }
      pending.remove(id);
      try {
        return INSTANCE.join(tiles);
      } catch (TileException e) {
        onDropped.accept(record, e.getMessage());
        return null;
      }
    }

    /** Forecasts whose tiles are still coming. */
    public int pending() {
      return pending.size();
    }
  }
}

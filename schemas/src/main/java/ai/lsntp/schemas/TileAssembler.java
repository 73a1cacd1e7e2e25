package ai.lsntp.schemas;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.apache.avro.specific.SpecificRecordBase;

/**
 * Puts the records a subscriber reads back together: a whole record passes at once; the tiles of
 * one record (equal in every field outside the per-cell ones) are held until all have come, then
 * joined. At most {@code maxPending} records are held; beyond that the oldest one is given up, as
 * are tiles that cannot be joined, each reported to {@code onDropped} with the reason.
 */
public class TileAssembler<R extends SpecificRecordBase> {
  private final Tiling<R> tiling;
  private final int maxPending;
  private final BiConsumer<R, String> onDropped;
  private final Map<String, List<R>> pending = new LinkedHashMap<>();

  public TileAssembler(Tiling<R> tiling, int maxPending, BiConsumer<R, String> onDropped) {
    this.tiling = tiling;
    this.maxPending = maxPending;
    this.onDropped = onDropped;
  }

  /** The record {@code record} completes (itself when whole), or null while its tiles are still coming. */
  public R add(R record) {
    TilePlace p = tiling.place(record);
    if (p == null) {
      return record;
    }
    String id = Arrays.toString(tiling.header(record)) + "/" + p.count();
    List<R> tiles = pending.computeIfAbsent(id, k -> new ArrayList<>());
    tiles.add(record);
    if (tiles.size() < p.count()) {
      while (pending.size() > maxPending) {
        Iterator<Map.Entry<String, List<R>>> oldest = pending.entrySet().iterator();
        List<R> given = oldest.next().getValue();
        oldest.remove();
        onDropped.accept(given.get(0), "given up with " + given.size() + " of " + p.count() + " tiles: more than "
            + maxPending + " records were incomplete at once");
      }
      return null;
    }
    pending.remove(id);
    try {
      return tiling.join(tiles);
    } catch (TileException e) {
      onDropped.accept(record, e.getMessage());
      return null;
    }
  }

  /** Records whose tiles are still coming. */
  public int pending() {
    return pending.size();
  }
}

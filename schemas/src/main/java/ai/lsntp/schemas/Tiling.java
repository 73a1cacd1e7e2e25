package ai.lsntp.schemas;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificRecordBase;

/**
 * How a record with per-cell fields travels as tiles, so that no Kafka record exceeds a size limit
 * however large its grid: {@link #split} cuts a record into tiles of whole rows (of row pieces, for
 * a grid whose one row is over the limit), one set per lead, and {@link #join} puts tiles back
 * together, checking that they belong together and cover every cell once. Every per-cell field is
 * cut by its {@link CellBlock} layout; every other field is the whole record's, copied into each
 * tile unchanged. A record that fits travels whole, as before tiles existed.
 */
public abstract class Tiling<R extends SpecificRecordBase> {
  /**
   * Bytes Kafka adds to a record's key and value on the wire: the record batch header (61 bytes)
   * and the record's own length, attributes, timestamp and offset deltas and header count (at most
   * 21), with room to spare. A record of key + value + this many bytes passes the producer's
   * max.request.size and the broker's max.message.bytes of the same size.
   */
  public static final int KAFKA_RECORD_OVERHEAD = 128;

  private final Class<R> type;
  private final Schema schema;
  private final RecordCodec<R> codec;

  protected Tiling(Class<R> type, Schema schema) {
    this.type = type;
    this.schema = schema;
    this.codec = RecordCodec.of(type);
  }

  /** The record's per-cell fields, in the record's field order. */
  public abstract List<CellBlock<R>> blocks();

  /** Leads of the record: each has its own tiles (1 for a record without leads). */
  protected abstract int leads(R r);

  protected abstract int height(R r);

  protected abstract int width(R r);

  /** Where a tile lies; null for a whole record. */
  public abstract TilePlace place(R r);

  /** Sets (or, with null, clears) the record's tile field. */
  protected abstract void setPlace(R r, TilePlace place);

  /** The tile field's name: left out of {@link #header} and of the comparison of tiles. */
  protected abstract String tileField();

  /** Whether {@code r} is one tile of a record rather than a whole one. */
  public boolean isTile(R r) {
    return place(r) != null;
  }

  /** Whether a record of {@code valueBytes} under a key of {@code keyBytes} fits a limit of {@code maxRecordBytes}. */
  public static boolean fits(int keyBytes, long valueBytes, int maxRecordBytes) {
    return keyBytes + valueBytes + KAFKA_RECORD_OVERHEAD <= maxRecordBytes;
  }

  /**
   * {@code whole} as records of at most {@code maxRecordBytes} each with a key of {@code keyBytes}
   * (key, value and Kafka's record overhead): itself when it fits, else its tiles, lead by lead,
   * each lead cut into the same bands of whole rows (balanced, so the last one is not a sliver).
   *
   * @throws IllegalArgumentException when not even one cell's tile would fit the limit
   */
  public List<R> split(R whole, int keyBytes, int maxRecordBytes) {
    if (place(whole) != null) {
      throw new IllegalArgumentException("already a tile: " + place(whole));
    }
    int h = height(whole);
    int w = width(whole);
    long cells = (long) h * w;
    int leads = leads(whole);
    long perCell = 0;
    long blocksBytes = 0;
    for (CellBlock<R> b : blocks()) {
      if (block(whole, b) != null) {
        perCell += b.bytesPerLead(whole, 1);
        blocksBytes += block(whole, b).remaining();
      }
    }
    if (fits(keyBytes, headerBytes(whole, null) + blocksBytes, maxRecordBytes)) {
      return List.of(whole);
    }
    long fixed = headerBytes(whole, new TilePlace(Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE,
        Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE));
    long budget = maxRecordBytes - KAFKA_RECORD_OVERHEAD - keyBytes - fixed;
    long cellsPerTile = perCell == 0 ? cells : budget / perCell;
    if (cellsPerTile < 1) {
      throw new IllegalArgumentException("a limit of " + maxRecordBytes + " bytes per record leaves no room for one cell ("
          + perCell + " bytes) beside the record's other fields (" + fixed + " bytes) and a key of " + keyBytes + " bytes");
    }
    List<int[]> rects = rectangles(h, w, cellsPerTile);
    int count = leads * rects.size();
    List<R> tiles = new ArrayList<>(count);
    for (int lead = 1; lead <= leads; lead++) {
      for (int i = 0; i < rects.size(); i++) {
        int[] r = rects.get(i);
        TilePlace p = new TilePlace(lead, (lead - 1) * rects.size() + i, count, r[0], r[1], r[2], r[3]);
        R tile = shallowCopy(whole);
        for (CellBlock<R> b : blocks()) {
          ByteBuffer src = block(whole, b);
          tile.put(b.field(), src == null ? null : ByteBuffer.wrap(cut(src, b, whole, p)));
        }
        setPlace(tile, p);
        tiles.add(tile);
      }
    }
    return tiles;
  }

  /**
   * Rectangles {row0, col0, rows, cols} of at most {@code cellsPerTile} cells covering an h x w
   * grid once: bands of whole rows, or, when one row is more than a tile holds, pieces of rows.
   */
  static List<int[]> rectangles(int h, int w, long cellsPerTile) {
    List<int[]> out = new ArrayList<>();
    if (cellsPerTile >= w) {
      int rowsPer = (int) Math.min(h, cellsPerTile / w);
      int n = (h + rowsPer - 1) / rowsPer;
      int row = 0;
      for (int i = 0; i < n; i++) {
        int rows = h / n + (i < h % n ? 1 : 0);
        out.add(new int[] {row, 0, rows, w});
        row += rows;
      }
    } else {
      int n = (int) ((w + cellsPerTile - 1) / cellsPerTile);
      for (int row = 0; row < h; row++) {
        int col = 0;
        for (int i = 0; i < n; i++) {
          int cols = w / n + (i < w % n ? 1 : 0);
          out.add(new int[] {row, col, 1, cols});
          col += cols;
        }
      }
    }
    return out;
  }

  /**
   * Checks that a tile's place is possible: lead, index and count, its rectangle inside the grid,
   * each per-cell field the size of its cells.
   */
  public void checkPlace(R tile) throws TileException {
    TilePlace p = place(tile);
    if (p == null) {
      throw new TileException(TileException.Problem.INVALID, "a whole record where tiles were expected");
    }
    int h = height(tile);
    int w = width(tile);
    long cells = (long) h * w;
    int leads = leads(tile);
    if (p.count() < 1 || p.index() < 0 || p.index() >= p.count()) {
      throw invalid(p, "index " + p.index() + " is not in 0.." + (p.count() - 1) + " (count " + p.count() + ")");
    }
    if (p.count() > leads * cells) {
      throw invalid(p, "count " + p.count() + " is more than the " + leads * cells + " cells it could hold");
    }
    if (p.lead() < 1 || p.lead() > leads) {
      throw invalid(p, "lead " + p.lead() + " is not in 1.." + leads);
    }
    if (p.rows() < 1 || p.cols() < 1 || p.row0() < 0 || p.col0() < 0 || (long) p.row0() + p.rows() > h
        || (long) p.col0() + p.cols() > w) {
      throw invalid(p, "its rectangle (rows " + p.row0() + " +" + p.rows() + ", cols " + p.col0() + " +" + p.cols()
          + ") is not inside the " + h + " x " + w + " grid");
    }
    for (CellBlock<R> b : blocks()) {
      ByteBuffer v = block(tile, b);
      if (v == null) {
        if (!b.optional()) {
          throw invalid(p, b.field() + " is missing");
        }
        continue;
      }
      long want = b.bytesPerLead(tile, p.cells());
      if (v.remaining() != want) {
        throw invalid(p, b.field() + " holds " + v.remaining() + " bytes, its " + p.rows() + " x " + p.cols()
            + " cells need " + want);
      }
    }
  }

  private static TileException invalid(TilePlace p, String what) {
    return new TileException(TileException.Problem.INVALID, p + ": " + what);
  }

  /**
   * Puts tiles of one record back together. They must all be tiles of the same record (equal in
   * every field outside the per-cell fields, and on the count), every number 0..count-1 exactly
   * once, and cover every cell of every lead exactly once.
   */
  public R join(Collection<R> tiles) throws TileException {
    if (tiles.isEmpty()) {
      throw new TileException(TileException.Problem.INCOMPLETE, "no tiles");
    }
    R first = tiles.iterator().next();
    TilePlace p0 = place(first);
    if (p0 == null) {
      if (tiles.size() == 1) {
        return first;
      }
      throw new TileException(TileException.Problem.INVALID, "a whole record among " + tiles.size() + " tiles");
    }
    int leads = leads(first);
    long cells = (long) height(first) * width(first);
    if (leads * cells > Integer.MAX_VALUE) {
      throw new TileException(TileException.Problem.INVALID, "a record of " + leads * cells + " cells is too large to join");
    }
    byte[] header = header(first);
    boolean[] seen = new boolean[p0.count()];
    BitSet covered = new BitSet((int) (leads * cells));
    List<byte[]> joined = new ArrayList<>();
    for (CellBlock<R> b : blocks()) {
      boolean any = false;
      for (R t : tiles) {
        any |= block(t, b) != null;
      }
      joined.add(any ? new byte[Math.toIntExact(leads * b.bytesPerLead(first, cells))] : null);
    }
    for (R t : tiles) {
      checkPlace(t);
      TilePlace p = place(t);
      if (p.count() != p0.count()) {
        throw new TileException(TileException.Problem.INCONSISTENT, p + " says the record has " + p.count()
            + " tiles, " + p0 + " says " + p0.count());
      }
      if (!java.util.Arrays.equals(header, header(t))) {
        throw new TileException(TileException.Problem.INCONSISTENT, p + " disagrees with " + p0 + ": "
            + difference(first, t));
      }
      if (seen[p.index()]) {
        throw new TileException(TileException.Problem.DUPLICATE, p + " came twice");
      }
      seen[p.index()] = true;
      int w = width(t);
      for (int r = 0; r < p.rows(); r++) {
        int from = (int) ((p.lead() - 1) * cells + (long) (p.row0() + r) * w + p.col0());
        if (covered.get(from, from + p.cols()).cardinality() > 0) {
          throw new TileException(TileException.Problem.OVERLAP, p + " covers cells that another tile covers (row "
              + (p.row0() + r) + ")");
        }
        covered.set(from, from + p.cols());
      }
      for (int i = 0; i < blocks().size(); i++) {
        ByteBuffer v = block(t, blocks().get(i));
        if (v != null) {
          paste(v, blocks().get(i), t, p, joined.get(i));
        }
      }
    }
    List<Integer> missing = new ArrayList<>();
    for (int i = 0; i < seen.length && missing.size() < 20; i++) {
      if (!seen[i]) {
        missing.add(i);
      }
    }
    if (!missing.isEmpty()) {
      throw new TileException(TileException.Problem.INCOMPLETE, tiles.size() + " of " + p0.count()
          + " tiles; missing tile(s) " + missing + (missing.size() == 20 ? " ..." : ""));
    }
    if (covered.cardinality() < leads * cells) {
      int hole = covered.nextClearBit(0);
      throw new TileException(TileException.Problem.INCOMPLETE, "all " + p0.count() + " tiles are there but they leave "
          + (leads * cells - covered.cardinality()) + " cells uncovered (the first: lead " + (hole / cells + 1) + ", row "
          + (hole % cells) / width(first) + ", col " + (hole % cells) % width(first) + ")");
    }
    R whole = shallowCopy(first);
    for (int i = 0; i < blocks().size(); i++) {
      whole.put(blocks().get(i).field(), joined.get(i) == null ? null : ByteBuffer.wrap(joined.get(i)));
    }
    setPlace(whole, null);
    return whole;
  }

  /**
   * The record without its per-cell fields and its tile field, as plain Avro: what every tile of
   * one record has in common, byte for byte.
   */
  public byte[] header(R r) {
    return codec.encodePlain(headerOnly(r, null));
  }

  /** The first field outside the per-cell ones in which {@code a} and {@code b} differ, with both values. */
  public String difference(R a, R b) {
    for (Schema.Field f : schema.getFields()) {
      if (isBlock(f.name()) || f.name().equals(tileField())) {
        continue;
      }
      if (!Objects.equals(a.get(f.pos()), b.get(f.pos()))) {
        return f.name() + " " + b.get(f.pos()) + " against " + a.get(f.pos());
      }
    }
    return "no field differs";
  }

  /** Bytes of {@code r}'s single-object encoding with its per-cell fields empty and its tile field {@code place}, plus the per-cell fields' length prefixes. */
  private long headerBytes(R r, TilePlace place) {
    return codec.encode(headerOnly(r, place)).length + 5L * blocks().size();
  }

  private R headerOnly(R r, TilePlace place) {
    R h = shallowCopy(r);
    for (CellBlock<R> b : blocks()) {
      h.put(b.field(), b.optional() ? null : ByteBuffer.allocate(0));
    }
    setPlace(h, place);
    return h;
  }

  private boolean isBlock(String field) {
    for (CellBlock<R> b : blocks()) {
      if (b.field().equals(field)) {
        return true;
      }
    }
    return false;
  }

  private static <R extends SpecificRecordBase> ByteBuffer block(R r, CellBlock<R> b) {
    return (ByteBuffer) r.get(b.field());
  }

  /** The tile's cells of lead p.lead() of one block, in the block's own order. */
  private byte[] cut(ByteBuffer src, CellBlock<R> b, R whole, TilePlace p) {
    int planes = b.planes().applyAsInt(whole);
    int cb = b.cellBytes().applyAsInt(whole);
    int h = height(whole);
    int w = width(whole);
    byte[] out = new byte[Math.toIntExact((long) planes * p.rows() * p.cols() * cb)];
    ByteBuffer s = src.duplicate();
    int base = s.position();
    int rowBytes = p.cols() * cb;
    for (int plane = 0; plane < planes; plane++) {
      for (int r = 0; r < p.rows(); r++) {
        long from = ((b.planeIndex(plane, planes, p.lead(), leads(whole)) * h + p.row0() + r) * w + p.col0()) * cb;
        s.position(Math.toIntExact(base + from));
        s.get(out, (plane * p.rows() + r) * rowBytes, rowBytes);
      }
    }
    return out;
  }

  /** The inverse of {@link #cut}: the tile's cells into the joined block. */
  private void paste(ByteBuffer tileBlock, CellBlock<R> b, R tile, TilePlace p, byte[] into) {
    int planes = b.planes().applyAsInt(tile);
    int cb = b.cellBytes().applyAsInt(tile);
    int h = height(tile);
    int w = width(tile);
    ByteBuffer s = tileBlock.duplicate();
    int rowBytes = p.cols() * cb;
    for (int plane = 0; plane < planes; plane++) {
      for (int r = 0; r < p.rows(); r++) {
        long to = ((b.planeIndex(plane, planes, p.lead(), leads(tile)) * h + p.row0() + r) * w + p.col0()) * cb;
        s.get(into, Math.toIntExact(to), rowBytes);
      }
    }
  }

  /** A new record sharing {@code r}'s field values (nothing is copied: the caller replaces what differs). */
  private R shallowCopy(R r) {
    R c;
    try {
      c = type.getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("generated Avro classes have a public no-argument constructor: " + type, e);
    }
    for (Schema.Field f : schema.getFields()) {
      c.put(f.pos(), r.get(f.pos()));
    }
    return c;
  }
}

package ai.lsntp.schemas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.FrameTile;
import ai.lsntp.avro.TemperatureFrame;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Records cut into tiles under a size limit and joined back: every tile fits (encoded, with its key
 * and Kafka's overhead), the join gives the record back byte for byte in any order, and tiles that
 * do not belong together are refused with the problem named.
 */
class TilingTest {
  static final String KEY = "big-grid-0p01";
  static final int KEY_BYTES = KEY.length();

  static TemperatureFrame frame(int h, int w, boolean mask) {
    Random rnd = new Random(h * 31L + w);
    ByteBuffer v = ByteBuffer.allocate(h * w * 4).order(ByteOrder.LITTLE_ENDIAN);
    byte[] m = new byte[h * w];
    for (int i = 0; i < h * w; i++) {
      v.putFloat(250f + rnd.nextFloat() * 50f);
      m[i] = (byte) (rnd.nextInt(50) == 0 ? 1 : 0);
    }
    v.flip();
    return TemperatureFrame.newBuilder().setGridId(KEY).setValidTime(Instant.parse("2019-03-01T06:00:00Z"))
        .setSource("test").setHeight(h).setWidth(w).setLat0(60).setLon0(-10).setDlat(-0.01).setDlon(0.01)
        .setValues(v).setMissingMask(mask ? ByteBuffer.wrap(m) : null).build();
  }

  static Forecast forecast(int beta, int h, int w) {
    ByteBuffer v = ByteBuffer.allocate(beta * h * w * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < beta * h * w; i++) {
      v.putFloat(i * 0.001f);
    }
    v.flip();
    List<Instant> valid = new ArrayList<>();
    for (int l = 1; l <= beta; l++) {
      valid.add(Instant.ofEpochSecond(3600L * l));
    }
    return Forecast.newBuilder().setGridId(KEY).setIssueTime(Instant.EPOCH).setModelName("m").setModelVersion("1")
        .setStepMillis(3_600_000).setBeta(beta).setHeight(h).setWidth(w).setLat0(60).setLon0(-10).setDlat(-0.01)
        .setDlon(0.01).setValues(v).setValidTimes(valid).setProducedAt(Instant.ofEpochMilli(1234)).build();
  }

  @Test
  void aFrameThatFitsTravelsWhole() {
    TemperatureFrame f = frame(33, 49, true);
    assertThat(FrameTiles.INSTANCE.split(f, KEY_BYTES, 1 << 20)).containsExactly(f);
  }

  @Test
  void aFourMegabyteFrameBecomesRowBandsUnderTheLimitAndJoinsBackInAnyOrder() throws Exception {
    TemperatureFrame f = frame(1000, 1000, true);
    int limit = 1 << 20;
    List<TemperatureFrame> tiles = FrameTiles.INSTANCE.split(f, KEY_BYTES, limit);
    // 5 MB of values and mask: five bands of 200 rows
    assertThat(tiles).hasSize(5);
    RecordCodec<TemperatureFrame> codec = RecordCodec.of(TemperatureFrame.class);
    int row = 0;
    for (int i = 0; i < tiles.size(); i++) {
      FrameTile t = tiles.get(i).getTile();
      assertThat(t.getIndex()).isEqualTo(i);
      assertThat(t.getCount()).isEqualTo(5);
      assertThat(t.getRow0()).isEqualTo(row);
      assertThat(t.getCols()).isEqualTo(1000);
      row += t.getRows();
      assertThat(Tiling.fits(KEY_BYTES, codec.encode(tiles.get(i)).length, limit)).as("tile %d fits", i).isTrue();
      assertThat(tiles.get(i).getValues().remaining()).isEqualTo(t.getRows() * 1000 * 4);
    }
    assertThat(row).isEqualTo(1000);
    List<TemperatureFrame> shuffled = new ArrayList<>(tiles);
    Collections.shuffle(shuffled, new Random(7));
    assertThat(FrameTiles.INSTANCE.join(shuffled)).isEqualTo(f);
  }

  @Test
  void aTilesCellsAreTheFramesCellsAtItsPlace() {
    TemperatureFrame f = frame(300, 300, false);
    List<TemperatureFrame> tiles = FrameTiles.INSTANCE.split(f, KEY_BYTES, 64 * 1024);
    ByteBuffer all = f.getValues().duplicate().order(ByteOrder.LITTLE_ENDIAN);
    for (TemperatureFrame t : tiles) {
      FrameTile p = t.getTile();
      ByteBuffer v = t.getValues().duplicate().order(ByteOrder.LITTLE_ENDIAN);
      assertThat(t.getMissingMask()).isNull();
      for (int r = 0; r < p.getRows(); r += 7) {
        for (int c = 0; c < p.getCols(); c += 11) {
          assertThat(v.getFloat((r * p.getCols() + c) * 4))
              .isEqualTo(all.getFloat(((p.getRow0() + r) * 300 + p.getCol0() + c) * 4));
        }
      }
    }
  }

  @Test
  void aRowLargerThanATileIsCutIntoPiecesOfRows() throws Exception {
    TemperatureFrame f = frame(3, 5000, true); // 25 KB a row
    List<TemperatureFrame> tiles = FrameTiles.INSTANCE.split(f, KEY_BYTES, 8 * 1024);
    RecordCodec<TemperatureFrame> codec = RecordCodec.of(TemperatureFrame.class);
    assertThat(tiles).allSatisfy(t -> {
      assertThat(t.getTile().getRows()).isEqualTo(1);
      assertThat(Tiling.fits(KEY_BYTES, codec.encode(t).length, 8 * 1024)).isTrue();
    });
    assertThat(tiles.size() % 3).isZero();
    assertThat(FrameTiles.INSTANCE.join(tiles)).isEqualTo(f);
  }

  @Test
  void anOptionalBlockAbsentFromSomeTilesJoinsAsZeros() throws Exception {
    TemperatureFrame f = frame(40, 40, true);
    List<TemperatureFrame> tiles = FrameTiles.INSTANCE.split(f, KEY_BYTES, 2048);
    // a producer that writes the mask only for tiles with missing cells: zero the others' cells
    ByteBuffer mask = ByteBuffer.wrap(f.getMissingMask().array().clone());
    for (TemperatureFrame t : tiles.subList(0, 2)) {
      FrameTile p = t.getTile();
      for (int i = 0; i < p.getRows() * p.getCols(); i++) {
        mask.put(p.getRow0() * 40 + i, (byte) 0);
      }
      t.setMissingMask(null);
    }
    TemperatureFrame joined = FrameTiles.INSTANCE.join(tiles);
    assertThat(joined.getMissingMask()).isEqualTo(mask);
  }

  @Test
  void aForecastIsCutPerLeadAndJoinsBack() throws Exception {
    Forecast f = forecast(6, 600, 600); // 8.6 MB: two tiles a lead
    List<Forecast> tiles = ForecastTiles.INSTANCE.split(f, KEY_BYTES, 1 << 20);
    RecordCodec<Forecast> codec = RecordCodec.of(Forecast.class);
    assertThat(tiles).hasSize(12).allSatisfy(t -> {
      assertThat(Tiling.fits(KEY_BYTES, codec.encode(t).length, 1 << 20)).isTrue();
      assertThat(t.getValues().remaining()).isEqualTo(t.getTile().getRows() * t.getTile().getCols() * 4);
      assertThat(t.getValidTimes()).isEqualTo(f.getValidTimes());
    });
    assertThat(tiles.stream().map(t -> t.getTile().getLead()).distinct()).containsExactly(1, 2, 3, 4, 5, 6);
    // lead 4's first tile starts with lead 4's first cell
    Forecast lead4 = tiles.stream().filter(t -> t.getTile().getLead() == 4 && t.getTile().getRow0() == 0).findFirst()
        .orElseThrow();
    assertThat(lead4.getValues().duplicate().order(ByteOrder.LITTLE_ENDIAN).getFloat(0)).isEqualTo(3 * 360_000 * 0.001f);
    List<Forecast> reversed = new ArrayList<>(tiles);
    Collections.reverse(reversed);
    assertThat(ForecastTiles.INSTANCE.join(reversed)).isEqualTo(f);
  }

  @Test
  void aForecastsQuantilesAreCutWithItsValuesLevelByLevel() throws Exception {
    int beta = 3;
    int h = 300;
    int w = 300;
    int levels = 4;
    Forecast f = forecast(beta, h, w);
    // quantile q of level k, lead l, cell c is k * 1e6 + l * 1e5 + c: every value says where it belongs
    ByteBuffer q = ByteBuffer.allocate(levels * beta * h * w * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int k = 0; k < levels; k++) {
      for (int l = 0; l < beta; l++) {
        for (int c = 0; c < h * w; c++) {
          q.putFloat(k * 1e6f + l * 1e5f + c);
        }
      }
    }
    q.flip();
    f.setQuantileLevels(List.of(0.025, 0.1, 0.9, 0.975));
    f.setQuantiles(q);
    List<Forecast> tiles = ForecastTiles.INSTANCE.split(f, KEY_BYTES, 1 << 20); // 5.4 MB in all
    RecordCodec<Forecast> codec = RecordCodec.of(Forecast.class);
    assertThat(tiles).hasSizeGreaterThan(beta).allSatisfy(t -> {
      assertThat(Tiling.fits(KEY_BYTES, codec.encode(t).length, 1 << 20)).isTrue();
      assertThat(t.getQuantiles().remaining()).isEqualTo(levels * t.getTile().getRows() * t.getTile().getCols() * 4);
    });
    Forecast t = tiles.stream().filter(x -> x.getTile().getLead() == 2 && x.getTile().getRow0() > 0).findFirst()
        .orElseThrow();
    ByteBuffer tq = t.getQuantiles().duplicate().order(ByteOrder.LITTLE_ENDIAN);
    int cells = t.getTile().getRows() * t.getTile().getCols();
    int firstCell = t.getTile().getRow0() * w;
    for (int k = 0; k < levels; k++) {
      assertThat(tq.getFloat(k * cells * 4)).as("level %d, lead 2, the tile's first cell", k)
          .isEqualTo(k * 1e6f + 1e5f + firstCell);
    }
    List<Forecast> reversed = new ArrayList<>(tiles);
    Collections.reverse(reversed);
    assertThat(ForecastTiles.INSTANCE.join(reversed)).isEqualTo(f);
  }

  @Test
  void theAssemblerHandsOnWholeForecastsAtOnceAndTiledOnesWhenComplete() {
    Forecast small = forecast(2, 3, 3);
    Forecast big = forecast(2, 200, 200);
    List<Forecast> tiles = ForecastTiles.INSTANCE.split(big, KEY_BYTES, 64 * 1024);
    List<String> dropped = new ArrayList<>();
    ForecastTiles.Assembler a = new ForecastTiles.Assembler(4, (f, why) -> dropped.add(why));
    assertThat(a.add(small)).isSameAs(small);
    for (int i = 0; i < tiles.size() - 1; i++) {
      assertThat(a.add(tiles.get(i))).isNull();
    }
    assertThat(a.pending()).isEqualTo(1);
    assertThat(a.add(tiles.get(tiles.size() - 1))).isEqualTo(big);
    assertThat(a.pending()).isZero();
    assertThat(dropped).isEmpty();
  }

  @Test
  void theAssemblerGivesUpTheOldestIncompleteForecastBeyondItsBound() {
    List<String> dropped = new ArrayList<>();
    ForecastTiles.Assembler a = new ForecastTiles.Assembler(2, (f, why) -> dropped.add(f.getProducedAt() + ": " + why));
    for (int k = 0; k < 3; k++) {
      Forecast f = forecast(1, 100, 100);
      f.setProducedAt(Instant.ofEpochMilli(k));
      a.add(ForecastTiles.INSTANCE.split(f, KEY_BYTES, 16 * 1024).get(0));
    }
    assertThat(a.pending()).isEqualTo(2);
    assertThat(dropped).singleElement().asString().startsWith("1970-01-01T00:00:00Z: given up with 1 of");
  }

  @Test
  void aGenericBlockOfSeveralPlanesIsCutPlaneByPlane() throws Exception {
    // values read as two planes of 2-byte cells: [plane][row][col][2 bytes]
    Tiling<TemperatureFrame> planar = new Tiling<>(TemperatureFrame.class, TemperatureFrame.getClassSchema()) {
      @Override
      public List<CellBlock<TemperatureFrame>> blocks() {
        return List.of(new CellBlock<>("values", r -> 2, r -> 2, false, false));
      }

      @Override
      protected int leads(TemperatureFrame r) {
        return 1;
      }

      @Override
      protected int height(TemperatureFrame r) {
        return r.getHeight();
      }

      @Override
      protected int width(TemperatureFrame r) {
        return r.getWidth();
      }

      @Override
      public TilePlace place(TemperatureFrame r) {
        return FrameTiles.INSTANCE.place(r);
      }

      @Override
      protected void setPlace(TemperatureFrame r, TilePlace p) {
        r.setTile(p == null ? null : new FrameTile(p.index(), p.count(), p.row0(), p.col0(), p.rows(), p.cols()));
      }

      @Override
      protected String tileField() {
        return "tile";
      }
    };
    int h = 20;
    int w = 30;
    byte[] v = new byte[2 * h * w * 2];
    for (int i = 0; i < v.length; i++) {
      v[i] = (byte) i;
    }
    TemperatureFrame f = frame(h, w, false);
    f.setValues(ByteBuffer.wrap(v));
    List<TemperatureFrame> tiles = planar.split(f, KEY_BYTES, 1024);
    assertThat(tiles.size()).isGreaterThan(2);
    TemperatureFrame second = tiles.get(1);
    FrameTile p = second.getTile();
    byte[] got = new byte[second.getValues().remaining()];
    second.getValues().duplicate().get(got);
    // plane 1, the tile's first row, first cell
    int at = (1 * p.getRows() * p.getCols()) * 2;
    assertThat(got[at]).isEqualTo(v[((1 * h + p.getRow0()) * w) * 2]);
    assertThat(planar.join(tiles)).isEqualTo(f);
  }

  @Test
  void tilesThatDoNotBelongTogetherAreRefusedWithTheProblemNamed() {
    TemperatureFrame f = frame(100, 100, false);
    List<TemperatureFrame> tiles = FrameTiles.INSTANCE.split(f, KEY_BYTES, 8 * 1024);
    int n = tiles.size();
    assertThat(n).isGreaterThan(4);

    assertProblem(tiles.subList(0, n - 1), TileException.Problem.INCOMPLETE, "missing tile(s) [" + (n - 1) + "]");

    List<TemperatureFrame> dup = new ArrayList<>(tiles);
    dup.add(tiles.get(2));
    assertProblem(dup, TileException.Problem.DUPLICATE, "came twice");

    List<TemperatureFrame> taller = new ArrayList<>(tiles);
    taller.set(3, TemperatureFrame.newBuilder(tiles.get(3)).setHeight(101).build());
    assertProblem(taller, TileException.Problem.INCONSISTENT, "height 101 against 100");

    List<TemperatureFrame> recount = new ArrayList<>(tiles);
    TemperatureFrame t = TemperatureFrame.newBuilder(tiles.get(1)).build();
    t.getTile().setCount(n + 1);
    recount.set(1, t);
    assertProblem(recount, TileException.Problem.INCONSISTENT, "tiles, ");

    List<TemperatureFrame> overlap = new ArrayList<>(tiles);
    TemperatureFrame o = TemperatureFrame.newBuilder(tiles.get(1)).build();
    o.getTile().setRow0(tiles.get(1).getTile().getRow0() - 1);
    overlap.set(1, o);
    assertProblem(overlap, TileException.Problem.OVERLAP, "covers cells that another tile covers");

    List<TemperatureFrame> outside = new ArrayList<>(tiles);
    TemperatureFrame x = TemperatureFrame.newBuilder(tiles.get(n - 1)).build();
    x.getTile().setRow0(99);
    outside.set(n - 1, x);
    assertProblem(outside, TileException.Problem.INVALID, "not inside the 100 x 100 grid");

    List<TemperatureFrame> shortValues = new ArrayList<>(tiles);
    shortValues.set(0, TemperatureFrame.newBuilder(tiles.get(0)).setValues(ByteBuffer.allocate(8)).build());
    assertProblem(shortValues, TileException.Problem.INVALID, "values holds 8 bytes");

    // all numbers there, but one tile shrunk: cells no tile covers
    List<TemperatureFrame> hole = new ArrayList<>(tiles);
    TemperatureFrame s = TemperatureFrame.newBuilder(tiles.get(0)).build();
    s.getTile().setRows(s.getTile().getRows() - 1);
    s.setValues(ByteBuffer.allocate(s.getTile().getRows() * 100 * 4));
    hole.set(0, s);
    assertProblem(hole, TileException.Problem.INCOMPLETE, "cells uncovered");
  }

  private static void assertProblem(List<TemperatureFrame> tiles, TileException.Problem problem, String text) {
    assertThatThrownBy(() -> FrameTiles.INSTANCE.join(tiles)).isInstanceOfSatisfying(TileException.class,
        e -> assertThat(e.problem).isEqualTo(problem)).hasMessageContaining(text);
  }

  @Test
  void aLimitTooSmallForOneCellIsSaidSo() {
    assertThatThrownBy(() -> FrameTiles.INSTANCE.split(frame(10, 10, false), KEY_BYTES, 200))
        .hasMessageContaining("leaves no room for one cell");
  }

  @Test
  void bandsAreBalanced() {
    assertThat(Tiling.rectangles(10, 4, 12).stream().mapToInt(r -> r[2]).toArray()).containsExactly(3, 3, 2, 2);
    assertThat(IntStream.of(Tiling.rectangles(1000, 1000, 262_000).stream().mapToInt(r -> r[2]).toArray()).sum())
        .isEqualTo(1000);
  }
}

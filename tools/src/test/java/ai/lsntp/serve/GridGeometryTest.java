package ai.lsntp.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.codec.PackedFloats;
import java.nio.ByteBuffer;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Where a point falls on a grid and what bilinear interpolation makes of missing cells. */
class GridGeometryTest {
  /** The ERA5 UK grid: rows north to south from 58 N, columns from 10 W, 0.25 degrees. */
  static final GridGeometry UK = new GridGeometry(33, 49, 58.0, -10.0, -0.25, 0.25);
  /** The NCEP North America grid: longitudes 200..330 E. */
  static final GridGeometry NA = new GridGeometry(25, 53, 75.0, 200.0, -2.5, 2.5);

  @Test
  void cellCentresAndPointsBetweenThem() {
    assertThat(UK.locate(58.0, -10.0)).isEqualTo(new GridGeometry.Position(0, 0));
    assertThat(UK.locate(50.0, 2.0)).isEqualTo(new GridGeometry.Position(32, 48));
    GridGeometry.Position p = UK.locate(51.37, -0.13);
    assertThat(p.row()).isCloseTo(26.52, within(1e-9));
    assertThat(p.col()).isCloseTo(39.48, within(1e-9));
  }

  @Test
  void aPointBeyondTheOutermostCentresIsOutsideEvenWithinTheEdgeCells() {
    assertThat(UK.locate(50.0 - 1e-6, 0)).isNull();
    assertThat(UK.locate(58.1, 0)).isNull();
    assertThat(UK.locate(55, 2.1)).isNull();
    assertThat(UK.locate(55, -10.1)).isNull();
    assertThat(UK.locate(55, 180)).isNull();
  }

  @Test
  void longitudesAreTakenModulo360IntoTheGridsOwnRange() {
    assertThat(UK.locate(55, 359.0)).isEqualTo(UK.locate(55, -1.0));
    assertThat(UK.locate(55, 350.0)).isEqualTo(new GridGeometry.Position(12, 0));
    assertThat(NA.locate(50, -100.0)).isEqualTo(NA.locate(50, 260.0));
    assertThat(NA.locate(50, -160.0)).isEqualTo(new GridGeometry.Position(10, 0));
    assertThat(NA.locate(50, -30.0)).isEqualTo(new GridGeometry.Position(10, 52));
    assertThat(NA.locate(50, -29.0)).isNull();
    assertThat(NA.locate(50, 199.0)).isNull();
  }

  @Test
  void bilinearWeightsTheFourSurroundingCentres() {
    float[] v = {0, 10, 20, 30}; // 2 x 2
    assertThat(GridGeometry.interpolate(v, 0, 2, 2, 0.25, 0.5)).isCloseTo(0.75 * 5 + 0.25 * 25, within(1e-12));
    assertThat(GridGeometry.interpolate(v, 0, 2, 2, 1, 1)).isEqualTo(30);
    float[] twoFields = {9, 9, 9, 9, 0, 10, 20, 30};
    assertThat(GridGeometry.interpolate(twoFields, 4, 2, 2, 0.5, 0.5)).isEqualTo(15);
  }

  @Test
  void missingCornersAreLeftOutWithTheOtherWeightsRenormalised() {
    float n = Float.NaN;
    assertThat(GridGeometry.interpolate(new float[] {n, 10, 20, 30}, 0, 2, 2, 0.5, 0.5)).isEqualTo(20);
    // 0.25 row, 0.5 col with the top-left missing: weights 0.375 (10), 0.125 (20), 0.125 (30)
    assertThat(GridGeometry.interpolate(new float[] {n, 10, 20, 30}, 0, 2, 2, 0.25, 0.5))
        .isCloseTo((0.375 * 10 + 0.125 * 20 + 0.125 * 30) / 0.625, within(1e-12));
    // exactly on a missing cell: the only corner with a weight is missing
    assertThat(GridGeometry.interpolate(new float[] {n, 10, 20, 30}, 0, 2, 2, 0, 0)).isNaN();
    assertThat(GridGeometry.interpolate(new float[] {n, n, n, n}, 0, 2, 2, 0.3, 0.6)).isNaN();
    // a missing corner with no weight changes nothing
    assertThat(GridGeometry.interpolate(new float[] {0, 10, 20, n}, 0, 2, 2, 0, 0.5)).isEqualTo(5);
  }

  @Test
  void anObservedFramesMaskAndFillValueBecomeMissingCells() {
    TemperatureFrame.Builder b = TemperatureFrame.newBuilder().setGridId("g").setValidTime(Instant.EPOCH).setSource("t")
        .setHeight(2).setWidth(2).setLat0(1).setLon0(0).setDlat(-1).setDlon(1).setUnits("K")
        .setValues(PackedFloats.encode(new float[] {280, -999, 282, 283}));
    ObservedField masked = ObservedField.of(b.setMissingMask(ByteBuffer.wrap(new byte[] {0, 0, 1, 0})).setFillValue(-999f)
        .build());
    assertThat(masked.value(0, 0)).isEqualTo(280);
    assertThat(masked.value(0, 1)).isNaN();
    assertThat(masked.value(1, 0)).isNaN();
    assertThat(masked.value(1, 1)).isEqualTo(283);
    assertThat(ObservedField.of(b.setUnits("degC").build())).as("not kelvin: not shown").isNull();
    assertThat(ObservedField.of(b.setUnits("K").setMissingMask(ByteBuffer.wrap(new byte[3])).build()))
        .as("a mask of another size").isNull();
  }

  @Test
  void theQueryIsDecodedHereSoABadValueIsNamed() {
    assertThat(PointApi.query("latitude=51.5&longitude=-0.12&hourly=temperature_2m%2Ctemperature_2m"))
        .containsEntry("latitude", java.util.List.of("51.5")).containsEntry("longitude", java.util.List.of("-0.12"))
        .containsEntry("hourly", java.util.List.of("temperature_2m,temperature_2m"));
    assertThat(PointApi.query("a=1&a=2&&b")).containsEntry("a", java.util.List.of("1", "2"))
        .containsEntry("b", java.util.List.of(""));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> PointApi.query("latitude=%zz"))
        .isInstanceOf(ApiError.class).hasMessage("Parameter 'latitude' is not valid percent-encoding: '%zz'");
  }
}

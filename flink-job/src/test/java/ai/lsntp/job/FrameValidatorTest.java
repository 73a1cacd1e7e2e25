package ai.lsntp.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.model.ModelCatalog;
import ai.lsntp.model.ModelSpec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.BroadcastOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.Test;

/**
 * Every check of {@link FrameValidator}, one reason at a time, on a small 3 x 4 grid whose model
 * spec is written here: each test starts from one good frame and breaks exactly one thing.
 */
class FrameValidatorTest {
  static final long HOUR = 3_600_000L;
  static final long T0 = Instant.parse("2024-03-20T06:00:00Z").toEpochMilli();
  static final long NOW = T0 + 2 * HOUR;
  static final ModelSpec SPEC = new ModelSpec("models/test/model.onnx", "lsntp-test", "1.0.0", "test-grid",
      3, 2, HOUR, 3, 4, 60.0, -10.0, -0.5, 0.5, "K", "sha");
  static final ModelCatalog MODELS = new ModelCatalog(Map.of(SPEC.gridId, SPEC));
  static final RecordCodec<TemperatureFrame> AVRO = RecordCodec.of(TemperatureFrame.class);
  static final long MAX_BYTES = 4096;
  static final long FUTURE_TOLERANCE = HOUR;

  private final FrameValidator validator = new FrameValidator(MODELS, MAX_BYTES, FUTURE_TOLERANCE, 256, null);

  static float[] goodValues() {
    float[] v = new float[12];
    for (int i = 0; i < v.length; i++) {
      v[i] = 270f + i;
    }
    return v;
  }

  static TemperatureFrame.Builder good() {
    return TemperatureFrame.newBuilder()
        .setGridId(SPEC.gridId)
        .setValidTime(Instant.ofEpochMilli(T0))
        .setSource("test")
        .setHeight(3)
        .setWidth(4)
        .setLat0(60.0)
        .setLon0(-10.0)
        .setDlat(-0.5)
        .setDlon(0.5)
        .setUnits("K")
        .setValues(PackedFloats.encode(goodValues()));
  }

  static RawFrame raw(byte[] value) {
    return new RawFrame(SPEC.gridId.getBytes(StandardCharsets.UTF_8), value, "frames", 2, 41, NOW);
  }

  static RawFrame raw(TemperatureFrame.Builder b) {
    return raw(AVRO.encode(b.build()));
  }

  static RawFrame with(Consumer<TemperatureFrame.Builder> change) {
    TemperatureFrame.Builder b = good();
    change.accept(b);
    return raw(b);
  }

  private FrameValidator.Rejection rejection(RawFrame r) {
    try {
      validator.validate(r, NOW);
    } catch (FrameValidator.Rejection e) {
      return e;
    }
    throw new AssertionError("expected the record to be rejected, it was accepted");
  }

  private void assertRejected(RawFrame r, Reason reason, String messagePart) {
    FrameValidator.Rejection e = rejection(r);
    assertThat(e.reason).isEqualTo(reason);
    assertThat(e.getMessage()).contains(messagePart);
  }

  @Test
  void aGoodFrameIsAcceptedWithItsValuesAndWhereItCameFrom() throws Exception {
    Frame f = validator.validate(raw(good()), NOW);
    assertThat(f.gridId).isEqualTo(SPEC.gridId);
    assertThat(f.validTime).isEqualTo(T0);
    assertThat(f.arrivalTime).isEqualTo(NOW);
    assertThat(f.values).containsExactly(goodValues());
    assertThat(f.missing).isNull();
    assertThat(f.topic).isEqualTo("frames");
    assertThat(f.partition).isEqualTo(2);
    assertThat(f.offset).isEqualTo(41);
  }

  @Test
  void tombstonesEmptyValuesAndNonAvroBytesAreUndecodable() {
    assertRejected(raw((byte[]) null), Reason.UNDECODABLE, "tombstone");
    assertRejected(raw(new byte[0]), Reason.UNDECODABLE, "empty");
    assertRejected(raw("{\"grid_id\": \"test-grid\"}".getBytes(StandardCharsets.UTF_8)), Reason.UNDECODABLE,
        "not one");
    byte[] cut = AVRO.encode(good().build());
    assertRejected(raw(Arrays.copyOf(cut, cut.length / 2)), Reason.UNDECODABLE, "TemperatureFrame");
    assertThat(rejection(raw(new byte[0])).gridId).as("the Kafka key names the grid").isEqualTo(SPEC.gridId);
  }

  /** A producer still writing the first TemperatureFrame schema (no units, mask, fill value): defaults apply. */
  @Test
  void aV1FrameInSingleObjectEncodingIsAcceptedWithDefaults() throws Exception {
    org.apache.avro.Schema v1 = ai.lsntp.schemas.SchemaCatalog.builtIn().versions("TemperatureFrame").get(0).schema();
    TemperatureFrame today = good().build();
    org.apache.avro.generic.GenericRecord old = new org.apache.avro.generic.GenericData.Record(v1);
    for (org.apache.avro.Schema.Field field : v1.getFields()) {
      Object value = today.get(field.name());
      old.put(field.name(), value instanceof Instant i ? i.toEpochMilli() : value);
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    new org.apache.avro.message.BinaryMessageEncoder<org.apache.avro.generic.GenericRecord>(
        org.apache.avro.generic.GenericData.get(), v1).encode(old, out);
    Frame f = validator.validate(raw(out.toByteArray()), NOW);
    assertThat(f.values).containsExactly(goodValues());
    assertThat(f.missing).isNull();
  }

  @Test
  void plainAvroFramesAreReadDuringTheTransitionUnlessRefused() throws Exception {
    RawFrame plain = raw(AVRO.encodePlain(good().build()));
    assertThat(validator.validate(plain, NOW).values).containsExactly(goodValues());
    FrameValidator strict = new FrameValidator(MODELS, MAX_BYTES, MAX_BYTES, FUTURE_TOLERANCE, 256, null, false);
    FrameValidator.Rejection e = assertThrows(strict, plain);
    assertThat(e.reason).isEqualTo(Reason.UNDECODABLE);
    assertThat(e.getMessage()).contains("without the single-object marker").contains("records.accept-plain is false");
  }

  @Test
  void anUnknownWriterSchemaIsRejectedNamingItsFingerprint() {
    byte[] bytes = AVRO.encode(good().build());
    bytes[9] ^= 0x7f;
    String hex = ai.lsntp.schemas.SchemaCatalog.hex(RecordCodec.fingerprintOf(bytes));
    assertRejected(raw(bytes), Reason.UNKNOWN_SCHEMA, "writer schema fingerprint " + hex
        + " is not a known TemperatureFrame version");
    byte[] forecast = RecordCodec.of(ai.lsntp.avro.Forecast.class).encode(ai.lsntp.avro.Forecast.newBuilder()
        .setGridId(SPEC.gridId).setIssueTime(Instant.ofEpochMilli(T0)).setModelName("m").setModelVersion("1")
        .setStepMillis(HOUR).setBeta(1).setHeight(3).setWidth(4).setLat0(60).setLon0(-10).setDlat(-0.5).setDlon(0.5)
        .setValues(PackedFloats.encode(goodValues())).setValidTimes(List.of(Instant.ofEpochMilli(T0 + HOUR)))
        .setProducedAt(Instant.ofEpochMilli(NOW)).build());
    assertRejected(raw(forecast), Reason.UNKNOWN_SCHEMA, "it is the fingerprint of Forecast v");
  }

  private static FrameValidator.Rejection assertThrows(FrameValidator v, RawFrame r) {
    try {
      v.validate(r, NOW);
    } catch (FrameValidator.Rejection e) {
      return e;
    }
    throw new AssertionError("expected the record to be rejected, it was accepted");
  }

  @Test
  void aValueOverTheSizeLimitIsRejectedBeforeDecoding() {
    // valid Avro of the right grid, only too big: proves the size check comes first
    TemperatureFrame.Builder b = good().setSource("x".repeat((int) MAX_BYTES));
    FrameValidator.Rejection e = rejection(raw(b));
    assertThat(e.reason).isEqualTo(Reason.TOO_LARGE);
    assertThat(e.getMessage()).contains("over stream.max-frame-bytes = " + MAX_BYTES).contains("not decoded");
    assertThat(e.validTime).as("nothing was decoded").isNull();
  }

  @Test
  void aGridWithoutAModelIsUnknown() {
    assertRejected(with(b -> b.setGridId("mars")), Reason.UNKNOWN_GRID, "no model serves grid 'mars'");
  }

  @Test
  void unitsOtherThanKelvinAreUnsupported() {
    assertRejected(with(b -> b.setUnits("degC")), Reason.UNSUPPORTED_UNITS, "units 'degC' are not K");
  }

  @Test
  void shapeMismatchesOfTheFrameTheValuesAndTheMask() {
    assertRejected(with(b -> b.setHeight(4)), Reason.SHAPE_MISMATCH, "frame is 4x4");
    assertRejected(with(b -> b.setValues(PackedFloats.encode(new float[11]))), Reason.SHAPE_MISMATCH,
        "values hold 44 bytes");
    assertRejected(with(b -> b.setMissingMask(ByteBuffer.wrap(new byte[5]))), Reason.SHAPE_MISMATCH,
        "missing_mask holds 5 bytes");
  }

  @Test
  void eachGeometryFieldIsChecked() throws Exception {
    assertRejected(with(b -> b.setLat0(60.25)), Reason.GEOMETRY_MISMATCH, "lat0 = 60.25");
    assertRejected(with(b -> b.setLon0(-9.0)), Reason.GEOMETRY_MISMATCH, "lon0");
    assertRejected(with(b -> b.setDlat(0.5)), Reason.GEOMETRY_MISMATCH, "dlat");
    assertRejected(with(b -> b.setDlon(0.25)), Reason.GEOMETRY_MISMATCH, "dlon");
    assertRejected(with(b -> b.setLat0(Double.NaN)), Reason.GEOMETRY_MISMATCH, "lat0 = NaN");
    // within the tolerance (GEOMETRY_EPS degrees) it is the same grid
    assertThat(validator.validate(with(b -> b.setLat0(60.00001)), NOW).gridId).isEqualTo(SPEC.gridId);
  }

  @Test
  void aValidTimeOffTheModelsStepIsRejected() {
    assertRejected(with(b -> b.setValidTime(Instant.ofEpochMilli(T0 + 30 * 60_000L))), Reason.OFF_STEP_VALID_TIME,
        "not on the model's 60-minute step");
  }

  @Test
  void aValidTimeTooFarAheadOfNowIsRejected() throws Exception {
    assertRejected(with(b -> b.setValidTime(Instant.ofEpochMilli(NOW + 2 * HOUR))), Reason.FUTURE_VALID_TIME,
        "more than 60 minutes after now");
    // within the tolerance it is a frame like any other
    assertThat(validator.validate(with(b -> b.setValidTime(Instant.ofEpochMilli(NOW + HOUR))), NOW).validTime)
        .isEqualTo(NOW + HOUR);
  }

  @Test
  void valuesOutsideThePlausibleRangeAreRejectedWithTheirCell() {
    float[] v = goodValues();
    v[6] = 373.15f; // row 1, col 2, in degrees C+273 of boiling water
    assertRejected(with(b -> b.setValues(PackedFloats.encode(v))), Reason.VALUE_OUT_OF_RANGE,
        "value 373.15 K at row 1, col 2");
    float[] celsius = goodValues();
    celsius[0] = 12.5f; // a Celsius value labelled K
    assertRejected(with(b -> b.setValues(PackedFloats.encode(celsius))), Reason.VALUE_OUT_OF_RANGE, "row 0, col 0");
    float[] inf = goodValues();
    inf[11] = Float.POSITIVE_INFINITY;
    assertRejected(with(b -> b.setValues(PackedFloats.encode(inf))), Reason.VALUE_OUT_OF_RANGE, "row 2, col 3");
  }

  @Test
  void aNanInACellNotMarkedMissingIsRejected() {
    float[] v = goodValues();
    v[5] = Float.NaN;
    assertRejected(with(b -> b.setValues(PackedFloats.encode(v))), Reason.NAN_OUTSIDE_MASK, "NaN at row 1, col 1");
  }

  @Test
  void maskedCellsAreFilledWithTheMeanOfTheValidCellsAndRemembered() throws Exception {
    float[] v = goodValues();
    v[3] = Float.NaN; // masked: its value does not matter
    v[7] = 9999f;
    byte[] mask = new byte[12];
    mask[3] = 1;
    mask[7] = 1;
    Frame f = validator.validate(with(b -> b.setValues(PackedFloats.encode(v)).setMissingMask(ByteBuffer.wrap(mask))),
        NOW);
    double sum = 0;
    for (int i = 0; i < 12; i++) {
      if (i != 3 && i != 7) {
        sum += 270 + i;
      }
    }
    float mean = (float) (sum / 10);
    assertThat(f.values[3]).isEqualTo(mean);
    assertThat(f.values[7]).isEqualTo(mean);
    assertThat(f.values[0]).isEqualTo(270f);
    assertThat(f.missing).containsExactly(false, false, false, true, false, false, false, true, false, false, false,
        false);
  }

  @Test
  void cellsEqualToTheFillValueAreMissingTooIncludingANanFill() throws Exception {
    float[] v = goodValues();
    v[0] = -9999f;
    Frame f = validator.validate(with(b -> b.setValues(PackedFloats.encode(v)).setFillValue(-9999f)), NOW);
    assertThat(f.missing[0]).isTrue();
    assertThat(f.values[0]).isBetween(270f, 282f);

    float[] n = goodValues();
    n[11] = Float.NaN;
    Frame g = validator.validate(with(b -> b.setValues(PackedFloats.encode(n)).setFillValue(Float.NaN)), NOW);
    assertThat(g.missing[11]).isTrue();
    assertThat(g.values[11]).isNotNaN();
  }

  @Test
  void aFrameWithEveryCellMissingIsRejected() {
    byte[] mask = new byte[12];
    Arrays.fill(mask, (byte) 1);
    assertRejected(with(b -> b.setMissingMask(ByteBuffer.wrap(mask))), Reason.ALL_MISSING, "every cell");
    float[] fill = new float[12];
    Arrays.fill(fill, -1f);
    assertRejected(with(b -> b.setValues(PackedFloats.encode(fill)).setFillValue(-1f)), Reason.ALL_MISSING,
        "every cell");
  }

  @Test
  void aKeyThatIsNotPrintableUtf8IsNotUsedAsTheGridId() {
    assertThat(FrameValidator.keyGrid(new RawFrame(new byte[] {(byte) 0xff, (byte) 0xfe}, null, "t", 0, 0, 0)))
        .isNull();
    assertThat(FrameValidator.keyGrid(new RawFrame("a\u0001b".getBytes(StandardCharsets.UTF_8), null, "t", 0, 0, 0)))
        .isNull();
    assertThat(FrameValidator.keyGrid(new RawFrame(new byte[300], null, "t", 0, 0, 0))).isNull();
    assertThat(FrameValidator.keyGrid(new RawFrame("uk".getBytes(StandardCharsets.UTF_8), null, "t", 0, 0, 0)))
        .isEqualTo("uk");
  }

  /** The operator around validate(): good frames go on, every rejected record goes to the side output. */
  @Test
  void inTheOperatorRejectsGoToTheSideOutputWithTheirRecordAndAThrowingCheckIsAnInternalError() throws Exception {
    StageProbe throwOnOffset7 = new StageProbe() {
      private static final long serialVersionUID = 1L;

      @Override
      public void validating(RawFrame record) {
        if (record.offset == 7) {
          throw new IllegalStateException("injected for offset 7");
        }
      }
    };
    FrameValidator fn = new FrameValidator(MODELS, MAX_BYTES, 1000L * 365 * 24 * HOUR, 256, throwOnOffset7);
    try (BroadcastOperatorTestHarness<RawFrame, ModelCatalog, Frame> h =
        ProcessFunctionTestHarnesses.forBroadcastProcessFunction(fn, ModelUpdates.STATE)) {
      RawFrame ok = raw(good());
      RawFrame bad = with(b -> b.setUnits("F"));
      bad.offset = 5;
      RawFrame injected = raw(good());
      injected.offset = 7;
      h.processElement(new StreamRecord<>(ok, 1L));
      h.processElement(new StreamRecord<>(bad, 2L));
      h.processElement(new StreamRecord<>(injected, 3L));
      assertThat(h.extractOutputValues()).hasSize(1);
      List<RejectedFrame> rejects = h.getSideOutput(Rejects.TAG).stream().map(StreamRecord::getValue)
          .collect(Collectors.toList());
      assertThat(rejects).extracting(r -> r.getReasonCode().toString())
          .containsExactly("UNSUPPORTED_UNITS", "INTERNAL_ERROR");
      assertThat(rejects.get(0).getSourceOffset()).isEqualTo(5L);
      assertThat(rejects.get(0).getSourceTopic().toString()).isEqualTo("frames");
      assertThat(rejects.get(0).getRaw()).isEqualTo(ByteBuffer.wrap(bad.value));
      assertThat(rejects.get(1).getReason().toString()).contains("injected for offset 7");
      assertThat(rejects.get(1).getGridId().toString()).isEqualTo(SPEC.gridId);
    }
  }

  @Test
  void aNewCatalogOnTheBroadcastSideServesAGridThatWasUnknown() throws Exception {
    FrameValidator fn = new FrameValidator(new ModelCatalog(Map.of(), 0), MAX_BYTES, 1000L * 365 * 24 * HOUR, 256,
        null);
    try (BroadcastOperatorTestHarness<RawFrame, ModelCatalog, Frame> h =
        ProcessFunctionTestHarnesses.forBroadcastProcessFunction(fn, ModelUpdates.STATE)) {
      h.processElement(new StreamRecord<>(raw(good()), 1L));
      h.processBroadcastElement(new StreamRecord<>(new ModelCatalog(Map.of(SPEC.gridId, SPEC), 1), 2L));
      h.processElement(new StreamRecord<>(raw(good()), 3L));
      assertThat(h.getSideOutput(Rejects.TAG)).extracting(r -> r.getValue().getReasonCode().toString())
          .containsExactly("UNKNOWN_GRID");
      assertThat(h.extractOutputValues()).hasSize(1);
    }
  }

  /** Row 1 of the 3 x 4 test frame as a tile of three (rows 0, 1, 2). */
  static TemperatureFrame.Builder middleRow() {
    float[] row = Arrays.copyOfRange(goodValues(), 4, 8);
    return good().setValues(PackedFloats.encode(row))
        .setTile(new ai.lsntp.avro.FrameTile(1, 3, 1, 0, 1, 4));
  }

  @Test
  void aTileGoesOnWithItsPlaceAndItsCellsUnfilled() throws Exception {
    Frame f = validator.validate(raw(middleRow().setMissingMask(ByteBuffer.wrap(new byte[] {0, 1, 0, 0}))), NOW);
    assertThat(f.tile).isNotNull();
    assertThat(f.tile.index).isEqualTo(1);
    assertThat(f.tile.count).isEqualTo(3);
    assertThat(f.tile.row0).isEqualTo(1);
    assertThat(f.tile.rows).isEqualTo(1);
    assertThat(f.tile.cols).isEqualTo(4);
    assertThat(f.tile.header).isEqualTo(ai.lsntp.schemas.FrameTiles.INSTANCE.header(middleRow().build()));
    assertThat(f.values).hasSize(4);
    assertThat(f.values[0]).isEqualTo(274f);
    assertThat(f.missing).containsExactly(false, true, false, false); // filled only once the frame is whole
  }

  @Test
  void aTileOverTheTileLimitIsTileTooLarge() {
    byte[] value = AVRO.encode(middleRow().build());
    FrameValidator v = new FrameValidator(MODELS, MAX_BYTES, value.length - 1, FUTURE_TOLERANCE, 256, null, true);
    FrameValidator.Rejection e = assertThrows(v, raw(value));
    assertThat(e.reason).isEqualTo(Reason.TILE_TOO_LARGE);
    assertThat(e.getMessage()).contains("tile 1 of 3 is " + value.length + " bytes, over stream.max-tile-bytes = "
        + (value.length - 1));
    // the same bytes as a whole frame of that size would be within max-frame-bytes: the limit is the tiles' own
    assertThat(value.length).isLessThan((int) MAX_BYTES);
  }

  @Test
  void aTileWhosePlaceIsImpossibleIsTileInvalid() {
    assertThat(rejection(raw(middleRow().setTile(new ai.lsntp.avro.FrameTile(3, 3, 1, 0, 1, 4)))).getMessage())
        .contains("index 3 is not in 0..2");
    assertThat(rejection(raw(middleRow().setTile(new ai.lsntp.avro.FrameTile(1, 3, 2, 1, 1, 4)))).getMessage())
        .contains("not inside the 3 x 4 grid");
    FrameValidator.Rejection e = rejection(raw(middleRow().setValues(PackedFloats.encode(new float[] {270f, 271f}))));
    assertThat(e.reason).isEqualTo(Reason.TILE_INVALID);
    assertThat(e.getMessage()).contains("values holds 8 bytes, its 1 x 4 cells need 16");
    for (TemperatureFrame.Builder b : List.of(middleRow().setTile(new ai.lsntp.avro.FrameTile(0, 0, 0, 0, 1, 4)),
        middleRow().setTile(new ai.lsntp.avro.FrameTile(0, 13, 0, 0, 1, 4)))) {
      assertThat(rejection(raw(b)).reason).isEqualTo(Reason.TILE_INVALID);
    }
  }

  @Test
  void aTileIsCheckedAgainstTheModelAndItsCellsAreNamedAtTheirPlaceInTheFrame() {
    assertThat(rejection(raw(middleRow().setHeight(4))).reason).isEqualTo(Reason.SHAPE_MISMATCH);
    assertThat(rejection(raw(middleRow().setLat0(61.0))).reason).isEqualTo(Reason.GEOMETRY_MISMATCH);
    float[] row = {270f, 271f, 999f, 273f};
    FrameValidator.Rejection e = rejection(raw(middleRow().setValues(PackedFloats.encode(row))));
    assertThat(e.reason).isEqualTo(Reason.VALUE_OUT_OF_RANGE);
    assertThat(e.getMessage()).contains("at row 1, col 2");
  }
}

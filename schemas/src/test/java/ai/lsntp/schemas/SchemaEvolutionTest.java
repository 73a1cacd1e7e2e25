package ai.lsntp.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.AlertKind;
import ai.lsntp.avro.TemperatureFrame;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The evolution rules of schemas/README.md over every record's whole history: a reader of any
 * version reads a record written with any other version (older writers: defaults fill the fields
 * they lack; newer writers: the reader skips fields it does not know), and no published version
 * is ever lost or changed (published-versions.txt pins each fingerprint).
 */
class SchemaEvolutionTest {

  /** Every (reader, writer) pair of versions of one record, in both directions. */
  static List<Object[]> pairs() {
    List<Object[]> out = new ArrayList<>();
    SchemaCatalog c = SchemaCatalog.builtIn();
    for (String record : c.records()) {
      List<SchemaCatalog.Version> vs = c.versions(record);
      for (SchemaCatalog.Version reader : vs) {
        for (SchemaCatalog.Version writer : vs) {
          if (reader != writer) {
            out.add(new Object[] {reader.label() + " reads " + writer.label(), reader, writer});
          }
        }
      }
    }
    return out;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("pairs")
  void everyVersionReadsEveryOther(String label, SchemaCatalog.Version reader, SchemaCatalog.Version writer) {
    SchemaCompatibility.SchemaPairCompatibility result =
        SchemaCompatibility.checkReaderWriterCompatibility(reader.schema(), writer.schema());
    assertThat(result.getType())
        .as("%s: %s (schemas/README.md, evolution rules)", label, result.getDescription())
        .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
  }

  /**
   * published-versions.txt lists every version ever published with its fingerprint. An .avsc
   * edited without keeping its released version under history/ changes a fingerprint and fails here.
   */
  @Test
  void everyPublishedVersionIsStillResolvableUnchanged() throws IOException {
    List<String> expected = new ArrayList<>();
    try (InputStream in = SchemaEvolutionTest.class.getResourceAsStream("/published-versions.txt")) {
      assertThat(in).as("published-versions.txt").isNotNull();
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (!line.isBlank() && !line.startsWith("#")) {
          expected.add(line.trim().replaceAll("\\s+", " "));
        }
      }
    }
    List<String> actual = new ArrayList<>();
    SchemaCatalog c = SchemaCatalog.builtIn();
    for (String record : c.records()) {
      for (SchemaCatalog.Version v : c.versions(record)) {
        actual.add(record + " v" + v.number() + " " + v.fingerprintHex());
      }
    }
    assertThat(actual)
        .as("every published version, fingerprint unchanged. If you changed a schema: copy the released .avsc to "
            + "src/main/resources/ai/lsntp/schemas/history/<Record>-v<N>.avsc and add the new version's line "
            + "(./lsntp schemas prints it); never edit a published line")
        .isEqualTo(expected);
  }

  @Test
  void aV1FrameInSingleObjectEncodingReadsWithTodaysDefaults() throws IOException {
    Schema v1 = SchemaCatalog.builtIn().versions("TemperatureFrame").get(0).schema();
    GenericRecord rec = new GenericData.Record(v1);
    rec.put("grid_id", "era5-uk-0p25");
    rec.put("valid_time", 1_551_398_400_000L);
    rec.put("source", "ERA5");
    rec.put("height", 1);
    rec.put("width", 2);
    rec.put("lat0", 61.0);
    rec.put("lon0", -11.0);
    rec.put("dlat", -0.25);
    rec.put("dlon", 0.25);
    ByteBuffer values = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    values.putFloat(280.5f).putFloat(281.25f).flip();
    rec.put("values", values);
    byte[] bytes = singleObject(v1, rec);

    RecordCodec.Decoded<TemperatureFrame> d = RecordCodec.of(TemperatureFrame.class).decodeWithWriter(bytes);
    assertThat(d.format()).isEqualTo(RecordCodec.Format.SINGLE_OBJECT);
    assertThat(d.writer().number()).isEqualTo(1);
    TemperatureFrame frame = d.record();
    assertThat(frame.getGridId()).isEqualTo("era5-uk-0p25");
    assertThat(frame.getValidTime().toEpochMilli()).isEqualTo(1_551_398_400_000L);
    assertThat(frame.getUnits()).isEqualTo("K");
    assertThat(frame.getMissingMask()).isNull();
    assertThat(frame.getFillValue()).isNull();
    ByteBuffer v = frame.getValues().order(ByteOrder.LITTLE_ENDIAN);
    assertThat(v.getFloat(0)).isEqualTo(280.5f);
    assertThat(v.getFloat(4)).isEqualTo(281.25f);
  }

  @Test
  void aV1AlertKeepsItsEnumSymbol() throws IOException {
    Schema v1 = SchemaCatalog.builtIn().versions("Alert").get(0).schema();
    GenericRecord rec = new GenericData.Record(v1);
    for (Map.Entry<String, Object> e :
        Map.<String, Object>of(
                "grid_id", "g", "rule", "frost", "row", 1, "col", 2, "lat", 50.0, "lon", -1.0,
                "issue_time", 0L, "valid_time", 3_600_000L, "lead", 1, "value", 270.0f)
            .entrySet()) {
      rec.put(e.getKey(), e.getValue());
    }
    rec.put("kind", new GenericData.EnumSymbol(v1.getField("kind").schema(), "FROST"));
    rec.put("threshold", 271.15);
    rec.put("model_name", "ls-ntp");
    rec.put("model_version", "1");
    rec.put("produced_at", 5L);
    Alert alert = RecordCodec.of(Alert.class).decode(singleObject(v1, rec));
    assertThat(alert.getKind()).isEqualTo(AlertKind.FROST);
    assertThat(alert.getValue()).isEqualTo(270.0f);
    assertThat(alert.getCleared()).isFalse();
  }

  static byte[] singleObject(Schema schema, GenericRecord rec) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    new BinaryMessageEncoder<GenericRecord>(GenericData.get(), schema).encode(rec, out);
    return out.toByteArray();
  }
}

package ai.lsntp.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.AlertKind;
import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.RejectedFrame;
import ai.lsntp.avro.TemperatureFrame;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Today's generated readers must read records written with every earlier schema version kept
 * under src/test/resources/schema-history (see schemas/README.md for the rules).
 */
class SchemaEvolutionTest {

  static List<Object[]> history() {
    return List.of(
        new Object[] {"TemperatureFrame-v1.avsc", TemperatureFrame.getClassSchema()},
        new Object[] {"Forecast-v1.avsc", Forecast.getClassSchema()},
        new Object[] {"RejectedFrame-v1.avsc", RejectedFrame.getClassSchema()},
        new Object[] {"RejectedFrame-v2.avsc", RejectedFrame.getClassSchema()},
        new Object[] {"Alert-v1.avsc", Alert.getClassSchema()},
        new Object[] {"Alert-v2.avsc", Alert.getClassSchema()});
  }

  private static Schema previous(String name) throws IOException {
    try (InputStream in = SchemaEvolutionTest.class.getResourceAsStream("/schema-history/" + name)) {
      assertThat(in).as("schema history file %s", name).isNotNull();
      return new Schema.Parser().parse(in);
    }
  }

  @ParameterizedTest
  @MethodSource("history")
  void todaysReaderIsCompatibleWithYesterdaysWriter(String file, Schema current) throws IOException {
    Schema old = previous(file);
    SchemaCompatibility.SchemaPairCompatibility result =
        SchemaCompatibility.checkReaderWriterCompatibility(current, old);
    assertThat(result.getType())
        .as("reader %s vs writer %s: %s", current.getFullName(), file, result.getDescription())
        .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
  }

  @Test
  void readsYesterdaysTemperatureFrameWithDefaults() throws IOException {
    Schema old = previous("TemperatureFrame-v1.avsc");
    GenericRecord rec = new GenericData.Record(old);
    rec.put("grid_id", "era5-uk-0p25");
    rec.put("valid_time", 1_551_398_400_000L);
    rec.put("source", "ERA5");
    rec.put("height", 1);
    rec.put("width", 2);
    rec.put("lat0", 61.0);
    rec.put("lon0", -11.0);
    rec.put("dlat", -0.25);
    rec.put("dlon", 0.25);
    ByteBuffer values = ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    values.putFloat(280.5f).putFloat(281.25f).flip();
    rec.put("values", values);

    byte[] bytes = write(old, rec);
    SpecificDatumReader<TemperatureFrame> reader =
        new SpecificDatumReader<>(old, TemperatureFrame.getClassSchema());
    TemperatureFrame frame = reader.read(null, DecoderFactory.get().binaryDecoder(bytes, null));

    assertThat(frame.getGridId()).isEqualTo("era5-uk-0p25");
    assertThat(frame.getValidTime().toEpochMilli()).isEqualTo(1_551_398_400_000L);
    assertThat(frame.getUnits()).isEqualTo("K");
    assertThat(frame.getMissingMask()).isNull();
    assertThat(frame.getFillValue()).isNull();
    ByteBuffer v = frame.getValues().order(java.nio.ByteOrder.LITTLE_ENDIAN);
    assertThat(v.getFloat(0)).isEqualTo(280.5f);
    assertThat(v.getFloat(4)).isEqualTo(281.25f);
  }

  @Test
  void readsYesterdaysAlertEnum() throws IOException {
    Schema old = previous("Alert-v1.avsc");
    GenericRecord rec = new GenericData.Record(old);
    Schema kind = old.getField("kind").schema();
    for (Map.Entry<String, Object> e :
        Map.<String, Object>of(
                "grid_id", "g", "rule", "frost", "row", 1, "col", 2, "lat", 50.0, "lon", -1.0,
                "issue_time", 0L, "valid_time", 3_600_000L, "lead", 1, "value", 270.0f)
            .entrySet()) {
      rec.put(e.getKey(), e.getValue());
    }
    rec.put("kind", new GenericData.EnumSymbol(kind, "FROST"));
    rec.put("threshold", 271.15);
    rec.put("model_name", "ls-ntp");
    rec.put("model_version", "1");
    rec.put("produced_at", 5L);
    byte[] bytes = write(old, rec);
    Alert alert =
        new SpecificDatumReader<Alert>(old, Alert.getClassSchema())
            .read(null, DecoderFactory.get().binaryDecoder(bytes, null));
    assertThat(alert.getKind()).isEqualTo(AlertKind.FROST);
    assertThat(alert.getValue()).isEqualTo(270.0f);
  }

  private static byte[] write(Schema schema, GenericRecord rec) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    BinaryEncoder enc = EncoderFactory.get().binaryEncoder(out, null);
    new GenericDatumWriter<GenericRecord>(schema).write(rec, enc);
    enc.flush();
    return out.toByteArray();
  }
}

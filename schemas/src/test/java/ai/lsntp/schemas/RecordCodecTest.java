package ai.lsntp.schemas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.lsntp.avro.Forecast;
import ai.lsntp.avro.TemperatureFrame;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecordCodecTest {
  @TempDir Path tmp;

  static TemperatureFrame frame() {
    return TemperatureFrame.newBuilder().setGridId("g").setValidTime(Instant.parse("2019-03-01T00:00:00Z"))
        .setSource("test").setHeight(1).setWidth(1).setLat0(50).setLon0(0).setDlat(1).setDlon(1)
        .setValues(ByteBuffer.wrap(new byte[] {0, 0, (byte) 0x8c, 0x43})).build();
  }

  static Forecast forecast() {
    return Forecast.newBuilder().setGridId("g").setIssueTime(Instant.EPOCH).setModelName("m").setModelVersion("1")
        .setStepMillis(3_600_000).setBeta(1).setHeight(1).setWidth(1).setLat0(0).setLon0(0).setDlat(1).setDlon(1)
        .setValues(ByteBuffer.allocate(4)).setValidTimes(List.of(Instant.ofEpochSecond(3600)))
        .setProducedAt(Instant.EPOCH).build();
  }

  @Test
  void valuesStartWithTheMarkerAndTodaysFingerprint() throws IOException {
    RecordCodec<TemperatureFrame> c = RecordCodec.of(TemperatureFrame.class);
    byte[] bytes = c.encode(frame());
    assertThat(bytes[0]).isEqualTo((byte) 0xC3);
    assertThat(bytes[1]).isEqualTo((byte) 0x01);
    assertThat(RecordCodec.fingerprintOf(bytes))
        .isEqualTo(SchemaCatalog.builtIn().current("TemperatureFrame").fingerprint())
        .isEqualTo(SchemaCatalog.fingerprint(TemperatureFrame.getClassSchema()));
    RecordCodec.Decoded<TemperatureFrame> d = c.decodeWithWriter(bytes);
    assertThat(d.record()).isEqualTo(frame());
    assertThat(d.format()).isEqualTo(RecordCodec.Format.SINGLE_OBJECT);
    assertThat(d.writer().current()).isTrue();
  }

  @Test
  void plainAvroOfTodaysSchemaStillReads() throws IOException {
    RecordCodec<TemperatureFrame> c = RecordCodec.of(TemperatureFrame.class);
    byte[] plain = c.encodePlain(frame());
    assertThat(RecordCodec.hasMarker(plain)).isFalse();
    RecordCodec.Decoded<TemperatureFrame> d = c.decodeWithWriter(plain);
    assertThat(d.record()).isEqualTo(frame());
    assertThat(d.format()).isEqualTo(RecordCodec.Format.PLAIN);
  }

  @Test
  void trailingBytesAreAnErrorInBothFormats() {
    RecordCodec<TemperatureFrame> c = RecordCodec.of(TemperatureFrame.class);
    byte[] single = c.encode(frame());
    byte[] plain = c.encodePlain(frame());
    assertThatThrownBy(() -> c.decode(Arrays.copyOf(single, single.length + 3)))
        .isInstanceOf(IOException.class).hasMessageContaining("3 trailing bytes after one TemperatureFrame v");
    assertThatThrownBy(() -> c.decode(Arrays.copyOf(plain, plain.length + 1)))
        .isInstanceOf(IOException.class).hasMessageContaining("trailing bytes");
  }

  @Test
  void anUnknownFingerprintIsNamedNeverGuessed() {
    byte[] bytes = RecordCodec.of(TemperatureFrame.class).encode(frame());
    bytes[2] ^= 0x55;
    String hex = SchemaCatalog.hex(RecordCodec.fingerprintOf(bytes));
    assertThatThrownBy(() -> RecordCodec.of(TemperatureFrame.class).decode(bytes))
        .isInstanceOf(RecordCodec.UnknownSchemaException.class)
        .hasMessageContaining("writer schema fingerprint " + hex + " is not a known TemperatureFrame version")
        .hasMessageContaining("v1 " + SchemaCatalog.builtIn().versions("TemperatureFrame").get(0).fingerprintHex());
  }

  @Test
  void anotherRecordsFingerprintSaysWhichRecordItIs() {
    byte[] bytes = RecordCodec.of(Forecast.class).encode(forecast());
    String current = SchemaCatalog.builtIn().current("Forecast").label();
    assertThatThrownBy(() -> RecordCodec.of(TemperatureFrame.class).decode(bytes))
        .isInstanceOf(RecordCodec.UnknownSchemaException.class)
        .hasMessageContaining("it is the fingerprint of " + current);
  }

  @Test
  void aTruncatedHeaderIsAnError() {
    assertThatThrownBy(() -> RecordCodec.of(TemperatureFrame.class).decode(new byte[] {(byte) 0xC3, 0x01, 7}))
        .isInstanceOf(IOException.class).hasMessageContaining("needs 10 header bytes, the value has 3");
  }

  /** A reader of today's schema reads a newer version once it has that version's published file. */
  @Test
  void aNewerVersionResolvesFromItsPublishedFile() throws IOException {
    Schema today = Forecast.getClassSchema();
    String json = today.toString().replaceFirst("\\]\\}$",
        ",{\"name\":\"ensemble\",\"type\":[\"null\",\"string\"],\"default\":null}]}");
    Schema newer = new Schema.Parser().parse(json);
    int next = SchemaCatalog.builtIn().current("Forecast").number() + 1;
    Files.writeString(tmp.resolve("Forecast-v" + next + ".avsc"), newer.toString(true));

    GenericRecord rec = new GenericData.Record(newer);
    Forecast f = forecast();
    for (Schema.Field field : today.getFields()) {
      rec.put(field.name(), GenericData.get().deepCopy(field.schema(), toGeneric(f, field)));
    }
    rec.put("ensemble", "member-3");
    byte[] bytes = SchemaEvolutionTest.singleObject(newer, rec);

    assertThatThrownBy(() -> RecordCodec.of(Forecast.class).decode(bytes))
        .isInstanceOf(RecordCodec.UnknownSchemaException.class);
    SchemaCatalog withNewer = SchemaCatalog.builtIn().withDirectory(tmp);
    RecordCodec.Decoded<Forecast> d = RecordCodec.of(Forecast.class, withNewer).decodeWithWriter(bytes);
    assertThat(d.writer().number()).isEqualTo(next);
    assertThat(d.record().getGridId()).isEqualTo("g");
    assertThat(d.record().getValidTimes()).isEqualTo(f.getValidTimes());
  }

  @Test
  void aPublishedFileCannotRedefineAKnownVersion() throws IOException {
    Schema other = new Schema.Parser().parse(
        "{\"type\":\"record\",\"name\":\"Forecast\",\"namespace\":\"ai.lsntp.avro\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}");
    Files.writeString(tmp.resolve("Forecast-v1.avsc"), other.toString());
    assertThatThrownBy(() -> SchemaCatalog.builtIn().withDirectory(tmp))
        .isInstanceOf(IOException.class).hasMessageContaining("is Forecast v1 with fingerprint");
  }

  private static Object toGeneric(Forecast f, Schema.Field field) {
    Object v = f.get(field.pos());
    if (v instanceof Instant i) {
      return i.toEpochMilli();
    }
    if (v instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof Instant) {
      return l.stream().map(x -> ((Instant) x).toEpochMilli()).toList();
    }
    return v;
  }
}

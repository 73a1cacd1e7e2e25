package ai.lsntp.schemas;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.apache.avro.Schema;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.message.BadHeaderException;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.MissingSchemaException;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;

/**
 * One record as a Kafka value. Written in Avro's single-object encoding (the marker bytes C3 01,
 * the writer schema's CRC-64-AVRO fingerprint as 8 little-endian bytes, then the Avro binary
 * record), so every value names the schema that wrote it. Read by that fingerprint against every
 * published version of the record ({@link SchemaCatalog}) and resolved to today's schema by Avro's
 * rules. A value without the marker is read as plain Avro binary of today's schema, the format
 * every topic had before (a documented transition; {@link Decoded#format} says which it was).
 *
 * <p>The plain form cannot be mistaken for the marker: every record of the stream starts with a
 * string or an enum, whose first varint would be the negative length or index -98 for the bytes
 * C3 01. Not thread-safe (one per operator instance or consumer); serializable for Flink.
 */
public final class RecordCodec<T extends SpecificRecord> implements Serializable {
  private static final long serialVersionUID = 1L;
  /** Avro single-object encoding's marker. */
  public static final byte MARKER_0 = (byte) 0xC3;
  public static final byte MARKER_1 = (byte) 0x01;
  public static final int HEADER_BYTES = 10;

  /** How a value was written. */
  public enum Format {
    /** Avro single-object encoding: marker, fingerprint, record. */
    SINGLE_OBJECT,
    /** Plain Avro binary of today's schema, with no header (the format before single-object encoding). */
    PLAIN
  }

  /** A decoded record, the format it came in and the version that wrote it (today's for plain values). */
  public record Decoded<T>(T record, Format format, SchemaCatalog.Version writer) {}

  /** A value whose writer schema fingerprint is not a known version of the record expected. */
  public static final class UnknownSchemaException extends IOException {
    private static final long serialVersionUID = 1L;
    public final long fingerprint;

    UnknownSchemaException(String message, long fingerprint) {
      super(message);
      this.fingerprint = fingerprint;
    }
  }

  private final Class<T> type;
  /** Not serialized: a codec shipped to a Flink task reads against the built-in versions. */
  private final transient SchemaCatalog catalog;
  private transient Schema schema;
  private transient String record;
  private transient BinaryMessageEncoder<T> encoder;
  private transient BinaryMessageDecoder<T> decoder;
  private transient SpecificDatumWriter<T> plainWriter;
  private transient SpecificDatumReader<T> plainReader;
  private transient BinaryEncoder binaryEncoder;
  private transient BinaryDecoder binaryDecoder;
  private transient ByteArrayOutputStream out;

  private RecordCodec(Class<T> type, SchemaCatalog catalog) {
    this.type = type;
    this.catalog = catalog;
  }

  /** Reads against every version this jar knows. */
  public static <T extends SpecificRecord> RecordCodec<T> of(Class<T> type) {
    return new RecordCodec<>(type, null);
  }

  /** Reads against the versions of {@code catalog} (e.g. the built-in ones plus a newer release's files). */
  public static <T extends SpecificRecord> RecordCodec<T> of(Class<T> type, SchemaCatalog catalog) {
    return new RecordCodec<>(type, catalog);
  }

  private SchemaCatalog catalog() {
    return catalog == null ? SchemaCatalog.builtIn() : catalog;
  }

  private void init() {
    if (schema == null) {
      schema = SpecificData.get().getSchema(type);
      record = schema.getName();
    }
  }

  /** The record in single-object encoding of today's schema. */
  public byte[] encode(T value) {
    init();
    if (encoder == null) {
      encoder = new BinaryMessageEncoder<>(SpecificData.get(), schema);
      out = new ByteArrayOutputStream(8192);
    }
    out.reset();
    try {
      encoder.encode(value, out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** The record as plain Avro binary, the format before single-object encoding (for producers in transition). */
  public byte[] encodePlain(T value) {
    init();
    if (plainWriter == null) {
      plainWriter = new SpecificDatumWriter<>(type);
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(8192);
    binaryEncoder = EncoderFactory.get().binaryEncoder(bytes, binaryEncoder);
    try {
      plainWriter.write(value, binaryEncoder);
      binaryEncoder.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /** Whether a value starts with the single-object marker. */
  public static boolean hasMarker(byte[] value) {
    return value != null && value.length >= 2 && value[0] == MARKER_0 && value[1] == MARKER_1;
  }

  /** The writer fingerprint of a single-object value. */
  public static long fingerprintOf(byte[] value) {
    return ByteBuffer.wrap(value, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
  }

  /** Decodes exactly one record in either format. */
  public T decode(byte[] value) throws IOException {
    return decodeWithWriter(value).record();
  }

  /**
   * Decodes exactly one record; trailing bytes are an error.
   *
   * @throws UnknownSchemaException when the fingerprint is no known version of this record
   * @throws IOException when the bytes are not one record
   */
  public Decoded<T> decodeWithWriter(byte[] value) throws IOException {
    init();
    if (!hasMarker(value)) {
      return new Decoded<>(decodePlain(value), Format.PLAIN, catalog().current(record));
    }
    if (value.length < HEADER_BYTES) {
      throw new IOException("a single-object " + record + " needs " + HEADER_BYTES + " header bytes, the value has "
          + value.length);
    }
    long fp = fingerprintOf(value);
    SchemaCatalog.Version writer = catalog().versions(record).stream().filter(v -> v.fingerprint() == fp)
        .findFirst().orElseThrow(() -> unknown(fp));
    if (decoder == null) {
      decoder = new BinaryMessageDecoder<>(SpecificData.get(), schema, catalog().store(record));
    }
    ByteArrayInputStream in = new ByteArrayInputStream(value);
    T decoded;
    try {
      decoded = decoder.decode(in, null);
    } catch (MissingSchemaException | BadHeaderException e) {
      throw new IOException(e.getMessage(), e);
    } catch (RuntimeException e) {
      // Avro reports some corrupt input (negative lengths, bad union index) as runtime exceptions
      throw new IOException(e.toString(), e);
    }
    if (in.available() > 0) {
      throw new IOException(in.available() + " trailing bytes after one " + writer.label() + " record");
    }
    return new Decoded<>(decoded, Format.SINGLE_OBJECT, writer);
  }

  private UnknownSchemaException unknown(long fp) {
    StringBuilder known = new StringBuilder();
    for (SchemaCatalog.Version v : catalog().versions(record)) {
      known.append(known.length() == 0 ? "" : ", ").append('v').append(v.number()).append(' ').append(v.fingerprintHex());
    }
    String other = catalog().byFingerprint(fp).map(v -> "; it is the fingerprint of " + v.label()).orElse("");
    return new UnknownSchemaException("writer schema fingerprint " + SchemaCatalog.hex(fp) + " is not a known "
        + record + " version (known: " + known + ")" + other, fp);
  }

  private T decodePlain(byte[] value) throws IOException {
    if (plainReader == null) {
      plainReader = new SpecificDatumReader<>(type);
    }
    binaryDecoder = DecoderFactory.get().binaryDecoder(value, binaryDecoder);
    T decoded;
    try {
      decoded = plainReader.read(null, binaryDecoder);
    } catch (RuntimeException e) {
      throw new IOException(e.toString(), e);
    }
    if (!binaryDecoder.isEnd()) {
      throw new IOException("trailing bytes after one " + record + " record");
    }
    return decoded;
  }
}

package ai.lsntp.codec;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;

/**
 * One Avro record as plain Avro binary (the Kafka value format of every lsntp topic: no container
 * header, no registry prefix). Not thread-safe; one per operator instance.
 */
public final class AvroBytes<T extends SpecificRecord> implements Serializable {
  private static final long serialVersionUID = 1L;
  private final Class<T> type;
  private transient SpecificDatumWriter<T> writer;
  private transient SpecificDatumReader<T> reader;
  private transient BinaryEncoder encoder;
  private transient BinaryDecoder decoder;
  private transient ByteArrayOutputStream out;

  public AvroBytes(Class<T> type) {
    this.type = type;
  }

  public static <T extends SpecificRecord> AvroBytes<T> of(Class<T> type) {
    return new AvroBytes<>(type);
  }

  public byte[] encode(T record) {
    if (writer == null) {
      writer = new SpecificDatumWriter<>(type);
      out = new ByteArrayOutputStream(8192);
    }
    out.reset();
    encoder = EncoderFactory.get().binaryEncoder(out, encoder);
    try {
      writer.write(record, encoder);
      encoder.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /**
   * Decodes exactly one record; trailing bytes are an error.
   *
   * @throws IOException when the bytes are not one record of this schema
   */
  public T decode(byte[] bytes) throws IOException {
    if (reader == null) {
      reader = new SpecificDatumReader<>(type);
    }
    decoder = DecoderFactory.get().binaryDecoder(bytes, decoder);
    T value;
    try {
      value = reader.read(null, decoder);
    } catch (RuntimeException e) {
      // Avro reports some corrupt input (negative lengths, bad union index) as runtime exceptions
      throw new IOException(e.toString(), e);
    }
    if (!decoder.isEnd()) {
      throw new IOException("trailing bytes after one " + type.getSimpleName() + " record");
    }
    return value;
  }
}

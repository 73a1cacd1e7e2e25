package ai.lsntp.serve;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** The server's answers are written straight to bytes with Jackson's streaming generator: no object tree per request. */
final class Json {
  private static final JsonFactory FACTORY = new JsonFactory();

  private Json() {}

  /** What writes one answer. */
  @FunctionalInterface
  interface Body {
    void write(JsonGenerator g) throws IOException;
  }

  /** The bytes {@code body} writes (UTF-8); {@code size} is a first guess of their number. */
  static byte[] bytes(int size, Body body) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(size);
    try (JsonGenerator g = FACTORY.createGenerator(out)) {
      body.write(g);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // writing to memory: not expected
    }
    return out.toByteArray();
  }
}
